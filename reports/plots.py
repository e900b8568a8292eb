"""The report's plots, drawn with matplotlib's Agg backend into PNG bytes.

Every plot is titled, its axes say what they show and in which unit, and the ones over time shade
the fault windows in Jepsen's colours (crash red, network yellow, pause blue), labelled by kind.
A plot with nothing to show is None, and the page says so instead of showing an empty frame.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import StrMethodFormatter

from replisim.scenarios.faults import KINDS

from .histogram import LatencyHistogram
from .operations import Completion
from .text import duration

SIZE = (10, 4.2)
DPI = 100
# A fault window's shade, by what the fault does (its kind's effect in the catalog).
EFFECT_COLOURS = {"outage": "#E9A4A0", "stall": "#A0B1E9", "network": "#E9DCA0", "other": "#D5D5D5"}
STATUS_COLOURS = {
    "enabled": "#4C9F50",
    "enabling": "#A5D6A7",
    "disabled": "#BDBDBD",
    "disabling": "#E0E0E0",
    "enabling_secondary": "#FFA726",
    "failed-over": "#3F7FBF",
    "error": "#D9453D",
}
MAX_FAULT_LABELS = 8
# Operations' colours leave out red and orange, which mark failed and unknown outcomes.
OP_COLOURS = ("C0", "C2", "C4", "C5", "C6", "C7", "C8", "C9", "#1A237E", "#004D40", "#880E4F", "#3E2723")


MAX_NAMED = 10  # series drawn in colour and named; beyond them, thin grey lines under one label
REST_COLOUR = "#B0B0B0"


def _named_first(names: Sequence[str], rank: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    """The MAX_NAMED names ranked first (lowest rank), in their given order, and the rest: a
    cloud's hundred pools cannot each have a colour and a legend line."""
    if len(names) <= MAX_NAMED:
        return list(names), []
    chosen = set(sorted(names, key=lambda name: rank[name])[:MAX_NAMED])
    return [n for n in names if n in chosen], [n for n in names if n not in chosen]


def time_unit(end: float) -> tuple[float, str]:
    """(seconds per unit, unit name) that keeps a run of ``end`` seconds readable on an axis."""
    if end <= 3 * 3600:
        return 60.0, "min"
    if end <= 3 * 86400:
        return 3600.0, "h"
    return 86400.0, "d"


def _figure() -> tuple[Figure, Any]:
    fig = Figure(figsize=SIZE, dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot()


def _png(fig: Figure) -> bytes:
    out = io.BytesIO()
    fig.savefig(out, format="png", dpi=DPI)
    return out.getvalue()


def _fault_colour(kind: str) -> str:
    """A kind this version does not know (a run recorded by another) is shaded as "other"."""
    return EFFECT_COLOURS[KINDS[kind].effect if kind in KINDS else "other"]


def _shade_faults(ax: Any, faults: Sequence[Mapping[str, Any]], scale: float) -> list[Patch]:
    """Shade each fault window; label the first few on the plot; return legend entries per kind."""
    kinds: dict[str, Patch] = {}
    for i, fault in enumerate(faults):
        colour = _fault_colour(fault["kind"])
        start, end = fault["start"] / scale, fault["end"] / scale
        ax.axvspan(start, end, color=colour, alpha=0.55, lw=0, zorder=0)
        if i < MAX_FAULT_LABELS:
            ax.text(
                start,
                0.98,
                f" {fault['kind']} {fault['target']}",
                transform=ax.get_xaxis_transform(),
                va="top",
                ha="left",
                fontsize=8,
                color="#444444",
                rotation=0,
                clip_on=True,
            )
        kinds.setdefault(fault["kind"], Patch(color=colour, alpha=0.55, label=f"fault: {fault['kind']}"))
    return list(kinds.values())


def latency_percentiles(histograms: Mapping[str, LatencyHistogram]) -> bytes | None:
    """Percentile spectrum per operation: latency against 'nines' (50 %, 90 %, 99 %, 99.9 %, 99.99 %)."""
    if not histograms:
        return None
    fig, ax = _figure()
    for f, histogram in histograms.items():
        percents, values = histogram.spectrum()
        nines = [-math.log10(1 - p / 100) if p < 100 else 4.0 for p in percents]
        ax.plot(nines, [max(v, 1e-6) for v in values], label=f, lw=1.6)
    ticks = [0, 1, 2, 3, 4]
    ax.set_xticks(ticks, ["0 %", "90 %", "99 %", "99.9 %", "99.99 %"])
    ax.set_yscale("log")
    ax.set_xlabel("percentile (of operations at or below the latency)")
    ax.set_ylabel("latency from intended send (s)")
    ax.set_title("Latency percentiles per operation")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return _png(fig)


def latency_over_time(
    done: Sequence[Completion], faults: Sequence[Mapping[str, Any]], end: float
) -> bytes | None:
    """Each operation's latency at its intended send time, by operation; failures and unknowns marked."""
    points = [c for c in done if c.latency is not None]
    if not points:
        return None
    scale, unit = time_unit(end)
    fig, ax = _figure()
    handles = _shade_faults(ax, faults, scale)
    names = sorted({c.f for c in points})
    palette = [OP_COLOURS[i % len(OP_COLOURS)] for i in range(len(names))]
    for name, colour in zip(names, palette, strict=True):
        ok = [c for c in points if c.f == name and c.outcome == "ok"]
        if ok:
            handles.append(
                ax.plot(
                    [c.intended / scale for c in ok],
                    [max(c.latency or 0, 1e-6) for c in ok],
                    ".",
                    ms=3,
                    color=colour,
                    label=name,
                    rasterized=True,
                )[0]
            )
    for outcome, marker, colour, label in (
        ("fail", "x", "#C62828", "failed"),
        ("info", "^", "#EF6C00", "unknown"),
    ):
        bad = [c for c in points if c.outcome == outcome]
        if bad:
            handles.append(
                ax.plot(
                    [c.intended / scale for c in bad],
                    [max(c.latency or 0, 1e-6) for c in bad],
                    marker,
                    ms=5,
                    color=colour,
                    ls="none",
                    label=label,
                )[0]
            )
    ax.set_yscale("log")
    ax.set_xlim(0, end / scale)
    ax.set_xlabel(f"simulated time of intended send ({unit})")
    ax.set_ylabel("latency (s)")
    ax.set_title("Latency over time (fault windows shaded)")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(handles=handles, fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return _png(fig)


def throughput_plot(
    series: Mapping[str, Any], faults: Sequence[Mapping[str, Any]], end: float
) -> bytes | None:
    """Operations finished per second over time, per operation."""
    if not series["per_op"]:
        return None
    scale, unit = time_unit(end)
    fig, ax = _figure()
    handles = _shade_faults(ax, faults, scale)
    times = [t / scale for t in series["time"]]
    for f, values in series["per_op"].items():
        handles.append(ax.step(times, values, where="mid", lw=1.4, label=f)[0])
    ax.set_xlim(0, end / scale)
    ax.set_xlabel(f"simulated time ({unit})")
    ax.set_ylabel(f"operations per second (mean over {series['bucket_s']:.3g} s)")
    ax.set_title("Throughput over time")
    ax.grid(True, alpha=0.3)
    ax.legend(handles=handles, fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return _png(fig)


def capacity_plot(pools: Mapping[str, Mapping[str, Any]], end: float) -> bytes | None:
    """Space in use per pool, its capacity, and when it runs out (seen, or extrapolated dashed)."""
    if not pools:
        return None
    horizon = end
    for figures in pools.values():
        at = figures["runs_out_at_s"]
        if at is not None and at <= 3 * end:
            horizon = max(horizon, at * 1.05)
    scale, unit = time_unit(horizon)
    fig, ax = _figure()
    # the pools that fill first (or are fullest) are named; the others are drawn grey, beneath
    named, rest = _named_first(
        list(pools),
        {
            pool: (math.inf if f["runs_out_at_s"] is None else f["runs_out_at_s"], -(f["used_pct"] or 0))
            for pool, f in pools.items()
        },
    )
    for i, pool in enumerate(named):
        figures = pools[pool]
        colour = f"C{i % 10}"
        s = figures["series"]
        at, how, capacity = figures["runs_out_at_s"], figures["runs_out"], figures["capacity_gb"]
        label = pool + (
            " (not filling)"
            if at is None
            else f" full at t={duration(at)}"
            if how == "observed"
            else f" full at t≈{duration(at)} (extrapolated)"
        )
        ax.plot([t / scale for t in s["time"]], s["used_gb"], color=colour, lw=1.8, label=label)
        ax.axhline(capacity, color=colour, ls=":", lw=1)
        if at is None:
            continue
        if how == "extrapolated" and at <= 3 * end:
            ax.plot(
                [s["time"][-1] / scale, at / scale],
                [s["used_gb"][-1], capacity],
                color=colour,
                ls="--",
                lw=1.2,
            )
        if at <= 3 * end:
            ax.axvline(at / scale, color=colour, ls="--", lw=0.8, alpha=0.7)
            ax.plot([at / scale], [capacity], marker="X", ms=9, color=colour)
            ax.annotate(
                f"{pool} full",
                (at / scale, capacity),
                textcoords="offset points",
                xytext=(4, 6),
                fontsize=8,
                color=colour,
            )
    for i, pool in enumerate(rest):
        s = pools[pool]["series"]
        ax.plot(
            [t / scale for t in s["time"]],
            s["used_gb"],
            color=REST_COLOUR,
            lw=0.6,
            zorder=1.5,
            label=f"{len(rest)} other pools" if i == 0 else None,
        )
    ax.set_xlim(0, horizon / scale)
    ax.set_ylim(bottom=0)
    ax.yaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))
    ax.set_xlabel(f"simulated time ({unit})")
    ax.set_ylabel("space in use (GiB); dotted: pool capacity")
    ax.set_title("Capacity per pool and when it runs out")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return _png(fig)


def latency_against_fill(points: Sequence[tuple[str, float, float]]) -> bytes | None:
    """Each create's latency (until available) against how full its pool was when it was sent."""
    if not points:
        return None
    fig, ax = _figure()
    by_pool: dict[str, list[tuple[float, float]]] = {}
    for pool, pct, latency in points:
        by_pool.setdefault(pool, []).append((pct, latency))
    pools = sorted(by_pool)
    named, rest = _named_first(pools, {pool: -max(pct for pct, _ in by_pool[pool]) for pool in pools})
    groups = [(pool, by_pool[pool], f"C{i % 10}") for i, pool in enumerate(named)]
    if rest:  # the pools that filled least, as one grey group
        groups.append((f"{len(rest)} other pools", [p for pool in rest for p in by_pool[pool]], REST_COLOUR))
    for label, mine, colour in groups:
        ax.plot(
            [pct for pct, _ in mine],
            [max(latency, 1e-6) for _, latency in mine],
            ".",
            ms=4,
            color=colour,
            label=label,
            alpha=0.8,
        )
    ax.set_yscale("log")
    ax.set_xlim(0, 100)
    ax.set_xlabel("pool space in use when the create was sent (%)")
    ax.set_ylabel("create latency until available (s)")
    ax.set_title("What latency does as a pool fills")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(title="pool", fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return _png(fig)


def lag_plot(
    links: Mapping[str, Mapping[str, Any]], faults: Sequence[Mapping[str, Any]], end: float
) -> bytes | None:
    """Replication lag per link over time."""
    if not links:
        return None
    scale, unit = time_unit(end)
    fig, ax = _figure()
    handles = _shade_faults(ax, faults, scale)
    named, rest = _named_first(list(links), {link: -f["max_lag_s"] for link, f in links.items()})
    for link in named:  # the links that lagged most
        figures = links[link]
        s = figures["series"]
        handles.append(
            ax.plot(
                [t / scale for t in s["time"]],
                s["lag_s"],
                lw=1.5,
                label=f"{link} (max {duration(figures['max_lag_s'])})",
            )[0]
        )
    for i, link in enumerate(rest):
        s = links[link]["series"]
        line = ax.plot(
            [t / scale for t in s["time"]],
            s["lag_s"],
            color=REST_COLOUR,
            lw=0.6,
            zorder=1.5,
            label=f"{len(rest)} other links",
        )[0]
        if i == 0:
            handles.append(line)
    ax.set_xlim(0, end / scale)
    ax.set_ylim(bottom=0)
    ax.set_xlabel(f"simulated time ({unit})")
    ax.set_ylabel("replication lag (s behind the source)")
    ax.set_title("Replication lag per link")
    ax.grid(True, alpha=0.3)
    ax.legend(handles=handles, fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return _png(fig)


def timeline_plot(
    timeline: Mapping[str, Any], faults: Sequence[Mapping[str, Any]], end: float
) -> bytes | None:
    """How many volumes were in each replication status over time (stacked)."""
    counts = timeline["counts"]
    if not counts:
        return None
    scale, unit = time_unit(end)
    fig, ax = _figure()
    handles = _shade_faults(ax, faults, scale)
    order = [s for s in STATUS_COLOURS if s in counts] + sorted(s for s in counts if s not in STATUS_COLOURS)
    times = [t / scale for t in timeline["time"]]
    areas = ax.stackplot(
        times,
        [counts[s] for s in order],
        labels=order,
        colors=[STATUS_COLOURS.get(s, "#8E8E8E") for s in order],
        alpha=0.9,
        step="post",
    )
    handles.extend(areas)
    ax.set_xlim(0, end / scale)
    ax.set_xlabel(f"simulated time ({unit})")
    ax.set_ylabel("volumes")
    ax.set_title("Failover timeline: volumes per replication status")
    ax.grid(True, alpha=0.3)
    ax.legend(handles=handles, fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return _png(fig)


def recovery_distribution(rows: Sequence[Mapping[str, Any]], seeds: int) -> bytes | None:
    """RTO, RPO (lost writes) and RPO (seconds of lag) across every failover of a sweep."""
    if not rows:
        return None
    fig = Figure(figsize=(12, 4), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    panels = fig.subplots(1, 3)
    rto = [r["rto_s"] for r in rows if r["rto_s"] is not None]
    for ax, values, xlabel, colour in (
        (panels[0], rto, "RTO: fault start to serving again (s)", "#3F7FBF"),
        (panels[1], [r["lost_writes"] for r in rows], "RPO: writes lost per failover", "#D9453D"),
        (panels[2], [r["rpo_s"] for r in rows], "RPO: replication lag at failure (s)", "#EF6C00"),
    ):
        if values:
            ax.hist(values, bins=min(40, max(5, len(set(values)))), color=colour, alpha=0.85)
        else:
            ax.text(0.5, 0.5, "no unplanned failover", ha="center", va="center", transform=ax.transAxes)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("failovers")
        ax.grid(True, alpha=0.3)
    fig.suptitle(f"Recovery across {seeds} seeds ({len(rows)} failovers, {len(rto)} after a fault)")
    return _png(fig)
