"""One world per bug class that scenarios written outside the project found (issue 13): each gave
a wrong verdict or lost data before its fix. Each test runs the class's minimal scenario, requires
every check to pass, and checks the property the class broke directly on the arrays and the
database, so a fix that only quietens a checker does not count. Where the class was a false
PASS, a manager with the old behaviour must now be caught."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from replisim.actors.manager import VolumeManager
from replisim.scenarios import faults
from replisim.scenarios.runner import RunResult, run_scenario
from replisim.scenarios.schema import load_scenario

CLASSES = Path(__file__).parent.parent / "data" / "scenarios" / "classes"


def run(name: str, **options: Any) -> RunResult:
    return run_scenario(load_scenario(CLASSES / f"{name}.yaml"), **options)


def failed(result: RunResult) -> list[str]:
    return [f"{v.check}: {v.summary}" for v in result.verdicts if not v.ok]


@pytest.mark.parametrize("name", sorted(path.stem for path in CLASSES.glob("*.yaml")))
def test_every_class_world_passes_every_check(name: str) -> None:
    assert failed(run(name)) == []


def test_a_failover_to_the_third_copy_resolves_the_split_and_counts_both_losses() -> None:
    result = run("split-third-copy")
    fabric = result.record.fabric
    for volume in result.record.volumes:
        primaries = [c.array for c in fabric.copies(volume["id"]) if c.role == "primary"]
        assert primaries == ["gamma"], (volume["id"], primaries)
    assert fabric.split == {}
    by_time: dict[tuple[str, float], list[str]] = {}
    for record in fabric.failovers:
        by_time.setdefault((record.volume_id, record.time), []).append(record.source)
    # each failover demoted both the original primary and the copy the split promoted
    assert all(sorted(sources) == ["alpha", "beta"] for sources in by_time.values()), by_time
    split_losses = [r for r in fabric.failovers if r.split]
    assert split_losses and all(r.lag >= 3 * 60 for r in split_losses)  # measured over the split's life


def test_a_failover_completed_after_the_manager_gave_up_is_repaired_from_the_arrays() -> None:
    result = run("late-failover")
    timed_out = [
        t
        for t in result.record.transitions
        if t.old == "enabling_secondary" and t.new == "error" and "timed out" in (t.reason or "")
    ]
    assert timed_out, "the scenario must make the manager give up"
    for volume in result.record.volumes:
        assert volume["host"].startswith("replisim@beta"), volume
        assert volume["replication_status"] == "failed-over"
    repairs = [t for t in result.record.transitions if t.old == "error" and t.new == "failed-over"]
    assert {t.volume_id for t in repairs} == {t.volume_id for t in timed_out}
    assert all("repaired from the driver's report" in (t.reason or "") for t in repairs)


def test_every_request_acts_once_when_half_the_messages_arrive_twice() -> None:
    result = run("redelivered-messages")
    fabric = result.record.fabric
    accepted = [op for op in result.record.history.ops if op.type == "ok" and op.f == "failover_replication"]
    assert len(fabric.failovers) == len(accepted)  # one failover on the arrays per accepted request
    for volume in result.record.volumes:
        assert len(list(fabric.copies(volume["id"]))) <= 2  # one primary, one replica: never two placements
    orphans = {c.volume_id for array in fabric.arrays.values() for c in array.copies.values()}
    assert orphans <= {v["id"] for v in result.record.volumes}


def test_a_sync_pair_never_in_sync_is_reported_and_its_failover_loss_is_exact() -> None:
    result = run("sync-never-in-sync")
    records = result.record.fabric.failovers
    assert records and all(r.mode == "sync" and not r.in_sync and r.lost_writes > 0 for r in records)
    said = [t for t in result.record.transitions if t.new == "error" and "not_in_sync" in (t.reason or "")]
    assert {t.volume_id for t in said} == {r.volume_id for r in records}
    for volume in result.record.volumes:
        data = json.loads(volume["replication_driver_data"])
        lost = sum(r.lost_writes for r in records if r.volume_id == volume["id"])
        assert data["lost_writes"] == lost and data["in_sync"] is False


def test_a_paused_replica_is_not_promoted_unless_named() -> None:
    result = run("paused-replica")
    assert result.record.fabric.failovers == []  # the stale copy was never promoted
    for volume in result.record.volumes:
        # the disable whose outcome the manager missed did pause the pair: the record says so
        assert volume["replication_status"] == "disabled", volume


class RestoresEnabledAfterError(VolumeManager):
    """The seed-era rule: when a replication error clears, the volume is ``enabled``, whatever it was."""

    def apply_replication_update(self, update: Mapping[str, Any], asked: float | None = None) -> None:
        volume = self.db.volume_get(update["volid"])
        if update.get("status") == "ok" and volume["replication_status"] == "error":
            self.db.volume_update(
                volume["id"], {"replication_status": "enabled", "replication_extended_status": None}
            )
            return
        super().apply_replication_update(update, asked)


def test_a_failed_over_volume_returns_to_failed_over_after_a_transient_error() -> None:
    result = run("flip-after-transient-error")
    errors = [t for t in result.record.transitions if t.old == "failed-over" and t.new == "error"]
    assert errors, "the scenario must break the failed-over volumes' replication"
    assert {v["replication_status"] for v in result.record.volumes} == {"failed-over"}
    broken = run("flip-after-transient-error", manager_class=RestoresEnabledAfterError)
    verdict = next(v for v in broken.verdicts if v.check == "transitions")
    assert not verdict.ok and verdict.witness["to"] == "enabled", verdict


def test_an_operator_policy_starts_nothing_in_the_heal_phase() -> None:
    """Found by schedule exploration: a late false alarm made the operator fail over seconds before
    the end, and liveness blamed the control plane for the volumes still moving."""
    result = run("fuzz-ci-14-random")
    scenario = result.scenario
    assert scenario.schedule == "random" and scenario.workload.policies
    detections = [d["time"] for d in result.detections]
    assert detections and max(detections) < scenario.duration
    started = [op.time for op in result.record.history.ops if op.process == "admin" and op.type == "invoke"]
    latest_response = scenario.duration + max(p.after for p in scenario.workload.policies)
    assert max(started) <= latest_response + scenario.report_interval  # reactions, not new alarms
    assert result.ok, [v.summary for v in result.verdicts if not v.ok]


def test_an_operator_retries_through_the_api_when_the_database_is_down() -> None:
    result = run("operator-outlives-outages")
    ops = result.record.history.ops
    tried = [
        op
        for op in ops
        if op.process == "admin" and op.type == "fail" and "DBUnavailable" in (op.error or "")
    ]
    assert tried, "the outage must meet the operator, and the history must show it"
    assert sum(op.f == "disable_replication" and op.type == "ok" for op in ops) == 5  # the action still ran
    assert len(result.record.fabric.failovers) == 5  # and the policy outlived the outage


def test_a_topology_cinder_conf_is_used_as_written_and_inline_keys_override_it() -> None:
    result = run("config-as-written")
    arrays = result.record.fabric.arrays
    assert (arrays["gold"].pool, arrays["gold"].capacity_gb, arrays["gold"].service_times["create"]) == (
        "gold-pool-1",
        500.0,
        0.25,
    )
    assert arrays["dr"].capacity_gb == 800.0  # the inline entry's one key, over the file's 500
    replicas = [c for c in arrays["dr"].copies.values() if c.role == "secondary"]
    assert replicas and {c.mode for c in replicas} == {"sync"}
    assert "gold-s3cret-pw" in result.record.secrets  # the secrets checker looks for the file's secrets


def _old_bus_loss(world: Any, fault: Any) -> Any:
    """The bus.loss begin before faults composed: its end restores the link from before it began."""
    bus = world.bus(fault)
    before = bus.default
    bus.set_link(dataclasses.replace(before, loss=float(fault.param("probability"))))
    return lambda: bus.set_link(before)


def test_overlapping_faults_end_clean_and_heal_catches_a_fault_that_leaks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert failed(run("overlapping-faults")) == []
    leaky = dataclasses.replace(faults.KINDS["bus.loss"], sim=_old_bus_loss)
    monkeypatch.setitem(faults.KINDS, "bus.loss", leaky)
    broken = run("overlapping-faults")
    verdict = next(v for v in broken.verdicts if v.check == "heal")
    assert not verdict.ok and any(item.startswith("bus *") for item in verdict.witness["leftovers"]), verdict


def test_deleting_a_volume_in_a_split_brain_leaves_no_copy_behind() -> None:
    result = run("delete-during-split")
    deleted = {t.volume_id for t in result.record.status_changes if t.new == "deleted"}
    assert deleted, "the scenario must delete volumes while they are split"
    left = {c.volume_id for a in result.record.fabric.arrays.values() for c in a.copies.values()}
    assert not deleted & left


# Found by replisim fuzz once host failover (V2.1) joined the generator (worlds 65, 72, 104, 157).


def test_a_host_failover_the_manager_gave_up_on_is_repaired_where_the_arrays_serve() -> None:
    result = run("fuzz-ci-65")
    fabric = result.record.fabric
    served_away = [v for v in result.record.volumes if fabric.served_by.get(v["id"])]
    assert served_away, "the scenario must leave volumes served by a host failover"
    for volume in served_away:
        primary = next(c.array for c in fabric.copies(volume["id"]) if c.role == "primary")
        assert volume["provider_location"].startswith(f"emulated://{primary}/"), volume


def test_no_report_clears_a_host_failovers_not_capable() -> None:
    result = run("fuzz-ci-72")
    set_aside = [t for t in result.record.transitions if t.new == "not-capable"]
    assert set_aside, "the scenario must set a volume aside"
    assert [t for t in result.record.transitions if t.old == "not-capable"] == []


@pytest.mark.parametrize("name", ["fuzz-ci-104", "fuzz-ci-157"])
def test_a_host_failback_claims_enabled_only_for_volumes_it_brings_home(name: str) -> None:
    result = run(name)
    home = result.record.fabric.home
    assert [t for t in result.record.transitions if t.new == "failover-error"], "a failback must refuse one"
    for t in result.record.transitions:
        if t.new == "enabled" and t.location:
            assert t.location.startswith(f"emulated://{home[t.volume_id]}/"), t
