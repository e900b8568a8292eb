"""Cinder drivers for the adapter's tests (imported only once ``support.cinder.require_cinder``
found Cinder): each is examples/cinder_replicated.py's driver with one difference."""

from __future__ import annotations

from typing import Any

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
