"""Quotas as Cinder 29 keeps them: the resources, the defaults a fresh deployment shows, and the
check that refuses a create or an extend beyond them.

A limit is an int, ``-1`` unlimited. A project's limit is its own, else its quota class
``default``'s, else unlimited: the simulator stores nothing, so its scenarios are never limited;
``replisim serve`` stores Cinder's defaults (``CINDER_DEFAULTS``) in the ``default`` class when it
starts. Usage is counted from the volumes themselves, in the transaction that creates or resizes
one (the repositories call ``check``), so concurrent creates cannot overshoot.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from replisim import exception

UNLIMITED = -1
DEFAULT_CLASS = "default"
DB_MAX_INT = 0x7FFFFFFF
# Cinder's resources in the order its quota sets list them; a volume type's three go before groups.
_BEFORE_TYPES = ("volumes", "per_volume_gigabytes", "snapshots", "gigabytes", "backups", "backup_gigabytes")
_AFTER_TYPES = ("groups",)
# Per volume type: ``volumes_<type name>`` and so on, unlimited unless set.
TYPE_RESOURCES = ("volumes", "gigabytes", "snapshots")
# What a fresh Cinder 29 shows (its quota_* options' defaults).
CINDER_DEFAULTS: Mapping[str, int] = {
    "volumes": 10,
    "per_volume_gigabytes": UNLIMITED,
    "snapshots": 10,
    "gigabytes": 1000,
    "backups": 10,
    "backup_gigabytes": 1000,
    "groups": 10,
}
# ``GET /limits``' absolute limits: (name, resource) for the maxima, (name, resource) for usage.
ABSOLUTE_LIMITS = (
    ("maxTotalVolumes", "volumes"),
    ("maxTotalSnapshots", "snapshots"),
    ("maxTotalVolumeGigabytes", "gigabytes"),
    ("maxTotalBackups", "backups"),
    ("maxTotalBackupGigabytes", "backup_gigabytes"),
)
ABSOLUTE_USAGE = (
    ("totalVolumesUsed", "volumes"),
    ("totalGigabytesUsed", "gigabytes"),
    ("totalSnapshotsUsed", "snapshots"),
    ("totalBackupsUsed", "backups"),
    ("totalBackupGigabytesUsed", "backup_gigabytes"),
)


def type_resource(resource: str, type_name: str) -> str:
    return f"{resource}_{type_name}"


def resources(type_names: Iterable[str]) -> list[str]:
    """Every resource a quota set has, in Cinder's order, given the volume types' names."""
    per_type = [type_resource(r, name) for name in type_names for r in TYPE_RESOURCES]
    return [*_BEFORE_TYPES, *per_type, *_AFTER_TYPES]


def limits(
    type_names: Iterable[str], class_limits: Mapping[str, int], own: Mapping[str, int] | None = None
) -> dict[str, int]:
    """Each resource's limit: the project's own, else its class's, else unlimited."""
    own = own or {}
    return {r: own.get(r, class_limits.get(r, UNLIMITED)) for r in resources(type_names)}


@dataclass(frozen=True)
class Usage:
    """What a project's volumes use: in all, and by volume type id (an untyped volume counts
    as the default type's, as Cinder's volumes all have one)."""

    volumes: int = 0
    gigabytes: int = 0
    by_type: Mapping[str, tuple[int, int]] = field(default_factory=dict)  # type id -> (volumes, GiB)

    def in_use(self, type_names: Mapping[str, str]) -> dict[str, int]:
        """Resource -> in use, for every resource (``type_names``: type id -> name)."""
        used = dict.fromkeys(resources(type_names.values()), 0)
        used["volumes"], used["gigabytes"] = self.volumes, self.gigabytes
        for type_id, (count, size) in self.by_type.items():
            name = type_names.get(type_id)
            if name is not None:
                used[type_resource("volumes", name)] = count
                used[type_resource("gigabytes", name)] = size
        return used


def count(volumes: Iterable[tuple[str, int]]) -> Usage:
    """The usage of volumes given as (type id, size) pairs."""
    by_type: dict[str, tuple[int, int]] = {}
    total = gigabytes = 0
    for type_id, size in volumes:
        n, g = by_type.get(type_id, (0, 0))
        by_type[type_id] = (n + 1, g + size)
        total += 1
        gigabytes += size
    return Usage(total, gigabytes, by_type)


def relevant(type_name: str) -> tuple[str, ...]:
    """The resources a volume of this type counts against."""
    return (
        "volumes",
        "gigabytes",
        "per_volume_gigabytes",
        type_resource("volumes", type_name),
        type_resource("gigabytes", type_name),
    )


def check_create(limit: Mapping[str, int], used: Mapping[str, int], type_name: str, size: int) -> None:
    """Refuse one more volume of ``size`` GiB of the type named ``type_name`` as Cinder does:
    the per-volume limit first, then the first exceeded resource in name order."""
    _check_per_volume(limit, size)
    adds = {
        "volumes": 1,
        "gigabytes": size,
        type_resource("volumes", type_name): 1,
        type_resource("gigabytes", type_name): size,
    }
    for resource in sorted(r for r, n in adds.items() if _over(limit, used, r, n)):
        if "gigabytes" in resource:
            raise exception.VolumeSizeExceedsAvailableQuota(
                name=resource, requested=size, quota=limit[resource], consumed=used.get(resource, 0)
            )
        raise exception.VolumeLimitExceeded(allowed=limit[resource], name=resource)


def check_extend(
    limit: Mapping[str, int], used: Mapping[str, int], type_name: str, size: int, new_size: int
) -> None:
    """Refuse growing a volume from ``size`` to ``new_size`` GiB beyond quota. Cinder names the
    project's gigabytes in its answer even when the type's were exceeded; so does this."""
    _check_per_volume(limit, new_size)
    grow = new_size - size
    if any(_over(limit, used, r, grow) for r in ("gigabytes", type_resource("gigabytes", type_name))):
        raise exception.VolumeSizeExceedsAvailableQuota(
            name="gigabytes", requested=grow, quota=limit["gigabytes"], consumed=used.get("gigabytes", 0)
        )


def _check_per_volume(limit: Mapping[str, int], size: int) -> None:
    per_volume = limit.get("per_volume_gigabytes", UNLIMITED)
    if per_volume >= 0 and size > per_volume:
        raise exception.VolumeSizeExceedsLimit(size=size, limit=per_volume)


def _over(limit: Mapping[str, int], used: Mapping[str, int], resource: str, adds: int) -> bool:
    cap = limit.get(resource, UNLIMITED)
    return cap >= 0 and adds > 0 and used.get(resource, 0) + adds > cap


def unlimited(limit: Mapping[str, int], type_name: str) -> bool:
    """Whether nothing limits a volume of this type (then its usage need not be counted)."""
    return all(limit.get(r, UNLIMITED) < 0 for r in relevant(type_name))


# Keys a quota set may carry besides resources (a client echoing what it was shown).
IGNORED_KEYS = ("id", "tenant_id")


def parse(values: Any, known: Collection[str], *, what: str) -> dict[str, int]:
    """The limits a client sent (``{"volumes": 20}``), in Cinder's words when they are wrong:
    a limit is a whole number from -1 (unlimited) to ``DB_MAX_INT``, and the resources exist."""
    if not isinstance(values, Mapping) or not values:
        raise exception.InvalidInput(reason=f"a {what} names at least one resource")
    out: dict[str, int] = {}
    bad = []
    for key, value in values.items():
        if key in IGNORED_KEYS:
            continue
        if key not in known:
            bad.append(str(key))
            continue
        out[key] = _whole(key, value)
    if bad:
        raise exception.InvalidInput(reason=f"Bad key(s) in {what}: {', '.join(bad)}")
    return out


def _whole(name: str, value: Any) -> int:
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d{1,12}\s*", value):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise exception.Invalid(f"{name} must be an integer")
    if value < UNLIMITED:
        raise exception.Invalid(f"{name} must be >= {UNLIMITED}")
    if value > DB_MAX_INT:
        raise exception.Invalid(f"{name} must be <= {DB_MAX_INT}")
    return value


def check_not_below_usage(values: Mapping[str, int], used: Mapping[str, int]) -> None:
    """A project's new limit may not be below what it already uses (unlimited always may)."""
    for key, value in values.items():
        if key == "per_volume_gigabytes" or value == UNLIMITED:
            continue
        if value < used.get(key, 0):
            raise exception.Invalid(
                f"Quota {key} limit must be equal or greater than existing resources. Current usage "
                f"is {used[key]} and the requested limit is {value}."
            )
