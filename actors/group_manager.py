"""The volume manager's generic volume groups and group replication, as Cinder 29's manager runs them.

``VolumeManager`` inherits these handlers. Each re-reads the group, requires the transitional
status the API wrote (on the group and on every one of its volumes), calls the driver's group
method through the driver host, applies the volume updates it returns and writes the final
statuses: ``enabled``, ``disabled``, ``failed-over`` (``enabled`` after a failback to
``default``). A driver error, as in Cinder, leaves the group ``error``/``error`` (and, when the
driver gave no volume updates, every volume ``error``/``error``); unlike Cinder, so does a driver
bug, a timeout or a malformed return, saying why, so nothing is left ``failing-over``. A driver
without the group lifecycle methods gets Cinder's generic behaviour (its volumes one by one).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Generator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from replisim import exception
from replisim.drivers.contract import FAILBACK, GROUP_VOLUME_UPDATE_KEYS

from .db import Repository
from .groups import is_replicated_group_type
from .idempotency import RecentRequests
from .status import (
    CREATING,
    DISABLED,
    ENABLED,
    ERROR,
    FAILED_OVER,
    GROUP_AVAILABLE,
    GROUP_DISABLE,
    GROUP_ENABLE,
    GROUP_ERROR,
    GROUP_FAILOVER,
    GROUP_TRANSITIONAL,
    GROUP_UPDATING,
    VOLUME_ERROR,
    GroupAction,
    backend_host,
    is_valid_host,
)

LOG = logging.getLogger("replisim.manager")
Gen = Generator[Any, Any, Any]
ERROR_DELETING = "error_deleting"


def _text(value: Any) -> str | None:
    """The DB keeps driver data as text; drivers may hand back any JSON-able value."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, default=str)


def _pair(result: Any, operation: str) -> tuple[dict[str, Any], list[Mapping[str, Any]]]:
    """A group method's ``(model_update, volume_updates)``, either may be None; else the driver's error."""
    if not isinstance(result, Sequence) or isinstance(result, str) or len(result) != 2:
        raise exception.VolumeDriverException(
            message=f"{operation} returned {type(result).__name__}, expected (model_update, volume_updates)"
        )
    model, updates = result
    if model is not None and not isinstance(model, Mapping):
        raise exception.VolumeDriverException(message=f"{operation}'s model update is not a dict")
    if updates is not None and (
        isinstance(updates, str | Mapping) or not all(isinstance(u, Mapping) for u in updates)
    ):
        raise exception.VolumeDriverException(message=f"{operation}'s volume updates are not a list of dicts")
    return dict(model or {}), list(updates or [])


class GroupManager:
    """Group handlers of the volume manager (one per backend)."""

    host: str
    db: Repository
    requests: RecentRequests
    working: set[str]

    if TYPE_CHECKING:  # provided by VolumeManager

        def _driver(self, operation: str, **args: Any) -> Gen: ...
        def _driver_volume(self, volume: Mapping[str, Any]) -> dict[str, Any]: ...
        def apply_replication_update(self, update: Mapping[str, Any], asked: float | None = None) -> None: ...
        @staticmethod
        def _describe(exc: BaseException) -> str: ...

    def _driver_group(self, group: Mapping[str, Any]) -> dict[str, Any]:
        """The group as a driver sees it: Cinder's fields plus its type's group specs and its
        volume types (``id``, ``name``, ``extra_specs``: Cinder's ``group.volume_types``)."""
        specs: dict[str, str] = {}
        if group.get("group_type_id"):
            try:
                specs = dict(self.db.group_type_get(group["group_type_id"])["group_specs"])
            except exception.GroupTypeNotFound:
                specs = {}
        types = []
        for type_id in group.get("volume_type_ids") or ():
            try:
                row = self.db.volume_type_get(type_id)
            except exception.VolumeTypeNotFound:
                continue
            types.append({"id": type_id, "name": row.get("name"), "extra_specs": dict(row["extra_specs"])})
        return {**group, "group_specs": specs, "volume_types": types}

    def _driver_group_with_volumes(self, group: Mapping[str, Any]) -> dict[str, Any]:
        """The group with its volumes as they are now (Cinder's ``group.volumes``, which its
        manager lazy-loads from the database wherever a driver reads it: none on a create)."""
        members = self.db.volume_get_all_by_group(group["id"])
        return {**self._driver_group(group), "volumes": [self._driver_volume(v) for v in members]}

    def _replicated_groups(self) -> list[dict[str, Any]]:
        """This backend's groups of a replicated type, each with its volumes, as Cinder 29's host
        failover hands them to the driver (``GroupList.get_all_replicated``, whatever their
        replication status); one under a group action is left to it, as its volumes are."""
        shown = []
        for group in self.db.group_get_all():
            if (
                backend_host(group.get("host") or "") != self.host
                or group["id"] in self.working
                or group.get("replication_status") in GROUP_TRANSITIONAL
            ):
                continue
            if is_replicated_group_type(self._driver_group(group)["group_specs"]):
                shown.append(self._driver_group_with_volumes(group))
        return shown

    def _first_group(self, op_id: str | None, group_id: str, action: str) -> bool:
        if group_id in self.working or not self.requests.first(op_id):
            LOG.warning(
                "%s: %s of group %s: delivered again or already at work; %s ignored",
                self.host,
                action,
                group_id,
                op_id,
            )
            return False
        return True

    # -- lifecycle ---------------------------------------------------------------------------------

    def create_group(self, context: Mapping[str, Any], group_id: str, op_id: str | None = None) -> Gen:
        if not self._first_group(op_id, group_id, "create"):
            return
        group = self.db.group_get(group_id)
        if group["status"] != CREATING:
            raise exception.InvalidGroup(reason=f"group {group_id} is {group['status']}, not creating")
        values: dict[str, Any] = {"status": GROUP_AVAILABLE}
        self.working.add(group_id)
        try:
            model = yield from self._driver(
                "create_group", context=context, group=self._driver_group_with_volumes(group)
            )
            if model is not None and not isinstance(model, Mapping):
                raise exception.VolumeDriverException(message="create_group returned no dict")
            model = dict(model or {})
            if model.get("status") == GROUP_ERROR:
                raise exception.VolumeDriverException(message="create_group set the group's status to error")
            if model.get("replication_status") in (DISABLED, ENABLED):
                values["replication_status"] = model["replication_status"]
        except NotImplementedError:
            pass  # Cinder's generic group: nothing on the array to make
        except Exception as exc:
            values = {"status": GROUP_ERROR, "status_reason": f"create failed: {self._describe(exc)}"}
        finally:
            self.working.discard(group_id)
        self.db.group_conditional_update(group_id, {"status": CREATING}, values)

    def delete_group(self, context: Mapping[str, Any], group_id: str, op_id: str | None = None) -> Gen:
        if not self._first_group(op_id, group_id, "delete"):
            return
        group = self.db.group_get(group_id)
        volumes = self.db.volume_get_all_by_group(group_id)
        shown = [self._driver_volume(v) for v in volumes]
        self.working.add(group_id)
        try:
            try:
                model, updates = _pair(
                    (
                        yield from self._driver(
                            "delete_group", context=context, group=self._driver_group(group), volumes=shown
                        )
                    ),
                    "delete_group",
                )
            except NotImplementedError:  # Cinder's generic group: its volumes one by one
                model, updates = {}, []
                for volume in shown:
                    yield from self._driver("delete_volume", volume=volume)
            if model.get("status") in (GROUP_ERROR, ERROR_DELETING):
                raise exception.VolumeDriverException(message="delete_group set the group's status to error")
        except Exception as exc:
            reason = f"delete failed: {self._describe(exc)}"
            self.db.group_update(group_id, {"status": GROUP_ERROR, "status_reason": reason})
            for volume in volumes:
                self.db.volume_update(volume["id"], {"status": ERROR_DELETING, "status_reason": reason})
            return
        finally:
            self.working.discard(group_id)
        kept = {u.get("id") for u in updates if u.get("status") in (ERROR_DELETING, VOLUME_ERROR)}
        for volume in volumes:
            if volume["id"] in kept:
                self.db.volume_update(volume["id"], {"status": ERROR_DELETING, "group_id": None})
            else:
                self.db.volume_destroy(volume["id"])
        self.db.group_destroy(group_id)

    def update_group(
        self,
        context: Mapping[str, Any],
        group_id: str,
        op_id: str | None = None,
        add_volumes: Sequence[str] = (),
        remove_volumes: Sequence[str] = (),
    ) -> Gen:
        if not self._first_group(op_id, group_id, "update"):
            return
        group = self.db.group_get(group_id)
        adding = [self._driver_volume(self.db.volume_get(v)) for v in add_volumes]
        removing = [self._driver_volume(self.db.volume_get(v)) for v in remove_volumes]
        self.working.add(group_id)
        try:
            result = yield from self._driver(
                "update_group",
                context=context,
                group=self._driver_group_with_volumes(group),
                add_volumes=adding,
                remove_volumes=removing,
            )
            if not isinstance(result, Sequence) or len(result) != 3:
                raise exception.VolumeDriverException(
                    message="update_group returned no "
                    "(model_update, add_volumes_update, remove_volumes_update)"
                )
            if isinstance(result[0], Mapping) and result[0].get("status") == GROUP_ERROR:
                raise exception.VolumeDriverException(message="update_group set the group's status to error")
        except NotImplementedError:
            pass  # Cinder's generic group: membership is the database's alone
        except Exception as exc:
            self.db.group_update(
                group_id, {"status": GROUP_ERROR, "status_reason": f"update failed: {self._describe(exc)}"}
            )
            return
        finally:
            self.working.discard(group_id)
        for volume in adding:
            self.db.volume_update(volume["id"], {"group_id": group_id})
        for volume in removing:
            self.db.volume_update(volume["id"], {"group_id": None})
        self.db.group_conditional_update(group_id, {"status": GROUP_UPDATING}, {"status": GROUP_AVAILABLE})

    # -- replication -------------------------------------------------------------------------------

    def enable_group_replication(
        self, context: Mapping[str, Any], group_id: str, op_id: str | None = None
    ) -> Gen:
        yield from self._replicate(context, group_id, op_id, GROUP_ENABLE, ENABLED)

    def disable_group_replication(
        self, context: Mapping[str, Any], group_id: str, op_id: str | None = None
    ) -> Gen:
        yield from self._replicate(context, group_id, op_id, GROUP_DISABLE, DISABLED)

    def failover_group_replication(
        self,
        context: Mapping[str, Any],
        group_id: str,
        op_id: str | None = None,
        allow_attached_volume: bool = False,
        secondary_backend_id: str | None = None,
    ) -> Gen:
        final = ENABLED if secondary_backend_id == FAILBACK else FAILED_OVER
        yield from self._replicate(
            context,
            group_id,
            op_id,
            GROUP_FAILOVER,
            final,
            allow_attached_volume=allow_attached_volume,
            secondary_backend_id=secondary_backend_id,
        )

    def _replicate(
        self,
        context: Mapping[str, Any],
        group_id: str,
        op_id: str | None,
        action: GroupAction,
        final: str,
        *,
        allow_attached_volume: bool = False,
        **args: Any,
    ) -> Gen:
        if not self._first_group(op_id, group_id, action.verb):
            return
        group = self.db.group_get(group_id)
        cannot = f"Cannot {action.verb}."
        if group["replication_status"] != action.transitional:
            raise exception.InvalidGroup(
                reason=f"Replication status in group {group_id} is not {action.transitional}. {cannot}"
            )
        volumes = self.db.volume_get_all_by_group(group_id)
        for volume in volumes:
            if action is GROUP_FAILOVER and volume["status"] == "in-use" and not allow_attached_volume:
                raise exception.InvalidVolume(
                    reason=f"Volume {volume['id']} is attached but allow_attached_volume flag is "
                    f"False. {cannot}"
                )
            if volume["replication_status"] != action.transitional:
                raise exception.InvalidVolume(
                    reason=f"Replication status in volume {volume['id']} is not "
                    f"{action.transitional}. {cannot}"
                )
        ids = {v["id"] for v in volumes}
        updated: list[Mapping[str, Any]] = []
        busy = {group_id, *ids}  # its volumes too: replication reports and the reaper leave them be
        self.working.update(busy)
        try:
            model, updated = _pair(
                (
                    yield from self._driver(
                        action.name,
                        context=context,
                        group=self._driver_group(group),
                        volumes=[self._driver_volume(v) for v in volumes],
                        **args,
                    )
                ),
                action.name,
            )
            failed = model.get("replication_status") == ERROR
            for update in updated:
                if update.get("id") not in ids:
                    raise exception.VolumeDriverException(
                        message=f"{action.name} updated volume {update.get('id')!r}, not one of the group's"
                    )
                values = {
                    k: _text(v) for k, v in update.items() if k in GROUP_VOLUME_UPDATE_KEYS and k != "id"
                }
                if "host" in values and not is_valid_host(values["host"]):
                    raise exception.VolumeDriverException(
                        message=f"{action.name} gave volume {update['id']} host {values['host']!r}, "
                        "not a 'host@backend#pool' string"
                    )
                self.db.volume_update(update["id"], values)
                failed = failed or update.get("replication_status") == ERROR
            if failed:
                raise exception.VolumeDriverException(message=f"{action.verb.capitalize()} failed.")
        except Exception as exc:
            reason = f"{action.verb} of group {group_id} failed: {self._describe(exc)}"
            LOG.error("%s: %s", self.host, reason)
            self.db.group_update(
                group_id, {"status": GROUP_ERROR, "replication_status": ERROR, "status_reason": reason}
            )
            if not updated:
                for volume in volumes:
                    self.db.volume_update(
                        volume["id"],
                        {
                            "status": VOLUME_ERROR,
                            "replication_status": ERROR,
                            "replication_extended_status": reason,
                        },
                    )
            return
        finally:
            self.working.difference_update(busy)
        for volume in volumes:
            self.db.volume_update(
                volume["id"], {"replication_status": final, "replication_extended_status": None}
            )
        self.db.group_update(group_id, {"replication_status": final, "status_reason": None})

    def report_group_errors(self, context: Mapping[str, Any]) -> Gen:
        """As Cinder 29's manager does on a report whose stats say ``replication_status: 'error'``:
        the driver names, among this backend's replicated groups, those whose replication went
        wrong, and their volumes. A group's update writes its replication status (and status); a
        volume's ``replication_status: 'error'`` is an error report on it (what the driver says
        about a volume otherwise is left to its replication updates). A driver that answers
        nothing usable is logged, and nothing is written."""
        groups = [
            g
            for g in self.db.group_get_all()
            if (g.get("host") or "").partition("#")[0] == self.host
            and g["id"] not in self.working
            and g.get("replication_status") in (ENABLED, FAILED_OVER, ERROR)
        ]
        try:
            answer = yield from self._driver(
                "get_replication_error_status",
                context=context,
                groups=[self._driver_group_with_volumes(g) for g in groups],
            )
            group_updates, volume_updates = answer
            if not all(isinstance(u, Mapping) for u in (*group_updates, *volume_updates)):
                raise TypeError("an update is not a dict")
        except Exception as exc:
            LOG.warning(
                "%s: get_replication_error_status gave nothing usable: %s", self.host, self._describe(exc)
            )
            return
        mine = {g["id"] for g in groups}
        for update in group_updates:
            values = {k: update[k] for k in ("status", "replication_status") if k in update}
            if update.get("group_id") in mine and values:
                if values.get("replication_status") == ERROR:
                    values["status_reason"] = "the driver reports the group's replication in error"
                self.db.group_update(update["group_id"], values)
        for update in volume_updates:
            if update.get("replication_status") == ERROR and isinstance(update.get("volume_id"), str):
                report = {"volid": update["volume_id"], "status": "error"}
                try:
                    self.apply_replication_update(report)
                except exception.VolumeNotFound:
                    LOG.warning("%s: replication error for unknown volume %r", self.host, update)

    def list_group_replication_targets(self, context: Mapping[str, Any], group_id: str) -> Gen:
        """``{'replication_targets': [...]}``: each target the group's volumes replicate to, as
        Cinder lists its ``replication_device`` entries (``backend_id`` and the vendor keys, secrets
        masked by the driver); a caller who is not an admin sees only each ``backend_id``."""
        group = self.db.group_get(group_id)
        targets: dict[str, dict[str, Any]] = {}
        try:
            for volume in self.db.volume_get_all_by_group(group["id"]):
                listed = yield from self._driver(
                    "list_replication_targets", context=context, volume=self._driver_volume(volume)
                )
                for target in (listed or {}).get("targets") or ():
                    device = {k: v for k, v in target.items() if k not in ("type", "backend_name")}
                    device.setdefault("backend_id", target.get("backend_name") or target.get("backend_id"))
                    targets.setdefault(str(device["backend_id"]), device)
        except Exception as exc:
            LOG.error(
                "%s: get replication targets of group %s failed: %s", self.host, group_id, self._describe(exc)
            )
            raise exception.VolumeBackendAPIException(data="Get replication targets failed.") from None
        if not context.get("is_admin"):
            return {"replication_targets": [{"backend_id": d["backend_id"]} for d in targets.values()]}
        return {"replication_targets": list(targets.values())}
