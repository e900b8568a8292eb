"""Write a run's report into its directory: ``report.json`` (every figure) and ``report.html``."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from replisim.scenarios.history import write_atomically

from . import plots
from .figures import RunFigures, load_run, run_figures
from .html import run_page

JSON_NAME = "report.json"
HTML_NAME = "report.html"


def draw(figures: RunFigures) -> dict[str, bytes | None]:
    """Every plot of the run, as PNG bytes (None where there is nothing to draw)."""
    data = figures.data
    end = data["header"]["simulated_seconds"]
    faults = data["faults"]
    return {
        "latency_percentiles": plots.latency_percentiles(figures.histograms),
        "latency_over_time": plots.latency_over_time(figures.completions, faults, end),
        "throughput": plots.throughput_plot(data["throughput"], faults, end),
        "timeline": plots.timeline_plot(data["timeline"], faults, end),
        "capacity": plots.capacity_plot(data["capacity"], end),
        "latency_against_fill": plots.latency_against_fill(figures.fill_points),
        "lag": plots.lag_plot(data["replication_lag"], faults, end),
    }


def write_report(run_dir: Path) -> dict[str, Any]:
    """Build the report of the run in ``run_dir`` and write it there; returns report.json's content."""
    figures = run_figures(load_run(run_dir))
    images = draw(figures)
    write_atomically(run_dir / JSON_NAME, to_json(figures.data))
    write_atomically(run_dir / HTML_NAME, run_page(figures.data, images))
    return figures.data


def to_json(data: Mapping[str, Any]) -> str:
    """JSON with every non-finite number as null (JSON has no NaN or infinity)."""
    return json.dumps(_finite(data), indent=1, allow_nan=False) + "\n"


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value
