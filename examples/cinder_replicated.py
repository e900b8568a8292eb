"""Cinder's own HA logging fake driver with what host failover and group replication need, for
``replisim[cinder]``.

Cinder 29 ships ``cinder.tests.fake_driver.FakeHAReplicatedLoggingVolumeDriver`` without a
``failover_host`` and with ``replication_enabled`` only per pool, so it cannot fail over; its group
replication methods (Tiramisu) answer success whatever they are asked, to no target at all. This
subclass adds what a real replicating driver has: ``replication_enabled`` and
``replication_targets`` (the ``backend_id`` of each ``replication_device``) at the top of its
stats, its configured ``volume_backend_name``, volumes of a replicated type born ``enabled``, and
``failover_host`` (to ``secondary_id`` or the first target; ``default`` fails back; a bad target
raises ``InvalidReplicationTarget``, so the backend stays as it was). For groups, its pool says
``group_replication_enabled`` and ``consistent_group_replication_enabled`` only when it has a
target; ``enable_replication``, ``disable_replication`` and ``failover_replication`` serve only a
group whose type replicates (read through Cinder's own ``Group.is_replicated``), fail a group over
to ``secondary_backend_id`` or the first target (``default`` fails back; a bad target raises
``InvalidReplicationTarget``) and answer for every volume; ``get_replication_error_status`` names
the replicating groups left without a target. A volume born into a replication group replicates
with its group, so it is born ``disabled`` unless the group replicates already. Everything else
is Cinder's code, unmodified.
"""

from __future__ import annotations

from typing import Any

from cinder import exception
from cinder.objects import fields
from cinder.tests import fake_driver
from cinder.volume import volume_utils

FAILBACK = "default"
GROUP_CAPABILITIES = ("group_replication_enabled", "consistent_group_replication_enabled")


class ReplicatedFakeDriver(fake_driver.FakeHAReplicatedLoggingVolumeDriver):
    def __init__(self, *args: Any, active_backend_id: str | None = None, **kwargs: Any):
        super().__init__(*args, active_backend_id=active_backend_id, **kwargs)
        self.active_backend_id = active_backend_id or None
        # the stock fake calls itself 'fake' whatever its section says (the conformance suite's
        # STATS-NAME-004 catches that); a real driver reports its configured name
        self.backend_name: str = self.configuration.safe_get("volume_backend_name") or "fake"
        # a real driver learns this from its array; the fake has none, so a test sets it
        self.link_down = False

    def _targets(self) -> list[str]:
        devices = self.configuration.safe_get("replication_device") or []
        return [str(device["backend_id"]) for device in devices if "backend_id" in device]

    def _update_volume_stats(self) -> None:
        super()._update_volume_stats()
        self._stats["replication_enabled"] = bool(self._targets())
        self._stats["replication_targets"] = self._targets()
        if self.link_down:  # Cinder's manager then asks get_replication_error_status
            self._stats["replication_status"] = fields.ReplicationStatus.ERROR
        for pool in self._stats["pools"]:  # a pool's capability, as Cinder's scheduler reads it
            pool.update(dict.fromkeys(GROUP_CAPABILITIES, bool(self._targets())))

    def create_volume(self, volume: Any) -> dict[str, Any] | None:
        update = super().create_volume(volume) or {}
        # a volume born into a replication group replicates when its group does (enable_replication)
        group = volume.group
        waits = group is not None and group.is_replicated and group.replication_status != "enabled"
        if update.get("replication_status") == "disabled" and self._targets() and not waits:
            update["replication_status"] = "enabled"
        return update or None

    # -- group replication (Tiramisu)

    def _replicating_group(self, group: Any, action: str) -> None:
        if not group.is_replicated:
            raise exception.InvalidGroupType(
                reason=f"group {group.id} is not of a replication group type: cannot {action}"
            )

    def enable_replication(
        self, context: Any, group: Any, volumes: list[Any]
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        self._replicating_group(group, "enable replication")
        if not self._targets():
            raise exception.VolumeBackendAPIException(
                data=f"group {group.id}: no replication_device to replicate to"
            )
        return _group_updates(volumes, fields.ReplicationStatus.ENABLED)

    def disable_replication(
        self, context: Any, group: Any, volumes: list[Any]
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        self._replicating_group(group, "disable replication")
        return _group_updates(volumes, fields.ReplicationStatus.DISABLED)

    def failover_replication(
        self, context: Any, group: Any, volumes: list[Any], secondary_backend_id: str | None = None
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        self._replicating_group(group, "fail over replication")
        if secondary_backend_id == FAILBACK:
            return _group_updates(volumes, fields.ReplicationStatus.ENABLED)
        targets = self._targets()
        target = secondary_backend_id or (targets[0] if targets else None)
        if target is None or target not in targets:
            raise exception.InvalidReplicationTarget(
                reason=f"{secondary_backend_id!r} is not a replication target of group {group.id} "
                f"(targets: {', '.join(targets) or 'none'})"
            )
        return _group_updates(volumes, fields.ReplicationStatus.FAILED_OVER)

    def get_replication_error_status(
        self, context: Any, groups: list[Any]
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        if self._targets() and not self.link_down:
            return [], []
        lost = [g for g in groups if g.replication_status == fields.ReplicationStatus.ENABLED]
        error = fields.ReplicationStatus.ERROR
        return (
            [{"group_id": g.id, "replication_status": error} for g in lost],
            [{"volume_id": v.id, "replication_status": error} for g in lost for v in g.volumes],
        )

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


def _group_updates(volumes: list[Any], status: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    return {"replication_status": status}, [{"id": v.id, "replication_status": status} for v in volumes]
