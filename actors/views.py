"""Cinder's JSON views: rows from the API actor shaped as Block Storage v3 answers them.

Only shaping happens here, so the controller in ``rest.py`` reads as "call, then view". Fields
that later microversions added appear only when the request's microversion has them, as in Cinder.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

from .status import VOLUME_TOPIC

Version = tuple[int, int]

MIN_VERSION: Version = (3, 0)
MAX_VERSION: Version = (3, 71)  # what Cinder 29 and python-cinderclient 9.x speak
ZONE = "nova"  # Cinder's default availability zone; replisim has one

# Volume fields added by later microversions, with the value replisim always has for them.
_VOLUME_FIELDS_SINCE: tuple[tuple[Version, str], ...] = (
    ((3, 13), "group_id"),
    ((3, 63), "volume_type_id"),
    ((3, 65), "consumes_quota"),
)


def version_text(version: Version) -> str:
    return f"{version[0]}.{version[1]}"


def timestamp(seconds: float | None) -> str | None:
    """Cinder's timestamp form: UTC, no zone suffix, microseconds."""
    if seconds is None:
        return None
    moment = datetime.datetime.fromtimestamp(seconds, datetime.UTC).replace(tzinfo=None)
    return moment.isoformat(timespec="microseconds")


def versions(base_url: str) -> dict[str, Any]:
    """The version document served at ``/`` and ``/v3/``: one API, v3, with its microversion range."""
    return {
        "versions": [
            {
                "id": "v3.0",
                "status": "CURRENT",
                "version": version_text(MAX_VERSION),
                "min_version": version_text(MIN_VERSION),
                "updated": "2023-08-31T00:00:00Z",
                "links": [{"rel": "self", "href": f"{base_url}/v3/"}],
                "media-types": [
                    {"base": "application/json", "type": "application/vnd.openstack.volume+json;version=3"}
                ],
            }
        ]
    }


def _links(base_url: str, project_id: str, collection: str, item_id: str) -> list[dict[str, str]]:
    return [
        {"rel": "self", "href": f"{base_url}/v3/{project_id}/{collection}/{item_id}"},
        {"rel": "bookmark", "href": f"{base_url}/{project_id}/{collection}/{item_id}"},
    ]


def volume_summary(volume: Mapping[str, Any], base_url: str) -> dict[str, Any]:
    """An entry of ``GET /volumes``."""
    return {
        "id": volume["id"],
        "name": volume["display_name"],
        "links": _links(base_url, volume["project_id"], "volumes", volume["id"]),
    }


def volume_detail(
    volume: Mapping[str, Any],
    type_names: Mapping[str, str],
    *,
    is_admin: bool,
    version: Version,
    base_url: str,
) -> dict[str, Any]:
    """A volume as ``GET /volumes/{id}`` shows it; admins also see where it lives and why it failed."""
    type_id = volume["volume_type_id"]
    view: dict[str, Any] = {
        "id": volume["id"],
        "name": volume["display_name"],
        "description": None,
        "size": volume["size"],
        "status": volume["status"],
        "replication_status": volume["replication_status"],
        "volume_type": type_names.get(type_id, type_id) if type_id else None,
        "availability_zone": ZONE,
        "user_id": volume["user_id"],
        "created_at": timestamp(volume["created_at"]),
        "updated_at": timestamp(volume["updated_at"]),
        "attachments": [],
        "metadata": {},
        "bootable": "false",
        "encrypted": False,
        "multiattach": False,
        "snapshot_id": None,
        "source_volid": None,
        "consistencygroup_id": None,
        "links": _links(base_url, volume["project_id"], "volumes", volume["id"]),
    }
    extra: dict[str, Any] = {"group_id": None, "volume_type_id": type_id, "consumes_quota": True}
    view.update({name: extra[name] for since, name in _VOLUME_FIELDS_SINCE if version >= since})
    if is_admin:
        view["os-vol-host-attr:host"] = volume["host"]
        view["os-vol-tenant-attr:tenant_id"] = volume["project_id"]
        view["os-vol-mig-status-attr:migstat"] = None
        view["os-volume-replication:extended_status"] = volume["replication_extended_status"]
    return view


def volume_type(row: Mapping[str, Any], *, is_admin: bool) -> dict[str, Any]:
    """A volume type; as in Cinder, only admins see its extra specs."""
    view: dict[str, Any] = {
        "id": row["id"],
        "name": row["name"],
        "description": row.get("description"),
        "is_public": True,
        "os-volume-type-access:is_public": True,
        "qos_specs_id": None,
    }
    if is_admin:
        view["extra_specs"] = dict(row.get("extra_specs") or {})
    return view


def service(row: Mapping[str, Any], *, version: Version) -> dict[str, Any]:
    """A service as ``GET /os-services`` lists it (``state`` is computed by the API actor)."""
    view: dict[str, Any] = {
        "binary": row["binary"],
        "host": row["host"],
        "zone": ZONE,
        "status": "disabled" if row["disabled"] else "enabled",
        "state": row["state"],
        "updated_at": timestamp(row["updated_at"]),
        "disabled_reason": row["disabled_reason"],
    }
    if version >= (3, 7):
        view["cluster"] = None
    if version >= (3, 49) and row["binary"] == VOLUME_TOPIC:
        view["backend_state"] = row["state"]
    return view
