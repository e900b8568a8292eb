"""Shrinking a failing scenario to the few faults and operations that make it fail.

Random fault policies are first expanded, for the failing seed, into explicit faults; then faults,
admin actions and admin policies are removed by greedy delta debugging (drop halves, then smaller
chunks, down to single items) and workload rates and initial volumes are zeroed or halved, each
change kept only while ``still_fails`` says the same check still fails. The result is a plain
scenario: written with ``scenario_to_yaml`` it is a file the user can run.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from replisim.scenarios.schema import Scenario, Workload, draw_faults

__all__ = ["ShrinkResult", "shrink"]

T = TypeVar("T")
Predicate = Callable[[Scenario], bool]
_HALVINGS = 8  # a rate is halved at most this many times per pass (down to 1/256)


@dataclass(frozen=True)
class ShrinkResult:
    """The smallest failing scenario found, from what, and at what cost."""

    scenario: Scenario
    original: Scenario  # with its random faults expanded for the seed
    attempts: int  # runs of the predicate (repeated candidates are not run twice)
    exhausted: bool  # stopped by the attempt budget, so maybe not minimal

    def summary(self) -> str:
        before, after = self.original, self.scenario
        counts = [
            f"{len(before.faults)} -> {len(after.faults)} faults",
            f"{len(before.workload.actions)} -> {len(after.workload.actions)} admin actions",
            f"{len(before.workload.policies)} -> {len(after.workload.policies)} admin policies",
        ]
        tail = " (attempt budget used up: may not be minimal)" if self.exhausted else ""
        return f"shrunk {', '.join(counts)} in {self.attempts} runs{tail}"


class _Attempts:
    """The predicate with a budget and a memory: a candidate seen before is not run again."""

    def __init__(self, still_fails: Predicate, limit: int):
        self.still_fails = still_fails
        self.limit = limit
        self.count = 0
        self.exhausted = False
        self.seen: dict[str, bool] = {}

    def __call__(self, scenario: Scenario) -> bool:
        key = repr(scenario)  # frozen values: equal scenarios print alike
        if key not in self.seen:
            if self.count >= self.limit:
                self.exhausted = True
                return False
            self.count += 1
            self.seen[key] = bool(self.still_fails(scenario))
        return self.seen[key]


def _ddmin(items: tuple[T, ...], fails: Callable[[tuple[T, ...]], bool]) -> tuple[T, ...]:
    """Greedy delta debugging: drop a chunk while the failure stays, halves first, then smaller chunks."""
    chunks = 2
    while items:
        size = -(-len(items) // chunks)
        for start in range(0, len(items), size):
            candidate = items[:start] + items[start + size :]
            if fails(candidate):
                items = candidate
                chunks = max(chunks - 1, 2)
                break
        else:
            if size == 1:
                return items
            chunks = min(chunks * 2, len(items))
    return items


def _with_workload(scenario: Scenario, **changes: Any) -> Scenario:
    return replace(scenario, workload=replace(scenario.workload, **changes))


_Get = Callable[[Scenario], tuple[Any, ...]]
_Put = Callable[[Scenario, tuple[Any, ...]], Scenario]

# What can be removed item by item: how to read it from a scenario, and how to replace it.
_LISTS: Sequence[tuple[_Get, _Put]] = (
    (lambda s: s.faults, lambda s, items: replace(s, faults=items)),
    (lambda s: s.workload.actions, lambda s, items: _with_workload(s, actions=items)),
    (lambda s: s.workload.policies, lambda s, items: _with_workload(s, policies=items)),
)


def _reduce_list(scenario: Scenario, get: _Get, put: _Put, fails: Predicate) -> Scenario:
    return put(scenario, _ddmin(get(scenario), lambda items: fails(put(scenario, items))))


def _numbers(workload: Workload) -> dict[str, float]:
    return {
        "initial_volumes": workload.initial_volumes,
        "create": workload.create.rate,
        "delete": workload.delete.rate,
        "writes": workload.writes.per_volume_rate,
    }


def _set_number(scenario: Scenario, name: str, value: float) -> Scenario:
    w = scenario.workload
    if name == "initial_volumes":
        return _with_workload(scenario, initial_volumes=int(value))
    if name == "create":
        return _with_workload(scenario, create=replace(w.create, rate=value))
    if name == "delete":
        return _with_workload(scenario, delete=replace(w.delete, rate=value))
    return _with_workload(scenario, writes=replace(w.writes, per_volume_rate=value))


def _reduce_number(scenario: Scenario, name: str, fails: Predicate) -> Scenario:
    """Zero the number if the failure stays; else halve it while the failure stays."""
    value = _numbers(scenario.workload)[name]
    if value == 0:
        return scenario
    zero = _set_number(scenario, name, 0)
    if fails(zero):
        return zero
    for _ in range(_HALVINGS):
        half = int(value) // 2 if name == "initial_volumes" else value / 2
        candidate = _set_number(scenario, name, half)
        if half == 0 or not fails(candidate):
            break
        scenario, value = candidate, half
    return scenario


def shrink(
    scenario: Scenario, still_fails: Predicate, *, seed: int | None = None, max_attempts: int = 200
) -> ShrinkResult:
    """The smallest scenario found for which ``still_fails`` holds, starting from ``scenario`` run
    with ``seed`` (default: its own). ``still_fails`` should run the scenario and say whether the
    same check fails again; it is called at most ``max_attempts`` times.
    """
    seed = scenario.seed if seed is None else seed
    current = replace(scenario, seed=seed, faults=tuple(draw_faults(scenario, seed)), random_faults=())
    original = current
    fails = _Attempts(still_fails, max_attempts)
    if not fails(current):
        raise ValueError(f"scenario {scenario.name!r} with seed {seed} does not fail: nothing to shrink")
    changed = True
    while changed and not fails.exhausted:
        before = current
        for get, put in _LISTS:
            current = _reduce_list(current, get, put, fails)
        for name in _numbers(current.workload):
            current = _reduce_number(current, name, fails)
        changed = current != before
    return ShrinkResult(scenario=current, original=original, attempts=fails.count, exhausted=fails.exhausted)
