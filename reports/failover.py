"""Per-failover recovery figures: RPO (what was lost) and RTO (how long the volume was out).

- RPO: the writes the old primary had that the new one lacked, and the replication lag in seconds
  at the moment of failure (both recorded by the fabric when it promoted the copy; live, by the
  storage driver, which fences the old array first and so counts exactly, or says it could not).
- RTO: from the start of the fault that took the primary's array down to the volume serving again,
  i.e. the failover's completion; a failover with no such fault under way was planned (no RTO).
- Detection: from that fault's start to the operator policy noticing its backend had gone quiet.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from replisim.scenarios.faults import KINDS

# The fault kinds that stop a primary array serving: a failover's RTO counts from one.
ARRAY_DOWN = frozenset(
    name for name, kind in KINDS.items() if kind.target == "array" and kind.effect == "outage"
)


def fault_windows(faults: Iterable[Mapping[str, Any]], heal_at: float = math.inf) -> list[dict[str, Any]]:
    """Each fault as (kind, target, start, end); one without a duration lasts until the heal phase."""
    out = []
    for fault in faults:
        duration = fault.get("duration")
        end = fault["start"] + duration if duration is not None else heal_at
        out.append({"kind": fault["kind"], "target": fault["target"], "start": fault["start"], "end": end})
    return sorted(out, key=lambda w: (w["start"], w["kind"], w["target"]))


def failover_figures(
    failovers: Iterable[Mapping[str, Any]],
    faults: Sequence[Mapping[str, Any]],
    detections: Sequence[Mapping[str, Any]],
    arrays: Mapping[str, str] | None = None,
    heal_at: float = math.inf,
) -> list[dict[str, Any]]:
    """One row per failover: where from and to, RPO (lost writes, lag seconds), RTO and detection."""
    windows = [w for w in fault_windows(faults, heal_at) if w["kind"] in ARRAY_DOWN]
    arrays = arrays or {}
    rows = []
    for record in failovers:
        when, source = record["time"], record["source"]
        cause = max(
            (w for w in windows if w["target"] == source and w["start"] <= when <= w["end"]),
            key=lambda w: w["start"],
            default=None,
        )
        rto = detection = None
        if cause is not None:
            rto = when - cause["start"]
            backend = arrays.get(source, source)
            seen = [
                d["time"]
                for d in detections
                if d["backend"] == backend and cause["start"] <= d["time"] <= when
            ]
            detection = min(seen) - cause["start"] if seen else None
        rows.append(
            {
                "volume_id": record["volume_id"],
                "time": when,
                "source": source,
                "target": record["target"],
                "mode": record["mode"],
                # a live failover says itself whether it was planned: a live run injects no faults
                "cause": f"{cause['kind']} {cause['target']}" if cause else record.get("cause", "planned"),
                "lost_writes": record["lost_writes"],
                "rpo_s": record["lag"],
                "rto_s": rto,
                "detection_s": detection,
            }
        )
    return rows


def failover_summary(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Totals and spreads over a run's (or a sweep's) failovers."""
    rto = sorted(r["rto_s"] for r in rows if r["rto_s"] is not None)
    # A live failover whose old array did not answer lost what it could not count: None, not 0.
    rpo = sorted(r["rpo_s"] for r in rows if r["rpo_s"] is not None)
    lost = [r["lost_writes"] for r in rows if r["lost_writes"] is not None]
    detection = [r["detection_s"] for r in rows if r["detection_s"] is not None]
    return {
        "count": len(rows),
        "unplanned": sum(1 for r in rows if r["cause"] != "planned"),
        "lost_writes": sum(lost),
        "lost_uncounted": len(rows) - len(lost),
        "lost_writes_max": max(lost, default=None),
        "rpo_max_s": max(rpo, default=None),
        "rto_min_s": rto[0] if rto else None,
        "rto_p50_s": statistics.median(rto) if rto else None,
        "rto_max_s": rto[-1] if rto else None,
        "detection_s": min(detection, default=None),
    }


def failover_by_backend(
    rows: Sequence[Mapping[str, Any]], arrays: Mapping[str, str] | None = None
) -> dict[str, dict[str, Any]]:
    """The summary per backend the volumes failed over *from* (the source array's backend): a host
    failover's RPO and RTO as the runbook's operator reads them; a failback is its target's."""
    arrays = arrays or {}
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for row in rows:
        groups.setdefault(arrays.get(row["source"], row["source"]), []).append(row)
    return {backend: failover_summary(groups[backend]) for backend in sorted(groups)}
