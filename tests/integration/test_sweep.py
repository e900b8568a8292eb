"""Sweeps: every seed runs, in other processes or on a Dask cluster, and the result says which seeds
failed which checks and which crashed."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from support.sweepdoubles import run_one

from replisim.scenarios import sweep as sweep_module
from replisim.scenarios.sweep import SweepError, SweepResult, parse_seeds, sweep

SEEDS = list(range(1, 31))


@pytest.fixture
def scenario(tmp_path: Path) -> str:
    path = tmp_path / "any.yaml"
    path.write_text("name: any\n", encoding="utf-8")
    return str(path)


def check_result(result: SweepResult, scenario: str) -> None:
    assert result.seeds == tuple(SEEDS)
    assert result.failures() == {"data": [5, 10, 15, 20, 25, 30], "liveness": [7, 14, 21, 28]}
    assert result.crashes == {13: "RuntimeError: the runner fell over on seed 13"}
    assert result.failed_seeds() == [5, 7, 10, 13, 14, 15, 20, 21, 25, 28, 30]
    assert not result.ok
    assert sorted(result.runs) == [seed for seed in SEEDS if seed != 13]
    assert result.runs[7]["verdicts"]["liveness"]["witness"] == {"volume": "v7"}
    assert result.runs[1]["digest"] == run_one(scenario, 1)["digest"]
    assert all(run["pid"] != os.getpid() for run in result.runs.values())


def test_local_processes_run_every_seed_with_the_hash_seed_pinned(
    scenario: str, capsys: pytest.CaptureFixture[str]
) -> None:
    result = sweep(run_one, scenario, SEEDS, jobs=2, progress=True)
    check_result(result, scenario)
    assert {run["hash_seed"] for run in result.runs.values()} == {"0"}
    assert result.workers == "2 local processes"
    assert "any.yaml" in capsys.readouterr().err  # the progress bar's label


def test_dask_cluster_runs_the_same_function(scenario: str) -> None:
    from dask.distributed import LocalCluster

    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
    ) as cluster:
        result = sweep(run_one, scenario, SEEDS, dask_address=cluster.scheduler_address, progress=False)
    check_result(result, scenario)
    assert result.workers.startswith("tcp://127.0.0.1:")


def test_table_and_json_say_which_seeds_failed_which_checks(scenario: str) -> None:
    result = sweep(run_one, scenario, [1, 2, 5, 7, 13], jobs=1, progress=False)
    lines = result.table().splitlines()
    assert lines[0].startswith("FAIL any.yaml: 5 seeds, 2 passed, 2 failed checks, 1 crashed in ")
    assert lines[0].endswith("on 1 local process")
    assert lines[1:] == [
        "check      failed  seeds",
        "data            1  5",
        "liveness        1  7",
        "(crashed)       1  13",
        "seed 13 crashed: RuntimeError: the runner fell over on seed 13",
    ]
    data = json.loads(json.dumps(result.to_json()))
    assert data["failures"] == {"data": [5], "liveness": [7]}
    assert data["crashes"] == {"13": "RuntimeError: the runner fell over on seed 13"}
    assert [run["seed"] for run in data["runs"]] == [1, 2, 5, 7]


def test_all_green_sweep_passes(scenario: str) -> None:
    result = sweep(run_one, scenario, [1, 2, 3], jobs=1, progress=False)
    assert result.ok and result.failed_seeds() == [] and result.table().startswith("PASS ")


def test_parse_seeds() -> None:
    assert parse_seeds("1-5") == [1, 2, 3, 4, 5]
    assert parse_seeds("7") == [7]
    assert parse_seeds("3-4, 1, 4-6") == [3, 4, 1, 5, 6]
    for bad, why in [("1-x", "'1-x' is not a seed"), ("9-2", "runs backwards"), ("", "'' is not a seed")]:
        with pytest.raises(SweepError, match=why):
            parse_seeds(bad)


def test_unreachable_dask_scheduler_is_a_clear_error(scenario: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sweep_module, "DASK_CONNECT_TIMEOUT", "1s")
    with pytest.raises(SweepError, match=r"cannot reach the Dask scheduler at tcp://127\.0\.0\.1:9"):
        sweep(run_one, scenario, [1], dask_address="tcp://127.0.0.1:9", progress=False)
