"""Every fault kind, injected into a simulated world, has the consequence a user would expect."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace

import pytest
from click.testing import CliRunner
from support.cluster import Cluster, make_repo, make_runtime
from support.emulated import CONF, replicated

from replisim import exception
from replisim.actors import rpcapi
from replisim.actors.manager import VolumeManager
from replisim.actors.status import TRANSITIONAL
from replisim.cli import main
from replisim.drivers.emulated.fabric import Fabric
from replisim.scenarios.fault_policies import poisson_schedule
from replisim.scenarios.faults import KINDS, Fault, FaultKind
from replisim.scenarios.injector import FaultInjector
from replisim.scenarios.schema import parse_scenario
from replisim.sim.errors import MessagingTimeout


class World(Cluster):
    injector: FaultInjector

    @property
    def fabric_(self) -> Fabric:
        assert self.fabric is not None
        return self.fabric

    def inject(
        self, kind: str, target: str, start: float = 0.0, duration: float | None = None, **params: object
    ) -> Fault:
        fault = Fault(kind, target, self.runtime.now + start, duration, params)
        self.injector.schedule([fault])
        if self.live and start == 0:  # the timer thread begins it: wait until it has
            self.wait_for(lambda: any(e.fault is fault for e in self.injector.events), f"{kind} to begin")
        return fault

    def run_for(self, seconds: float) -> None:
        self.runtime.run(until=self.runtime.now + seconds)


@pytest.fixture
def world() -> Iterator[World]:
    yield from make_world("sim")


@pytest.fixture
def any_world(runtime_kind: str) -> Iterator[World]:
    """For the faults live mode interprets in-process too: driver methods, managers, the database."""
    yield from make_world(runtime_kind)


def make_world(kind: str, manager_class: type[VolumeManager] = VolumeManager) -> Iterator[World]:
    runtime = make_runtime(kind, seed=5)
    w = World(
        runtime,
        make_repo("memory", runtime),
        CONF,
        fabric=Fabric.for_runtime(runtime),
        manager_class=manager_class,
    )
    w.injector = FaultInjector(w.deployment, w.fabric)
    try:
        yield w
    finally:
        w.stop()


def no_transitional(world: World) -> list[str]:
    return [v["id"] for v in world.db.volume_get_all() if v["replication_status"] in TRANSITIONAL]


# -- arrays ---------------------------------------------------------------------------------------


def test_primary_crash_async_failover_reports_exactly_the_lag_window_lost(world: World) -> None:
    vid = replicated(world, "alpha")  # alpha -> beta, async, 30 s link latency
    world.fabric_.set_write_rate(vid, 2.0)
    world.run_for(300)
    world.inject("array.crash", "alpha", duration=600)
    world.run_for(60)
    world.admin("failover_replication", volume_id=vid)
    moved = world.wait_status(vid, "replication_status", "failed-over")
    record = world.fabric_.failovers[-1]
    assert record.lost_writes == 60  # 30 s of lag x 2 writes/s
    assert json.loads(moved["replication_driver_data"])["lost_writes"] == record.lost_writes
    assert moved["host"] == "replisim@beta#beta"


def test_primary_crash_is_reported_by_the_secondary_side_as_a_lost_primary(world: World) -> None:
    vid = replicated(world, "alpha")
    world.inject("array.crash", "alpha", duration=120)
    volume = world.wait_status(vid, "replication_status", "error")
    # alpha's own manager may say first that it cannot report; the secondary side's report names why
    volume = world.wait_for(
        lambda: "primary_down" in ((v := world.volume(vid))["replication_extended_status"] or "") and v,
        "the secondary side's primary_down",
    )
    assert volume["replication_status"] == "error"
    world.run_for(200)  # alpha restarts; the pair recovers and the driver says ok
    assert world.volume(vid)["replication_status"] == "enabled"


def test_sync_pair_crash_and_failover_loses_nothing(world: World) -> None:
    vid = replicated(world, "beta")  # beta -> alpha, sync
    world.fabric_.set_write_rate(vid, 5.0)
    world.run_for(100)
    world.inject("array.crash", "beta")
    world.run_for(1)
    world.admin("failover_replication", volume_id=vid)
    world.wait_status(vid, "replication_status", "failed-over")
    assert world.fabric_.failovers[-1].lost_writes == 0
    assert world.fabric_.failovers[-1].target_writes > 0


def test_controller_restart_mid_failover_leaves_nothing_transitional_after_heal(world: World) -> None:
    vids = [replicated(world, "alpha") for _ in range(4)]
    world.inject("array.controller_restart", "alpha", duration=120, completes=0.5)
    for vid in vids:
        world.admin("failover_replication", volume_id=vid)
    world.run_for(10)
    assert sorted(no_transitional(world)) == sorted(vids), "the failovers hang in the restart window"
    world.run_for(60)  # the window ends; the manager timed out on each, outcome unknown to it
    assert no_transitional(world) == []
    assert all("timed out" in (world.volume(vid)["replication_extended_status"] or "") for vid in vids)
    world.run_for(340)  # the driver reports what the array really did, and the manager repairs its record
    for vid in vids:
        volume = world.volume(vid)
        served = world.fabric_.primary(vid).array  # type: ignore[union-attr]
        assert volume["host"] == f"replisim@{served}#{served}"
        assert volume["replication_status"] == ("failed-over" if served == "beta" else "enabled")


def test_latency_spike_slows_driver_operations(world: World) -> None:
    vid = replicated(world, "alpha")
    array = world.fabric_.array("alpha")
    base = sorted(array.service_time("enable", world.runtime.now) for _ in range(200))[100]
    world.inject("array.latency_spike", "alpha", duration=100, factor=20)
    world.run_for(1)
    spiked = sorted(array.service_time("enable", world.runtime.now) for _ in range(200))[100]
    assert spiked == pytest.approx(20 * base, rel=0.3)
    assert vid


def test_array_pause_holds_its_operations_and_links_until_it_ends_and_loses_nothing(world: World) -> None:
    vid = replicated(world, "alpha")  # alpha -> beta, async, 30 s link latency
    fabric = world.fabric_
    fabric.set_write_rate(vid, 2.0)
    world.run_for(100)
    world.inject("array.pause", "alpha", duration=120)
    world.run_for(1)
    held = fabric.writes(vid, "alpha")
    with pytest.raises(MessagingTimeout):  # the driver's call on the paused array does not come back
        world.admin("list_replication_targets", volume_id=vid)
    assert not fabric.link_is_up("alpha->beta")
    assert fabric.writes(vid, "alpha") == held, "a paused array acknowledges no writes"
    world.run_for(120)  # the pause is over: the array answers, with everything it held
    assert fabric.link_is_up("alpha->beta")
    assert world.admin("list_replication_targets", volume_id=vid)["targets"]
    assert fabric.writes(vid, "alpha") > held
    world.run_for(60)  # 30 s of latency later the replica has caught up with the pause's writes
    assert fabric.writes(vid, "beta") >= held


def test_link_throttle_delay_adds_latency_while_it_lasts(world: World) -> None:
    vid = replicated(world, "alpha")  # alpha -> beta, async, 30 s link latency
    link = world.fabric_.link("alpha", "beta")
    world.fabric_.set_write_rate(vid, 1.0)
    world.run_for(300)
    assert link.lag(world.runtime.now) == pytest.approx(30, abs=2)
    world.inject("link.throttle", "alpha->beta", duration=200, bandwidth_mbps=1000, delay=60)
    world.run_for(150)
    assert link.lag(world.runtime.now) == pytest.approx(90, abs=2)
    world.run_for(100)  # ended: the link's own latency again
    assert link.lag(world.runtime.now) == pytest.approx(30, abs=2)


def test_capacity_exhausted_refuses_creates_and_reports_no_free_space(world: World) -> None:
    world.inject("array.capacity_exhausted", "alpha", duration=500)
    world.inject("array.capacity_exhausted", "beta", duration=500)
    world.inject("array.capacity_exhausted", "dr", duration=500)
    world.run_for(30)
    assert all(m.last_stats["free_capacity_gb"] == 0 for m in world.deployment.managers.values())
    volume = world.alice("create_volume", size=1)
    failed = world.wait_status(volume["id"], "status", "error")
    assert "No valid host" in failed["status_reason"] or "no space" in failed["status_reason"]


# -- links ----------------------------------------------------------------------------------------


def test_link_down_makes_updates_report_the_volume_and_the_manager_mark_it(world: World) -> None:
    vid = replicated(world, "alpha")
    world.inject("link.down", "alpha->beta", duration=100)
    volume = world.wait_status(vid, "replication_status", "error")
    assert "link_down" in volume["replication_extended_status"]
    world.run_for(150)
    assert world.volume(vid)["replication_status"] == "enabled"


def test_link_flap_alternates_the_link(world: World) -> None:
    replicated(world, "alpha")
    world.inject("link.flap", "alpha->beta", duration=100, period=10)
    states = []
    for _ in range(6):
        world.run_for(10)
        states.append(world.fabric_.link_is_up("alpha->beta"))
    assert states[:4] in ([True, False, True, False], [False, True, False, True])
    world.run_for(100)
    assert world.fabric_.link_is_up("alpha->beta")


def test_throttled_link_lag_crosses_the_threshold_and_recovers(world: World) -> None:
    vid = replicated(world, "alpha")
    world.fabric_.set_write_rate(vid, 10.0)  # 640 KiB/s over a 0.1 Mbit/s link: falls behind
    world.inject("link.throttle", "alpha->beta", duration=300, bandwidth_mbps=0.1)
    volume = world.wait_status(vid, "replication_status", "error")
    assert '"reason": "lag"' in volume["replication_extended_status"]
    world.run_for(600)
    assert world.volume(vid)["replication_status"] == "enabled"


def test_split_brain_is_reported_until_a_failover_resolves_it(world: World) -> None:
    vid = replicated(world, "alpha")
    world.fabric_.set_write_rate(vid, 1.0)
    world.inject("link.split_brain", "alpha->beta", duration=60)
    volume = world.wait_status(vid, "replication_status", "error")
    assert "split_brain" in volume["replication_extended_status"]
    world.run_for(120)  # the fault's window is over, the split is not
    assert world.volume(vid)["replication_status"] == "error"
    assert world.fabric_.split_volumes("alpha") == [vid]
    world.admin("failover_replication", volume_id=vid)
    world.wait_status(vid, "replication_status", "failed-over")
    assert world.fabric_.split_volumes("alpha") == []
    assert world.fabric_.failovers[-1].lost_writes > 0


# -- drivers, managers, database -------------------------------------------------------------------


@pytest.mark.parametrize("error", ["cinder", "unexpected"])
def test_driver_method_raising_ends_in_error_with_the_reason(any_world: World, error: str) -> None:
    world = any_world
    vid = replicated(world, "alpha")
    # The arrays' reports are silenced: the one after the enable says the volume is healthy and
    # replicating (the disable changed nothing on the array), which rightly brings it back from
    # error, within 50 ms live.
    world.inject("driver.raise", "alpha", duration=100, method="get_replication_updates")
    world.inject("driver.raise", "alpha", duration=100, method="replication_disable", error=error)
    world.admin("disable_replication", volume_id=vid)
    volume = world.wait_status(vid, "replication_status", "error")
    expected = "VolumeBackendAPIException" if error == "cinder" else "driver bug, unexpected RuntimeError"
    assert expected in volume["replication_extended_status"]


def test_hanging_driver_method_times_out_and_nothing_stays_transitional(world: World) -> None:
    vid = replicated(world, "alpha")
    world.inject("driver.hang", "alpha", duration=200, method="replication_failover")
    world.admin("failover_replication", volume_id=vid)
    volume = world.wait_status(vid, "replication_status", "error")
    assert "timed out" in volume["replication_extended_status"]


def test_paused_manager_serves_its_queue_when_resumed(any_world: World) -> None:
    world = any_world
    vid = replicated(world, "alpha")
    pause = 5 * world.interval
    world.inject("manager.pause", "alpha", duration=pause)
    world.run_for(pause / 50)
    world.admin("disable_replication", volume_id=vid)
    world.run_for(pause / 2)
    assert world.volume(vid)["replication_status"] == "disabling"
    world.wait_status(vid, "replication_status", "disabled")


def test_manager_restart_abandons_work_and_reconciles(world: World) -> None:
    vid = replicated(world, "alpha")
    world.inject("driver.hang", "alpha", duration=300, method="replication_disable")
    world.admin("disable_replication", volume_id=vid)
    world.run_for(1)
    world.inject("manager.restart", "alpha", duration=5)
    world.run_for(5.5)
    volume = world.volume(vid)
    assert volume["replication_status"] == "error"
    assert "restarted while the volume was disabling" in volume["replication_extended_status"]
    # The abandoned disable still reaches the array once the hang ends; the driver says so, and
    # the manager's record follows the array.
    world.run_for(400)
    assert world.volume(vid)["replication_status"] == "disabled"
    assert all(copy.paused for copy in world.fabric_.secondaries(vid))


class RestartedManager(VolumeManager):
    """A deployment's own manager class, which a restarted manager must be built as again."""


def test_manager_restart_rebuilds_the_deployments_manager_class() -> None:
    for world in make_world("sim", manager_class=RestartedManager):
        host = world.deployment.config.backend("alpha").host
        before = world.deployment.managers[host]
        world.inject("manager.restart", "alpha", duration=5)
        world.run_for(10)
        after = world.deployment.managers[host]
        assert after is not before and type(after) is RestartedManager
        assert world.runtime.actor(rpcapi.manager_address(host)) is after  # and it is the one serving
        vid = replicated(world, "alpha")  # which it does: a new replicated volume gets enabled
        assert world.volume(vid)["replication_status"] == "enabled"


def test_db_outage_fails_requests_cleanly_and_writes_nothing(any_world: World) -> None:
    world = any_world
    vid = replicated(world, "alpha")
    outage = 3 * world.interval
    world.inject("db.unavailable", "db", duration=outage)
    world.run_for(outage / 30)
    with pytest.raises(exception.DBUnavailable):
        world.admin("disable_replication", volume_id=vid)
    world.run_for(outage * 1.5)
    assert world.volume(vid)["replication_status"] == "enabled"  # nothing half-written
    world.admin("disable_replication", volume_id=vid)
    world.wait_status(vid, "replication_status", "disabled")


def test_lost_cast_leaves_an_orphan_the_manager_reaps(world: World) -> None:
    vid = replicated(world, "alpha")
    world.inject("bus.loss", "cinder-api->cinder-volume", duration=5, probability=1.0)
    world.run_for(1)
    world.admin("disable_replication", volume_id=vid)
    world.run_for(20)
    assert world.volume(vid)["replication_status"] == "disabling"
    volume = world.wait_status(vid, "replication_status", "error")
    assert "the request was lost" in volume["replication_extended_status"]


def test_bus_duplicates_and_reordering_do_not_break_the_state_machine(world: World) -> None:
    vids = [replicated(world, "alpha") for _ in range(3)]
    world.inject("bus.duplicate", "*", duration=100, probability=0.5)
    world.inject("bus.reorder", "*", duration=100, probability=0.5)
    for vid in vids:
        world.admin("disable_replication", volume_id=vid)
    world.run_for(300)
    assert {world.volume(v)["replication_status"] for v in vids} == {"disabled"}


def test_partition_between_api_and_managers_times_out_the_call(world: World) -> None:
    vid = replicated(world, "alpha")
    world.inject("bus.partition", "*", duration=100, groups=[["cinder-api"], ["cinder-volume"]])
    world.run_for(1)
    with pytest.raises(MessagingTimeout):
        world.admin("list_replication_targets", volume_id=vid)
    world.run_for(200)  # healed
    assert world.admin("list_replication_targets", volume_id=vid)["targets"]


# -- fault data ------------------------------------------------------------------------------------

TARGETS = {"array": "alpha", "link": "alpha->beta", "backend": "alpha", "bus": "*", "db": "db"}


ONE_FAULT = """\
name: every-kind
duration: 10m
topology:
  backends:
    alpha: {replication_targets: [beta]}
    beta: {}
faults:
  schedule:
    - ENTRY
"""


@pytest.mark.parametrize("kind", list(KINDS.values()), ids=list(KINDS))
def test_every_kind_in_the_catalog_can_be_written_in_a_scenario_and_applied(
    world: World, kind: FaultKind
) -> None:
    entry = {
        "kind": kind.name,
        "target": TARGETS[kind.target],
        "start": "1m",
        "duration": "2m",
        "params": {p.name: p.example for p in kind.params if p.required},
    }
    text = ONE_FAULT.replace("ENTRY", json.dumps(entry))
    (fault,) = parse_scenario(text).faults
    assert (fault.kind, fault.target) == (kind.name, TARGETS[kind.target])
    replicated(world, "alpha")
    world.injector.schedule([replace(fault, start=world.runtime.now + 1, duration=60)])
    world.run_for(120)
    assert [e.phase for e in world.injector.events] == ["begin", "end"]


def test_the_faults_verb_lists_the_catalog() -> None:
    listed = json.loads(CliRunner().invoke(main, ["faults", "--json"]).output)
    assert [k["kind"] for k in listed] == list(KINDS)
    throttle = next(k for k in listed if k["kind"] == "link.throttle")
    assert throttle["live"] and {p["name"]: p["default"] for p in throttle["params"]} == {
        "bandwidth_mbps": 1.0,
        "delay": 0.0,
    }
    text = CliRunner().invoke(main, ["faults"]).output
    assert all(name in text for name in KINDS) and "params.delay" in text


def test_same_seed_same_fault_trace() -> None:
    def run(seed: int) -> str:
        runtime = make_runtime("sim", seed=seed)
        w = World(runtime, make_repo("memory", runtime), CONF, fabric=Fabric.for_runtime(runtime))
        w.injector = FaultInjector(w.deployment, w.fabric)
        faults = poisson_schedule(
            runtime.streams["faults"],
            rate=1 / 30,
            kinds=["link.down", "bus.loss"],
            targets={"link": ["alpha->beta"]},
            start=runtime.now,
            end=runtime.now + 300,
        )
        w.injector.schedule(faults)
        replicated(w, "alpha")
        w.run_for(400)
        digest = runtime.trace.digest()
        w.stop()
        return digest

    assert run(11) == run(11)
    assert run(11) != run(12)
