"""The emulated driver's replication report says what changed, not everything every interval:
a problem when it starts or its words change, again every ``REMIND_ROUNDS`` reports while it
stands (so a manager that could not apply one learns it), and one ``ok`` when it ends."""

from __future__ import annotations

import itertools
import math

from hypothesis import given, settings
from hypothesis import strategies as st

from replisim.actors.config import parse_config
from replisim.drivers.emulated import EmulatedDriver
from replisim.drivers.emulated.driver import REMIND_ROUNDS
from replisim.drivers.emulated.fabric import Fabric

EMULATED = "replisim.drivers.emulated.EmulatedDriver"
CONF = f"""
[DEFAULT]
enabled_backends = a, b

[a]
volume_driver = {EMULATED}
replication_devices = b

[b]
volume_driver = {EMULATED}
replication_devices = a
"""
VOLUMES = [f"v{i}" for i in range(3)]
INTERVAL = 10.0


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def world(settle: bool = True) -> tuple[EmulatedDriver, Fabric, Clock]:
    """Volumes on a replicating to b, past the window in which their enable is reported (unless
    not ``settle``)."""
    clock = Clock()
    fabric = Fabric(clock=clock, seed=1)
    config = parse_config(CONF)
    drivers = {
        name: EmulatedDriver(backend.driver_configuration(), backend.host, fabric=fabric)
        for name, backend in config.backends.items()
    }
    for driver in drivers.values():
        driver.do_setup(None)
    a = drivers["a"]
    for volume_id in VOLUMES:
        a.create_volume({"id": volume_id, "size": 1})
        a.replication_enable(None, {"id": volume_id})
    while settle and fabric.changed.get("a"):
        clock.now += INTERVAL
        a.get_replication_updates(None)
    return a, fabric, clock


def test_a_changed_volume_is_told_at_once_then_every_few_reports_through_its_window() -> None:
    driver, fabric, clock = world(settle=False)
    told: dict[str, list[int]] = {v: [] for v in VOLUMES}
    rounds = 0
    while fabric.changed.get("a"):
        clock.now += INTERVAL
        rounds += 1
        for update in driver.get_replication_updates(None):
            assert update["status"] == "ok" and update["replication_status"] == "enabled"
            told[update["volid"]].append(rounds)
    for volume_id, when in told.items():
        assert when[0] == 1, f"{volume_id}: told on the first report after its enable"
        assert {b - a for a, b in itertools.pairwise(when)} == {REMIND_ROUNDS}
        assert rounds - when[-1] <= REMIND_ROUNDS, "and until its window closes"


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(["up", "down", "b-down"]), min_size=1, max_size=5 * REMIND_ROUNDS))
def test_a_standing_problem_is_said_when_it_starts_changes_and_every_few_reports(rounds: list[str]) -> None:
    driver, fabric, clock = world()
    streak = 0  # reports in a row the volumes have been in error with the same words
    since_said = 0  # reports since the volumes' problem was last said
    was = "up"
    said_in_streak = 0
    for state in rounds:
        fabric.set_link_fault("a->b", "test", state == "down")
        if state == "b-down" and fabric.array("b").up:
            fabric.crash("b")
        elif state != "b-down" and not fabric.array("b").up:
            fabric.restart("b")
        clock.now += INTERVAL
        report = {u["volid"]: u for u in driver.get_replication_updates(None)}
        in_error = state != "up"
        if not in_error:
            # exactly one 'ok' for each volume that was in error, and nothing for healthy ones
            assert report == ({} if was == "up" else {v: report[v] for v in VOLUMES})
            assert all(u["status"] == "ok" for u in report.values())
            streak = said_in_streak = 0
        else:
            assert set(report) <= set(VOLUMES)
            assert all(u["status"] == "error" and u["reason"] == "link_down" for u in report.values())
            streak += 1
            said = bool(report)
            assert not said or set(report) == set(VOLUMES), "the volumes share one link"
            if was == "up":
                assert said, "a problem is said the report it starts"
            since_said = 0 if said else since_said + 1
            assert since_said < REMIND_ROUNDS, "a standing problem is restated every REMIND_ROUNDS"
            said_in_streak += said
            assert said_in_streak <= math.ceil(streak / REMIND_ROUNDS), "and no more often"
        was = "up" if not in_error else "error"


def test_new_words_are_said_at_once() -> None:
    driver, fabric, clock = world()
    fabric.set_link_fault("a->b", "test", True)
    clock.now += INTERVAL
    assert {u["reason"] for u in driver.get_replication_updates(None)} == {"link_down"}
    clock.now += INTERVAL
    assert driver.get_replication_updates(None) == []
    # the link comes back with a backlog far past the lag threshold: the volumes now lag
    fabric.set_link_fault("a->b", "test", False)
    for volume_id in VOLUMES:
        fabric.set_write_rate(volume_id, 1.0)
    fabric.link("a", "b").set_bandwidth(clock.now, 0.001)
    clock.now += 1000 * INTERVAL
    assert {(u["volid"], u["reason"]) for u in driver.get_replication_updates(None)} == {
        (v, "lag") for v in VOLUMES
    }
    # the lag grows each interval, but a figure is not news
    clock.now += INTERVAL
    assert driver.get_replication_updates(None) == []
