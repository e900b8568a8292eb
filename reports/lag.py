"""Replication lag per link over time: how far behind its source each link's target is."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def link_figures(samples: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per replication link: worst and mean lag, time spent down, and the series behind the plot."""
    series: dict[str, dict[str, list[Any]]] = {}
    for sample in samples:
        for link, figures in sample.get("links", {}).items():
            s = series.setdefault(link, {"time": [], "lag_s": [], "backlog_kib": [], "up": []})
            s["time"].append(sample["time"])
            for key in ("lag_s", "backlog_kib", "up"):
                s[key].append(figures[key])
    out: dict[str, dict[str, Any]] = {}
    for link, s in sorted(series.items()):
        lags = s["lag_s"]
        times = s["time"]
        down = sum(times[i + 1] - times[i] for i in range(len(times) - 1) if not s["up"][i])
        out[link] = {
            "max_lag_s": max(lags),
            "mean_lag_s": sum(lags) / len(lags),
            "max_backlog_kib": max(s["backlog_kib"]),
            "down_s": down,
            "series": s,
        }
    return out
