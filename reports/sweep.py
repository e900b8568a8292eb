"""The report of a seed sweep (``replisim chaos``'s ``sweep.json``): how RPO and RTO spread across
seeds, so one lucky seed does not stand for the whole distribution."""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from replisim.scenarios.history import write_atomically

from .failover import failover_figures, failover_summary
from .figures import ReportError
from .html import sweep_page
from .plots import recovery_distribution
from .report import HTML_NAME, JSON_NAME, to_json
from .text import duration

SWEEP_FILE = "sweep.json"


def is_sweep(directory: Path) -> bool:
    return (directory / SWEEP_FILE).is_file()


def load_sweep(directory: Path) -> dict[str, Any]:
    path = directory / SWEEP_FILE
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ReportError(f"{path}: cannot be read as JSON: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("runs"), list):
        raise ReportError(f"{path}: not a replisim sweep (no 'runs' list)")
    return data


def sweep_figures(sweep: Mapping[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(report.json's content, every failover row of every seed)."""
    rows: list[dict[str, Any]] = []
    per_seed = []
    for run in sweep["runs"]:
        seed_rows = failover_figures(
            run.get("failovers", ()),
            run.get("faults", ()),
            run.get("detections", ()),
            run.get("arrays"),
            run.get("duration", math.inf),
        )
        for row in seed_rows:
            row["seed"] = run["seed"]
        rows += seed_rows
        s = failover_summary(seed_rows)
        per_seed.append(
            {
                "seed": run["seed"],
                "ok": bool(run.get("ok")),
                "failovers": s["count"],
                "lost_writes": s["lost_writes"],
                "rpo_max_s": s["rpo_max_s"],
                "rto_p50_s": s["rto_p50_s"],
                "rto_max_s": s["rto_max_s"],
            }
        )
    rto = [r["rto_s"] for r in rows if r["rto_s"] is not None]
    lost = [r["lost_writes"] for r in rows]
    summary = failover_summary(rows)
    summary.update(_spread("rto", rto, "_s"), **_spread("lost_writes", lost, ""))
    data = {
        "format": 1,
        "scenario": Path(str(sweep.get("scenario", "?"))).stem,
        "ok": bool(sweep.get("ok")),
        "seeds": list(sweep.get("seeds", [r["seed"] for r in sweep["runs"]])),
        "failed_seeds": sorted(
            {int(s) for seeds in sweep.get("failures", {}).values() for s in seeds}
            | {int(s) for s in sweep.get("crashes", {})}
        ),
        "failovers": summary,
        "per_seed": per_seed,
    }
    return data, rows


def _spread(name: str, values: list[float], unit: str) -> dict[str, float | None]:
    """The median, p90 and p99 (nearest rank) and mean of ``values``; None when there are none."""
    ordered = sorted(values)
    out: dict[str, float | None] = {f"{name}_p50{unit}": statistics.median(ordered) if ordered else None}
    for p in (90, 99):
        out[f"{name}_p{p}{unit}"] = (
            ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)] if ordered else None
        )
    out[f"{name}_mean{unit}"] = statistics.fmean(values) if values else None
    return out


def write_sweep_report(directory: Path) -> dict[str, Any]:
    """Write report.json and report.html for the sweep in ``directory``; returns report.json's content."""
    data, rows = sweep_figures(load_sweep(directory))
    image = recovery_distribution(rows, len(data["seeds"]))
    write_atomically(directory / JSON_NAME, to_json(data))
    write_atomically(directory / HTML_NAME, sweep_page(data, image))
    return data


def sweep_lines(data: Mapping[str, Any]) -> list[str]:
    """The sweep's report for a terminal, verdict first."""
    s = data["failovers"]
    seeds = len(data["seeds"])
    return [
        f"{'PASS' if data['ok'] else 'FAIL'} {data['scenario']}: {seeds - len(data['failed_seeds'])}/{seeds} "
        "seeds passed",
        f"  failovers {s['count']:,} over {seeds} seeds ({s['unplanned']:,} after a fault), "
        f"{s['lost_writes']:,} writes lost",
        f"  RTO       p50 {duration(s['rto_p50_s'])}, p90 {duration(s['rto_p90_s'])}, "
        f"p99 {duration(s['rto_p99_s'])}, max {duration(s['rto_max_s'])}",
        f"  RPO       writes lost per failover p50 {s['lost_writes_p50']}, p99 {s['lost_writes_p99']}, "
        f"max {s['lost_writes_max']}; worst lag {duration(s['rpo_max_s'])}",
    ]
