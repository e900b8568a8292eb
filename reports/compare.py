"""Two runs side by side: the change of each figure from run A to run B (a vendor comparing driver
releases, an operator comparing configurations)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .text import DASH, number

OPERATION_FIGURES = ("count", "success_pct", "p50_s", "p90_s", "p99_s", "p99.9_s", "max_s")
FAILOVER_FIGURES = ("count", "unplanned", "lost_writes", "rpo_max_s", "rto_p50_s", "rto_max_s", "detection_s")
POOL_FIGURES = ("used_gb", "fill_rate_gb_per_day", "runs_out_at_s")
LINK_FIGURES = ("max_lag_s", "mean_lag_s")


def scalar_figures(data: Mapping[str, Any]) -> dict[str, float | None]:
    """The comparable figures of a report, by dotted name (``operations.create_volume.p99_s``)."""
    head = data["header"]
    out: dict[str, float | None] = {
        "checks.passed": data["verdict"]["passed"],
        "checks.failed": data["verdict"]["checks"] - data["verdict"]["passed"],
        "run.simulated_s": head["simulated_seconds"],
        "run.wall_s": head["wall_seconds"],
    }
    for f, stats in data["operations"].items():
        out.update({f"operations.{f}.{k}": stats[k] for k in OPERATION_FIGURES})
    out.update({f"failovers.{k}": data["failovers"]["summary"][k] for k in FAILOVER_FIGURES})
    for pool, figures in data["capacity"].items():
        out.update({f"capacity.{pool}.{k}": figures[k] for k in POOL_FIGURES})
    for link, figures in data["replication_lag"].items():
        out.update({f"lag.{link}.{k}": figures[k] for k in LINK_FIGURES})
    return out


@dataclass(frozen=True)
class Change:
    """One figure in both runs; ``change`` is B - A and ``percent`` is that relative to A."""

    figure: str
    a: float | None
    b: float | None

    @property
    def change(self) -> float | None:
        if self.a is None or self.b is None:
            return None
        if math.isclose(self.a, self.b, rel_tol=1e-9, abs_tol=1e-12):  # float noise is no change
            return 0
        return self.b - self.a

    @property
    def percent(self) -> float | None:
        change = self.change
        if change is None or not self.a:
            return None
        return 100.0 * change / abs(self.a)


def compare(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[Change]:
    """Every figure of either report, in A's order then B's new ones."""
    left, right = scalar_figures(a), scalar_figures(b)
    names = list(left) + [name for name in right if name not in left]
    return [Change(name, left.get(name), right.get(name)) for name in names]


def table(changes: list[Change], a_name: str = "A", b_name: str = "B") -> list[str]:
    """The comparison as aligned text lines: figure, A, B, change, %."""
    rows = [("figure", a_name, b_name, "change", "%")]
    for c in changes:
        change = DASH if c.change is None else ("+" if c.change > 0 else "") + number(c.change)
        pct = DASH if c.percent is None else f"{c.percent:+.1f} %"
        rows.append((c.figure, number(c.a), number(c.b), change, pct))
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    return [
        f"{row[0]:<{widths[0]}}  " + "  ".join(f"{v:>{w}}" for v, w in zip(row[1:], widths[1:], strict=True))
        for row in rows
    ]
