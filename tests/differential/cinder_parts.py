"""What the differential suite plugs into real Cinder 29 (imported by ``cinder_stack.py`` only, in
the Cinder virtual environment): a fake driver that can fail over, and noauth as a deployment has it.

Cinder's own ``noauth`` filter makes every caller an admin; a deployment's callers get their roles
from Keystone and ``is_admin`` from the ``context_is_admin`` policy rule. ``NoAuthWithRoles`` does
that from headers, with replisim's rule for who is an admin (the user ``admin`` or ``X-Roles:
admin``), so member requests meet Cinder's real policy.
"""

from __future__ import annotations

from typing import Any

import webob.dec
from cinder import exception
from cinder.api.middleware import auth
from cinder.api.openstack import wsgi
from cinder.tests import fake_driver
from cinder.volume import volume_utils
from oslo_config import cfg

ADMIN_USERS = frozenset({"admin"})
MEMBER_ROLES = ["member", "reader"]
Updates = dict[str, Any]


class NoAuthWithRoles(auth.NoAuthMiddlewareBase):
    """``X-Auth-Token: user:project``; roles from ``X-Roles`` (default member, reader)."""

    @webob.dec.wsgify(RequestClass=wsgi.Request)
    def __call__(self, req: Any) -> Any:
        if "X-Auth-Token" not in req.headers:
            return self.base_call(req)  # Cinder's token-less answer (204 with a token)
        user, _, project = req.headers["X-Auth-Token"].partition(":")
        roles = [r.strip().lower() for r in req.headers.get("X-Roles", "").split(",") if r.strip()]
        roles = roles or list(MEMBER_ROLES)
        if user in ADMIN_USERS and "admin" not in roles:
            roles.append("admin")
        # is_admin left to Cinder: RequestContext asks the policy's context_is_admin rule.
        auth._set_request_context(req, user_id=user, project_id=project or user, roles=roles)
        return self.application


class ReplicatingFakeDriver(fake_driver.FakeLoggingVolumeDriver):
    """Cinder's logging fake driver, named after its backend, replicating to the other enabled backends.

    The stock fake reports ``replication_enabled`` only per pool and has no ``failover_host``; a
    host failover needs both (``reference/cinder-replication.md`` §2.2).
    """

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.backend_name = self.host.partition("@")[2].partition("#")[0] or "fake"

    def _targets(self) -> list[str]:
        """The other enabled backends, then the configured replication devices: what replisim's
        backend in the same deployment replicates to (servers.py gives a lone backend a device)."""
        others = [b for b in cfg.CONF.enabled_backends or () if b != self.backend_name]
        devices = [d["backend_id"] for d in self.configuration.safe_get("replication_device") or ()]
        return others + [d for d in devices if d not in others]

    def _update_volume_stats(self) -> None:
        super()._update_volume_stats()
        self._stats["replication_enabled"] = bool(self._targets())
        self._stats["replication_targets"] = self._targets()

    def create_volume(self, volume: Any) -> dict[str, Any]:
        """A volume of a replicated type is ``enabled`` when there is somewhere to replicate to
        (as RBD reports it; the stock fake says ``disabled``, which failover then skips)."""
        update = super().create_volume(volume) or {}
        if update.get("replication_status") == "disabled" and self._targets():
            update["replication_status"] = "enabled"
        return update

    def failover_host(
        self,
        context: Any,
        volumes: list[Any],
        secondary_id: str | None = None,
        groups: list[Any] | None = None,
    ) -> tuple[str, list[Updates], list[Updates]]:
        """Replicated volumes and every group fail over (to ``secondary_id`` or the first other
        backend), ``default`` fails back; a volume of a type without replication is lost, as the
        manager treats the volumes it does not pass on."""
        if secondary_id not in (None, "default", *self._targets()):
            raise exception.InvalidReplicationTarget(
                reason=f"{secondary_id!r} is not a replication target of {self.backend_name}"
            )
        active = "" if secondary_id == "default" else (secondary_id or self._targets()[0])
        status = "enabled" if secondary_id == "default" else "failed-over"
        lost = {"status": "error", "replication_status": "not-capable"}
        updates = [
            {"volume_id": v.id, "updates": {"replication_status": status} if _replicated(v) else lost}
            for v in volumes
        ]
        group_updates = [{"group_id": g.id, "updates": {"replication_status": status}} for g in groups or []]
        return active, updates, group_updates


def _replicated(volume: Any) -> bool:
    volume_type = volume.volume_type
    return bool(volume_type and volume_utils.is_replicated_spec(volume_type.extra_specs))
