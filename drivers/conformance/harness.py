"""What checks stand on: the driver called directly, the control plane in sim, and the cleanup.

A run builds both benches once and lazily. The direct bench holds the driver under test (plus
the drivers of its managed replication targets, so a failover has somewhere to go); the Cinder
bench deploys the actors around a second instance of the same class, in simulated time. Each
check gets a ``Probe``: its own recorded calls, its own volumes and its own cleanup stack.
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from functools import partial
from typing import Any

from replisim.actors.client import Client
from replisim.actors.config import BackendConfig
from replisim.actors.context import RequestContext, admin_context
from replisim.actors.db import MemoryRepository
from replisim.actors.deployment import Deployment, deploy
from replisim.actors.manager import MODEL_UPDATE_KEYS
from replisim.actors.status import (
    AVAILABLE,
    CREATING,
    DELETING,
    ERROR_DELETING,
    TRANSITIONAL,
    VOLUME_ERROR,
    backend_host,
    is_valid_host,
)
from replisim.drivers import contract
from replisim.drivers.contract import BORN_REPORTS, BORN_STATUSES, GROUP_REPLICATION_SPECS, era_supported
from replisim.exception import VolumeNotFound
from replisim.sim import SimRuntime

from .target import Target

VOLUME_PREFIX = "conformance"
ADMIN = RequestContext(
    "conformance", "conformance", is_admin=True, request_id="req-conformance", roles=("admin",)
)
REPORT_INTERVAL = 10.0  # simulated seconds between the manager's stats reports
WAIT_REPORTS = 30  # how many report intervals an outcome may take before a check gives up
DEFAULT_TIMEOUT = contract.CALL_TIMEOUT  # wall-clock seconds a call may take before its check fails


class CheckFailed(AssertionError):
    """An expectation a check holds the driver to, and what was seen instead."""

    def __init__(self, expected: str, observed: str, call: str = "", hint: str = ""):
        super().__init__(f"expected {expected}; observed {observed}")
        self.expected = expected
        self.observed = observed
        self.call = call
        self.hint = hint


class Blocked(Exception):
    """A check could not run because something it stands on failed (reported as a skip)."""


def describe_call(method: str, args: Mapping[str, Any]) -> str:
    """A call as a vendor would type it, with volumes and contexts abbreviated."""
    shown = []
    for key, value in args.items():
        if isinstance(value, RequestContext):
            text = "<admin context>" if value.is_admin else f"<context of {value.user_id}>"
        elif isinstance(value, Mapping) and "id" in value and "size" in value:
            text = (
                f"<volume {value['id']}, {value['size']} GiB, "
                f"replication_status={value.get('replication_status')!r}>"
            )
        else:
            text = repr(value)
        shown.append(f"{key}={text}")
    return f"{method}({', '.join(shown)})"


class Cleanup:
    """Undo actions, run last in, first out; a failing one is recorded and never stops the rest."""

    def __init__(self) -> None:
        self._undo: list[tuple[str, Callable[[], object]]] = []

    def push(self, what: str, undo: Callable[[], object], *, last: bool = False) -> None:
        """``last``: run after everything pushed so far too (a failback owed once the volumes a
        failed-over backend serves are deleted from where it serves them)."""
        if last:
            self._undo.insert(0, (what, undo))
        else:
            self._undo.append((what, undo))

    def forget(self, what: str) -> None:
        """The check undid it itself (a volume it deleted on purpose)."""
        self._undo = [(w, u) for w, u in self._undo if w != what]

    def run(self) -> list[str]:
        errors = []
        while self._undo:
            what, undo = self._undo.pop()
            try:
                undo()
            except Exception as exc:
                errors.append(f"{what}: {type(exc).__name__}: {exc}")
        return errors


class CallTimedOut(Exception):
    """A driver call gave no answer within the per-call timeout; its thread was abandoned."""

    def __init__(self, call: str, seconds: float, earlier: bool = False):
        self.call = call
        self.seconds = seconds
        self.observed = (
            f"no answer: an earlier call to the same method of this driver object is still hung "
            f"after the {seconds:g} s timeout"
            if earlier
            else f"no answer within {seconds:g} s; the call was abandoned and the run went on"
        )
        super().__init__(f"{call}: {self.observed}")


class Guard:
    """Runs driver calls on a thread each and waits at most ``timeout`` seconds for an answer.

    A call that hangs is abandoned (its daemon thread may never end) and recorded, so the check
    that made it fails naming the call and the time; while it stays hung, further calls to the
    same method of the same object fail at once, so one hang costs one timeout, not one per call.
    """

    def __init__(self, timeout: float):
        self.timeout = timeout
        self.timeouts: list[CallTimedOut] = []  # every call that hung, in order
        self._hung: dict[tuple[int, str], threading.Thread] = {}

    def call(self, owner: Any, method: str, call: str, fn: Callable[[], Any]) -> Any:
        key = (id(owner), method)
        hung = self._hung.get(key)
        if hung is not None and hung.is_alive():
            failure = CallTimedOut(call, self.timeout, earlier=True)
            self.timeouts.append(failure)
            raise failure
        box: dict[str, Any] = {}

        def run() -> None:
            try:
                box["value"] = fn()
            except BaseException as exc:  # handed to the caller's thread
                box["error"] = exc

        thread = threading.Thread(target=run, name=f"conformance: {method}", daemon=True)
        thread.start()
        thread.join(self.timeout)
        if thread.is_alive():
            self._hung[key] = thread
            failure = CallTimedOut(call, self.timeout)
            self.timeouts.append(failure)
            raise failure
        if "error" in box:
            raise box["error"]
        return box.get("value")


class Guarded:
    """A driver object whose contract methods answer within the guard's timeout; every other
    attribute (hooks such as ``service_time``, ``array``) is the object's own."""

    def __init__(self, driver: Any, guard: Guard, where: str = ""):
        self._driver = driver
        self._guard = guard
        self._where = where

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._driver, name)
        if not callable(value) or (name not in contract.METHODS and name not in contract.OPTIONAL):
            return value

        def guarded(*args: Any, **kwargs: Any) -> Any:
            shown = describe_call(name, {**{f"arg{i}": a for i, a in enumerate(args)}, **kwargs})
            return self._guard.call(self._driver, name, self._where + shown, lambda: value(*args, **kwargs))

        return guarded


def unwrap(driver: Any) -> Any:
    """The driver object behind a ``Guarded`` one."""
    return driver._driver if isinstance(driver, Guarded) else driver


@contextmanager
def control_plane_log() -> Iterator[list[str]]:
    """Collect what the manager and scheduler log (warnings and errors) meanwhile: what Cinder
    made of the driver's answers, shown with a failing check."""
    lines: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(f"{record.name}: {record.getMessage()}")

    handler = Collect(logging.WARNING)
    loggers = [logging.getLogger(name) for name in ("replisim.manager", "replisim.scheduler")]
    for logger in loggers:
        logger.addHandler(handler)
    try:
        yield lines
    finally:
        for logger in loggers:
            logger.removeHandler(handler)


def replication_outcome(volume: Mapping[str, Any]) -> str:
    """A volume's replication outcome as the manager recorded it."""
    reason = volume.get("replication_extended_status")
    return f"replication_status={volume['replication_status']!r}" + (f" ({reason})" if reason else "")


def _text(value: Any) -> str | None:
    """Driver data as the database would hand it back (the manager stores text)."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, default=str)


def construct(cls: type, backend: BackendConfig) -> Any:
    """A driver built from its config section alone, as Cinder builds one."""
    return cls(configuration=backend.driver_configuration(), host=backend.host)


class DriverBench:
    """The driver under test, constructed from its config section alone and set up, as Cinder
    would at service start; then the drivers of its managed replication targets."""

    def __init__(self, target: Target, guard: Guard):
        self.target = target
        self.guard = guard
        self.driver: Any = None
        self.by_host: dict[str, Any] = {}  # each a Guarded driver
        # (call, exception) per stage; None until the stage ran
        self.constructed: tuple[str, BaseException | None] | None = None
        self.set_up: tuple[str, BaseException | None] | None = None
        self._build()

    def _build(self) -> None:
        ctx = admin_context()
        units = [
            (self.target.backend, self.target.driver_class),
            *((peer, cls) for peer, cls in self.target.peers),
        ]
        for backend, cls in units:
            what = describe_call(
                cls.__name__, {"configuration": f"<[{backend.name}] section>", "host": backend.host}
            )
            try:
                driver = self.guard.call(
                    cls,
                    "__init__",
                    what,
                    partial(construct, cls, backend),
                )
            except Exception as exc:
                self.constructed = (what, exc)
                return
            self.by_host[backend.host] = Guarded(driver, self.guard)
        self.constructed = (what, None)
        self.driver = self.by_host[self.target.backend.host]
        for backend, _ in units:
            driver = self.by_host[backend.host]
            what = f"[{backend.name}] " + describe_call("do_setup", {"context": ctx})
            try:
                driver.do_setup(context=ctx)
                what = f"[{backend.name}] check_for_setup_error()"
                driver.check_for_setup_error()
            except Exception as exc:
                self.set_up = (what, exc)
                return
        self.set_up = (what, None)

    @property
    def ready(self) -> bool:
        return self.set_up is not None and self.set_up[1] is None

    def owner(self, volume: Mapping[str, Any]) -> Any:
        """The driver that serves a volume's host now (a managed failover moves it)."""
        return self.by_host.get(backend_host(str(volume.get("host") or "")), self.driver)


class RecordingRepository(MemoryRepository):
    """The database, remembering every replication status a volume was given: an action's outcome
    is the first final status after it started, whatever the driver's reports repair it to later
    (an 'ok' report rightly brings a failed failover's 'error' back to 'enabled')."""

    def __init__(self, *, clock: Callable[[], float]):
        super().__init__(clock=clock)
        self.history: list[dict[str, Any]] = []

    def _record(self, row: dict[str, Any] | None, values: Mapping[str, Any]) -> dict[str, Any] | None:
        if row is not None and "replication_status" in values:
            self.history.append(dict(row))
        return row

    def volume_update(self, volume_id: str, values: Mapping[str, Any]) -> dict[str, Any]:
        row = self._record(super().volume_update(volume_id, values), values)
        assert row is not None
        return row

    def volume_conditional_update(
        self,
        volume_id: str,
        expected: Mapping[str, Any],
        values: Mapping[str, Any],
        *,
        within_quota: bool = False,
    ) -> dict[str, Any] | None:
        row = super().volume_conditional_update(volume_id, expected, values, within_quota=within_quota)
        return self._record(row, values)


class CinderBench:
    """The control plane in sim around a fresh instance of the driver under test."""

    def __init__(self, target: Target, run_id: str, guard: Guard):
        self.target = target
        self.run_id = run_id
        self.guard = guard
        self.host = target.backend.host
        self.runtime = SimRuntime(seed=int(run_id, 16))  # so API ids differ from run to run
        self.db = RecordingRepository(clock=lambda: self.runtime.now)
        self._types: dict[bool, str] = {}
        self.created: list[str] = []  # every volume id the suite created through the API
        self.failure: tuple[str, str] | None = None  # (call, what went wrong)
        self.deployment: Deployment | None = None
        self.driver: Any = None
        self.admin = Client(self.runtime, ADMIN, timeout=REPORT_INTERVAL * WAIT_REPORTS)
        self._start()

    def _start(self) -> None:
        backend = self.target.backend
        call = describe_call(
            self.target.driver_class.__name__,
            {"configuration": f"<[{backend.name}] section>", "host": self.host},
        )
        try:
            drivers: dict[str, Any] = {}
            for unit, cls in ((backend, self.target.driver_class), *self.target.peers):
                built = self.guard.call(
                    cls,
                    "__init__",
                    call if unit is backend else f"[{unit.name}] {cls.__name__}(...)",
                    partial(construct, cls, unit),
                )
                drivers[unit.name] = Guarded(built, self.guard, "[control plane] ")
            self.driver = unwrap(drivers[backend.name])
            call = f"deploy the control plane for {', '.join(self.target.deploy_config().enabled_backends)}"
            self.deployment = deploy(
                self.runtime,
                self.target.deploy_config(),
                self.db,
                report_interval=REPORT_INTERVAL,
                drivers=drivers,
            )
        except Exception as exc:
            self.failure = (call, f"raised {type(exc).__name__}: {exc}")
            return
        try:
            service = self.wait(self._service_state, f"the volume service {self.host} to report stats")
        except CheckFailed as exc:
            self.failure = ("start the volume service and wait for its first stats report", exc.observed)
            return
        if service["disabled"]:
            self.failure = (
                "start the volume service (do_setup, check_for_setup_error)",
                f"service disabled: {service['disabled_reason']}",
            )

    def _service_state(self) -> dict[str, Any] | None:
        for service in self.db.service_get_all():
            if service["host"] == self.host and (service["disabled"] or service.get("report_count")):
                return service
        return None

    @property
    def ready(self) -> bool:
        return self.failure is None

    def wait(self, predicate: Callable[[], Any], what: str, reports: float = WAIT_REPORTS) -> Any:
        """Advance simulated time until ``predicate`` gives something true."""
        deadline = self.runtime.now + reports * REPORT_INTERVAL
        step = REPORT_INTERVAL / 20
        while True:
            value = predicate()
            if value:
                return value
            if self.runtime.now >= deadline:
                raise CheckFailed(what, f"nothing after {reports * REPORT_INTERVAL:.0f} simulated seconds")
            self.runtime.run(until=self.runtime.now + step)

    def settle(self, reports: float = 1.0) -> None:
        self.runtime.run(until=self.runtime.now + reports * REPORT_INTERVAL)

    def volume_type(self, replicated: bool) -> str:
        """A type that pins volumes to the backend under test, asking for replication or not."""
        if replicated not in self._types:
            specs = {"volume_backend_name": self.target.backend.volume_backend_name}
            if replicated:
                specs["replication"] = "enabled"
            name = f"{VOLUME_PREFIX}-{self.run_id}-{'replicated' if replicated else 'plain'}"
            created = self.admin("create_volume_type", name=name, extra_specs=specs)
            self._types[replicated] = created["id"]
        return self._types[replicated]

    def drop_types(self) -> None:
        while self._types:
            _, type_id = self._types.popitem()
            self.admin("delete_volume_type", type_id=type_id)

    def get(self, volume_id: str) -> dict[str, Any] | None:
        try:
            return self.db.volume_get(volume_id)
        except VolumeNotFound:
            return None

    def final(self, volume_id: str) -> dict[str, Any]:
        """The volume once no operation is in progress on it."""

        def settled() -> dict[str, Any] | None:
            volume = self.get(volume_id)
            if volume is None:
                raise CheckFailed(f"volume {volume_id} in the database", "it is gone")
            busy = volume["status"] in (CREATING, DELETING) or volume["replication_status"] in TRANSITIONAL
            return None if busy else volume

        try:
            result: dict[str, Any] = self.wait(settled, f"volume {volume_id} to reach a final status")
        except CheckFailed as exc:
            volume = self.get(volume_id) or {}
            raise CheckFailed(
                exc.expected,
                f"still status={volume.get('status')!r}, replication_status="
                f"{volume.get('replication_status')!r}; {exc.observed}",
            ) from None
        return result

    def mark(self) -> int:
        """Where the status history is now: ``outcome`` looks only at what comes after."""
        return len(self.db.history)

    def outcome(self, volume_id: str, since: int) -> dict[str, Any]:
        """The volume as the first final replication status written after ``since`` left it (the
        outcome of the action started then), once no operation is in progress on it."""
        now = self.final(volume_id)
        for row in self.db.history[since:]:
            if row["id"] == volume_id and row["replication_status"] not in TRANSITIONAL:
                return row
        return now

    def delete(self, volume_id: str) -> None:
        """Delete one of the suite's volumes through the API and wait until it is gone."""
        if volume_id not in self.created:
            raise ValueError(f"{volume_id} was not created by this run; the suite never touches it")
        if self.get(volume_id) is None:
            return
        volume = self.final(volume_id)
        if volume["status"] not in (AVAILABLE, VOLUME_ERROR, ERROR_DELETING):
            raise CheckFailed("a deletable volume", f"status {volume['status']!r}")
        self.admin("delete_volume", volume_id=volume_id)

        def gone_or_failed() -> str | None:
            left = self.get(volume_id)
            if left is None:
                return "gone"
            return "failed" if left["status"] == ERROR_DELETING else None

        if self.wait(gone_or_failed, f"volume {volume_id} to be deleted") == "failed":
            reason = (self.get(volume_id) or {}).get("status_reason")
            raise CheckFailed(f"volume {volume_id} deleted", f"status 'error_deleting': {reason}")

    def close(self) -> None:
        self.runtime.stop()
        self.db.close()


class Environment:
    """One run's shared state: the target, both benches (built on first use), ids and capabilities."""

    def __init__(self, target: Target, timeout: float = DEFAULT_TIMEOUT):
        self.target = target
        self.run_id = secrets.token_hex(4)
        self.guard = Guard(timeout)
        self._count = 0
        self._drivers: DriverBench | None = None
        self._cinder: CinderBench | None = None
        self._capabilities: dict[str, str | None] = {}
        self.cleanup = Cleanup()  # run-wide resources (volume types, the benches)
        self.cleanup_errors: list[str] = []  # what per-check cleanups could not undo
        self.inventory_before: Mapping[str, Mapping[str, Any]] | str | None = None
        self.finished = False

    def new_volume_id(self) -> str:
        self._count += 1
        return f"{VOLUME_PREFIX}-{self.run_id}-{self._count:03d}"

    def volume_ids(self) -> list[str]:
        """Every volume id this run made: its own names, and the ids the API gave (unique per run,
        as the simulated control plane is seeded by the run id), so a run never meets another's."""
        own = [f"{VOLUME_PREFIX}-{self.run_id}-{n:03d}" for n in range(1, self._count + 1)]
        return own + (list(self._cinder.created) if self._cinder is not None else [])

    @property
    def drivers(self) -> DriverBench:
        if self._drivers is None:
            self._drivers = DriverBench(self.target, self.guard)
            self.baseline()
        return self._drivers

    def baseline(self) -> None:
        """What the arrays hold before the run creates anything (taken once, on first use)."""
        if self.inventory_before is None:
            self.inventory_before = self.inventory()

    def inventory(self) -> Mapping[str, Mapping[str, Any]] | str:
        """What every array the driver reaches holds, by its optional ``get_inventory``; or why not."""
        bench = self.drivers
        if not bench.ready:
            return "the driver could not be set up"
        hook = getattr(bench.driver, "get_inventory", None)
        if not callable(hook):
            return "the driver has no get_inventory (an optional clause of the contract)"
        try:
            answer = hook()
        except Exception as exc:
            return f"get_inventory() raised {type(exc).__name__}: {exc}"
        problem = inventory_problem(answer)
        return f"get_inventory() returned {answer!r}: {problem}" if problem else answer

    def fresh_drivers(self) -> None:
        """After a hung call the driver objects may be wedged: the next check builds new ones."""
        self._drivers = None

    @property
    def cinder(self) -> CinderBench:
        if self._cinder is None:
            self.baseline()  # before the control plane's drivers touch an array
            bench = self._cinder = CinderBench(self.target, self.run_id, self.guard)
            self.cleanup.push("stop the simulated control plane", bench.close)
            self.cleanup.push("delete the suite's volume types", bench.drop_types)
        return self._cinder

    def secrets(self) -> tuple[str, ...]:
        """The config's credentials, long enough that finding one in an answer is no accident."""
        return tuple(s for s in self.target.secrets() if len(s) >= 4)

    def array_hook(self) -> tuple[Callable[[], Any], Callable[[], Any]] | None:
        """How to crash and restart the array behind the Cinder bench's driver, if it says:
        ``driver.array.crash()``/``restart()``, or the emulated driver's
        ``driver.fabric.crash(driver.array_name)``/``restart(...)``."""
        driver = self.cinder.driver
        array = getattr(driver, "array", None)
        crash, restart = getattr(array, "crash", None), getattr(array, "restart", None)
        if callable(crash) and callable(restart):
            return crash, restart
        fabric, name = getattr(driver, "fabric", None), getattr(driver, "array_name", None)
        crash, restart = getattr(fabric, "crash", None), getattr(fabric, "restart", None)
        if isinstance(name, str) and callable(crash) and callable(restart):
            return (lambda: crash(name)), (lambda: restart(name))
        return None

    def capability(self, name: str) -> str | None:
        """None when the driver has capability ``name``, else why not."""
        if name not in self._capabilities:
            self._capabilities[name] = self._why_not(name)
        return self._capabilities[name]

    def known_capabilities(self) -> dict[str, str | None]:
        """The capabilities this run needed to learn about (None: present, else why not)."""
        return dict(sorted(self._capabilities.items()))

    def _why_not(self, name: str) -> str | None:
        if name == "config-secrets":
            return (
                None
                if self.secrets()
                else (
                    f"{self.target.config.source} holds no password, secret, token or key option to look for"
                )
            )
        if name == "array-failure":
            if not self.cinder.ready:
                raise Blocked("the volume service did not come up (see SETUP-SERVICE-003)")
            return (
                None
                if self.array_hook() is not None
                else ("the driver exposes no array crash/restart hook (the emulated driver does)")
            )
        if name == "host-failover":
            if not contract.supports(self.target.driver_class, contract.V21):
                return f"the driver has no {contract.FEATURES[contract.V21]} (Replication V2.1)"
            return self.capability("replication")
        if name in ("replication", "volume-replication"):
            if not self.drivers.ready:
                raise Blocked("the driver could not be constructed and set up (see SETUP-INIT-001)")
            try:
                stats = self.drivers.driver.get_volume_stats(refresh=True)
            except Exception as exc:
                return f"get_volume_stats(refresh=True) raised {type(exc).__name__}: {exc}"
            if not isinstance(stats, Mapping):
                return f"get_volume_stats() returned a {type(stats).__name__}"
            if name == "volume-replication":
                return (
                    None
                    if contract.replicates_per_volume(stats)
                    else f"get_volume_stats() reports {contract.PER_VOLUME}=False (it replicates by "
                    "failover_host only)"
                )
            flag = stats.get("replication_enabled")
            return None if flag is True else f"get_volume_stats() reports replication_enabled={flag!r}"
        if name == "groups":
            if not self.drivers.ready:
                raise Blocked("the driver could not be constructed and set up (see SETUP-INIT-001)")
            try:
                stats = self.drivers.driver.get_volume_stats(refresh=True)
            except Exception as exc:
                return f"get_volume_stats(refresh=True) raised {type(exc).__name__}: {exc}"
            if isinstance(stats, Mapping) and era_supported("groups", stats):
                return None
            shown = (
                {k: stats.get(k) for k in GROUP_REPLICATION_SPECS} if isinstance(stats, Mapping) else stats
            )
            return f"get_volume_stats() reports {shown!r}"
        raise ValueError(f"unknown capability {name!r}")

    def finish(self) -> list[str]:
        """Undo the run-wide resources, last first; every cleanup error of the run, and leftovers."""
        errors = list(self.cleanup_errors)
        bench = self._cinder
        if bench is not None and bench.ready:
            left = [volume_id for volume_id in bench.created if bench.get(volume_id) is not None]
            errors.extend(f"volume {volume_id} is still in the database" for volume_id in left)
        errors.extend(self.cleanup.run())
        self.finished = True
        return errors


def inventory_problem(answer: Any) -> str | None:
    """What is wrong with a ``get_inventory`` answer, or None."""
    if not isinstance(answer, Mapping) or not answer:
        return "expected a non-empty dict of array name -> holdings"
    for array, holding in answer.items():
        if not isinstance(holding, Mapping) or not {"volumes", "used_gb"} <= set(holding):
            return f"array {array!r}: expected {{'volumes': n, 'used_gb': x, ...}}"
        if set(holding) - contract.INVENTORY_KEYS:
            return f"array {array!r}: unknown keys {sorted(set(holding) - contract.INVENTORY_KEYS)}"
        ids = holding.get("volume_ids")
        if ids is not None and not (isinstance(ids, list | tuple) and all(isinstance(i, str) for i in ids)):
            return f"array {array!r}: volume_ids must be a list of ids"
    return None


def leftovers(
    before: Mapping[str, Mapping[str, Any]], after: Mapping[str, Mapping[str, Any]], mine: Iterable[str]
) -> list[str]:
    """What the run left on the arrays: its own volume ids still held, where the driver names ids
    (so another tenant's volumes never count); else each array whose count or usage changed."""
    ours = set(mine)
    found = []
    for array in sorted(set(before) | set(after), key=str):
        was, now = before.get(array, {}), after.get(array, {})
        if array not in after:
            found.append(f"array {array} is no longer in get_inventory()")
            continue
        ids = now.get("volume_ids")
        if ids is not None:
            left = sorted(ours.intersection(ids))
            if left:
                found.append(f"array {array} still holds {', '.join(left)}")
        elif (was.get("volumes"), was.get("used_gb")) != (now.get("volumes"), now.get("used_gb")):
            found.append(
                f"array {array} held {was.get('volumes')} volume(s), {was.get('used_gb')} GiB before the run "
                f"and {now.get('volumes')}, {now.get('used_gb')} GiB after"
            )
    return found


def _apply_host_updates(answer: Any, volumes: list[dict[str, Any]]) -> bool:
    """Apply a well-formed failover_host answer's updates to ``volumes`` as the manager would;
    whether it was well formed enough to apply."""
    if not (isinstance(answer, tuple | list) and len(answer) == 3 and isinstance(answer[1], list)):
        return False
    by_id = {v["id"]: v for v in volumes}
    for item in answer[1]:
        if isinstance(item, Mapping) and isinstance(item.get("updates"), Mapping):
            volume = by_id.get(item.get("volume_id"))
            if volume is not None:
                volume.update(
                    {k: _text(v) for k, v in item["updates"].items() if k in contract.HOST_UPDATE_KEYS}
                )
    return True


class Probe:
    """What one check works with; everything it creates is undone when it ends."""

    def __init__(self, env: Environment):
        self.env = env
        self.target = env.target
        self.context = admin_context()
        self.calls: list[str] = []
        self.cleanup = Cleanup()

    # -- expectations -------------------------------------------------------------------------

    def fail(self, expected: str, observed: Any, hint: str = "") -> CheckFailed:
        shown = observed if isinstance(observed, str) else repr(observed)
        return CheckFailed(expected, shown, self.calls[-1] if self.calls else "", hint)

    def expect(self, ok: bool, expected: str, observed: Any, hint: str = "") -> None:
        if not ok:
            raise self.fail(expected, observed, hint)

    # -- the driver, directly -----------------------------------------------------------------

    @property
    def drivers(self) -> DriverBench:
        bench = self.env.drivers
        if not bench.ready:
            raise Blocked(
                "the driver could not be constructed and set up (see SETUP-INIT-001, SETUP-DO-SETUP-002)"
            )
        return bench

    @property
    def driver(self) -> Any:
        return self.drivers.driver

    def call(self, method: str, driver: Any = None, **args: Any) -> Any:
        """Call a driver method the way the driver host does (keywords), recording the call."""
        self.calls.append(describe_call(method, args))
        return getattr(driver if driver is not None else self.driver, method)(**args)

    def volume(self, replicated: bool, group: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """A volume as the manager hands it to a driver, with a suite id; not yet created (born
        into ``group`` when one is given, as a group's volumes are, and carrying it)."""
        backend = self.target.backend
        specs = {"volume_backend_name": backend.volume_backend_name}
        if replicated:
            specs["replication"] = "enabled"
        volume_id = self.env.new_volume_id()
        member = {"group_id": group["id"], "group": dict(group)} if group else {}
        return {
            **member,
            "id": volume_id,
            "size": 1,
            "host": f"{backend.host}#{backend.volume_backend_name}",
            "status": CREATING,
            "volume_type_id": f"{VOLUME_PREFIX}-type",
            "replication_status": "disabled",
            "replication_driver_data": None,
            "provider_location": None,
            "extra_specs": specs,
            "display_name": volume_id,
            "project_id": ADMIN.project_id,
            "user_id": ADMIN.user_id,
        }

    def track(self, volume: dict[str, Any]) -> None:
        """The volume exists now: delete it when the check ends (through whichever driver owns it)."""
        self.cleanup.push(volume["id"], lambda: self.drivers.owner(volume).delete_volume(volume=dict(volume)))

    def create(self, replicated: bool = False, group: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Create a volume on the driver under test and apply its model update as the manager does."""
        volume = self.volume(replicated, group)
        update = self.call("create_volume", volume=volume)
        self.track(volume)
        volume["status"] = AVAILABLE
        if isinstance(update, Mapping):
            volume.update({k: _text(v) for k, v in update.items() if k in MODEL_UPDATE_KEYS - {"status"}})
        born = volume["replication_status"]
        self.expect(
            born in BORN_STATUSES,
            f"replication_status {' or '.join(map(repr, sorted(BORN_STATUSES)))} for a new volume",
            f"replication_status={born!r}",
        )
        return volume

    def delete(self, volume: Mapping[str, Any]) -> Any:
        result = self.call("delete_volume", self.drivers.owner(volume), volume=dict(volume))
        self.cleanup.forget(volume["id"])
        return result

    def enable(self, volume: dict[str, Any]) -> Any:
        """Enable replication and keep what the manager would store."""
        update = self.call("replication_enable", context=self.context, volume=dict(volume))
        volume["replication_status"] = "enabled"
        if isinstance(update, Mapping) and "replication_driver_data" in update:
            volume["replication_driver_data"] = _text(update["replication_driver_data"])
        return update

    def disable(self, volume: dict[str, Any]) -> Any:
        """Disable replication and keep what the manager would store."""
        update = self.call("replication_disable", context=self.context, volume=dict(volume))
        volume["replication_status"] = "disabled"
        if isinstance(update, Mapping) and "replication_driver_data" in update:
            volume["replication_driver_data"] = _text(update["replication_driver_data"])
        return update

    def replicated(self) -> dict[str, Any]:
        """A created volume with replication enabled (enabled by the suite unless born so)."""
        volume = self.create(replicated=True)
        if volume["replication_status"] != "enabled":
            self._can_enable(volume)
            self.enable(volume)
        return volume

    def _can_enable(self, volume: Mapping[str, Any]) -> None:
        """A driver without the per-volume actions (a Cinder 29 driver) replicates what it
        creates so or not at all: a volume born otherwise cannot be made replicated."""
        why = self.env.capability("volume-replication")
        if why is not None:
            raise Blocked(
                f"a volume of a replicated type was born replication_status="
                f"{volume['replication_status']!r} and the driver cannot enable it ({why})"
            )

    def replicable(self) -> dict[str, Any]:
        """A created volume of a replicated type whose replication is disabled: one born enabled
        is disabled first (the call shows in the check's sequence)."""
        volume = self.create(replicated=True)
        if volume["replication_status"] == "enabled":
            self.disable(volume)
        return volume

    def failover(self, volume: dict[str, Any], secondary: str | None = None) -> Any:
        """Fail over; a well-formed answer moves the volume (so cleanup asks the new owner)."""
        result = self.call(
            "replication_failover", context=self.context, volume=dict(volume), secondary=secondary
        )
        if isinstance(result, Mapping):
            if is_valid_host(result.get("host")):
                volume["host"] = result["host"]
            model = result.get("model_update")
            if isinstance(model, Mapping) and "provider_location" in model:
                volume["provider_location"] = _text(model["provider_location"])
            if result.get("replication_driver_data") is not None:
                volume["replication_driver_data"] = _text(result["replication_driver_data"])
            volume["replication_status"] = "failed-over"
        return result

    def failover_host(self, volumes: list[dict[str, Any]], secondary_id: str | None = None) -> Any:
        """Host failover (V2.1) of ``volumes``; a well-formed answer's updates are applied to them as
        the manager would, and a failback is owed when the check ends: after its volumes are
        deleted, as a failed-over backend serves them, from its active array (deleted after a
        failback of no volume, they would be asked of an array that does not hold them)."""
        answer = self.call(
            "failover_host",
            context=self.context,
            volumes=[dict(v) for v in volumes],
            secondary_id=secondary_id,
        )
        if _apply_host_updates(answer, volumes):
            if secondary_id != contract.FAILBACK:
                self.cleanup.push("failback", self._failback, last=True)
            else:
                self.cleanup.forget("failback")
        return answer

    def _failback(self) -> None:
        """Put the driver back on its own array once the check's volumes are gone: a failback of
        no volume, as Cinder's manager asks of a backend that has none left."""
        try:
            self.driver.failover_host(context=self.context, volumes=[], secondary_id=contract.FAILBACK)
        except Exception as exc:  # "not failed over": nothing to put back
            if not any(c.__name__ == "InvalidReplicationTarget" for c in type(exc).__mro__):
                raise

    # -- the control plane, in sim ------------------------------------------------------------

    @property
    def cinder(self) -> CinderBench:
        bench = self.env.cinder
        if not bench.ready:
            raise Blocked(
                "the volume service did not come up in the simulated control plane (see SETUP-SERVICE-003)"
            )
        return bench

    def api(self, method: str, **args: Any) -> Any:
        """Call the API as an admin, recording the call."""
        self.calls.append("API " + describe_call(method, args))
        return self.cinder.admin(method, **args)

    def cinder_volume(self, replicated: bool) -> dict[str, Any]:
        """Create a volume through the API on the backend under test and wait until it settles."""
        bench = self.cinder
        type_id = bench.volume_type(replicated)
        created = self.api("create_volume", size=1, name=self.env.new_volume_id(), volume_type=type_id)
        bench.created.append(created["id"])
        self.cleanup.push(created["id"], lambda: bench.delete(created["id"]))
        volume = bench.final(created["id"])
        self.expect(
            volume["status"] == AVAILABLE and backend_host(volume["host"] or "") == bench.host,
            f"status 'available' on {bench.host}",
            f"status {volume['status']!r} on {volume['host']!r}: {volume.get('status_reason')}",
        )
        if replicated and volume["replication_status"] == "disabled":
            # a driver may say it replicates from birth in its replication updates, not at once
            bench.settle(BORN_REPORTS)
            volume = bench.final(created["id"])
        return volume

    def cinder_replicated(self) -> dict[str, Any]:
        """A volume of a replicated type, enabled through the API unless it was born enabled."""
        volume = self.cinder_volume(replicated=True)
        if volume["replication_status"] == "enabled":
            return volume
        self._can_enable(volume)
        return self._cinder_action(volume, "enable_replication", "enabled")

    def cinder_replicable(self) -> dict[str, Any]:
        """A volume of a replicated type with replication disabled: one born enabled is disabled
        through the API first (the call shows in the check's sequence)."""
        volume = self.cinder_volume(replicated=True)
        if volume["replication_status"] == "disabled":
            return volume
        return self._cinder_action(volume, "disable_replication", "disabled")

    def cinder_action(self, volume: Mapping[str, Any], action: str, **args: Any) -> dict[str, Any]:
        """An admin action through the API, and the volume as its outcome left it."""
        since = self.cinder.mark()
        self.api(action, volume_id=volume["id"], **args)
        return self.cinder.outcome(volume["id"], since)

    def _cinder_action(self, volume: Mapping[str, Any], action: str, wanted: str) -> dict[str, Any]:
        after = self.cinder_action(volume, action)
        self.expect(
            after["replication_status"] == wanted,
            f"replication_status {wanted!r}",
            replication_outcome(after),
        )
        return after

    def cinder_delete(self, volume_id: str) -> None:
        self.calls.append("API " + describe_call("delete_volume", {"volume_id": volume_id}))
        self.cinder.delete(volume_id)
        self.cleanup.forget(volume_id)
