"""The report as one self-contained HTML page: inline style, plots as PNG data URIs, no script and
nothing fetched, so it opens from a file, offline, and can be mailed as it is."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from .operations import totals_line
from .terminal import LATENCY_COLUMNS
from .text import DASH, duration, number, percent

MAX_ROWS = 500  # failover rows shown on the page (report.json has them all)
MAX_WITNESS = 2000  # characters of a checker's witness shown
VERSION_ORDER = ("replisim", "python", "machine")

STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
h1 { font-size: 1.5em; margin-bottom: .2em; } h2 { border-bottom: 1px solid #ddd; margin-top: 2em; }
table { border-collapse: collapse; margin: .6em 0; }
td, th { padding: .25em .7em; border-bottom: 1px solid #eee; }
th { text-align: left; background: #f6f6f6; } td.n { text-align: right; font-variant-numeric: tabular-nums; }
.verdict { padding: .6em 1em; border-radius: 4px; font-weight: bold; font-size: 1.2em; color: #fff; }
.pass { background: #2E7D32; } .fail { background: #C62828; } .unknown { background: #9E6A03; }
code { font-size: 12px; white-space: pre-wrap; word-break: break-all; }
img { max-width: 100%; display: block; margin: .8em 0; } .note { color: #666; }
"""


def _recovery_cells(s: dict[str, Any]) -> list[str]:
    """Failover count, unplanned, writes lost, worst RPO and the RTO spread, as table cells."""
    return [
        number(s["count"]),
        number(s["unplanned"]),
        number(s["lost_writes"]),
        duration(s["rpo_max_s"]),
        duration(s["rto_min_s"]),
        duration(s["rto_p50_s"]),
        duration(s["rto_max_s"]),
    ]


def _cell(value: Any, numeric: bool = False) -> str:
    return f'<td class="n">{escape(value)}</td>' if numeric else f"<td>{escape(value)}</td>"


def _table(headings: Sequence[str], rows: Sequence[Sequence[str]], numeric_from: int = 1) -> str:
    head = "<tr>" + "".join(f"<th>{escape(h)}</th>" for h in headings) + "</tr>" if headings else ""
    body = "".join(
        "<tr>" + "".join(_cell(v, i >= numeric_from) for i, v in enumerate(row)) + "</tr>" for row in rows
    )
    return f"<table>{head}{body}</table>"


def _image(png: bytes | None, alt: str, missing: str) -> str:
    if png is None:
        return f'<p class="note">{escape(missing)}</p>'
    data = base64.b64encode(png).decode("ascii")
    return f'<img alt="{escape(alt)}" src="data:image/png;base64,{data}">'


def _page(title: str, body: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<link rel="icon" href="data:,">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head><body>\n{body}\n</body></html>\n"
    )


def run_page(data: Mapping[str, Any], images: Mapping[str, bytes | None]) -> str:
    """The report page of one run."""
    head, verdict = data["header"], data["verdict"]
    status = verdict["status"]
    live = head.get("mode") == "live"
    parts = [
        f"<h1>{escape(head['scenario'])} · {'live' if live else 'seed ' + str(head['seed'])}</h1>",
        f"<p>{escape(head.get('description') or '')}</p>",
        '<div class="verdict pass">LIVE: recorded, no invariant checks</div>'
        if live
        else f'<div class="verdict {status}">{status.upper()}: '
        f"{verdict['passed']}/{verdict['checks']} checks passed</div>",
    ]
    versions = head.get("versions") or {}
    parts += [
        "<h2>Run</h2>",
        _table(
            [],
            [
                ["scenario", f"{head['scenario']} ({head.get('source') or DASH})"],
                ["seed", str(head["seed"])],
                ["mode", head["mode"]],
                [
                    "simulated time",
                    f"{duration(head['simulated_seconds'])} ({number(head['simulated_seconds'])} s)",
                ],
                [
                    "wall time",
                    f"{duration(head['wall_seconds'])}"
                    + (f" ({number(head['speedup'])}x real time)" if head.get("speedup") else ""),
                ],
                ["versions", ", ".join(f"{k} {versions[k]}" for k in VERSION_ORDER if k in versions) or DASH],
                ["trace digest", head.get("digest") or DASH],
            ],
            numeric_from=9,
        ),
    ]
    parts += ["<h2>Checks</h2>", _checks(data["checks"])]
    parts += [
        "<h2>Operations</h2>",
        '<p class="note">Latency runs from the intended send time. “(done)”: until the volume '
        "reached the state the call asked for, as a user waits for it.</p>",
        *(
            [
                f'<p class="summary">Client operations: {escape(totals_line(data["totals"]))}; a call '
                "Cinder finishes in the background counts as ok only once its volume reached the state "
                "it asked for.</p>"
            ]
            if "totals" in data
            else []
        ),
        _operations(data["operations"]),
        _image(images.get("latency_percentiles"), "latency percentiles", "No operation finished."),
        _image(images.get("latency_over_time"), "latency over time", "No operation finished."),
        _image(images.get("throughput"), "throughput over time", "No operation finished."),
    ]
    parts += [
        "<h2>Failovers</h2>",
        _failovers(data["failovers"]),
        _image(images.get("timeline"), "failover timeline", "No volume had a replication status."),
    ]
    parts += [
        "<h2>Capacity</h2>",
        _capacity(data["capacity"]),
        _image(images.get("capacity"), "capacity per pool", "No pool was sampled."),
        _fill_bands(data["create_latency_by_fill"]),
        _image(
            images.get("latency_against_fill"),
            "create latency against pool fill",
            "No create succeeded on a pool that was sampled.",
        ),
    ]
    parts += [
        "<h2>Replication lag</h2>",
        _lag(data["replication_lag"]),
        _image(images.get("lag"), "replication lag per link", "No replication link in this run."),
    ]
    parts += ["<h2>Faults</h2>", _faults(data["faults"])]
    parts.append(
        '<p class="note">Every figure is in report.json beside this page; the run\'s history '
        "(history.jsonl.gz), trace (trace.jsonl.gz) and record (run.json) are there too.</p>"
    )
    return _page(f"replisim report: {head['scenario']} seed {head['seed']}", "\n".join(parts))


def _checks(checks: Sequence[Mapping[str, Any]]) -> str:
    rows = []
    for check in checks:
        witness = check.get("witness")
        text = DASH if witness is None else json.dumps(witness, sort_keys=True, default=str)
        if len(text) > MAX_WITNESS:
            text = text[:MAX_WITNESS] + " …"
        status = "ok" if check["status"] == "pass" else f"<b>{check['status'].upper()}</b>"
        rows.append(
            f"<tr><td>{escape(check['check'])}</td><td>{status}</td>"
            f"<td>{escape(check.get('summary') or '')}</td><td><code>{escape(text)}</code></td></tr>"
        )
    return (
        "<table><tr><th>check</th><th>verdict</th><th>summary</th><th>witness</th></tr>"
        + "".join(rows)
        + "</table>"
    )


def _operations(operations: Mapping[str, Mapping[str, Any]]) -> str:
    headings = [
        "operation",
        "count",
        "success",
        "failed",
        "unknown",
        *(c.removesuffix("_s") for c in LATENCY_COLUMNS),
        "mean",
    ]
    rows = [
        [
            f,
            number(s["count"]),
            percent(s["success_pct"]),
            number(s["fail"]),
            number(s["info"]),
            *(duration(s[c]) for c in LATENCY_COLUMNS),
            duration(s["mean_s"]),
        ]
        for f, s in operations.items()
    ]
    return _table(headings, rows)


def _failovers(failovers: Mapping[str, Any]) -> str:
    s = failovers["summary"]
    unmeasured = failovers.get("unmeasured")
    note = (
        f'<p class="note">Not measured: failovers on {escape(", ".join(unmeasured))} (a driver of its '
        "own, with no emulated array to count what a failover loses).</p>"
        if unmeasured
        else ""
    )
    if not s["count"]:
        return note or '<p class="note">No failover in this run.</p>'
    summary = _table(
        [
            "failovers",
            "after a fault",
            "writes lost",
            "worst RPO",
            "RTO min",
            "RTO p50",
            "RTO max",
            "detection",
        ],
        [[*_recovery_cells(s), duration(s["detection_s"])]],
        numeric_from=0,
    )
    by_backend = failovers.get("by_backend") or {}
    per_backend = _table(
        [
            "from backend",
            "failovers",
            "after a fault",
            "writes lost",
            "worst RPO",
            "RTO min",
            "RTO p50",
            "RTO max",
        ],
        [[backend, *_recovery_cells(b)] for backend, b in by_backend.items()],
        numeric_from=1,
    )
    summary += per_backend
    records = failovers["records"]
    rows = [
        [
            r["volume_id"],
            f"{r['source']} → {r['target']} ({r['mode']})",
            r["cause"],
            duration(r["time"]),
            duration(r["detection_s"]),
            duration(r["rto_s"]),
            number(r["lost_writes"]),
            duration(r["rpo_s"]),
        ]
        for r in records[:MAX_ROWS]
    ]
    more = (
        f'<p class="note">First {MAX_ROWS} of {len(records):,} failovers; report.json has them all.</p>'
        if len(records) > MAX_ROWS
        else ""
    )
    per_failover = _table(
        ["volume", "from → to", "cause", "at", "detected after", "RTO", "writes lost", "RPO"],
        rows,
        numeric_from=3,
    )
    return summary + per_failover + more + note


def _capacity(pools: Mapping[str, Mapping[str, Any]]) -> str:
    if not pools:
        return '<p class="note">No pool was sampled.</p>'
    rows = []
    for pool, p in pools.items():
        when = {
            "observed": f"t={duration(p['runs_out_at_s'])} (seen)",
            "extrapolated": f"t≈{duration(p['runs_out_at_s'])} (extrapolated)",
        }.get(p["runs_out"], "not filling")
        rows.append(
            [
                pool,
                number(p["capacity_gb"]),
                number(p["used_gb"]),
                percent(p["used_pct"]),
                number(p["provisioned_gb"]),
                number(p["volumes"]),
                number(p["fill_rate_gb_per_day"]),
                when,
            ]
        )
    return _table(
        [
            "pool",
            "capacity (GiB)",
            "in use (GiB)",
            "in use",
            "provisioned (GiB)",
            "volumes",
            "fill rate (GiB/day, last quarter)",
            "runs out",
        ],
        rows,
    )


def _fill_bands(pools: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> str:
    if not pools:
        return ""
    bands = list(dict.fromkeys(band for by_band in pools.values() for band in by_band))
    rows = [
        [
            pool,
            *(
                f"{duration(b[band]['p50_s'])} ({b[band]['count']:,})" if band in b else DASH
                for band in bands
            ),
        ]
        for pool, b in pools.items()
    ]
    return (
        "<p>Median create latency (until available) by how full the pool was when it was sent "
        "(operations in brackets):</p>" + _table(["pool", *(f"{band} in use" for band in bands)], rows)
    )


def _lag(links: Mapping[str, Mapping[str, Any]]) -> str:
    if not links:
        return '<p class="note">No replication link in this run.</p>'
    rows = [
        [
            link,
            duration(figures["max_lag_s"]),
            duration(figures["mean_lag_s"]),
            number(figures["max_backlog_kib"]),
            duration(figures["down_s"]),
        ]
        for link, figures in links.items()
    ]
    return _table(["link", "max lag", "mean lag", "max backlog (KiB)", "time down"], rows)


def _faults(faults: Sequence[Mapping[str, Any]]) -> str:
    if not faults:
        return '<p class="note">No fault was injected.</p>'
    rows = [
        [f["kind"], f["target"], duration(f["start"]), duration(f["end"]), duration(f["end"] - f["start"])]
        for f in faults
    ]
    return _table(["kind", "target", "start", "end", "lasted"], rows, numeric_from=2)


def sweep_page(data: Mapping[str, Any], image: bytes | None) -> str:
    """The report page of a seed sweep: recovery across seeds."""
    s = data["failovers"]
    ok = data["ok"]
    parts = [
        f"<h1>{escape(data['scenario'])} · sweep of {len(data['seeds'])} seeds</h1>",
        f'<div class="verdict {"pass" if ok else "fail"}">{"PASS" if ok else "FAIL"}: '
        f"{len(data['seeds']) - len(data['failed_seeds'])}/{len(data['seeds'])} seeds passed</div>",
        "<h2>Recovery across seeds</h2>",
        _table(
            ["failovers", "after a fault", "writes lost", "worst RPO", "RTO min", "RTO p50", "RTO max"],
            [_recovery_cells(s)],
            numeric_from=0,
        ),
        _image(image, "RPO and RTO distribution", "No failover in any seed."),
        "<h2>Per seed</h2>",
        _table(
            ["seed", "verdict", "failovers", "writes lost", "worst RPO", "RTO p50", "RTO max"],
            [
                [
                    str(r["seed"]),
                    "ok" if r["ok"] else "FAIL",
                    number(r["failovers"]),
                    number(r["lost_writes"]),
                    duration(r["rpo_max_s"]),
                    duration(r["rto_p50_s"]),
                    duration(r["rto_max_s"]),
                ]
                for r in data["per_seed"]
            ],
            numeric_from=2,
        ),
    ]
    return _page(f"replisim sweep report: {data['scenario']}", "\n".join(parts))
