"""The driver host actor: owns one driver object and runs its methods as blocking operations.

In sim, an operation takes the service time the driver reports (``service_time(operation, args)``,
an optional hook the emulated array's driver provides), else a constant; live, it takes as long as
the real call does. Exceptions travel back to the manager unchanged, as the cause of a RemoteError.
"""

from __future__ import annotations

from collections.abc import Generator, Mapping
from typing import Any

from replisim.sim import Actor, Block

from .context import RequestContext

DEFAULT_SERVICE_TIME = 0.05

DRIVER_OPERATIONS = frozenset({
    "do_setup", "check_for_setup_error", "get_volume_stats", "create_volume", "delete_volume",
    "replication_enable", "replication_disable", "replication_failover", "list_replication_targets",
    "get_replication_updates",
})


class DriverHost(Actor):
    """Hosts ``driver`` (anything meeting the driver contract) for one backend."""

    def __init__(self, driver: Any):
        self.driver = driver

    def invoke(self, operation: str, args: Mapping[str, Any]) -> Generator[Any, Any, Any]:
        if operation not in DRIVER_OPERATIONS:
            raise ValueError(f"{operation!r} is not a driver operation; known: {sorted(DRIVER_OPERATIONS)}")
        method = getattr(self.driver, operation)
        call_args = dict(args)
        if "context" in call_args and isinstance(call_args["context"], Mapping):
            call_args["context"] = RequestContext.from_dict(call_args["context"])
        hook = getattr(self.driver, "service_time", None)
        seconds = hook(operation, call_args) if callable(hook) else DEFAULT_SERVICE_TIME
        return (yield Block(lambda: method(**call_args), (), float(seconds)))
