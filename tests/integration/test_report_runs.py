"""Reports of shipped scenarios: the figures match what the run recorded and what the scenario
implies, and the HTML page renders in a real headless Chromium with every plot and no error."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from support import ROOT, runfiles

from replisim.cli import main
from replisim.console import resolve
from replisim.reports.figures import run_figures
from replisim.reports.report import to_json
from replisim.reports.text import number
from replisim.scenarios.schema import load_scenario

ARTIFACTS = ROOT / "build" / "artifacts"


def _run(name: str, out: Path) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """``replisim run NAME`` (which writes the report at its end): (output, run.json, report.json)."""
    result = CliRunner().invoke(main, ["run", name, "--out", str(out), "--no-progress"])
    assert result.exit_code == 0, result.output
    return (
        result.output,
        json.loads((out / "run.json").read_text()),
        json.loads((out / "report.json").read_text()),
    )


@pytest.fixture(scope="module")
def failover_run(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, str, dict[str, Any], dict[str, Any]]:
    out = tmp_path_factory.mktemp("primary-dies-async")
    return (out, *_run("primary-dies-async", out))


def test_run_prints_the_verdict_first_and_the_report_after(failover_run: tuple) -> None:
    out, output, _, report = failover_run
    lines = output.splitlines()
    assert lines[0].startswith("PASS primary-dies-async seed=7: 9/9 checks passed")
    assert any(line.strip().startswith("failover_replication (done)") for line in lines)
    assert f"  report    {out / 'report.html'} (report.json beside it)" in lines
    assert report["verdict"] == {"ok": True, "status": "pass", "passed": 9, "checks": 9}


def test_rpo_of_an_async_failover_is_the_writes_in_flight_on_the_link(failover_run: tuple) -> None:
    _, _, run, report = failover_run
    scenario = load_scenario(resolve("primary-dies-async"))
    rate = scenario.workload.writes.per_volume_rate  # 5 writes/s on every volume
    latency = scenario.topology.links[0].latency  # 5 s on the link: each failover loses rate x latency
    records = report["failovers"]["records"]
    assert len(records) == len(run["failovers"]) > 200
    assert {r["lost_writes"] for r in records} == {round(rate * latency)}
    assert {r["rpo_s"] for r in records} == {latency}
    summary = report["failovers"]["summary"]
    assert summary["lost_writes"] == sum(f["lost_writes"] for f in run["failovers"]) == 25 * len(records)
    assert summary["rpo_max_s"] == latency


def test_rto_runs_from_the_crash_through_detection_and_the_operators_wait(failover_run: tuple) -> None:
    _, _, run, report = failover_run
    scenario = load_scenario(resolve("primary-dies-async"))
    crash = scenario.faults[0].start
    policy = scenario.workload.policies[0]
    interval = scenario.report_interval
    detection = report["failovers"]["summary"]["detection_s"]
    assert run["detections"][0]["time"] - crash == detection
    assert 3 * interval < detection <= 5 * interval  # quiet for three report intervals, checked every one
    for record in report["failovers"]["records"]:
        assert record["cause"] == "array.crash alpha"
        assert record["detection_s"] == detection
        # it fails over `after` the detection, then waits its turn at the target's driver
        assert detection + policy.after < record["rto_s"] < detection + policy.after + 60


def test_capacity_weeks_answers_when_each_pool_fills_and_what_latency_does(tmp_path: Path) -> None:
    output, _, report = _run("capacity-weeks", tmp_path)
    assert output.startswith("PASS capacity-weeks")
    pools = report["capacity"]
    weeks = load_scenario(resolve("capacity-weeks")).duration
    assert pools["gold"]["runs_out"] == pools["silver"]["runs_out"] == "observed"
    assert pools["gold"]["runs_out_at_s"] < pools["silver"]["runs_out_at_s"] < weeks
    assert pools["bronze"]["runs_out"] == "extrapolated" and pools["bronze"]["runs_out_at_s"] > weeks
    assert pools["gold"]["free_gb"] == 0.0
    for pool in ("gold", "silver"):
        bands = report["create_latency_by_fill"][pool]
        assert bands["95-100 %"]["p50_s"] > 2.5 * bands["0-70 %"]["p50_s"]
    creates = report["operations"]["create_volume (done)"]
    assert creates["fail"] > 0  # full pools refuse creates
    for pool, figures in pools.items():  # thin pools: the terminal shows what is promised, not only used
        assert figures["provisioned_gb"] > figures["used_gb"] > 0
        shown = f"{number(figures['provisioned_gb'])} GiB provisioned to {number(figures['volumes'])} volumes"
        line = next(line for line in output.splitlines() if line.startswith(f"  capacity  {pool}: "))
        assert shown in line, line


def _chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.skip("Chromium is not installed (tests/setup-chromium.sh installs Debian's package)")
    return path


def test_run_json_keeps_of_each_answer_all_the_report_reads(failover_run: tuple) -> None:
    """run.json drops the answers history.jsonl.gz holds whole; the figures made from either agree."""
    out, _, run, report = failover_run
    history = runfiles.history(out)
    answers = [op["value"] for op in run["ops"] if op["type"] != "invoke" and op["value"] is not None]
    assert answers and all(set(answer) == {"id"} for answer in answers)
    full = run_figures({**run, "ops": history}).data
    assert json.loads(to_json(full)) == report


def test_the_html_report_renders_in_headless_chromium(failover_run: tuple) -> None:
    executable = _chromium()
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is in the test extras")
    out = failover_run[0]
    errors: list[str] = []
    requests: list[str] = []
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.on("request", lambda r: requests.append(r.url))
            page.goto((out / "report.html").as_uri(), wait_until="load")
            images = page.evaluate("[...document.images].map(i => [i.alt, i.complete, i.naturalWidth])")
            title = page.title()
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            shot = ARTIFACTS / "report.png"
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()
    print(f"screenshot of the report: {shot}")
    assert title == "replisim report: primary-dies-async seed 7"
    assert len(images) == 7, images  # every plot of a failover run, none missing
    assert all(complete and width > 0 for _, complete, width in images), images
    assert not errors
    assert all(url.startswith(("file:", "data:")) for url in requests), requests  # nothing fetched
    assert shot.stat().st_size > 50_000 and os.access(shot, os.R_OK)
