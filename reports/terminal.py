"""The report in a terminal: the verdict first, then the figures a reader scans for."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .operations import totals_line
from .text import duration, number, percent

LATENCY_COLUMNS = ("min_s", "p50_s", "p90_s", "p99_s", "p99.9_s", "max_s")
MARKS = {"pass": "ok  ", "fail": "FAIL", "unknown": "UNKNOWN"}


def verdict_line(data: Mapping[str, Any]) -> str:
    head, verdict = data["header"], data["verdict"]
    if head.get("mode") == "live":  # a recorded live server: observed, not checked
        return f"LIVE {head['scenario']}: recorded, no invariant checks (they need the simulation)"
    return (
        f"{verdict['status'].upper()} {head['scenario']} seed={head['seed']}: "
        f"{verdict['passed']}/{verdict['checks']} checks passed"
    )


def operations_table(operations: Mapping[str, Mapping[str, Any]], indent: str = "  ") -> list[str]:
    width = max([len("operation"), *map(len, operations)])
    lines = [
        f"{indent}{'operation':<{width}} {'count':>7} {'ok':>7} "
        + " ".join(f"{c.removesuffix('_s'):>9}" for c in LATENCY_COLUMNS)
    ]
    for f, stats in operations.items():
        lines.append(
            f"{indent}{f:<{width}} {stats['count']:>7,} {percent(stats['success_pct']):>7} "
            + " ".join(f"{duration(stats[c]):>9}" for c in LATENCY_COLUMNS)
        )
    return lines


def _uncounted(failovers: Mapping[str, Any]) -> str:
    """Live failovers whose old array did not answer lost writes nobody could count: say so."""
    uncounted = failovers.get("lost_uncounted") or 0
    return f" (and an uncounted number in {uncounted:,} whose old array did not answer)" if uncounted else ""


def summary_lines(data: Mapping[str, Any], *, verdict: bool = True, totals: bool = True) -> list[str]:
    """What the report says, in lines for a terminal (without the verdict, or the clients' totals,
    when they were just printed)."""
    lines = [verdict_line(data)] if verdict else []
    if verdict:
        lines += [f"  {MARKS[c['status']]} {c['check']:<15} {c.get('summary', '')}" for c in data["checks"]]
    if totals and "totals" in data:
        lines.append(f"  clients   {totals_line(data['totals'])}")
    lines += operations_table(data["operations"])
    failovers = data["failovers"]["summary"]
    if failovers["count"]:
        lines.append(
            f"  failovers {failovers['count']:,} ({failovers['unplanned']:,} after a fault): "
            f"{failovers['lost_writes']:,} writes lost{_uncounted(failovers)}, "
            f"RPO max {duration(failovers['rpo_max_s'])}, "
            f"RTO p50 {duration(failovers['rto_p50_s'])} max {duration(failovers['rto_max_s'])}, "
            f"detected after {duration(failovers['detection_s'])}"
        )
        for backend, figures in data["failovers"].get("by_backend", {}).items():
            lines.append(
                f"    from {backend}: {figures['count']:,} ({figures['unplanned']:,} after a fault), "
                f"{figures['lost_writes']:,} writes lost{_uncounted(figures)}, "
                f"RPO max {duration(figures['rpo_max_s'])}, RTO max {duration(figures['rto_max_s'])}"
            )
    for pool, figures in data["capacity"].items():
        lines.append(
            f"  capacity  {pool}: {number(figures['used_gb'])} of {number(figures['capacity_gb'])} GiB "
            f"in use, {number(figures['provisioned_gb'])} GiB provisioned to "
            f"{number(figures['volumes'])} volumes, {_runs_out(figures)}"
        )
    for link, figures in data["replication_lag"].items():
        lines.append(
            f"  lag       {link}: max {duration(figures['max_lag_s'])}, "
            f"mean {duration(figures['mean_lag_s'])}"
        )
    return lines


def _runs_out(figures: Mapping[str, Any]) -> str:
    rate = f"filling {number(figures['fill_rate_gb_per_day'])} GiB/day"
    if figures["runs_out"] == "observed":
        return f"full at t={duration(figures['runs_out_at_s'])} (seen)"
    if figures["runs_out"] == "extrapolated":
        return f"full at t≈{duration(figures['runs_out_at_s'])} (extrapolated, {rate})"
    return "not filling"
