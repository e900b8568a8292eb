"""Schedule exploration: which of the events due at one simulated instant runs first.

simpy runs events due at the same time in the order they were scheduled, so a simulation with
constant latencies only ever tries one interleaving of messages that race: the one the code
happened to send first. Real actors promise no such order. A schedule gives every scheduled
event a priority, and simpy breaks ties in time by priority (smaller first), then by order:

- ``fifo``: every event the same priority, simpy's own order (the default; the digests of every
  shipped scenario are taken with it);
- ``random``: a fresh random priority per event, so every same-time race can go either way;
- ``pct`` (or ``pct:D``): PCT, the probabilistic concurrency testing strategy (Burckhardt et al.,
  ASPLOS 2010) that Microsoft Coyote uses for actors. Each actor gets a random priority, and at
  ``D - 1`` randomly chosen steps the actor then scheduled drops below every other one. A bug
  that needs ``D`` ordering constraints is found with a probability that does not shrink with
  the number of events, as it does under ``random``.

Only ties in time are reordered: an event never runs before an earlier one, and the bus keeps
each link first-in first-out (it gives each message on a link a strictly later arrival).
Draws come from the runtime's ``schedule`` stream, so a seed and a schedule name give one trace.
"""

from __future__ import annotations

import random
from typing import Protocol

from simpy.core import NORMAL, EventPriority

from .effects import Address

NAMES = ("fifo", "random", "pct")
DEFAULT = "fifo"
PCT_DEPTH = 3
MAX_DEPTH = 16
BITS = 30  # random priorities are whole numbers (simpy's type) in NORMAL + [0, 2**BITS)
# PCT's change points are drawn among this many first steps: a run's events past the horizon
# keep the priorities they have by then.
PCT_HORIZON = 200_000


class Schedule(Protocol):
    """The priority of an event due to run in ``actor``'s context (``None``: a bare timer)."""

    name: str

    def priority(self, actor: Address | None) -> EventPriority: ...


class Fifo:
    name = "fifo"

    def priority(self, actor: Address | None) -> EventPriority:
        return NORMAL


class RandomOrder:
    """Every event a random priority: each same-time race is a coin toss."""

    name = "random"

    def __init__(self, rng: random.Random):
        self._bits = rng.getrandbits

    def priority(self, actor: Address | None) -> EventPriority:
        return EventPriority(NORMAL + self._bits(BITS))


class PCT:
    """Random priorities per actor, lowered at ``depth - 1`` random steps."""

    def __init__(self, rng: random.Random, depth: int = PCT_DEPTH, horizon: int = PCT_HORIZON):
        self.name = f"pct:{depth}"
        self._rng = rng
        self._changes = sorted(rng.sample(range(1, horizon + 1), depth - 1))
        self._priorities: dict[Address | None, EventPriority] = {}
        self._step = 0

    def priority(self, actor: Address | None) -> EventPriority:
        self._step += 1
        if self._changes and self._step == self._changes[0]:
            # lowered below every initial priority, and below every actor lowered before it
            self._changes.pop(0)
            self._priorities[actor] = EventPriority(NORMAL + (1 << BITS) + self._step)
        value = self._priorities.get(actor)
        if value is None:
            value = self._priorities[actor] = EventPriority(NORMAL + self._rng.getrandbits(BITS))
        return value


def parse(text: str) -> str:
    """The canonical name of a schedule (``fifo``, ``random``, ``pct:D``), or ``ValueError``
    saying what is valid."""
    name, _, depth = str(text).strip().partition(":")
    if name not in NAMES or (depth and name != "pct"):
        raise ValueError(f"unknown schedule {text!r}: use fifo, random, pct or pct:DEPTH")
    if name != "pct":
        return name
    if not depth:
        return f"pct:{PCT_DEPTH}"
    if not depth.isdigit() or not 1 <= int(depth) <= MAX_DEPTH:
        raise ValueError(f"PCT's depth in {text!r} must be a whole number from 1 to {MAX_DEPTH}")
    return f"pct:{int(depth)}"


def make(text: str, rng: random.Random) -> Schedule:
    """The schedule ``text`` names, drawing from ``rng``."""
    name = parse(text)
    if name == "fifo":
        return Fifo()
    if name == "random":
        return RandomOrder(rng)
    return PCT(rng, int(name.partition(":")[2]))
