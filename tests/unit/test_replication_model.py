"""The emulated arrays' data model: exact write counts, the link's queue, pairs and failover loss."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from replisim import exception
from replisim.drivers.emulated.fabric import Fabric
from replisim.drivers.emulated.link import ReplicationLink
from replisim.drivers.emulated.writes import WriteHistory


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def world(
    latency: float = 30.0, bandwidth_mbps: float = 1000.0, mode: str = "async", rate: float = 2.0
) -> tuple[Fabric, Clock]:
    """Volume v on array a, replicating to b, written ``rate`` times a second from t=0."""
    clock = Clock()
    fabric = Fabric(clock=clock, seed=1)
    fabric.configure_link("a", "b", bandwidth_mbps=bandwidth_mbps, latency=latency)
    fabric.create("a", "v", 10)
    fabric.enable("v", "a", "b", mode)
    fabric.set_write_rate("v", rate)
    return fabric, clock


# -- write history --------------------------------------------------------------------------------


def test_write_history_counts_rates_and_single_writes_exactly() -> None:
    history = WriteHistory(0.0)
    history.set_rate(10.0, 3.0)
    assert history.count_at(10.0) == 0
    assert history.count_at(20.0) == 30
    assert history.add(20.0, 5) == 35
    assert history.count_before(20.0) == 30
    history.set_rate(30.0, 0.0)
    assert history.count_at(1000.0) == 65
    assert history.count_at(5.0) == 0


def test_write_history_dates_a_late_reading_at_the_last_change() -> None:
    history = WriteHistory(0.0)
    history.set_rate(10.0, 1.0)
    history.set_rate(9.9999, 2.0)  # a wall-clock reading taken a hair earlier
    assert history.count_at(20.0) == 20
    with pytest.raises(ValueError, match="negative"):
        history.set_rate(30.0, -1.0)


# -- the link's queue -----------------------------------------------------------------------------


def test_uncongested_async_link_lags_by_its_latency() -> None:
    fabric, clock = world(latency=30.0)
    clock.now = 100.0
    assert fabric.writes("v", "a") == 200
    assert fabric.writes("v", "b") == 140  # everything written before t=70 has landed
    (secondary,) = fabric.secondaries("v")
    assert fabric.lag(secondary) == pytest.approx(30.0)


def test_throttled_link_falls_behind_at_the_excess_rate() -> None:
    # 2 writes/s x 64 KiB = 128 KiB/s written; 0.5 Mbit/s is 61.035 KiB/s shipped.
    fabric, clock = world(latency=0.0, bandwidth_mbps=0.5)
    clock.now = 1000.0
    shipped_kib = 0.5 * 1_000_000 / 8 / 1024 * 1000.0
    assert fabric.writes("v", "b") == int(shipped_kib // 64)
    (secondary,) = fabric.secondaries("v")
    assert fabric.lag(secondary) == pytest.approx(1000.0 - shipped_kib / 128, rel=1e-6)


def test_cut_link_freezes_the_secondary_and_it_catches_up_after() -> None:
    fabric, clock = world(latency=1.0)
    clock.now = 100.0
    fabric.set_link_fault("a->b", "test", True)
    held = fabric.writes("v", "b")
    clock.now = 300.0
    assert fabric.writes("v", "b") == held == 198
    assert fabric.pair_state(fabric.secondaries("v")[0]) == "broken"
    fabric.set_link_fault("a->b", "test", False)
    clock.now = 400.0
    assert fabric.writes("v", "b") == fabric.writes("v", "a") - 2  # back to a one-second lag


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.floats(0.1, 50.0), st.floats(0.0, 2000.0), st.booleans()), min_size=1, max_size=12),
    st.floats(10.0, 500.0),
    st.floats(0.0, 5.0),
)
def test_link_never_delivers_early_or_faster_than_its_bandwidth(
    steps: list[tuple[float, float, bool]], bandwidth: float, latency: float
) -> None:
    link = ReplicationLink("a", "b", bandwidth_kib_s=bandwidth, latency=latency)
    segments: list[tuple[float, float, float]] = []  # (start, end, KiB/s) of the input

    def written_by(when: float) -> float:
        return sum(rate * max(0.0, min(end, when) - start) for start, end, rate in segments)

    now, rate, landed = 0.0, 0.0, 0.0
    for dt, new_rate, up in steps:
        link.change_rate(now, new_rate - rate)
        link.set_up(now, up)
        rate = new_rate
        segments.append((now, now + dt, rate))
        before = landed
        now += dt
        landed = link.landed(now)
        assert landed >= before - 1e-6, "delivery went backwards"
        assert landed - before <= (bandwidth * dt if up else 0.0) + 1e-6, "faster than the link allows"
        assert landed <= written_by(now - latency) + 1e-6, "delivered before the latency passed"
        assert link.backlog(now) == pytest.approx(written_by(now) - landed, abs=1e-6)


# -- failover and loss ----------------------------------------------------------------------------


def test_async_crash_then_failover_loses_exactly_the_lag_window() -> None:
    fabric, clock = world(latency=30.0, rate=2.0)
    clock.now = 600.0
    fabric.crash("a")
    clock.now = 660.0
    assert fabric.writes("v", "a") == 1200  # nothing written while the array is down
    record = fabric.failover("v", "b")
    assert record.source_writes - record.target_writes == 60 == record.lost_writes
    assert fabric.writes("v", "b") == 1140
    assert record.lag == pytest.approx(30.0)


def test_sync_pair_loses_nothing_on_failover() -> None:
    fabric, clock = world(latency=30.0, mode="sync")
    clock.now = 600.0
    fabric.crash("a")
    record = fabric.failover("v", "b")
    assert record.lost_writes == 0
    assert record.target_writes == 1200


def test_second_failover_switches_back_and_counts_continue() -> None:
    fabric, clock = world(latency=1.0, mode="sync")
    clock.now = 100.0
    fabric.failover("v", "b")
    clock.now = 200.0
    assert fabric.primary("v").array == "b"  # type: ignore[union-attr]
    assert fabric.writes("v", "b") == 400
    assert fabric.writes("v", "a") == 400  # the old primary is now b's synchronous secondary
    back = fabric.failover("v", "a")
    assert back.lost_writes == 0 and fabric.primary("v").array == "a"  # type: ignore[union-attr]


def test_split_brain_both_sides_take_writes_until_a_failover_picks_one() -> None:
    fabric, clock = world(latency=0.0, rate=1.0)
    clock.now = 100.0
    assert fabric.split_brain("a->b") == ["v"]
    clock.now = 150.0
    assert fabric.split_volumes("a") == ["v"]
    assert fabric.writes("v", "a") == 150 and fabric.writes("v", "b") == 150
    record = fabric.failover("v", "b")  # b wins: a's 50 writes since the split are discarded
    assert record.lost_writes == 50
    assert fabric.split_volumes("a") == [] and fabric.primary("v").array == "b"  # type: ignore[union-attr]


def test_failover_to_an_array_without_a_replica_is_refused() -> None:
    fabric, _ = world()
    fabric.create("c", "w", 1)
    with pytest.raises(exception.InvalidReplicationTarget, match="holds no copy"):
        fabric.failover("v", "c")


def test_thick_pool_refuses_what_it_cannot_hold_and_thin_counts_written_data() -> None:
    clock = Clock()
    fabric = Fabric(clock=clock)
    thick = fabric.array("thick")
    thick.capacity_gb, thick.thin = 100, False
    fabric.create("thick", "x", 60)
    with pytest.raises(exception.VolumeBackendAPIException, match="no space for 50 GiB"):
        fabric.create("thick", "y", 50)
    thin = fabric.array("thin")
    thin.capacity_gb = 100
    fabric.create("thin", "z", 500)  # over-subscribed, allowed up to 20x
    fabric.set_write_rate("z", 16.0)  # 16 x 64 KiB = 1 MiB/s
    clock.now = 1024.0
    assert thin.used_gb(clock.now) == pytest.approx(1.0)
    assert thin.free_gb(clock.now) == pytest.approx(99.0)


def test_sync_pair_that_loses_its_link_holds_writes_so_failover_still_loses_nothing() -> None:
    fabric, clock = world(latency=0.5, mode="sync")
    clock.now = 100.0
    fabric.set_link_fault("a->b", "test", True)
    clock.now = 200.0
    assert fabric.writes("v", "a") == fabric.writes("v", "b") == 200  # nothing acknowledged since t=100
    record = fabric.failover("v", "b")
    assert record.lost_writes == 0
    clock.now = 300.0  # the new primary's partner is unreachable: it runs unprotected, not stalled
    assert fabric.writes("v", "b") == 400


def test_disabling_a_stalled_sync_pair_lets_the_primary_write_again() -> None:
    fabric, clock = world(latency=0.5, mode="sync")
    fabric.set_link_fault("a->b", "test", True)
    clock.now = 10.0
    fabric.pause("v", "a")
    clock.now = 20.0
    assert fabric.writes("v", "a") == 20
    assert fabric.pair_state(fabric.secondaries("v")[0]) == "paused"


# -- the fabric's indexes -------------------------------------------------------------------------

ARRAYS = ["c", "a", "b"]  # not in alphabetical order: copies are listed by creation order
FABRIC_OPS = st.lists(
    st.tuples(
        st.sampled_from(
            ["create", "enable", "failover", "delete", "crash", "restart", "split", "owner", "pause"]
        ),
        st.sampled_from(["v1", "v2"]),
        st.sampled_from(ARRAYS),
        st.sampled_from(ARRAYS),
    ),
    max_size=40,
)


@settings(max_examples=200, deadline=None)
@given(ops=FABRIC_OPS)
@example(ops=[("create", "v1", "a", "a"), ("enable", "v1", "a", "b"), ("split", "v1", "a", "b")])
@example(ops=[("create", "v1", "a", "a"), ("enable", "v1", "a", "b"), ("failover", "v1", "b", "a")])
def test_the_fabric_indexes_agree_with_a_scan_of_every_array(ops: list[tuple[str, str, str, str]]) -> None:
    """Whatever a run does to copies, links and owners, the indexed look-ups give what scanning
    every array, link and owner gives (the scans are what the fabric did before it had indexes)."""
    clock = Clock()
    fabric = Fabric(clock=clock, seed=1)
    for name in ARRAYS:
        fabric.array(name)
    for op, volume, one, other in ops:
        clock.now += 1.0
        try:
            if op == "create":
                fabric.create(one, volume, 10)
            elif op == "enable" and one != other:
                fabric.enable(volume, one, other, "async")
            elif op == "failover":
                fabric.failover(volume, one)
            elif op == "delete":
                fabric.delete(one, volume)
            elif op == "crash":
                fabric.crash(one)
            elif op == "restart":
                fabric.restart(one)
            elif op == "split" and one != other and f"{one}->{other}" in fabric.links:
                fabric.split_brain(f"{one}->{other}")
            elif op == "owner":
                fabric.set_owner(one, f"backend-{other}")
            elif op == "pause":
                fabric.pause(volume, one)
        except exception.CinderException:
            pass
        for volume_id in ("v1", "v2"):
            scanned = [a.copies[volume_id] for a in fabric.arrays.values() if volume_id in a.copies]
            assert fabric.copies(volume_id) == scanned
        for backend in (f"backend-{name}" for name in ARRAYS):
            first = next((a for a, owner in fabric.owners.items() if owner == backend), backend)
            assert fabric.array_of(backend) == first
        for name in ARRAYS:
            assert fabric.links_between(source=name) == [k for k in fabric.links.values() if k.source == name]
            assert fabric.links_between(target=name) == [k for k in fabric.links.values() if k.target == name]
        for link in fabric.links.values():
            fed = [c for c in fabric.arrays[link.target].copies.values() if c.link is link]
            assert fabric.carried_by(link) == [c for c in fed if c.role == "secondary" and not c.paused]
            assert fabric._secondaries_on(link) == [c for c in fed if c.role == "secondary"]
