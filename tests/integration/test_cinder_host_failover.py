"""The runbook on unmodified Cinder 29 drivers (examples/cinder-fake.conf through replisim[cinder])
inside the control plane, on both runtimes: in sim each of the driver's blocking calls is one
effect of the driver host, so the run is deterministic like any other."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.cinder import EXAMPLE, require_cinder
from support.cluster import Cluster, make_repo, make_runtime

require_cinder()

from replisim.actors.db import SqlRepository  # noqa: E402
from replisim.sim import SimRuntime  # noqa: E402

HOST = "replisim@replicated"
GOLD = {"volume_backend_name": "replicated", "replication_enabled": "<is> True"}


def _world(runtime_kind: str, seed: int = 3) -> Cluster:
    runtime = make_runtime(runtime_kind, seed=seed)
    return Cluster(runtime, make_repo("memory", runtime), EXAMPLE.read_text(encoding="utf-8"))


@pytest.fixture
def world(runtime_kind: str) -> Iterator[Cluster]:
    cluster = _world(runtime_kind)
    try:
        yield cluster
    finally:
        cluster.stop()


def _service(world: Cluster) -> dict[str, Any]:
    return world.db.service_get(HOST, "cinder-volume")


def _wait_service(world: Cluster, status: str) -> dict[str, Any]:
    found: dict[str, Any] = world.wait_for(
        lambda: (s := _service(world))["replication_status"] == status and s,
        f"{HOST} {status} (now {_service(world)['replication_status']})",
    )
    return found


def _runbook(world: Cluster) -> list[tuple[str, str, str]]:
    """Freeze, a bad target, failover_host, thaw, failback: each step's service and volume states."""
    world.admin("create_volume_type", name="gold", extra_specs=GOLD)
    world.admin("create_volume_type", name="plain", extra_specs={"volume_backend_name": "replicated"})
    gold = world.available_volume(world.alice, "gold")
    plain = world.available_volume(world.alice, "plain")
    seen = []

    def step(name: str) -> None:
        states = (world.volume(gold["id"])["replication_status"], world.volume(plain["id"])["status"])
        seen.append((name, _service(world)["replication_status"], "/".join(states)))

    step("created")
    world.admin("freeze_host", host=HOST)
    step("frozen")
    world.admin("failover_host", host=HOST, backend_id="nowhere")
    _wait_service(world, "enabled")  # Cinder's code raised InvalidReplicationTarget: reverted
    step("bad target")
    world.admin("failover_host", host=HOST, backend_id="secondary")
    _wait_service(world, "failed-over")
    step("failed over")
    world.admin("thaw_host", host=HOST)
    step("thawed")
    world.admin("failover_host", host=HOST, backend_id="default")
    _wait_service(world, "enabled")
    world.wait_status(gold["id"], "replication_status", "enabled")
    step("failed back")
    return seen


def test_the_runbook_runs_on_a_cinder_driver(world: Cluster) -> None:
    assert _runbook(world) == [
        ("created", "enabled", "enabled/available"),
        ("frozen", "enabled", "enabled/available"),
        # as Cinder 29's manager does: the unreplicated volume goes to error before the driver is
        # called, so even a failover the driver refuses costs it
        ("bad target", "enabled", "enabled/error"),
        ("failed over", "failed-over", "failed-over/error"),
        ("thawed", "failed-over", "failed-over/error"),
        ("failed back", "enabled", "enabled/error"),
    ]
    assert _service(world)["active_backend_id"] in ("", None)


def test_a_cinder_driver_in_sim_gives_the_same_trace_for_the_same_seed() -> None:
    digests = []
    for _ in range(2):
        world = _world("sim", seed=11)
        try:
            _runbook(world)
            assert isinstance(world.runtime, SimRuntime)
            digests.append(world.runtime.trace.digest())
        finally:
            world.stop()
    assert digests[0] == digests[1]


def test_a_restarted_failed_over_backend_gives_its_cinder_driver_the_active_backend(tmp_path: Path) -> None:
    """As Cinder's manager passes the service's active_backend_id to the driver it builds, so the
    driver knows it serves from the target and a failback after a restart is not refused."""
    url = f"sqlite:///{tmp_path / 'cinder.db'}"
    first = _world_on(url)
    try:
        first.admin("create_volume_type", name="gold", extra_specs=GOLD)
        gold = first.available_volume(first.alice, "gold")
        first.admin("failover_host", host=HOST, backend_id="secondary")
        _wait_service(first, "failed-over")
    finally:
        first.stop()
    second = _world_on(url)
    try:
        assert second.deployment.drivers[HOST].driver.active_backend_id == "secondary"
        second.admin("failover_host", host=HOST, backend_id="default")
        _wait_service(second, "enabled")
        second.wait_status(gold["id"], "replication_status", "enabled")
    finally:
        second.stop()


def _world_on(url: str) -> Cluster:
    runtime = make_runtime("sim", seed=4)
    repo = SqlRepository(url, clock=lambda: runtime.now)
    return Cluster(runtime, repo, EXAMPLE.read_text(encoding="utf-8"))


# -- the shipped scenario: the runbook on the Cinder driver, as `replisim run` rehearses it --------


def test_the_shipped_cinder_scenario_rehearses_the_runbook_and_passes_deterministically() -> None:
    from support.shipped import scenario

    from replisim.scenarios.runner import run_scenario

    spec = scenario("cinder-host-failover")
    assert spec.topology.unemulated() == {"replicated": "examples.cinder_replicated.ReplicatedFakeDriver"}
    result, again = run_scenario(spec), run_scenario(spec)
    assert result.ok is True, [v for v in result.verdicts if not v.ok]
    assert result.trace_digest == again.trace_digest
    assert result.record.history.ops == again.record.history.ops
    moves = {(t.old, t.new) for t in result.record.transitions}
    assert {("enabled", "failed-over"), ("failed-over", "enabled"), ("disabled", "not-capable")} <= moves
    service = next(s for s in result.record.services if s["host"] == HOST)
    assert (service["replication_status"], service["active_backend_id"] or "") == ("enabled", "")
    done = [op for op in result.record.history.ops if op.f in ("freeze_host", "failover_host", "thaw_host")]
    assert [op.f for op in done if op.type == "ok"] == [
        "freeze_host",
        "failover_host",
        "thaw_host",
        "failover_host",
    ]
    # nothing writes to a Cinder driver's volumes, no array is sampled, and the checks say what they skipped
    assert not result.record.fabric.rates and not result.record.fabric.failovers
    assert all(sample["pools"] == {} for sample in result.samples)
    summary = {v.check: v.summary for v in result.verdicts}
    assert "judged by the database alone" in summary["no_volume_lost"]
    assert "as their volume service says" in summary["converges"]


def test_replisim_run_from_the_repository_root_runs_it_and_writes_its_report(tmp_path: Path) -> None:
    """As the README says: from the root, examples.cinder_replicated imports with no PYTHONPATH."""
    import subprocess
    import sys

    from support import ROOT

    exe = Path(sys.executable).with_name("replisim")
    done = subprocess.run(
        [exe, "run", "cinder-host-failover", "--out", str(tmp_path / "run"), "--no-progress"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.startswith("PASS cinder-host-failover seed=21: 7/7 checks passed"), done.stdout
    assert "(replicated: no emulated array, not measured)" in done.stdout
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    assert report["failovers"]["unmeasured"] == ["replicated"] and report["capacity"] == {}
    assert "Not measured: failovers on replicated" in (tmp_path / "run" / "report.html").read_text()
