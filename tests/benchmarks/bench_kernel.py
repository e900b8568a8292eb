"""Kernel throughput: deliveries/s through SimRuntime's bus vs. a bare simpy loop, in one process.

Run: ``.venv/bin/python tests/benchmarks/bench_kernel.py`` (or ``make bench``). The ratio is what
matters: both sides run in the same process, alternately, best of several rounds.

Two shapes: *paced* (the sender sends one message per latency period, so the event queue stays
small) and *burst* (every message is in flight at once, so the event heap holds them all).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Generator
from typing import Any

import simpy

from replisim.sim import Actor, Address, Cast, Constant, Link, Message, SimRuntime, Sleep

MESSAGES = 100_000
LATENCY = 0.001


def bare_simpy(n: int, burst: bool) -> int:
    """A timeout plus a Store put and get per message: the floor any simpy bus pays."""
    env = simpy.Environment()
    store: simpy.Store = simpy.Store(env)
    received = [0]

    def producer() -> Generator[Any, Any, None]:
        def put(event: simpy.Event) -> None:
            store.put(event.value)

        for i in range(n):
            if burst:
                env.timeout(LATENCY, i).callbacks.append(put)
            else:
                yield env.timeout(LATENCY)
                store.put(i)
        yield env.timeout(0)

    def consumer() -> Generator[Any, Any, None]:
        while True:
            yield store.get()
            received[0] += 1

    env.process(producer())
    env.process(consumer())
    env.run()
    return received[0]


class Sink(Actor):
    def __init__(self) -> None:
        self.count = 0

    def take(self, n: int) -> None:
        self.count += 1


def replisim_bus(n: int, burst: bool) -> int:
    """The same messages as casts through the bus (latency, FIFO) to a sink actor's handler."""
    rt = SimRuntime(seed=1, trace=False, link=Link(Constant(LATENCY)))
    sink = Sink()
    target = Address("sink", "s1")
    rt.spawn(sink, target)

    def sender() -> Generator[Any, Any, None]:
        for i in range(n):
            if not burst:
                yield Sleep(LATENCY)
            yield Cast(target, Message("take", {"n": i}))

    rt.submit(sender())
    rt.run()
    return sink.count


def rate(fn: Callable[[int, bool], int], burst: bool) -> float:
    start = time.perf_counter()
    assert fn(MESSAGES, burst) == MESSAGES
    return MESSAGES / (time.perf_counter() - start)


def main(rounds: int = 5) -> dict[str, float]:
    print(
        f"python {sys.version.split()[0]}, simpy {simpy.__version__}, {MESSAGES:,} messages, best of {rounds}"
    )
    ratios = {}
    for shape, burst in (("paced", False), ("burst", True)):
        bare = ours = 0.0
        for _ in range(rounds):  # alternate, so machine noise hits both sides alike
            bare = max(bare, rate(bare_simpy, burst))
            ours = max(ours, rate(replisim_bus, burst))
        ratios[shape] = ours / bare
        print(
            f"{shape:>5}: bare simpy {bare:10,.0f}/s   replisim bus {ours:10,.0f}/s   "
            f"ratio {ours / bare:.2f} (goal >= 0.40)"
        )
    return ratios


if __name__ == "__main__":
    main()
