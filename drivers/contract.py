"""The driver contract, written once: every method a driver implements, as a table of clauses.

The driver host (which methods it may run), the conformance suite (what it holds a driver to),
the emulated driver (a service time per method) and driver faults (which methods can be made to
fail) all read this table, so a new clause is one entry here. A driver is duck-typed: no base
class, only these methods, called by keyword by the driver host and by position by Cinder.

This module is the seam between the control plane and the drivers, so it imports nothing of
either: only the standard library and ``replisim.exception``'s vocabulary.
"""

from __future__ import annotations

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

# Generic volume groups and their replication (Cinder's "Tiramisu", microversion 3.38). A group is
# a mapping with Cinder's field names: id, host, status, replication_status, group_type_id,
# volume_type_ids and its type's group_specs. Cinder calls the replication methods only for a group
# whose type asks for replication (GROUP_REPLICATION_SPECS set to '<is> True') on a backend that
# reports GROUP_REPLICATION; the lifecycle methods for any group.
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
        "the group's model update (status, replication_status); a replicated group is born 'disabled'",
        keys=GROUP_MODEL_KEYS,
        era="groups",
    ),
    Clause(
        "delete_group",
        ("context", "group", "volumes"),
        GROUP_UPDATES,
        "deletes the group and every volume in it, on every array (replicas too); a volume update "
        "with status 'error_deleting' keeps that volume",
        keys=GROUP_MODEL_KEYS,
        era="groups",
    ),
    Clause(
        "update_group",
        ("context", "group", "add_volumes", "remove_volumes"),
        "(model_update, add_volumes_update, remove_volumes_update)",
        "adds and removes volumes (lists of volume mappings, or None); a replicating group "
        "replicates the volumes it gains",
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
        "the groups (and their volumes) whose replication went wrong; ([], []) when none did",
        gate=GROUP_REPLICATION,
        era="groups",
    ),
)

METHODS: Mapping[str, Clause] = MappingProxyType(
    {clause.name: clause for clause in (*CLAUSES, *GROUP_CLAUSES)}
)
ERAS: Mapping[str, tuple[Clause, ...]] = MappingProxyType({"v2": CLAUSES, "groups": GROUP_CLAUSES})


def era_supported(era: str, stats: Mapping[str, Any]) -> bool:
    """Whether a driver whose stats are ``stats`` takes part in ``era``: the seed's always; groups
    when it reports group replication (either kind)."""
    if era == "groups":
        return any(stats.get(key) is True for key in GROUP_REPLICATION_SPECS)
    return True


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
        raise ValueError(f"cannot import module {module!r}: {exc}") from exc
    except AttributeError:
        raise ValueError(f"module {module!r} has no attribute {attribute!r}") from None
    except Exception as exc:  # the module itself raised while importing
        raise ValueError(f"cannot import module {module!r}: {type(exc).__name__}: {exc}") from exc
    if not isinstance(found, type):
        raise ValueError(f"'{module}.{attribute}' is not a class (it is a {type(found).__name__})")
    return found
