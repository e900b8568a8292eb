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
from replisim.sim import Actor, Draw, KernelError, MessagingTimeout, Now, RemoteError

from . import rpcapi
from .context import RequestContext
from .db import DEFAULT_TYPE_ID, DEFAULT_TYPE_NAME, Repository
from .filters import wants_replication
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
    FAILOVER,
    MIGRATION_STATUSES,
    REPLICATION_STATUSES,
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
# What an admin may reset replication_status error to: the stable statuses.
RESETTABLE_TO = (ENABLED, FAILED_OVER, DISABLED)


def _listing(values: list[str]) -> str:
    return ", ".join(repr(v) for v in values)


class VolumeAPI(Actor):
    """Serves ``cinder-api.<name>``: every handler takes the caller's ``context`` first."""

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
            }
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
        deletable = (AVAILABLE, VOLUME_ERROR, ERROR_DELETING)
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
            volume_id, {"status": AVAILABLE, "size": volume["size"]}, {"size": new_size}
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
