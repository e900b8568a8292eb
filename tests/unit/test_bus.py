"""The simulated bus's faults do what they say, measured over many messages."""

from __future__ import annotations

import itertools
import math
from collections.abc import Generator
from typing import Any

import pytest

from replisim.sim import (
    Actor,
    Address,
    Cast,
    Constant,
    Link,
    LogNormal,
    Message,
    Now,
    SimRuntime,
    Sleep,
    Uniform,
)

Gen = Generator[Any, Any, Any]
N = 4000
SINK = Address("sink", "s1")


class Sink(Actor):
    def __init__(self) -> None:
        self.got: list[tuple[int, float]] = []

    def take(self, n: int, sent: float) -> Gen:
        now = yield Now()
        self.got.append((n, now - sent))


def blast(rt: SimRuntime, count: int = N, target: Address = SINK, gap: float = 0.001) -> None:
    def client() -> Gen:
        for n in range(count):
            yield Cast(target, Message("take", {"n": n, "sent": rt.now}))
            yield Sleep(gap)

    rt.submit(client())


def setup(link: Link, seed: int = 3) -> tuple[SimRuntime, Sink]:
    rt = SimRuntime(seed=seed, trace=False, link=link)
    sink = Sink()
    rt.spawn(sink, SINK)
    return rt, sink


def within(observed: float, p: float, n: int, sigmas: float = 5.0) -> bool:
    return abs(observed - p * n) <= sigmas * math.sqrt(n * p * (1 - p))


@pytest.mark.parametrize("loss", [0.05, 0.3])
def test_loss_rate(loss: float) -> None:
    rt, sink = setup(Link(Constant(0.001), loss=loss))
    blast(rt)
    rt.run()
    assert within(N - len(sink.got), loss, N)


def test_duplication_rate() -> None:
    rt, sink = setup(Link(Constant(0.001), duplicate=0.2))
    blast(rt)
    rt.run()
    numbers = [n for n, _ in sink.got]
    assert within(len(numbers) - N, 0.2, N)
    assert set(numbers) == set(range(N))


def test_fifo_without_reordering_even_with_random_latency() -> None:
    rt, sink = setup(Link(Uniform(0.0, 0.02)))
    blast(rt, gap=0.0005)
    rt.run()
    assert [n for n, _ in sink.got] == list(range(N))


def test_reordering_happens_only_when_asked() -> None:
    rt, sink = setup(Link(Uniform(0.0, 0.02), reorder=0.2))
    blast(rt, gap=0.0005)
    rt.run()
    numbers = [n for n, _ in sink.got]
    overtaken = sum(1 for a, b in itertools.pairwise(numbers) if b < a)
    assert sorted(numbers) == list(range(N)) and overtaken > N * 0.05


def test_latency_distributions_have_their_stated_centre() -> None:
    rt, sink = setup(Link(Uniform(0.010, 0.030)))
    blast(rt, gap=0.05)
    rt.run()
    mean = sum(lat for _, lat in sink.got) / len(sink.got)
    assert mean == pytest.approx(0.020, abs=0.001)

    rt, sink = setup(Link(LogNormal(0.005, 0.5)))
    blast(rt, gap=0.5)
    rt.run()
    latencies = sorted(lat for _, lat in sink.got)
    assert latencies[len(latencies) // 2] == pytest.approx(0.005, rel=0.08)


def test_partition_cuts_links_between_groups_until_healed() -> None:
    rt, sink = setup(Link(Constant(0.001)))
    other = Sink()
    rt.spawn(other, Address("sink", "s2"))
    handle = rt.bus.partition(["client"], ["sink.s1"])
    blast(rt, count=100, gap=0.01)  # t = 0 .. 1
    blast(rt, count=100, target=Address("sink", "s2"), gap=0.01)
    rt.at(2.0, lambda: rt.bus.heal(handle))
    rt.at(2.0, lambda: blast(rt, count=50, gap=0.01))
    rt.run()
    assert [n for n, _ in sink.got] == list(range(50))  # only the post-heal burst
    assert len(other.got) == 100  # s2 was never cut off


def test_paused_actor_serves_nothing_until_unpaused() -> None:
    rt, sink = setup(Link(Constant(0.001)))
    rt.pause(SINK)
    blast(rt, count=100, gap=0.01)
    rt.run(until=5)
    assert sink.got == []
    rt.unpause(SINK)
    rt.run()
    assert [n for n, _ in sink.got] == list(range(100))
    assert min(lat for _, lat in sink.got) >= 5 - 1.0


def test_link_override_applies_to_the_named_pair_only() -> None:
    rt, sink = setup(Link(Constant(0.001)))
    rt.bus.set_link(Link(Constant(0.5)), src="client", dst="sink.s1")
    other = Sink()
    rt.spawn(other, Address("sink", "s2"))
    blast(rt, count=10)
    rt.run()
    assert all(lat == pytest.approx(0.5) for _, lat in sink.got)
    assert rt.bus.link_for(Address("client"), Address("sink", "s2")).latency == Constant(0.001)


def test_probabilities_are_validated() -> None:
    with pytest.raises(ValueError, match="loss"):
        Link(loss=1.5)
