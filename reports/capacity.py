"""Capacity per pool over time, and when each pool runs out of space.

A pool has run out when it reports no free space. When it has not yet, its run-out time is
extrapolated from its recent fill rate: the least-squares slope of the space in use over the last
quarter of the run, which follows a growing workload better than the average since the start.
"""

from __future__ import annotations

import bisect
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

RECENT = 0.25  # the share of the run (at its end) whose fill rate is extrapolated
DAY = 86400.0


@dataclass(frozen=True)
class RunOut:
    """When a pool has no free space left: ``how`` is observed, extrapolated or never (not filling)."""

    at: float | None
    how: str
    fill_rate_gb_s: float


def fill_rate(times: Sequence[float], used: Sequence[float]) -> float:
    """Least-squares slope of ``used`` against ``times`` (GiB per second); 0 with fewer than 2 points."""
    n = len(times)
    if n < 2:
        return 0.0
    mean_t = sum(times) / n
    mean_u = sum(used) / n
    spread = sum((t - mean_t) ** 2 for t in times)
    if spread == 0:
        return 0.0
    return sum((t - mean_t) * (u - mean_u) for t, u in zip(times, used, strict=True)) / spread


def runs_out(times: Sequence[float], free: Sequence[float], capacity: float) -> RunOut:
    """When free space reaches zero: the first sample that shows it, or an extrapolation."""
    if not times:
        return RunOut(None, "never", 0.0)
    used = [capacity - f for f in free]
    start = times[-1] - RECENT * (times[-1] - times[0])
    recent = [i for i, t in enumerate(times) if t >= start]
    rate = fill_rate([times[i] for i in recent], [used[i] for i in recent])
    for t, f in zip(times, free, strict=True):
        if f <= 0.0:
            return RunOut(t, "observed", rate)
    if rate <= 0:
        return RunOut(None, "never", rate)
    return RunOut(times[-1] + free[-1] / rate, "extrapolated", rate)


def pool_figures(samples: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per pool: its last figures, fill rate, run-out time, and the series behind the plot."""
    series: dict[str, dict[str, list[Any]]] = {}
    for sample in samples:
        for pool, figures in sample.get("pools", {}).items():
            s = series.setdefault(
                pool,
                {"time": [], "total_gb": [], "free_gb": [], "provisioned_gb": [], "volumes": [], "up": []},
            )
            s["time"].append(sample["time"])
            for key in ("total_gb", "free_gb", "provisioned_gb", "volumes", "up"):
                s[key].append(figures[key])
    out: dict[str, dict[str, Any]] = {}
    for pool, s in sorted(series.items()):
        capacity = s["total_gb"][-1]
        end = runs_out(s["time"], s["free_gb"], capacity)
        out[pool] = {
            "capacity_gb": capacity,
            "used_gb": round(capacity - s["free_gb"][-1], 3),
            "free_gb": s["free_gb"][-1],
            "provisioned_gb": s["provisioned_gb"][-1],
            "volumes": s["volumes"][-1],
            "used_pct": 100.0 * (capacity - s["free_gb"][-1]) / capacity if capacity else None,
            "fill_rate_gb_per_day": end.fill_rate_gb_s * DAY,
            "runs_out_at_s": end.at,
            "runs_out": end.how,
            "series": {
                "time": s["time"],
                "used_gb": [round(s["total_gb"][i] - f, 3) for i, f in enumerate(s["free_gb"])],
                "provisioned_gb": s["provisioned_gb"],
                "volumes": s["volumes"],
                "up": s["up"],
            },
        }
    return out


FILL_BANDS = (70.0, 85.0, 95.0, 100.0)  # upper bounds (% in use) of the bands latency is grouped by


def used_pct_at(series: Mapping[str, Sequence[float]], capacity: float, when: float) -> float | None:
    """The pool's share in use (%) at the last sample taken at or before ``when``."""
    i = bisect.bisect_right(series["time"], when) - 1
    if i < 0 or not capacity:
        return None
    return 100.0 * series["used_gb"][i] / capacity


def latency_by_fill(points: Sequence[tuple[str, float, float]]) -> dict[str, dict[str, Any]]:
    """Per pool and fill band (``<70 %``, ``70-85 %``, ...): how many operations and their median latency,
    from ``(pool, % in use when sent, latency s)`` points."""
    grouped: dict[str, dict[str, list[float]]] = {}
    for pool, pct, latency in points:
        low = 0.0
        for high in FILL_BANDS:
            if pct <= high or high == FILL_BANDS[-1]:
                grouped.setdefault(pool, {}).setdefault(f"{low:g}-{high:g} %", []).append(latency)
                break
            low = high
    return {
        pool: {
            band: {"count": len(v), "p50_s": statistics.median(v)}
            for band, v in sorted(bands.items(), key=lambda item: float(item[0].partition("-")[0]))
        }
        for pool, bands in sorted(grouped.items())
    }
