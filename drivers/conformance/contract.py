"""The driver contract as data: what the suite holds a driver to, in one place.

The volume manager reaches a driver through the driver host, which calls every method with
keyword arguments; Cinder itself calls them positionally. A conforming method accepts both.
"""

from __future__ import annotations

from replisim.actors.status import REPLICATION_STATUSES, TRANSITIONAL

# method -> the arguments the control plane passes, in the contract's order
CALLS: dict[str, tuple[str, ...]] = {
    "__init__": ("configuration", "host"),
    "do_setup": ("context",),
    "check_for_setup_error": (),
    "get_volume_stats": ("refresh",),
    "create_volume": ("volume",),
    "delete_volume": ("volume",),
    "replication_enable": ("context", "volume"),
    "replication_disable": ("context", "volume"),
    "replication_failover": ("context", "volume", "secondary"),
    "list_replication_targets": ("context", "volume"),
    "get_replication_updates": ("context",),
}
METHODS = tuple(name for name in CALLS if name != "__init__")

# get_volume_stats: every key, and the types a value may have
STATS_TYPES: dict[str, tuple[type, ...]] = {
    "volume_backend_name": (str,),
    "vendor_name": (str,),
    "driver_version": (str,),
    "storage_protocol": (str,),
    "total_capacity_gb": (int, float, str),
    "free_capacity_gb": (int, float, str),
    "replication_enabled": (bool,),
}
CAPACITY_WORDS = ("infinite", "unknown")  # the strings Cinder accepts in place of a number
REPLICATION_TYPES = frozenset({"async", "sync"})

ENABLE_KEYS = frozenset({"replication_driver_data"})
FAILOVER_KEYS = frozenset({"host", "model_update", "replication_driver_data"})
TARGET_TYPES = frozenset({"managed", "unmanaged"})
UPDATE_STATUSES = frozenset({"ok", "error"})

FINAL_REPLICATION_STATUSES = REPLICATION_STATUSES - TRANSITIONAL
