"""Every figure of one run, computed from the run's ``run.json``: what ``report.json`` holds and
what the plots, the HTML page and the terminal summary are drawn from."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from replisim.scenarios.checkers import merge, status_of

from .capacity import latency_by_fill, pool_figures, used_pct_at
from .failover import failover_by_backend, failover_figures, failover_summary, fault_windows
from .histogram import LatencyHistogram
from .lag import link_figures
from .operations import DONE_SUFFIX, Completion, completions, operation_stats, outcome_totals, throughput
from .timeline import status_timeline

FORMAT = 1  # report.json's layout version
CREATED = "create_volume" + DONE_SUFFIX


class ReportError(ValueError):
    """The report cannot be made: the directory is not a run (or a sweep), or its files are damaged."""


@dataclass
class RunFigures:
    """``data`` is report.json; ``completions`` and ``histograms`` are what the latency plots show."""

    data: dict[str, Any]
    completions: list[Completion]
    histograms: dict[str, LatencyHistogram]
    fill_points: list[tuple[str, float, float]]  # (pool, % in use when sent, create latency s)


def load_run(run_dir: Path) -> dict[str, Any]:
    """The run's ``run.json``, or a ReportError that says what is missing."""
    path = run_dir / "run.json"
    if run_dir.is_file():
        raise ReportError(
            f"{run_dir}: a file, not a run directory (give the directory `replisim run` or `chaos` wrote)"
        )
    if not run_dir.is_dir():
        raise ReportError(f"{run_dir}: no such directory")
    if not path.is_file():
        raise ReportError(f"{run_dir}: not a run directory (no run.json; `replisim run` writes one)")
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ReportError(f"{path}: cannot be read as JSON: {exc}") from None
    if not isinstance(data, dict) or "ops" not in data or "verdicts" not in data:
        raise ReportError(f"{path}: not a replisim run record (no 'ops' or 'verdicts')")
    return data


def run_figures(run: Mapping[str, Any]) -> RunFigures:
    """All of a run's figures from its run record (``run.json``'s content)."""
    end = float(run.get("simulated_seconds") or run.get("duration", 0) + run.get("heal", 0))
    heal_at = float(run.get("duration", end))
    done = completions(run["ops"], run.get("status_changes"), run.get("transitions"))
    stats = operation_stats(done)
    checks = [
        {"check": name, **verdict, "status": verdict.get("status") or status_of(verdict.get("ok"))}
        for name, verdict in run["verdicts"].items()
    ]
    ok = run["ok"] if "ok" in run else merge(c["ok"] for c in checks) if checks else True
    failovers = failover_figures(
        run.get("failovers", ()), run.get("faults", ()), run.get("detections", ()), run.get("arrays"), heal_at
    )
    wall = run.get("wall_seconds")
    pools = pool_figures(run.get("samples", ()))
    points = fill_points(done, pools, run.get("hosts", {}), run.get("arrays", {}))
    data = {
        "format": FORMAT,
        "header": {
            "scenario": run["scenario"],
            "description": run.get("description", ""),
            "seed": run["seed"],
            "mode": run.get("mode", "sim"),
            "source": run.get("source"),
            "simulated_seconds": end,
            "wall_seconds": wall,
            "speedup": end / wall if wall else None,
            "duration_s": run.get("duration"),
            "heal_s": run.get("heal"),
            "versions": run.get("versions", {}),
            "digest": run.get("digest"),
        },
        "verdict": {
            "ok": ok,
            "status": status_of(ok),
            "passed": sum(c["ok"] is True for c in checks),
            "checks": len(checks),
        },
        "checks": checks,
        "totals": outcome_totals(done),
        "operations": {f: s.to_dict() for f, s in stats.items()},
        "throughput": throughput(done, end),
        "capacity": pools,
        "replication_lag": link_figures(run.get("samples", ())),
        "failovers": {
            "summary": failover_summary(failovers),
            "by_backend": failover_by_backend(failovers, run.get("arrays")),
            "records": failovers,
            # backends whose failovers no array measured (they run their own driver)
            **({"unmeasured": sorted(run["unemulated"])} if run.get("unemulated") else {}),
        },
        "faults": fault_windows(run.get("faults", ()), heal_at),
        "detections": list(run.get("detections", ())),
        "create_latency_by_fill": latency_by_fill(points),
        "timeline": status_timeline(run.get("transitions", ()), run.get("status_changes", ()), end),
    }
    histograms = {f: s.histogram for f, s in stats.items() if s.histogram is not None}
    return RunFigures(data, done, histograms, points)


def fill_points(
    done: list[Completion],
    pools: Mapping[str, Mapping[str, Any]],
    hosts: Mapping[str, str],
    arrays: Mapping[str, str],
) -> list[tuple[str, float, float]]:
    """Each successful create's latency (until available) beside how full its pool was when it was sent."""
    array_of = {backend: array for array, backend in arrays.items()}
    points = []
    for c in done:
        if c.f != CREATED or c.outcome != "ok" or c.latency is None or c.volume not in hosts:
            continue
        backend = hosts[str(c.volume)].partition("@")[2].partition("#")[0]
        pool = pools.get(array_of.get(backend, backend))
        pct = None if pool is None else used_pct_at(pool["series"], pool["capacity_gb"], c.intended)
        if pct is not None:
            points.append((array_of.get(backend, backend), pct, c.latency))
    return points
