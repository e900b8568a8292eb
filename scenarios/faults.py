"""The fault catalog: every kind of fault, once, with its parameters and how each world applies it.

A fault is a value (kind, target, start, duration, params): schedules are lists of them, written
in a scenario or drawn by a seeded policy (``fault_policies``), which is what makes a failing run
printable, replayable and shrinkable. A kind is one ``FaultKind`` entry in ``KINDS``: what it
hits, its parameters (type, default, bounds, a line of doc), how the simulated world begins it
and, where a real process can suffer it, how the live world does. A begin function returns the
function that ends its fault (its undo), so ending a fault undoes exactly what beginning it did.

The scenario schema, the simulated injector (``injector``), the live applier (``ArrayFaults``)
and ``replisim faults`` all read ``KINDS``; adding a kind touches this file only.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from replisim.actors import rpcapi
from replisim.actors.deployment import Deployment
from replisim.actors.driverhost import DriverHost
from replisim.drivers import contract
from replisim.drivers.emulated.fabric import Fabric
from replisim.drivers.emulated.link import mbps_to_kib_s
from replisim.drivers.storage.process import StorageProcess
from replisim.sim import Bus, SimRuntime

from .hints import suggest

Undo = Callable[[], object]
_GONE = object()
TARGET_TYPES = ("array", "link", "backend", "bus", "db")
EFFECTS = ("outage", "stall", "network", "other")


class FaultSpecError(ValueError):
    """A fault specification is wrong; the message names where and what would be valid, and
    ``key`` which key of the fault it is about (``kind``, ``target``, ``params.period``, ...)."""

    def __init__(self, message: str, key: str = ""):
        super().__init__(message)
        self.key = key


@dataclass(frozen=True)
class Fault:
    """One fault. ``duration`` None means it lasts until the heal phase starts."""

    kind: str
    target: str
    start: float
    duration: float | None = None
    params: Mapping[str, Any] = field(default_factory=dict)

    @property
    def end(self) -> float:
        return math.inf if self.duration is None else self.start + self.duration

    def param(self, name: str) -> Any:
        """The parameter's value, or the kind's default."""
        return self.params.get(name, KINDS[self.kind].param(name).default)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "target": self.target, "start": self.start}
        if self.duration is not None:
            out["duration"] = self.duration
        if self.params:
            out["params"] = dict(self.params)
        return out

    def describe(self) -> str:
        span = "until heal" if self.duration is None else f"for {self.duration:g} s"
        extra = "".join(f" {k}={v}" for k, v in sorted(self.params.items()))
        return f"{self.kind} on {self.target} at {self.start:g} s {span}{extra}"


# -- parameters -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Param:
    """One parameter of a kind. ``type`` is ``number``, ``duration`` (seconds; a scenario may write
    ``20s``), ``choice`` (one of ``choices``) or ``groups`` (lists of bus address patterns)."""

    name: str
    type: str
    doc: str
    default: Any = None
    required: bool = False
    low: float = 0.0  # numbers and durations: at least this
    high: float = math.inf  # ... and at most this
    positive: bool = False  # ... and more than 0
    choices: tuple[str, ...] = ()
    example: Any = None  # for a required parameter: a value that works, as the listing shows

    def bounds(self) -> str:
        """The valid values, as a user reads them."""
        if self.type == "choice":
            return "one of " + ", ".join(self.choices)
        if self.type == "groups":
            return "two or more lists of address patterns"
        if self.high < math.inf:
            return f"between {self.low:g} and {self.high:g}"
        return "> 0" if self.positive else f">= {self.low:g}"

    def check(self, value: Any, where: str) -> None:
        key = f"params.{self.name}"
        if self.type == "choice":
            if value not in self.choices:
                shown = (
                    " or ".join(map(repr, self.choices))
                    if len(self.choices) <= 2
                    else "one of " + ", ".join(self.choices)
                )
                hint = suggest(value, self.choices) if isinstance(value, str) else ""
                raise FaultSpecError(f"{where}: {key} must be {shown}, got {value!r}{hint}", key)
        elif self.type == "groups":
            if (
                not isinstance(value, list | tuple)
                or len(value) < 2
                or any(
                    not isinstance(g, list | tuple) or not all(isinstance(p, str) for p in g) for g in value
                )
            ):
                raise FaultSpecError(
                    f"{where}: {key} must be a list of two or more lists of address "
                    f"patterns, such as [[cinder-api], [cinder-volume]], got {value!r}",
                    key,
                )
        else:
            number = _number(value, key, where, minimum=self.low)
            if self.high < math.inf and not self.low <= number <= self.high:
                raise FaultSpecError(
                    f"{where}: {key} must be between {self.low:g} and {self.high:g}, got {value!r}", key
                )
            if self.positive and number <= 0:
                raise FaultSpecError(f"{where}: {key} must be positive, got {value!r}", key)


def _number(value: Any, key: str, where: str, *, minimum: float = 0.0) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        raise FaultSpecError(f"{where}: {key} must be a number, got {value!r}", key)
    if value < minimum:
        raise FaultSpecError(f"{where}: {key} must be >= {minimum:g}, got {value!r}", key)
    return float(value)


def _probability(doc: str) -> Param:
    return Param("probability", "number", doc, 0.1, high=1.0)


# -- the simulated world ----------------------------------------------------------------------------


@dataclass
class _Knob:
    """One setting faults change: its value before the first of them, and each one's contribution."""

    read: Callable[[], Any]
    write: Callable[[Any], object]
    combine: Callable[[Any, list[Any]], Any]
    base: Any
    active: dict[int, Any] = field(default_factory=dict)

    def settle(self) -> None:
        self.write(self.combine(self.base, list(self.active.values())) if self.active else self.base)


@dataclass
class SimWorld:
    """What a simulated begin function reaches: the deployment, its runtime, the fabric its emulated
    drivers share, and when the heal phase starts (no fault outlasts it).

    Faults compose: every setting a fault changes is a knob, and each fault adds its contribution
    to the knob and, when it ends, takes away only its own, so two overlapping faults of one kind
    end as neither leaves the other's value behind. ``leftovers`` proves a clean world."""

    deployment: Deployment
    emulated: Fabric | None = None  # the fabric of its emulated arrays, if it has any
    heal_at: float = math.inf
    knobs: dict[tuple[Any, ...], _Knob] = field(default_factory=dict)
    bus_bases: dict[str, Any] = field(default_factory=dict)  # a bus target's link before its faults
    restarts: dict[str, list[bool]] = field(default_factory=dict)  # manager host -> a restart is due
    _tokens: Any = field(default_factory=itertools.count)

    def contribute(
        self,
        key: tuple[Any, ...],
        value: Any,
        *,
        read: Callable[[], Any],
        write: Callable[[Any], object],
        combine: Callable[[Any, list[Any]], Any],
        base: Any = _GONE,
    ) -> Undo:
        """Add ``value`` to the knob ``key`` (made, with its current value as the base unless
        ``base`` is given, by the first fault to touch it); the undo takes this value away again,
        whatever else is active."""
        knob = self.knobs.get(key)
        if knob is None:
            knob = self.knobs[key] = _Knob(read, write, combine, read() if base is _GONE else base)
        token = next(self._tokens)
        knob.active[token] = value
        knob.settle()

        def undo() -> None:
            if knob.active.pop(token, _GONE) is not _GONE:
                knob.settle()

        return undo

    def hold(
        self,
        key: tuple[Any, ...],
        *,
        read: Callable[[], Any],
        write: Callable[[Any], object],
        during: Any = True,
    ) -> Undo:
        """A knob that is ``during`` while any fault holds it, and back to its base after the last."""
        return self.contribute(key, during, read=read, write=write, combine=lambda base, values: during)

    def leftovers(self) -> list[str]:
        """What faults left behind: contributions still active, and settings not back to their
        value before the first fault (empty in a clean world)."""
        found = []
        for key, knob in sorted(self.knobs.items(), key=lambda item: repr(item[0])):
            name = " ".join(map(str, key))
            if knob.active:
                found.append(f"{name}: still held by {len(knob.active)} fault(s)")
            elif knob.read() != knob.base:
                found.append(f"{name}: is {knob.read()!r}, was {knob.base!r} before the faults")
        return found

    @property
    def runtime(self) -> Any:
        return self.deployment.runtime

    def fabric(self, fault: Fault) -> Fabric:
        if self.emulated is None:
            raise ValueError(f"{fault.describe()}: this world has no emulated arrays")
        return self.emulated

    def bus(self, fault: Fault) -> Bus:
        if not isinstance(self.runtime, SimRuntime):
            raise ValueError(f"{fault.describe()}: bus faults need the simulated bus")
        return self.runtime.bus

    def host(self, backend: str) -> str:
        return self.deployment.config.backend(backend).host

    def driver_host(self, backend: str) -> DriverHost:
        actor = self.runtime.actor(rpcapi.driver_address(self.host(backend)))
        assert isinstance(actor, DriverHost)
        return actor


SimBegin = Callable[[SimWorld, Fault], Undo]


def _link_ends(fault: Fault) -> tuple[str, str]:
    source, _, target = fault.target.partition("->")
    return source, target


def _sim_array_crash(world: SimWorld, fault: Fault) -> Undo:
    fabric = world.fabric(fault)
    array = fabric.array(fault.target)
    return world.hold(
        ("array", fault.target, "crashed"),
        read=lambda: not array.up,
        write=lambda down: (fabric.crash if down else fabric.restart)(fault.target),
    )


def _sim_array_pause(world: SimWorld, fault: Fault) -> Undo:
    fabric = world.fabric(fault)
    array = fabric.array(fault.target)

    def write(until: float | None) -> None:
        if until is None:
            fabric.resume(fault.target)
        else:
            fabric.suspend(fault.target, until=until)

    return world.contribute(
        ("array", fault.target, "paused until"),
        min(fault.end, world.heal_at),
        read=lambda: array.suspended_until if array.suspended else None,
        write=write,
        combine=lambda base, ends: max(ends),
    )


def _sim_controller_restart(world: SimWorld, fault: Fault) -> Undo:
    array = world.fabric(fault).array(fault.target)

    def write(window: tuple[float, float] | None) -> None:
        if window is None:  # the last restart's window ends now
            array.restarting_until = min(array.restarting_until, world.runtime.now)
        else:
            array.restarting_until, array.restart_completes = window

    return world.contribute(
        ("array", fault.target, "controller restart"),
        (min(fault.end, world.heal_at), float(fault.param("completes"))),
        read=lambda: (
            None
            if array.restarting_until <= world.runtime.now
            else (array.restarting_until, array.restart_completes)
        ),
        write=write,
        combine=lambda base, windows: max(windows),
    )


def _sim_latency_spike(world: SimWorld, fault: Fault) -> Undo:
    array = world.fabric(fault).array(fault.target)
    return world.contribute(
        ("array", fault.target, "latency factor"),
        float(fault.param("factor")),
        read=lambda: array.latency_factor,
        write=functools.partial(setattr, array, "latency_factor"),
        combine=lambda base, factors: base * max(factors),
    )


def _sim_capacity_exhausted(world: SimWorld, fault: Fault) -> Undo:
    array = world.fabric(fault).array(fault.target)
    return world.hold(
        ("array", fault.target, "capacity exhausted"),
        read=lambda: array.capacity_exhausted,
        write=functools.partial(setattr, array, "capacity_exhausted"),
    )


def _link_cut(world: SimWorld, fault: Fault, reason: str) -> Undo:
    """Hold the link down for ``reason`` while this fault lasts (the link is down while any holds it)."""
    fabric = world.fabric(fault)
    return world.hold(
        ("link", fault.target, reason),
        read=lambda: reason in fabric.link_faults(fault.target),
        write=lambda down: fabric.set_link_fault(fault.target, reason, bool(down)),
    )


def _sim_link_down(world: SimWorld, fault: Fault) -> Undo:
    return _link_cut(world, fault, fault.kind)


def _sim_link_flap(world: SimWorld, fault: Fault) -> Undo:
    # Each flap has its own reason, so another fault on the link is not lifted by this one's "up".
    fabric = world.fabric(fault)
    period = float(fault.param("period"))
    reason = f"{fault.kind} #{next(world._tokens)}"
    flapping = [True]

    def flip(down: bool) -> None:
        if flapping[0]:
            fabric.set_link_fault(fault.target, reason, down)
            world.runtime.at(period, functools.partial(flip, not down))

    held = world.hold(
        ("link", fault.target, reason),
        read=lambda: reason in fabric.link_faults(fault.target),
        write=lambda on: None,
    )

    def undo() -> None:
        flapping[0] = False
        fabric.set_link_fault(fault.target, reason, False)
        held()

    flip(True)
    return undo


def _sim_link_throttle(world: SimWorld, fault: Fault) -> Undo:
    # The narrowest bandwidth and the longest delay of the throttles in force apply.
    fabric = world.fabric(fault)
    link = fabric.link(*_link_ends(fault))
    slower = world.contribute(
        ("link", fault.target, "bandwidth KiB/s"),
        mbps_to_kib_s(float(fault.param("bandwidth_mbps"))),
        read=lambda: link.bandwidth,
        write=lambda value: link.set_bandwidth(fabric.now, value),
        combine=lambda base, values: min(values),
    )
    later = world.contribute(
        ("link", fault.target, "latency s"),
        float(fault.param("delay")),
        read=lambda: link.latency,
        write=lambda value: link.set_latency(fabric.now, value),
        combine=lambda base, delays: base + max(delays),
    )

    def undo() -> None:
        slower()
        later()

    return undo


def _sim_split_brain(world: SimWorld, fault: Fault) -> Undo:
    # The link comes back when the fault ends; the split itself lasts until an operator fails over.
    fabric = world.fabric(fault)
    reason = f"{fault.kind} #{next(world._tokens)}"
    undo = world.hold(
        ("link", fault.target, reason),
        read=lambda: reason in fabric.link_faults(fault.target),
        write=lambda down: fabric.set_link_fault(fault.target, reason, bool(down)),
    )
    fabric.split_brain(fault.target, reason)
    return undo


# A hang that nothing ends (no duration, no heal phase) still ends: a driver call that never
# returns is a bug, and a world whose calls never return cannot show anything else.
HANG_LIMIT = 3600.0


def _arm(mode: str | None) -> SimBegin:
    """A driver fault: ``mode`` (or the fault's ``error``) armed on the named method while it lasts."""

    def begin(world: SimWorld, fault: Fault) -> Undo:
        faults = world.driver_host(fault.target).faults
        method = str(fault.param("method"))
        until = min(fault.end, world.heal_at, world.runtime.now + HANG_LIMIT)
        armed: list[int] = []

        def write(on: bool) -> None:
            if on and not armed:
                armed.append(faults.arm(method, mode or str(fault.param("error")), until))
            elif not on and armed:
                faults.disarm(armed.pop())

        return world.hold(
            ("backend", fault.target, f"{method} fault #{next(world._tokens)}"),
            read=lambda: bool(armed) and faults.armed(armed[0]),
            write=write,
        )

    return begin


def _manager_stop(world: SimWorld, fault: Fault, how: str) -> Undo:
    """Pause and restart faults on one manager share one knob: it is stopped (its inbox waits, as a
    broker queue would) while any of them lasts; when the last ends it resumes, or, if a restart was
    among them, a new process of the deployment's manager class starts in its place (in-flight work
    abandoned, start-up reconciliation run)."""
    deployment = world.deployment
    host = world.host(fault.target)
    address = rpcapi.manager_address(host)
    runtime = world.runtime
    restart_due = world.restarts.setdefault(host, [False])

    def write(stopped: str | bool) -> None:
        if stopped:
            restart_due[0] = restart_due[0] or stopped == "restart"
            runtime.pause(address)
        elif restart_due[0]:
            restart_due[0] = False
            old = deployment.managers[host]
            new = deployment.manager_class(
                host, old.db, report_interval=old.report_interval, driver_timeout=old.driver_timeout
            )
            deployment.managers[host] = new
            runtime.restart(address, new)
        else:
            runtime.unpause(address)

    return world.contribute(
        ("backend", fault.target, "manager stopped"),
        how,
        read=lambda: runtime.paused(address),
        write=write,
        combine=lambda base, hows: "restart" if "restart" in hows else "pause",
    )


def _sim_manager_pause(world: SimWorld, fault: Fault) -> Undo:
    return _manager_stop(world, fault, "pause")


def _sim_manager_restart(world: SimWorld, fault: Fault) -> Undo:
    return _manager_stop(world, fault, "restart")


def _sim_db_unavailable(world: SimWorld, fault: Fault) -> Undo:
    db = world.deployment.db
    return world.hold(
        ("db", "unavailable"),
        read=lambda: not db.available,
        write=lambda down: setattr(db, "available", not down),
    )


def _bus_link(knob: str) -> SimBegin:
    """A bus fault that sets one knob of the bus's links (``*``, or ``src->dst`` patterns); on one
    target, each knob is the largest probability of the faults in force on it, over the link the
    target had before the first of them."""

    def begin(world: SimWorld, fault: Fault) -> Undo:
        bus = world.bus(fault)
        target = fault.target
        src, _, dst = ("", "", "") if target == "*" else target.partition("->")
        ends = (src or None, dst or None)
        if target not in world.bus_bases:  # what the target had before any fault touched it
            world.bus_bases[target] = bus.default if target == "*" else bus.override(*ends)
        before = world.bus_bases[target]

        def current() -> Any:
            return bus.default if target == "*" else bus.override(*ends)

        def write(_: float) -> None:
            mine = {key[2]: kn for key, kn in world.knobs.items() if key[:2] == ("bus", target) and kn.active}
            if not mine:
                if target == "*" or before is not None:
                    bus.set_link(before, *(() if target == "*" else ends))
                else:
                    bus.reset_link(*ends)
                return
            link = before or bus.default
            bus.set_link(
                dataclasses.replace(
                    link, **{name: kn.combine(kn.base, list(kn.active.values())) for name, kn in mine.items()}
                ),
                *(() if target == "*" else ends),
            )

        def read() -> float | None:  # a target's own setting (None: it has no link of its own)
            link = current()
            return None if link is None else float(getattr(link, knob))

        # A target's base is what it had before any of its faults (another knob's fault may since
        # have made it a link of its own).
        base = None if before is None else float(getattr(before, knob))
        return world.contribute(
            ("bus", target, knob),
            float(fault.param("probability")),
            read=read,
            write=write,
            combine=lambda base, values: max(values),
            base=base,
        )

    return begin


def _sim_bus_partition(world: SimWorld, fault: Fault) -> Undo:
    bus = world.bus(fault)
    return functools.partial(bus.heal, bus.partition(*fault.param("groups")))


# -- the live world ---------------------------------------------------------------------------------


class ArrayFaults:
    """Begins and ends faults on running storage array processes, keyed by array name (an array is
    named by its array name, a link by ``"source->target"``); only kinds with a live form apply."""

    def __init__(self, arrays: Mapping[str, StorageProcess]):
        self.arrays = dict(arrays)
        self._undo: list[tuple[Fault, Undo]] = []

    def inject(self, fault: Fault) -> None:
        """Begin ``fault``."""
        begin = KINDS[fault.kind].live
        if begin is None:
            live = ", ".join(name for name, kind in KINDS.items() if kind.live)
            raise ValueError(
                f"fault kind {fault.kind!r} has no live form on storage arrays; live kinds: {live}"
            )
        self._undo.append((fault, begin(self, fault)))

    def heal(self, fault: Fault) -> None:
        """End ``fault`` (the earliest injected one equal to it)."""
        index = next((i for i, (begun, _) in enumerate(self._undo) if begun == fault), None)
        if index is None:
            raise ValueError(f"{fault.describe()} was never injected")
        self._undo.pop(index)[1]()

    def array(self, name: str) -> StorageProcess:
        try:
            return self.arrays[name]
        except KeyError:
            raise ValueError(f"no array named {name!r}; arrays: {', '.join(sorted(self.arrays))}") from None

    def link(self, target: str) -> tuple[StorageProcess, StorageProcess]:
        source, arrow, peer = target.partition("->")
        if not arrow:
            raise ValueError(f"link target {target!r} must be 'source->target' (array names)")
        return self.array(source.strip()), self.array(peer.strip())


LiveBegin = Callable[[ArrayFaults, Fault], Undo]


def _live_array_crash(arrays: ArrayFaults, fault: Fault) -> Undo:
    process = arrays.array(fault.target)
    process.kill()  # SIGKILL: a power loss; it restarts with what it acknowledged
    return process.start


def _live_array_pause(arrays: ArrayFaults, fault: Fault) -> Undo:
    process = arrays.array(fault.target)
    process.pause()  # SIGSTOP: a hung controller
    return process.resume


def _live_link_down(arrays: ArrayFaults, fault: Fault) -> Undo:
    source, peer = arrays.link(fault.target)
    source.cut_link(peer)
    return functools.partial(source.restore_link, peer)


def _live_link_throttle(arrays: ArrayFaults, fault: Fault) -> Undo:
    source, peer = arrays.link(fault.target)
    bandwidth = int(mbps_to_kib_s(float(fault.param("bandwidth_mbps"))) * 1024)
    source.slow_link(peer, delay=float(fault.param("delay")), bandwidth=bandwidth)
    return functools.partial(source.restore_link, peer)


# -- the catalog ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FaultKind:
    """One kind of fault: what it hits (an array by its array name, a link by ``source->target``, a
    backend by its cinder.conf section, the bus by ``*`` or ``src->dst`` address patterns, the
    database by ``db``), its parameters, and how each world begins it."""

    name: str
    target: str
    doc: str
    sim: SimBegin
    params: tuple[Param, ...] = ()
    live: LiveBegin | None = None
    # What it does to its target, as reports shade and measure it: "outage" (it stops; an array's
    # starts a failover's RTO), "stall" (it stops answering, keeping its state), "network" (messages
    # or replication traffic suffer) or "other".
    effect: str = "other"

    def param(self, name: str) -> Param:
        return {p.name: p for p in self.params}[name]

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.params if p.required)

    def to_dict(self) -> dict[str, Any]:
        """The entry as ``replisim faults --json`` shows it."""
        return {
            "kind": self.name,
            "target": self.target,
            "doc": self.doc,
            "sim": True,
            "live": self.live is not None,
            "effect": self.effect,
            "params": [
                {
                    "name": p.name,
                    "type": p.type,
                    "doc": p.doc,
                    "required": p.required,
                    "default": p.default,
                    "valid": p.bounds(),
                    **({"example": p.example} if p.required else {}),
                }
                for p in self.params
            ],
        }


def _catalog(*kinds: FaultKind) -> Mapping[str, FaultKind]:
    catalog: dict[str, FaultKind] = {}
    for kind in kinds:
        assert kind.target in TARGET_TYPES and kind.effect in EFFECTS and kind.name not in catalog, kind.name
        catalog[kind.name] = kind
    return catalog


_METHOD = Param(
    "method",
    "choice",
    "the driver method",
    required=True,
    # the seed era's methods: the random-world generator draws from these choices, so adding V2.1's
    # would change every existing world
    choices=tuple(contract.REQUIRED),
    example="replication_failover",
)

KINDS: Mapping[str, FaultKind] = _catalog(
    FaultKind(
        "array.crash",
        "array",
        "the array stops serving; writes not yet replicated are lost to a "
        "failover; it restarts with its acknowledged data when the fault ends",
        _sim_array_crash,
        live=_live_array_crash,
        effect="outage",
    ),
    FaultKind(
        "array.pause",
        "array",
        "the array's controller stops answering: operations on it and its "
        "links make no progress until the pause ends; nothing acknowledged is lost",
        _sim_array_pause,
        live=_live_array_pause,
        effect="stall",
    ),
    FaultKind(
        "array.controller_restart",
        "array",
        "operations in the window never reply; each one is done or not with probability 'completes'",
        _sim_controller_restart,
        (Param("completes", "number", "the chance an operation in the window was done", 0.5, high=1.0),),
        effect="stall",
    ),
    FaultKind(
        "array.latency_spike",
        "array",
        "service times multiplied by 'factor'",
        _sim_latency_spike,
        (Param("factor", "number", "how many times slower", 10.0, positive=True),),
    ),
    FaultKind(
        "array.capacity_exhausted",
        "array",
        "the array reports no free space and refuses creates",
        _sim_capacity_exhausted,
    ),
    FaultKind(
        "link.down",
        "link",
        "nothing ships over the replication link",
        _sim_link_down,
        live=_live_link_down,
        effect="network",
    ),
    FaultKind(
        "link.flap",
        "link",
        "the link alternates down and up every 'period' s",
        _sim_link_flap,
        (Param("period", "duration", "seconds down, then as many up", 10.0, low=1.0),),
        effect="network",
    ),
    FaultKind(
        "link.throttle",
        "link",
        "the link's bandwidth drops, and 'delay' s of latency are added",
        _sim_link_throttle,
        (
            Param("bandwidth_mbps", "number", "the link's bandwidth while throttled", 1.0, positive=True),
            Param("delay", "duration", "seconds of latency added to the link", 0.0),
        ),
        live=_live_link_throttle,
        effect="network",
    ),
    FaultKind(
        "link.split_brain",
        "link",
        "the link is cut and the secondary copies are promoted while the primaries keep accepting writes",
        _sim_split_brain,
        effect="network",
    ),
    FaultKind(
        "driver.raise",
        "backend",
        "the named driver method raises a CinderException ('cinder') or "
        "an unexpected exception ('unexpected')",
        _arm(None),
        (_METHOD, Param("error", "choice", "what it raises", "cinder", choices=("cinder", "unexpected"))),
    ),
    FaultKind(
        "driver.hang",
        "backend",
        "the named driver method never returns while the fault lasts",
        _arm("hang"),
        (_METHOD,),
        effect="stall",
    ),
    FaultKind(
        "bus.loss",
        "bus",
        "messages are dropped",
        _bus_link("loss"),
        (_probability("the chance a message is dropped"),),
        effect="network",
    ),
    FaultKind(
        "bus.duplicate",
        "bus",
        "messages are delivered twice",
        _bus_link("duplicate"),
        (_probability("the chance a message is delivered twice"),),
        effect="network",
    ),
    FaultKind(
        "bus.reorder",
        "bus",
        "messages may overtake each other",
        _bus_link("reorder"),
        (_probability("the chance a message overtakes the one before"),),
        effect="network",
    ),
    FaultKind(
        "bus.partition",
        "bus",
        "no message crosses between the address-pattern groups",
        _sim_bus_partition,
        (
            Param(
                "groups",
                "groups",
                "the sides of the partition",
                required=True,
                example=[["cinder-api"], ["cinder-volume"]],
            ),
        ),
        effect="network",
    ),
    FaultKind(
        "manager.pause",
        "backend",
        "the volume manager stops draining its inbox",
        _sim_manager_pause,
        effect="stall",
    ),
    FaultKind(
        "manager.restart",
        "backend",
        "the volume manager process dies and starts again",
        _sim_manager_restart,
        effect="outage",
    ),
    FaultKind(
        "db.unavailable", "db", "every database access fails; requests fail cleanly", _sim_db_unavailable
    ),
)


# -- reading faults -----------------------------------------------------------------------------------

_KEYS = ("kind", "target", "start", "duration", "params")


def parse_fault(spec: Mapping[str, Any], where: str = "fault") -> Fault:
    """Build a Fault from a mapping (a scenario's YAML entry); errors name ``where`` and the key."""
    if not isinstance(spec, Mapping):
        raise FaultSpecError(f"{where}: a fault is a mapping with kind, target and start, got {spec!r}")
    for key in spec:
        if key not in _KEYS:
            raise FaultSpecError(
                f"{where}: unknown key {key!r}{suggest(str(key), _KEYS)}; a fault has {', '.join(_KEYS)}",
                str(key),
            )
    name = spec.get("kind")
    if not isinstance(name, str) or name not in KINDS:
        raise FaultSpecError(
            f"{where}: unknown fault kind {name!r}{suggest(str(name), KINDS)}; "
            f"known kinds: {', '.join(KINDS)}",
            "kind",
        )
    kind = KINDS[name]
    target = spec.get("target", "db" if kind.target == "db" else None)
    if not isinstance(target, str) or not target:
        raise FaultSpecError(f"{where}: target must name the {kind.target} the fault hits", "target")
    start = _number(spec.get("start", 0.0), "start", where)
    duration = spec.get("duration")
    if duration is not None:
        duration = _number(duration, "duration", where)
    params = spec.get("params") or {}
    if not isinstance(params, Mapping):
        raise FaultSpecError(f"{where}: params must be a mapping, got {params!r}", "params")
    _check_params(kind, params, where)
    return Fault(name, target, start, duration, dict(params))


def _check_params(kind: FaultKind, params: Mapping[str, Any], where: str) -> None:
    names = [p.name for p in kind.params]
    for key in params:
        if key not in names:
            raise FaultSpecError(
                f"{where}: {kind.name} has no parameter {key!r}{suggest(str(key), names)}; "
                f"its parameters: {', '.join(names) or 'none'}",
                f"params.{key}",
            )
    for param in kind.params:
        if param.required and params.get(param.name) is None:
            raise FaultSpecError(f"{where}: {kind.name} needs params.{param.name}", f"params.{param.name}")
    for param in kind.params:
        if param.name in params:
            param.check(params[param.name], where)


def check_targets(faults: Sequence[Fault], known: Mapping[str, Iterable[str]]) -> None:
    """Every fault's target must exist: ``known`` maps a target type to the names it may take (for
    the bus: the address patterns of the world's actors, which ``src->dst`` sides and partition
    groups must each match)."""
    for index, fault in enumerate(faults):
        kind = KINDS[fault.kind].target
        where = f"fault {index} ({fault.kind})"
        if kind == "db":
            continue
        names = sorted(known.get(kind, ()))
        if kind == "bus":
            patterns = list(known.get("actor", ()))
            sides = [] if fault.target == "*" else [p for p in fault.target.partition("->")[::2] if p]
            if fault.target != "*" and ("->" not in fault.target or not sides):
                raise FaultSpecError(
                    f"{where}: bus target {fault.target!r} must be '*' or "
                    "'source->destination' address patterns (either side may be empty)",
                    "target",
                )
            groups = fault.params.get("groups") or ()
            for pattern in [*sides, *(p for group in groups for p in group)]:
                if pattern not in patterns:
                    key = "params.groups" if pattern not in sides else "target"
                    raise FaultSpecError(
                        f"{where}: {pattern!r} matches no actor"
                        f"{suggest(pattern, patterns)}; actors and topics: "
                        f"{', '.join(patterns)}",
                        key,
                    )
            continue
        if fault.target not in names:
            raise FaultSpecError(
                f"{where}: unknown {kind} {fault.target!r}"
                f"{suggest(fault.target, names)}; known {kind}s: {', '.join(names) or 'none'}",
                "target",
            )
