"""Seeded random fault schedules: Poisson arrivals with heavy-tailed durations, and flip-flop.

Each policy turns a seeded ``random.Random`` into a plain list of ``Fault`` values, so a drawn
schedule can be printed, replayed and shrunk like one written by hand.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from typing import Any

from .faults import KINDS, Fault, FaultSpecError


def heavy_tailed(rng: random.Random, scale: float) -> float:
    """Mostly short, occasionally long: ``scale * 10 * exp(-10 U)`` seconds (FoundationDB's clogging)."""
    return scale * 10.0 * math.exp(-10.0 * rng.random())


def poisson_schedule(
    rng: random.Random,
    *,
    rate: float,
    kinds: Sequence[str],
    targets: Mapping[str, Sequence[str]],
    start: float,
    end: float,
    scale: float = 10.0,
) -> list[Fault]:
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
        pool = list(targets.get(KINDS[kind].target, ())) or ["*"]
        target = pool[rng.randrange(len(pool))]
        duration = min(heavy_tailed(rng, scale), end - now)
        faults.append(Fault(kind, target, round(now, 6), round(duration, 6)))


def flip_flop_schedule(
    kind: str,
    target: str,
    *,
    interval: float,
    start: float,
    end: float,
    params: Mapping[str, Any] | None = None,
) -> list[Fault]:
    """The fault on for ``interval``, off for ``interval``, repeatedly, within ``[start, end)``."""
    if interval <= 0:
        raise FaultSpecError(f"flip-flop interval must be positive, got {interval!r}")
    faults = []
    at = start
    while at < end:
        faults.append(Fault(kind, target, at, min(interval, end - at), dict(params or {})))
        at += 2 * interval
    return faults
