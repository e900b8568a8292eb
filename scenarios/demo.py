"""The built-in demo: a small cluster gossiping over a lossy bus, to show the kernel at work.

It prints its seed, what happened on the bus and how long it took, in simulated and wall time.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

from replisim.sim import (
    Actor,
    Address,
    Call,
    Draw,
    Link,
    LogNormal,
    Message,
    MessagingTimeout,
    RemoteError,
    SimRuntime,
    Sleep,
    Trace,
)

Gen = Generator[Any, Any, Any]


class Backend(Actor):
    """Answers status calls after a service time drawn from its own stream."""

    def status(self) -> Gen:
        yield Sleep((yield Draw(f"service:{self.address.server}", "expovariate", (200.0,))))
        return "ok"


class Poller(Actor):
    """Polls a random backend at random intervals and counts the outcomes."""

    def __init__(self, backends: list[str], polls: int):
        self.backends = backends
        self.polls = polls
        self.outcomes: Counter[str] = Counter()

    def on_start(self) -> Gen:
        for _ in range(self.polls):
            yield Sleep((yield Draw("workload", "expovariate", (20.0,))))
            server = yield Draw("workload", "choice", (self.backends,))
            try:
                yield Call(Address("cinder-volume", server), Message("status"), timeout=0.25)
                self.outcomes["ok"] += 1
            except MessagingTimeout:
                self.outcomes["timeout"] += 1
            except RemoteError:
                self.outcomes["error"] += 1


@dataclass
class DemoResult:
    seed: int
    events: Counter[str]
    outcomes: Counter[str]
    simulated_seconds: float
    wall_seconds: float
    trace: Trace


def run_demo(seed: int, polls: int = 2000) -> DemoResult:
    started = time.perf_counter()
    rt = SimRuntime(seed=seed, link=Link(LogNormal(0.002, 0.8), loss=0.02, duplicate=0.01))
    backends = [f"node{i}@lvm" for i in range(1, 4)]
    for name in backends:
        rt.spawn(Backend(), Address("cinder-volume", name))
    poller = Poller(backends, polls)
    rt.spawn(poller, Address("client", "poller"))
    rt.run()
    return DemoResult(seed, Counter(r["ev"] for r in rt.trace.records), poller.outcomes, rt.now,
                      time.perf_counter() - started, rt.trace)
