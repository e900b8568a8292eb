"""python-cinderclient against a replisim server, as a user would hold it (noauth), for tests."""

from __future__ import annotations

import time
from typing import Any

from cinderclient import client
from cinderclient.contrib.noauth import CinderNoAuthPlugin
from keystoneauth1 import session

VERSION = "3.71"


def connect(
    url: str,
    user: str,
    project: str,
    *,
    roles: tuple[str, ...] = (),
    bare: bool = False,
    version: str = VERSION,
) -> Any:
    """A v3 client. URLs are ``/v3/{project}/...``, or ``/v3/...`` with ``bare`` (the endpoint
    given explicitly, as ``cinder --os-endpoint`` does)."""
    auth = CinderNoAuthPlugin(user, project, endpoint=f"{url}/v3")
    headers = {"X-Roles": ",".join(roles)} if roles else None
    sess = session.Session(auth=auth, additional_headers=headers)
    return client.Client(version, session=sess, os_endpoint=f"{url}/v3" if bare else None)


def wait_volume(cs: Any, volume_id: str, field: str, value: str, timeout: float = 10.0) -> Any:
    """Poll ``GET /volumes/{id}`` until ``field`` reads ``value``; the volume, else AssertionError."""
    deadline = time.monotonic() + timeout
    while True:
        volume = cs.volumes.get(volume_id)
        if getattr(volume, field) == value:
            return volume
        if time.monotonic() > deadline:
            raise AssertionError(
                f"volume {volume_id}: {field} is {getattr(volume, field)!r} after "
                f"{timeout} s, expected {value!r}"
            )
        time.sleep(0.02)
