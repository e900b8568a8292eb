"""Cinder's own HA logging fake driver with what host failover needs, for ``replisim[cinder]``.

Cinder 29 ships ``cinder.tests.fake_driver.FakeHAReplicatedLoggingVolumeDriver`` without a
``failover_host`` and with ``replication_enabled`` only per pool, so it cannot fail over. This
subclass adds what a real replicating driver has: ``replication_enabled`` and
``replication_targets`` (the ``backend_id`` of each ``replication_device``) at the top of its
stats, its configured ``volume_backend_name``, volumes of a replicated type born ``enabled``, and
``failover_host`` (to ``secondary_id`` or the first target; ``default`` fails back; a bad target
raises ``InvalidReplicationTarget``, so the backend stays as it was). Everything else is Cinder's
code, unmodified.
"""

from __future__ import annotations

from typing import Any

from cinder import exception
from cinder.tests import fake_driver
from cinder.volume import volume_utils

FAILBACK = "default"


class ReplicatedFakeDriver(fake_driver.FakeHAReplicatedLoggingVolumeDriver):
    def __init__(self, *args: Any, active_backend_id: str | None = None, **kwargs: Any):
        super().__init__(*args, active_backend_id=active_backend_id, **kwargs)
        self.active_backend_id = active_backend_id or None
        # the stock fake calls itself 'fake' whatever its section says (the conformance suite's
        # STATS-NAME-004 catches that); a real driver reports its configured name
        self.backend_name: str = self.configuration.safe_get("volume_backend_name") or "fake"

    def _targets(self) -> list[str]:
        devices = self.configuration.safe_get("replication_device") or []
        return [str(device["backend_id"]) for device in devices if "backend_id" in device]

    def _update_volume_stats(self) -> None:
        super()._update_volume_stats()
        self._stats["replication_enabled"] = bool(self._targets())
        self._stats["replication_targets"] = self._targets()

    def create_volume(self, volume: Any) -> dict[str, Any] | None:
        update = super().create_volume(volume) or {}
        if update.get("replication_status") == "disabled" and self._targets():
            update["replication_status"] = "enabled"
        return update or None

    def failover_host(
        self,
        context: Any,
        volumes: list[Any],
        secondary_id: str | None = None,
        groups: list[Any] | None = None,
    ) -> tuple[str | None, list[dict[str, Any]], list[dict[str, Any]]]:
        targets = self._targets()
        if secondary_id == FAILBACK:
            if self.active_backend_id is None:
                raise exception.InvalidReplicationTarget(reason="the backend is not failed over")
            active, status = None, "enabled"
        else:
            choices = [t for t in targets if t != self.active_backend_id]
            active = secondary_id or (choices[0] if choices else None)
            if active is None or active not in choices:
                raise exception.InvalidReplicationTarget(
                    reason=f"{secondary_id!r} is not a replication target of this backend "
                    f"(targets: {', '.join(targets) or 'none'})"
                )
            status = "failed-over"
        lost = {"status": "error", "replication_status": "not-capable"}
        updates = [
            {"volume_id": v.id, "updates": {"replication_status": status} if _replicated(v) else lost}
            for v in volumes
        ]
        self.active_backend_id = active
        group_updates = [{"group_id": g.id, "updates": {"replication_status": status}} for g in groups or []]
        return active or FAILBACK, updates, group_updates


def _replicated(volume: Any) -> bool:
    volume_type = volume.volume_type
    return bool(volume_type and volume_utils.is_replicated_spec(volume_type.extra_specs))
