"""Schedule exploration: a seeded strategy reorders events due at one instant, and only those."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from replisim.sim import Actor, Address, Cast, Constant, Link, Message, SimRuntime, Sleep, Uniform
from replisim.sim.schedule import parse

Gen = Generator[Any, Any, Any]
SERVER = Address("server", "s1")


class Server(Actor):
    """Refuses a request that arrives before its configuration: the bug needs one ordering."""

    def __init__(self) -> None:
        self.ready = False
        self.seen: list[Any] = []

    def configure(self) -> None:
        self.ready = True

    def request(self) -> None:
        self.seen.append("ok" if self.ready else "refused")

    def note(self, value: Any) -> None:
        self.seen.append(value)


class Sender(Actor):
    """Casts its messages to the server when it starts, at simulated time 0."""

    def __init__(self, *methods: str) -> None:
        self.methods = methods

    def on_start(self) -> Gen:
        for method in self.methods:
            yield Cast(SERVER, Message(method))


def race(seed: int, schedule: str) -> list[Any]:
    """Setup and a client each send one message at t=0 over links of equal latency."""
    rt = SimRuntime(seed=seed, trace=False, link=Link(Constant(0.01)), schedule=schedule)
    server = rt.spawn(Server(), SERVER)
    rt.spawn(Sender("configure"), Address("setup", "a"))  # spawned first: fifo always runs it first
    rt.spawn(Sender("request"), Address("client", "b"))
    rt.run(until=1)
    assert isinstance(server, Server)
    return server.seen


def test_fifo_never_tries_the_other_order() -> None:
    assert {tuple(race(seed, "fifo")) for seed in range(40)} == {("ok",)}


@pytest.mark.parametrize("schedule", ["random", "pct"])
def test_exploring_schedules_find_the_ordering_bug_fifo_misses(schedule: str) -> None:
    outcomes = {tuple(race(seed, schedule)) for seed in range(40)}
    assert outcomes == {("ok",), ("refused",)}  # both orders, each within 40 seeds


class Burst(Actor):
    """Sends ``count`` numbered notes to the server, some at one instant, some after sleeps."""

    def __init__(self, pauses: list[float]) -> None:
        self.pauses = pauses

    def on_start(self) -> Gen:
        for i, pause in enumerate(self.pauses):
            if pause:
                yield Sleep(pause)
            yield Cast(SERVER, Message("note", {"value": i}))


@settings(max_examples=60, deadline=None)
# Hypothesis found it: the clamp to the last arrival rounded to just before it, so 5 overtook 4
@example(seed=0, schedule="fifo", pauses=[0.0, 0.0, 0.0, 0.001, 0.001, 0.001], jitter=True)
@given(
    seed=st.integers(0, 10_000),
    schedule=st.sampled_from(["fifo", "random", "pct:2", "pct:5"]),
    pauses=st.lists(st.sampled_from([0.0, 0.0, 0.001, 0.004]), min_size=2, max_size=25),
    jitter=st.booleans(),
)
def test_every_schedule_keeps_each_link_first_in_first_out(
    seed: int, schedule: str, pauses: list[float], jitter: bool
) -> None:
    latency = Uniform(0.001, 0.01) if jitter else Constant(0.002)
    rt = SimRuntime(seed=seed, trace=False, link=Link(latency), schedule=schedule)
    server = rt.spawn(Server(), SERVER)
    rt.spawn(Burst(pauses), Address("burst", "x"))
    rt.run(until=5)
    assert isinstance(server, Server)
    assert server.seen == list(range(len(pauses)))


@pytest.mark.parametrize(
    ("text", "name"), [("fifo", "fifo"), ("random", "random"), ("pct", "pct:3"), (" pct:7 ", "pct:7")]
)
def test_schedule_names_are_canonical(text: str, name: str) -> None:
    assert parse(text) == name


NAMES_HINT = "use fifo, random, pct or pct:DEPTH"
DEPTH_HINT = "must be a whole number from 1 to 16"


@pytest.mark.parametrize(
    ("text", "hint"),
    [("lifo", NAMES_HINT), ("random:2", NAMES_HINT), ("", NAMES_HINT)]
    + [(text, DEPTH_HINT) for text in ("pct:0", "pct:x", "pct:17")],
)
def test_unknown_schedules_are_refused_saying_what_is_valid(text: str, hint: str) -> None:
    with pytest.raises(ValueError) as refused:
        parse(text)
    assert hint in str(refused.value) and repr(text) in str(refused.value)
