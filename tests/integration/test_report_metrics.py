"""The report's figures are the right numbers: percentiles of known samples, latency from the intended
send time, run-out times of known fill rates, failover recovery from known faults, and comparisons."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from matplotlib.axes import Axes

from replisim.cli import main
from replisim.reports import plots
from replisim.reports.capacity import latency_by_fill, runs_out
from replisim.reports.compare import compare, table
from replisim.reports.failover import failover_figures, failover_summary
from replisim.reports.figures import run_figures
from replisim.reports.histogram import LatencyHistogram
from replisim.reports.operations import completions, operation_stats
from replisim.reports.sweep import write_sweep_report
from replisim.reports.timeline import status_timeline

HOUR = 3600.0


# -- latency ----------------------------------------------------------------------------------------


def test_percentiles_of_one_to_ten_thousand_milliseconds() -> None:
    histogram = LatencyHistogram()
    for ms in random.Random(3).sample(range(1, 10_001), 10_000):  # order must not matter
        histogram.record(ms / 1000)
    # The true order statistics are 5.000, 9.000, 9.900 and 9.990 s; three significant digits
    # allow 0.1 % above them.
    for percent, expected in ((50, 5.0), (90, 9.0), (99, 9.9), (99.9, 9.99)):
        assert expected <= histogram.percentile(percent) <= expected * 1.001, percent
    summary = histogram.summary()
    assert summary["min_s"] == 0.001
    assert summary["max_s"] == 10.0
    assert summary["mean_s"] == pytest.approx(5.0005)
    assert histogram.count == 10_000


def test_one_stall_shows_in_the_tail_only() -> None:
    histogram = LatencyHistogram()
    for _ in range(999):
        histogram.record(0.002)
    histogram.record(30.0)
    assert histogram.percentile(99.9) == pytest.approx(0.002, rel=1e-3)
    assert histogram.percentile(100) == 30.0


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.floats(min_value=1e-5, max_value=1e5), min_size=1, max_size=300),
    st.sampled_from([0.0, 25.0, 50.0, 90.0, 99.0, 99.9, 100.0]),
)
def test_any_percentile_is_within_a_thousandth_of_its_order_statistic(
    values: list[float], percent: float
) -> None:
    histogram = LatencyHistogram()
    for value in values:
        histogram.record(value)
    ordered = sorted(values)
    rank = max(1, int(percent / 100 * len(values) + 0.5))  # HdrHistogram's rank for a percentile
    expected = ordered[rank - 1]
    got = histogram.percentile(percent)
    assert expected * (1 - 1e-3) - 1e-6 <= got <= expected * (1 + 1e-3) + 1e-6


def _op(
    index: int, kind: str, f: str, time: float, value: Any = None, *, intended: float | None = None
) -> dict[str, Any]:
    return {
        "index": index,
        "process": "p",
        "type": kind,
        "f": f,
        "time": time,
        "value": value,
        "intended": intended,
        "error": None,
    }


def test_latency_runs_from_the_intended_send_and_background_work_counts_as_done() -> None:
    ops = [
        _op(0, "invoke", "create_volume", 10.0, {"size": 1}, intended=4.0),  # sent 6 s late
        _op(1, "invoke", "create_volume", 11.0, {"size": 1}, intended=11.0),
        _op(2, "invoke", "enable_replication", 12.0, {"volume_id": "v1"}, intended=12.0),
        _op(3, "invoke", "delete_volume", 13.0, {"volume_id": "v9"}, intended=13.0),
        _op(0, "ok", "create_volume", 10.5, {"id": "v1"}, intended=4.0),
        _op(1, "fail", "create_volume", 11.25, None, intended=11.0),
        _op(2, "ok", "enable_replication", 12.5, None, intended=12.0),
        # op 3 never answered before the run ended: unknown
    ]
    status_changes = [
        {"time": 10.2, "volume": "v1", "from": None, "to": "creating"},
        {"time": 16.0, "volume": "v1", "from": "creating", "to": "available"},
    ]
    transitions = [
        {"time": 12.1, "volume": "v1", "from": "disabled", "to": "enabling"},
        {"time": 14.0, "volume": "v1", "from": "enabling", "to": "error"},
    ]
    stats = {
        f: s.to_dict() for f, s in operation_stats(completions(ops, status_changes, transitions)).items()
    }
    assert stats["create_volume"]["count"] == 2
    assert (stats["create_volume"]["ok"], stats["create_volume"]["fail"]) == (1, 1)
    assert stats["create_volume"]["success_pct"] == 50.0
    assert stats["create_volume"]["max_s"] == pytest.approx(6.5)  # 10.5 - 4.0, not 10.5 - 10.0
    assert stats["create_volume (done)"]["p50_s"] == pytest.approx(12.0, rel=1e-3)  # available at 16.0
    assert stats["enable_replication (done)"]["fail"] == 1  # it ended in error
    assert stats["enable_replication (done)"]["min_s"] is None  # no success to time
    assert stats["delete_volume"]["info"] == 1
    assert "delete_volume (done)" not in stats


# -- capacity ---------------------------------------------------------------------------------------


def test_a_pool_filling_at_a_known_rate_runs_out_when_its_free_space_does() -> None:
    times = [h * HOUR for h in range(51)]
    free = [1000.0 - 10.0 * h for h in range(51)]  # 1000 GiB, 10 GiB an hour: empty at 100 h
    end = runs_out(times, free, 1000.0)
    assert end.how == "extrapolated"
    assert end.at == pytest.approx(100 * HOUR)
    assert end.fill_rate_gb_s * 86400 == pytest.approx(240.0)


def test_the_run_out_follows_the_recent_fill_rate() -> None:
    hours = range(41)
    used = [5.0 * h if h <= 30 else 150.0 + 20.0 * (h - 30) for h in hours]  # 5 GiB/h, then 20 GiB/h
    end = runs_out([h * HOUR for h in hours], [1000.0 - u for u in used], 1000.0)
    # the last quarter (30 h to 40 h) fills at 20 GiB/h: 650 GiB free at 40 h last 32.5 h more
    assert end.at == pytest.approx(72.5 * HOUR)


def test_a_pool_seen_full_ran_out_at_the_first_sample_with_no_free_space() -> None:
    free = [300.0, 200.0, 100.0, 0.0, 0.0, 50.0]
    end = runs_out([0.0, 10.0, 20.0, 30.0, 40.0, 50.0], free, 300.0)
    assert (end.how, end.at) == ("observed", 30.0)


def test_a_pool_that_does_not_fill_never_runs_out() -> None:
    assert runs_out([0.0, 10.0, 20.0], [100.0, 100.0, 100.0], 100.0).how == "never"


def test_latency_is_grouped_by_how_full_the_pool_was() -> None:
    bands = latency_by_fill(
        [
            ("a", 10.0, 1.0),
            ("a", 60.0, 3.0),
            ("a", 90.0, 8.0),
            ("a", 99.0, 20.0),
            ("a", 100.0, 30.0),
            ("b", 75.0, 2.0),
        ]
    )
    assert bands["a"]["0-70 %"] == {"count": 2, "p50_s": 2.0}
    assert bands["a"]["85-95 %"] == {"count": 1, "p50_s": 8.0}
    assert bands["a"]["95-100 %"] == {"count": 2, "p50_s": 25.0}
    assert bands["b"] == {"70-85 %": {"count": 1, "p50_s": 2.0}}


# -- failovers and timeline -------------------------------------------------------------------------


def _failover(volume: str, time: float, lost: int, lag: float, source: str = "alpha") -> dict:
    return {
        "volume_id": volume,
        "time": time,
        "source": source,
        "target": "beta",
        "mode": "async",
        "source_writes": 100 + lost,
        "target_writes": 100,
        "lost_writes": lost,
        "lag": lag,
        "rate": 5.0,
    }


def test_rto_runs_from_the_crash_and_a_failover_without_one_is_planned() -> None:
    rows = failover_figures(
        [_failover("v1", 100.0, 0, 0.0), _failover("v2", 1075.0, 25, 5.0), _failover("v3", 1090.0, 30, 6.0)],
        faults=[
            {"kind": "array.crash", "target": "alpha", "start": 1000.0, "duration": 600.0},
            {"kind": "link.down", "target": "alpha->beta", "start": 990.0, "duration": 5.0},
        ],
        detections=[{"backend": "alpha", "time": 1035.0}],
        arrays={"alpha": "alpha"},
    )
    assert [r["cause"] for r in rows] == ["planned", "array.crash alpha", "array.crash alpha"]
    assert [r["rto_s"] for r in rows] == [None, 75.0, 90.0]
    assert [r["detection_s"] for r in rows] == [None, 35.0, 35.0]
    summary = failover_summary(rows)
    assert (summary["count"], summary["unplanned"], summary["lost_writes"]) == (3, 2, 55)
    assert (summary["rto_p50_s"], summary["rto_max_s"], summary["rpo_max_s"]) == (82.5, 90.0, 6.0)


def test_status_timeline_counts_each_volume_once_and_forgets_deleted_ones() -> None:
    transitions = [
        {"time": 0.0, "volume": "a", "to": "disabled"},
        {"time": 0.0, "volume": "b", "to": "disabled"},
        {"time": 10.0, "volume": "a", "to": "enabling"},
        {"time": 12.0, "volume": "a", "to": "enabled"},
    ]
    deleted = [{"time": 15.0, "volume": "b", "to": "deleted"}]
    timeline = status_timeline(transitions, deleted, end=20.0, points=5)  # at 0, 5, 10, 15, 20
    assert timeline["counts"] == {
        "disabled": [2, 2, 1, 0, 0],
        "enabling": [0, 0, 1, 0, 0],
        "enabled": [0, 0, 0, 1, 1],
    }


# -- compare and sweep ------------------------------------------------------------------------------


def _run_record(latency: float, lost: int) -> dict[str, Any]:
    ops = []
    for i in range(100):
        ops += [
            _op(i, "invoke", "create_volume", float(i), {"size": 1}, intended=float(i)),
            _op(i, "ok", "create_volume", i + latency, {"id": f"v{i}"}, intended=float(i)),
        ]
    return {
        "scenario": "tiny",
        "seed": 1,
        "ok": True,
        "simulated_seconds": 200.0,
        "wall_seconds": 1.0,
        "duration": 150.0,
        "heal": 50.0,
        "verdicts": {"data": {"ok": True, "summary": "", "witness": None}},
        "ops": ops,
        "failovers": [_failover("v1", 120.0, lost, 1.0)],
        "faults": [{"kind": "array.crash", "target": "alpha", "start": 100.0, "duration": 30.0}],
        "detections": [],
        "samples": [],
    }


def test_compare_gives_each_figure_its_change_and_relative_change() -> None:
    changes = {
        c.figure: c
        for c in compare(run_figures(_run_record(1.0, 20)).data, run_figures(_run_record(1.5, 10)).data)
    }
    p50 = changes["operations.create_volume.p50_s"]
    assert (p50.a, p50.b) == (pytest.approx(1.0, rel=1e-3), pytest.approx(1.5, rel=1e-3))
    assert p50.change == pytest.approx(0.5, rel=1e-2) and p50.percent == pytest.approx(50.0, rel=1e-2)
    lost = changes["failovers.lost_writes"]
    assert (lost.a, lost.b, lost.change, lost.percent) == (20, 10, -10, -50.0)
    assert changes["operations.create_volume.count"].change == 0
    lines = table(list(changes.values()))
    assert lines[0].split() == ["figure", "A", "B", "change", "%"]
    assert next(line for line in lines if line.startswith("failovers.lost_writes")).split() == [
        "failovers.lost_writes",
        "20",
        "10",
        "-10",
        "-50.0",
        "%",
    ]


def test_report_compare_on_the_command_line(tmp_path: Path) -> None:
    for name, latency in (("a", 1.0), ("b", 2.0)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "run.json").write_text(json.dumps(_run_record(latency, 0)))
    result = CliRunner().invoke(main, ["report", "--compare", str(tmp_path / "a"), str(tmp_path / "b")])
    assert result.exit_code == 0, result.output
    row = next(
        line for line in result.output.splitlines() if line.startswith("operations.create_volume.max_s")
    )
    assert row.split() == ["operations.create_volume.max_s", "1", "2", "+1", "+100.0", "%"]


def test_report_of_something_that_is_not_a_run_is_a_clear_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["report", str(tmp_path)])
    assert result.exit_code == 2
    assert "not a run directory (no run.json" in result.output
    assert not (tmp_path / "report.html").exists()
    assert CliRunner().invoke(main, ["report"]).exit_code == 2


def test_a_sweep_report_spreads_rpo_and_rto_over_the_seeds(tmp_path: Path) -> None:
    crash = [{"kind": "array.crash", "target": "alpha", "start": 1000.0, "duration": 600.0}]
    runs = [
        {
            "seed": seed,
            "ok": True,
            "failovers": [_failover(f"v{seed}", 1000.0 + 10 * seed, seed, 1.0)],
            "faults": crash,
            "detections": [],
            "arrays": {"alpha": "alpha"},
            "duration": 2000.0,
        }
        for seed in range(1, 11)
    ]
    (tmp_path / "sweep.json").write_text(
        json.dumps(
            {
                "scenario": "/x/s.yaml",
                "ok": True,
                "runs": runs,
                "seeds": list(range(1, 11)),
                "failures": {},
                "crashes": {},
            }
        )
    )
    data = write_sweep_report(tmp_path)
    summary = data["failovers"]
    assert (summary["count"], summary["lost_writes"]) == (10, 55)
    assert (summary["rto_min_s"], summary["rto_p50_s"], summary["rto_p90_s"], summary["rto_max_s"]) == (
        10.0,
        55.0,
        90.0,
        100.0,
    )
    assert (summary["lost_writes_p50"], summary["lost_writes_p90"]) == (5.5, 9)
    assert "data:image/png;base64," in (tmp_path / "report.html").read_text()
    assert json.loads((tmp_path / "report.json").read_text())["per_seed"][2]["rto_max_s"] == 30.0
    assert not math.isnan(summary["rto_mean_s"])


@given(st.lists(st.integers(0, 50), min_size=0, max_size=40, unique=True))
def test_a_plot_names_the_first_ranked_series_in_order_and_greys_the_rest(ranks: list[int]) -> None:
    names = [f"pool{r:02d}" for r in ranks]
    named, rest = plots._named_first(names, {f"pool{r:02d}": r for r in ranks})
    assert named + rest == [n for n in names if n in named] + [n for n in names if n in rest]
    assert sorted(named + rest) == sorted(names) and len(named) == min(len(names), plots.MAX_NAMED)
    assert all(int(n[4:]) < int(m[4:]) for n in named for m in rest)  # the lowest ranks are named


def test_a_cloud_of_pools_and_links_plots_with_a_bounded_legend(monkeypatch: pytest.MonkeyPatch) -> None:
    """A hundred pools: ten named in colour, the rest one grey legend entry."""
    times = [float(t) for t in range(0, 3600, 60)]
    pools = {
        f"b{i:03d}": {
            "series": {"time": times, "used_gb": [i * t / 100 for t in times]},
            "runs_out_at_s": None,
            "runs_out": "never",
            "capacity_gb": 1e6,
            "used_pct": i / 10,
        }
        for i in range(100)
    }
    links = {
        f"b{i:03d}->b{i + 1:03d}": {
            "series": {"time": times, "lag_s": [i * 0.01] * len(times)},
            "max_lag_s": i * 0.01,
        }
        for i in range(100)
    }
    legends: list[list[str]] = []
    original = Axes.legend

    def spy(self: Axes, *args: Any, **kwargs: Any) -> Any:
        legend = original(self, *args, **kwargs)
        legends.append([text.get_text() for text in legend.get_texts()])
        return legend

    monkeypatch.setattr(Axes, "legend", spy)
    assert (plots.capacity_plot(pools, 3600.0) or b"").startswith(b"\x89PNG")
    assert (plots.lag_plot(links, [], 3600.0) or b"").startswith(b"\x89PNG")
    capacity, lag = legends
    assert len(capacity) == len(lag) == plots.MAX_NAMED + 1
    fullest = [f"b{i:03d}" for i in range(90, 100)]  # named, in their order
    assert [text.split()[0] for text in capacity[:-1]] == fullest and capacity[-1] == "90 other pools"
    assert [text.split()[0] for text in lag[:-1]] == [f"{b}->b{int(b[1:]) + 1:03d}" for b in fullest]
    assert lag[-1] == "90 other links"
