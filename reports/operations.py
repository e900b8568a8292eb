"""What the clients saw, per operation: outcomes, latency and throughput, from a run's history.

Latency runs from the *intended* send time (when the workload meant to send, not when it managed
to), so a stalled client shows the stall instead of hiding it (coordinated omission). Each API call
counts twice: the call itself (``create_volume``: until the API answers), and, for the calls
Cinder finishes in the background, until the volume reaches the state the call asked for
(``create_volume (done)``: until it is ``available``), which is the wait a user feels.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .histogram import LatencyHistogram

DONE_SUFFIX = " (done)"
# API call -> (which status it moves, the statuses that finish it well, those that finish it badly)
FINISHED_BY: Mapping[str, tuple[str, frozenset[str], frozenset[str]]] = {
    "create_volume": ("status", frozenset({"available"}), frozenset({"error"})),
    "delete_volume": ("status", frozenset({"deleted"}), frozenset({"error_deleting", "error"})),
    "enable_replication": ("replication", frozenset({"enabled"}), frozenset({"error"})),
    "disable_replication": ("replication", frozenset({"disabled"}), frozenset({"error"})),
    # a failover back to where the volume was created (a failback) ends `enabled`, any other `failed-over`
    "failover_replication": ("replication", frozenset({"failed-over", "enabled"}), frozenset({"error"})),
}


@dataclass(frozen=True)
class Completion:
    """One operation's outcome: ``ok``, ``fail`` or ``info`` (unknown); ``end`` is None when it never
    finished before the run did."""

    f: str
    intended: float
    end: float | None
    outcome: str
    volume: str | None = None
    index: int | None = None  # the client operation's index in the history, shared by its "(done)"

    @property
    def latency(self) -> float | None:
        return None if self.end is None else self.end - self.intended


class _Changes:
    """One volume's status changes in time order, for 'the first change to one of these after t'."""

    def __init__(self, changes: Iterable[Mapping[str, Any]]):
        self._by_volume: dict[str, tuple[list[float], list[str]]] = {}
        for change in sorted(changes, key=lambda c: c["time"]):
            times, states = self._by_volume.setdefault(change["volume"], ([], []))
            times.append(change["time"])
            states.append(change["to"])

    def first(self, volume: str, after: float, wanted: frozenset[str]) -> tuple[float, str] | None:
        times, states = self._by_volume.get(volume, ([], []))
        for i in range(bisect.bisect_left(times, after), len(times)):
            if states[i] in wanted:
                return times[i], states[i]
        return None


def completions(
    ops: Iterable[Mapping[str, Any]],
    status_changes: Iterable[Mapping[str, Any]] | None = None,
    transitions: Iterable[Mapping[str, Any]] | None = None,
) -> list[Completion]:
    """Every operation in the history (calls, then their background completions), in invocation order.
    Background completions are followed only through the status changes given (none when None)."""
    changes = {
        which: _Changes(given)
        for which, given in (("status", status_changes), ("replication", transitions))
        if given is not None
    }
    invoked: dict[int, Mapping[str, Any]] = {}
    finished: dict[int, Mapping[str, Any]] = {}
    for op in ops:
        (invoked if op["type"] == "invoke" else finished)[op["index"]] = op
    out: list[Completion] = []
    for index in sorted(invoked):
        call = invoked[index]
        intended = call.get("intended")
        intended = call["time"] if intended is None else intended
        reply = finished.get(index)
        if reply is None:  # still waiting when the run ended: its outcome is unknown
            out.append(Completion(call["f"], intended, None, "info", index=index))
            continue
        out.append(Completion(call["f"], intended, reply["time"], reply["type"], index=index))
        if reply["type"] == "ok" and call["f"] in FINISHED_BY and FINISHED_BY[call["f"]][0] in changes:
            out.append(_finish(call, reply, intended, changes))
    return out


def _finish(
    call: Mapping[str, Any], reply: Mapping[str, Any], intended: float, changes: Mapping[str, _Changes]
) -> Completion:
    which, good, bad = FINISHED_BY[call["f"]]
    value = reply.get("value") if call["f"] == "create_volume" else call.get("value")
    key = "id" if call["f"] == "create_volume" else "volume_id"
    volume = value.get(key) if isinstance(value, Mapping) else None
    # From the invocation, not the reply: live, the work can finish before the reply is recorded.
    found = changes[which].first(volume, intended, good | bad) if volume else None
    name, index = call["f"] + DONE_SUFFIX, call["index"]
    if found is None:
        return Completion(name, intended, None, "info", volume, index)
    when, state = found
    return Completion(name, intended, when, "ok" if state in good else "fail", volume, index)


def final_outcomes(done: Iterable[Completion]) -> dict[int, str]:
    """Each client operation's outcome as its user sees it, by history index: the one definition of
    success every output counts (terminal, HTML, JSON). A call Cinder finishes in the background
    succeeded only if the volume then reached the state it asked for; its ``(done)`` outcome wins."""
    outcomes: dict[int, str] = {}
    for completion in done:
        if completion.index is not None and (
            completion.index not in outcomes or completion.f.endswith(DONE_SUFFIX)
        ):
            outcomes[completion.index] = completion.outcome
    return outcomes


def outcome_totals(done: Iterable[Completion]) -> dict[str, Any]:
    """How many client operations succeeded, failed or are unknown, by ``final_outcomes``."""
    counts = {"ok": 0, "fail": 0, "info": 0}
    for outcome in final_outcomes(done).values():
        counts[outcome] += 1
    count = sum(counts.values())
    return {"count": count, **counts, "success_pct": 100.0 * counts["ok"] / count if count else None}


def operation_totals(run: Mapping[str, Any]) -> dict[str, Any]:
    """``outcome_totals`` of a run record (``run.json``'s content)."""
    return outcome_totals(completions(run["ops"], run.get("status_changes"), run.get("transitions")))


def totals_line(totals: Mapping[str, Any]) -> str:
    """``1,067 operations: 1,033 ok, 34 failed, 0 unknown (96.8 % ok)``: the same words everywhere."""
    pct = totals["success_pct"]
    return (
        f"{totals['count']:,} operations: {totals['ok']:,} ok, {totals['fail']:,} failed, "
        f"{totals['info']:,} unknown" + ("" if pct is None else f" ({pct:.1f} % ok)")
    )


@dataclass
class OperationStats:
    """Counts by outcome and a histogram of the successful operations' latencies (as Rally and fio
    report them: a fast refusal is not a fast create). Failures and unknowns are counted here and
    drawn, with their latencies, in the latency-over-time plot."""

    ok: int = 0
    fail: int = 0
    info: int = 0
    histogram: LatencyHistogram | None = None

    @property
    def count(self) -> int:
        return self.ok + self.fail + self.info

    def add(self, completion: Completion) -> None:
        setattr(self, completion.outcome, getattr(self, completion.outcome) + 1)
        if completion.outcome == "ok" and completion.latency is not None:
            if self.histogram is None:
                self.histogram = LatencyHistogram()
            self.histogram.record(completion.latency)

    def to_dict(self) -> dict[str, Any]:
        histogram = self.histogram or LatencyHistogram()
        return {
            "count": self.count,
            "ok": self.ok,
            "fail": self.fail,
            "info": self.info,
            "success_pct": 100.0 * self.ok / self.count if self.count else None,
            **histogram.summary(),
            "hdr": histogram.encode() if histogram.count else None,
        }


def operation_stats(done: Iterable[Completion]) -> dict[str, OperationStats]:
    """Per operation name, in the order names first appear."""
    stats: dict[str, OperationStats] = {}
    for completion in done:
        stats.setdefault(completion.f, OperationStats()).add(completion)
    return stats


def throughput(done: Iterable[Completion], end: float, buckets: int = 120) -> dict[str, Any]:
    """Operations finished per second in ``buckets`` equal slices of ``[0, end]``, per API call
    (background completions are the same operations, so they are not counted again)."""
    width = max(end, 1e-9) / buckets
    counts: dict[str, list[int]] = {}
    outcomes = {kind: [0] * buckets for kind in ("ok", "fail", "info")}
    for completion in done:
        if completion.end is None or completion.f.endswith(DONE_SUFFIX):
            continue
        slot = min(buckets - 1, max(0, int(completion.end / width)))
        counts.setdefault(completion.f, [0] * buckets)[slot] += 1
        outcomes[completion.outcome][slot] += 1
    per_second = 1.0 / width
    return {
        "bucket_s": width,
        "time": [width * (i + 0.5) for i in range(buckets)],
        "per_op": {f: [c * per_second for c in series] for f, series in sorted(counts.items())},
        "per_outcome": {k: [c * per_second for c in series] for k, series in outcomes.items()},
    }
