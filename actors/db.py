"""The database: the state every actor shares, as Cinder's services share theirs.

One ``Repository`` interface, two implementations: ``MemoryRepository`` (plain dicts, fast and
deterministic for the simulator) and ``SqlRepository`` (SQLAlchemy Core on any URL, SQLite by
default, for live runs). Rows are plain dicts with Cinder's field names and are always the
caller's own: mutating one (at any depth) never changes what is stored.
Time comes only from the injected ``clock``, so a simulated run stamps simulated time.
Both backends validate values with the same code, so they store, and answer, the same things.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.pool import StaticPool

from .. import exception
from . import quotas

Row = dict[str, Any]
Clock = Callable[[], float]
LOG = logging.getLogger("replisim.db")

_NONE = type(None)
_TEXT: tuple[type, ...] = (str, _NONE)
_TIME: tuple[type, ...] = (float, int)

# Field name -> accepted Python types; the order is the public field order.
_VOLUME_SCHEMA: dict[str, tuple[type, ...]] = {
    "id": (str,),
    "project_id": _TEXT,
    "user_id": _TEXT,
    "display_name": _TEXT,
    "display_description": _TEXT,
    "size": (int, _NONE),
    "host": _TEXT,
    "status": _TEXT,
    "volume_type_id": _TEXT,
    "replication_status": _TEXT,
    "replication_driver_data": _TEXT,
    "replication_extended_status": _TEXT,
    # the stable replication status a volume had before an action or an error, to return to
    "previous_replication_status": _TEXT,
    "provider_location": _TEXT,
    "status_reason": _TEXT,  # why a volume is in `error` (no valid host, driver failure)
    "group_id": _TEXT,  # the generic volume group it belongs to (microversion 3.13)
    "bootable": (bool,),
    "attach_status": _TEXT,
    "migration_status": _TEXT,
    "metadata": (dict,),  # the owner's key/value pairs, str to str
    "admin_metadata": (dict,),  # set by actions, not by the owner ("readonly"), str to str
    "created_at": _TIME,
    "updated_at": _TIME,
    "deleted_at": (*_TIME, _NONE),
    "deleted": (bool,),
}
VOLUME_FIELDS = tuple(_VOLUME_SCHEMA)
# The repository owns identity, timestamps and soft deletion; callers write the rest.
_VOLUME_WRITABLE = frozenset(VOLUME_FIELDS) - {
    "id",
    "created_at",
    "updated_at",
    "deleted_at",
    "deleted",
}
_VOLUME_DEFAULTS: Row = {
    "status": "creating",
    "replication_status": "disabled",
    "bootable": False,
    "attach_status": "detached",
    "metadata": {},
    "admin_metadata": {},
    "deleted": False,
}
# The volume fields that are containers: a row's only mutable values, copied on every read.
_VOLUME_MAPS = ("metadata", "admin_metadata")

_SERVICE_SCHEMA: dict[str, tuple[type, ...]] = {
    "id": (int,),
    "host": (str,),
    "binary": (str,),
    "topic": _TEXT,
    "disabled": (bool,),
    "disabled_reason": _TEXT,
    "report_count": (int,),
    "capabilities": (dict, _NONE),
    "stats_at": (*_TIME, _NONE),  # when the driver last reported stats (updated_at: the heartbeat)
    # host failover (Replication V2.1): the backend's replication state, the target it serves
    # from ('' or None: its own array) and whether it is frozen
    "replication_status": _TEXT,
    "active_backend_id": _TEXT,
    "frozen": (bool,),
    "created_at": _TIME,
    "updated_at": _TIME,
}
SERVICE_FIELDS = tuple(_SERVICE_SCHEMA)
_SERVICE_DEFAULTS: Row = {
    "topic": None,
    "disabled": False,
    "disabled_reason": None,
    "report_count": 0,
    "capabilities": None,
    "stats_at": None,
    "replication_status": "not-capable",  # Cinder's column default, until the service starts
    "active_backend_id": None,
    "frozen": False,
}
_SERVICE_WRITABLE = frozenset(_SERVICE_DEFAULTS)

_MULTI = (tuple, list, set, frozenset)

# Every database starts with Cinder's default volume type, as Cinder's own migrations make it; an
# untyped volume is shown with it. Its id is fixed, so every run and both backends agree.
DEFAULT_TYPE_NAME = "__DEFAULT__"
DEFAULT_TYPE_ID = str(uuid.uuid5(uuid.NAMESPACE_URL, "replisim:volume-type:__DEFAULT__"))
DEFAULT_TYPE_DESCRIPTION = "Default Volume Type"
# And with the group type Cinder reserves for consistency groups migrated to groups (its initial
# migration makes it): listed like any group type, never usable for a new group.
CGSNAPSHOT_GROUP_TYPE_NAME = "default_cgsnapshot_type"
CGSNAPSHOT_GROUP_TYPE_ID = str(uuid.uuid5(uuid.NAMESPACE_URL, "replisim:group-type:default_cgsnapshot_type"))
CGSNAPSHOT_GROUP_TYPE_DESCRIPTION = "Default group type for migrating cgsnapshot"
CGSNAPSHOT_GROUP_TYPE_SPECS = {"consistent_group_snapshot_enabled": "<is> True"}


class Repository(Protocol):
    """What actors may ask of the database; both backends answer identically."""

    available: bool

    def volume_create(self, values: Mapping[str, Any], *, within_quota: bool = False) -> Row: ...
    def volume_get(self, volume_id: str) -> Row: ...
    def volume_get_all(
        self,
        *,
        project_id: str | None = None,
        host: str | None = None,
        statuses: Collection[str] | None = None,
        replication_statuses: Collection[str] | None = None,
    ) -> list[Row]: ...
    def volume_update(self, volume_id: str, values: Mapping[str, Any]) -> Row: ...
    def volume_conditional_update(
        self,
        volume_id: str,
        expected: Mapping[str, Any],
        values: Mapping[str, Any],
        *,
        within_quota: bool = False,
    ) -> Row | None: ...
    def volume_destroy(self, volume_id: str) -> None: ...
    def volume_type_create(
        self,
        type_id: str,
        name: str,
        extra_specs: Mapping[str, str] | None = None,
        description: str | None = None,
    ) -> Row: ...
    def volume_type_get(self, type_id: str) -> Row: ...
    def volume_type_get_by_name(self, name: str) -> Row: ...
    def volume_type_get_all(self) -> list[Row]: ...
    def volume_type_update(self, type_id: str, values: Mapping[str, Any]) -> Row: ...
    def volume_type_delete(self, type_id: str) -> None: ...
    def volume_type_extra_specs_update(self, type_id: str, specs: Mapping[str, str]) -> dict[str, str]: ...
    def volume_type_extra_specs_delete(self, type_id: str, key: str) -> None: ...
    def service_update_or_create(self, host: str, binary: str, values: Mapping[str, Any]) -> Row: ...
    def service_get_all(self, *, binary: str | None = None) -> list[Row]: ...
    def service_get(self, host: str, binary: str) -> Row: ...
    def service_conditional_update(
        self, host: str, binary: str, expected: Mapping[str, Any], values: Mapping[str, Any]
    ) -> Row | None: ...
    def service_disabled_hosts(self, binary: str) -> set[str]: ...
    def quota_get(self, project_id: str) -> dict[str, int]: ...
    def quota_update(self, project_id: str, limits: Mapping[str, int]) -> None: ...
    def quota_destroy(self, project_id: str) -> None: ...
    def quota_class_get(self, class_name: str) -> dict[str, int]: ...
    def quota_class_update(self, class_name: str, limits: Mapping[str, int]) -> None: ...
    def quota_usage(self, project_id: str) -> quotas.Usage: ...
    def close(self) -> None: ...
    def group_type_create(
        self,
        type_id: str,
        name: str,
        group_specs: Mapping[str, str] | None = None,
        description: str | None = None,
        is_public: bool = True,
    ) -> Row: ...
    def group_type_get(self, type_id: str) -> Row: ...
    def group_type_get_by_name(self, name: str) -> Row: ...
    def group_type_get_all(self) -> list[Row]: ...
    def group_type_update(self, type_id: str, values: Mapping[str, Any]) -> Row: ...
    def group_type_delete(self, type_id: str) -> None: ...
    def group_type_specs_update(self, type_id: str, specs: Mapping[str, str]) -> dict[str, str]: ...
    def group_type_specs_delete(self, type_id: str, key: str) -> None: ...
    def group_create(self, values: Mapping[str, Any]) -> Row: ...
    def group_get(self, group_id: str) -> Row: ...
    def group_get_all(self, *, project_id: str | None = None) -> list[Row]: ...
    def group_update(self, group_id: str, values: Mapping[str, Any]) -> Row: ...
    def group_conditional_update(
        self, group_id: str, expected: Mapping[str, Any], values: Mapping[str, Any]
    ) -> Row | None: ...
    def group_destroy(self, group_id: str) -> None: ...
    def volume_get_all_by_group(self, group_id: str) -> list[Row]: ...


def make_repository(url: str | None, clock: Clock) -> Repository:
    """Pick the backend from configuration: None or "memory" for dicts, else an SQLAlchemy URL."""
    if url is None or url == "memory":
        return MemoryRepository(clock=clock)
    return SqlRepository(url, clock=clock)


# --- validation shared by both backends --------------------------------------------------------


def _check_type(what: str, key: str, value: Any, types: tuple[type, ...]) -> None:
    """Reject values the other backend would coerce (bool for int, '1' for 1) so both agree."""
    if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
        raise exception.Invalid(f"{what} field {key!r} cannot be {value!r}.")


def _checked(
    what: str,
    values: Mapping[str, Any],
    schema: Mapping[str, tuple[type, ...]],
    writable: Collection[str],
) -> Row:
    """Return a validated copy of ``values``: unknown, read-only or mistyped keys are Invalid."""
    out: Row = {}
    for key, value in values.items():
        if key not in schema:
            raise exception.Invalid(f"Unknown {what} field {key!r}.")
        if key not in writable:
            raise exception.Invalid(f"The {what} field {key!r} is read-only.")
        _check_type(what, key, value, schema[key])
        if key in _VOLUME_MAPS:
            out[key] = _string_map(f"{what} field {key!r}", value)
        else:
            out[key] = _json_copy(value) if key == "capabilities" else value
    return out


def _string_map(what: str, value: Mapping[str, Any]) -> dict[str, str]:
    """A copy of a str-to-str mapping (metadata), or Invalid naming the first bad pair."""
    for key, item in value.items():
        if not isinstance(key, str) or not isinstance(item, str):
            raise exception.Invalid(f"{what} maps strings to strings, not {key!r}: {item!r}.")
    return dict(value)


def _json_copy(value: Any) -> Any:
    """Deep-copy through JSON, so memory holds exactly what an SQL JSON column would give back.
    A tree of plain JSON values (the common case: a driver's stats) is copied directly, to the
    same result at a fraction of the cost."""
    try:
        return _tree_copy(value)
    except _NotPlain:
        pass
    try:
        return json.loads(json.dumps(value))
    except (TypeError, ValueError) as exc:
        raise exception.Invalid(f"Not JSON-serialisable: {exc}") from exc


class _NotPlain(Exception):
    """A value that JSON would change (a tuple, a non-string key, an object): take the slow path."""


_SCALARS = frozenset({str, int, float, bool, type(None)})


def _tree_copy(value: Any) -> Any:
    """A copy of a tree of dicts (string keys), lists and JSON scalars: new containers, shared
    scalars (they are immutable). Anything else raises ``_NotPlain``."""
    kind = type(value)
    if kind is dict:
        out = {}
        for key, item in value.items():
            if type(key) is not str:
                raise _NotPlain
            out[key] = item if type(item) in _SCALARS else _tree_copy(item)
        return out
    if kind is list:
        return [item if type(item) in _SCALARS else _tree_copy(item) for item in value]
    if kind in _SCALARS:
        return value
    raise _NotPlain


def _new_volume(values: Mapping[str, Any], now: float) -> Row:
    """Build a complete row from the caller's values, the defaults and the clock."""
    if "id" not in values:
        raise exception.Invalid("A volume needs an 'id'.")
    volume_id = values["id"]
    _check_type("volume", "id", volume_id, (str,))
    row: Row = dict.fromkeys(VOLUME_FIELDS)
    row.update(_VOLUME_DEFAULTS)
    row.update(
        _checked("volume", {k: v for k, v in values.items() if k != "id"}, _VOLUME_SCHEMA, _VOLUME_WRITABLE)
    )
    row.update(id=volume_id, created_at=now, updated_at=now)
    for key in _VOLUME_MAPS:  # never the defaults' own dicts
        row[key] = dict(row[key])
    return row


def _volume_copy(row: Row) -> Row:
    """A volume row for a caller: its only containers are its metadata dicts (str to str)."""
    return {**row, "metadata": dict(row["metadata"]), "admin_metadata": dict(row["admin_metadata"])}


def _expectations(
    expected: Mapping[str, Any], what: str = "volume", schema: Mapping[str, tuple[type, ...]] = _VOLUME_SCHEMA
) -> dict[str, list[Any]]:
    """Normalise compare-and-swap conditions to field -> list of allowed values (None allowed)."""
    out: dict[str, list[Any]] = {}
    for key, want in expected.items():
        if key not in schema:
            raise exception.Invalid(f"Unknown {what} field {key!r}.")
        allowed = list(want) if isinstance(want, _MULTI) else [want]
        for value in allowed:
            _check_type(what, key, value, (*schema[key], _NONE))
        out[key] = allowed
    return out


def _filters(statuses: Collection[str] | None, replication_statuses: Collection[str] | None) -> Row:
    """Turn volume_get_all's status filters into expectations (a bare string is one status)."""
    raw: Row = {}
    for key, wanted in (("status", statuses), ("replication_status", replication_statuses)):
        if wanted is not None:
            raw[key] = (wanted,) if isinstance(wanted, str) else tuple(wanted)
    return _expectations(raw)


def _check_specs(specs: Mapping[str, str]) -> dict[str, str]:
    for key, value in specs.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise exception.Invalid(f"Extra specs map str to str, not {key!r}: {value!r}.")
    return dict(specs)


def _check_type_args(type_id: str, name: str, description: str | None) -> None:
    _check_type("volume type", "id", type_id, (str,))
    _check_type("volume type", "name", name, (str,))
    _check_type("volume type", "description", description, _TEXT)


def _type_changes(values: Mapping[str, Any]) -> Row:
    """A volume type's writable fields (its name and description), checked."""
    unknown = sorted(set(values) - {"name", "description"})
    if unknown:
        raise exception.Invalid(f"Unknown or read-only volume type field {unknown[0]!r}.")
    if "name" in values:
        _check_type("volume type", "name", values["name"], (str,))
    if "description" in values:
        _check_type("volume type", "description", values["description"], _TEXT)
    return dict(values)


def _no_spec(type_id: str, key: str) -> exception.NotFound:
    return exception.NotFound(f"Volume type {type_id} has no extra spec {key!r}.")


def _check_limits(limits: Mapping[str, int]) -> dict[str, int]:
    """Quota limits map resource names to whole numbers from -1 (unlimited) up."""
    for key, value in limits.items():
        if not isinstance(key, str) or not key:
            raise exception.Invalid(f"A quota's resource must be a non-empty string, not {key!r}.")
        if isinstance(value, bool) or not isinstance(value, int) or not -1 <= value <= quotas.DB_MAX_INT:
            raise exception.Invalid(f"Quota {key!r} must be a whole number from -1, not {value!r}.")
    return dict(limits)


def _quota_check(
    limit: Mapping[str, int],
    usage: Callable[[], quotas.Usage],
    *,
    type_id: str,
    type_name: str,
    size: int,
    new_size: int | None = None,
) -> None:
    """Raise the quota error a create (or, with ``new_size``, a resize) would meet; usage is
    counted only when some limit applies."""
    if quotas.unlimited(limit, type_name):
        return
    used = usage().in_use({type_id: type_name})
    if new_size is None:
        quotas.check_create(limit, used, type_name, size)
    elif new_size > size:
        quotas.check_extend(limit, used, type_name, size, new_size)


def _require(available: bool) -> None:
    """Model an outage: fail before touching anything, so nothing is half-written."""
    if not available:
        raise exception.DBUnavailable(reason="database is unavailable")


# --- generic volume groups and their types (shared by both backends) --------------------------

_GROUP_TYPE_SCHEMA: dict[str, tuple[type, ...]] = {
    "id": (str,),
    "name": (str,),
    "description": _TEXT,
    "is_public": (bool,),
    "group_specs": (dict,),  # str to str, as a volume type's extra specs
    "created_at": _TIME,
    "updated_at": _TIME,
}
_GROUP_SCHEMA: dict[str, tuple[type, ...]] = {
    "id": (str,),
    "project_id": _TEXT,
    "user_id": _TEXT,
    "name": _TEXT,
    "description": _TEXT,
    "status": _TEXT,
    "replication_status": _TEXT,
    "host": _TEXT,  # 'host@backend#pool', once the scheduler placed it
    "availability_zone": _TEXT,
    "group_type_id": _TEXT,
    "volume_type_ids": (list,),  # the volume types its volumes may have, in the order given
    "status_reason": _TEXT,  # why a group is in `error`
    "created_at": _TIME,
    "updated_at": _TIME,
    "deleted_at": (*_TIME, _NONE),
    "deleted": (bool,),
}
GROUP_FIELDS = tuple(_GROUP_SCHEMA)
_GROUP_WRITABLE = frozenset(GROUP_FIELDS) - {"id", "created_at", "updated_at", "deleted_at", "deleted"}
_GROUP_DEFAULTS: Row = {
    "status": "creating",
    "replication_status": "disabled",
    "availability_zone": "nova",
    "volume_type_ids": [],
    "deleted": False,
}


def _group_values(values: Mapping[str, Any]) -> Row:
    """A validated copy of a group's writable values: ``volume_type_ids`` a list of strings."""
    out: Row = {}
    for key, value in values.items():
        if key not in _GROUP_SCHEMA:
            raise exception.Invalid(f"Unknown group field {key!r}.")
        if key not in _GROUP_WRITABLE:
            raise exception.Invalid(f"The group field {key!r} is read-only.")
        _check_type("group", key, value, _GROUP_SCHEMA[key])
        if key == "volume_type_ids" and not all(isinstance(item, str) for item in value):
            raise exception.Invalid(f"A group's volume_type_ids are strings, not {value!r}.")
        out[key] = list(value) if key == "volume_type_ids" else value
    return out


def _new_group(values: Mapping[str, Any], now: float) -> Row:
    if "id" not in values:
        raise exception.Invalid("A group needs an 'id'.")
    _check_type("group", "id", values["id"], (str,))
    row: Row = dict.fromkeys(GROUP_FIELDS)
    row.update(_GROUP_DEFAULTS)
    row.update(_group_values({k: v for k, v in values.items() if k != "id"}))
    row.update(id=values["id"], created_at=now, updated_at=now)
    row["volume_type_ids"] = list(row["volume_type_ids"])
    return row


def _group_copy(row: Row) -> Row:
    return {**row, "volume_type_ids": list(row["volume_type_ids"])}


def _group_type_copy(row: Row) -> Row:
    return {**row, "group_specs": dict(row["group_specs"])}


def _group_type_changes(values: Mapping[str, Any]) -> Row:
    """A group type's writable fields (name, description, is_public), checked."""
    unknown = sorted(set(values) - {"name", "description", "is_public"})
    if unknown:
        raise exception.Invalid(f"Unknown or read-only group type field {unknown[0]!r}.")
    for key, value in values.items():
        _check_type("group type", key, value, _GROUP_TYPE_SCHEMA[key])
    return dict(values)


def _no_group_spec(type_id: str, key: str) -> exception.NotFound:
    return exception.GroupTypeSpecsNotFound(group_type_id=type_id, group_specs_key=key)


# --- in memory ----------------------------------------------------------------------------------


_INDEXED = ("status", "replication_status", "host")


def _backend(host: str | None) -> str | None:
    return None if host is None else host.partition("#")[0]


def _indexed(row: Row) -> Row:
    """A volume's index keys: its statuses and its backend host."""
    return {
        "status": row["status"],
        "replication_status": row["replication_status"],
        "host": _backend(row["host"]),
    }


def _type_copy(row: Row) -> Row:
    """A volume type row for a caller: its only container is ``extra_specs`` (str to str)."""
    return {**row, "extra_specs": dict(row["extra_specs"])}


def _service_copy(row: Row) -> Row:
    """A service row for a caller: its only container is ``capabilities`` (a JSON tree)."""
    return {**row, "capabilities": _tree_copy(row["capabilities"])}


class _Step:
    """The memory repository's atomic step: refuse during an outage, hold the lock, give the time.
    A plain class, as every call takes one: a generator-based context manager costs several times more."""

    __slots__ = ("_repo",)

    def __init__(self, repo: MemoryRepository):
        self._repo = repo

    def __enter__(self) -> float:
        repo = self._repo
        _require(repo.available)
        repo._lock.acquire()
        try:
            return float(repo._clock())
        except BaseException:
            repo._lock.release()
            raise

    def __exit__(self, *exc_info: object) -> None:
        self._repo._lock.release()


class MemoryRepository:
    """Plain dicts under one lock: fast and deterministic for the simulator, safe for threads.

    Stored values are immutable scalars except a type's ``extra_specs`` and a service's
    ``capabilities``; a read copies just those containers (a deep copy of the rest would copy
    nothing that could change)."""

    def __init__(self, *, clock: Clock):
        self._clock = clock
        self._lock = threading.Lock()
        self.available = True
        self._volumes: dict[str, Row] = {}
        # live volume ids by status, replication_status and backend host ('host@backend', the host
        # up to its '#pool'): the periodic tasks ask for a few volumes out of many, every few seconds
        self._by: dict[str, dict[str | None, dict[str, None]]] = {field: {} for field in _INDEXED}
        self._types: dict[str, Row] = {}  # each with its own 'extra_specs' dict
        self._services: dict[int, Row] = {}
        self._service_ids: dict[tuple[str, str], int] = {}  # (host, binary) -> id
        self._quotas: dict[str, dict[str, int]] = {}  # project -> resource -> limit
        self._quota_classes: dict[str, dict[str, int]] = {}  # class -> resource -> limit
        self._group_types: dict[str, Row] = {}
        self._groups: dict[str, Row] = {}
        self._step = _Step(self)
        self.volume_type_create(DEFAULT_TYPE_ID, DEFAULT_TYPE_NAME, {}, DEFAULT_TYPE_DESCRIPTION)
        self.group_type_create(
            CGSNAPSHOT_GROUP_TYPE_ID,
            CGSNAPSHOT_GROUP_TYPE_NAME,
            CGSNAPSHOT_GROUP_TYPE_SPECS,
            CGSNAPSHOT_GROUP_TYPE_DESCRIPTION,
        )

    def _tx(self) -> _Step:
        """One atomic step; gives the time. Methods validate before they mutate."""
        return self._step

    def close(self) -> None:
        """Nothing to release; present so both backends close alike."""

    # volumes

    def _index(self, row: Row, before: Row | None) -> None:
        """Keep the indexes in step after ``row`` changed from ``before`` (``_indexed(row)`` then)."""
        now = _indexed(row)
        for field, index in self._by.items():
            if before is not None:
                index.get(before[field], {}).pop(row["id"], None)
            if not row["deleted"]:
                index.setdefault(now[field], {})[row["id"]] = None

    def _live(self, volume_id: str) -> Row:
        row = self._volumes.get(volume_id)
        if row is None or row["deleted"]:
            raise exception.VolumeNotFound(volume_id=volume_id)
        return row

    def volume_create(self, values: Mapping[str, Any], *, within_quota: bool = False) -> Row:
        with self._tx() as now:
            row = _new_volume(values, now)
            if row["id"] in self._volumes:
                raise exception.Invalid(f"Volume {row['id']} already exists.")
            if within_quota:
                self._quota_check(row, row["size"] or 0)
            self._volumes[row["id"]] = row
            self._index(row, None)
            return _volume_copy(row)

    def volume_get(self, volume_id: str) -> Row:
        with self._tx():
            return _volume_copy(self._live(volume_id))

    def volume_statuses(self, volume_id: str) -> tuple[Any, Any]:
        """A volume's ``status`` and ``replication_status``, as ``volume_get`` would read them but
        without copying the row: what a recording repository reads before every write."""
        with self._tx():
            row = self._live(volume_id)
            return row.get("status"), row.get("replication_status")

    def volume_get_all(
        self,
        *,
        project_id: str | None = None,
        host: str | None = None,
        statuses: Collection[str] | None = None,
        replication_statuses: Collection[str] | None = None,
    ) -> list[Row]:
        with self._tx():
            wanted = _filters(statuses, replication_statuses)
            candidates: Iterable[Row] = self._volumes.values()
            # the smallest of the index entries the filters name (each volume is in one entry per field)
            options = [
                [self._by[field].get(value, {}) for value in dict.fromkeys(wanted[field])]
                for field in ("replication_status", "status")
                if field in wanted
            ]
            if host is not None:
                options.append([self._by["host"].get(_backend(host), {})])
            if options:
                smallest = min(options, key=lambda groups: sum(map(len, groups)))
                candidates = [self._volumes[i] for group in smallest for i in group]
            rows = [
                _volume_copy(row)
                for row in candidates
                if not row["deleted"]
                and (project_id is None or row["project_id"] == project_id)
                and (
                    host is None
                    or row["host"] == host
                    or (row["host"] is not None and row["host"].startswith(host + "#"))
                )
                and _matches(row, wanted)
            ]
            return sorted(rows, key=lambda row: (row["created_at"], row["id"]))

    def volume_update(self, volume_id: str, values: Mapping[str, Any]) -> Row:
        with self._tx() as now:
            changes = _checked("volume", values, _VOLUME_SCHEMA, _VOLUME_WRITABLE)
            row = self._live(volume_id)
            before = _indexed(row)
            row.update(changes, updated_at=now)
            self._index(row, before)
            return _volume_copy(row)

    def volume_conditional_update(
        self,
        volume_id: str,
        expected: Mapping[str, Any],
        values: Mapping[str, Any],
        *,
        within_quota: bool = False,
    ) -> Row | None:
        with self._tx() as now:
            wanted = _expectations(expected)
            changes = _checked("volume", values, _VOLUME_SCHEMA, _VOLUME_WRITABLE)
            row = self._live(volume_id)
            if not _matches(row, wanted):
                return None
            if within_quota and changes.get("size") is not None:
                self._quota_check(row, row["size"] or 0, changes["size"])
            before = _indexed(row)
            row.update(changes, updated_at=now)
            self._index(row, before)
            return _volume_copy(row)

    def volume_destroy(self, volume_id: str) -> None:
        with self._tx() as now:
            row = self._live(volume_id)
            before = _indexed(row)
            row.update(deleted=True, deleted_at=now, status="deleted", updated_at=now)
            self._index(row, before)

    # volume types

    def _type(self, type_id: str) -> Row:
        row = self._types.get(type_id)
        if row is None:
            raise exception.VolumeTypeNotFound(volume_type_id=type_id)
        return row

    def volume_type_create(
        self,
        type_id: str,
        name: str,
        extra_specs: Mapping[str, str] | None = None,
        description: str | None = None,
    ) -> Row:
        with self._tx() as now:
            _check_type_args(type_id, name, description)
            specs = _check_specs(extra_specs or {})
            if type_id in self._types:
                raise exception.Invalid(f"Volume type {type_id} already exists.")
            if any(row["name"] == name for row in self._types.values()):
                raise exception.VolumeTypeExists(id=name)
            row = {
                "id": type_id,
                "name": name,
                "description": description,
                "extra_specs": dict(sorted(specs.items())),
                "created_at": now,
                "updated_at": now,
            }
            self._types[type_id] = row
            return _type_copy(row)

    def volume_type_get(self, type_id: str) -> Row:
        with self._tx():
            return _type_copy(self._type(type_id))

    def volume_type_get_by_name(self, name: str) -> Row:
        with self._tx():
            for row in self._types.values():
                if row["name"] == name:
                    return _type_copy(row)
            raise exception.VolumeTypeNotFound(volume_type_id=name)

    def volume_type_get_all(self) -> list[Row]:
        with self._tx():
            rows = sorted(self._types.values(), key=lambda row: row["name"])
            return [_type_copy(row) for row in rows]

    def volume_type_update(self, type_id: str, values: Mapping[str, Any]) -> Row:
        with self._tx() as now:
            changes = _type_changes(values)
            row = self._type(type_id)
            name = changes.get("name", row["name"])
            if any(other["name"] == name and other["id"] != type_id for other in self._types.values()):
                raise exception.VolumeTypeExists(id=name)
            row.update(changes, updated_at=now)
            return _type_copy(row)

    def volume_type_delete(self, type_id: str) -> None:
        with self._tx():
            self._type(type_id)
            del self._types[type_id]

    def volume_type_extra_specs_update(self, type_id: str, specs: Mapping[str, str]) -> dict[str, str]:
        with self._tx() as now:
            changes = _check_specs(specs)
            row = self._type(type_id)
            row["extra_specs"] = dict(sorted({**row["extra_specs"], **changes}.items()))
            row["updated_at"] = now
            return dict(row["extra_specs"])

    def volume_type_extra_specs_delete(self, type_id: str, key: str) -> None:
        with self._tx() as now:
            row = self._type(type_id)
            if key not in row["extra_specs"]:
                raise _no_spec(type_id, key)
            del row["extra_specs"][key]
            row["updated_at"] = now

    # services

    def service_update_or_create(self, host: str, binary: str, values: Mapping[str, Any]) -> Row:
        with self._tx() as now:
            _check_type("service", "host", host, (str,))
            _check_type("service", "binary", binary, (str,))
            changes = _checked("service", values, _SERVICE_SCHEMA, _SERVICE_WRITABLE)
            row = self._find_service(host, binary)
            if row is None:
                service_id = len(self._services) + 1
                row = {
                    "id": service_id,
                    "host": host,
                    "binary": binary,
                    **_SERVICE_DEFAULTS,
                    "created_at": now,
                }
                self._services[service_id] = row
                self._service_ids[(host, binary)] = service_id
            row.update(changes, updated_at=now)
            return _service_copy(row)

    def _find_service(self, host: str, binary: str) -> Row | None:
        service_id = self._service_ids.get((host, binary))
        return None if service_id is None else self._services[service_id]

    def service_get_all(self, *, binary: str | None = None) -> list[Row]:
        with self._tx():
            return [
                _service_copy(row)
                for row in self._services.values()
                if binary is None or row["binary"] == binary
            ]

    def service_get(self, host: str, binary: str) -> Row:
        with self._tx():
            row = self._find_service(host, binary)
            if row is None:
                raise exception.ServiceNotFound(service_id=f"{binary} on {host}")
            return _service_copy(row)

    def service_disabled_hosts(self, binary: str) -> set[str]:
        """The hosts of ``binary``'s disabled services (what the scheduler skips), copying no row."""
        with self._tx():
            return {
                row["host"] for row in self._services.values() if row["binary"] == binary and row["disabled"]
            }

    def service_conditional_update(
        self, host: str, binary: str, expected: Mapping[str, Any], values: Mapping[str, Any]
    ) -> Row | None:
        """Write ``values`` if the row matches ``expected`` (Cinder's conditional update, which the
        service actions use); None when it does not; ServiceNotFound when there is no row."""
        with self._tx() as now:
            wanted = _expectations(expected, "service", _SERVICE_SCHEMA)
            changes = _checked("service", values, _SERVICE_SCHEMA, _SERVICE_WRITABLE)
            row = self._find_service(host, binary)
            if row is None:
                raise exception.ServiceNotFound(service_id=f"{binary} on {host}")
            if not _matches(row, wanted):
                return None
            row.update(changes, updated_at=now)
            return _service_copy(row)

    # quotas

    def _quota_check(self, volume: Row, size: int, new_size: int | None = None) -> None:
        """Under the lock: refuse ``volume`` (new, or resized to ``new_size``) beyond its project's quota."""
        own = self._quotas.get(volume["project_id"], {})
        default = self._quota_classes.get(quotas.DEFAULT_CLASS, {})
        if not own and not default:  # nothing stored (the simulator): unlimited, at once
            return
        type_id = volume["volume_type_id"] or DEFAULT_TYPE_ID
        type_row = self._types.get(type_id)
        type_name = type_row["name"] if type_row else type_id
        limit = {r: own.get(r, default.get(r, quotas.UNLIMITED)) for r in quotas.relevant(type_name)}
        _quota_check(
            limit,
            lambda: self._usage(volume["project_id"]),
            type_id=type_id,
            type_name=type_name,
            size=size,
            new_size=new_size,
        )

    def _usage(self, project_id: str) -> quotas.Usage:
        return quotas.count(
            (row["volume_type_id"] or DEFAULT_TYPE_ID, row["size"] or 0)
            for row in self._volumes.values()
            if not row["deleted"] and row["project_id"] == project_id
        )

    def quota_get(self, project_id: str) -> dict[str, int]:
        with self._tx():
            return dict(self._quotas.get(project_id, {}))

    def quota_update(self, project_id: str, limits: Mapping[str, int]) -> None:
        with self._tx():
            self._quotas.setdefault(project_id, {}).update(_check_limits(limits))

    def quota_destroy(self, project_id: str) -> None:
        with self._tx():
            self._quotas.pop(project_id, None)

    def quota_class_get(self, class_name: str) -> dict[str, int]:
        with self._tx():
            return dict(self._quota_classes.get(class_name, {}))

    def quota_class_update(self, class_name: str, limits: Mapping[str, int]) -> None:
        with self._tx():
            self._quota_classes.setdefault(class_name, {}).update(_check_limits(limits))

    def quota_usage(self, project_id: str) -> quotas.Usage:
        with self._tx():
            return self._usage(project_id)

    # generic volume groups and their types

    def _group_type(self, type_id: str) -> Row:
        row = self._group_types.get(type_id)
        if row is None:
            raise exception.GroupTypeNotFound(group_type_id=type_id)
        return row

    def group_type_create(
        self,
        type_id: str,
        name: str,
        group_specs: Mapping[str, str] | None = None,
        description: str | None = None,
        is_public: bool = True,
    ) -> Row:
        with self._tx() as now:
            _check_type("group type", "id", type_id, (str,))
            changes = _group_type_changes({"name": name, "description": description, "is_public": is_public})
            specs = _check_specs(group_specs or {})
            if type_id in self._group_types:
                raise exception.Invalid(f"Group type {type_id} already exists.")
            if any(row["name"] == name for row in self._group_types.values()):
                raise exception.GroupTypeExists(id=name)
            row = {
                "id": type_id,
                **changes,
                "group_specs": dict(sorted(specs.items())),
                "created_at": now,
                "updated_at": now,
            }
            self._group_types[type_id] = row
            return _group_type_copy(row)

    def group_type_get(self, type_id: str) -> Row:
        with self._tx():
            return _group_type_copy(self._group_type(type_id))

    def group_type_get_by_name(self, name: str) -> Row:
        with self._tx():
            for row in self._group_types.values():
                if row["name"] == name:
                    return _group_type_copy(row)
            raise exception.GroupTypeNotFound(group_type_id=name)

    def group_type_get_all(self) -> list[Row]:
        with self._tx():
            return [_group_type_copy(r) for r in sorted(self._group_types.values(), key=lambda r: r["name"])]

    def group_type_update(self, type_id: str, values: Mapping[str, Any]) -> Row:
        with self._tx() as now:
            changes = _group_type_changes(values)
            row = self._group_type(type_id)
            name = changes.get("name", row["name"])
            if any(o["name"] == name and o["id"] != type_id for o in self._group_types.values()):
                raise exception.GroupTypeExists(id=name)
            row.update(changes, updated_at=now)
            return _group_type_copy(row)

    def group_type_delete(self, type_id: str) -> None:
        with self._tx():
            self._group_type(type_id)
            del self._group_types[type_id]

    def group_type_specs_update(self, type_id: str, specs: Mapping[str, str]) -> dict[str, str]:
        with self._tx() as now:
            changes = _check_specs(specs)
            row = self._group_type(type_id)
            row["group_specs"] = dict(sorted({**row["group_specs"], **changes}.items()))
            row["updated_at"] = now
            return dict(row["group_specs"])

    def group_type_specs_delete(self, type_id: str, key: str) -> None:
        with self._tx() as now:
            row = self._group_type(type_id)
            if key not in row["group_specs"]:
                raise _no_group_spec(type_id, key)
            del row["group_specs"][key]
            row["updated_at"] = now

    def _live_group(self, group_id: str) -> Row:
        row = self._groups.get(group_id)
        if row is None or row["deleted"]:
            raise exception.GroupNotFound(group_id=group_id)
        return row

    def group_create(self, values: Mapping[str, Any]) -> Row:
        with self._tx() as now:
            row = _new_group(values, now)
            if row["id"] in self._groups:
                raise exception.Invalid(f"Group {row['id']} already exists.")
            self._groups[row["id"]] = row
            return _group_copy(row)

    def group_get(self, group_id: str) -> Row:
        with self._tx():
            return _group_copy(self._live_group(group_id))

    def group_get_all(self, *, project_id: str | None = None) -> list[Row]:
        with self._tx():
            rows = [
                _group_copy(row)
                for row in self._groups.values()
                if not row["deleted"] and (project_id is None or row["project_id"] == project_id)
            ]
            return sorted(rows, key=lambda row: (row["created_at"], row["id"]))

    def group_update(self, group_id: str, values: Mapping[str, Any]) -> Row:
        with self._tx() as now:
            changes = _group_values(values)
            row = self._live_group(group_id)
            row.update(changes, updated_at=now)
            return _group_copy(row)

    def group_conditional_update(
        self, group_id: str, expected: Mapping[str, Any], values: Mapping[str, Any]
    ) -> Row | None:
        with self._tx() as now:
            wanted = _expectations(expected, "group", _GROUP_SCHEMA)
            changes = _group_values(values)
            row = self._live_group(group_id)
            if not _matches(row, wanted):
                return None
            row.update(changes, updated_at=now)
            return _group_copy(row)

    def group_destroy(self, group_id: str) -> None:
        with self._tx() as now:
            row = self._live_group(group_id)
            row.update(deleted=True, deleted_at=now, status="deleted", updated_at=now)

    def volume_get_all_by_group(self, group_id: str) -> list[Row]:
        with self._tx():
            rows = [
                _volume_copy(row)
                for row in self._volumes.values()
                if not row["deleted"] and row["group_id"] == group_id
            ]
            return sorted(rows, key=lambda row: (row["created_at"], row["id"]))


def _matches(row: Row, wanted: Mapping[str, list[Any]]) -> bool:
    return all(row[key] in allowed for key, allowed in wanted.items())


# --- SQL ------------------------------------------------------------------------------------------

_META = sa.MetaData()
_VOLUMES = sa.Table(
    "volumes",
    _META,
    sa.Column("id", sa.String(255), primary_key=True),
    sa.Column("project_id", sa.String(255)),
    sa.Column("user_id", sa.String(255)),
    sa.Column("display_name", sa.String(255)),
    sa.Column("display_description", sa.Text),
    sa.Column("size", sa.Integer),
    sa.Column("host", sa.String(255)),
    sa.Column("status", sa.String(255)),
    sa.Column("volume_type_id", sa.String(255)),
    sa.Column("replication_status", sa.String(255)),
    sa.Column("replication_driver_data", sa.Text),
    sa.Column("replication_extended_status", sa.Text),
    sa.Column("previous_replication_status", sa.Text),
    sa.Column("provider_location", sa.Text),
    sa.Column("status_reason", sa.Text),
    sa.Column("group_id", sa.String(255)),
    sa.Column("bootable", sa.Boolean, nullable=False),
    sa.Column("attach_status", sa.String(255)),
    sa.Column("migration_status", sa.String(255)),
    sa.Column("metadata", sa.JSON, nullable=False),
    sa.Column("admin_metadata", sa.JSON, nullable=False),
    sa.Column("created_at", sa.Double, nullable=False),
    sa.Column("updated_at", sa.Double, nullable=False),
    sa.Column("deleted_at", sa.Double),
    sa.Column("deleted", sa.Boolean, nullable=False),
)
_TYPES = sa.Table(
    "volume_types",
    _META,
    sa.Column("id", sa.String(255), primary_key=True),
    sa.Column("name", sa.String(255), nullable=False, unique=True),
    sa.Column("description", sa.Text),
    sa.Column("created_at", sa.Double, nullable=False),
    sa.Column("updated_at", sa.Double, nullable=False),
)
_SPECS = sa.Table(
    "volume_type_extra_specs",
    _META,
    sa.Column("volume_type_id", sa.String(255), primary_key=True),
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)
_SERVICES = sa.Table(
    "services",
    _META,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("host", sa.String(255), nullable=False),
    sa.Column("binary", sa.String(255), nullable=False),
    sa.Column("topic", sa.String(255)),
    sa.Column("disabled", sa.Boolean, nullable=False),
    sa.Column("disabled_reason", sa.String(255)),
    sa.Column("report_count", sa.Integer, nullable=False),
    sa.Column("capabilities", sa.JSON(none_as_null=True)),
    sa.Column("stats_at", sa.Double),
    sa.Column("replication_status", sa.String(36)),
    sa.Column("active_backend_id", sa.String(255)),
    sa.Column("frozen", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("created_at", sa.Double, nullable=False),
    sa.Column("updated_at", sa.Double, nullable=False),
    sa.UniqueConstraint("host", "binary"),
)
_QUOTAS = sa.Table(
    "quotas",
    _META,
    sa.Column("project_id", sa.String(255), primary_key=True),
    sa.Column("resource", sa.String(300), primary_key=True),
    sa.Column("hard_limit", sa.Integer, nullable=False),
)
_QUOTA_CLASSES = sa.Table(
    "quota_classes",
    _META,
    sa.Column("class_name", sa.String(255), primary_key=True),
    sa.Column("resource", sa.String(300), primary_key=True),
    sa.Column("hard_limit", sa.Integer, nullable=False),
)


def _add_missing_columns(engine: sa.Engine) -> None:
    """A database an earlier replisim made lacks the columns added since (the services' host
    failover fields): add them, with their defaults, so ``serve`` still opens it."""
    inspector = sa.inspect(engine)
    for table in _META.sorted_tables:
        present = {column["name"] for column in inspector.get_columns(table.name)}
        for column in table.columns:
            if column.name in present:
                continue
            kind = column.type.compile(engine.dialect)
            default = " NOT NULL DEFAULT 0" if isinstance(column.type, sa.Boolean) else ""
            with engine.begin() as conn:
                conn.execute(sa.text(f'ALTER TABLE {table.name} ADD COLUMN "{column.name}" {kind}{default}'))


_GROUP_TYPES = sa.Table(
    "group_types",
    _META,
    sa.Column("id", sa.String(255), primary_key=True),
    sa.Column("name", sa.String(255), nullable=False, unique=True),
    sa.Column("description", sa.Text),
    sa.Column("is_public", sa.Boolean, nullable=False),
    sa.Column("group_specs", sa.JSON, nullable=False),
    sa.Column("created_at", sa.Double, nullable=False),
    sa.Column("updated_at", sa.Double, nullable=False),
)
_GROUPS = sa.Table(
    "groups",
    _META,
    sa.Column("id", sa.String(255), primary_key=True),
    sa.Column("project_id", sa.String(255)),
    sa.Column("user_id", sa.String(255)),
    sa.Column("name", sa.String(255)),
    sa.Column("description", sa.Text),
    sa.Column("status", sa.String(255)),
    sa.Column("replication_status", sa.String(255)),
    sa.Column("host", sa.String(255)),
    sa.Column("availability_zone", sa.String(255)),
    sa.Column("group_type_id", sa.String(255)),
    sa.Column("volume_type_ids", sa.JSON, nullable=False),
    sa.Column("status_reason", sa.Text),
    sa.Column("created_at", sa.Double, nullable=False),
    sa.Column("updated_at", sa.Double, nullable=False),
    sa.Column("deleted_at", sa.Double),
    sa.Column("deleted", sa.Boolean, nullable=False),
)


# The statements every poll runs, built once: building one costs more than SQLite takes to run it.
_VOLUME_BY_ID = sa.select(_VOLUMES).where(_VOLUMES.c.id == sa.bindparam("volume_id"), ~_VOLUMES.c.deleted)
_SPECS_OF_TYPE = (
    sa.select(_SPECS.c.key, _SPECS.c.value)
    .where(_SPECS.c.volume_type_id == sa.bindparam("type_id"))
    .order_by(_SPECS.c.key)
)


# How each column of a volume row comes back from SQLite as it stores it, for the DBAPI read path
# (``SqlRepository._volume_raw``): what SQLAlchemy's result processing would make of it.
_VOLUME_DECODE = tuple(
    (
        column.name,
        json.loads
        if isinstance(column.type, sa.JSON)
        else (lambda v: v if v is None else bool(v))
        if isinstance(column.type, sa.Boolean)
        else None,
    )
    for column in _VOLUME_BY_ID.selected_columns
)


def _decode_volume(found: tuple[Any, ...]) -> Row:
    """A volume row as SQLite's DBAPI returns it (``_VOLUME_BY_ID``'s columns), decoded."""
    return {
        name: value if decode is None or value is None else decode(value)
        for (name, decode), value in zip(_VOLUME_DECODE, found, strict=True)
    }


_VOLUME_TAKEN = sa.select(_VOLUMES.c.id).where(_VOLUMES.c.id == sa.bindparam("volume_id"))
_VOLUME_INSERT = sa.insert(_VOLUMES)
# The other statements of a create's path (the quota check, the scheduler's look at the services),
# for the SQLite DBAPI path (``_Compiled``).
_TYPE_NAME = sa.select(_TYPES.c.name).where(_TYPES.c.id == sa.bindparam("type_id"))
# A project id may be None (a row made without one): ``IS``, not ``=``, so that NULL matches NULL
# as it does in the memory repository's dicts.
_PROJECT_LIMITS = sa.select(_QUOTAS.c.resource, _QUOTAS.c.hard_limit).where(
    _QUOTAS.c.project_id.is_not_distinct_from(sa.bindparam("owner"))
)
_CLASS_LIMITS = sa.select(_QUOTA_CLASSES.c.resource, _QUOTA_CLASSES.c.hard_limit).where(
    _QUOTA_CLASSES.c.class_name == sa.bindparam("owner")
)
_USAGE_TYPE = sa.func.coalesce(_VOLUMES.c.volume_type_id, DEFAULT_TYPE_ID)
_USAGE = (
    sa.select(_USAGE_TYPE, sa.func.count(), sa.func.coalesce(sa.func.sum(_VOLUMES.c.size), 0))
    .where(~_VOLUMES.c.deleted, _VOLUMES.c.project_id.is_not_distinct_from(sa.bindparam("project_id")))
    .group_by(_USAGE_TYPE)
)
_DISABLED_HOSTS = sa.select(_SERVICES.c.host).where(
    _SERVICES.c.binary == sa.bindparam("binary"), _SERVICES.c.disabled
)


class _Compiled:
    """A Core statement compiled once for SQLite's DBAPI: its SQL, its parameters in order, and
    the bind processors SQLAlchemy would apply (JSON, booleans), so that running it on a raw
    cursor stores exactly what ``Connection.execute`` would. SQLAlchemy spends several times what
    SQLite does on a one-row statement, and a create runs a dozen."""

    __slots__ = ("defaults", "names", "processors", "sql")

    def __init__(self, statement: sa.ClauseElement, dialect: sa.Dialect):
        compiled: Any = statement.compile(dialect=dialect)  # an SQLCompiler: positional binds
        self.sql = str(compiled)
        self.names = tuple(compiled.positiontup or ())
        bind_processors = compiled._bind_processors
        self.processors = tuple(bind_processors.get(name) for name in self.names)
        self.defaults = dict(compiled.params)  # literals the statement binds itself

    def bind(self, values: Mapping[str, Any]) -> tuple[Any, ...]:
        defaults = self.defaults
        out = []
        for name, process in zip(self.names, self.processors, strict=True):
            value = values[name] if name in values else defaults[name]
            out.append(value if process is None else process(value))
        return tuple(out)


@functools.lru_cache(maxsize=256)
def _volume_update_flat(changed: tuple[str, ...], wanted: tuple[tuple[str, int, bool], ...]) -> sa.Update:
    """``_volume_update`` with one parameter per allowed value (``w_{field}_{i}``) instead of an
    expanding one, which a raw cursor cannot take: ``wanted`` is ``(field, how many values, None
    too)``."""
    clauses = [_VOLUMES.c.id == sa.bindparam("w_id"), ~_VOLUMES.c.deleted]
    for key, count, none in wanted:
        column = _VOLUMES.c[key]
        parts = (
            [column.in_([sa.bindparam(f"w_{key}_{i}", type_=column.type) for i in range(count)])]
            if count
            else []
        )
        if none:
            parts.append(column.is_(None))
        clauses.append(sa.or_(*parts) if parts else sa.false())
    values = {key: sa.bindparam(f"v_{key}", type_=_VOLUMES.c[key].type) for key in (*changed, "updated_at")}
    return sa.update(_VOLUMES).where(*clauses).values(values)


@functools.lru_cache(maxsize=256)
def _volume_update(changed: tuple[str, ...], wanted: tuple[tuple[str, bool, bool], ...]) -> sa.Update:
    """The UPDATE of one live volume that sets ``changed`` and ``updated_at`` where each
    ``(field, some values, None too)`` of ``wanted`` holds (``_where``'s shape): built once per
    shape, its values bound when it runs (``_update_params``)."""
    clauses = [_VOLUMES.c.id == sa.bindparam("w_id"), ~_VOLUMES.c.deleted]
    for key, some, none in wanted:
        column = _VOLUMES.c[key]
        parts = [column.in_(sa.bindparam(f"w_{key}", expanding=True))] if some else []
        if none:
            parts.append(column.is_(None))
        clauses.append(sa.or_(*parts) if parts else sa.false())
    values = {key: sa.bindparam(f"v_{key}", type_=_VOLUMES.c[key].type) for key in (*changed, "updated_at")}
    return sa.update(_VOLUMES).where(*clauses).values(values)


def _update_params(
    volume_id: str, wanted: Mapping[str, list[Any]], changes: Mapping[str, Any], now: float
) -> tuple[sa.Update, dict[str, Any]]:
    """``_volume_update``'s statement for these values, and its parameters."""
    params: dict[str, Any] = {"w_id": volume_id, "v_updated_at": now}
    shape = []
    for key, allowed in wanted.items():
        values = [value for value in allowed if value is not None]
        shape.append((key, bool(values), len(values) != len(allowed)))
        if values:
            params[f"w_{key}"] = values
    params.update({f"v_{key}": value for key, value in changes.items()})
    return _volume_update(tuple(changes), tuple(shape)), params


def _where(table: sa.Table, wanted: Mapping[str, list[Any]]) -> list[sa.ColumnElement[bool]]:
    """The SQL twin of ``_matches``: ``col IN (...)``, or ``col IS NULL`` when None is allowed."""
    clauses: list[sa.ColumnElement[bool]] = []
    for key, allowed in wanted.items():
        column = table.c[key]
        values = [value for value in allowed if value is not None]
        parts: list[sa.ColumnElement[bool]] = [column.in_(values)] if values else []
        if any(value is None for value in allowed):
            parts.append(column.is_(None))
        clauses.append(sa.or_(*parts) if parts else sa.false())
    return clauses


# How long a transaction waits in all for another process's write lock, in rounds of the busy
# timeout with a growing pause between them, before the caller is told the database is locked.
LOCK_PATIENCE = 120.0
# Connections a file database keeps for readers (as many again may open under load).
READERS = 16


def _locked(exc: sa.exc.OperationalError | Exception) -> bool:
    """SQLite's "database is locked" / "database table is locked" / SQLITE_BUSY: worth a retry
    (SQLAlchemy's error, or the DBAPI's own)."""
    text = str(getattr(exc, "orig", None) or exc).lower()
    return "locked" in text or "busy" in text


def _sqlite_setup(engine: sa.Engine, *, wal: bool, busy_timeout: float, begin: str) -> None:
    """Let SQLite wait for, rather than fail on, concurrent writers from other threads or processes.

    pysqlite's own transaction handling is switched off and every transaction starts with
    ``begin``: ``BEGIN IMMEDIATE`` for writers takes the write lock up front, so read-then-write
    transactions never hit an unretryable lock upgrade (the SQLAlchemy-documented recipe); a plain
    ``BEGIN`` for readers, which under WAL read a snapshot and neither wait for nor block a writer.

    Under WAL, ``synchronous=NORMAL``: a commit is durable against a crash of this process (or a
    SIGKILL) at any instant, but not against a power loss, which may roll back the last commits.
    ``FULL`` fsyncs every commit, ~7.6 ms on the machine this was measured on (against 0.04 ms), and
    three commits per volume create then capped the server near 40 creates/s (docs/design.md).
    """

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        if wal:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(connection: sa.Connection) -> None:
        connection.exec_driver_sql(begin)


class SqlRepository:
    """SQLAlchemy Core on any URL; each public method is one transaction.

    On SQLite every transaction that writes is a writer from its start (``BEGIN IMMEDIATE``), so
    this process's writers take turns on a lock of their own rather than racing for SQLite's:
    SQLite's busy handler sleeps and retries, is unfair, and at 64 concurrent writers let one wait
    past its timeout and fail. What remains is another process's lock: waited for in rounds of
    ``busy_timeout`` up to ``lock_patience`` seconds, then reported as a locked database, saying for
    how long. Reads in a file database (WAL) take neither lock: each reads a snapshot on a
    connection of a reader pool of its own, so a poll never queues behind a write. An in-memory
    database has one connection, and its reads take the writers' turn."""

    def __init__(
        self,
        url: str = "sqlite://",
        *,
        clock: Clock,
        busy_timeout: float = 5.0,
        lock_patience: float = LOCK_PATIENCE,
    ):
        self._clock = clock
        self.lock_patience = lock_patience
        self.available = True
        parsed = sa.make_url(url)
        sqlite = parsed.get_backend_name() == "sqlite"
        in_memory = sqlite and parsed.database in (None, "", ":memory:")
        options: dict[str, Any] = {}
        if sqlite:
            options["connect_args"] = {"check_same_thread": False}
        if in_memory:
            options["poolclass"] = StaticPool  # one connection, so every thread sees the same DB
        self._engine = sa.create_engine(parsed, **options)
        self._reader = self._engine
        self._sqlite = sqlite
        if sqlite:
            _sqlite_setup(self._engine, wal=not in_memory, busy_timeout=busy_timeout, begin="BEGIN IMMEDIATE")
        if sqlite and not in_memory:
            # as many readers at once as the REST server has threads, and then some
            self._reader = sa.create_engine(parsed, **options, pool_size=READERS, max_overflow=READERS)
            _sqlite_setup(self._reader, wal=True, busy_timeout=busy_timeout, begin="BEGIN")
        # SQLite: one writer at a time anyway (and the single in-memory connection cannot hold two
        # transactions), so this process's writers queue here, in turn; and its readers, in memory.
        self._serial: AbstractContextManager[Any] = threading.Lock() if sqlite else nullcontext()
        # Elsewhere (PostgreSQL's read committed) two counting transactions could both see room:
        # this process's quota-checked writes take turns. (SQLite's already do, above.)
        self._quota_serial: AbstractContextManager[Any] = nullcontext() if sqlite else threading.Lock()
        self._read_serial = self._serial if in_memory else nullcontext()
        # a read here never waits, for a writer or a network: SQLite in a file, under WAL
        self.reads_never_wait = sqlite and not in_memory
        self._raw_sql: str | None = None
        if sqlite and not in_memory:
            compiled = _VOLUME_BY_ID.compile(dialect=self._reader.dialect)
            assert compiled.positiontup == ["volume_id"], compiled.positiontup
            self._raw_sql = str(compiled)
        # SQLite: the create path's writes (and the scheduler's read of the services) run their
        # statements, compiled once, on the DBAPI connection (``_raw_tx``, ``_Compiled``)
        self._raw = sqlite
        self._compiled: dict[Any, _Compiled] = {}
        self._writer: Any = None  # the raw writer's DBAPI connection, kept while sound (_raw_tx)
        self._idle_readers: list[Any] = []  # reader DBAPI connections kept out of the pool
        _META.create_all(self._engine)
        _add_missing_columns(self._engine)
        with self._tx() as (conn, _now):
            reserved = sa.select(_GROUP_TYPES.c.id).where(_GROUP_TYPES.c.name == CGSNAPSHOT_GROUP_TYPE_NAME)
            missing = not conn.execute(reserved).first()
        if missing:
            self.group_type_create(
                CGSNAPSHOT_GROUP_TYPE_ID,
                CGSNAPSHOT_GROUP_TYPE_NAME,
                CGSNAPSHOT_GROUP_TYPE_SPECS,
                CGSNAPSHOT_GROUP_TYPE_DESCRIPTION,
            )
        with self._tx() as (conn, now):
            if not conn.execute(sa.select(_TYPES.c.id).where(_TYPES.c.name == DEFAULT_TYPE_NAME)).first():
                conn.execute(
                    sa.insert(_TYPES).values(
                        id=DEFAULT_TYPE_ID,
                        name=DEFAULT_TYPE_NAME,
                        description=DEFAULT_TYPE_DESCRIPTION,
                        created_at=now,
                        updated_at=now,
                    )
                )

    @contextmanager
    def _tx(self, *, write: bool = True) -> Iterator[tuple[sa.Connection, float]]:
        """One transaction (``write=False``: one that only reads); yields the connection and the
        time. Driver failures become ours."""
        _require(self.available)
        try:
            with self._serial if write else self._read_serial:
                conn, transaction = self._begin(self._engine if write else self._reader)
                with conn, transaction:
                    yield conn, float(self._clock())
        except sa.exc.IntegrityError as exc:  # a uniqueness race the pre-checks could not see
            raise exception.Invalid(f"Integrity error: {exc.orig}") from exc
        except sa.exc.OperationalError as exc:
            raise exception.DBUnavailable(reason=str(exc.orig)) from exc

    def _begin(self, engine: sa.Engine) -> tuple[sa.Connection, sa.RootTransaction]:
        """A connection in a new transaction. Another process's write lock is waited for (each
        attempt waits the busy timeout, then a pause that doubles up to half a second) for up to
        ``lock_patience`` seconds; only then is the database reported locked."""
        started = time.monotonic()
        pause = 0.01
        while True:
            conn = engine.connect()
            try:
                return conn, conn.begin()
            except sa.exc.OperationalError as exc:
                conn.close()
                waited = time.monotonic() - started
                if not (self._sqlite and _locked(exc)):
                    raise
                if waited >= self.lock_patience:
                    raise exception.DBUnavailable(
                        reason=f"{exc.orig}: another process held the write lock for {waited:.0f} s "
                        f"(waited that long; lock_patience is {self.lock_patience:g} s)"
                    ) from exc
                LOG.warning("database is locked by another process; waiting (%.1f s so far)", waited)
                time.sleep(min(pause, max(self.lock_patience - waited, 0.0)))
                pause = min(pause * 2, 0.5)

    def _statement(self, key: Any, build: Callable[[], sa.ClauseElement]) -> _Compiled:
        found = self._compiled.get(key)
        if found is None:
            found = self._compiled[key] = _Compiled(build(), self._engine.dialect)
        return found

    @contextmanager
    def _raw_tx(self) -> Iterator[tuple[Any, float]]:
        """``_tx()`` on SQLite's DBAPI connection: the same turn on this process's write lock, the
        same ``BEGIN IMMEDIATE`` (another process's lock waited for as ``_begin`` waits), the same
        errors; yields a cursor and the time, commits when the block ends, rolls back if it raises."""
        _require(self.available)
        dbapi = self._engine.dialect.dbapi
        assert dbapi is not None
        try:
            with self._serial:
                # one writer at a time: it keeps its connection, out of the pool, while it is sound
                raw, self._writer = self._writer or self._engine.raw_connection(), None
                sound = False
                try:
                    cursor = raw.cursor()
                    self._raw_begin(cursor)
                    try:
                        yield cursor, float(self._clock())
                    except BaseException:
                        cursor.execute("ROLLBACK")
                        sound = True
                        raise
                    try:
                        cursor.execute("COMMIT")
                    except dbapi.Error:
                        with contextlib.suppress(dbapi.Error):
                            cursor.execute("ROLLBACK")
                        raise
                    sound = True
                finally:
                    if sound:
                        self._writer = raw
                    else:
                        raw.close()
        except dbapi.IntegrityError as exc:  # a uniqueness race the pre-checks could not see
            raise exception.Invalid(f"Integrity error: {exc}") from exc
        except dbapi.OperationalError as exc:
            raise exception.DBUnavailable(reason=str(exc)) from exc

    def _raw_begin(self, cursor: Any) -> None:
        """``BEGIN IMMEDIATE`` on a raw cursor, waiting for another process's lock as ``_begin`` does."""
        dbapi = self._engine.dialect.dbapi
        assert dbapi is not None
        started = time.monotonic()
        pause = 0.01
        while True:
            try:
                cursor.execute("BEGIN IMMEDIATE")
                return
            except dbapi.OperationalError as exc:
                waited = time.monotonic() - started
                if not _locked(exc):
                    raise
                if waited >= self.lock_patience:
                    raise exception.DBUnavailable(
                        reason=f"{exc}: another process held the write lock for {waited:.0f} s "
                        f"(waited that long; lock_patience is {self.lock_patience:g} s)"
                    ) from exc
                LOG.warning("database is locked by another process; waiting (%.1f s so far)", waited)
                time.sleep(min(pause, max(self.lock_patience - waited, 0.0)))
                pause = min(pause * 2, 0.5)

    def _raw_rows(self, key: str, statement: sa.ClauseElement, values: Mapping[str, Any]) -> list[Any]:
        """A read on a file database's reader pool, as ``_volume_raw`` reads: one statement, one
        snapshot, no transaction and no lock."""
        compiled = self._statement(key, lambda: statement)
        _require(self.available)
        raw = self._reader_connection()
        try:
            cursor = raw.cursor()
            try:
                found = list(cursor.execute(compiled.sql, compiled.bind(values)).fetchall())
            finally:
                cursor.close()  # resets the statement: its snapshot ends here
        except raw.dbapi.Error as exc:
            raw.close()
            raise exception.DBUnavailable(reason=str(exc)) from exc
        self._idle_readers.append(raw)
        return found

    def _reader_connection(self) -> Any:
        """A reader DBAPI connection: an idle one this repository keeps out of the pool (taking one
        from the pool and giving it back cost more than the read), else one from the pool."""
        try:
            return self._idle_readers.pop()
        except IndexError:
            return self._reader.raw_connection()

    def _raw_volume(self, cursor: Any, volume_id: str) -> Row:
        found = cursor.execute(self._statement("volume", lambda: _VOLUME_BY_ID).sql, (volume_id,)).fetchone()
        if found is None:
            raise exception.VolumeNotFound(volume_id=volume_id)
        return _decode_volume(found)

    def _raw_update(
        self,
        cursor: Any,
        volume_id: str,
        wanted: Mapping[str, list[Any]],
        changes: Mapping[str, Any],
        now: float,
    ) -> int:
        """``_update_params``'s UPDATE on a raw cursor; how many rows it changed."""
        params: dict[str, Any] = {"w_id": volume_id, "v_updated_at": now}
        shape = []
        for key, allowed in wanted.items():
            values = [value for value in allowed if value is not None]
            shape.append((key, len(values), len(values) != len(allowed)))
            params.update({f"w_{key}_{i}": value for i, value in enumerate(values)})
        params.update({f"v_{key}": value for key, value in changes.items()})
        changed, flat = tuple(changes), tuple(shape)
        compiled = self._statement(("update", changed, flat), lambda: _volume_update_flat(changed, flat))
        return int(cursor.execute(compiled.sql, compiled.bind(params)).rowcount)

    def _raw_quota_check(self, cursor: Any, volume: Row, size: int, new_size: int | None = None) -> None:
        """``_quota_check`` on a raw cursor, in the write transaction."""

        def rows(key: str, statement: sa.ClauseElement, values: Mapping[str, Any]) -> list[Any]:
            compiled = self._statement(key, lambda: statement)
            return list(cursor.execute(compiled.sql, compiled.bind(values)).fetchall())

        type_id = volume["volume_type_id"] or DEFAULT_TYPE_ID
        found = rows("type_name", _TYPE_NAME, {"type_id": type_id})
        type_name = (found[0][0] if found else None) or type_id
        own = {r: int(n) for r, n in rows("project_limits", _PROJECT_LIMITS, {"owner": volume["project_id"]})}
        default = {r: int(n) for r, n in rows("class_limits", _CLASS_LIMITS, {"owner": quotas.DEFAULT_CLASS})}
        limit = {r: own.get(r, default.get(r, quotas.UNLIMITED)) for r in quotas.relevant(type_name)}

        def usage() -> quotas.Usage:
            by_type = {
                str(t): (int(n), int(g))
                for t, n, g in rows("usage", _USAGE, {"project_id": volume["project_id"]})
            }
            return quotas.Usage(
                sum(n for n, _ in by_type.values()), sum(g for _, g in by_type.values()), by_type
            )

        _quota_check(limit, usage, type_id=type_id, type_name=type_name, size=size, new_size=new_size)

    def close(self) -> None:
        """Release the connection pools (and with them an in-memory database)."""
        with self._serial:
            writer, self._writer = self._writer, None
            if writer is not None:
                writer.close()
        while self._idle_readers:
            self._idle_readers.pop().close()
        self._reader.dispose()
        self._engine.dispose()

    # volumes

    @staticmethod
    def _volume(conn: sa.Connection, volume_id: str) -> Row:
        row = conn.execute(_VOLUME_BY_ID, {"volume_id": volume_id}).mappings().first()
        if row is None:
            raise exception.VolumeNotFound(volume_id=volume_id)
        return dict(row)

    def volume_create(self, values: Mapping[str, Any], *, within_quota: bool = False) -> Row:
        if self._raw:
            with self._raw_tx() as (cursor, now):  # SQLite: quota-checked writes take turns anyway
                row = _new_volume(values, now)
                taken = self._statement("taken", lambda: _VOLUME_TAKEN)
                if cursor.execute(taken.sql, (row["id"],)).fetchone():
                    raise exception.Invalid(f"Volume {row['id']} already exists.")
                if within_quota:
                    self._raw_quota_check(cursor, row, row["size"] or 0)
                insert = self._statement("insert", lambda: _VOLUME_INSERT)
                cursor.execute(insert.sql, insert.bind(row))
                return row
        with self._quota_serial if within_quota else nullcontext(), self._tx() as (conn, now):
            row = _new_volume(values, now)
            if conn.execute(_VOLUME_TAKEN, {"volume_id": row["id"]}).first():
                raise exception.Invalid(f"Volume {row['id']} already exists.")
            if within_quota:
                self._quota_check(conn, row, row["size"] or 0)
            conn.execute(_VOLUME_INSERT, row)
            return row

    def volume_get(self, volume_id: str) -> Row:
        if self._raw_sql is not None:
            return self._volume_raw(volume_id)
        with self._tx(write=False) as (conn, _now):
            return self._volume(conn, volume_id)

    def _volume_raw(self, volume_id: str) -> Row:
        """``volume_get`` on a file database: the same SELECT (compiled once from ``_VOLUME_BY_ID``)
        on a pooled DBAPI connection, outside a transaction (one statement reads one snapshot), its
        row decoded by the table's column types. SQLAlchemy spends ten times what SQLite does on
        such a read, and every poll of every client is one."""
        _require(self.available)
        raw = self._reader_connection()
        try:
            cursor = raw.cursor()
            try:
                found = cursor.execute(self._raw_sql, (volume_id,)).fetchone()
            finally:
                cursor.close()  # resets the statement: its snapshot ends here
        except raw.dbapi.Error as exc:
            raw.close()
            raise exception.DBUnavailable(reason=str(exc)) from exc
        self._idle_readers.append(raw)
        if found is None:
            raise exception.VolumeNotFound(volume_id=volume_id)
        return _decode_volume(found)

    def volume_get_all(
        self,
        *,
        project_id: str | None = None,
        host: str | None = None,
        statuses: Collection[str] | None = None,
        replication_statuses: Collection[str] | None = None,
    ) -> list[Row]:
        with self._tx(write=False) as (conn, _now):
            v = _VOLUMES.c
            query = sa.select(_VOLUMES).where(
                ~v.deleted, *_where(_VOLUMES, _filters(statuses, replication_statuses))
            )
            if project_id is not None:
                query = query.where(v.project_id == project_id)
            if host is not None:
                # substr, not LIKE: LIKE treats '_' as a wildcard and ignores case on SQLite.
                pool_prefix = sa.func.substr(v.host, 1, len(host) + 1) == host + "#"
                query = query.where(sa.or_(v.host == host, pool_prefix))
            rows = conn.execute(query.order_by(v.created_at, v.id)).mappings()
            return [dict(row) for row in rows]

    def volume_update(self, volume_id: str, values: Mapping[str, Any]) -> Row:
        if self._raw:
            with self._raw_tx() as (cursor, now):
                changes = _checked("volume", values, _VOLUME_SCHEMA, _VOLUME_WRITABLE)
                if self._raw_update(cursor, volume_id, {}, changes, now) != 1:
                    raise exception.VolumeNotFound(volume_id=volume_id)
                return self._raw_volume(cursor, volume_id)
        with self._tx() as (conn, now):
            changes = _checked("volume", values, _VOLUME_SCHEMA, _VOLUME_WRITABLE)
            result = conn.execute(*_update_params(volume_id, {}, changes, now))
            if result.rowcount != 1:
                raise exception.VolumeNotFound(volume_id=volume_id)
            return self._volume(conn, volume_id)

    def volume_conditional_update(
        self,
        volume_id: str,
        expected: Mapping[str, Any],
        values: Mapping[str, Any],
        *,
        within_quota: bool = False,
    ) -> Row | None:
        if self._raw:
            with self._raw_tx() as (cursor, now):
                wanted = _expectations(expected)
                changes = _checked("volume", values, _VOLUME_SCHEMA, _VOLUME_WRITABLE)
                if within_quota and changes.get("size") is not None:
                    before = self._raw_volume(cursor, volume_id)
                    if _matches(before, wanted):  # else the update below changes nothing
                        self._raw_quota_check(cursor, before, before["size"] or 0, changes["size"])
                # The check and the write are one statement, so two racers cannot both win.
                changed = self._raw_update(cursor, volume_id, wanted, changes, now)
                row = self._raw_volume(cursor, volume_id)  # raises VolumeNotFound when there is no row
                return row if changed == 1 else None
        with self._quota_serial if within_quota else nullcontext(), self._tx() as (conn, now):
            wanted = _expectations(expected)
            changes = _checked("volume", values, _VOLUME_SCHEMA, _VOLUME_WRITABLE)
            if within_quota and changes.get("size") is not None:
                before = self._volume(conn, volume_id)
                if _matches(before, wanted):  # else the update below changes nothing
                    self._quota_check(conn, before, before["size"] or 0, changes["size"])
            # The check and the write are one statement, so two racers cannot both win.
            result = conn.execute(*_update_params(volume_id, wanted, changes, now))
            row = self._volume(conn, volume_id)  # raises VolumeNotFound when there is no row
            return row if result.rowcount == 1 else None

    def volume_destroy(self, volume_id: str) -> None:
        with self._tx() as (conn, now):
            gone = {"deleted": True, "deleted_at": now, "status": "deleted"}
            result = conn.execute(*_update_params(volume_id, {}, gone, now))
            if result.rowcount != 1:
                raise exception.VolumeNotFound(volume_id=volume_id)

    # volume types

    @staticmethod
    def _specs(conn: sa.Connection, type_id: str) -> dict[str, str]:
        return {key: value for key, value in conn.execute(_SPECS_OF_TYPE, {"type_id": type_id})}

    def _type(self, conn: sa.Connection, *where: sa.ColumnElement[bool], missing: str) -> Row:
        row = conn.execute(sa.select(_TYPES).where(*where)).mappings().first()
        if row is None:
            raise exception.VolumeTypeNotFound(volume_type_id=missing)
        return {**row, "extra_specs": self._specs(conn, row["id"])}

    def volume_type_create(
        self,
        type_id: str,
        name: str,
        extra_specs: Mapping[str, str] | None = None,
        description: str | None = None,
    ) -> Row:
        with self._tx() as (conn, now):
            _check_type_args(type_id, name, description)
            specs = _check_specs(extra_specs or {})
            if conn.execute(sa.select(_TYPES.c.id).where(_TYPES.c.id == type_id)).first():
                raise exception.Invalid(f"Volume type {type_id} already exists.")
            if conn.execute(sa.select(_TYPES.c.id).where(_TYPES.c.name == name)).first():
                raise exception.VolumeTypeExists(id=name)
            conn.execute(
                sa.insert(_TYPES).values(
                    id=type_id, name=name, description=description, created_at=now, updated_at=now
                )
            )
            if specs:
                conn.execute(
                    sa.insert(_SPECS),
                    [{"volume_type_id": type_id, "key": k, "value": v} for k, v in specs.items()],
                )
            return self._type(conn, _TYPES.c.id == type_id, missing=type_id)

    def volume_type_get(self, type_id: str) -> Row:
        with self._tx(write=False) as (conn, _now):
            return self._type(conn, _TYPES.c.id == sa.bindparam("type_id", type_id), missing=type_id)

    def volume_type_get_by_name(self, name: str) -> Row:
        with self._tx(write=False) as (conn, _now):
            return self._type(conn, _TYPES.c.name == name, missing=name)

    def volume_type_get_all(self) -> list[Row]:
        with self._tx(write=False) as (conn, _now):
            types = conn.execute(sa.select(_TYPES).order_by(_TYPES.c.name)).mappings().all()
            return [{**row, "extra_specs": self._specs(conn, row["id"])} for row in types]

    def volume_type_update(self, type_id: str, values: Mapping[str, Any]) -> Row:
        with self._tx() as (conn, now):
            changes = _type_changes(values)
            if "name" in changes:
                clash = sa.select(_TYPES.c.id).where(_TYPES.c.name == changes["name"], _TYPES.c.id != type_id)
                if conn.execute(clash).first():
                    raise exception.VolumeTypeExists(id=changes["name"])
            query = sa.update(_TYPES).where(_TYPES.c.id == type_id).values(**changes, updated_at=now)
            if conn.execute(query).rowcount != 1:
                raise exception.VolumeTypeNotFound(volume_type_id=type_id)
            return self._type(conn, _TYPES.c.id == type_id, missing=type_id)

    def volume_type_delete(self, type_id: str) -> None:
        with self._tx() as (conn, _now):
            if conn.execute(sa.delete(_TYPES).where(_TYPES.c.id == type_id)).rowcount != 1:
                raise exception.VolumeTypeNotFound(volume_type_id=type_id)
            conn.execute(sa.delete(_SPECS).where(_SPECS.c.volume_type_id == type_id))

    def _touch_type(self, conn: sa.Connection, type_id: str, now: float) -> None:
        query = sa.update(_TYPES).where(_TYPES.c.id == type_id).values(updated_at=now)
        if conn.execute(query).rowcount != 1:
            raise exception.VolumeTypeNotFound(volume_type_id=type_id)

    def volume_type_extra_specs_update(self, type_id: str, specs: Mapping[str, str]) -> dict[str, str]:
        with self._tx() as (conn, now):
            changes = _check_specs(specs)
            self._touch_type(conn, type_id, now)
            if changes:
                conn.execute(
                    sa.delete(_SPECS).where(
                        _SPECS.c.volume_type_id == type_id, _SPECS.c.key.in_(list(changes))
                    )
                )
                conn.execute(
                    sa.insert(_SPECS),
                    [{"volume_type_id": type_id, "key": k, "value": v} for k, v in changes.items()],
                )
            return self._specs(conn, type_id)

    def volume_type_extra_specs_delete(self, type_id: str, key: str) -> None:
        with self._tx() as (conn, now):
            self._touch_type(conn, type_id, now)
            gone = conn.execute(
                sa.delete(_SPECS).where(_SPECS.c.volume_type_id == type_id, _SPECS.c.key == key)
            )
            if gone.rowcount != 1:
                raise _no_spec(type_id, key)

    # services

    def service_update_or_create(self, host: str, binary: str, values: Mapping[str, Any]) -> Row:
        with self._tx() as (conn, now):
            _check_type("service", "host", host, (str,))
            _check_type("service", "binary", binary, (str,))
            changes = _checked("service", values, _SERVICE_SCHEMA, _SERVICE_WRITABLE)
            key = (_SERVICES.c.host == host, _SERVICES.c.binary == binary)
            update = sa.update(_SERVICES).where(*key).values(**changes, updated_at=now)
            if conn.execute(update).rowcount != 1:
                conn.execute(
                    sa.insert(_SERVICES).values(
                        {
                            **_SERVICE_DEFAULTS,
                            **changes,
                            "host": host,
                            "binary": binary,
                            "created_at": now,
                            "updated_at": now,
                        }
                    )
                )
            return dict(conn.execute(sa.select(_SERVICES).where(*key)).mappings().one())

    def service_get_all(self, *, binary: str | None = None) -> list[Row]:
        with self._tx(write=False) as (conn, _now):
            query = sa.select(_SERVICES).order_by(_SERVICES.c.id)
            if binary is not None:
                query = query.where(_SERVICES.c.binary == binary)
            return [dict(row) for row in conn.execute(query).mappings()]

    def service_get(self, host: str, binary: str) -> Row:
        with self._tx(write=False) as (conn, _now):
            row = (
                conn.execute(
                    sa.select(_SERVICES).where(_SERVICES.c.host == host, _SERVICES.c.binary == binary)
                )
                .mappings()
                .first()
            )
            if row is None:
                raise exception.ServiceNotFound(service_id=f"{binary} on {host}")
            return dict(row)

    def service_disabled_hosts(self, binary: str) -> set[str]:
        if self._raw_sql is not None:  # a file database: its reader pool, as volume_get
            return {host for (host,) in self._raw_rows("disabled_hosts", _DISABLED_HOSTS, {"binary": binary})}
        with self._tx(write=False) as (conn, _now):
            return set(conn.execute(_DISABLED_HOSTS, {"binary": binary}).scalars())

    def service_conditional_update(
        self, host: str, binary: str, expected: Mapping[str, Any], values: Mapping[str, Any]
    ) -> Row | None:
        with self._tx() as (conn, now):
            wanted = _expectations(expected, "service", _SERVICE_SCHEMA)
            changes = _checked("service", values, _SERVICE_SCHEMA, _SERVICE_WRITABLE)
            key = (_SERVICES.c.host == host, _SERVICES.c.binary == binary)
            # The check and the write are one statement, so two racers cannot both win.
            result = conn.execute(
                sa.update(_SERVICES).where(*key, *_where(_SERVICES, wanted)).values(**changes, updated_at=now)
            )
            row = conn.execute(sa.select(_SERVICES).where(*key)).mappings().first()
            if row is None:
                raise exception.ServiceNotFound(service_id=f"{binary} on {host}")
            return dict(row) if result.rowcount == 1 else None

    # quotas

    def _quota_check(self, conn: sa.Connection, volume: Row, size: int, new_size: int | None = None) -> None:
        """In the transaction: refuse ``volume`` (new, or resized to ``new_size``) beyond its
        project's quota. The transaction holds the write lock (``BEGIN IMMEDIATE`` on SQLite),
        so no other create can count the same room."""
        type_id = volume["volume_type_id"] or DEFAULT_TYPE_ID
        type_name = conn.execute(sa.select(_TYPES.c.name).where(_TYPES.c.id == type_id)).scalar() or type_id
        own = self._limits(conn, _QUOTAS, volume["project_id"])
        default = self._limits(conn, _QUOTA_CLASSES, quotas.DEFAULT_CLASS)
        limit = {r: own.get(r, default.get(r, quotas.UNLIMITED)) for r in quotas.relevant(type_name)}
        _quota_check(
            limit,
            lambda: self._usage(conn, volume["project_id"]),
            type_id=type_id,
            type_name=type_name,
            size=size,
            new_size=new_size,
        )

    @staticmethod
    def _limits(conn: sa.Connection, table: sa.Table, owner: str) -> dict[str, int]:
        key = table.c.project_id if table is _QUOTAS else table.c.class_name
        rows = conn.execute(
            sa.select(table.c.resource, table.c.hard_limit).where(key.is_not_distinct_from(owner))
        )
        return {resource: limit for resource, limit in rows}

    @staticmethod
    def _usage(conn: sa.Connection, project_id: str) -> quotas.Usage:
        v = _VOLUMES.c
        type_id = sa.func.coalesce(v.volume_type_id, DEFAULT_TYPE_ID)
        rows = conn.execute(
            sa.select(type_id, sa.func.count(), sa.func.coalesce(sa.func.sum(v.size), 0))
            .where(~v.deleted, v.project_id.is_not_distinct_from(project_id))
            .group_by(type_id)
        )
        by_type = {str(t): (int(n), int(g)) for t, n, g in rows}
        return quotas.Usage(sum(n for n, _ in by_type.values()), sum(g for _, g in by_type.values()), by_type)

    def _set_limits(self, table: sa.Table, owner: str, limits: Mapping[str, int]) -> None:
        key = table.c.project_id if table is _QUOTAS else table.c.class_name
        with self._tx() as (conn, _now):
            changes = _check_limits(limits)
            if changes:
                conn.execute(sa.delete(table).where(key == owner, table.c.resource.in_(list(changes))))
                conn.execute(
                    sa.insert(table),
                    [{key.name: owner, "resource": r, "hard_limit": n} for r, n in changes.items()],
                )

    def quota_get(self, project_id: str) -> dict[str, int]:
        with self._tx() as (conn, _now):
            return self._limits(conn, _QUOTAS, project_id)

    def quota_update(self, project_id: str, limits: Mapping[str, int]) -> None:
        self._set_limits(_QUOTAS, project_id, limits)

    def quota_destroy(self, project_id: str) -> None:
        with self._tx() as (conn, _now):
            conn.execute(sa.delete(_QUOTAS).where(_QUOTAS.c.project_id == project_id))

    def quota_class_get(self, class_name: str) -> dict[str, int]:
        with self._tx() as (conn, _now):
            return self._limits(conn, _QUOTA_CLASSES, class_name)

    def quota_class_update(self, class_name: str, limits: Mapping[str, int]) -> None:
        self._set_limits(_QUOTA_CLASSES, class_name, limits)

    def quota_usage(self, project_id: str) -> quotas.Usage:
        with self._tx() as (conn, _now):
            return self._usage(conn, project_id)

    # generic volume groups and their types

    def _group_type(self, conn: sa.Connection, *where: sa.ColumnElement[bool], missing: str) -> Row:
        row = conn.execute(sa.select(_GROUP_TYPES).where(*where)).mappings().first()
        if row is None:
            raise exception.GroupTypeNotFound(group_type_id=missing)
        return dict(row)

    def group_type_create(
        self,
        type_id: str,
        name: str,
        group_specs: Mapping[str, str] | None = None,
        description: str | None = None,
        is_public: bool = True,
    ) -> Row:
        with self._tx() as (conn, now):
            _check_type("group type", "id", type_id, (str,))
            changes = _group_type_changes({"name": name, "description": description, "is_public": is_public})
            specs = _check_specs(group_specs or {})
            if conn.execute(sa.select(_GROUP_TYPES.c.id).where(_GROUP_TYPES.c.id == type_id)).first():
                raise exception.Invalid(f"Group type {type_id} already exists.")
            if conn.execute(sa.select(_GROUP_TYPES.c.id).where(_GROUP_TYPES.c.name == name)).first():
                raise exception.GroupTypeExists(id=name)
            row = {
                "id": type_id,
                **changes,
                "group_specs": dict(sorted(specs.items())),
                "created_at": now,
                "updated_at": now,
            }
            conn.execute(sa.insert(_GROUP_TYPES).values(**row))
            return row

    def group_type_get(self, type_id: str) -> Row:
        with self._tx() as (conn, _now):
            return self._group_type(conn, _GROUP_TYPES.c.id == type_id, missing=type_id)

    def group_type_get_by_name(self, name: str) -> Row:
        with self._tx() as (conn, _now):
            return self._group_type(conn, _GROUP_TYPES.c.name == name, missing=name)

    def group_type_get_all(self) -> list[Row]:
        with self._tx() as (conn, _now):
            query = sa.select(_GROUP_TYPES).order_by(_GROUP_TYPES.c.name)
            return [dict(row) for row in conn.execute(query).mappings()]

    def group_type_update(self, type_id: str, values: Mapping[str, Any]) -> Row:
        with self._tx() as (conn, now):
            changes = _group_type_changes(values)
            if "name" in changes:
                clash = sa.select(_GROUP_TYPES.c.id).where(
                    _GROUP_TYPES.c.name == changes["name"], _GROUP_TYPES.c.id != type_id
                )
                if conn.execute(clash).first():
                    raise exception.GroupTypeExists(id=changes["name"])
            query = (
                sa.update(_GROUP_TYPES).where(_GROUP_TYPES.c.id == type_id).values(**changes, updated_at=now)
            )
            if conn.execute(query).rowcount != 1:
                raise exception.GroupTypeNotFound(group_type_id=type_id)
            return self._group_type(conn, _GROUP_TYPES.c.id == type_id, missing=type_id)

    def group_type_delete(self, type_id: str) -> None:
        with self._tx() as (conn, _now):
            if conn.execute(sa.delete(_GROUP_TYPES).where(_GROUP_TYPES.c.id == type_id)).rowcount != 1:
                raise exception.GroupTypeNotFound(group_type_id=type_id)

    def _set_group_specs(
        self, type_id: str, change: Callable[[dict[str, str]], dict[str, str]]
    ) -> dict[str, str]:
        with self._tx() as (conn, now):
            row = self._group_type(conn, _GROUP_TYPES.c.id == type_id, missing=type_id)
            specs = dict(sorted(change(dict(row["group_specs"])).items()))
            conn.execute(
                sa.update(_GROUP_TYPES)
                .where(_GROUP_TYPES.c.id == type_id)
                .values(group_specs=specs, updated_at=now)
            )
            return specs

    def group_type_specs_update(self, type_id: str, specs: Mapping[str, str]) -> dict[str, str]:
        changes = _check_specs(specs)
        return self._set_group_specs(type_id, lambda current: {**current, **changes})

    def group_type_specs_delete(self, type_id: str, key: str) -> None:
        def without(current: dict[str, str]) -> dict[str, str]:
            if key not in current:
                raise _no_group_spec(type_id, key)
            return {k: v for k, v in current.items() if k != key}

        self._set_group_specs(type_id, without)

    @staticmethod
    def _group(conn: sa.Connection, group_id: str) -> Row:
        query = sa.select(_GROUPS).where(_GROUPS.c.id == group_id, ~_GROUPS.c.deleted)
        row = conn.execute(query).mappings().first()
        if row is None:
            raise exception.GroupNotFound(group_id=group_id)
        return dict(row)

    def group_create(self, values: Mapping[str, Any]) -> Row:
        with self._tx() as (conn, now):
            row = _new_group(values, now)
            if conn.execute(sa.select(_GROUPS.c.id).where(_GROUPS.c.id == row["id"])).first():
                raise exception.Invalid(f"Group {row['id']} already exists.")
            conn.execute(sa.insert(_GROUPS).values(**row))
            return _group_copy(row)

    def group_get(self, group_id: str) -> Row:
        with self._tx() as (conn, _now):
            return self._group(conn, group_id)

    def group_get_all(self, *, project_id: str | None = None) -> list[Row]:
        with self._tx() as (conn, _now):
            query = sa.select(_GROUPS).where(~_GROUPS.c.deleted)
            if project_id is not None:
                query = query.where(_GROUPS.c.project_id == project_id)
            rows = conn.execute(query.order_by(_GROUPS.c.created_at, _GROUPS.c.id)).mappings()
            return [dict(row) for row in rows]

    def group_update(self, group_id: str, values: Mapping[str, Any]) -> Row:
        with self._tx() as (conn, now):
            changes = _group_values(values)
            result = conn.execute(
                sa.update(_GROUPS)
                .where(_GROUPS.c.id == group_id, ~_GROUPS.c.deleted)
                .values(**changes, updated_at=now)
            )
            if result.rowcount != 1:
                raise exception.GroupNotFound(group_id=group_id)
            return self._group(conn, group_id)

    def group_conditional_update(
        self, group_id: str, expected: Mapping[str, Any], values: Mapping[str, Any]
    ) -> Row | None:
        with self._tx() as (conn, now):
            wanted = _expectations(expected, "group", _GROUP_SCHEMA)
            changes = _group_values(values)
            result = conn.execute(
                sa.update(_GROUPS)
                .where(_GROUPS.c.id == group_id, ~_GROUPS.c.deleted, *_where(_GROUPS, wanted))
                .values(**changes, updated_at=now)
            )
            row = self._group(conn, group_id)
            return row if result.rowcount == 1 else None

    def group_destroy(self, group_id: str) -> None:
        with self._tx() as (conn, now):
            result = conn.execute(
                sa.update(_GROUPS)
                .where(_GROUPS.c.id == group_id, ~_GROUPS.c.deleted)
                .values(deleted=True, deleted_at=now, status="deleted", updated_at=now)
            )
            if result.rowcount != 1:
                raise exception.GroupNotFound(group_id=group_id)

    def volume_get_all_by_group(self, group_id: str) -> list[Row]:
        with self._tx() as (conn, _now):
            v = _VOLUMES.c
            query = sa.select(_VOLUMES).where(~v.deleted, v.group_id == group_id)
            return [dict(row) for row in conn.execute(query.order_by(v.created_at, v.id)).mappings()]
