"""The RPC client layer: what to send to whom, and with which version.

Every function returns an effect for a handler to yield, so routing (``host@backend#pool`` to the
``host@backend`` manager) and versioning live here and nowhere else.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from replisim.sim import Address, Call, Cast, Message

from .status import DRIVER_TOPIC, RPC_VERSION, SCHEDULER_TOPIC, VOLUME_TOPIC, backend_host

LIST_TARGETS_TIMEOUT = 60.0


def manager_address(host: str) -> Address:
    return Address(VOLUME_TOPIC, backend_host(host))


def driver_address(host: str) -> Address:
    return Address(DRIVER_TOPIC, backend_host(host))


def _to_manager(
    volume: Mapping[str, Any], method: str, context: Mapping[str, Any], **args: Any
) -> tuple[Address, Message]:
    host = volume.get("host")
    if not host:
        raise ValueError(f"volume {volume.get('id')} has no host to send {method!r} to")
    message = Message(method, {"context": dict(context), "volume_id": volume["id"], **args}, RPC_VERSION)
    return manager_address(host), message


# Each state-changing cast carries the id the API gave its request (``op_id``), so a redelivered
# message is recognised and not acted on twice (see ``idempotency``).


def enable_replication(context: Mapping[str, Any], volume: Mapping[str, Any], op_id: str) -> Cast:
    return Cast(*_to_manager(volume, "enable_replication", context, op_id=op_id))


def disable_replication(context: Mapping[str, Any], volume: Mapping[str, Any], op_id: str) -> Cast:
    return Cast(*_to_manager(volume, "disable_replication", context, op_id=op_id))


def failover_replication(
    context: Mapping[str, Any], volume: Mapping[str, Any], op_id: str, secondary: str | None = None
) -> Cast:
    return Cast(*_to_manager(volume, "failover_replication", context, op_id=op_id, secondary=secondary))


def list_replication_targets(
    context: Mapping[str, Any], volume: Mapping[str, Any], timeout: float = LIST_TARGETS_TIMEOUT
) -> Call:
    return Call(*_to_manager(volume, "list_replication_targets", context), timeout=timeout)


def delete_volume(context: Mapping[str, Any], volume: Mapping[str, Any], op_id: str) -> Cast:
    return Cast(*_to_manager(volume, "delete_volume", context, op_id=op_id))


def create_volume(context: Mapping[str, Any], volume: Mapping[str, Any], op_id: str | None) -> Cast:
    return Cast(*_to_manager(volume, "create_volume", context, op_id=op_id))


def schedule_create_volume(context: Mapping[str, Any], volume_id: str, op_id: str) -> Cast:
    return Cast(
        Address(SCHEDULER_TOPIC),
        Message(
            "create_volume", {"context": dict(context), "volume_id": volume_id, "op_id": op_id}, RPC_VERSION
        ),
    )


def report_capabilities(host: str, capabilities: Mapping[str, Any]) -> Cast:
    """A manager's periodic stats report, fanned to the scheduler."""
    return Cast(
        Address(SCHEDULER_TOPIC),
        Message(
            "update_service_capabilities", {"host": host, "capabilities": dict(capabilities)}, RPC_VERSION
        ),
    )


def driver_call(host: str, operation: str, timeout: float, call_id: str | None = None, **args: Any) -> Call:
    """Ask the driver host of ``host`` to run one driver method; a redelivered call with the same
    ``call_id`` is answered from the first one's result, never run twice. The host is told the
    ``timeout`` so that it keeps that result no longer than this caller waits for it."""
    return Call(
        driver_address(host),
        Message("invoke", {"operation": operation, "args": args, "call_id": call_id, "timeout": timeout}),
        timeout,
    )


# Host failover (Replication V2.1): addressed to a backend's manager, not to one volume's.
SERVICE_CALL_TIMEOUT = 60.0


def _to_service(host: str, method: str, context: Mapping[str, Any], **args: Any) -> tuple[Address, Message]:
    return manager_address(host), Message(method, {"context": dict(context), **args}, RPC_VERSION)


def failover_host(context: Mapping[str, Any], host: str, op_id: str, secondary_id: str | None) -> Cast:
    return Cast(*_to_service(host, "failover_host", context, op_id=op_id, secondary_id=secondary_id))


def freeze_host(context: Mapping[str, Any], host: str, timeout: float = SERVICE_CALL_TIMEOUT) -> Call:
    return Call(*_to_service(host, "freeze_host", context), timeout=timeout)


def thaw_host(context: Mapping[str, Any], host: str, timeout: float = SERVICE_CALL_TIMEOUT) -> Call:
    return Call(*_to_service(host, "thaw_host", context), timeout=timeout)


# -- generic volume groups: to the scheduler (create), then to the group's manager --------------


def _to_group_manager(
    group: Mapping[str, Any], method: str, context: Mapping[str, Any], **args: Any
) -> tuple[Address, Message]:
    host = group.get("host")
    if not host:
        raise ValueError(f"group {group.get('id')} has no host to send {method!r} to")
    message = Message(method, {"context": dict(context), "group_id": group["id"], **args}, RPC_VERSION)
    return manager_address(host), message


def schedule_create_group(context: Mapping[str, Any], group_id: str, op_id: str) -> Cast:
    return Cast(
        Address(SCHEDULER_TOPIC),
        Message(
            "create_group", {"context": dict(context), "group_id": group_id, "op_id": op_id}, RPC_VERSION
        ),
    )


def group_cast(
    context: Mapping[str, Any], group: Mapping[str, Any], method: str, op_id: str, **args: Any
) -> Cast:
    """A group's lifecycle or replication cast (``create_group``, ``delete_group``,
    ``update_group``, ``enable_replication``, ...) to the manager of its backend."""
    return Cast(*_to_group_manager(group, method, context, op_id=op_id, **args))


def list_group_replication_targets(
    context: Mapping[str, Any], group: Mapping[str, Any], timeout: float = LIST_TARGETS_TIMEOUT
) -> Call:
    return Call(*_to_group_manager(group, "list_group_replication_targets", context), timeout=timeout)
