"""The volume-manager actor: one per backend host, the replication state machine's owner.

For each admin action it re-reads the volume, requires the transitional status the API wrote,
calls the driver through its driver host, applies what the driver returns and writes the final
status. Unlike the seed, no failure leaves a volume stuck in a transitional status: driver errors
(expected or not), timeouts and malformed returns all end in ``error``, with the reason recorded
in ``replication_extended_status``.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
from collections.abc import Generator, Mapping
from typing import Any

from replisim import exception
from replisim.drivers import contract
from replisim.sim import Actor, Draw, Message, Now, Sleep
from replisim.sim.actor import Handler
from replisim.sim.errors import MessagingTimeout, RemoteError

from . import rpcapi
from .context import admin_context
from .db import Repository
from .group_manager import GroupManager
from .idempotency import RecentRequests
from .status import (
    AVAILABLE,
    CREATING,
    DELETING,
    DISABLED,
    DISABLING,
    ENABLED,
    ENABLING,
    ENABLING_SECONDARY,
    ERROR,
    ERROR_DELETING,
    FAILED_OVER,
    FAILING_OVER,
    FAILOVER_ERROR,
    NOT_CAPABLE,
    RPC_VERSION,
    TRANSITIONAL,
    VOLUME_ERROR,
    VOLUME_TOPIC,
    backend_host,
    is_valid_host,
)

LOG = logging.getLogger("replisim.manager")
Gen = Generator[Any, Any, Any]

# Keys of a driver's model update that the manager writes; anything else is ignored (and logged).
MODEL_UPDATE_KEYS = frozenset(
    {
        "provider_location",
        "replication_driver_data",
        "replication_extended_status",
        "replication_status",
        "status",
    }
)
# How a driver's replication error report reads in ``replication_extended_status``.
UPDATE_REASON = "replication error reported by the driver: "
# How a volume's replication reads when its backend could not report at all (its array unreachable).
UNREPORTED_REASON = "the backend could not report on its array: "
NO_DETAILS = "no details"
# A repeated report whose figures alone changed restates them at most once in this many intervals.
FIGURE_REFRESH = 30
# What a failover may leave a volume as: failed over, or (a failback to where it was created) enabled.
FAILOVER_OUTCOMES = (FAILED_OVER, ENABLED)
# The stable replication statuses a volume returns to after an error, and that a driver may report.
STABLE = (ENABLED, FAILED_OVER, DISABLED)
# Keys of a replication update that say where the volume is and what state it is in, not what is wrong.
UPDATE_STATE_KEYS = frozenset({"volid", "status", "host", "provider_location", "replication_status"})
# Why the manager disabled its own service (set-up failed): the one reason a report clears.
SETUP_FAILED = "driver set-up failed: "
# How a service's disabled_reason reads after a host failover and a freeze (Cinder's words).
FAILED_OVER_REASON = "failed-over"
FROZEN_REASON = "frozen"
# Volume replication statuses a host failover leaves to the driver's care: every other one is not
# replicated, so a failover puts it in error (Cinder's manager.failover).
NOT_REPLICATED = (DISABLED, NOT_CAPABLE)


def _as_text(value: Any) -> str | None:
    """The DB keeps driver data as text; drivers may hand back any JSON-able value."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, default=str)


def _supported(version: str | None) -> bool:
    if version is None:
        return False
    major, _, minor = version.partition(".")
    s_major, _, s_minor = RPC_VERSION.partition(".")
    return major == s_major and minor.isdigit() and int(minor) <= int(s_minor)


class VolumeManager(GroupManager, Actor):
    """Serves ``cinder-volume.<host@backend>`` (its group handlers are ``GroupManager``'s)."""

    def __init__(
        self, host: str, db: Repository, *, report_interval: float = 10.0, driver_timeout: float = 30.0
    ):
        self.host = host
        self.db = db
        self.report_interval = report_interval
        self.driver_timeout = driver_timeout
        self.initialized = False
        self.reports = 0
        self.last_stats: dict[str, Any] = {}
        self.working: set[str] = set()  # volumes a replication handler is busy with
        # per volume in error: the reason text last read, and its report and words parsed from it
        self._said: dict[str, tuple[str, dict[str, Any], dict[str, Any]]] = {}
        # A transitional status nobody works on for this long was orphaned: its cast was lost, or
        # the database refused the final write. Long enough for a queued cast to arrive.
        self.stuck_after = 2 * driver_timeout + 2 * report_interval
        self.last_reap = 0.0
        self.unsaved: dict[str, str] = {}  # volume id -> why an outcome could not be written
        # volumes this manager put in error because the backend could not report; the next report
        # that names no problem with one of them brings it back
        self.unreported: set[str] = set()
        self.requests = RecentRequests()  # the requests this incarnation has started
        self.incarnation = "0"  # drawn at start, so driver call ids never repeat across restarts
        self._calls = itertools.count()

    # -- plumbing ---------------------------------------------------------------------------------

    def handler_for(self, message: Message) -> Handler:
        if not _supported(message.version):
            raise exception.UnsupportedVersion(version=message.version, supported=RPC_VERSION)
        if not self.initialized and message.method != "list_replication_targets":
            raise exception.DriverNotInitialized(reason=f"{self.host} has not finished do_setup")
        return super().handler_for(message)

    def _driver(self, operation: str, **args: Any) -> Gen:
        """Run a driver method on this backend's driver host; raise what the driver raised."""
        call_id = f"{self.host}/{self.incarnation}/{next(self._calls)}"
        try:
            return (yield rpcapi.driver_call(self.host, operation, self.driver_timeout, call_id, **args))
        except RemoteError as err:
            raise err.cause from None

    def _driver_volume(self, volume: Mapping[str, Any]) -> dict[str, Any]:
        """The volume as a driver sees it: Cinder's fields plus the type's extra specs and, for a
        group's volume, its group as the group methods see it (Cinder's ``volume.group``)."""
        specs: dict[str, str] = {}
        if volume.get("volume_type_id"):
            try:
                specs = dict(self.db.volume_type_get(volume["volume_type_id"])["extra_specs"])
            except exception.VolumeTypeNotFound:
                specs = {}
        shown = {**volume, "extra_specs": specs}
        if volume.get("group_id"):
            with contextlib.suppress(exception.GroupNotFound):
                shown["group"] = self._driver_group(self.db.group_get(volume["group_id"]))
        return shown

    @staticmethod
    def _describe(exc: BaseException) -> str:
        if isinstance(exc, exception.CinderException):
            return f"{type(exc).__name__}: {exc}"
        if isinstance(exc, MessagingTimeout):
            return f"driver timed out: {exc}"
        return f"driver bug, unexpected {type(exc).__name__}: {exc}"

    def _fail(self, volume_id: str, expected: str, action: str, exc: BaseException) -> None:
        reason = f"{action} failed: {self._describe(exc)}"
        LOG.error("%s: volume %s: %s", self.host, volume_id, reason)
        self.db.volume_conditional_update(
            volume_id,
            {"replication_status": expected},
            {"replication_status": ERROR, "replication_extended_status": reason},
        )

    def _save(self, volume_id: str, expected: Mapping[str, Any], values: Mapping[str, Any]) -> None:
        """Write an outcome; if the database refuses, remember why, so the reaper that finds the
        volume stuck says so rather than that the request was lost."""
        try:
            self.db.volume_conditional_update(volume_id, expected, values)
        except exception.DBUnavailable as exc:
            self.unsaved[volume_id] = str(exc)
            raise

    def _first(self, op_id: str | None, volume_id: str, action: str) -> bool:
        """Whether this delivery of a request should run: not one already started (a redelivered
        message), and no other handler at work on the volume (the API lets one request at a time
        through, a delete or a replication action, so a second is a redelivery that overtook the
        first)."""
        if volume_id in self.working:
            LOG.warning(
                "%s: %s of volume %s: another request is at work on it; %s ignored",
                self.host,
                action,
                volume_id,
                op_id,
            )
            return False
        if not self.requests.first(op_id):
            LOG.warning(
                "%s: %s of volume %s: request %s delivered again; ignored",
                self.host,
                action,
                volume_id,
                op_id,
            )
            return False
        return True

    def _volume_in(self, volume_id: str, expected: str, action: str) -> dict[str, Any]:
        volume = self.db.volume_get(volume_id)
        if volume["replication_status"] != expected:
            raise exception.InvalidVolume(
                reason=f"cannot {action} for volume {volume_id}: its replication status is "
                f"{volume['replication_status']!r}, expected {expected!r}"
            )
        return volume

    # -- replication: the seed's three casts and one call ------------------------------------------

    def enable_replication(self, context: Mapping[str, Any], volume_id: str, op_id: str | None = None) -> Gen:
        yield from self._toggle(
            context,
            volume_id,
            op_id,
            states=(ENABLING, ENABLED),
            operation="replication_enable",
            action="enable replication",
        )

    def disable_replication(
        self, context: Mapping[str, Any], volume_id: str, op_id: str | None = None
    ) -> Gen:
        yield from self._toggle(
            context,
            volume_id,
            op_id,
            states=(DISABLING, DISABLED),
            operation="replication_disable",
            action="disable replication",
        )

    def _toggle(
        self,
        context: Mapping[str, Any],
        volume_id: str,
        op_id: str | None,
        *,
        states: tuple[str, str],
        operation: str,
        action: str,
    ) -> Gen:
        expected, final = states
        if not self._first(op_id, volume_id, action):
            return
        volume = self._volume_in(volume_id, expected, action)
        self.working.add(volume_id)
        try:
            update = yield from self._driver(operation, context=context, volume=self._driver_volume(volume))
            values: dict[str, Any] = {"replication_status": final, "replication_extended_status": None}
            if update:
                if not isinstance(update, Mapping):
                    raise exception.VolumeDriverException(
                        message=f"{operation} returned {type(update).__name__}, expected a dict or None"
                    )
                if "replication_driver_data" in update:
                    values["replication_driver_data"] = _as_text(update["replication_driver_data"])
        except Exception as exc:
            self._fail(volume_id, expected, action, exc)
            return
        finally:
            self.working.discard(volume_id)
        self._save(volume_id, {"replication_status": expected}, values)

    def failover_replication(
        self,
        context: Mapping[str, Any],
        volume_id: str,
        op_id: str | None = None,
        secondary: str | None = None,
    ) -> Gen:
        action = "failover replication"
        if not self._first(op_id, volume_id, action):
            return
        volume = self._volume_in(volume_id, ENABLING_SECONDARY, action)
        self.working.add(volume_id)
        try:
            result = yield from self._driver(
                "replication_failover",
                context=context,
                volume=self._driver_volume(volume),
                secondary=secondary,
            )
            values = self._failover_values(result)
        except Exception as exc:
            self._fail(volume_id, ENABLING_SECONDARY, action, exc)
            return
        finally:
            self.working.discard(volume_id)
        self._save(volume_id, {"replication_status": ENABLING_SECONDARY}, values)

    @staticmethod
    def _failover_values(result: Any) -> dict[str, Any]:
        """The DB update for a failover result; a malformed result is the driver's error."""
        if not isinstance(result, Mapping):
            raise exception.VolumeDriverException(
                message=f"replication_failover returned {type(result).__name__}, expected a dict"
            )
        values: dict[str, Any] = {}
        model = result.get("model_update") or {}
        if not isinstance(model, Mapping):
            raise exception.VolumeDriverException(message="replication_failover's model_update is not a dict")
        outcome = model.get("replication_status", FAILED_OVER)
        if outcome not in FAILOVER_OUTCOMES:
            raise exception.VolumeDriverException(
                message=f"replication_failover set replication_status {outcome!r}; a failover leaves a "
                f"volume {' or '.join(map(repr, FAILOVER_OUTCOMES))}"
            )
        for key, value in model.items():
            if key in MODEL_UPDATE_KEYS and key not in ("replication_status", "status"):
                values[key] = _as_text(value)
            elif key != "replication_status":
                LOG.warning("ignoring model_update key %r from replication_failover", key)
        if result.get("replication_driver_data") is not None:
            values["replication_driver_data"] = _as_text(result["replication_driver_data"])
        host = result.get("host")
        if host is not None:
            if not is_valid_host(host):
                raise exception.VolumeDriverException(
                    message=f"replication_failover returned host {host!r}, not a 'host@backend#pool' string"
                )
            values["host"] = host
        values["replication_status"] = outcome
        # What the driver says of the failover stays (a loss it counted, say); else the old error goes.
        values.setdefault("replication_extended_status", None)
        return values

    def list_replication_targets(self, context: Mapping[str, Any], volume_id: str) -> Gen:
        volume = self.db.volume_get(volume_id)
        try:
            return (
                yield from self._driver(
                    "list_replication_targets", context=context, volume=self._driver_volume(volume)
                )
            )
        except Exception as exc:
            LOG.error("%s: get replication targets failed: %s", self.host, self._describe(exc))
            raise exception.VolumeBackendAPIException(data="Get replication targets failed.") from None

    # -- host failover (Replication V2.1), freeze and thaw -----------------------------------------

    def failover_host(
        self, context: Mapping[str, Any], op_id: str | None = None, secondary_id: str | None = None
    ) -> Gen:
        """Cinder 29's ``manager.failover``: the whole backend fails over (or back, for
        ``secondary_id='default'``) in one driver call; the API left the service failing-over."""
        if not self.requests.first(op_id):
            LOG.warning("%s: host failover request %s delivered again; ignored", self.host, op_id)
            return
        service = self.db.service_get(self.host, VOLUME_TOPIC)
        if service["replication_status"] != FAILING_OVER:
            LOG.warning(
                "%s: host failover %s: the service is %r, not failing-over; ignored",
                self.host,
                op_id,
                service["replication_status"],
            )
            return
        failback = secondary_id == contract.FAILBACK
        replicated = []
        for volume in self.db.volume_get_all(host=self.host):
            if volume["replication_status"] in TRANSITIONAL or volume["id"] in self.working:
                # replisim keeps the seed's per-volume actions beside V2.1: one under way on this
                # volume finishes on its own, as its handler decides (Cinder 29 has no such state)
                LOG.warning(
                    "%s: host failover leaves volume %s to the action under way", self.host, volume["id"]
                )
            elif volume["replication_status"] not in NOT_REPLICATED:
                replicated.append(volume)
            elif not failback:
                self.db.volume_update(
                    volume["id"],
                    {
                        "status": VOLUME_ERROR,
                        "replication_status": NOT_CAPABLE,
                        "status_reason": f"{self.host} failed over; the volume is not replicated",
                    },
                )
        groups = self._replicated_groups()
        try:
            answer = yield from self._driver(
                "failover_host",
                context=context,
                volumes=[self._driver_volume(v) for v in replicated],
                secondary_id=secondary_id,
                groups=groups,
            )
            active_backend_id, updates, group_updates = _failover_answer(answer)
        except Exception as exc:
            if isinstance(exc, exception.InvalidReplicationTarget):
                # Nothing moved: the backend stays as it was (failed over if it serves a target).
                values: dict[str, Any] = {
                    "replication_status": FAILED_OVER if service["active_backend_id"] else ENABLED
                }
            else:
                values = {"replication_status": FAILOVER_ERROR, "disabled": True}
            LOG.error(
                "%s: error encountered during failover to %s: %s",
                self.host,
                secondary_id,
                self._describe(exc),
            )
            self.db.service_conditional_update(
                self.host, VOLUME_TOPIC, {"replication_status": FAILING_OVER}, values
            )
            return
        if failback:
            outcome = ENABLED
            values = {
                "replication_status": ENABLED,
                "active_backend_id": "",
                "disabled": service["frozen"],
                "disabled_reason": FROZEN_REASON if service["frozen"] else "",
            }
        else:
            outcome = FAILED_OVER
            values = {
                "replication_status": FAILED_OVER,
                "active_backend_id": None if active_backend_id is None else str(active_backend_id),
                "disabled": True,
                "disabled_reason": FAILED_OVER_REASON,
            }
        self.db.service_conditional_update(
            self.host, VOLUME_TOPIC, {"replication_status": FAILING_OVER}, values
        )
        for volume in replicated:
            self.db.volume_update(volume["id"], _host_failover_values(updates.get(volume["id"], {}), outcome))
        for group in groups:
            settled = _group_failover_values(group_updates.get(group["id"], {}), outcome)
            self.db.group_update(group["id"], settled)
        LOG.info("%s: failed over to %s", self.host, values["active_backend_id"] or "its own array")

    def freeze_host(self, context: Mapping[str, Any]) -> Gen:
        """The driver is told; the service is disabled whatever it says (Cinder's freeze_host)."""
        try:
            yield from self._driver("freeze_backend", context=context)
        except exception.VolumeDriverException as exc:
            LOG.warning("%s: the driver failed to freeze, the service is frozen anyway: %s", self.host, exc)
        self.db.service_update_or_create(
            self.host, VOLUME_TOPIC, {"disabled": True, "disabled_reason": FROZEN_REASON}
        )
        return True

    def thaw_host(self, context: Mapping[str, Any]) -> Gen:
        """The driver must agree: if it raises, the service stays disabled and the caller is told."""
        try:
            yield from self._driver("thaw_backend", context=context)
        except exception.VolumeDriverException as exc:
            LOG.error("%s: the driver failed to thaw, the service remains frozen: %s", self.host, exc)
            return False
        self.db.service_update_or_create(self.host, VOLUME_TOPIC, {"disabled": False, "disabled_reason": ""})
        return True

    # -- volume lifecycle -------------------------------------------------------------------------

    def create_volume(self, context: Mapping[str, Any], volume_id: str, op_id: str | None = None) -> Gen:
        if not self._first(op_id, volume_id, "create"):
            return
        volume = self.db.volume_get(volume_id)
        if volume["status"] != CREATING:
            raise exception.InvalidVolume(reason=f"volume {volume_id} is {volume['status']}, not creating")
        self.working.add(volume_id)
        try:
            update = yield from self._driver("create_volume", volume=self._driver_volume(volume))
            values: dict[str, Any] = {"status": AVAILABLE}
            if update:
                if not isinstance(update, Mapping):
                    raise exception.VolumeDriverException(
                        message=f"create_volume returned {type(update).__name__}, expected a dict or None"
                    )
                for key, value in update.items():
                    if key in MODEL_UPDATE_KEYS and key != "status":
                        values[key] = _as_text(value)
        except Exception as exc:
            self.db.volume_update(
                volume_id, {"status": VOLUME_ERROR, "status_reason": f"create failed: {self._describe(exc)}"}
            )
            return
        finally:
            self.working.discard(volume_id)
        self._save(volume_id, {"status": CREATING}, values)

    def delete_volume(self, context: Mapping[str, Any], volume_id: str, op_id: str | None = None) -> Gen:
        if not self._first(op_id, volume_id, "delete"):
            return
        volume = self.db.volume_get(volume_id)
        self.working.add(volume_id)
        try:
            yield from self._driver("delete_volume", volume=self._driver_volume(volume))
        except Exception as exc:
            self.db.volume_update(
                volume_id,
                {"status": ERROR_DELETING, "status_reason": f"delete failed: {self._describe(exc)}"},
            )
            return
        finally:
            self.working.discard(volume_id)
        self.db.volume_destroy(volume_id)

    # -- start-up and the periodic task ------------------------------------------------------------

    def on_start(self) -> Gen:
        self.incarnation = "%x" % (yield Draw("ids", "getrandbits", (48,)))
        # A backend whose array is down at start-up (or whose database is) comes up when they do:
        # set-up is retried every report interval rather than leaving the service dead for good.
        while not (yield from self._set_up()):
            yield Sleep(self.report_interval)
        self.initialized = True
        while True:
            try:
                yield from self.report_stats()
            except Exception as exc:  # the loop must outlive any one bad report
                LOG.error("%s: periodic stats failed: %s", self.host, self._describe(exc))
            try:
                now = yield Now()
                if now - self.last_reap >= self.stuck_after / 4:
                    self.last_reap = now
                    self.reap_orphans(now)
            except exception.DBUnavailable as exc:
                LOG.error("%s: cannot look for orphaned volumes: %s", self.host, exc)
            yield Sleep(self.report_interval)

    def _set_up(self) -> Gen:
        """Set the driver up and reconcile what a crash left; False (the service marked disabled,
        saying why) when that failed."""
        try:
            yield from self._driver("do_setup", context=admin_context().to_dict())
            yield from self._driver("check_for_setup_error")
            self.reconcile()
        except Exception as exc:
            LOG.error("%s: driver set-up failed: %s", self.host, self._describe(exc))
            with contextlib.suppress(exception.DBUnavailable):
                self.db.service_update_or_create(
                    self.host,
                    VOLUME_TOPIC,
                    {
                        "topic": VOLUME_TOPIC,
                        "disabled": True,
                        "disabled_reason": SETUP_FAILED + self._describe(exc),
                    },
                )
            return False
        return True

    def reconcile(self) -> list[str]:
        """Volumes a crash left mid-operation go to ``error``, saying why; returns their ids."""
        fixed = []
        for volume in self.db.volume_get_all(host=self.host):
            status = volume["replication_status"]
            if status in TRANSITIONAL:
                reason = f"{self.host} restarted while the volume was {status}; outcome unknown"
                if self.db.volume_conditional_update(
                    volume["id"],
                    {"replication_status": status},
                    {"replication_status": ERROR, "replication_extended_status": reason},
                ):
                    fixed.append(volume["id"])
            if volume["status"] in (CREATING, DELETING):
                new = VOLUME_ERROR if volume["status"] == CREATING else ERROR_DELETING
                self.db.volume_conditional_update(
                    volume["id"],
                    {"status": volume["status"]},
                    {"status": new, "status_reason": f"{self.host} restarted during {volume['status']}"},
                )
                fixed.append(volume["id"])
        return fixed

    def reap_orphans(self, now: float) -> list[str]:
        """Volumes of this host left mid-operation (a replication action, a create or a delete) that
        no handler is working on for ``stuck_after`` seconds go to an error status, saying why;
        returns their ids."""
        reaped = []
        stuck = [
            (v, "replication_status", v["replication_status"], {"replication_status": ERROR})
            for v in self.db.volume_get_all(host=self.host, replication_statuses=sorted(TRANSITIONAL))
        ]
        failed = {CREATING: VOLUME_ERROR, DELETING: ERROR_DELETING}
        stuck += [
            (v, "status", v["status"], {"status": failed[v["status"]]})
            for v in self.db.volume_get_all(host=self.host, statuses=sorted(failed))
        ]
        for volume, field, status, values in stuck:
            updated = volume.get("updated_at")
            if volume["id"] in self.working or updated is None or now - float(updated) < self.stuck_after:
                continue
            why = self.unsaved.get(volume["id"])
            reason = f"no reply to {status} after {self.stuck_after:g} s: " + (
                f"its result could not be saved ({why})"
                if why
                else "the request was lost or its result could not be saved; outcome unknown"
            )
            column = "replication_extended_status" if field == "replication_status" else "status_reason"
            if self.db.volume_conditional_update(volume["id"], {field: status}, {**values, column: reason}):
                self.unsaved.pop(volume["id"], None)
                LOG.error("%s: volume %s: %s", self.host, volume["id"], reason)
                reaped.append(volume["id"])
        return reaped

    def mark_unreported(self, exc: BaseException) -> list[str]:
        """The backend could not report (its array stopped, killed or cut off): every volume of it
        that is replicating goes to ``error``, saying why in the driver's words (which name the
        array and the error), with the status it had kept to return to. Returns their ids."""
        reason = UNREPORTED_REASON + self._describe(exc)
        marked = []
        for volume in self.db.volume_get_all(host=self.host, replication_statuses=(ENABLED, FAILED_OVER)):
            volume_id = volume["id"]
            if volume_id in self.working:
                continue
            current = volume["replication_status"]
            if self.db.volume_conditional_update(
                volume_id,
                {"replication_status": current, "host": volume["host"]},
                {
                    "replication_status": ERROR,
                    "replication_extended_status": reason,
                    "previous_replication_status": current,
                },
            ):
                self.unreported.add(volume_id)
                marked.append(volume_id)
        if marked:
            LOG.error("%s: %d volume(s) in error: %s", self.host, len(marked), reason)
        return marked

    def report_stats(self) -> Gen:
        """Report stats to the scheduler and the services table; apply replication updates."""
        try:
            stats = yield from self._driver("get_volume_stats", refresh=True)
        except Exception as exc:
            # The service is alive though its array is not (a failover is how it serves again):
            # the heartbeat goes on, so the API still sees it up; its volumes say why they are not
            # reported on. (Only a backend that cannot give its stats is silent: a report that
            # fails later, a driver's bug in get_replication_updates, says nothing of the arrays.)
            self.reports += 1
            self.db.service_update_or_create(self.host, VOLUME_TOPIC, {"report_count": self.reports})
            try:
                self.mark_unreported(exc)
            except exception.CinderException as db_exc:
                LOG.error("%s: cannot mark volumes of a silent backend: %s", self.host, db_exc)
            raise
        now = yield Now()
        first = self.reports == 0
        self.reports += 1
        self.last_stats = dict(stats)
        values: dict[str, Any] = {
            "topic": VOLUME_TOPIC,
            "report_count": self.reports,
            "capabilities": dict(stats),
            "stats_at": now,
        }
        try:
            service = self.db.service_get(self.host, VOLUME_TOPIC)
        except exception.ServiceNotFound:
            service = None
        # Only the manager's own reason to disable the service ends with a good report; an admin's,
        # a freeze's or a failover's stays.
        if service is None or (service["disabled_reason"] or "").startswith(SETUP_FAILED):
            values.update(disabled=False, disabled_reason=None)
        # Start-up, as Cinder's init_host: a service not failed over says what its stats say.
        if first and (service is None or service["replication_status"] != FAILED_OVER):
            values["replication_status"] = ENABLED if stats.get("replication_enabled") else DISABLED
        self.db.service_update_or_create(self.host, VOLUME_TOPIC, values)
        yield rpcapi.report_capabilities(self.host, {**stats, "timestamp": now})
        asked = now
        troubled: set[str] = set()
        if stats.get("replication_enabled"):
            asked = yield Now()
            updates = yield from self._driver("get_replication_updates", context=admin_context().to_dict())
            for update in updates or ():
                if update.get("status") == "error":
                    troubled.add(update.get("volid"))
                try:
                    self.apply_replication_update(update, asked)
                except exception.VolumeNotFound:
                    LOG.warning("%s: replication update for unknown volume %r", self.host, update)
        if stats.get("replication_status") == ERROR and contract.era_supported("groups", stats):
            yield from self.report_group_errors(admin_context().to_dict())
        # The backend reports again: a volume still in error only for its silence, and of which the
        # report names no problem, recovers (one the report names is the driver's to clear).
        for volume_id in sorted(self.unreported):
            self.unreported.discard(volume_id)
            try:
                reason = self.db.volume_get(volume_id)["replication_extended_status"] or ""
            except exception.VolumeNotFound:
                continue
            if volume_id not in troubled and reason.startswith(UNREPORTED_REASON):
                self.apply_replication_update({"volid": volume_id, "status": "ok"}, asked)

    def apply_replication_update(self, update: Mapping[str, Any], asked: float | None = None) -> None:
        """The seed left this loop empty. Here the driver's report is the array's truth, applied
        to the database: ``error`` moves a replicated volume to ``error`` (saying why); ``ok``
        brings a volume in error back to the state it reports, or else the one it had before; and
        where the report says the volume is served from elsewhere (a failover that completed after
        this manager gave up on it, a restart), the host and location are repaired, saying so.
        A volume an action is at work on is left to that action, and one written since the report
        was ``asked`` for is left as written: the report may predate that write."""
        volume_id = update.get("volid")
        status = update.get("status")
        if not isinstance(volume_id, str) or status not in ("ok", "error"):
            LOG.warning("%s: ignoring malformed replication update %r", self.host, update)
            return
        volume = self.db.volume_get(volume_id)
        current = volume["replication_status"]
        if current in TRANSITIONAL or volume_id in self.working or current == NOT_CAPABLE:
            # not-capable is a host failover's verdict on a volume it set aside: only a failback
            # or a reset clears it, not what the arrays say of the volume's replication
            return
        if asked is not None and volume.get("updated_at") is not None and float(volume["updated_at"]) > asked:
            return
        values: dict[str, Any] = {}
        moved = self._moved(volume, update)
        truth = update.get("replication_status") if update.get("replication_status") in STABLE else None
        if status == "error":
            if current not in (ENABLED, FAILED_OVER, ERROR) and not moved:
                return  # not replicating (disabled): nothing to protect
            details = {k: v for k, v in update.items() if k not in UPDATE_STATE_KEYS}
            # From error too: the newest problem the driver reports (a split brain, say) is the
            # one the operator must see, not what first put the volume in error.
            if current == ERROR and not moved and self._already_said(volume, details, asked):
                return  # already said: no write (these repeat every report interval)
            reason = UPDATE_REASON + (
                json.dumps(details, sort_keys=True, default=str) if details else NO_DETAILS
            )
            values.update(replication_status=ERROR, replication_extended_status=reason)
            if current != ERROR:
                values["previous_replication_status"] = current if current in STABLE else truth
        elif current == ERROR:
            self._said.pop(volume_id, None)
            previous = volume.get("previous_replication_status")
            values.update(
                replication_status=truth
                or (FAILED_OVER if "host" in moved else None)
                or (previous if previous in STABLE else ENABLED),
                replication_extended_status=None,
            )
        elif moved:
            values["replication_status"] = truth or (FAILED_OVER if "host" in moved else current)
        elif truth is not None and truth != current:
            # The array did what the database does not know of (an action that completed after its
            # handler was abandoned): the array is right.
            values.update(
                replication_status=truth,
                replication_extended_status=(
                    f"repaired from the driver's report: replication is {truth} on the array "
                    f"(the database said {current})"
                ),
            )
            LOG.warning("%s: volume %s: %s", self.host, volume_id, values["replication_extended_status"])
        else:
            return
        if moved:
            values.update(moved)
            said = ", ".join(f"{key} {volume.get(key)!r}" for key in sorted(moved))
            note = (
                f"repaired from the driver's report: it serves the volume from "
                f"{', '.join(f'{k} {v!r}' for k, v in sorted(moved.items()))} (the database said {said})"
            )
            LOG.warning("%s: volume %s: %s", self.host, volume_id, note)
            if values["replication_status"] != ERROR:
                values["replication_extended_status"] = note
        self.db.volume_conditional_update(
            volume_id, {"replication_status": current, "host": volume["host"]}, values
        )

    def _moved(self, volume: Mapping[str, Any], update: Mapping[str, Any]) -> dict[str, str]:
        """Where the update says the volume is served from, where the database says otherwise.

        A manager claims a volume for its own backend, or repairs one of its own; a volume of
        another backend served from a third is left to those backends' managers."""
        moved = {
            key: update[key]
            for key in ("host", "provider_location")
            if isinstance(update.get(key), str) and update[key] != volume.get(key)
        }
        if not moved:  # the common case, every volume every report: nothing to weigh
            return moved
        if "host" in moved and not is_valid_host(moved["host"]):
            LOG.warning(
                "%s: replication update names host %r, not 'host@backend#pool'", self.host, moved.pop("host")
            )
        owner = backend_host(moved.get("host") or volume.get("host") or "")
        return moved if moved and self.host in (owner, backend_host(volume.get("host") or "")) else {}

    def _already_said(self, volume: Mapping[str, Any], details: Mapping[str, Any], now: float | None) -> bool:
        """Whether a volume in ``error`` already states this report. Its words (every value that
        is not a number) must match; its numbers (a lag, a count of unshipped writes) are
        measurements that move every interval, so the row's figures are refreshed at most once
        every ``FIGURE_REFRESH`` report intervals rather than rewritten each time."""
        said = volume["replication_extended_status"] or ""
        if not said.startswith(UPDATE_REASON):
            return False
        known = self._said.get(volume["id"])
        if known is None or known[0] != said:  # parsed once per text, not once per interval
            text = said[len(UPDATE_REASON) :]
            try:
                before = {} if text == NO_DETAILS else json.loads(text)
            except ValueError:
                return False
            if not isinstance(before, dict):
                return False
            known = self._said[volume["id"]] = (said, before, _words(before))
        report = _as_json(details)
        if _words(report) != known[2]:
            return False
        if report == known[1]:
            return True
        return now is not None and now - float(volume["updated_at"]) < FIGURE_REFRESH * self.report_interval


def _failover_answer(answer: Any) -> tuple[Any, dict[str, Mapping[str, Any]], dict[str, Mapping[str, Any]]]:
    """failover_host's ``(active_backend_id, volume_updates, group_updates)`` as the backend now
    active, each volume's updates and each group's; any other shape is the driver's error (Cinder's
    failover-error, the old 2-tuple included)."""
    if not isinstance(answer, tuple | list) or len(answer) != 3:
        raise exception.VolumeDriverException(
            message=f"failover_host returned {type(answer).__name__}"
            + (f" of {len(answer)}" if isinstance(answer, tuple | list) else "")
            + ", expected (active_backend_id, volume_updates, group_updates)"
        )
    active_backend_id, volume_updates, group_updates = answer
    return active_backend_id, _updates_by_id(volume_updates, "volume"), _updates_by_id(group_updates, "group")


def _updates_by_id(items: Any, kind: str) -> dict[str, Mapping[str, Any]]:
    """A failover_host update list (``[{'volume_id': id, 'updates': {...}}]``, or ``group_id``) by
    id; an item of any other shape is the driver's error (Cinder's ProgrammingError)."""
    key = f"{kind}_id"
    updates: dict[str, Mapping[str, Any]] = {}
    for item in items or ():
        if not isinstance(item, Mapping) or key not in item or not isinstance(item.get("updates"), Mapping):
            raise exception.VolumeDriverException(
                message=f"failover_host's {kind} update {item!r} is not {{'{key}': id, 'updates': {{...}}}}"
            )
        updates[item[key]] = item["updates"]
    return updates


def _host_failover_values(update: Mapping[str, Any], outcome: str) -> dict[str, Any]:
    """One volume's DB update after its backend failed over: the driver's keys the manager writes,
    settled by Cinder 29's rules (``_settle_after_host_failover``)."""
    values: dict[str, Any] = {}
    for key, value in update.items():
        if key not in contract.HOST_UPDATE_KEYS:
            LOG.warning("ignoring key %r of a failover_host volume update", key)
        elif key == "host" and not is_valid_host(value):
            LOG.warning("ignoring failover_host's host %r: not 'host@backend#pool'", value)
        elif key in ("provider_location", "replication_driver_data"):
            values[key] = _as_text(value)
        else:
            values[key] = value
    _settle_after_host_failover(values, outcome)
    failed = values["replication_status"] == FAILOVER_ERROR
    values["replication_extended_status"] = (
        "the driver could not fail this volume over with its backend" if failed else None
    )
    return values


def _group_failover_values(update: Mapping[str, Any], outcome: str) -> dict[str, Any]:
    """One replicated group's update after its backend failed over, by the volumes' rules (Cinder
    29's manager applies the same to its groups); of a group only its statuses are written."""
    values = {key: update[key] for key in ("status", "replication_status") if key in update}
    for key in update.keys() - values.keys():
        LOG.warning("ignoring key %r of a failover_host group update", key)
    _settle_after_host_failover(values, outcome)
    if values["replication_status"] == FAILOVER_ERROR:
        values["status_reason"] = "the driver could not fail this group over with its backend"
    return values


def _settle_after_host_failover(values: dict[str, Any], outcome: str) -> None:
    """Cinder 29's rule for a volume or group after a host failover: one the driver marks ``status:
    error`` is failover-error; one it leaves out (or says failed-over of) takes the backend's
    outcome; failover-error forces ``status: error``."""
    if values.get("status") == VOLUME_ERROR:
        values["replication_status"] = FAILOVER_ERROR
    elif values.get("replication_status") in (None, FAILED_OVER):
        values["replication_status"] = outcome
    if values["replication_status"] == FAILOVER_ERROR:
        values.setdefault("status", VOLUME_ERROR)


def _words(details: Mapping[str, Any]) -> dict[str, Any]:
    """A report's state: what it says, without the figures it measured (ints and floats)."""
    return {key: value for key, value in details.items() if type(value) not in _FIGURES}


_FIGURES = frozenset({int, float})
_PLAIN = frozenset({str, int, float, bool, type(None)})


def _as_json(details: Mapping[str, Any]) -> Any:
    """``details`` as the reason text stores them (plain JSON values pass unchanged)."""
    if all(type(value) in _PLAIN for value in details.values()):
        return details
    return json.loads(json.dumps(details, sort_keys=True, default=str))
