"""The API actor: policy, validation and state checks, then the transitional status and the RPC.

It speaks in Cinder's exceptions: ``PolicyNotAuthorized`` (403), ``VolumeNotFound`` (404) and
``InvalidVolume``/``InvalidInput`` (400). Callers over the bus receive them as the cause of a
``RemoteError``; the REST layer and the clients turn them into status codes.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Generator, Mapping
from typing import Any

from replisim import exception
from replisim.drivers import contract
from replisim.sim import Actor, Draw, KernelError, MessagingTimeout, Now, RemoteError

from . import quotas, rpcapi
from .context import RequestContext
from .db import DEFAULT_TYPE_ID, DEFAULT_TYPE_NAME, Repository
from .filters import pool_name, unmet_specs, wants_replication
from .groups import GroupAPI
from .policy import Policy
from .status import (
    ATTACH_STATUSES,
    AVAILABLE,
    CREATING,
    DELETING,
    DISABLE,
    DISABLED,
    ENABLE,
    ENABLED,
    ERROR,
    ERROR_DELETING,
    FAILED_OVER,
    FAILING_OVER,
    FAILOVER,
    MIGRATION_STATUSES,
    REPLICATION_STATUSES,
    SERVICE_FAILOVER_FROM,
    TRANSITIONAL,
    VOLUME_ERROR,
    VOLUME_STATUSES,
    VOLUME_TOPIC,
    AdminAction,
    backend_host,
)

Gen = Generator[Any, Any, Any]
# Replication statuses in which a volume may be deleted: none of the in-progress ones.
NOT_BUSY: tuple[str | None, ...] = (*sorted(REPLICATION_STATUSES - TRANSITIONAL), None)
# Volume statuses in which a replication action may start: none in which a create or a delete is at
# work on the volume, since the manager runs one request per volume at a time (as delete waits for
# replication to rest, replication waits for the volume to).
RESTING: tuple[str, ...] = (AVAILABLE, VOLUME_ERROR, ERROR_DELETING, "in-use")
# Cinder's refusal to delete a volume that belongs to a group (among other reasons it gives).
IN_GROUP = (
    "Volume status must be available or error or error_restoring or error_extending or "
    "error_managing and must not be migrating, attached, belong to a group, have snapshots, "
    "awaiting a transfer, or be disassociated from snapshots after volume transfer."
)
# What an admin may reset replication_status error to: the stable statuses.
RESETTABLE_TO = (ENABLED, FAILED_OVER, DISABLED)
# Cinder's refusal of any change to a volume on a frozen backend (cinder/objects/base.py).
FROZEN_MESSAGE = "Modification operations are not allowed on frozen storage backends."


def _listing(values: list[str]) -> str:
    return ", ".join(repr(v) for v in values)


class VolumeAPI(GroupAPI, Actor):
    """Serves ``cinder-api.<name>``: every handler takes the caller's ``context`` first (the group
    handlers are ``GroupAPI``'s)."""

    # The handlers that only read the database and yield no effect: a caller with the actor at hand
    # (the REST layer, live) may run them on its own thread instead of queueing in the inbox.
    READS = frozenset(
        {
            "get_volume",
            "list_volumes",
            "get_volume_metadata",
            "list_volume_types",
            "get_volume_type",
            "get_default_volume_type",
        }
    )

    def __init__(self, db: Repository, policy: Policy | None = None, *, service_down_time: float = 60.0):
        self.db = db
        self.policy = policy or Policy()
        self.service_down_time = service_down_time

    # -- helpers ----------------------------------------------------------------------------------

    def _authorize(
        self, context: Mapping[str, Any], action: str, target: Mapping[str, Any] | None = None
    ) -> RequestContext:
        ctx = RequestContext.from_dict(context)
        self.policy.enforce(action, ctx.credentials(), target or {"project_id": ctx.project_id})
        return ctx

    def _get(self, ctx: RequestContext, volume_id: str) -> dict[str, Any]:
        """The volume, or 404 also when it belongs to a project the caller cannot see."""
        volume = self.db.volume_get(volume_id)
        if not ctx.is_admin and volume["project_id"] != ctx.project_id:
            raise exception.VolumeNotFound(volume_id=volume_id)
        return volume

    def _new_id(self) -> Gen:
        bits = yield Draw("ids", "getrandbits", (128,))
        return str(uuid.UUID(int=bits, version=4))

    def _unused_id(self, taken: Callable[[str], bool]) -> Gen:
        """A fresh id that is not ``taken`` in the database: ids come from a seeded stream, so a second
        run with the same seed on a database that outlived the first would draw the first's ids again.
        On a fresh database nothing is taken and the draws (and so the trace) are unchanged."""
        while True:
            candidate = yield from self._new_id()
            if not taken(candidate):
                return candidate

    def _volume_taken(self, volume_id: str) -> bool:
        try:
            self.db.volume_get(volume_id)
        except exception.VolumeNotFound:
            return False
        return True

    def _type_taken(self, type_id: str) -> bool:
        try:
            self.db.volume_type_get(type_id)
        except exception.VolumeTypeNotFound:
            return False
        return True

    def _op_id(self) -> Gen:
        """The id of one accepted state-changing request, carried by everything it causes."""
        return "op-" + (yield from self._new_id())

    # -- volumes ----------------------------------------------------------------------------------

    def create_volume(
        self,
        context: Mapping[str, Any],
        size: int,
        name: str | None = None,
        volume_type: str | None = None,
        *,
        description: str | None = None,
        metadata: Mapping[str, str] | None = None,
        group_id: str | None = None,
    ) -> Gen:
        ctx = self._authorize(context, "volume:create")
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise exception.InvalidInput(reason=f"size must be a whole number of GiB >= 1, got {size!r}")
        _check_metadata(metadata or {})
        type_id = None
        if volume_type:
            try:
                type_id = self.db.volume_type_get(volume_type)["id"]
            except exception.VolumeTypeNotFound:
                type_id = self.db.volume_type_get_by_name(volume_type)["id"]
        if group_id is not None:
            self.check_volume_group(context, group_id, type_id)
        volume_id = yield from self._unused_id(self._volume_taken)
        volume = self.db.volume_create(
            {
                "id": volume_id,
                "project_id": ctx.project_id,
                "user_id": ctx.user_id,
                "display_name": name,
                "display_description": description,
                "metadata": dict(metadata or {}),
                "size": size,
                "status": CREATING,
                "volume_type_id": type_id,
                "replication_status": "disabled",
                **({"group_id": group_id} if group_id is not None else {}),
            },
            within_quota=True,
        )
        yield rpcapi.schedule_create_volume(context, volume_id, (yield from self._op_id()))
        return volume

    def get_volume(self, context: Mapping[str, Any], volume_id: str) -> dict[str, Any]:
        ctx = self._authorize(context, "volume:get")
        return self._get(ctx, volume_id)

    def list_volumes(self, context: Mapping[str, Any], all_tenants: bool = True) -> list[dict[str, Any]]:
        ctx = self._authorize(context, "volume:get_all")
        if ctx.is_admin and all_tenants:
            return self.db.volume_get_all()
        return self.db.volume_get_all(project_id=ctx.project_id)

    def delete_volume(self, context: Mapping[str, Any], volume_id: str) -> Gen:
        ctx = RequestContext.from_dict(context)
        volume = self._get(ctx, volume_id)
        self._authorize(context, "volume:delete", volume)
        self._check_not_frozen(volume)
        deletable = (AVAILABLE, VOLUME_ERROR, ERROR_DELETING)
        if volume["group_id"]:  # a group's volumes go with it (delete_group with delete-volumes)
            raise exception.InvalidVolume(reason=IN_GROUP)
        if volume["status"] not in deletable or volume["replication_status"] in TRANSITIONAL:
            raise exception.InvalidVolume(
                reason=f"volume {volume_id} cannot be deleted while its status is {volume['status']!r} "
                f"and its replication status is {volume['replication_status']!r}; the status must "
                f"be one of {_listing(list(deletable))} and replication must not be in progress."
            )
        claimed = self.db.volume_conditional_update(
            volume_id, {"status": deletable, "replication_status": NOT_BUSY}, {"status": DELETING}
        )
        if claimed is None:
            raise exception.InvalidVolume(reason=f"volume {volume_id} changed state; try again")
        if not volume["host"]:
            self.db.volume_destroy(volume_id)
            return None
        yield rpcapi.delete_volume(context, volume, (yield from self._op_id()))
        return None

    def update_volume(self, context: Mapping[str, Any], volume_id: str, **values: Any) -> dict[str, Any]:
        """``PUT /volumes/{id}`` and ``os-set_bootable``: the owner's own fields, nothing of state."""
        ctx = RequestContext.from_dict(context)
        volume = self._get(ctx, volume_id)
        self._authorize(context, "volume:update", volume)
        unknown = sorted(set(values) - set(_UPDATABLE))
        if unknown:
            raise exception.InvalidInput(reason=f"cannot update {', '.join(unknown)}")
        for key, value in values.items():
            if not isinstance(value, _UPDATABLE[key]):
                raise exception.InvalidInput(reason=f"{key} cannot be {value!r}")
        if "metadata" in values:
            _check_metadata(values["metadata"])
        return self.db.volume_update(volume_id, values)

    def get_volume_metadata(self, context: Mapping[str, Any], volume_id: str) -> dict[str, str]:
        ctx = RequestContext.from_dict(context)
        volume = self._get(ctx, volume_id)
        self._authorize(context, "volume:get_volume_metadata", volume)
        return volume["metadata"]

    def update_volume_metadata(
        self, context: Mapping[str, Any], volume_id: str, metadata: Mapping[str, str], delete: bool = False
    ) -> dict[str, str]:
        """Merge ``metadata`` into the volume's, or with ``delete`` replace it; returns the result."""
        ctx = RequestContext.from_dict(context)
        volume = self._get(ctx, volume_id)
        self._authorize(context, "volume:update_volume_metadata", volume)
        _check_metadata(metadata)
        merged = dict(metadata) if delete else {**volume["metadata"], **metadata}
        return self.db.volume_update(volume_id, {"metadata": merged})["metadata"]

    def delete_volume_metadata(self, context: Mapping[str, Any], volume_id: str, key: str) -> None:
        ctx = RequestContext.from_dict(context)
        volume = self._get(ctx, volume_id)
        self._authorize(context, "volume:delete_volume_metadata", volume)
        if key not in volume["metadata"]:
            raise exception.MetadataNotFound(volume_id=volume_id, key=key)
        metadata = {k: v for k, v in volume["metadata"].items() if k != key}
        self.db.volume_update(volume_id, {"metadata": metadata})

    def extend_volume(self, context: Mapping[str, Any], volume_id: str, new_size: int) -> dict[str, Any]:
        """Grow an available volume. The driver contract has no extend, so the new size is recorded
        here, atomically from the size and status read; the emulated arrays do not see it."""
        ctx = RequestContext.from_dict(context)
        volume = self._get(ctx, volume_id)
        self._authorize(context, "volume:extend", volume)
        self._check_not_frozen(volume)
        if volume["status"] != AVAILABLE:
            raise exception.InvalidVolume(
                reason=f"Volume {volume_id} status must be available to extend, but current status "
                f"is: {volume['status']}."
            )
        if isinstance(new_size, bool) or not isinstance(new_size, int) or new_size <= volume["size"]:
            raise exception.InvalidInput(
                reason=f"New size for extend must be greater than current size. (current: "
                f"{volume['size']}, extended: {new_size})."
            )
        extended = self.db.volume_conditional_update(
            volume_id, {"status": AVAILABLE, "size": volume["size"]}, {"size": new_size}, within_quota=True
        )
        if extended is None:
            raise exception.InvalidVolume(reason=f"volume {volume_id} changed while extending; try again")
        return extended

    def reset_status(
        self,
        context: Mapping[str, Any],
        volume_id: str,
        status: str | None = None,
        attach_status: str | None = None,
        migration_status: str | None = None,
    ) -> dict[str, Any]:
        """The admin's override of a volume's statuses; replication's own status is not among them."""
        ctx = RequestContext.from_dict(context)
        volume = self._get(ctx, volume_id)
        self._authorize(context, "volume_extension:volume_admin_actions:reset_status", volume)
        update: dict[str, Any] = {}
        for key, value, valid in (
            ("status", status, VOLUME_STATUSES),
            ("attach_status", attach_status, ATTACH_STATUSES),
            ("migration_status", migration_status, MIGRATION_STATUSES),
        ):
            if not value:
                continue
            if not isinstance(value, str) or value.lower() not in valid:
                raise exception.InvalidParameterValue(
                    err=f"Volume {key.replace('_', ' ')}: {value} is invalid, valid statuses are: "
                    f"{', '.join(valid)}."
                )
            update[key] = value.lower()
        if not update:
            raise exception.InvalidParameterValue(
                err="Must specify 'status', 'attach_status' or 'migration_status' for update."
            )
        if update.get("status") in (DELETING, ERROR_DELETING, "detaching", "in-use"):
            raise exception.InvalidInput(reason=f"Cannot reset-state to {update['status']}")
        if update.get("migration_status") == "none":
            update["migration_status"] = None
        return self.db.volume_update(volume_id, update)

    def update_readonly_flag(self, context: Mapping[str, Any], volume_id: str, readonly: bool) -> None:
        ctx = RequestContext.from_dict(context)
        volume = self._get(ctx, volume_id)
        self._authorize(context, "volume:update_readonly_flag", volume)
        if not isinstance(readonly, bool):
            raise exception.InvalidInput(reason=f"readonly must be a boolean, got {readonly!r}")
        admin_metadata = {**volume["admin_metadata"], "readonly": str(readonly)}
        self.db.volume_update(volume_id, {"admin_metadata": admin_metadata})

    # -- volume types ------------------------------------------------------------------------------

    def create_volume_type(
        self,
        context: Mapping[str, Any],
        name: str,
        extra_specs: Mapping[str, str] | None = None,
        description: str | None = None,
    ) -> Gen:
        self._authorize(context, "volume_extension:types_manage")
        if not isinstance(name, str) or not name.strip():
            raise exception.InvalidInput(reason="a volume type needs a non-empty name")
        _check_specs(extra_specs or {})
        type_id = yield from self._unused_id(self._type_taken)
        return self.db.volume_type_create(type_id, name, dict(extra_specs or {}), description)

    def list_volume_types(self, context: Mapping[str, Any]) -> list[dict[str, Any]]:
        return self.db.volume_type_get_all()

    def get_volume_type(self, context: Mapping[str, Any], type_id: str) -> dict[str, Any]:
        return self.db.volume_type_get(type_id)

    def get_default_volume_type(self, context: Mapping[str, Any]) -> dict[str, Any]:
        """The type an untyped volume has: Cinder's ``__DEFAULT__`` (replisim has no per-project default)."""
        return self.db.volume_type_get(DEFAULT_TYPE_ID)

    def update_volume_type(
        self,
        context: Mapping[str, Any],
        type_id: str,
        name: str | None = None,
        description: str | None = None,
    ) -> dict[str, Any]:
        """Rename a type or change its description; the default type keeps its name."""
        self._authorize(context, "volume_extension:types_manage")
        values: dict[str, Any] = {}
        if name is not None:
            if not isinstance(name, str) or not name.strip():
                raise exception.InvalidInput(reason="a volume type needs a non-empty name")
            if type_id == DEFAULT_TYPE_ID and name != DEFAULT_TYPE_NAME:
                raise exception.InvalidVolumeType(reason="the default volume type cannot be renamed")
            values["name"] = name
        if description is not None:
            values["description"] = description
        if not values:
            return self.db.volume_type_get(type_id)
        return self.db.volume_type_update(type_id, values)

    def delete_volume_type(self, context: Mapping[str, Any], type_id: str) -> None:
        self._authorize(context, "volume_extension:types_manage")
        if type_id == DEFAULT_TYPE_ID:
            raise exception.InvalidVolumeType(reason="the default volume type cannot be deleted")
        in_use = [v["id"] for v in self.db.volume_get_all() if v["volume_type_id"] == type_id]
        if in_use:
            raise exception.InvalidVolumeType(reason=f"type {type_id} is used by {len(in_use)} volume(s)")
        self.db.volume_type_delete(type_id)

    def set_extra_specs(
        self, context: Mapping[str, Any], type_id: str, extra_specs: Mapping[str, str]
    ) -> dict[str, str]:
        self._authorize(context, "volume_extension:types_extra_specs")
        _check_specs(extra_specs)
        return self.db.volume_type_extra_specs_update(type_id, dict(extra_specs))

    def unset_extra_spec(self, context: Mapping[str, Any], type_id: str, key: str) -> None:
        self._authorize(context, "volume_extension:types_extra_specs")
        self.db.volume_type_extra_specs_delete(type_id, key)

    # -- services -----------------------------------------------------------------------------------

    def list_services(self, context: Mapping[str, Any]) -> Gen:
        self._authorize(context, "volume_extension:services:index")
        now = yield Now()
        return [
            {**s, "state": "up" if now - s["updated_at"] <= self.service_down_time else "down"}
            for s in self.db.service_get_all()
        ]

    # -- host failover (Replication V2.1), freeze and thaw: Cinder 29's volume API -------------------

    def _services_for(self, host: Any) -> list[dict[str, Any]]:
        """The volume services ``host`` names, as Cinder's host filter matches: the exact
        ``host@backend``, or every backend of a bare ``host``; one backend only."""
        if not isinstance(host, str) or not host:
            raise exception.InvalidInput(reason="Host field is missing.")
        found = [
            s
            for s in self.db.service_get_all(binary=VOLUME_TOPIC)
            if s["host"] == host or ("@" not in host and "#" not in host and s["host"].startswith(host + "@"))
        ]
        if not found:
            raise exception.InvalidInput(f"No service found with host={host}")
        if any(s["host"] != found[0]["host"] for s in found):
            raise exception.InvalidParameterValue("Services from different clusters found.")
        return found

    def _replication_change(
        self, host: Any, field: str, expected: Any, new: Any, *, check_up: bool = False
    ) -> Gen:
        """Cinder's ``_replication_db_change``: claim the change on each service, atomically."""
        services = self._services_for(host)
        now = yield Now()
        changed, refused = [], []
        for service in services:
            up = now - service["updated_at"] <= self.service_down_time
            if (not check_up or up) and self.db.service_conditional_update(
                service["host"], VOLUME_TOPIC, {field: expected}, {field: new}
            ):
                changed.append(service)
            else:
                refused.append(service["host"])
        if not changed:
            up_text = "and must be up " if check_up else ""
            raise exception.InvalidInput(
                reason=f"No service could be changed: {field} in {refused!r} must be {expected!r} "
                f"{up_text}to failover."
            )
        return changed[0]

    def failover_host(self, context: Mapping[str, Any], host: Any = None, backend_id: Any = None) -> Gen:
        """Fail the backend over to ``backend_id`` (None: the driver's choice; 'default': back)."""
        self._authorize(context, "volume:failover_host")
        if backend_id is not None and not isinstance(backend_id, str):
            raise exception.InvalidInput(reason=f"backend_id must be a string or null, got {backend_id!r}")
        service = yield from self._replication_change(
            host, "replication_status", list(SERVICE_FAILOVER_FROM), FAILING_OVER, check_up=True
        )
        op_id = yield from self._op_id()
        try:
            yield rpcapi.failover_host(context, service["host"], op_id, backend_id)
        except KernelError as exc:
            self.db.service_conditional_update(
                service["host"],
                VOLUME_TOPIC,
                {"replication_status": FAILING_OVER},
                {"replication_status": service["replication_status"]},
            )
            raise exception.InvalidInput(reason=f"Cannot fail over {service['host']}: {exc}") from None

    def freeze_host(self, context: Mapping[str, Any], host: Any = None) -> Gen:
        """Refuse modifications on the backend until a thaw; its manager disables the service."""
        self._authorize(context, "volume:freeze_host")
        service = yield from self._replication_change(host, "frozen", False, True)
        yield from self._service_call(rpcapi.freeze_host(context, service["host"]))

    def thaw_host(self, context: Mapping[str, Any], host: Any = None) -> Gen:
        """Allow modifications again; the error text when the driver refused (the service stays
        disabled, as Cinder leaves it), else None."""
        self._authorize(context, "volume:thaw_host")
        service = yield from self._replication_change(host, "frozen", True, False)
        if not (yield from self._service_call(rpcapi.thaw_host(context, service["host"]))):
            return "Backend reported error during thaw_host operation."
        return None

    def _service_call(self, call: Any) -> Gen:
        try:
            return (yield call)
        except RemoteError as err:
            raise err.cause from None
        except (MessagingTimeout, KernelError) as exc:
            raise exception.VolumeBackendAPIException(
                data=f"{call.target.server} did not answer: {exc}"
            ) from None

    def set_service_disabled(
        self,
        context: Mapping[str, Any],
        host: Any = None,
        binary: Any = None,
        disabled: bool = True,
        reason: str | None = None,
    ) -> dict[str, Any]:
        """``os-services`` enable / disable / disable-log-reason. As in Cinder 29, plain enable and
        disable answer but change nothing (its controller saves the service unchanged); only a
        disable with a reason disables it."""
        self._authorize(context, "volume_extension:services:update")
        if not isinstance(host, str) or not host:
            raise exception.InvalidInput(reason="Host field is missing.")
        service = self.db.service_get(host, str(binary))  # ServiceNotFound: 404
        if reason is None:
            return service
        return self.db.service_update_or_create(
            host, str(binary), {"disabled": True, "disabled_reason": reason}
        )

    def reset_active_backend(self, context: Mapping[str, Any], host: Any = None) -> dict[str, Any]:
        """Cinder's ``cinder-manage reset_active_backend`` (the admin's way out of failover-error,
        or back to the backend's own array by hand): only a frozen, disabled service; it becomes
        enabled on its own array, still frozen. The database only: the driver is not told."""
        self._authorize(context, "volume:reset_active_backend")
        try:
            service = self.db.service_get(str(host), VOLUME_TOPIC)
        except exception.ServiceNotFound:
            raise exception.InvalidInput(f"No service found with host={host}") from None
        if not service["disabled"] or not service["frozen"]:
            raise exception.InvalidInput(f"Service for host {host} must first be frozen.")
        reset = self.db.service_conditional_update(
            service["host"],
            VOLUME_TOPIC,
            {"frozen": True, "disabled": True},
            {
                "disabled": False,
                "disabled_reason": "",
                "active_backend_id": None,
                "replication_status": ENABLED,
            },
        )
        if reset is None:
            raise exception.InvalidInput(f"Service for host {host} changed meanwhile; try again.")
        return reset

    def _check_not_frozen(self, volume: Mapping[str, Any], action: str | None = None) -> None:
        """Cinder's refusal on a frozen backend; and (replisim keeps the seed's per-volume actions)
        no per-volume ``action`` while the whole backend is failing over."""
        if not volume.get("host"):
            return
        try:
            service = self.db.service_get(backend_host(volume["host"]), VOLUME_TOPIC)
        except exception.ServiceNotFound:
            return
        if service["frozen"]:
            raise exception.InvalidInput(reason=FROZEN_MESSAGE)
        if action is not None and service["replication_status"] == FAILING_OVER:
            raise exception.InvalidVolume(
                reason=f"Cannot {action} for volume {volume['id']} while its backend "
                f"{service['host']} is failing over."
            )

    # -- quotas, limits and pools -------------------------------------------------------------------

    def _type_names(self) -> dict[str, str]:
        """Volume type id -> name: each type has quota resources of its own (``volumes_<name>``)."""
        return {t["id"]: t["name"] for t in self.db.volume_type_get_all()}

    def _limits(self, project_id: str, types: Mapping[str, str]) -> dict[str, int]:
        return quotas.limits(
            types.values(), self.db.quota_class_get(quotas.DEFAULT_CLASS), self.db.quota_get(project_id)
        )

    def get_quotas(self, context: Mapping[str, Any], project_id: str, usage: bool = False) -> dict[str, Any]:
        """A project's limits; with ``usage``, each as ``{limit, in_use, reserved}``."""
        self._authorize(context, "volume_extension:quotas:show", {"project_id": project_id})
        return self._quota_set(project_id, usage)

    def _quota_set(self, project_id: str, usage: bool) -> dict[str, Any]:
        types = self._type_names()
        limits = self._limits(project_id, types)
        if not usage:
            return limits
        used = self.db.quota_usage(project_id).in_use(types)
        return {r: {"limit": n, "in_use": used.get(r, 0), "reserved": 0} for r, n in limits.items()}

    def get_quota_defaults(self, context: Mapping[str, Any], project_id: str) -> dict[str, int]:
        self._authorize(context, "volume_extension:quotas:show", {"project_id": project_id})
        return quotas.limits(self._type_names().values(), self.db.quota_class_get(quotas.DEFAULT_CLASS))

    def update_quotas(
        self, context: Mapping[str, Any], project_id: str, limits: Mapping[str, Any]
    ) -> dict[str, int]:
        """Set some of a project's limits; none below what the project already uses."""
        self._authorize(context, "volume_extension:quotas:update", {"project_id": project_id})
        types = self._type_names()
        values = quotas.parse(limits, quotas.resources(types.values()), what="quota set")
        quotas.check_not_below_usage(values, self.db.quota_usage(project_id).in_use(types))
        self.db.quota_update(project_id, values)
        return self._limits(project_id, types)

    def delete_quotas(self, context: Mapping[str, Any], project_id: str) -> None:
        """Back to the default class's limits."""
        self._authorize(context, "volume_extension:quotas:delete", {"project_id": project_id})
        self.db.quota_destroy(project_id)

    def get_quota_class(self, context: Mapping[str, Any], class_name: str) -> dict[str, int]:
        self._authorize(context, "volume_extension:quota_classes:get")
        return self._class_limits(class_name, self._type_names())

    def _class_limits(self, class_name: str, types: Mapping[str, str]) -> dict[str, int]:
        default = self.db.quota_class_get(quotas.DEFAULT_CLASS)
        own = default if class_name == quotas.DEFAULT_CLASS else self.db.quota_class_get(class_name)
        return quotas.limits(types.values(), default, own)

    def update_quota_class(
        self, context: Mapping[str, Any], class_name: str, limits: Mapping[str, Any]
    ) -> dict[str, int]:
        self._authorize(context, "volume_extension:quota_classes:update")
        if not isinstance(class_name, str) or not 1 <= len(class_name) <= 255:
            raise exception.InvalidInput(reason="a quota class's name is 1 to 255 characters")
        types = self._type_names()
        values = quotas.parse(limits, quotas.resources(types.values()), what="quota class set")
        self.db.quota_class_update(class_name, values)
        return self._class_limits(class_name, types)

    def get_limits(self, context: Mapping[str, Any]) -> dict[str, Any]:
        """The caller's own project's limits and usage, as ``GET /limits`` shows them."""
        ctx = self._authorize(context, "limits_extension:used_limits")
        return self._quota_set(ctx.project_id, usage=True)

    def get_pools(
        self, context: Mapping[str, Any], name: str | None = None, volume_type: str | None = None
    ) -> Gen:
        """The pools of the volume services that are up and enabled (as Cinder's scheduler knows
        them), each with the capabilities its last report gave; by pool name and by the volume
        type whose extra specs a pool meets."""
        self._authorize(context, "scheduler_extension:scheduler_stats:get_pools")
        specs = None
        if volume_type is not None:
            try:
                specs = self.db.volume_type_get(volume_type)["extra_specs"]
            except exception.VolumeTypeNotFound:
                specs = self.db.volume_type_get_by_name(volume_type)["extra_specs"]
        now = yield Now()
        pools = []
        for service in self.db.service_get_all(binary=VOLUME_TOPIC):
            capabilities = service["capabilities"]
            if (
                not capabilities
                or service["disabled"]
                or now - service["updated_at"] > self.service_down_time
            ):
                continue
            pool = {"pool_name": pool_name(capabilities), **capabilities}
            pool.pop("pools", None)
            entry = {"name": f"{service['host']}#{pool['pool_name']}", "capabilities": pool}
            if name not in (None, entry["name"]) or (specs is not None and unmet_specs(pool, specs)):
                continue
            pools.append(entry)
        return sorted(pools, key=lambda p: p["name"])

    # -- replication: the seed's four admin actions --------------------------------------------------

    def enable_replication(self, context: Mapping[str, Any], volume_id: str) -> Gen:
        volume, previous = self._begin(context, volume_id, ENABLE)
        op_id = yield from self._op_id()
        yield from self._send(volume, previous, ENABLE, rpcapi.enable_replication(context, volume, op_id))

    def disable_replication(self, context: Mapping[str, Any], volume_id: str) -> Gen:
        volume, previous = self._begin(context, volume_id, DISABLE)
        op_id = yield from self._op_id()
        yield from self._send(volume, previous, DISABLE, rpcapi.disable_replication(context, volume, op_id))

    def failover_replication(
        self, context: Mapping[str, Any], volume_id: str, secondary: str | None = None
    ) -> Gen:
        if secondary is not None and not isinstance(secondary, str):
            raise exception.InvalidInput(reason=f"secondary must be a string, got {secondary!r}")
        volume, previous = self._begin(context, volume_id, FAILOVER)
        op_id = yield from self._op_id()
        yield from self._send(
            volume, previous, FAILOVER, rpcapi.failover_replication(context, volume, op_id, secondary)
        )

    def reset_replication_status(
        self, context: Mapping[str, Any], volume_id: str, replication_status: Any = None
    ) -> dict[str, Any]:
        """replisim's admin way out of replication ``error``, which Cinder's ``os-reset_status``
        cannot change: the database only (the arrays are not touched), to a stable status,
        saying who reset it and from what. A later report from the arrays still overrides it."""
        ctx = self._authorize(context, "volume:reset_replication_status")
        volume = self._get(ctx, volume_id)
        if replication_status not in RESETTABLE_TO:
            raise exception.InvalidInput(
                reason=f"replication_status must be one of {_listing(list(RESETTABLE_TO))}, "
                f"got {replication_status!r}"
            )
        current = volume["replication_status"]
        reason = (
            f"reset from {current!r} to {replication_status!r} by admin {ctx.user_id}; "
            "the arrays were not changed"
        )
        reset = self.db.volume_conditional_update(
            volume_id,
            {"replication_status": ERROR},
            {
                "replication_status": replication_status,
                "previous_replication_status": replication_status,
                "replication_extended_status": reason,
            },
        )
        if reset is None:
            raise exception.InvalidVolume(
                reason=f"Cannot reset the replication status of volume {volume_id} while it is "
                f"{self.db.volume_get(volume_id)['replication_status']!r}; only 'error' can be reset "
                "(the other statuses have actions of their own)."
            )
        return reset

    def list_replication_targets(self, context: Mapping[str, Any], volume_id: str) -> Gen:
        ctx = self._authorize(context, "volume:list_replication_targets")
        volume = self._get(ctx, volume_id)
        if not volume["host"]:
            raise exception.InvalidVolume(reason=f"volume {volume_id} has no host yet")
        try:
            return (yield rpcapi.list_replication_targets(context, volume))
        except RemoteError as err:  # the manager's own exception, not the transport's
            raise err.cause from None
        except MessagingTimeout:
            raise exception.VolumeBackendAPIException(
                data=f"{backend_host(volume['host'])} did not answer in time."
            ) from None

    def _begin(
        self, context: Mapping[str, Any], volume_id: str, action: AdminAction
    ) -> tuple[dict[str, Any], str | None]:
        """Policy, existence, capability and state checks; then the transitional status, atomically.

        Returns the updated volume and the replication status it had before."""
        ctx = self._authorize(context, action.policy)
        volume = self._get(ctx, volume_id)
        self._check_not_frozen(volume, action.verb)
        self._check_replicable(volume, action)
        valid = list(action.valid)
        allowed: tuple[Any, ...] = (*valid, None) if action.when_absent in valid else tuple(valid)
        current = volume["replication_status"]
        # Claimed from exactly the status read, so the one recorded as previous is the one it had
        # (a failed or unknown outcome, and a transient error later, come back to it).
        claimed = (
            None
            if current not in allowed or volume["status"] not in RESTING
            else self.db.volume_conditional_update(
                volume_id,
                {"replication_status": current, "status": RESTING},
                {"replication_status": action.transitional, "previous_replication_status": current},
            )
        )
        if claimed is None:
            now = self.db.volume_get(volume_id)
            if now["status"] not in RESTING:
                raise exception.InvalidVolume(
                    reason=f"Cannot {action.verb} for volume {volume_id} while its status is "
                    f"{now['status']!r}; the status must be one of {_listing(list(RESTING))}."
                )
            current = now["replication_status"] or action.when_absent
            raise exception.InvalidVolume(
                reason=f"Cannot {action.verb} for volume {volume_id} while its replication status is "
                f"{current!r}; the valid states are {_listing(valid)}."
            )
        return claimed, volume["replication_status"]

    def _send(self, volume: Mapping[str, Any], previous: str | None, action: AdminAction, cast: Any) -> Gen:
        """Cast to the manager; if no manager serves the host, undo the transitional status."""
        try:
            yield cast
        except KernelError as exc:
            self.db.volume_conditional_update(
                volume["id"], {"replication_status": action.transitional}, {"replication_status": previous}
            )
            raise exception.InvalidVolume(
                reason=f"Cannot {action.verb} for volume {volume['id']}: {exc}"
            ) from None

    def _check_replicable(self, volume: Mapping[str, Any], action: AdminAction) -> None:
        """Beyond the seed: the type must ask for replication and the backend must offer it."""
        volume_id = volume["id"]
        if not volume["host"]:
            raise exception.InvalidVolume(
                reason=f"Cannot {action.verb} for volume {volume_id}: "
                "it has not been placed on a backend yet."
            )
        specs = (
            self.db.volume_type_get(volume["volume_type_id"])["extra_specs"]
            if volume["volume_type_id"]
            else {}
        )
        if not wants_replication(specs):
            raise exception.InvalidVolume(
                reason=f"Cannot {action.verb} for volume {volume_id}: its volume type does not ask for "
                "replication (extra spec 'replication' = 'enabled')."
            )
        host = backend_host(volume["host"])
        try:
            capabilities = self.db.service_get(host, VOLUME_TOPIC)["capabilities"] or {}
        except exception.ServiceNotFound:
            capabilities = {}
        if capabilities.get("replication_enabled") is not True:
            raise exception.InvalidVolume(
                reason=f"Cannot {action.verb} for volume {volume_id}: its backend {host} does not "
                "report replication_enabled."
            )
        if not contract.replicates_per_volume(capabilities):
            raise exception.InvalidVolume(
                reason=f"Cannot {action.verb} for volume {volume_id}: its backend {host} replicates by "
                f"host failover only (it reports {contract.PER_VOLUME}=False); fail the backend over instead."
            )


# What ``update_volume`` may change, with the types each takes.
_UPDATABLE: dict[str, tuple[type, ...]] = {
    "display_name": (str, type(None)),
    "display_description": (str, type(None)),
    "metadata": (dict,),
    "bootable": (bool,),
}


def _check_metadata(metadata: Mapping[str, Any]) -> None:
    if not isinstance(metadata, Mapping):
        raise exception.InvalidInput(reason=f"metadata must be an object, got {metadata!r}")
    for key, value in metadata.items():
        if not isinstance(key, str) or not key or len(key) > 255:
            raise exception.InvalidInput(reason=f"metadata keys are 1 to 255 characters, not {key!r}")
        if not isinstance(value, str) or len(value) > 255:
            raise exception.InvalidInput(
                reason=f"metadata values are strings of at most 255 characters, not {value!r} (key {key!r})"
            )


def _check_specs(specs: Mapping[str, Any]) -> None:
    for key, value in specs.items():
        if not isinstance(key, str) or not isinstance(value, str) or not key:
            raise exception.InvalidInput(
                reason=f"extra specs map non-empty strings to strings; {key!r}: {value!r} is not"
            )
