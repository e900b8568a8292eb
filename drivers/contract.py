"""The driver contract, written once: every method a driver implements, as a table of clauses.

The driver host (which methods it may run), the conformance suite (what it holds a driver to),
the emulated driver (a service time per method) and driver faults (which methods can be made to
fail) all read this table, so a new clause is one entry here. A driver is duck-typed: no base
class, only these methods, called by keyword by the driver host and by position by Cinder.

This module is the seam between the control plane and the drivers, so it imports nothing of
either: only the standard library and ``replisim.exception``'s vocabulary.
"""

from __future__ import annotations

import contextlib
import importlib
import pkgutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

REPLICATION = "replication_enabled"  # the stats key that gates the replication clauses


@dataclass(frozen=True)
class Clause:
    """One method of the contract: its parameters in the contract's order, what it returns and
    which capability (a stats key that must be true) the control plane needs before calling it."""

    name: str
    params: tuple[str, ...]
    returns: str  # the shape, as a vendor reads it
    doc: str
    keys: frozenset[str] = frozenset()  # the keys a returned dict may have, where the contract says
    defaults: Mapping[str, Any] = field(default_factory=dict)
    gate: str | None = None
    era: str = "v2"  # the Replication V2 seed; later eras (V2.1 host failover, groups) add clauses

    @property
    def signature(self) -> str:
        args = ", ".join(f"{p}={self.defaults[p]!r}" if p in self.defaults else p for p in self.params)
        return f"{self.name}({args})"

    def __str__(self) -> str:
        return f"{self.signature} -> {self.returns}"


# get_volume_stats: every key a driver reports, and the types its value may have
STATS_TYPES: Mapping[str, tuple[type, ...]] = MappingProxyType(
    {
        "volume_backend_name": (str,),
        "vendor_name": (str,),
        "driver_version": (str,),
        "storage_protocol": (str,),
        "total_capacity_gb": (int, float, str),
        "free_capacity_gb": (int, float, str),
        REPLICATION: (bool,),
    }
)
CAPACITY_WORDS = ("infinite", "unknown")  # the strings Cinder accepts in place of a number
REPLICATION_TYPES = frozenset({"async", "sync"})
ENABLE_KEYS = frozenset({"replication_driver_data"})
FAILOVER_KEYS = frozenset({"host", "model_update", "replication_driver_data"})
TARGET_TYPES = frozenset({"managed", "unmanaged"})
UPDATE_STATUSES = frozenset({"ok", "error"})
# A new volume's replication_status, as create_volume's model update may set it: "enabled" only for
# a volume whose type asks for replication (the driver replicates it from birth); absent means
# "disabled". A driver may instead let it land in its replication updates, within BORN_REPORTS
# report intervals of the create: the control plane then repairs the record to what the arrays say.
BORN_STATUSES = frozenset({"disabled", "enabled"})
BORN_REPORTS = 2
INVENTORY_KEYS = frozenset({"volumes", "used_gb", "volume_ids"})
CALL_TIMEOUT = 30.0  # seconds a driver call may take, by default, before the conformance suite gives up

CONSTRUCTOR = Clause(
    "__init__",
    ("configuration", "host"),
    "a driver object",
    "configuration gives attribute access and safe_get(name) over the backend's section (unknown "
    "names give None); host is 'host@backend'",
)

CLAUSES: tuple[Clause, ...] = (
    Clause("do_setup", ("context",), "None", "prepares the driver, as Cinder calls it at service start"),
    Clause("check_for_setup_error", (), "None", "raises if do_setup left the driver unusable"),
    Clause(
        "get_volume_stats",
        ("refresh",),
        "dict",
        f"reports {', '.join(STATS_TYPES)}; when replication is enabled also replication_type (a "
        "list such as ['async', 'sync']) and replication_count (an int)",
        keys=frozenset({*STATS_TYPES, "replication_type", "replication_count"}),
        defaults={"refresh": False},
    ),
    Clause(
        "create_volume",
        ("volume",),
        "dict | None",
        "the model update the manager stores; for a volume whose type asks for replication the driver "
        "may replicate it from birth and say replication_status 'enabled' (in the update, or in its "
        f"replication updates within {BORN_REPORTS} report intervals), else it is born 'disabled'",
    ),
    Clause(
        "delete_volume",
        ("volume",),
        "None",
        "removes the volume and every replica of it, on every array; deleting a volume the array "
        "does not have succeeds",
    ),
    Clause(
        "replication_enable",
        ("context", "volume"),
        "{'replication_driver_data': ...} | None",
        "starts replicating the volume to its targets; enabling a volume that already replicates "
        "succeeds (a re-enable)",
        keys=ENABLE_KEYS,
        gate=REPLICATION,
    ),
    Clause(
        "replication_disable",
        ("context", "volume"),
        "{'replication_driver_data': ...} | None",
        "stops replicating the volume; a replica it retains on a peer counts as the volume's, so "
        "delete_volume removes it",
        keys=ENABLE_KEYS,
        gate=REPLICATION,
    ),
    Clause(
        "replication_failover",
        ("context", "volume", "secondary"),
        "dict",
        "makes a replica the volume; optional keys host (a valid 'host@backend#pool' naming a "
        "configured target backend, whose driver then serves the volume), model_update (a dict) "
        "and replication_driver_data; without host the volume stays on its backend, whose driver "
        "keeps serving it from wherever the replica is",
        keys=FAILOVER_KEYS,
        gate=REPLICATION,
    ),
    Clause(
        "list_replication_targets",
        ("context", "volume"),
        "{'volume_id': id, 'targets': [...]}",
        "each target {'type': 'managed', 'backend_name': ...} or {'type': 'unmanaged', <vendor keys>} "
        "with every secret masked; a volume that is not replicated gives an empty list",
        keys=frozenset({"volume_id", "targets"}),
    ),
    Clause(
        "get_replication_updates",
        ("context",),
        "[{'volid': id, 'status': 'ok' | 'error', ...}]",
        "only the volumes with something to report",
        gate=REPLICATION,
    ),
)

# Replication V2.1 ("Cheesecake", Cinder 8.0 onwards, as Cinder 29 calls it): failover per backend,
# not per volume. A driver supports it when it has failover_host (Cinder's
# supports_replication_feature('v2.1')), and active-active when it also has failover_completed; the
# control plane calls these only on a backend whose top-level stats say replication_enabled.
V21 = "v2.1"
ACTIVE_ACTIVE = "a/a"
# The method whose presence says a driver supports each V2.1 feature (Cinder's BaseVD table).
FEATURES: Mapping[str, str] = MappingProxyType({V21: "failover_host", ACTIVE_ACTIVE: "failover_completed"})
FAILBACK = "default"  # the secondary_id that asks for a failback to the backend's own array
# failover_host's volume_updates: [{'volume_id': id, 'updates': {...}}]; an update's keys the manager
# writes, and the status that marks a volume the failover could not move.
VOLUME_UPDATE_KEYS = frozenset({"volume_id", "updates"})
HOST_UPDATE_KEYS = frozenset(
    {"status", "replication_status", "provider_location", "replication_driver_data", "host"}
)
GROUP_UPDATE_KEYS = frozenset({"group_id", "updates"})
_FAILOVER_RETURNS = (
    "(active_backend_id, [{'volume_id': id, 'updates': {...}}], [{'group_id': id, 'updates': {...}}])"
)
_FAILOVER_DOC = (
    "fails every given volume of the backend over to secondary_id (a configured target's backend_id; "
    f"None: the driver's choice; {FAILBACK!r}: back to its own array) and returns the backend now "
    "active, one update per volume it answers for (updates may set status, replication_status "
    "('failed-over', 'enabled' after a failback, 'error' for one it could not move), "
    "provider_location, replication_driver_data), and group updates ([] without groups); a volume "
    "it leaves out takes the service's new status; InvalidReplicationTarget (a bad target, a "
    "refused failback) leaves the backend as it was, any other exception ends in failover-error"
)

V21_CLAUSES: tuple[Clause, ...] = (
    Clause(
        "failover_host",
        ("context", "volumes", "secondary_id", "groups"),
        _FAILOVER_RETURNS,
        _FAILOVER_DOC,
        defaults={"secondary_id": None, "groups": None},
        gate=REPLICATION,
        era=V21,
    ),
    Clause(
        "failover",
        ("context", "volumes", "secondary_id", "groups"),
        _FAILOVER_RETURNS,
        "the active-active first half of failover_host (same arguments, same answer); the service "
        "is switched over by failover_completed afterwards",
        defaults={"secondary_id": None, "groups": None},
        gate=REPLICATION,
        era=V21,
    ),
    Clause(
        "failover_completed",
        ("context", "active_backend_id"),
        "None",
        "the active-active second half: the backend now serves from active_backend_id",
        defaults={"active_backend_id": None},
        gate=REPLICATION,
        era=V21,
    ),
    Clause(
        "freeze_backend",
        ("context",),
        "True",
        "the control plane will refuse modifications on this backend until thaw_backend; a driver "
        "with nothing to do answers True",
        gate=REPLICATION,
        era=V21,
    ),
    Clause(
        "thaw_backend",
        ("context",),
        "True",
        "modifications are allowed again; an exception makes the thaw fail (the backend stays frozen)",
        gate=REPLICATION,
        era=V21,
    ),
)


def supports(driver: Any, feature: str) -> bool:
    """Cinder's ``supports_replication_feature``: the driver has the method ``feature`` names."""
    return callable(getattr(driver, FEATURES[feature], None))


# The seed's per-volume actions. A driver that replicates only by host failover (every Cinder
# driver since 8.0, run through replisim.drivers.cinder_adapter) has none of them and says so in
# its stats, PER_VOLUME False; the key absent means True, as for the seed's drivers.
PER_VOLUME = "replication_per_volume"
PER_VOLUME_CLAUSES = ("replication_enable", "replication_disable", "replication_failover")


def replicates_per_volume(stats: Mapping[str, Any]) -> bool:
    """Whether a backend that reports ``stats`` takes the per-volume replication actions."""
    return stats.get(PER_VOLUME, True) is not False


# Generic volume groups and their replication (Cinder's "Tiramisu", microversion 3.38). A group is
# a mapping with Cinder's field names: id, host, status, replication_status, group_type_id,
# volume_type_ids, its type's group_specs and (from the manager) volume_types, each {'id', 'name',
# 'extra_specs'}; a group's volume carries its group, so, under 'group' (Cinder's volume.group).
# Cinder calls the replication methods only for a group whose type asks for replication
# (GROUP_REPLICATION_SPECS set to '<is> True') on a backend that reports GROUP_REPLICATION; the
# lifecycle methods for any group.
GROUP_REPLICATION = "group_replication_enabled"  # the stats key that gates the group replication clauses
CONSISTENT_GROUP_REPLICATION = "consistent_group_replication_enabled"
GROUP_REPLICATION_SPECS = (CONSISTENT_GROUP_REPLICATION, GROUP_REPLICATION)
GROUP_MODEL_KEYS = frozenset({"status", "replication_status"})  # what a group's model update may set
# A volume's entry in a group method's volume updates: its id and the fields to write.
GROUP_VOLUME_UPDATE_KEYS = frozenset(
    {"id", "status", "replication_status", "provider_location", "replication_driver_data", "host"}
)
GROUP_UPDATES = "(model_update: dict | None, volume_updates: [{'id': id, ...}] | None)"

GROUP_CLAUSES: tuple[Clause, ...] = (
    Clause(
        "create_group",
        ("context", "group"),
        "dict | None",
        "the group's model update (status, replication_status); a replicated group is born "
        "'disabled'; NotImplementedError: Cinder's generic group (the control plane's alone)",
        keys=GROUP_MODEL_KEYS,
        era="groups",
    ),
    Clause(
        "delete_group",
        ("context", "group", "volumes"),
        GROUP_UPDATES,
        "deletes the group and every volume in it, on every array (replicas too); a volume update "
        "with status 'error_deleting' keeps that volume; NotImplementedError: Cinder's generic "
        "group (the manager deletes its volumes one by one)",
        keys=GROUP_MODEL_KEYS,
        era="groups",
    ),
    Clause(
        "update_group",
        ("context", "group", "add_volumes", "remove_volumes"),
        "(model_update, add_volumes_update, remove_volumes_update)",
        "adds and removes volumes (lists of volume mappings, or None); a replicating group "
        "replicates the volumes it gains; NotImplementedError: Cinder's generic group (membership "
        "is the database's alone)",
        keys=GROUP_MODEL_KEYS,
        defaults={"add_volumes": None, "remove_volumes": None},
        era="groups",
    ),
    Clause(
        "enable_replication",
        ("context", "group", "volumes"),
        GROUP_UPDATES,
        "starts replicating every volume of the group, as one unit; replication_status 'error' in "
        "the model update or a volume's update fails the whole action",
        keys=GROUP_MODEL_KEYS,
        gate=GROUP_REPLICATION,
        era="groups",
    ),
    Clause(
        "disable_replication",
        ("context", "group", "volumes"),
        GROUP_UPDATES,
        "stops replicating every volume of the group; replicas retained on a peer count as the "
        "volumes', so delete_group removes them",
        keys=GROUP_MODEL_KEYS,
        gate=GROUP_REPLICATION,
        era="groups",
    ),
    Clause(
        "failover_replication",
        ("context", "group", "volumes", "secondary_backend_id"),
        GROUP_UPDATES,
        "makes every volume's replica on secondary_backend_id (None: the driver's choice) the "
        "volume, all or none; 'default' fails back; each volume update says where it is served "
        "from (provider_location, and host when a managed target's backend serves it now, as "
        "replication_failover's) and may count the acknowledged writes the failover lost",
        keys=GROUP_MODEL_KEYS,
        defaults={"secondary_backend_id": None},
        gate=GROUP_REPLICATION,
        era="groups",
    ),
    Clause(
        "get_replication_error_status",
        ("context", "groups"),
        "(group_model_updates: [{'group_id': id, ...}], volume_model_updates: [{'volume_id': id, ...}])",
        "asked when the stats say replication_status 'error', with the backend's replicating groups "
        "(each with its volumes under 'volumes'): the groups and volumes whose replication went "
        "wrong, each update {'group_id' | 'volume_id': id, 'replication_status': 'error', ...}; "
        "([], []) when none did",
        gate=GROUP_REPLICATION,
        era="groups",
    ),
)

# Every method the driver host may run, by era; a driver must have the seed era's (REQUIRED), V2.1's
# only to support host failover (FEATURES says which method tells), the groups' only for groups.
ERAS: Mapping[str, tuple[Clause, ...]] = MappingProxyType(
    {"v2": CLAUSES, V21: V21_CLAUSES, "groups": GROUP_CLAUSES}
)
METHODS: Mapping[str, Clause] = MappingProxyType({c.name: c for era in ERAS.values() for c in era})
REQUIRED: Mapping[str, Clause] = MappingProxyType({clause.name: clause for clause in CLAUSES})


def era_supported(era: str, stats: Mapping[str, Any]) -> bool:
    """Whether a driver whose stats are ``stats`` takes part in ``era``: the seed's always; V2.1 when
    it reports replication; groups when it reports group replication (either kind)."""
    if era == V21:
        return stats.get(REPLICATION) is True
    if era == "groups":
        return any(stats.get(key) is True for key in GROUP_REPLICATION_SPECS)
    return True


# A driver class that reaches real storage (sockets, processes, wall-clock waits) says so with this
# attribute set True: a simulated world must replay from its seed alone, so it refuses such a driver.
LIVE_ONLY = "live_only"


def live_only(cls: type) -> bool:
    """Whether driver class ``cls`` runs only live (see ``LIVE_ONLY``)."""
    return getattr(cls, LIVE_ONLY, False) is True


# Methods a driver MAY have; the control plane never calls them, the conformance suite uses them
# when present (and says so when not).
OPTIONAL: Mapping[str, Clause] = MappingProxyType(
    {
        "get_inventory": Clause(
            "get_inventory",
            (),
            "{array_name: {'volumes': n, 'used_gb': x, 'volume_ids': [...]}}",
            "what every array the driver reaches holds (its own, its targets', its devices'), replicas "
            "included; volume_ids is optional; lets the suite see that a run left nothing on any array",
            keys=INVENTORY_KEYS,
            era="conformance",
        ),
    }
)


def unknown_method(name: str) -> ValueError:
    """The error for a name that is not a method of the contract."""
    return ValueError(f"{name!r} is not a driver operation; known: {sorted(METHODS)}")


def load_class(path: str) -> type:
    """The class at an import path (``pkg.mod.Class`` or ``pkg.mod:Class``), as ``volume_driver``
    and ``--driver`` name one; a ``ValueError`` says why it cannot be loaded."""
    text = path.strip()
    module, _, attribute = text.partition(":") if ":" in text else text.rpartition(".")
    if not module or not attribute:
        raise ValueError(
            f"{path!r} is not an import path; use 'package.module.Class' or 'package.module:Class'"
        )
    try:
        found = pkgutil.resolve_name(f"{module}:{attribute}")
    except ImportError as exc:
        missing = (exc.name or "").partition(".")[0]
        hint = f"; install it with pip install '{ADAPTERS[missing].extra}'" if missing in ADAPTERS else ""
        raise ValueError(f"cannot import module {module!r}: {exc}{hint}") from exc
    except AttributeError:
        raise ValueError(f"module {module!r} has no attribute {attribute!r}") from None
    except Exception as exc:  # the module itself raised while importing
        raise ValueError(f"cannot import module {module!r}: {type(exc).__name__}: {exc}") from exc
    if not isinstance(found, type):
        raise ValueError(f"'{module}.{attribute}' is not a class (it is a {type(found).__name__})")
    return found


@dataclass(frozen=True)
class Adapter:
    """A family of drivers that meets the contract through an adapter module (by import path, as
    a ``volume_driver`` is named: the contract knows where it is, never what it is). The module
    has ``importing()`` (a context every driver module is imported in), ``accepts(cls)`` and
    ``adapt(cls)`` (the contract-meeting class to build instead)."""

    module: str
    extra: str  # what ``pip install`` installs the family with


ADAPTERS: Mapping[str, Adapter] = MappingProxyType(
    {"cinder": Adapter("replisim.drivers.cinder_adapter", "replisim[cinder]")}
)


def load_driver(path: str) -> type:
    """The class a backend's driver is built from: the class at ``path`` (see ``load_class``),
    or, for a class of a family in ``ADAPTERS`` (a Cinder volume driver), its adapter's class for
    it; a ``ValueError`` says why it cannot be loaded."""
    adapters = [importlib.import_module(adapter.module) for adapter in ADAPTERS.values()]
    with contextlib.ExitStack() as stack:
        for adapter in adapters:
            stack.enter_context(adapter.importing())
        cls = load_class(path)
    for adapter in adapters:
        if adapter.accepts(cls):
            return adapter.adapt(cls)
    return cls
