"""The API actor's generic volume groups (3.13), group types (3.11) and group replication (3.38).

``VolumeAPI`` inherits these handlers, so a REST client and a simulated workload meet the same
rules. They follow Cinder 29's ``cinder/group/api.py``: its state checks, its messages and its
policy (group actions are a project member's, not admin-only; group types are read by everyone and
written by admins). A replication action claims the group and every volume in it (the
transitional status, atomically per row, undone if any claim fails), then casts to the group's
manager (``group_manager.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from replisim import exception
from replisim.drivers.contract import GROUP_REPLICATION_SPECS
from replisim.sim import KernelError, MessagingTimeout, RemoteError

from . import rpcapi
from .context import RequestContext
from .db import CGSNAPSHOT_GROUP_TYPE_ID, Repository
from .filters import wants_replication
from .status import (
    AVAILABLE,
    CREATING,
    DISABLED,
    GROUP_ACTIONS,
    GROUP_AVAILABLE,
    GROUP_DELETING,
    GROUP_ERROR,
    GROUP_FAILOVER,
    GROUP_UPDATING,
    GroupAction,
    backend_host,
)

Gen = Generator[Any, Any, Any]
# Volume statuses in which a volume may join, or leave, a group (Cinder's names for them).
ADD_STATUSES = (AVAILABLE, "in-use")
REMOVE_STATUSES = (AVAILABLE, "in-use", "error", "error_deleting")


def is_replicated_group_type(group_specs: Mapping[str, str]) -> bool:
    """Whether a group type asks for group replication: either Cinder spec set to ``<is> True``."""
    return any(
        " ".join(str(group_specs.get(key, "")).split()).lower() == "<is> true"
        for key in GROUP_REPLICATION_SPECS
    )


def _listed(values: tuple[str, ...]) -> str:
    """A list as Cinder's messages print one (Python's repr of a list of strings)."""
    return repr(list(values))


def _id_list(text: str | None) -> list[str]:
    """``'a,b,'`` as Cinder reads ``add_volumes``: split at commas, outer commas dropped."""
    return [item for item in (text or "").strip(",").split(",") if item] if text else []


class GroupAPI:
    """Group handlers of the API actor; every one takes the caller's ``context`` first."""

    db: Repository

    if TYPE_CHECKING:  # provided by VolumeAPI

        def _authorize(
            self, context: Mapping[str, Any], action: str, target: Mapping[str, Any] | None = None
        ) -> RequestContext: ...
        def _unused_id(self, taken: Callable[[str], bool]) -> Gen: ...
        def _op_id(self) -> Gen: ...

    # -- group types -------------------------------------------------------------------------------

    def _group_type_taken(self, type_id: str) -> bool:
        try:
            self.db.group_type_get(type_id)
        except exception.GroupTypeNotFound:
            return False
        return True

    def create_group_type(
        self,
        context: Mapping[str, Any],
        name: str,
        group_specs: Mapping[str, str] | None = None,
        description: str | None = None,
        is_public: bool = True,
    ) -> Gen:
        self._authorize(context, "group:group_types_manage")
        if not isinstance(name, str) or not name.strip():
            raise exception.InvalidInput(reason="a group type needs a non-empty name")
        _check_specs(group_specs or {})
        type_id = yield from self._unused_id(self._group_type_taken)
        return self.db.group_type_create(
            type_id, name.strip(), dict(group_specs or {}), description, is_public
        )

    def list_group_types(self, context: Mapping[str, Any]) -> list[dict[str, Any]]:
        return self.db.group_type_get_all()

    def get_group_type(self, context: Mapping[str, Any], type_id: str) -> dict[str, Any]:
        return self.db.group_type_get(type_id)

    def update_group_type(
        self,
        context: Mapping[str, Any],
        type_id: str,
        name: str | None = None,
        description: str | None = None,
        is_public: bool | None = None,
    ) -> dict[str, Any]:
        self._authorize(context, "group:group_types_manage")
        values: dict[str, Any] = {}
        if name is not None:
            if not isinstance(name, str) or not name.strip():
                raise exception.InvalidInput(reason="a group type needs a non-empty name")
            values["name"] = name.strip()
        if description is not None:
            values["description"] = description
        if is_public is not None:
            values["is_public"] = is_public
        if not values:
            return self.db.group_type_get(type_id)
        return self.db.group_type_update(type_id, values)

    def delete_group_type(self, context: Mapping[str, Any], type_id: str) -> None:
        self._authorize(context, "group:group_types_manage")
        self.db.group_type_get(type_id)
        if any(g["group_type_id"] == type_id for g in self.db.group_get_all()):
            raise exception.InvalidGroupType(
                reason=f"Group Type {type_id} deletion is not allowed with groups present with the type."
            )
        self.db.group_type_delete(type_id)

    def set_group_specs(
        self, context: Mapping[str, Any], type_id: str, group_specs: Mapping[str, str]
    ) -> dict[str, str]:
        self._authorize(context, "group:group_types_specs")
        _check_specs(group_specs)
        return self.db.group_type_specs_update(type_id, dict(group_specs))

    def get_group_specs(self, context: Mapping[str, Any], type_id: str) -> dict[str, str]:
        """A group type's specs, for admins (Cinder lists them under the specs policy)."""
        self._authorize(context, "group:group_types_specs")
        return self.db.group_type_get(type_id)["group_specs"]

    def unset_group_spec(self, context: Mapping[str, Any], type_id: str, key: str) -> None:
        self._authorize(context, "group:group_types_specs")
        self.db.group_type_specs_delete(type_id, key)

    # -- groups ---------------------------------------------------------------------------------------

    def _group(self, ctx: RequestContext, group_id: str) -> dict[str, Any]:
        """The group, or 404 also when it belongs to a project the caller cannot see."""
        group = self.db.group_get(group_id)
        if not ctx.is_admin and group["project_id"] != ctx.project_id:
            raise exception.GroupNotFound(group_id=group_id)
        return group

    def _authorized_group(self, context: Mapping[str, Any], group_id: str, action: str) -> dict[str, Any]:
        group = self._group(RequestContext.from_dict(context), group_id)
        self._authorize(context, action, group)
        return group

    def _group_taken(self, group_id: str) -> bool:
        try:
            self.db.group_get(group_id)
        except exception.GroupNotFound:
            return False
        return True

    def _volume_type(self, name_or_id: str) -> dict[str, Any]:
        try:
            return self.db.volume_type_get(name_or_id)
        except exception.VolumeTypeNotFound:
            return self.db.volume_type_get_by_name(name_or_id)

    def create_group(
        self,
        context: Mapping[str, Any],
        group_type: str,
        volume_types: list[str],
        *,
        name: str | None = None,
        description: str | None = None,
        availability_zone: str | None = None,
    ) -> Gen:
        ctx = self._authorize(context, "group:create")
        try:
            type_row = self.db.group_type_get(group_type)
        except exception.GroupTypeNotFound:
            type_row = self.db.group_type_get_by_name(group_type)
        if type_row["id"] == CGSNAPSHOT_GROUP_TYPE_ID:
            raise exception.InvalidGroupType(
                reason=f"Group_type {type_row['id']} is reserved for migrating CGs to groups. Migrated "
                "group can only be operated by CG APIs."
            )
        if not volume_types:
            raise exception.InvalidInput(reason="a group needs at least one volume type")
        type_ids = list(dict.fromkeys(self._volume_type(t)["id"] for t in volume_types))
        group_id = yield from self._unused_id(self._group_taken)
        group = self.db.group_create(
            {
                "id": group_id,
                "project_id": ctx.project_id,
                "user_id": ctx.user_id,
                "name": name.strip() if name else name,
                "description": description.strip() if description else description,
                "status": CREATING,
                "replication_status": DISABLED,
                "availability_zone": availability_zone or "nova",
                "group_type_id": type_row["id"],
                "volume_type_ids": type_ids,
            }
        )
        yield rpcapi.schedule_create_group(context, group_id, (yield from self._op_id()))
        return group

    def get_group(self, context: Mapping[str, Any], group_id: str) -> dict[str, Any]:
        return self._authorized_group(context, group_id, "group:get")

    def list_groups(self, context: Mapping[str, Any], all_tenants: bool = False) -> list[dict[str, Any]]:
        ctx = self._authorize(context, "group:get_all")
        if ctx.is_admin and all_tenants:
            return self.db.group_get_all()
        return self.db.group_get_all(project_id=ctx.project_id)

    def group_volume_ids(self, context: Mapping[str, Any], group_id: str) -> list[str]:
        """The ids of the group's volumes (``list_volume``, 3.25)."""
        self._authorized_group(context, group_id, "group:get")
        return [v["id"] for v in self.db.volume_get_all_by_group(group_id)]

    def check_volume_group(
        self, context: Mapping[str, Any], group_id: str, volume_type_id: str | None
    ) -> dict[str, Any]:
        """Whether a new volume may be created in the group (Cinder's create checks): it needs a
        type, one of the group's. Returns the group."""
        group = self._authorized_group(context, group_id, "group:get")
        if not volume_type_id:
            raise exception.InvalidInput(
                reason="volume_type must be provided when creating a volume in a group."
            )
        if volume_type_id not in group["volume_type_ids"]:
            raise exception.InvalidInput(
                reason=f"Invalid volume_type provided: {volume_type_id} (requested type must be "
                "supported by this group)."
            )
        return group

    def update_group(
        self,
        context: Mapping[str, Any],
        group_id: str,
        *,
        name: str | None = None,
        description: str | None = None,
        add_volumes: str | None = None,
        remove_volumes: str | None = None,
    ) -> Gen:
        group = self._authorized_group(context, group_id, "group:update")
        name = None if name == group["name"] else name
        description = None if description == group["description"] else description
        adding, removing = _id_list(add_volumes), _id_list(remove_volumes)
        both = [v for v in adding if v in removing]
        if both:
            raise exception.InvalidVolume(reason=f"UUIDs {both} are in both add and remove volume list.")
        members = self.db.volume_get_all_by_group(group_id)
        added = self._validate_add(members, adding, group)
        removed = self._validate_remove(members, removing, group)
        if name is None and description is None and not added and not removed:
            raise exception.InvalidGroup(
                reason=f"Cannot update group {group_id} because no valid name, description, "
                "add_volumes, or remove_volumes were provided."
            )
        fields: dict[str, Any] = {}
        expected: dict[str, Any] = {}
        if name is not None:
            fields["name"] = name.strip()
        if description is not None:
            fields["description"] = description.strip()
        if added or removed:
            expected["status"] = GROUP_AVAILABLE
            fields["status"] = GROUP_UPDATING
        else:
            fields["status"] = GROUP_AVAILABLE
        if self.db.group_conditional_update(group_id, expected, fields) is None:
            raise exception.InvalidGroup(reason="Group status must be available.")
        if added or removed:
            yield rpcapi.group_cast(
                context,
                group,
                "update_group",
                (yield from self._op_id()),
                add_volumes=added,
                remove_volumes=removed,
            )
        return None

    def _validate_add(
        self, members: list[dict[str, Any]], adding: list[str], group: Mapping[str, Any]
    ) -> list[str]:
        known = {v["id"] for v in members}
        group_id = group["id"]
        added = []
        for volume_id in (v for v in adding if v not in known):
            try:
                volume = self.db.volume_get(volume_id)
            except exception.VolumeNotFound:
                raise exception.InvalidVolume(
                    reason=f"Cannot add volume {volume_id} to group {group_id} because volume cannot be "
                    "found."
                ) from None
            cannot = f"Cannot add volume {volume_id} to group {group_id}"
            if volume["group_id"]:
                raise exception.InvalidVolume(
                    reason=f"{cannot} because it is already in group {volume['group_id']}."
                )
            if volume["project_id"] != group["project_id"]:
                raise exception.InvalidVolume(reason=f"{cannot} as they belong to different projects.")
            if not volume["volume_type_id"]:
                raise exception.InvalidVolume(reason=f"{cannot} because it has no volume type.")
            if volume["volume_type_id"] not in group["volume_type_ids"]:
                raise exception.InvalidVolume(
                    reason=f"{cannot} because volume type {volume['volume_type_id']} is not supported by "
                    "the group."
                )
            if volume["status"] not in ADD_STATUSES:
                raise exception.InvalidVolume(
                    reason=f"{cannot} because volume is in an invalid state: {volume['status']}. "
                    f"Valid states are: {ADD_STATUSES}."
                )
            if backend_host(volume["host"] or "") != backend_host(group["host"] or ""):
                raise exception.InvalidVolume(reason="Volume is not local to this node.")
            added.append(volume_id)
        return added

    @staticmethod
    def _validate_remove(
        members: list[dict[str, Any]], removing: list[str], group: Mapping[str, Any]
    ) -> list[str]:
        removed = []
        for volume in members:
            if volume["id"] in removing:
                if volume["status"] not in REMOVE_STATUSES:
                    raise exception.InvalidVolume(
                        reason=f"Cannot remove volume {volume['id']} from group {group['id']} because "
                        f"volume is in an invalid state: {volume['status']}. Valid states are: "
                        f"{REMOVE_STATUSES}."
                    )
                removed.append(volume["id"])
        for volume_id in removing:
            if volume_id not in removed:
                raise exception.InvalidVolume(
                    reason=f"Cannot remove volume {volume_id} from group {group['id']} because it is "
                    "not in the group."
                )
        return removed

    def delete_group(self, context: Mapping[str, Any], group_id: str, delete_volumes: bool = False) -> Gen:
        group = self._authorized_group(context, group_id, "group:delete")
        if not group["host"]:
            self.db.group_destroy(group_id)
            return None
        if not delete_volumes and group["status"] not in (GROUP_AVAILABLE, GROUP_ERROR):
            raise exception.InvalidGroup(
                reason=f"Group status must be available or error, but current status is: {group['status']}"
            )
        volumes = self.db.volume_get_all_by_group(group_id)
        if volumes and not delete_volumes:
            raise exception.InvalidGroup(
                reason=f"Group {group_id} still contains volumes. The delete-volumes flag is required "
                "to delete it."
            )
        if any(v["attach_status"] == "attached" for v in volumes):
            raise exception.InvalidGroup(
                reason=f"Volume in group {group_id} is attached. Need to detach first."
            )
        expected = {} if delete_volumes else {"status": (GROUP_AVAILABLE, GROUP_ERROR)}
        if self.db.group_conditional_update(group_id, expected, {"status": GROUP_DELETING}) is None:
            raise exception.InvalidGroup(
                reason=f"Cannot delete group {group_id}. Group must not have attached volumes, volumes "
                "with snapshots, or dependent group snapshots, and it cannot be the source for an "
                "ongoing group or group snapshot creation."
            )
        for volume in volumes:
            self.db.volume_update(volume["id"], {"status": "deleting"})
        yield rpcapi.group_cast(context, group, "delete_group", (yield from self._op_id()))
        return None

    # -- group replication (3.38) --------------------------------------------------------------------

    def _check_group_type(self, group: Mapping[str, Any]) -> None:
        """Cinder's ``_check_type``: a replication group type, and only replicated volume types."""
        specs = (
            self.db.group_type_get(group["group_type_id"])["group_specs"] if group["group_type_id"] else {}
        )
        if not is_replicated_group_type(specs):
            raise exception.InvalidGroupType(reason=f"Group {group['id']} is not a replication group type.")
        for type_id in group["volume_type_ids"]:
            try:
                extra_specs = self.db.volume_type_get(type_id)["extra_specs"]
            except exception.VolumeTypeNotFound:
                extra_specs = {}
            if not wants_replication(extra_specs):
                raise exception.InvalidVolumeType(
                    reason=f"Volume type {type_id} does not have 'replication_enabled' spec key set to "
                    "'<is> True'."
                )

    def enable_group_replication(self, context: Mapping[str, Any], group_id: str) -> Gen:
        claims = self._begin_group(context, group_id, GROUP_ACTIONS["enable_replication"])
        yield from self._send_group(context, claims, "enable_group_replication")

    def disable_group_replication(self, context: Mapping[str, Any], group_id: str) -> Gen:
        claims = self._begin_group(context, group_id, GROUP_ACTIONS["disable_replication"])
        yield from self._send_group(context, claims, "disable_group_replication")

    def failover_group_replication(
        self,
        context: Mapping[str, Any],
        group_id: str,
        allow_attached_volume: bool = False,
        secondary_backend_id: str | None = None,
    ) -> Gen:
        if secondary_backend_id is not None and not isinstance(secondary_backend_id, str):
            raise exception.InvalidInput(
                reason=f"secondary_backend_id must be a string, got {secondary_backend_id!r}"
            )
        claims = self._begin_group(
            context, group_id, GROUP_FAILOVER, allow_attached_volume=bool(allow_attached_volume)
        )
        yield from self._send_group(
            context,
            claims,
            "failover_group_replication",
            allow_attached_volume=bool(allow_attached_volume),
            secondary_backend_id=secondary_backend_id,
        )

    def list_group_replication_targets(self, context: Mapping[str, Any], group_id: str) -> Gen:
        group = self._authorized_group(context, group_id, "group:list_replication_targets")
        self._check_group_type(group)
        if not group["host"]:
            raise exception.InvalidGroup(reason=f"group {group_id} has no host yet")
        try:
            return (yield rpcapi.list_group_replication_targets(context, group))
        except RemoteError as err:
            raise err.cause from None
        except MessagingTimeout:
            raise exception.VolumeBackendAPIException(
                data=f"{backend_host(group['host'])} did not answer in time."
            ) from None

    def _begin_group(
        self,
        context: Mapping[str, Any],
        group_id: str,
        action: GroupAction,
        *,
        allow_attached_volume: bool = False,
    ) -> _Claims:
        """Policy, type and state checks in Cinder's order, then the transitional status on the
        group and each of its volumes, each claimed from the status read (undone if one fails)."""
        group = self._authorized_group(context, group_id, action.policy)
        self._check_group_type(group)
        cannot = f"Cannot {action.verb}."
        if group["status"] not in action.group_statuses:
            raise exception.InvalidGroup(
                reason=f"Group {group_id} status must be {_listed(action.group_statuses)}, but current "
                f"status is: {group['status']}. {cannot}"
            )
        if group["replication_status"] not in action.valid:
            raise exception.InvalidGroup(
                reason=f"Group {group_id} replication status must be {_listed(action.valid)}, but "
                f"current status is: {group['replication_status']}. {cannot}"
            )
        volumes = self.db.volume_get_all_by_group(group_id)
        for volume in volumes:
            if action.volume_statuses is not None and volume["status"] not in action.volume_statuses:
                raise exception.InvalidVolume(
                    reason=f"Volume {volume['id']} status must be {_listed(action.volume_statuses)}, but "
                    f"current status is: {volume['status']}. {cannot}"
                )
            if action is GROUP_FAILOVER and volume["status"] == "in-use" and not allow_attached_volume:
                raise exception.InvalidVolume(
                    reason=f"Volume {volume['id']} is attached but allow_attached_volume flag is "
                    f"False. {cannot}"
                )
            if volume["replication_status"] not in action.valid:
                raise exception.InvalidVolume(
                    reason=f"Volume {volume['id']} replication status must be {_listed(action.valid)}, "
                    f"but current status is: {volume['replication_status']}. {cannot}"
                )
        claimed = self.db.group_conditional_update(
            group_id,
            {"status": group["status"], "replication_status": group["replication_status"]},
            {"replication_status": action.transitional},
        )
        if claimed is None:
            raise exception.InvalidGroup(reason=f"Group {group_id} changed state; try again. {cannot}")
        done: list[dict[str, Any]] = []
        for volume in volumes:
            row = self.db.volume_conditional_update(
                volume["id"],
                {"replication_status": volume["replication_status"], "status": volume["status"]},
                {
                    "replication_status": action.transitional,
                    "previous_replication_status": volume["replication_status"],
                },
            )
            if row is None:
                self._undo(_Claims(claimed, group, done), action.transitional)
                raise exception.InvalidVolume(
                    reason=f"Volume {volume['id']} changed state; try again. {cannot}"
                )
            done.append(volume)
        return _Claims(claimed, group, done)

    def _undo(self, claims: _Claims, transitional: str) -> None:
        """Give the group and the claimed volumes back the replication status each had."""
        for volume in claims.volumes:
            self.db.volume_conditional_update(
                volume["id"],
                {"replication_status": transitional},
                {"replication_status": volume["replication_status"]},
            )
        self.db.group_conditional_update(
            claims.group["id"],
            {"replication_status": transitional},
            {"replication_status": claims.before["replication_status"]},
        )

    def _send_group(self, context: Mapping[str, Any], claims: _Claims, method: str, **args: Any) -> Gen:
        """Cast to the group's manager; if none serves its host, undo the claims and say so."""
        op_id = yield from self._op_id()
        try:
            yield rpcapi.group_cast(context, claims.group, method, op_id, **args)
        except KernelError as exc:
            self._undo(claims, claims.group["replication_status"])
            raise exception.InvalidGroup(
                reason=f"Cannot reach the manager of group {claims.group['id']}: {exc}"
            ) from None


@dataclass(frozen=True)
class _Claims:
    """What a group action claimed: the group as claimed, as it was, and its volumes as they were."""

    group: dict[str, Any]
    before: dict[str, Any]
    volumes: list[dict[str, Any]]


def _check_specs(specs: Mapping[str, Any]) -> None:
    if not isinstance(specs, Mapping):
        raise exception.InvalidInput(reason=f"group_specs must be an object, got {specs!r}")
    for key, value in specs.items():
        if not isinstance(key, str) or not isinstance(value, str) or not key:
            raise exception.InvalidInput(
                reason=f"group specs map non-empty strings to strings; {key!r}: {value!r} is not"
            )
