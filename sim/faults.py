"""Faults as data: what breaks, where, when, for how long, and how.

A fault is a value (kind, target, start, duration, params). Schedules are lists of faults, written
by hand or drawn from a seeded policy; the sim's injector and the live injector interpret the kinds
they can. Keeping faults as plain data is what makes a failing run printable, replayable and
shrinkable.
"""

from __future__ import annotations

import difflib
import math
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


class FaultSpecError(ValueError):
    """A fault specification is wrong; the message names where and what would be valid."""


@dataclass(frozen=True)
class FaultKind:
    """What a kind of fault applies to and which parameters it takes (with defaults)."""

    target: str  # "array", "link", "backend", "bus", "db"
    params: Mapping[str, Any] = field(default_factory=dict)
    required: tuple[str, ...] = ()
    doc: str = ""


# Targets: an array is named by its array name, a link by "source->target" (array names), a backend
# by its cinder.conf section name, the bus by "*" or "src->dst" address patterns, the DB by "db".
FAULT_KINDS: Mapping[str, FaultKind] = {
    "array.crash": FaultKind("array", doc="the array stops serving; writes not yet replicated are lost "
                             "to a failover; it restarts with its acknowledged data when the fault ends"),
    "array.controller_restart": FaultKind("array", {"completes": 0.5},
                                          doc="operations in the window never reply; each one is done "
                                              "or not with probability 'completes'"),
    "array.latency_spike": FaultKind("array", {"factor": 10.0}, doc="service times multiplied by 'factor'"),
    "array.capacity_exhausted": FaultKind("array", doc="the array reports no free space and refuses creates"),
    "link.down": FaultKind("link", doc="nothing ships over the replication link"),
    "link.flap": FaultKind("link", {"period": 10.0}, doc="the link alternates down and up every 'period' s"),
    "link.throttle": FaultKind("link", {"bandwidth_mbps": 1.0}, doc="the link's bandwidth drops"),
    "link.split_brain": FaultKind("link", doc="the link is cut and the secondary copies are promoted while "
                                  "the primaries keep accepting writes"),
    "driver.raise": FaultKind("backend", {"method": None, "error": "cinder"}, required=("method",),
                              doc="the named driver method raises a CinderException ('cinder') or an "
                                  "unexpected exception ('unexpected')"),
    "driver.hang": FaultKind("backend", {"method": None}, required=("method",),
                             doc="the named driver method never returns while the fault lasts"),
    "bus.loss": FaultKind("bus", {"probability": 0.1}, doc="messages are dropped"),
    "bus.duplicate": FaultKind("bus", {"probability": 0.1}, doc="messages are delivered twice"),
    "bus.reorder": FaultKind("bus", {"probability": 0.1}, doc="messages may overtake each other"),
    "bus.partition": FaultKind("bus", {"groups": None}, required=("groups",),
                               doc="no message crosses between the address-pattern groups"),
    "manager.pause": FaultKind("backend", doc="the volume manager stops draining its inbox"),
    "manager.restart": FaultKind("backend", doc="the volume manager process dies and starts again"),
    "db.unavailable": FaultKind("db", doc="every database access fails; requests fail cleanly"),
}

TARGET_KINDS = ("array", "link", "backend", "bus", "db")


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
        return self.params.get(name, FAULT_KINDS[self.kind].params.get(name))

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


def suggest(word: str, choices: Iterable[str]) -> str:
    """' (did you mean X?)' for a near miss, else ''."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _number(value: Any, key: str, where: str, *, minimum: float = 0.0) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        raise FaultSpecError(f"{where}: {key} must be a number, got {value!r}")
    if value < minimum:
        raise FaultSpecError(f"{where}: {key} must be >= {minimum:g}, got {value!r}")
    return float(value)


def parse_fault(spec: Mapping[str, Any], where: str = "fault") -> Fault:
    """Build a Fault from a mapping (a scenario's YAML entry); errors name ``where`` and the key."""
    if not isinstance(spec, Mapping):
        raise FaultSpecError(f"{where}: a fault is a mapping with kind, target and start, got {spec!r}")
    allowed = ("kind", "target", "start", "duration", "params")
    for key in spec:
        if key not in allowed:
            raise FaultSpecError(f"{where}: unknown key {key!r}{suggest(str(key), allowed)}; "
                                 f"a fault has {', '.join(allowed)}")
    kind = spec.get("kind")
    if not isinstance(kind, str) or kind not in FAULT_KINDS:
        raise FaultSpecError(f"{where}: unknown fault kind {kind!r}{suggest(str(kind), FAULT_KINDS)}; "
                             f"known kinds: {', '.join(FAULT_KINDS)}")
    target = spec.get("target", "db" if FAULT_KINDS[kind].target == "db" else None)
    if not isinstance(target, str) or not target:
        raise FaultSpecError(f"{where}: target must name the {FAULT_KINDS[kind].target} the fault hits")
    start = _number(spec.get("start", 0.0), "start", where)
    duration = spec.get("duration")
    if duration is not None:
        duration = _number(duration, "duration", where)
    params = spec.get("params") or {}
    if not isinstance(params, Mapping):
        raise FaultSpecError(f"{where}: params must be a mapping, got {params!r}")
    _check_params(kind, params, where)
    return Fault(kind, target, start, duration, dict(params))


def _check_params(kind: str, params: Mapping[str, Any], where: str) -> None:
    known = FAULT_KINDS[kind]
    for key in params:
        if key not in known.params:
            valid = ", ".join(known.params) or "none"
            hint = suggest(str(key), known.params)
            raise FaultSpecError(f"{where}: {kind} has no parameter {key!r}{hint}; its parameters: {valid}")
    for key in known.required:
        if params.get(key) is None:
            raise FaultSpecError(f"{where}: {kind} needs params.{key}")
    for key in ("probability", "completes"):
        if key in params and not 0.0 <= _number(params[key], f"params.{key}", where) <= 1.0:
            raise FaultSpecError(f"{where}: params.{key} must be between 0 and 1, got {params[key]!r}")
    for key in ("factor", "period", "bandwidth_mbps"):
        if key in params and _number(params[key], f"params.{key}", where) <= 0:
            raise FaultSpecError(f"{where}: params.{key} must be positive, got {params[key]!r}")
    if kind == "driver.raise" and params.get("error", "cinder") not in ("cinder", "unexpected"):
        raise FaultSpecError(f"{where}: params.error must be 'cinder' or 'unexpected', "
                             f"got {params['error']!r}")


def check_targets(faults: Sequence[Fault], known: Mapping[str, Iterable[str]]) -> None:
    """Every fault's target must exist: ``known`` maps a target kind to the names it may take."""
    for index, fault in enumerate(faults):
        kind = FAULT_KINDS[fault.kind].target
        if kind in ("bus", "db"):
            continue
        names = sorted(known.get(kind, ()))
        if fault.target not in names:
            hint = suggest(fault.target, names)
            raise FaultSpecError(f"fault {index} ({fault.kind}): unknown {kind} {fault.target!r}{hint}; "
                                 f"known {kind}s: {', '.join(names) or 'none'}")


# -- random policies ----------------------------------------------------------------------------------


def heavy_tailed(rng: random.Random, scale: float) -> float:
    """Mostly short, occasionally long: ``scale * 10 * exp(-10 U)`` seconds (FoundationDB's clogging)."""
    return scale * 10.0 * math.exp(-10.0 * rng.random())


def poisson_schedule(rng: random.Random, *, rate: float, kinds: Sequence[str],
                     targets: Mapping[str, Sequence[str]], start: float, end: float,
                     scale: float = 10.0) -> list[Fault]:
    """Faults arriving as a Poisson process of ``rate`` per second in ``[start, end)``, each of a kind
    drawn from ``kinds`` on a target drawn from ``targets[kind's target type]``, heavy-tailed durations
    clipped so every fault ends by ``end`` (the heal phase starts clean)."""
    if rate <= 0:
        raise FaultSpecError(f"poisson rate must be positive, got {rate!r}")
    faults: list[Fault] = []
    now = start
    while True:
        now += rng.expovariate(rate)
        if now >= end:
            return faults
        kind = kinds[rng.randrange(len(kinds))]
        pool = list(targets.get(FAULT_KINDS[kind].target, ())) or ["*"]
        target = pool[rng.randrange(len(pool))]
        duration = min(heavy_tailed(rng, scale), end - now)
        faults.append(Fault(kind, target, round(now, 6), round(duration, 6)))


def flip_flop_schedule(kind: str, target: str, *, interval: float, start: float, end: float,
                       params: Mapping[str, Any] | None = None) -> list[Fault]:
    """The fault on for ``interval``, off for ``interval``, repeatedly, within ``[start, end)``."""
    if interval <= 0:
        raise FaultSpecError(f"flip-flop interval must be positive, got {interval!r}")
    faults = []
    at = start
    while at < end:
        faults.append(Fault(kind, target, at, min(interval, end - at), dict(params or {})))
        at += 2 * interval
    return faults
