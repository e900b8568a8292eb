"""The emulated driver: the driver contract on top of an emulated array in a fabric.

Configured from its backend's ``cinder.conf`` section like any driver. Options (all optional):
``emulated_array`` (array name, default the backend name), ``emulated_fabric`` (default
``default``), ``pool_name``, ``total_capacity_gb`` (1000), ``provisioning`` (``thin``|``thick``),
``max_over_subscription_ratio`` (20), ``replication_mode`` (``async``|``sync``),
``replication_lag_threshold`` (seconds, 60), ``replication_bandwidth_mbps`` (1000),
``replication_latency`` (seconds, 0.005), ``write_size_kb`` (64), ``replication_report_window``
(seconds, 600: how long after changing a volume's replication the driver keeps reporting its
state, in every 10th report, so a manager that missed the outcome learns it), and
``service_time_<op>`` (median seconds)
for create, delete, enable, disable, failover, stats, list, updates, setup.
Unmanaged devices (``replication_devices`` entries) name their array with ``backend_id``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from replisim import exception
from replisim.redaction import MASK, is_secret_option

from ..contract import FAILBACK, load_driver
from .array import DEFAULT_SERVICE_TIMES, Copy, EmulatedArray
from .fabric import Fabric

LOCATION_PREFIX = "emulated://"
REPORT_ROUNDS = 30  # a changed volume is in at least this many replication reports after the change
# A standing problem is said when it starts or its words change, then again every REMIND_ROUNDS
# reports (with its current figures), and a changed volume likewise through its window: a manager
# that could not apply a report (the volume was busy) learns it within that many intervals, and a
# report costs O(what changed), not O(problems) or O(volumes changed in the last window).
REMIND_ROUNDS = 10

# Each method of the driver contract -> the array's service-time entry (tests hold it to the contract).
OPERATIONS = {
    "do_setup": "setup",
    "check_for_setup_error": "setup",
    "get_volume_stats": "stats",
    "create_volume": "create",
    "delete_volume": "delete",
    "replication_enable": "enable",
    "replication_disable": "disable",
    "replication_failover": "failover",
    "list_replication_targets": "list",
    "get_replication_updates": "updates",
    "failover_host": "failover_host",
    "failover": "failover_host",
    "failover_completed": "freeze",
    "freeze_backend": "freeze",
    "thaw_backend": "freeze",
    "create_group": "create",
    "delete_group": "delete",
    "update_group": "enable",
    "enable_replication": "enable",
    "disable_replication": "disable",
    "failover_replication": "failover",
    "get_replication_error_status": "updates",
}


def location(array: str, volume_id: str) -> str:
    return f"{LOCATION_PREFIX}{array}/{volume_id}"


def _located_array(volume: Mapping[str, Any]) -> str | None:
    where = volume.get("provider_location") or ""
    if isinstance(where, str) and where.startswith(LOCATION_PREFIX):
        return where[len(LOCATION_PREFIX) :].partition("/")[0] or None
    return None


class EmulatedDriver:
    """Drives one emulated array; replicates to managed backends' arrays or unmanaged devices."""

    VERSION = "1.0.0"

    def __init__(self, configuration: Any, host: str, *, fabric: Fabric | None = None):
        self.configuration = configuration
        self.host = host
        self._node = host.partition("@")[0]
        self.backend = host.partition("@")[2].partition("#")[0]
        self.fabric = fabric or Fabric.named(self._text("emulated_fabric", "default"))
        self.array_name = self._text("emulated_array", self.backend)
        self.mode = self._choice("replication_mode", ("async", "sync"))
        self.lag_threshold = self._number("replication_lag_threshold", 60.0)
        self.report_window = self._number("replication_report_window", 600.0)
        self.managed = configuration.safe_get("managed_replication_target") is not False
        self.devices: list[Any] = list(configuration.safe_get("replication_devices") or [])
        # volumes in error -> (what was said, reports until it is said again); each is owed an 'ok'
        self._said: dict[str, list[Any]] = {}  # [(reason, target or primary), reports left]
        self._lost: set[tuple[str, str]] = set()  # (operation, volume id) a controller restart ate
        # host failover (V2.1): the target this backend serves from (None: its own array), and
        # that array's name
        self.active_backend_id: str | None = None
        self.active_array: str | None = None
        # Known from the start, not from set-up: a peer whose array is down or paused when this
        # backend starts is still a managed backend (a failover to it moves the volume's host).
        self.fabric.set_owner(self.array_name, self.backend)

    # -- configuration ---------------------------------------------------------------------------

    def _text(self, option: str, default: str) -> str:
        value = self.configuration.safe_get(option)
        return str(value).strip() if value not in (None, "") else default

    def _number(self, option: str, default: float) -> float:
        value = self.configuration.safe_get(option)
        if value in (None, ""):
            return default
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise exception.InvalidConfigurationValue(option=option, value=value) from None
        if number < 0:
            raise exception.InvalidConfigurationValue(option=option, value=value)
        return number

    def _choice(self, option: str, choices: tuple[str, ...]) -> str:
        value = self._text(option, choices[0]).lower()
        if value not in choices:
            raise exception.InvalidConfigurationValue(option=option, value=value)
        return value

    @property
    def array(self) -> EmulatedArray:
        return self.fabric.array(self.array_name)

    def _target_arrays(self) -> list[str]:
        """Array names this backend replicates to, in configuration order."""
        if self.managed:
            return [self.fabric.array_of(str(name)) for name in self.devices]
        return [str(d.get("backend_id") or d.get("target_device_id") or "") for d in self.devices]

    # -- the contract: set-up and stats -----------------------------------------------------------

    def do_setup(self, context: Any) -> None:
        array = self.array
        array.pool = self._text("pool_name", self.backend)
        array.capacity_gb = self._number("total_capacity_gb", 1000.0)
        array.thin = self._choice("provisioning", ("thin", "thick")) == "thin"
        array.max_over_subscription_ratio = self._number("max_over_subscription_ratio", 20.0)
        array.write_size_kb = self._number("write_size_kb", 64.0)
        for operation in DEFAULT_SERVICE_TIMES:
            array.service_times[operation] = self._number(
                f"service_time_{operation}", DEFAULT_SERVICE_TIMES[operation]
            )
        self.fabric.set_owner(self.array_name, self.backend)
        bandwidth = self._number("replication_bandwidth_mbps", 0.0) or None
        latency = self.configuration.safe_get("replication_latency")
        for target in self._target_arrays():
            if target:
                self.fabric.configure_link(
                    self.array_name,
                    target,
                    bandwidth_mbps=bandwidth,
                    latency=None if latency is None else self._number("replication_latency", 0.0),
                )

    def check_for_setup_error(self) -> None:
        if self.managed and any(not isinstance(name, str) for name in self.devices):
            raise exception.InvalidConfigurationValue(option="replication_devices", value="<devices>")
        if not self.managed and any(not name for name in self._target_arrays()):
            raise exception.InvalidReplicationTarget(
                reason="every unmanaged replication device needs a backend_id naming its array"
            )
        self.array.require_up()

    def service_time(self, operation: str, args: Mapping[str, Any]) -> float:
        """Seconds the array takes for ``operation`` (the driver host's sim hook)."""
        array = self.fabric.array(self._array_for(args.get("volume")) or self.array_name)
        now = self.fabric.now
        if array.interrupted(now):
            self._lost.add((operation, (args.get("volume") or {}).get("id", "")))
        return array.service_time(OPERATIONS[operation], now)

    def _survive_restart(self, operation: str, volume: Mapping[str, Any]) -> None:
        """An operation a controller restart lost was never done; the caller sees an error (if it
        is still waiting: usually it has timed out and the outcome stays unknown to it)."""
        key = (operation, volume["id"])
        if key in self._lost:
            self._lost.discard(key)
            raise exception.VolumeBackendAPIException(
                data=f"array controller restarted during {operation} of volume {volume['id']}"
            )

    def get_volume_stats(self, refresh: bool = False) -> dict[str, Any]:
        array = self.fabric.array(self.active_array) if self.active_array else self.array
        array.require_up()
        targets = [t for t in self._target_arrays() if t]
        stats: dict[str, Any] = {
            "volume_backend_name": self.configuration.safe_get("volume_backend_name") or self.backend,
            "vendor_name": "replisim",
            "driver_version": self.VERSION,
            "storage_protocol": "iSCSI",
            **array.stats(self.fabric.now),
            "replication_enabled": bool(targets),
        }
        if targets:
            stats["replication_type"] = [self.mode]
            stats["replication_count"] = len(targets)
        # A group fails over at one instant, every volume to the same point: consistent.
        stats["group_replication_enabled"] = stats["consistent_group_replication_enabled"] = bool(targets)
        return stats

    # -- volumes ----------------------------------------------------------------------------------

    def _array_for(self, volume: Mapping[str, Any] | None) -> str | None:
        if not volume:
            return None
        return _located_array(volume) or self.array_name

    def create_volume(self, volume: Mapping[str, Any]) -> dict[str, Any]:
        self._survive_restart("create_volume", volume)
        self.fabric.create(self.array_name, volume["id"], int(volume["size"]))
        return {"provider_location": location(self.array_name, volume["id"])}

    def delete_volume(self, volume: Mapping[str, Any]) -> None:
        self._survive_restart("delete_volume", volume)
        array = self._array_for(volume) or self.array_name
        self.fabric.delete(array, volume["id"])

    # -- replication ------------------------------------------------------------------------------

    def replication_enable(self, context: Any, volume: Mapping[str, Any]) -> dict[str, Any]:
        self._changed(self.array_name, volume["id"])  # whatever comes of it, say so later
        self._survive_restart("replication_enable", volume)
        source = self._array_for(volume) or self.array_name
        targets = [t for t in self._target_arrays() if t and t != source]
        if not targets:
            raise exception.InvalidReplicationTarget(
                reason=f"backend {self.backend} has no replication target"
            )
        for target in targets:
            self.fabric.enable(volume["id"], source, target, self.mode)
        return {"replication_driver_data": {"primary": source, "secondaries": targets, "mode": self.mode}}

    def replication_disable(self, context: Any, volume: Mapping[str, Any]) -> dict[str, Any]:
        self._changed(self.array_name, volume["id"])  # whatever comes of it, say so later
        self._survive_restart("replication_disable", volume)
        source = self._array_for(volume) or self.array_name
        self.fabric.pause(volume["id"], source)
        return {"replication_driver_data": {"primary": source, "secondaries": [], "mode": self.mode}}

    def replication_failover(
        self, context: Any, volume: Mapping[str, Any], secondary: str | None
    ) -> dict[str, Any]:
        self._changed(self.array_name, volume["id"])  # whatever comes of it, say so later
        self._survive_restart("replication_failover", volume)
        volume_id = volume["id"]
        copies = {copy.array: copy for copy in self.fabric.copies(volume_id)}
        target = self._resolve_target(secondary, copies, volume_id)
        record = self.fabric.failover(volume_id, target)
        self.fabric.serve(volume_id, None)  # a volume's own failover moves its host too
        current = _located_array(volume) or self.array_name
        others = [name for name in copies if name != target]
        home = self.fabric.home.get(volume_id)
        result: dict[str, Any] = {
            # Back on the array it was created on, replicating: that is a failback, not a failover.
            "model_update": {
                "provider_location": location(target, volume_id),
                "replication_status": "enabled" if target == home else "failed-over",
            },
            "replication_driver_data": {
                "primary": target,
                "secondaries": others,
                "mode": record.mode,
                "lost_writes": self.fabric.lost_in(record),
                "in_sync": record.in_sync,
                "failed_over_at": record.time,
            },
        }
        owner = self.fabric.owners.get(target)
        current_owner = self.fabric.owners.get(current, self.backend)
        if owner is not None and owner != current_owner:
            hostname = self.host.partition("@")[0]
            result["host"] = f"{hostname}@{owner}#{self.fabric.array(target).pool}"
        if owner is not None:
            self._changed(target, volume_id)  # its new backend reports it from now on
        return result

    def _resolve_target(self, secondary: str | None, copies: Mapping[str, Copy], volume_id: str) -> str:
        """The copy to promote: the one named (by array or backend), else the first replica that
        is replicating. A paused replica stands still, so it is promoted only when named."""
        named = [name for name, copy in copies.items() if copy.role == "secondary" or copy.split_from]
        candidates = [name for name in named if not copies[name].paused]
        if secondary is None:
            if not candidates:
                paused = f" (paused replicas, promoted only when named: {', '.join(named)})" if named else ""
                raise exception.InvalidReplicationTarget(
                    reason=f"volume {volume_id} has no replica to fail over to{paused}"
                )
            return candidates[0]
        by_name = {name: name for name in named}
        by_name.update({owner: array for array, owner in self.fabric.owners.items() if array in named})
        if secondary not in by_name:
            raise exception.InvalidReplicationTarget(
                reason=f"{secondary!r} holds no replica of volume {volume_id}; "
                f"replicas: {', '.join(named) or 'none'}"
            )
        return by_name[secondary]

    # -- host failover (Replication V2.1) -----------------------------------------------------------

    def failover_host(
        self,
        context: Any,
        volumes: list[Mapping[str, Any]],
        secondary_id: str | None = None,
        groups: list[Any] | None = None,
    ) -> tuple[str | None, list[dict[str, Any]], list[dict[str, Any]]]:
        """Promote every given volume's replica on the target array (or, for 'default', its copy
        on this backend's own array), each failover's loss recorded by the fabric as a volume's
        own is. Nothing moves if the target cannot serve: InvalidReplicationTarget."""
        failback = secondary_id == FAILBACK
        if failback:
            if self.active_array is None:
                raise exception.InvalidReplicationTarget(
                    reason=f"backend {self.backend} is not failed over; nothing to fail back"
                )
            target, active = self.array_name, None
        else:
            target, active = self._host_target(secondary_id)
        if not self.fabric.array(target).up:
            raise exception.InvalidReplicationTarget(reason=f"array {target} is not reachable")
        updates = []
        for volume in volumes:
            volume_id = volume["id"]
            # Both ends report it for a while: the target's backend, and this one, whose manager
            # must repair the volume's record if it never heard this call's answer (a timeout).
            self._changed(target, volume_id)
            self._changed(self.array_name, volume_id)
            primary = self.fabric.primary(volume_id)
            home = self.fabric.home.get(volume_id)
            if failback and home != target:
                # It came to this array by its own failover from another backend's: a failback
                # does not bring it home, and Cinder would read failed-over as the backend's
                # enabled, so it is a volume this failback could not move.
                updates.append({"volume_id": volume_id, "updates": {"status": "error"}})
                continue
            try:
                if primary is None or primary.array != target:
                    record = self.fabric.failover(volume_id, target)
                    data: dict[str, Any] = {
                        "primary": target,
                        "secondaries": [c.array for c in self.fabric.copies(volume_id) if c.array != target],
                        "mode": record.mode,
                        "lost_writes": self.fabric.lost_in(record),
                        "in_sync": record.in_sync,
                        "failed_over_at": record.time,
                    }
                else:
                    data = {"primary": target, "secondaries": [], "mode": self.mode}
            except exception.CinderException:
                updates.append({"volume_id": volume_id, "updates": {"status": "error"}})
                continue
            self.fabric.serve(volume_id, None if failback else self.backend)
            updates.append(
                {
                    "volume_id": volume_id,
                    "updates": {
                        "provider_location": location(target, volume_id),
                        "replication_driver_data": data,
                        # where it is now served from, not the way the backend went
                        "replication_status": "enabled" if target == home else "failed-over",
                    },
                }
            )
        self.active_backend_id, self.active_array = active, (None if failback else target)
        return active, updates, []

    def _host_target(self, secondary_id: str | None) -> tuple[str, str]:
        """(array, backend_id) of the target ``secondary_id`` names (None: the first configured)."""
        targets: list[tuple[str, str]] = []
        for device, array in zip(self.devices, self._target_arrays(), strict=True):
            if not array:
                continue
            backend_id = (
                str(device.get("backend_id") or array) if isinstance(device, Mapping) else str(device)
            )
            targets.append((array, backend_id))
        if not targets:
            raise exception.InvalidReplicationTarget(
                reason=f"backend {self.backend} has no replication target"
            )
        if secondary_id is None:
            return targets[0]
        for array, backend_id in targets:
            if secondary_id in (array, backend_id):
                return array, backend_id
        raise exception.InvalidReplicationTarget(
            reason=f"{secondary_id!r} is not a replication target of {self.backend}; "
            f"targets: {', '.join(b for _a, b in targets)}"
        )

    def failover(
        self,
        context: Any,
        volumes: list[Mapping[str, Any]],
        secondary_id: str | None = None,
        groups: list[Any] | None = None,
    ) -> tuple[str | None, list[dict[str, Any]], list[dict[str, Any]]]:
        """The active-active first half: the same failover, the switch-over left to failover_completed."""
        return self.failover_host(context, volumes, secondary_id, groups)

    def failover_completed(self, context: Any, active_backend_id: str | None = None) -> None:
        return None

    def freeze_backend(self, context: Any) -> bool:
        return True

    def thaw_backend(self, context: Any) -> bool:
        return True

    def list_replication_targets(self, context: Any, volume: Mapping[str, Any]) -> dict[str, Any]:
        volume_id = volume["id"]
        targets: list[dict[str, Any]] = []
        for copy in self.fabric.secondaries(volume_id):
            if copy.paused:
                continue
            targets.append(self._describe_target(copy))
        return {"volume_id": volume_id, "targets": targets}

    def _describe_target(self, copy: Copy) -> dict[str, Any]:
        owner = self.fabric.owners.get(copy.array)
        if owner is not None:
            return {"type": "managed", "backend_name": owner}
        device = next(
            (
                d
                for d in self.devices
                if isinstance(d, Mapping) and copy.array in (d.get("backend_id"), d.get("target_device_id"))
            ),
            {"backend_id": copy.array},
        )
        return {"type": "unmanaged", **{k: MASK if is_secret_option(k) else v for k, v in device.items()}}

    def get_replication_updates(self, context: Any) -> list[dict[str, Any]]:
        """Volumes whose replication went wrong (broken link, lag over the threshold, a sync pair
        not in sync, split brain, a lost primary) when it starts, when what is wrong changes and
        every ``REMIND_ROUNDS`` reports while it lasts; an ``ok`` for each one reported before that
        has recovered; and every volume whose replication this backend changed within the report
        window, on the first report after the change and every ``REMIND_ROUNDS`` reports after.
        Each entry says where the volume is served from now and its replication state, so a
        manager that missed an outcome (a timeout, a restart) can repair its record."""
        fabric = self.fabric
        array = self.array
        array.require_up()
        now = fabric.now
        problems = self._problems(now)
        # Volumes changed within the window: told on the first report after the change and every
        # REMIND_ROUNDS reports after that, while the window lasts.
        changed = fabric.changed.get(self.array_name, {})
        telling: dict[str, None] = {}
        for volume_id, due_at in sorted(changed.items()):
            due_at[1] -= 1
            if (due_at[0] < now and due_at[1] < 0) or fabric.primary(volume_id) is None:
                del changed[volume_id]
            elif (REPORT_ROUNDS - 1 - due_at[1]) % REMIND_ROUNDS == 0:
                telling[volume_id] = None
        said = self._said
        due = []
        for volume_id, (words, _) in problems.items():
            before = said.get(volume_id)
            if before is None or before[0] != words or before[1] <= 1 or volume_id in telling:
                said[volume_id] = [words, REMIND_ROUNDS]
                due.append(volume_id)
            else:
                before[1] -= 1
        updates = [{"volid": v, **problems[v][1]} for v in sorted(due)]
        gone = sorted(v for v in said if v not in problems)
        for volume_id in gone:
            del said[volume_id]
        recovered = {v: None for v in gone if v in array.copies}
        updates += [{"volid": v, "status": "ok"} for v in recovered]
        updates += [{"volid": v, "status": "ok"} for v in telling if v not in problems and v not in recovered]
        return [{**update, **self._truth(update["volid"])} for update in updates]

    def _problems(self, now: float) -> dict[str, tuple[tuple[str, str | None], dict[str, Any]]]:
        """Volume id -> (what is wrong, the fields saying so), for every volume whose replication
        is wrong now; one pair per link and reason, shared."""
        fabric = self.fabric
        problems: dict[str, tuple[tuple[str, str | None], dict[str, Any]]] = {}
        split = ("split_brain", None), {"status": "error", "reason": "split_brain"}
        for volume_id in fabric.split_volumes(self.array_name):
            problems[volume_id] = split
        # One look per link: a healthy link vouches for every volume it carries.
        for link in fabric.links_between(source=self.array_name):
            lag = link.lag(now) if link.up else 0.0
            if link.up and lag <= self.lag_threshold:
                continue
            kinds: dict[str, tuple[tuple[str, str | None], dict[str, Any]]] = {}
            for copy in fabric.carried_by(link):
                if copy.volume_id in problems or (copy.mode == "sync" and link.up):
                    continue
                if link.up:
                    reason = "lag"
                elif copy.mode == "sync" and not copy.stalling:
                    reason = "not_in_sync"  # acknowledged writes are not on the replica
                else:
                    reason = "link_down"
                problem = kinds.get(reason)
                if problem is None:
                    figures = {"lag": round(lag, 3)} if reason == "lag" else {}
                    fields = {"status": "error", "reason": reason, **figures, "target": link.target}
                    problem = kinds[reason] = (reason, link.target), fields
                problems[copy.volume_id] = problem
        for link in fabric.links_between(target=self.array_name):
            if fabric.array(link.source).up:
                continue
            lost = (
                ("primary_down", link.source),
                {
                    "status": "error",
                    "reason": "primary_down",
                    "primary": link.source,
                },
            )
            for copy in fabric.carried_by(link):
                problems.setdefault(copy.volume_id, lost)
        return problems

    # -- generic volume groups and their replication ----------------------------------------------

    def create_group(self, context: Any, group: Mapping[str, Any]) -> dict[str, Any]:
        """A group is the control plane's: the array keeps volumes, not groups."""
        self.array.require_up()
        return {"status": "available"}

    def delete_group(
        self, context: Any, group: Mapping[str, Any], volumes: list[Mapping[str, Any]]
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        for volume in volumes:
            self.delete_volume(volume)
        return {"status": "deleted"}, [{"id": volume["id"], "status": "deleted"} for volume in volumes]

    def update_group(
        self,
        context: Any,
        group: Mapping[str, Any],
        add_volumes: list[Mapping[str, Any]] | None = None,
        remove_volumes: list[Mapping[str, Any]] | None = None,
    ) -> tuple[None, None, None]:
        self.array.require_up()
        return None, None, None

    def enable_replication(
        self, context: Any, group: Mapping[str, Any], volumes: list[Mapping[str, Any]]
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """Every volume replicates, or none: a volume that cannot undoes the ones before it."""
        updates: list[dict[str, Any]] = []
        try:
            for volume in volumes:
                data = (self.replication_enable(context, volume) or {}).get("replication_driver_data")
                updates.append(
                    {"id": volume["id"], "replication_status": "enabled", "replication_driver_data": data}
                )
        except exception.CinderException:
            for done in volumes[: len(updates)]:
                self.replication_disable(context, done)
            raise
        return {"replication_status": "enabled"}, updates

    def disable_replication(
        self, context: Any, group: Mapping[str, Any], volumes: list[Mapping[str, Any]]
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        updates = [
            {
                "id": volume["id"],
                "replication_status": "disabled",
                "replication_driver_data": (self.replication_disable(context, volume) or {}).get(
                    "replication_driver_data"
                ),
            }
            for volume in volumes
        ]
        return {"replication_status": "disabled"}, updates

    def failover_replication(
        self,
        context: Any,
        group: Mapping[str, Any],
        volumes: list[Mapping[str, Any]],
        secondary_backend_id: str | None = None,
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """Every volume to its replica on the named array or backend (``default``: back to the
        array it was created on), all at one instant, or none: each target is checked first. The
        writes each volume's old primary had that its new one lacks are lost, counted in each
        volume's driver data and in the fabric's failover records, as for any failover."""
        targets = {}
        for volume in volumes:
            volume_id = volume["id"]
            self._survive_restart("failover_replication", volume)
            copies = {copy.array: copy for copy in self.fabric.copies(volume_id)}
            wanted = (
                self.fabric.home.get(volume_id) if secondary_backend_id == FAILBACK else secondary_backend_id
            )
            target = self._resolve_target(wanted, copies, volume_id)
            self.fabric.array(target).require_up()
            targets[volume_id] = (target, [name for name in copies if name != target])
        updates = []
        for volume in volumes:
            volume_id = volume["id"]
            target, others = targets[volume_id]
            self._changed(self.array_name, volume_id)
            record = self.fabric.failover(volume_id, target)
            update = self._served_by(volume, target)
            updates.append(
                {
                    **update,
                    "id": volume_id,
                    "replication_status": "enabled"
                    if target == self.fabric.home.get(volume_id)
                    else "failed-over",
                    "provider_location": location(target, volume_id),
                    "replication_driver_data": {
                        "primary": target,
                        "secondaries": others,
                        "mode": record.mode,
                        "lost_writes": self.fabric.lost_in(record),
                        "in_sync": record.in_sync,
                        "failed_over_at": record.time,
                    },
                }
            )
        status = "enabled" if secondary_backend_id == FAILBACK else "failed-over"
        return {"replication_status": status}, updates

    def _served_by(self, volume: Mapping[str, Any], target: str) -> dict[str, Any]:
        """``host`` when the array now serving the volume is another managed backend's, as a
        volume failover says it; that backend reports the volume from now on."""
        owner = self.fabric.owners.get(target)
        current = self.fabric.owners.get(_located_array(volume) or self.array_name, self.backend)
        if owner is None:
            return {}
        self._changed(target, volume["id"])
        if owner == current:
            return {}
        return {"host": f"{self._node}@{owner}#{self.fabric.array(target).pool}"}

    def get_replication_error_status(
        self, context: Any, groups: list[Mapping[str, Any]]
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Nothing of its own to add: a group's volumes' problems come in the replication updates."""
        return [], []

    def get_inventory(self) -> dict[str, dict[str, Any]]:
        """The contract's optional inventory: what this backend's array and its targets' hold."""
        names = [self.array_name, *(t for t in self._target_arrays() if t and t != self.array_name)]
        inventory = {}
        for name in dict.fromkeys(names):
            copies = self.fabric.array(name).copies
            inventory[name] = {
                "volumes": len(copies),
                "used_gb": sum(copy.size_gb for copy in copies.values()),
                "volume_ids": sorted(copies),
            }
        return inventory

    def _changed(self, reporter: str, volume_id: str) -> None:
        """The backend driving ``reporter`` reports this volume's state for the report window, and
        in at least ``REPORT_ROUNDS`` reports: an array that cannot answer for a while (down,
        paused) does not use up the window in silence."""
        self.fabric.changed.setdefault(reporter, {})[volume_id] = [
            self.fabric.now + self.report_window,
            REPORT_ROUNDS,
        ]

    def _truth(self, volume_id: str) -> dict[str, Any]:
        """Where the volume is served from and in which replication state, as the arrays see it."""
        fabric = self.fabric
        copies = fabric.copies(volume_id)
        primary = None  # the first primary that is not a split's promotion, else the first primary
        for c in copies:
            if c.role == "primary" and (
                primary is None or (primary.split_from is not None and c.split_from is None)
            ):
                primary = c
        if primary is None:
            return {}
        truth: dict[str, Any] = {"provider_location": location(primary.array, volume_id)}
        owner = fabric.backend_serving(volume_id, primary.array)
        if owner is not None:
            pool = fabric.array(fabric.array_of(owner)).pool if volume_id in fabric.served_by else None
            truth["host"] = f"{self._node}@{owner}#{pool or fabric.array(primary.array).pool}"
        replicating = any(c.source is primary and not c.paused and c.role == "secondary" for c in copies)
        home = fabric.home.get(volume_id, primary.array)
        truth["replication_status"] = (
            "disabled" if not replicating else "enabled" if primary.array == home else "failed-over"
        )
        return truth


def emulated_drivers(
    config: Any, fabric: Fabric, driver_class: type[EmulatedDriver] = EmulatedDriver
) -> dict[str, EmulatedDriver]:
    """Drivers on ``fabric`` for every backend of ``config`` that uses the emulated driver, ready to
    hand to ``deploy(drivers=...)`` so a simulated world shares one fabric and one clock."""
    return {
        name: driver_class(backend.driver_configuration(), backend.host, fabric=fabric)
        for name, backend in config.backends.items()
        if issubclass(load_driver(backend.volume_driver), EmulatedDriver)
    }
