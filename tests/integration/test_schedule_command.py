"""A schedule is part of what names a run, as the seed is: written, shown, replayed, validated."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from replisim.scenarios.fuzz import draw_schedule, draw_world
from replisim.scenarios.schema import load_scenario, parse_scenario, scenario_to_yaml

SHIPPED = Path(__file__).parents[2] / "scenarios" / "primary-dies-async.yaml"


def replisim(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("replisim")
    return subprocess.run([str(exe), *args], capture_output=True, text=True, check=False, cwd=cwd)


def test_a_run_names_its_schedule_and_replays_to_the_same_trace(tmp_path: Path) -> None:
    schedule = "pct:4"
    done = replisim(
        "run", "primary-dies-async", "--schedule", schedule, "--no-progress", "--out", "r", cwd=tmp_path
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines()[0].startswith(f"PASS primary-dies-async seed=7 schedule={schedule}:")
    recorded = json.loads((tmp_path / "r" / "verdicts.json").read_text())
    assert recorded["schedule"] == schedule
    replisim("run", "primary-dies-async", "--no-progress", "--out", "f", cwd=tmp_path)
    assert json.loads((tmp_path / "f" / "verdicts.json").read_text())["digest"] != recorded["digest"]
    again = replisim("replay", "r", cwd=tmp_path)
    assert "same trace as recorded" in again.stdout and again.returncode == 0, again.stdout


def test_a_scenario_file_can_fix_its_schedule_and_a_bad_one_names_file_line_key(tmp_path: Path) -> None:
    text = SHIPPED.read_text()
    good, bad = tmp_path / "good.yaml", tmp_path / "bad.yaml"
    good.write_text(text.replace("\nseed: 7\n", "\nseed: 7\nschedule: pct:4\n"))
    bad.write_text(text.replace("\nseed: 7\n", "\nseed: 7\nschedule: lifo\n"))
    assert load_scenario(good).schedule == "pct:4"
    line = text.splitlines().index("seed: 7") + 2
    done = replisim("run", str(bad), "--no-progress", "--out", "out", cwd=tmp_path)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert (
        f"{bad}:{line}: schedule: unknown schedule 'lifo': use fifo, random, pct or pct:DEPTH" in done.stderr
    )
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("verb", [["run", "primary-dies-async"], ["fuzz", "--seeds", "1-2"]])
def test_a_bad_schedule_option_exits_2_before_anything_runs(tmp_path: Path, verb: list[str]) -> None:
    done = replisim(*verb, "--schedule", "pct:99", "--no-progress", cwd=tmp_path)
    assert done.returncode == 2 and "must be a whole number from 1 to 16" in done.stderr
    assert list(tmp_path.iterdir()) == []


def test_fuzz_worlds_draw_every_schedule_and_write_it_into_their_files() -> None:
    drawn = {draw_schedule(seed).partition(":")[0] for seed in range(1, 60)}
    assert drawn == {"fifo", "random", "pct"}
    for seed in range(1, 30):
        world = draw_world(seed)
        assert world.schedule == draw_schedule(seed)
        assert parse_scenario(scenario_to_yaml(world), world.source).schedule == world.schedule
