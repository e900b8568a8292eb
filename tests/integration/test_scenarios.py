"""The shipped scenarios pass, runs are reproducible, and each checker catches the bug it exists for."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest
from support import runfiles
from support.shipped import scenario, verdict

from replisim.console import run_command, shipped
from replisim.scenarios.checkers import CHECKERS, Finding, RunRecord, merge
from replisim.scenarios.runner import MAX_SAMPLES, run_scenario, sample_interval
from replisim.scenarios.schema import (
    parse_scenario,
)


def test_at_least_six_scenarios_ship_and_each_says_what_it_teaches() -> None:
    names = shipped()
    assert len(names) >= 6
    for path in names.values():
        assert path.read_text().startswith("# What it teaches:"), path.name


@pytest.mark.parametrize("name", sorted(shipped()))
def test_shipped_scenario_passes_every_check(name: str) -> None:
    result = run_scenario(scenario(name))
    failed = [v for v in result.verdicts if not v.ok]
    assert not failed, failed
    assert result.record.history.ops, "the workload did something"


def test_a_long_run_keeps_at_most_max_samples_and_short_ones_sample_every_interval() -> None:
    day = parse_scenario(
        "name: day\nduration: 24h\nheal: 10m\nreport_interval: 10s\ntopology: {backends: {alpha: {}}}\n"
    )
    assert sample_interval(day) == 50.0  # five report intervals
    assert (day.duration + day.heal) / sample_interval(day) <= MAX_SAMPLES
    for name in shipped():  # what they record is what they always did
        assert sample_interval(scenario(name)) == scenario(name).report_interval, name


def test_same_seed_same_trace_and_history_other_seed_differs() -> None:
    spec = scenario("rpc-loss-on-casts")
    first, again, other = run_scenario(spec, 4), run_scenario(spec, 4), run_scenario(spec, 5)
    assert first.trace_digest == again.trace_digest
    assert first.record.history.ops == again.record.history.ops
    assert first.trace_digest != other.trace_digest


def test_async_primary_loss_is_within_the_lag_window_and_reported_exactly() -> None:
    result = run_scenario(scenario("primary-dies-async"))
    records = result.record.fabric.failovers
    assert records and all(r.mode == "async" for r in records)
    # 5 writes/s over a link with 5 s of latency: each failover loses the 25 writes in flight.
    assert {r.lost_writes for r in records} == {25}
    reported = [
        json.loads(v["replication_driver_data"])["lost_writes"]
        for v in result.record.volumes
        if v["replication_status"] in ("failed-over", "error")
        and v["replication_driver_data"]
        and "lost_writes" in v["replication_driver_data"]
    ]
    assert reported and set(reported) == {25}


def test_double_failover_returns_every_volume_home_losing_nothing() -> None:
    result = run_scenario(scenario("double-failover"))
    assert all(r.lost_writes == 0 for r in result.record.fabric.failovers)
    replicated = [v for v in result.record.volumes if v["replication_status"] != "disabled"]
    assert replicated and all(v["host"].endswith("@alpha#alpha") for v in replicated)


def test_host_failover_runbook_counts_every_lost_write_per_backend_and_is_deterministic() -> None:
    spec = scenario("host-failover-runbook")
    result, again = run_scenario(spec), run_scenario(spec)
    assert result.trace_digest == again.trace_digest
    records = result.record.fabric.failovers
    replicated = {
        v["id"] for v in result.record.volumes if v["volume_type_id"] and v["replication_driver_data"]
    }
    over = [r for r in records if r.source == "alpha"]
    back = [r for r in records if r.source == "beta"]
    # Every replicated volume failed over with its backend, once, and back once.
    assert {r.volume_id for r in over} == {r.volume_id for r in back} == replicated
    assert len(over) == len(back) == len(replicated)
    # 2 writes/s over a link with 5 s of latency: each move of an async pair loses its 10 in flight.
    assert {r.lost_writes for r in records} == {10}
    assert len({r.time for r in over}) == 1  # one failover_host, one instant
    rows = {v["id"]: v for v in result.record.volumes}
    assert all(rows[v]["replication_status"] == "enabled" for v in replicated)
    scratch = [v for v in rows.values() if v["id"] not in replicated]
    assert scratch and all(
        (v["status"], v["replication_status"]) == ("error", "not-capable") for v in scratch
    )  # Cinder's collateral damage: a host failover errors the unreplicated volumes


# -- each checker catches its bug ----------------------------------------------------------------------


# -- the CLI verbs --------------------------------------------------------------------------------------


def replisim(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("replisim")
    return subprocess.run([str(exe), *args], capture_output=True, text=True, check=False, cwd=cwd)


def test_run_writes_its_outputs_and_replay_gives_the_same_trace(tmp_path: Path) -> None:
    done = replisim("run", "split-brain-partition", "--no-progress", "--out", "out", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0].startswith("PASS split-brain-partition seed=2")
    for name in ("trace.jsonl.gz", "history.jsonl.gz", "verdicts.json", "run.json"):
        assert (tmp_path / "out" / name).stat().st_size > 0, name
    assert (tmp_path / "out" / "run.log").is_file()
    history = runfiles.history(tmp_path / "out")
    assert {op["type"] for op in history} <= {"invoke", "ok", "fail", "info"}
    replayed = replisim("replay", "out", cwd=tmp_path)
    assert replayed.returncode == 0 and "same trace as recorded" in replayed.stdout


def test_bad_scenario_input_exits_2_naming_the_place(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "name: bad\nduration: 1h\ntopology:\n  backends:\n    alpha: {capacity_gb: 10}\n"
        "faults:\n  schedule:\n    - {kind: array.crahs, target: alpha, start: 10m}\n"
    )
    done = replisim("run", str(bad), "--no-progress", cwd=tmp_path)
    assert done.returncode == 2
    assert "bad.yaml:8" in done.stderr and "did you mean 'array.crash'" in done.stderr
    assert not (tmp_path / "runs").exists()


def test_chaos_sweeps_seeds_on_processes(tmp_path: Path) -> None:
    done = replisim(
        "chaos",
        "split-brain-partition",
        "--seeds",
        "1-4",
        "--jobs",
        "2",
        "--no-progress",
        "--out",
        "sweep",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("PASS split-brain-partition.yaml: 4 seeds, 4 passed")
    sweep = json.loads((tmp_path / "sweep" / "sweep.json").read_text())
    assert sorted(run["seed"] for run in sweep["runs"]) == [1, 2, 3, 4]


def test_same_digest_across_processes_and_hash_seeds(tmp_path: Path) -> None:
    exe = Path(sys.executable).with_name("replisim")
    digests = set()
    for hash_seed in ("1", "2"):
        done = subprocess.run(
            [str(exe), "run", "rpc-loss-on-casts", "--no-progress", "--out", hash_seed],
            capture_output=True,
            text=True,
            check=True,
            cwd=tmp_path,
            env={"PYTHONHASHSEED": hash_seed, "PATH": "/usr/bin:/bin"},
        )
        digests.add(json.loads((tmp_path / hash_seed / "verdicts.json").read_text())["digest"])
        assert done.returncode == 0
    assert len(digests) == 1


PAUSE_AND_DELAY = """\
name: pause-and-delay
duration: 20m
heal: 5m
topology:
  backends:
    alpha: {replication_targets: [beta], replication_mode: async}
    beta: {}
  links:
    - {from: alpha, to: beta, bandwidth_mbps: 1000, latency: 1s}
volume_types:
  replicated: {replication: enabled, volume_backend_name: alpha}
workload:
  create: {rate: 6/m, types: {replicated: 1}}
  writes: {per_volume_rate: 1/s}
  actions:
    - {at: 3m, action: enable_replication}
faults:
  schedule:
    - {kind: array.pause, target: alpha, start: 5m, duration: 2m}
    - {kind: link.throttle, target: alpha->beta, start: 10m, duration: 5m,
       params: {bandwidth_mbps: 1000, delay: 90s}}
"""


def test_a_scenario_can_pause_an_array_and_delay_a_link_and_the_world_shows_both() -> None:
    spec = parse_scenario(PAUSE_AND_DELAY)
    assert [f.kind for f in spec.faults] == ["array.pause", "link.throttle"]
    assert spec.faults[1].params == {"bandwidth_mbps": 1000, "delay": 90.0}
    result = run_scenario(spec)
    links = [(s["time"], s["links"]["alpha->beta"]) for s in result.samples if "alpha->beta" in s["links"]]

    def during(start: float, end: float) -> list[dict[str, object]]:
        return [link for when, link in links if start < when < end]

    assert during(240, 300) and all(link["up"] for link in during(240, 300))
    assert during(300, 420) and not any(link["up"] for link in during(300, 420)), "paused: nothing ships"
    assert all(link["up"] for link in during(430, 600))
    assert max(float(link["lag_s"]) for link in during(240, 300)) < 5  # type: ignore[arg-type]
    assert min(float(link["lag_s"]) for link in during(720, 900)) > 85  # type: ignore[arg-type]
    assert max(float(link["lag_s"]) for link in during(930, 1200)) < 5  # type: ignore[arg-type]
    assert verdict(result, "no_volume_lost")[0] and verdict(result, "data")[0]


def test_a_checker_that_raises_gives_an_unknown_verdict_and_the_run_still_writes_its_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(run: RunRecord) -> Finding:
        raise KeyError("no such record")

    monkeypatch.setitem(CHECKERS, "data", dataclasses.replace(CHECKERS["data"], judge=broken))
    out = tmp_path / "run"
    code = run_command("double-failover", None, str(out), progress=False)
    printed = capsys.readouterr().out
    assert code == 3, printed
    assert printed.startswith("UNKNOWN double-failover") and "UNKNOWN data" in printed
    verdicts = json.loads((out / "verdicts.json").read_text())
    assert verdicts["ok"] is None and verdicts["status"] == "unknown"
    data = verdicts["verdicts"]["data"]
    assert data["status"] == "unknown" and data["witness"] == {"error": "KeyError: 'no such record'"}
    assert all(v["status"] == "pass" for name, v in verdicts["verdicts"].items() if name != "data")
    report = json.loads((out / "report.json").read_text())
    assert report["verdict"]["status"] == "unknown" and "UNKNOWN" in (out / "report.html").read_text()


def test_a_failed_check_beats_an_unknown_one() -> None:
    assert merge([True, None, False]) is False
    assert merge([True, None]) is None
    assert merge([True, True]) is True
    assert merge([]) is None  # nothing checked is not a pass
