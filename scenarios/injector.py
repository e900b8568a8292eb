"""Interprets fault values in a running world over time: each fault begins at its start, as its
kind's entry in the catalog (``faults.KINDS``) says, and is undone at its end (or when the heal
phase starts); every begin and end is logged for reports.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable
from dataclasses import dataclass

from replisim.actors.deployment import Deployment
from replisim.drivers.emulated.fabric import Fabric

from .faults import KINDS, Fault, SimWorld, Undo

HEAL_PROOF_AFTER = 1e-6  # seconds after the heal starts: once every fault's end has run


@dataclass(frozen=True)
class FaultEvent:
    """A fault beginning or ending, at a simulated time."""

    time: float
    phase: str  # begin | end
    fault: Fault


class FaultInjector:
    """Schedules faults on a deployment and the fabric its emulated drivers share."""

    def __init__(self, deployment: Deployment, fabric: Fabric | None = None):
        self.world = SimWorld(deployment, fabric)
        self.runtime = deployment.runtime
        self.events: list[FaultEvent] = []
        self.healed: list[str] | None = None  # what faults left behind when the heal phase began

    def schedule(self, faults: Iterable[Fault], heal_at: float | None = None) -> None:
        """Begin each fault at its start and end it at its end, or at ``heal_at`` at the latest."""
        now = self.runtime.now
        if heal_at is not None:
            self.world.heal_at = heal_at
        for fault in sorted(faults, key=lambda f: (f.start, f.kind, f.target)):
            end = fault.end if heal_at is None else min(fault.end, heal_at)
            if fault.start >= end:
                continue
            undo: list[Undo] = []  # what this fault's begin returns, for its end to call
            self.runtime.at(max(0.0, fault.start - now), functools.partial(self._begin, fault, undo))
            if end != math.inf:
                self.runtime.at(end - now, functools.partial(self._end, fault, undo))
        if heal_at is not None:  # just after every fault's end at the heal
            self.runtime.at(max(0.0, heal_at - now) + HEAL_PROOF_AFTER, self._prove_healed)

    def _prove_healed(self) -> None:
        """Every fault is over, and every setting a fault changed is back to its value before."""
        left = [f"{e.fault.describe()}: not ended" for e in self._open()]
        left += self.world.leftovers()
        bus = getattr(self.runtime, "bus", None)
        if bus is not None and bus.partitioned_groups():
            left.append(f"bus: {len(bus.partitioned_groups())} partition(s) not healed")
        self.healed = left

    def _open(self) -> list[FaultEvent]:
        open_: dict[int, FaultEvent] = {}
        for event in self.events:
            if event.phase == "begin":
                open_[id(event.fault)] = event
            else:
                open_.pop(id(event.fault), None)
        return list(open_.values())

    def _begin(self, fault: Fault, undo: list[Undo]) -> None:
        self.events.append(FaultEvent(self.runtime.now, "begin", fault))
        undo.append(KINDS[fault.kind].sim(self.world, fault))

    def _end(self, fault: Fault, undo: list[Undo]) -> None:
        self.events.append(FaultEvent(self.runtime.now, "end", fault))
        if undo:
            undo.pop()()
