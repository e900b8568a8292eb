"""A driver repeats its replication error reports every interval: the row is written only for news.

A report's words (its non-numeric values) are its state; its numbers (a lag, unshipped writes) are
measurements that move every interval. The first report of a state is written; the same state again
writes nothing, and changed figures alone are restated at most once every ``FIGURE_REFRESH``
intervals. The generator below draws reports, repeats and figure changes and counts the writes, on
both repository backends.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from replisim.actors.db import MemoryRepository, Repository, SqlRepository
from replisim.actors.manager import FIGURE_REFRESH, VolumeManager

HOST = "replisim@alpha"
INTERVAL = 10.0


class Counting:
    """A repository that counts the volume writes that went through."""

    def __init__(self, inner: Repository):
        self.inner = inner
        self.writes = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def volume_conditional_update(
        self, volume_id: str, expected: Any, values: Any, *, within_quota: bool = False
    ) -> Any:
        row = self.inner.volume_conditional_update(volume_id, expected, values, within_quota=within_quota)
        self.writes += row is not None
        return row


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["memory", "sql"])
def world(request: pytest.FixtureRequest) -> Iterator[tuple[VolumeManager, Counting, Clock]]:
    clock = Clock()
    inner: Repository = (
        MemoryRepository(clock=clock)
        if request.param == "memory"
        else SqlRepository("sqlite://", clock=clock)
    )
    db = Counting(inner)
    db.volume_create(
        {"id": "v1", "host": f"{HOST}#alpha", "status": "available", "replication_status": "enabled"}
    )
    yield VolumeManager(HOST, db, report_interval=INTERVAL), db, clock
    inner.close()


words = st.dictionaries(
    st.sampled_from(["reason", "target", "primary", "link"]),
    st.sampled_from(["lag", "link_down", "b001", "b002", "split_brain"]),
    max_size=3,
)
figures = st.dictionaries(
    st.sampled_from(["lag", "unshipped", "lag_seconds"]),
    st.floats(0, 1e6, allow_nan=False) | st.integers(0, 10**9),
    max_size=2,
)


def report(said: Mapping[str, Any], measured: Mapping[str, Any]) -> dict[str, Any]:
    return {"volid": "v1", "status": "error", **measured, **said}


def apply(manager: VolumeManager, clock: Clock, update: Mapping[str, Any], at: float) -> None:
    clock.now = at
    manager.apply_replication_update(update, at)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(said=words, first=figures, later=st.lists(figures, min_size=1, max_size=40))
def test_a_repeated_report_writes_only_what_is_new(
    world: Any, said: dict[str, Any], first: dict[str, Any], later: list[dict[str, Any]]
) -> None:
    manager, db, clock = world
    db.inner.volume_update("v1", {"replication_status": "enabled", "replication_extended_status": None})
    start = clock.now + 1000 * INTERVAL
    db.writes = 0
    apply(manager, clock, report(said, first), start)
    assert db.writes == 1
    row = db.volume_get("v1")
    assert row["replication_status"] == "error"
    assert all(f'"{key}": "{value}"' in row["replication_extended_status"] for key, value in said.items())

    for step, measured in enumerate(later, start=1):  # same words, the figures move every interval
        apply(manager, clock, report(said, measured), start + step * INTERVAL)
    # the first write, then at most one restatement per FIGURE_REFRESH intervals
    assert db.writes <= 1 + len(later) // FIGURE_REFRESH

    # the same report again at once: nothing to say (one interval later a restatement may be due,
    # when the last one was FIGURE_REFRESH intervals before)
    writes = db.writes
    apply(manager, clock, report(said, later[-1]), start + len(later) * INTERVAL)
    assert db.writes == writes


def test_figures_are_restated_once_the_refresh_period_has_passed(world: Any) -> None:
    manager, db, clock = world
    apply(manager, clock, report({"reason": "lag"}, {"lag": 61.0}), 100.0)
    for step in range(1, FIGURE_REFRESH):
        apply(
            manager, clock, report({"reason": "lag"}, {"lag": 61.0 + step * INTERVAL}), 100 + step * INTERVAL
        )
    assert db.writes == 1 and '"lag": 61.0' in db.volume_get("v1")["replication_extended_status"]
    late = 100 + FIGURE_REFRESH * INTERVAL
    apply(manager, clock, report({"reason": "lag"}, {"lag": 400.0}), late)
    assert db.writes == 2 and '"lag": 400.0' in db.volume_get("v1")["replication_extended_status"]


def test_new_words_are_written_at_once(world: Any) -> None:
    manager, db, clock = world
    apply(manager, clock, report({"reason": "lag", "target": "b001"}, {"lag": 61.0}), 100.0)
    apply(manager, clock, report({"reason": "lag", "target": "b002"}, {"lag": 61.0}), 110.0)
    apply(manager, clock, report({"reason": "split_brain"}, {}), 120.0)
    assert db.writes == 3 and "split_brain" in db.volume_get("v1")["replication_extended_status"]
    apply(manager, clock, {"volid": "v1", "status": "ok"}, 130.0)
    assert db.volume_get("v1")["replication_status"] == "enabled" and db.writes == 4
