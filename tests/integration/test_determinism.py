"""Same seed, same code: byte-identical trace, across processes and hash seeds."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Generator
from typing import Any

import pytest

from replisim.sim import (
    Actor,
    Address,
    Call,
    Cast,
    Draw,
    Link,
    LogNormal,
    Message,
    SimRuntime,
    Sleep,
)

Gen = Generator[Any, Any, Any]


class Peer(Actor):
    """Gossips with random peers at random intervals; replies to pings."""

    def __init__(self, peers: list[str]) -> None:
        self.peers = peers

    def on_start(self) -> Gen:
        for _ in range(30):
            yield Sleep((yield Draw("workload", "expovariate", (5.0,))))
            target = yield Draw("workload", "choice", (self.peers,))
            try:
                yield Call(Address("peer", target), Message("ping"), timeout=0.05)
            except Exception:
                yield Cast(Address("peer", target), Message("ping"))

    def ping(self) -> str:
        return "pong"


SCHEDULES = ("fifo", "random", "pct:3")


def traced_run(seed: int, schedule: str = "fifo") -> SimRuntime:
    rt = SimRuntime(
        seed=seed,
        link=Link(LogNormal(0.005, 1.0), loss=0.1, duplicate=0.1, reorder=0.1),
        schedule=schedule,
    )
    names = [f"p{i}" for i in range(5)]
    for name in names:
        rt.spawn(Peer(names), Address("peer", name))
    rt.run(until=20)
    return rt


@pytest.mark.parametrize("schedule", SCHEDULES)
def test_same_seed_gives_byte_identical_trace(schedule: str) -> None:
    first, second = traced_run(42, schedule), traced_run(42, schedule)
    assert len(first.trace.records) > 300
    assert first.trace.lines() == second.trace.lines()


def test_different_seeds_give_different_traces() -> None:
    assert traced_run(42).trace.digest() != traced_run(43).trace.digest()


@pytest.mark.parametrize("schedule", SCHEDULES)
def test_trace_is_identical_across_processes_and_hash_seeds(schedule: str) -> None:
    script = (
        "import sys; sys.path.insert(0, sys.argv[1]);"
        f"from test_determinism import traced_run; print(traced_run(42, {schedule!r}).trace.digest())"
    )
    here = os.path.dirname(__file__)
    digests = set()
    for hash_seed in ("1", "2", "3"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        out = subprocess.run(
            [sys.executable, "-c", script, here], env=env, check=True, capture_output=True, text=True
        ).stdout.strip()
        digests.add(out)
    assert digests == {traced_run(42, schedule).trace.digest()}
