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

METHODS: Mapping[str, Clause] = MappingProxyType({clause.name: clause for clause in CLAUSES})

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
