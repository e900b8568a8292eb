"""Which volumes were in which replication state when: counts per ``replication_status`` over time,
from every recorded status change (a deleted volume leaves the count)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

DELETED = "deleted"


def status_timeline(
    transitions: Iterable[Mapping[str, Any]],
    status_changes: Iterable[Mapping[str, Any]],
    end: float,
    points: int = 400,
) -> dict[str, Any]:
    """Counts of volumes per replication status at ``points`` evenly spaced times in ``[0, end]``."""
    events = sorted(
        [(t["time"], 0, t["volume"], t["to"]) for t in transitions]
        + [(c["time"], 1, c["volume"], DELETED) for c in status_changes if c["to"] == DELETED],
        key=lambda e: (e[0], e[1]),
    )
    grid = [end * i / (points - 1) for i in range(points)] if points > 1 else [end]
    current: dict[str, str] = {}
    counts: Counter[str] = Counter()
    seen: dict[str, None] = {}
    rows: list[dict[str, int]] = []
    i = 0
    for at in grid:
        while i < len(events) and events[i][0] <= at:
            _, _, volume, state = events[i]
            i += 1
            before = current.pop(volume, None)
            if before is not None:
                counts[before] -= 1
            if state != DELETED:
                current[volume] = state
                counts[state] += 1
                seen.setdefault(state, None)
        rows.append(dict(counts))
    return {"time": grid, "counts": {state: [row.get(state, 0) for row in rows] for state in seen}}
