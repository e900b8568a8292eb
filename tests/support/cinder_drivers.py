"""Cinder drivers for the adapter's tests (imported only once ``support.cinder.require_cinder``
found Cinder): each is examples/cinder_replicated.py's driver with one difference."""

from __future__ import annotations

from typing import Any

from cinder import exception
from cinder.volume import driver

from examples.cinder_replicated import ReplicatedFakeDriver


class BornDisabled(ReplicatedFakeDriver):
    """Replicates by failover_host, but says its new volumes are 'disabled' (the stock fake's
    create_volume): with no per-volume enable, nothing it holds can be failed over."""

    def create_volume(self, volume: Any) -> dict[str, Any] | None:
        update = super().create_volume(volume) or {}
        if update.get("replication_status") == "enabled":
            update["replication_status"] = "disabled"
        return update or None


class NoGroupReplication(ReplicatedFakeDriver):
    """Replicates by failover_host and its pool still says group replication, but its group
    replication methods are Cinder's BaseVD defaults (NotImplementedError): it has none."""

    enable_replication = driver.BaseVD.enable_replication
    disable_replication = driver.BaseVD.disable_replication
    failover_replication = driver.BaseVD.failover_replication


class FailsOverThenRaises(ReplicatedFakeDriver):
    """Switches to the target, then raises a bug (not InvalidReplicationTarget) out of
    failover_host: it believes itself failed over while its service ends in failover-error and its
    volumes were never told."""

    def failover_host(
        self, context: Any, volumes: list[Any], secondary_id: str | None = None, groups: Any = None
    ) -> Any:
        super().failover_host(context, volumes, secondary_id, groups)
        raise RuntimeError("lost the array's answer after switching")


class MovesVolumesToItsTarget(ReplicatedFakeDriver):
    """Fails over, but moves each volume's host to its target's name, as the seed's per-volume
    replication_failover may: under host failover a volume keeps its host (its backend serves it
    from the target), so these end on a host no backend serves, and the failback never sees them."""

    def failover_host(
        self, context: Any, volumes: list[Any], secondary_id: str | None = None, groups: Any = None
    ) -> Any:
        active, updates, group_updates = super().failover_host(context, volumes, secondary_id, groups)
        if secondary_id != "default":
            moved = f"{self.host.partition('@')[0]}@{active}#{active}"
            updates = [
                {"volume_id": u["volume_id"], "updates": {**u["updates"], "host": moved}} for u in updates
            ]
        return active, updates, group_updates


class RefusesFailback(ReplicatedFakeDriver):
    """Fails over, then refuses the failback as an invalid target: the backend stays failed over,
    a consistent world in which every safety check passes, though the runbook's last step failed."""

    def failover_host(
        self, context: Any, volumes: list[Any], secondary_id: str | None = None, groups: Any = None
    ) -> Any:
        if secondary_id == "default":
            raise exception.InvalidReplicationTarget(reason="this array cannot fail back")
        return super().failover_host(context, volumes, secondary_id, groups)


class RefusesThaw(ReplicatedFakeDriver):
    """Refuses every thaw: the service stays disabled (Cinder keeps it so when the driver says no)."""

    def thaw_backend(self, context: Any) -> Any:
        raise exception.VolumeDriverException(message="the array will not take writes yet")
