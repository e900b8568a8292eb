"""The Cinder driver for replisim's storage arrays (``replisim array serve``), over their HTTP API.

Configuration, in the backend's cinder.conf section (``volume_driver =
replisim.drivers.storage.StorageDriver``):

- ``san_ip`` (default 127.0.0.1), ``san_port``, ``san_login`` (default admin), ``san_password``:
  this backend's array.
- ``storage_pool`` (default: the backend name), ``storage_replication_mode`` (``async`` or ``sync``;
  a volume type's ``replication:replication_type`` overrides it), ``storage_timeout`` (seconds per
  request, default 10), ``storage_max_lag_seconds`` (lag above which replication is reported in
  error, default 30).
- Managed targets (``replication_devices = beta``): a driver sees only its own section, so name each
  target's array here: ``replication_peer_beta = 127.0.0.1:8702``, and optionally
  ``replication_peer_beta_login``, ``replication_peer_beta_password`` (default: this backend's) and
  ``replication_peer_beta_pool`` (default ``beta``). Failover moves the volume to that backend.
- Unmanaged targets (``managed_replication_target = false``): each ``{...}`` entry carries
  ``backend_id`` (or ``target_device_id``), ``san_ip``, ``san_port``, ``san_login``,
  ``san_password``. Failover keeps the volume on this backend and points it at the device.

A volume replicates to one target: the first configured one, or after a failover the array it came
from. ``replication_driver_data`` records ``{"active", "peer", "mode", "home"}``: which array serves
the volume, which holds its replica, how writes travel and where replication began (a failover back
there is a failback: ``enabled``, not ``failed-over``), and after a failover ``failover``: what it
lost (``lost_writes``, ``lost_seconds``; ``None`` when the old array did not answer).
"""

from __future__ import annotations

import functools
import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar

from replisim import exception
from replisim.redaction import MASK, is_secret_option

from ..contract import FAILBACK
from ..devices import parse_device_entries
from .client import ArrayClient, ArrayError, ArrayUnreachable, parse_address

LOG = logging.getLogger("replisim.drivers.storage")
T = TypeVar("T")
MODES = ("async", "sync")
# Healthy replicated volumes are reported (with where they are served from) in the first report,
# in this many reports after an action on them, and in every this-many-th report: so a volume the
# database has in error while its array has it healthy and in sync is brought back.
TRUTH_ROUNDS = 6


GROUP_COPY_PATIENCE = 30.0  # seconds a group failover waits for a replica's first copy to complete


@dataclass(frozen=True)
class Site:
    """An array a volume can be active on: this backend's own, a managed target backend's, or an
    unmanaged device."""

    name: str  # the backend name (own, managed) or the device's backend_id (unmanaged)
    kind: str  # "own", "managed" or "unmanaged"
    address: str
    login: str
    password: str = field(repr=False)
    pool: str = ""
    timeout: float = 10.0
    options: Mapping[str, str] = field(default_factory=dict, repr=False)  # an unmanaged entry's keys

    def client(self) -> ArrayClient:
        return ArrayClient(self.address, self.login, self.password, self.timeout, keep_alive=True)

    def describe(self) -> dict[str, Any]:
        """This site as a replication target, every secret masked."""
        if self.kind != "unmanaged":
            return {"type": "managed", "backend_name": self.name}
        return {
            "type": "unmanaged",
            **{key: MASK if is_secret_option(key) else value for key, value in self.options.items()},
        }


def _replication_of(volume_id: str, client: ArrayClient) -> dict[str, Any]:
    return client.replication_status(volume_id)


class StorageDriver:
    """Meets the driver contract (see DESIGN.md) on storage array processes."""

    VERSION = "1.0"
    live_only = True  # contract.LIVE_ONLY: HTTP to array processes, in wall-clock time

    def __init__(self, configuration: Any, host: str):
        self.configuration = configuration
        self.host = host
        self.hostname, _, self.backend = host.partition("@")
        self._lock = threading.Lock()
        self._active: dict[str, str] = {}  # replicated volume id -> name of the site serving it
        self._home: dict[str, str] = {}  # replicated volume id -> the site its replication began on
        self._in_error: set[str] = set()  # volumes last reported in error
        self._changed: dict[str, int] = {}  # volume id -> reports left that must state its truth
        self._seen: dict[str, tuple[float, dict[str, Any]]] = {}  # last replication state read
        self._reports = 0
        self._sites: dict[str, Site] = {}
        self._targets: list[str] = []
        self._problem: exception.CinderException | None = None
        try:
            self._read_configuration()
        except exception.CinderException as exc:
            self._problem = exc  # raised by do_setup, where the manager expects set-up errors

    # -- configuration

    def _option(self, name: str, default: str | None = None) -> str | None:
        value = self.configuration.safe_get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            return default
        return str(value).strip()

    def _bad(self, option: str, reason: str) -> exception.InvalidConfigurationValue:
        return exception.InvalidConfigurationValue(f"[{self.backend}] {option}: {reason}")

    def _number(self, option: str, default: float) -> float:
        raw = self._option(option)
        if raw is None:
            return default
        try:
            value = float(raw)
        except ValueError:
            raise self._bad(option, f"{raw!r} is not a number") from None
        if value <= 0:
            raise self._bad(option, f"{raw!r} must be above 0")
        return value

    def _address(self, option: str, ip: str | None, port: str | None) -> str:
        if port is None:
            raise self._bad(option, "missing; give the array's management port")
        try:
            return "{}:{}".format(*parse_address(f"{ip or '127.0.0.1'}:{port}"))
        except ValueError as exc:
            raise self._bad(option, str(exc)) from None

    def _read_configuration(self) -> None:
        login = self._option("san_login", "admin") or "admin"
        password = self._option("san_password")
        if password is None:
            raise self._bad("san_password", "missing; the array refuses requests without its password")
        timeout = self._number("storage_timeout", 10.0)
        self.max_lag = self._number("storage_max_lag_seconds", 30.0)
        self.mode = self._option("storage_replication_mode", "async") or "async"
        if self.mode not in MODES:
            raise self._bad("storage_replication_mode", f"{self.mode!r} is not one of {', '.join(MODES)}")
        address = self._address("san_port", self._option("san_ip"), self._option("san_port"))
        own = Site(
            self.backend,
            "own",
            address,
            login,
            password,
            self._option("storage_pool", self.backend) or self.backend,
            timeout,
        )
        self._sites = {own.name: own}
        self.own = own
        managed = self.configuration.safe_get("managed_replication_target")
        managed = (
            managed
            if isinstance(managed, bool)
            else str(managed).strip().lower() not in ("false", "no", "0", "off")
        )
        for entry in self._devices():
            if isinstance(entry, Mapping) == managed:
                raise self._bad(
                    "replication_devices",
                    "managed targets are backend names; unmanaged ones "
                    "are {...} entries (set managed_replication_target to match)",
                )
            site = (
                self._managed_site(str(entry), own, timeout) if managed else self._device(entry, own, timeout)
            )
            if site.name in self._sites:
                raise self._bad(
                    "replication_devices", f"target {site.name!r} is listed twice or is this backend itself"
                )
            self._sites[site.name] = site
            self._targets.append(site.name)

    def _devices(self) -> list[Any]:
        value = self.configuration.safe_get("replication_devices")
        if not value:
            return []
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("{"):
                try:
                    return list(parse_device_entries(text))
                except ValueError as exc:
                    raise self._bad("replication_devices", str(exc)) from None
            return [name.strip() for name in text.split(",") if name.strip()]
        return list(value)

    def _managed_site(self, name: str, own: Site, timeout: float) -> Site:
        key = f"replication_peer_{name}"
        address = self._option(key)
        if address is None:
            raise self._bad(
                key, f"missing; name the array of replication target {name!r}, e.g. '{key} = 127.0.0.1:8702'"
            )
        try:
            address = "{}:{}".format(*parse_address(address))
        except ValueError as exc:
            raise self._bad(key, str(exc)) from None
        return Site(
            name,
            "managed",
            address,
            self._option(f"{key}_login", own.login) or own.login,
            self._option(f"{key}_password", own.password) or own.password,
            self._option(f"{key}_pool", name) or name,
            timeout,
        )

    def _device(self, entry: Mapping[str, Any], own: Site, timeout: float) -> Site:
        device = {str(key): str(value) for key, value in entry.items()}
        name = device.get("backend_id") or device.get("target_device_id")
        if not name:
            raise self._bad(
                "replication_devices",
                "an unmanaged entry needs 'backend_id' (or 'target_device_id') to name the device",
            )
        address = self._address(
            f"replication_devices {name} san_port", device.get("san_ip"), device.get("san_port")
        )
        return Site(
            name,
            "unmanaged",
            address,
            device.get("san_login") or own.login,
            device.get("san_password") or own.password,
            own.pool,
            timeout,
            device,
        )

    # -- helpers

    def _ready(self) -> None:
        if self._problem is not None:
            raise self._problem

    def _call(self, site: Site, action: str, request: Callable[[ArrayClient], T]) -> T:
        """One array request; failures become the exceptions the volume manager expects."""
        try:
            return request(site.client())
        except ArrayUnreachable as exc:
            raise exception.VolumeBackendAPIException(
                data=f"{action}: array {site.name} ({site.address}) is unreachable: {exc.message}"
            ) from None
        except ArrayError as exc:
            raise exception.VolumeBackendAPIException(
                data=f"{action}: array {site.name} ({site.address}) answered {exc.status}: {exc.message}"
            ) from None

    @staticmethod
    def _driver_data(volume: Mapping[str, Any]) -> dict[str, Any]:
        raw = volume.get("replication_driver_data")
        if isinstance(raw, Mapping):
            return dict(raw)
        try:
            data = json.loads(raw) if raw else {}
        except ValueError:
            return {}
        return data if isinstance(data, dict) else {}

    def _serving(self, volume: Mapping[str, Any]) -> Site:
        """The array that serves ``volume`` now: from the driver data, else its provider location."""
        self._ready()
        active = self._driver_data(volume).get("active")
        if active:
            site = self._sites.get(str(active))
            if site is None:
                raise exception.VolumeDriverException(
                    message=f"volume {volume['id']} is active on {active!r}, "
                    f"unknown to backend {self.backend}"
                )
            return site
        location = str(volume.get("provider_location") or "").partition("/")[0]
        return next((site for site in self._sites.values() if site.address == location), self.own)

    def _mode(self, volume: Mapping[str, Any]) -> str:
        spec = (volume.get("extra_specs") or {}).get("replication:replication_type")
        mode = str(spec).split()[-1] if spec else self.mode  # "<in> sync" -> "sync"
        if mode not in MODES:
            raise exception.InvalidVolumeType(
                reason=f"replication:replication_type {spec!r} is not one of {', '.join(MODES)}"
            )
        return mode

    def _location(self, site: Site, volume_id: str) -> str:
        return f"{site.address}/{volume_id}"

    # -- set-up and stats

    def do_setup(self, context: Any) -> None:
        self._ready()

    def check_for_setup_error(self) -> None:
        """Reach this backend's array with its credentials. Which volumes it serves is learnt by
        the replication reports, each checked with its peer (an old primary a failover fenced while
        it was down still calls itself primary until the new one reaches it)."""
        self._ready()
        self._call(self.own, "check_for_setup_error", lambda c: c.replication_overview())
        with self._lock:
            self._reports = 0

    def get_volume_stats(self, refresh: bool = False) -> dict[str, Any]:
        self._ready()
        stats = self._call(self.own, "get_volume_stats", lambda c: c.stats())
        result: dict[str, Any] = {
            "volume_backend_name": self._option("volume_backend_name", self.backend),
            "vendor_name": "replisim",
            "driver_version": self.VERSION,
            "storage_protocol": "iSCSI",
            "pool_name": self.own.pool,
            "total_capacity_gb": stats["total_capacity_gb"],
            "free_capacity_gb": stats["free_capacity_gb"],
            "replication_enabled": bool(self._targets),
        }
        if self._targets:
            result.update(replication_type=list(MODES), replication_count=len(self._targets))
        # Groups replicate volume by volume here: not to one consistent point across the group.
        result["group_replication_enabled"] = bool(self._targets)
        result["consistent_group_replication_enabled"] = False
        return result

    def get_inventory(self) -> dict[str, dict[str, Any]]:
        """The contract's optional inventory: what this backend's array and every target's hold,
        replicas included (a peer's other volumes too: the ids tell whose they are)."""
        self._ready()
        inventory = {}
        for site in self._sites.values():
            volumes = self._call(site, "get_inventory", lambda c: c.volumes())
            inventory[site.name] = {
                "volumes": len(volumes),
                "used_gb": sum(int(v["size_gb"]) for v in volumes),
                "volume_ids": sorted(str(v["id"]) for v in volumes),
            }
        return inventory

    # -- volumes

    def create_volume(self, volume: Mapping[str, Any]) -> dict[str, Any]:
        self._ready()
        self._call(
            self.own,
            f"create volume {volume['id']}",
            lambda c: c.create_volume(str(volume["id"]), int(volume["size"])),
        )
        return {"provider_location": self._location(self.own, str(volume["id"]))}

    def delete_volume(self, volume: Mapping[str, Any]) -> None:
        site = self._serving(volume)
        self._call(site, f"delete volume {volume['id']}", lambda c: c.delete_volume(str(volume["id"])))
        with self._lock:
            self._forget(str(volume["id"]))

    # -- replication

    def _forget(self, volume_id: str) -> None:
        """This backend no longer replicates ``volume_id`` (caller holds the lock)."""
        self._active.pop(volume_id, None)
        self._home.pop(volume_id, None)
        self._in_error.discard(volume_id)
        self._changed.pop(volume_id, None)
        self._seen.pop(volume_id, None)

    def replication_enable(self, context: Any, volume: Mapping[str, Any]) -> dict[str, Any]:
        site = self._serving(volume)
        if not self._targets:
            raise exception.VolumeDriverException(
                message=f"backend {self.backend} has no replication_devices to replicate to"
            )
        volume_id = str(volume["id"])
        data = self._driver_data(volume)
        home = str(data.get("home") or site.name)
        previous = data.get("peer")
        peer_name = previous if previous in self._sites and previous != site.name else self._targets[0]
        peer = self._sites[peer_name]
        mode = self._mode(volume)
        self._call(
            site,
            f"enable replication of {volume_id} to {peer.name}",
            lambda c: c.enable_replication(volume_id, peer.address, peer.login, peer.password, mode),
        )
        with self._lock:
            self._active[volume_id] = site.name
            self._home[volume_id] = home
            self._changed[volume_id] = TRUTH_ROUNDS
        return {
            "replication_driver_data": json.dumps(
                {"active": site.name, "peer": peer.name, "mode": mode, "home": home}, sort_keys=True
            )
        }

    def replication_disable(self, context: Any, volume: Mapping[str, Any]) -> None:
        site = self._serving(volume)
        volume_id = str(volume["id"])
        self._call(site, f"disable replication of {volume_id}", lambda c: c.disable_replication(volume_id))
        with self._lock:
            self._forget(volume_id)

    def replication_failover(
        self, context: Any, volume: Mapping[str, Any], secondary: str | None = None
    ) -> dict[str, Any]:
        """Promote the replica on ``secondary`` (default: the volume's peer). A managed target's
        backend takes the volume over (``host``); an unmanaged device is served from here.

        When the serving array can ship its last writes it does, and steps down: a planned
        failover, nothing lost. When it answers but cannot (its link is cut, its replica is being
        rebuilt) the failover still goes ahead, as a failover is the admin's way out of exactly
        that, but the array is fenced first, so what the new primary lacks is counted exactly and
        stated (``replication_extended_status`` and the driver data's ``failover``). When it does
        not answer, what it had not shipped is lost and cannot be counted: that is stated too.
        """
        site = self._serving(volume)
        volume_id = str(volume["id"])
        data = self._driver_data(volume)
        name = secondary or data.get("peer") or (self._targets[0] if self._targets else None)
        name = self.own.name if name == FAILBACK else name  # Cinder's word for "back to this backend"
        target = self._sites.get(str(name)) if name else None
        if target is None:
            raise exception.InvalidReplicationTarget(
                reason=f"{name!r} is not a replication target of backend {self.backend}; "
                f"known: {', '.join(self._targets) or 'none'}"
            )
        if target.name == site.name:
            raise exception.InvalidReplicationTarget(reason=f"volume {volume_id} is already active on {name}")
        with self._lock:
            self._changed[volume_id] = TRUTH_ROUNDS  # whatever comes of it, report the truth after
        self._take_over(target, volume_id, "check")
        fenced, why = self._step_down(site, volume_id)
        try:
            status = self._take_over(target, volume_id, "promote")
        except exception.CinderException:
            if fenced is not None:  # put the old primary back rather than leave the volume without a writer
                try:
                    self._take_over(site, volume_id, "promote")
                except exception.CinderException as exc:
                    LOG.error(
                        "volume %s has no writable copy: %s did not take it back: %s",
                        volume_id,
                        site.name,
                        exc,
                    )
            raise
        mode = (status.get("replication") or {}).get("mode") or data.get("mode") or self.mode
        record = self._loss(
            volume_id,
            site=site,
            target=target,
            mode=mode,
            fenced=fenced,
            why=why,
            promoted_at=int(status.get("generation") or 0),
        )
        home = data.get("home")
        model: dict[str, Any] = {"provider_location": self._location(target, volume_id)}
        if home:
            model["replication_status"] = "enabled" if target.name == home else "failed-over"
        if record["note"]:
            model["replication_extended_status"] = record["note"]
        driver_data = {"active": target.name, "peer": site.name, "mode": mode, "failover": record["figures"]}
        if home:
            driver_data["home"] = home
        result: dict[str, Any] = {
            "model_update": model,
            "replication_driver_data": json.dumps(driver_data, sort_keys=True),
        }
        with self._lock:
            self._in_error.discard(volume_id)
            self._seen.pop(volume_id, None)
            if target.kind == "managed":
                self._active.pop(volume_id, None)
                self._home.pop(volume_id, None)
                result["host"] = f"{self.hostname}@{target.name}#{target.pool}"
            else:
                self._active[volume_id] = target.name
                if home:
                    self._home[volume_id] = str(home)
        return result

    # -- host failover (Replication V2.1)

    def failover_host(
        self,
        context: Any,
        volumes: list[Mapping[str, Any]],
        secondary_id: str | None = None,
        groups: list[Any] | None = None,
    ) -> tuple[str | None, list[dict[str, Any]], list[dict[str, Any]]]:
        """Fail every given volume over to ``secondary_id`` (default: the first target; 'default':
        back to this backend's array), each as ``replication_failover`` does it (fencing, exact
        loss counted). To a managed target the volumes move to its backend (``host``), as one
        volume's failover does; to an unmanaged device this backend serves them from there. An
        unknown target moves nothing (InvalidReplicationTarget); a volume that cannot move is
        answered ``status: error``."""
        self._ready()
        failback = secondary_id == "default"
        name = self.own.name if failback else secondary_id or (self._targets[0] if self._targets else None)
        if name is None or name not in self._sites:
            raise exception.InvalidReplicationTarget(
                reason=f"{secondary_id!r} is not a replication target of backend {self.backend}; "
                f"known: {', '.join(self._targets) or 'none'}"
            )
        if failback:
            self._require_in_sync(volumes, name)
        updates: list[dict[str, Any]] = []
        for volume in volumes:
            volume_id = str(volume["id"])
            if self._serving(volume).name == name:
                updates.append({"volume_id": volume_id, "updates": {}})  # already there
                continue
            try:
                result = self.replication_failover(context, volume, name)
            except exception.CinderException as exc:
                LOG.error("host failover of volume %s to %s failed: %s", volume_id, name, exc)
                updates.append({"volume_id": volume_id, "updates": {"status": "error"}})
                continue
            update = {
                key: value
                for key, value in result["model_update"].items()
                if key in ("provider_location", "replication_status")
            }
            update["replication_driver_data"] = result["replication_driver_data"]
            if "host" in result:
                update["host"] = result["host"]
            updates.append({"volume_id": volume_id, "updates": update})
        return (None if failback else name), updates, []

    def _require_in_sync(self, volumes: list[Mapping[str, Any]], home: str) -> None:
        """A failback is planned: it waits for every replica on ``home`` to have caught up rather
        than fence and lose what it lacks (InvalidReplicationTarget: nothing moved, try later)."""
        for volume in volumes:
            site = self._serving(volume)
            if site.name == home:
                continue
            volume_id = str(volume["id"])
            state = self._call(site, f"failback check of {volume_id}", partial(_replication_of, volume_id))
            if not (state.get("replication") or {}).get("in_sync"):
                raise exception.InvalidReplicationTarget(
                    reason=f"the replica of volume {volume_id} on {home} is not in sync yet; "
                    "fail back once it is"
                )

    def failover(
        self,
        context: Any,
        volumes: list[Mapping[str, Any]],
        secondary_id: str | None = None,
        groups: list[Any] | None = None,
    ) -> tuple[str | None, list[dict[str, Any]], list[dict[str, Any]]]:
        """The active-active first half: the same failover."""
        return self.failover_host(context, volumes, secondary_id, groups)

    def failover_completed(self, context: Any, active_backend_id: str | None = None) -> None:
        return None

    def freeze_backend(self, context: Any) -> bool:
        """Nothing to tell the arrays: the control plane refuses the changes."""
        return True

    def thaw_backend(self, context: Any) -> bool:
        return True

    def _loss(
        self,
        volume_id: str,
        *,
        site: Site,
        target: Site,
        mode: str,
        fenced: Mapping[str, Any] | None,
        why: str | None,
        promoted_at: int,
    ) -> dict[str, Any]:
        """What a failover lost, as figures (for records and reports) and as words (``note``, None
        when nothing was lost). ``promoted_at`` is the generation the new primary started from."""
        figures: dict[str, Any] = {
            "time": time.time(),
            "source": site.name,
            "target": target.name,
            "mode": mode,
            "planned": fenced is not None and why is None,
        }
        head = f"failover of {volume_id} from {site.name} to {target.name}"
        if fenced is None:
            seen = self._seen.get(volume_id)
            last = ""
            if seen is not None:
                when, details = seen
                last = (
                    f"; {time.time() - when:.1f} s before, it had {details.get('unshipped')} write(s) "
                    f"unshipped, {details.get('lag_seconds')} s behind"
                )
            figures.update(lost_writes=None, lost_seconds=None, exact=False)
            note = (
                f"{head}: {site.name} did not answer ({why}), so the writes it had not shipped to "
                f"{target.name} (if any) are lost and could not be counted{last}"
            )
            if mode == "sync":
                note += "; in sync mode a write is acknowledged only once the replica has it"
            return {"figures": figures, "note": note}
        lost = max(int(fenced.get("generation") or 0) - promoted_at, 0)
        unshipped = [(int(g), float(t)) for g, t in fenced.get("unshipped") or () if int(g) > promoted_at]
        fenced_at = float(fenced.get("fenced_at") or time.time())
        since = fenced.get("since")
        if unshipped:
            seconds = max(fenced_at - min(t for _, t in unshipped), 0.0)
        elif lost and since:
            seconds = max(fenced_at - float(since), 0.0)
        else:
            seconds = 0.0
        # A sync pair in sync acknowledges a write only once the replica has it: what it lacks
        # was answered with an error, never acknowledged.
        acknowledged = 0 if (mode == "sync" and not since) else lost
        figures.update(
            lost_writes=acknowledged,
            unacknowledged_writes=lost - acknowledged,
            lost_seconds=round(seconds, 3),
            exact=True,
        )
        if not lost:
            return {"figures": figures, "note": None}
        note = (
            f"{head} lost {acknowledged} acknowledged write(s), the last {seconds:.3f} s of writes "
            f"({site.name} answered but could not ship them: {why}; it was fenced before "
            f"{target.name} was promoted, so the count is exact)"
        )
        if lost != acknowledged:
            note += f"; {lost - acknowledged} write(s) its sync peer never confirmed were never acknowledged"
        return {"figures": figures, "note": note}

    def _take_over(self, target: Site, volume_id: str, step: str) -> dict[str, Any]:
        """``check`` that ``target`` holds a replica it could promote, or ``promote`` it."""
        try:
            client = target.client()
            status = client.promote(volume_id) if step == "promote" else client.volume(volume_id)
        except ArrayUnreachable as exc:
            raise exception.UnableToFailOver(
                reason=f"target {target.name} ({target.address}) is unreachable: {exc.message}"
            ) from None
        except ArrayError as exc:
            if exc.status == 404:
                raise exception.InvalidReplicationTarget(
                    reason=f"{target.name} ({target.address}) holds no replica of volume {volume_id}"
                ) from None
            raise exception.UnableToFailOver(
                reason=f"{target.name} refused to take over: {exc.message}"
            ) from None
        if step == "check" and status["role"] == "replica" and not status.get("complete"):
            raise exception.UnableToFailOver(
                reason=f"the replica of {volume_id} on {target.name} has not completed its initial copy"
            )
        return status

    def _step_down(self, site: Site, volume_id: str) -> tuple[dict[str, Any] | None, str | None]:
        """Have the serving array stop taking writes: by handing over (nothing lost), else by a
        fence that lists what it could not ship. Returns what the fence reported (None: the array
        did not answer, nothing is known) and why the hand-over failed (None: it did not)."""
        client = site.client()
        try:
            return dict(client.demote(volume_id).get("fenced") or {}), None
        except ArrayUnreachable as exc:
            LOG.warning("volume %s: unplanned failover, %s does not answer: %s", volume_id, site.name, exc)
            return None, exc.message
        except ArrayError as exc:
            if exc.status not in (409, 503):
                LOG.warning("volume %s: unplanned failover, %s refused: %s", volume_id, site.name, exc)
                return None, exc.message
            why = exc.message
        try:
            fenced = dict(client.demote(volume_id, discard_unshipped=True).get("fenced") or {})
        except ArrayError as exc:  # gone meanwhile: nothing known
            LOG.warning("volume %s: unplanned failover, %s was not fenced: %s", volume_id, site.name, exc)
            return None, f"{why}; then: {exc.message}"
        LOG.warning(
            "volume %s: %s fenced with %d unshipped write(s): %s",
            volume_id,
            site.name,
            len(fenced.get("unshipped") or ()),
            why,
        )
        return fenced, why

    def list_replication_targets(self, context: Any, volume: Mapping[str, Any]) -> dict[str, Any]:
        site = self._serving(volume)
        volume_id = str(volume["id"])
        try:
            status = site.client().replication_status(volume_id)
        except ArrayError as exc:
            if exc.status == 404:
                return {"volume_id": volume_id, "targets": []}
            raise exception.VolumeBackendAPIException(
                data=f"list replication targets of {volume_id}: array {site.name}: {exc}"
            ) from None
        replication = status.get("replication")
        if not replication:
            return {"volume_id": volume_id, "targets": []}
        peer = next((s for s in self._sites.values() if s.address == replication["peer"]), None)
        if peer is None:
            host, port = parse_address(replication["peer"])
            unknown = {"type": "unmanaged", "san_ip": host, "san_port": port}
            return {"volume_id": volume_id, "targets": [unknown]}
        return {"volume_id": volume_id, "targets": [peer.describe()]}

    def get_replication_updates(self, context: Any) -> list[dict[str, Any]]:
        """Errors for replicated volumes whose link is cut or failing, whose lag (or pending rebuild
        of the replica) is above ``storage_max_lag_seconds`` or whose array is unreachable; ``ok``
        for those that recovered since they were reported; and ``ok`` for healthy, in-sync volumes
        in the first report, after an action on them and every ``TRUTH_ROUNDS`` reports. An ``ok``
        says where the volume is served from (``host``, ``provider_location``) and, where this
        driver knows where replication began, its ``replication_status``: the array's truth, which
        the manager applies over a database that missed an outcome."""
        self._ready()
        findings: dict[str, dict[str, Any]] = {}
        truths: dict[str, dict[str, Any]] = {}
        addresses = {site.address for site in self._sites.values()}
        with self._lock:
            active = dict(self._active)
            everything = self._reports % TRUTH_ROUNDS == 0
            self._reports += 1
        for site in [self.own, *(s for s in self._sites.values() if s.kind == "unmanaged")]:
            mine = sorted(vid for vid, name in active.items() if name == site.name)
            try:
                overview = site.client().replication_overview()
            except ArrayError as exc:
                for volume_id in mine:
                    findings[volume_id] = {
                        "status": "error",
                        "reason": f"array {site.name} ({site.address}) is unreachable: {exc.message}",
                    }
                continue
            for entry in overview:
                replication = entry.get("replication")
                if entry["role"] != "primary" or not replication:
                    continue
                volume_id = entry["id"]
                if site is not self.own and volume_id not in mine and replication["peer"] not in addresses:
                    continue  # another backend's volume on a shared device
                finding = self._judge(replication)
                findings[volume_id] = finding
                with self._lock:
                    self._seen[volume_id] = (time.time(), finding)
                healthy = finding["status"] == "ok" and replication.get("in_sync")
                if healthy and (active.get(volume_id) == site.name or self._verified(site, entry)):
                    truths[volume_id] = self._truth(site, volume_id)
        updates = []
        with self._lock:
            for volume_id in sorted(findings):
                finding = findings[volume_id]
                due = self._changed.get(volume_id)
                if due is not None:
                    if due <= 1:
                        del self._changed[volume_id]
                    else:
                        self._changed[volume_id] = due - 1
                if finding["status"] == "error":
                    self._in_error.add(volume_id)
                    updates.append({"volid": volume_id, **finding})
                    continue
                truth = truths.get(volume_id)
                if volume_id in self._in_error:
                    self._in_error.discard(volume_id)
                    updates.append({"volid": volume_id, **finding, **(truth or {})})
                elif truth is not None and (everything or due is not None):
                    updates.append({"volid": volume_id, **finding, **truth})
        return updates

    # -- generic volume groups: the arrays keep volumes, so a group is its volumes, one by one

    def create_group(self, context: Any, group: Mapping[str, Any]) -> dict[str, Any]:
        self._ready()
        self._call(self.own, "create group", lambda c: c.stats())  # the array answers
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
        self._ready()
        return None, None, None

    def enable_replication(
        self, context: Any, group: Mapping[str, Any], volumes: list[Mapping[str, Any]]
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """Every volume replicates, or none: one that cannot undoes the ones before it."""
        updates: list[dict[str, Any]] = []
        try:
            for volume in volumes:
                data = self.replication_enable(context, volume)["replication_driver_data"]
                updates.append(
                    {"id": volume["id"], "replication_status": "enabled", "replication_driver_data": data}
                )
        except exception.CinderException:
            for done in volumes[: len(updates)]:
                try:
                    self.replication_disable(context, done)
                except exception.CinderException as exc:
                    LOG.error(
                        "volume %s: enable of its group failed and it still replicates: %s", done["id"], exc
                    )
            raise
        return {"replication_status": "enabled"}, updates

    def disable_replication(
        self, context: Any, group: Mapping[str, Any], volumes: list[Mapping[str, Any]]
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        for volume in volumes:
            self.replication_disable(context, volume)
        return {"replication_status": "disabled"}, [
            {"id": volume["id"], "replication_status": "disabled"} for volume in volumes
        ]

    def failover_replication(
        self,
        context: Any,
        group: Mapping[str, Any],
        volumes: list[Mapping[str, Any]],
        secondary_backend_id: str | None = None,
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """Every volume to its replica on ``secondary_backend_id`` (``default``: back here), each
        target checked first, so a group either fails over or raises before any volume has; each
        volume's loss is counted as ``replication_failover`` counts it."""
        for volume in volumes:
            data = self._driver_data(volume)
            name = secondary_backend_id or data.get("peer") or (self._targets[0] if self._targets else None)
            name = self.own.name if name == FAILBACK else name
            target = self._sites.get(str(name)) if name else None
            if target is None:
                raise exception.InvalidReplicationTarget(
                    reason=f"{name!r} is not a replication target of backend {self.backend}"
                )
            if target.name != self._serving(volume).name:
                self._patiently(functools.partial(self._take_over, target, str(volume["id"]), "check"))
        updates = []
        for volume in volumes:
            result = self._patiently(
                functools.partial(self.replication_failover, context, volume, secondary_backend_id)
            )
            model = result.get("model_update") or {}
            update = {
                "id": volume["id"],
                "provider_location": model.get("provider_location"),
                "replication_driver_data": result.get("replication_driver_data"),
            }
            if model.get("replication_status"):
                update["replication_status"] = model["replication_status"]
            if result.get("host"):
                update["host"] = result["host"]
            updates.append(update)
        for volume, update in zip(volumes, updates, strict=True):
            self._settle_pair(str(volume["id"]), str(update["provider_location"]).partition("/")[0])
        status = "enabled" if secondary_backend_id == FAILBACK else "failed-over"
        return {"replication_status": status}, updates

    def _settle_pair(self, volume_id: str, address: str) -> None:
        """Wait (up to ``GROUP_COPY_PATIENCE``) for the new primary at ``address`` to have its pair
        in sync again, so the group's next step (a failback, a delete that drops the replica)
        meets a settled pair; a pair that does not settle is left to the replication updates."""
        site = next((s for s in self._sites.values() if s.address == address), None)
        if site is None:
            return
        deadline = time.monotonic() + GROUP_COPY_PATIENCE
        while time.monotonic() < deadline:
            try:
                replication = site.client().replication_status(volume_id).get("replication") or {}
            except ArrayError:
                return
            if not replication or replication.get("in_sync"):
                return
            time.sleep(0.1)
        LOG.warning("volume %s: its pair on %s is not in sync yet", volume_id, site.name)

    @staticmethod
    def _patiently(step: Callable[[], T]) -> T:
        """``step``, again while a replica is still making its first copy (a group failed back soon
        after its failover), for up to ``GROUP_COPY_PATIENCE`` seconds."""
        deadline = time.monotonic() + GROUP_COPY_PATIENCE
        while True:
            try:
                return step()
            except exception.UnableToFailOver as exc:
                if "initial copy" not in str(exc) or time.monotonic() >= deadline:
                    raise
            time.sleep(0.1)

    def get_replication_error_status(
        self, context: Any, groups: list[Mapping[str, Any]]
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Nothing of its own to add: a group's volumes' problems come in the replication updates."""
        return [], []

    def _verified(self, site: Site, entry: Mapping[str, Any]) -> bool:
        """Whether this array's primary copy of a volume is the one that counts: its peer holds a
        replica at the same epoch. A failover this driver did not make (another backend's, or one
        made while this array was down) leaves an old primary here that its peer outranks."""
        peer = next((s for s in self._sites.values() if s.address == entry["replication"]["peer"]), None)
        if peer is None:
            return False
        try:
            other = peer.client().volume(entry["id"])
        except ArrayError:
            return False
        if other.get("role") != "replica" or other.get("epoch") != entry.get("epoch"):
            return False
        with self._lock:
            self._active[entry["id"]] = site.name
        return True

    def _truth(self, site: Site, volume_id: str) -> dict[str, Any]:
        """Where the volume is served from, and its replication status when this driver knows
        where its replication began."""
        pool = site.pool if site.kind == "managed" else self.own.pool
        backend = site.name if site.kind == "managed" else self.backend
        truth = {
            "host": f"{self.hostname}@{backend}#{pool}",
            "provider_location": self._location(site, volume_id),
        }
        home = self._home.get(volume_id)
        if home:
            truth["replication_status"] = "enabled" if home == site.name else "failed-over"
        return truth

    def _judge(self, replication: Mapping[str, Any]) -> dict[str, Any]:
        details = {key: replication.get(key) for key in ("peer", "mode", "link", "lag_seconds", "unshipped")}
        link, lag = replication.get("link"), float(replication.get("lag_seconds") or 0.0)
        if link == "down":
            reason = f"replication link to {replication['peer']} is cut"
        elif link == "error":
            reason = f"replication to {replication['peer']} is failing: {replication.get('last_error')}"
        elif lag > self.max_lag:
            what = "lag" if replication.get("in_sync") else "wait for the full copy that rebuilds the replica"
            # The figure is in lag_seconds: the words say what is wrong, so a lag that only grows
            # repeats one report rather than making a new one each interval (the manager's rule).
            reason = f"replication {what} is above storage_max_lag_seconds ({self.max_lag:g} s)"
        else:
            return {"status": "ok", **details}
        return {"status": "error", "reason": reason, **details}
