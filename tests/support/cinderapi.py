"""python-cinderclient against a replisim server, as a user would hold it (noauth), for tests."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path
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


CINDER = Path(sys.executable).with_name("cinder")


def cinder(url: str, home: Path, *args: str, user: str = "admin") -> subprocess.CompletedProcess[str]:
    """The `cinder` command, as an operator runs it against a noauth endpoint."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    env["HOME"] = str(home)  # cinderclient keeps a completion cache there
    return subprocess.run(
        [
            str(CINDER),
            "--os-auth-type",
            "noauth",
            "--os-user-id",
            user,
            "--os-project-id",
            "ops",
            "--os-endpoint",
            f"{url}/v3",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )


def field(table: str, name: str) -> str:
    """A value from the property table `cinder show` prints."""
    match = re.search(rf"^\|\s*{re.escape(name)}\s*\|\s*(.*?)\s*\|$", table, re.MULTILINE)
    assert match, f"no {name!r} in:\n{table}"
    return match[1]
