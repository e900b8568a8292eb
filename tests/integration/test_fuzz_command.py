"""``replisim fuzz`` end to end: a CI-sized run of random worlds on worker processes gives its verdict
first, the failing seeds by check, a coverage table and ``fuzz.json``; every failing world is written
as a file that replays to the same trace; a failure shrinks to a minimal file that still fails; bad
input exits 2. These tests judge the harness, not the control plane: worlds that fail today fail
because of bugs issue 13 lists, and the lead adds "every world passes" once they are fixed."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from support import buggy

from replisim.console import fuzz_command
from replisim.scenarios.checkers import defaults
from replisim.scenarios.faults import KINDS as FAULT_KINDS
from replisim.scenarios.fuzz import draw_world
from replisim.scenarios.runner import run_scenario
from replisim.scenarios.schema import Scenario, load_scenario, scenario_to_yaml

CI_WORLDS = 200  # under a minute on two idle cores (the issue asks < 5 min); `-m slow` runs 1,000


def replisim(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("replisim")
    return subprocess.run([str(exe), *args], capture_output=True, text=True, check=False, cwd=cwd)


def fuzz(cwd: Path, seeds: str, *args: str) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    done = replisim("fuzz", "--seeds", seeds, "--jobs", "2", "--no-progress", "--out", "out", *args, cwd=cwd)
    assert done.returncode in (0, 1), done.stdout + done.stderr
    return done, json.loads((cwd / "out" / "fuzz.json").read_text())


@pytest.fixture(scope="module")
def ci_run(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, subprocess.CompletedProcess[str], dict[str, Any]]:
    cwd = tmp_path_factory.mktemp("fuzz")
    done, report = fuzz(cwd, f"1-{CI_WORLDS}", "--no-shrink")
    return cwd, done, report


def check_harness(
    cwd: Path, done: subprocess.CompletedProcess[str], report: dict[str, Any], seeds: list[int]
) -> None:
    """What any fuzz run must show, whatever its worlds' verdicts."""
    assert report["seeds"] == seeds and sorted(run["seed"] for run in report["runs"]) == sorted(seeds)
    invalid = {
        seed: why for seed, why in report["crashes"].items() if why.startswith(("ScenarioError", "FuzzError"))
    }
    assert invalid == {}, "the generator drew worlds the schema refuses"
    for run in report["runs"]:
        assert set(run["verdicts"]) == set(defaults()) and len(run["digest"]) == 64
    failing = sorted(
        {seed for group in report["failures"].values() for seed in group}
        | {int(seed) for seed in report["crashes"]}
    )
    assert done.returncode == (1 if failing else 0) and report["ok"] == (not failing)
    head = done.stdout.splitlines()[0]
    if failing:
        assert head.startswith(f"FAIL {len(failing)} of {len(seeds)} worlds failed (ci profile, seeds ")
        for check, group in report["failures"].items():
            assert any(line.split()[:2] == [check, str(len(group))] for line in done.stdout.splitlines())
    else:
        assert head.startswith(f"PASS {len(seeds)}/{len(seeds)} worlds (ci profile, seeds ")
    assert "worlds/min on 2 local processes" in head and report["worlds_per_minute"] > 0
    counts = next(line for line in done.stdout.splitlines() if line.startswith("  schedules "))
    drawn = Counter(run["world"]["schedule"].partition(":")[0] for run in report["runs"])
    assert counts == "  schedules " + ", ".join(f"{name} {drawn[name]}" for name in ("fifo", "random", "pct"))
    assert sum(drawn.values()) == len(report["runs"]) and report["schedule"] == "drawn"
    assert sorted(int(seed) for seed in report["failing_worlds"]) == failing
    for seed in failing:
        assert load_scenario(cwd / report["failing_worlds"][str(seed)]).seed == seed
    for seed in failing[:20]:  # the rest are named by the directory they are in
        assert f"replisim run {report['failing_worlds'][str(seed)]} --seed {seed}" in done.stdout


def test_ci_sized_run_gives_the_verdict_first_and_the_failing_seeds_by_check(ci_run: Any) -> None:
    cwd, done, report = ci_run
    check_harness(cwd, done, report, list(range(1, CI_WORLDS + 1)))
    assert report["profile"] == "ci" and report["workers"] == "2 local processes"
    assert done.stderr == ""  # no progress bar asked for, and no log lines


def test_every_ci_world_passes(ci_run: Any) -> None:
    """The worlds nobody wrote: every one passes every check (issue 13's bug classes are fixed;
    a world that fails here is a new one: replay it with the command the run printed)."""
    _, done, report = ci_run
    assert report["ok"] is True, done.stdout[:3000]
    assert done.stdout.startswith(f"PASS {CI_WORLDS}/{CI_WORLDS} worlds")


def test_coverage_table_shows_every_fault_kind_and_the_transitions_taken(ci_run: Any) -> None:
    _, done, report = ci_run
    coverage = report["coverage"]
    assert coverage["runs"] == CI_WORLDS
    assert set(coverage["kinds"]) == set(FAULT_KINDS), "some fault kind never began in any world"
    lines = done.stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"coverage over {CI_WORLDS} runs"))
    table = lines[start + 1 : start + 2 + len(FAULT_KINDS)]
    assert table[0].split()[:2] == ["fault", "kind"] and "failover" in table[0].split()
    assert [row.split()[0] for row in table[1:]] == list(FAULT_KINDS)
    failover = table[0].split().index("failover") - 1  # "fault kind" is two words
    assert any(row.split()[failover] != "." for row in table[1:]), "no fault ever met a failover"
    assert "replication_status transitions taken (from -> to: count)" in lines
    taken = coverage["transitions"]
    assert taken["enabled"]["enabling_secondary"] > 0 and taken["enabling_secondary"]["failed-over"] > 0
    assert any(line.strip().startswith("legal, never taken:") for line in lines)


def test_a_failing_world_file_replays_to_the_trace_the_sweep_recorded(ci_run: Any) -> None:
    cwd, _, report = ci_run
    run = next((r for r in report["runs"] if not r["ok"]), report["runs"][0])
    seed = run["seed"]
    path = Path(report["failing_worlds"].get(str(seed), "passing.yaml"))
    if not (cwd / path).exists():  # every world passed: write one as the command would
        (cwd / path).write_text(scenario_to_yaml(draw_world(seed)))
    replayed = replisim("run", str(path), "--seed", str(seed), "--no-progress", "--out", "replay", cwd=cwd)
    assert replayed.returncode == (0 if run["ok"] else 1), replayed.stdout + replayed.stderr
    recorded = json.loads((cwd / "replay" / "verdicts.json").read_text())
    assert recorded["digest"] == run["digest"]
    assert {check: v["ok"] for check, v in recorded["verdicts"].items()} == {
        check: v["ok"] for check, v in run["verdicts"].items()
    }


def test_same_seeds_same_worlds_same_traces_in_another_run(ci_run: Any, tmp_path: Path) -> None:
    _, _, first = ci_run
    done, again = fuzz(tmp_path, "3,1,40", "--no-shrink")
    check_harness(tmp_path, done, again, [3, 1, 40])
    digests = {run["seed"]: run["digest"] for run in first["runs"]}
    assert {run["seed"]: run["digest"] for run in again["runs"]} == {
        seed: digests[seed] for seed in (1, 3, 40)
    }
    assert "seeds 3, 1, 40" in done.stdout.splitlines()[0]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--seeds", "9-2"], "the range '9-2' runs backwards"),
        (["--seeds", "1-3", "--profile", "huge"], "--profile 'huge' is not a profile; profiles: ci, deep"),
        (["--seeds", "x"], "'x' is not a seed"),
    ],
)
def test_bad_input_exits_2_saying_what_is_valid(tmp_path: Path, args: list[str], message: str) -> None:
    done = replisim("fuzz", *args, "--no-progress", cwd=tmp_path)
    assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr
    assert list(tmp_path.iterdir()) == []  # nothing half-written


def small_failing_world() -> tuple[int, Scenario]:
    """A small world that passes as it is and fails once the manager forgets a failover's host."""
    for seed in range(1, 200):
        world = draw_world(seed)
        failovers = [a for a in world.workload.actions if a.action == "failover_replication"]
        small = len(world.topology.backends) <= 3 and failovers and world.workload.initial_volumes >= 3
        if small and run_scenario(world, seed).ok and not buggy.forgets_failover_host_run(world, seed).ok:
            return seed, world
    raise AssertionError("no small world with a failover among the first 200 seeds")


def test_a_failure_shrinks_to_a_minimal_file_that_still_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seed, world = small_failing_world()
    code = fuzz_command(
        str(seed),
        profile="ci",
        jobs=1,
        dask=None,
        out=str(tmp_path),
        shrink_failures=True,
        progress=False,
        runner=buggy.forgets_failover_host_run,
    )
    out = capsys.readouterr().out
    assert code == 1 and out.startswith(
        f"FAIL 1 of 1 worlds failed (ci profile, seeds {seed}, schedules drawn)"
    )
    report = json.loads((tmp_path / "fuzz.json").read_text())
    assert report["failures"] == {"no_volume_lost": [seed]}
    minimal = tmp_path / f"minimal-{world.name}-no_volume_lost.yaml"
    command = f"replisim run {minimal} --seed {seed}"
    assert (
        report["minimal"] == {"no_volume_lost": command} and command in out and command in minimal.read_text()
    )
    small = load_scenario(minimal)
    assert len(small.faults) <= len(world.faults) and small.random_faults == ()
    assert len(small.workload.actions) <= len(world.workload.actions)
    verdicts = {v.check: v.ok for v in buggy.forgets_failover_host_run(small, seed).verdicts}
    assert verdicts["no_volume_lost"] is False  # it still fails, as written
    assert run_scenario(small, seed).ok  # and only because of the bug


@pytest.mark.slow
@pytest.mark.parametrize(("count", "shrink"), [(200, True), (1000, False)])
def test_long_fuzz_runs(tmp_path: Path, count: int, shrink: bool) -> None:
    """200 worlds with every failed check shrunk (under 2 min on two idle cores), and 1,000 (about 4)."""
    done, report = fuzz(tmp_path, f"1-{count}", "--shrink" if shrink else "--no-shrink")
    check_harness(tmp_path, done, report, list(range(1, count + 1)))
    assert set(report["coverage"]["kinds"]) == set(FAULT_KINDS)
    assert report["ok"] is True, done.stdout[:3000]  # 1,000 random worlds pass
    for check, command in report["minimal"].items():  # each shrunk world still fails, as written
        _, _, path, _, seed = command.split()
        small = load_scenario(tmp_path / path)
        assert not next(v for v in run_scenario(small, int(seed)).verdicts if v.check == check).ok, command
