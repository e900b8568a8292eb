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
from. ``replication_driver_data`` records ``{"active", "peer", "mode"}``: which array serves the
volume, which holds its replica, and how writes travel.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from replisim import exception
from replisim.redaction import MASK, is_secret_option

from ..devices import parse_device_entries
from .client import ArrayClient, ArrayError, ArrayUnreachable, parse_address

LOG = logging.getLogger("replisim.drivers.storage")
T = TypeVar("T")
MODES = ("async", "sync")


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
        return ArrayClient(self.address, self.login, self.password, self.timeout)

    def describe(self) -> dict[str, Any]:
        """This site as a replication target, every secret masked."""
        if self.kind != "unmanaged":
            return {"type": "managed", "backend_name": self.name}
        return {
            "type": "unmanaged",
            **{key: MASK if is_secret_option(key) else value for key, value in self.options.items()},
        }


class StorageDriver:
    """Meets the driver contract (see DESIGN.md) on storage array processes."""

    VERSION = "1.0"

    def __init__(self, configuration: Any, host: str):
        self.configuration = configuration
        self.host = host
        self.hostname, _, self.backend = host.partition("@")
        self._lock = threading.Lock()
        self._active: dict[str, str] = {}  # replicated volume id -> name of the site serving it
        self._in_error: set[str] = set()  # volumes last reported in error
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
        """Reach this backend's array with its credentials, and learn which volumes replicate."""
        self._ready()
        overview = self._call(self.own, "check_for_setup_error", lambda c: c.replication_overview())
        with self._lock:
            for entry in overview:
                if entry["role"] == "primary" and entry.get("replication"):
                    self._active[entry["id"]] = self.own.name

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
            self._active.pop(str(volume["id"]), None)
            self._in_error.discard(str(volume["id"]))

    # -- replication

    def replication_enable(self, context: Any, volume: Mapping[str, Any]) -> dict[str, Any]:
        site = self._serving(volume)
        if not self._targets:
            raise exception.VolumeDriverException(
                message=f"backend {self.backend} has no replication_devices to replicate to"
            )
        volume_id = str(volume["id"])
        previous = self._driver_data(volume).get("peer")
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
        return {
            "replication_driver_data": json.dumps(
                {"active": site.name, "peer": peer.name, "mode": mode}, sort_keys=True
            )
        }

    def replication_disable(self, context: Any, volume: Mapping[str, Any]) -> None:
        site = self._serving(volume)
        volume_id = str(volume["id"])
        self._call(site, f"disable replication of {volume_id}", lambda c: c.disable_replication(volume_id))
        with self._lock:
            self._active.pop(volume_id, None)
            self._in_error.discard(volume_id)

    def replication_failover(
        self, context: Any, volume: Mapping[str, Any], secondary: str | None = None
    ) -> dict[str, Any]:
        """Promote the replica on ``secondary`` (default: the volume's peer). A managed target's
        backend takes the volume over (``host``); an unmanaged device is served from here.

        When the serving array still answers, it first ships its last writes and steps down (a
        planned failover, nothing lost); when it does not, the unshipped writes are lost (the RPO).
        """
        site = self._serving(volume)
        volume_id = str(volume["id"])
        data = self._driver_data(volume)
        name = secondary or data.get("peer") or (self._targets[0] if self._targets else None)
        name = self.own.name if name == "default" else name  # Cinder's word for "back to this backend"
        target = self._sites.get(str(name)) if name else None
        if target is None:
            raise exception.InvalidReplicationTarget(
                reason=f"{name!r} is not a replication target of backend {self.backend}; "
                f"known: {', '.join(self._targets) or 'none'}"
            )
        if target.name == site.name:
            raise exception.InvalidReplicationTarget(reason=f"volume {volume_id} is already active on {name}")
        self._take_over(target, volume_id, "check")
        planned = self._step_down(site, volume_id)
        try:
            status = self._take_over(target, volume_id, "promote")
        except exception.CinderException:
            if planned:  # put the old primary back rather than leave the volume without a writer
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
        result: dict[str, Any] = {
            "model_update": {"provider_location": self._location(target, volume_id)},
            "replication_driver_data": json.dumps(
                {"active": target.name, "peer": site.name, "mode": mode}, sort_keys=True
            ),
        }
        with self._lock:
            self._in_error.discard(volume_id)
            if target.kind == "managed":
                self._active.pop(volume_id, None)
                result["host"] = f"{self.hostname}@{target.name}#{target.pool}"
            else:
                self._active[volume_id] = target.name
        return result

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

    def _step_down(self, site: Site, volume_id: str) -> bool:
        """Ask the serving array to ship its last writes and turn replica; False if it cannot."""
        try:
            site.client().demote(volume_id)
        except ArrayError as exc:  # unreachable, link down, or nothing in sync: an unplanned failover
            LOG.warning(
                "volume %s: unplanned failover, %s could not hand over: %s", volume_id, site.name, exc
            )
            return False
        return True

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
        for those that recovered since they were reported."""
        self._ready()
        findings: dict[str, dict[str, Any]] = {}
        addresses = {site.address for site in self._sites.values()}
        with self._lock:
            active = dict(self._active)
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
                if site is not self.own and entry["id"] not in mine and replication["peer"] not in addresses:
                    continue  # another backend's volume on a shared device
                findings[entry["id"]] = self._judge(replication)
        updates = []
        with self._lock:
            for volume_id in sorted(findings):
                finding = findings[volume_id]
                if finding["status"] == "error":
                    self._in_error.add(volume_id)
                    updates.append({"volid": volume_id, **finding})
                elif volume_id in self._in_error:
                    self._in_error.discard(volume_id)
                    updates.append({"volid": volume_id, **finding})
        return updates

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
