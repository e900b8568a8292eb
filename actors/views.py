"""Cinder's JSON views: rows from the API actor shaped as Block Storage v3 answers them.

Only shaping happens here, so the controller in ``rest.py`` reads as "call, then view". Fields
that later microversions added appear only when the request's microversion has them, as in Cinder.
"""

from __future__ import annotations

import datetime
import functools
import uuid
from collections.abc import Mapping
from typing import Any

from . import quotas
from .db import DEFAULT_TYPE_ID
from .status import VOLUME_TOPIC

Version = tuple[int, int]

MIN_VERSION: Version = (3, 0)
MAX_VERSION: Version = (3, 71)  # what Cinder 29 and python-cinderclient 9.x speak
ZONE = "nova"  # Cinder's default availability zone; replisim has one


def version_text(version: Version) -> str:
    return f"{version[0]}.{version[1]}"


@functools.lru_cache(maxsize=8192)  # a polled volume shows the same two instants, poll after poll
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
                "links": [
                    {"rel": "describedby", "type": "text/html", "href": "https://docs.openstack.org/"},
                    {"rel": "self", "href": f"{base_url}/v3/"},
                ],
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
    extended: bool = True,
) -> dict[str, Any]:
    """A volume as ``GET /volumes/{id}`` shows it; admins also see where it lives and why it failed.

    ``extended``: with the attributes Cinder's extensions add to a show or a listing (host,
    tenant, migration), which its answers to a create or an update lack. An untyped volume shows
    the default type, as Cinder's volumes all have one.
    """
    type_id = volume["volume_type_id"] or DEFAULT_TYPE_ID
    updated = volume["updated_at"]
    view: dict[str, Any] = {
        "id": volume["id"],
        "name": volume["display_name"],
        "description": volume["display_description"],
        "size": volume["size"],
        "status": volume["status"],
        "replication_status": volume["replication_status"],
        "volume_type": type_names.get(type_id, type_id),
        "availability_zone": ZONE,
        "user_id": volume["user_id"],
        "created_at": timestamp(volume["created_at"]),
        # Cinder's row has no update time until its first update
        "updated_at": None if updated == volume["created_at"] else timestamp(updated),
        "attachments": [],
        "metadata": {**volume["metadata"], **_visible_admin_metadata(volume)},
        "bootable": str(volume["bootable"]).lower(),
        "encrypted": False,
        "multiattach": False,
        "snapshot_id": None,
        "source_volid": None,
        "consistencygroup_id": None,
        "links": _links(base_url, volume["project_id"], "volumes", volume["id"]),
    }
    if is_admin:
        view["migration_status"] = volume["migration_status"]
    # (since, field, admins only, value): the fields later microversions added
    later: tuple[tuple[Version, str, bool, Any], ...] = (
        ((3, 13), "group_id", False, volume.get("group_id")),
        ((3, 21), "provider_id", True, None),
        ((3, 48), "shared_targets", False, False),
        ((3, 48), "service_uuid", False, service_uuid(volume["host"])),
        ((3, 61), "cluster_name", True, None),
        ((3, 63), "volume_type_id", False, type_id),
        ((3, 65), "consumes_quota", False, True),
    )
    view.update(
        {name: value for since, name, admin, value in later if version >= since and (is_admin or not admin)}
    )
    if extended:
        if is_admin:
            view["os-vol-host-attr:host"] = volume["host"]
        view["os-vol-tenant-attr:tenant_id"] = volume["project_id"]
        if is_admin:
            view["os-vol-mig-status-attr:migstat"] = volume["migration_status"]
            view["os-vol-mig-status-attr:name_id"] = None
    if is_admin:
        view["os-volume-replication:extended_status"] = volume["replication_extended_status"]
    return view


def _visible_admin_metadata(volume: Mapping[str, Any]) -> dict[str, str]:
    """The admin metadata Cinder merges into a volume's shown metadata."""
    return {k: v for k, v in volume["admin_metadata"].items() if k in ("readonly", "attached_mode")}


@functools.lru_cache(maxsize=1024)  # a deployment's hosts are few; every volume view asks
def service_uuid(host: str | None) -> str | None:
    """A volume service's uuid (Cinder's ``service_uuid``), stable for its ``host@backend``."""
    if not host:
        return None
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"replisim:{VOLUME_TOPIC}:{host.partition('#')[0]}"))


# Extra specs Cinder shows to every user; the rest are for admins.
USER_VISIBLE_EXTRA_SPECS = ("RESKEY:availability_zones", "multiattach", "replication_enabled")


def visible_extra_specs(specs: Mapping[str, str], *, is_admin: bool) -> dict[str, str]:
    """The extra specs a caller may read: all for admins, the user-visible ones for members."""
    return dict(specs) if is_admin else {k: specs[k] for k in USER_VISIBLE_EXTRA_SPECS if k in specs}


def volume_type(
    row: Mapping[str, Any], *, is_admin: bool, qos: bool = True, access: bool = True
) -> dict[str, Any]:
    """A volume type; as in Cinder, members see only the user-visible extra specs, and no QoS.

    As Cinder 29 answers: the QoS id (``qos``) is missing from the answers to a create and an
    update, the access extension's field (``access``) from those to an update and ``/types/default``."""
    view: dict[str, Any] = {
        "id": row["id"],
        "name": row["name"],
        "description": row.get("description"),
        "is_public": True,
        "extra_specs": visible_extra_specs(row.get("extra_specs") or {}, is_admin=is_admin),
    }
    if access:
        view["os-volume-type-access:is_public"] = True
    if qos and is_admin:
        view["qos_specs_id"] = None
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
    if row["binary"] == VOLUME_TOPIC:  # Cinder's os-extended-services, on volume services only
        view["replication_status"] = row["replication_status"]
        view["active_backend_id"] = row["active_backend_id"]
        view["frozen"] = row["frozen"]
    if version >= (3, 7):
        view["cluster"] = None
    if version >= (3, 49) and row["binary"] == VOLUME_TOPIC:
        # Cinder reads it from the scheduler's pools, which a disabled service is not among
        view["backend_state"] = None if row["disabled"] else row["state"]
    return view


def limits(quota_set: Mapping[str, Mapping[str, int]]) -> dict[str, Any]:
    """``GET /limits`` from a quota set with usage: no rate limits, the absolute ones and their use."""
    absolute = {name: quota_set[resource]["limit"] for name, resource in quotas.ABSOLUTE_LIMITS}
    absolute.update({name: quota_set[resource]["in_use"] for name, resource in quotas.ABSOLUTE_USAGE})
    return {"limits": {"rate": [], "absolute": absolute}}


def pool(row: Mapping[str, Any], *, detail: bool) -> dict[str, Any]:
    """A pool as ``scheduler-stats/get_pools`` lists it; ``detail`` adds its capabilities."""
    return {"name": row["name"], "capabilities": row["capabilities"]} if detail else {"name": row["name"]}


# The filters each listing takes, as ``GET /resource_filters`` shows them (Cinder's resource names).
RESOURCE_FILTERS: Mapping[str, tuple[str, ...]] = {
    "volume": (
        "name",
        "status",
        "metadata",
        "bootable",
        "availability_zone",
        "replication_status",
        "project_id",
    ),
    "pool": ("name", "volume_type"),
}

# The API extensions replisim serves, as Cinder 29 names them (name, alias, description, updated),
# in Cinder's order. A client that checks for one (backups, snapshots) learns the truth.
EXTENSIONS: tuple[tuple[str, str, str, str], ...] = (
    (
        "UsedLimits",
        "os-used-limits",
        "Provide data on limited resources that are being used.",
        "2013-10-03T00:00:00+00:00",
    ),
    ("AdminActions", "os-admin-actions", "Enable admin actions.", "2012-08-25T00:00:00+00:00"),
    ("TypesExtraSpecs", "os-types-extra-specs", "Type extra specs support.", "2011-08-24T00:00:00+00:00"),
    ("Quotas", "os-quota-sets", "Quota management support.", "2011-08-08T00:00:00+00:00"),
    ("VolumeActions", "os-volume-actions", "Enable volume actions.", "2012-05-31T00:00:00+00:00"),
    ("QuotaClasses", "os-quota-class-sets", "Quota classes management support.", "2012-03-12T00:00:00+00:00"),
    (
        "AvailabilityZones",
        "os-availability-zone",
        "Describe Availability Zones.",
        "2013-06-27T00:00:00+00:00",
    ),
    ("Services", "os-services", "Services support.", "2012-10-28T00:00:00-00:00"),
    ("TypesManage", "os-types-manage", "Types manage support.", "2011-08-24T00:00:00+00:00"),
    (
        "VolumeHostAttribute",
        "os-vol-host-attr",
        "Expose host as an attribute of a volume.",
        "2011-11-03T00:00:00+00:00",
    ),
    ("Scheduler_stats", "scheduler-stats", "Scheduler stats support.", "2014-09-07T00:00:00+00:00"),
    (
        "VolumeMigStatusAttribute",
        "os-vol-mig-status-attr",
        "Expose migration_status as an attribute of a volume.",
        "2013-08-08T00:00:00+00:00",
    ),
    (
        "VolumeTenantAttribute",
        "os-vol-tenant-attr",
        "Expose the internal project_id as an attribute of a volume.",
        "2011-11-03T00:00:00+00:00",
    ),
)


def extension(entry: tuple[str, str, str, str]) -> dict[str, Any]:
    name, alias, description, updated = entry
    return {"name": name, "alias": alias, "description": description, "updated": updated, "links": []}


def group_type(row: Mapping[str, Any], *, specs: bool) -> dict[str, Any]:
    """A group type; ``group_specs`` only for those allowed to see them (admins), as in Cinder."""
    view: dict[str, Any] = {
        "id": row["id"],
        "name": row["name"],
        "description": row.get("description"),
        "is_public": row["is_public"],
    }
    if specs:
        view["group_specs"] = dict(row.get("group_specs") or {})
    return view


def group_summary(group: Mapping[str, Any]) -> dict[str, Any]:
    """A group in ``GET /groups`` and in the answer to a create."""
    return {"id": group["id"], "name": group["name"]}


def group_detail(
    group: Mapping[str, Any], *, version: Version, is_admin: bool, volumes: list[str] | None = None
) -> dict[str, Any]:
    """A group as ``GET /groups/{id}`` shows it: the later microversions' fields only from theirs
    (snapshots 3.14, ``volumes`` with ``list_volume`` 3.25, replication 3.38, project 3.58)."""
    view: dict[str, Any] = {
        "id": group["id"],
        "status": group["status"],
        "availability_zone": group["availability_zone"],
        "created_at": timestamp(group["created_at"]),
        "name": group["name"],
        "description": group["description"],
        "group_type": group["group_type_id"],
        "volume_types": list(group["volume_type_ids"]),
    }
    if version >= (3, 14):
        view["group_snapshot_id"] = None
        view["source_group_id"] = None
    if version >= (3, 25) and volumes is not None:
        view["volumes"] = volumes
    if version >= (3, 38):
        view["replication_status"] = group["replication_status"]
    if version >= (3, 58) and is_admin:
        view["project_id"] = group["project_id"]
    return view
