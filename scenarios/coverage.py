"""What runs exercised, not only whether they passed: which fault kinds met which client operations
and which replication statuses, and which status transitions were taken.

A fault kind *meets* an operation when the operation is invoked while a fault of that kind is active,
and a status when a volume enters it while one is; transitions are counted over the whole run. One
run's coverage is small plain data, so worker processes send it back and a sweep adds it up.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .checkers import LEGAL
from .runner import RunResult

__all__ = ["Coverage"]

NEW = "(new)"  # the 'from' of a volume's first replication status


@dataclass
class Coverage:
    """Counts over one run or many: the more cells are non-zero, the more a sweep tried."""

    runs: int = 0
    kinds: Counter[str] = field(default_factory=Counter)  # kind -> runs in which it began
    ops: Counter[str] = field(default_factory=Counter)  # operation -> invocations
    met_ops: Counter[tuple[str, str]] = field(default_factory=Counter)  # (kind, operation)
    met_statuses: Counter[tuple[str, str]] = field(default_factory=Counter)  # (kind, status entered)
    transitions: Counter[tuple[str, str]] = field(default_factory=Counter)  # (from, to)

    @classmethod
    def of(cls, result: RunResult) -> Coverage:
        """One run's coverage, from the injector's begin and end events (what really happened)."""
        spans: list[tuple[str, float, float]] = []
        open_: list[tuple[Any, float]] = []
        for event in result.fault_events:
            if event.phase == "begin":
                open_.append((event.fault, event.time))
            else:
                index = next(i for i, (fault, _) in enumerate(open_) if fault is event.fault)
                fault, began = open_.pop(index)
                spans.append((fault.kind, began, event.time))
        end = result.simulated_seconds
        spans += [(fault.kind, began, end) for fault, began in open_]

        def active(time: float) -> set[str]:
            return {kind for kind, began, ended in spans if began <= time < ended}

        coverage = cls(runs=1, kinds=Counter({kind for kind, _, _ in spans}))
        for op in result.record.history.ops:
            if op.type == "invoke":
                coverage.ops[op.f] += 1
                coverage.met_ops.update((kind, op.f) for kind in active(op.time))
        for change in result.record.transitions:
            coverage.transitions[(change.old or NEW, change.new)] += 1
            coverage.met_statuses.update((kind, change.new) for kind in active(change.time))
        return coverage

    def __add__(self, other: Coverage) -> Coverage:
        return Coverage(
            self.runs + other.runs,
            self.kinds + other.kinds,
            self.ops + other.ops,
            self.met_ops + other.met_ops,
            self.met_statuses + other.met_statuses,
            self.transitions + other.transitions,
        )

    @classmethod
    def total(cls, coverages: Iterable[Coverage]) -> Coverage:
        return sum(coverages, cls())

    # -- as data

    def to_json(self) -> dict[str, Any]:
        return {
            "runs": self.runs,
            "kinds": dict(sorted(self.kinds.items())),
            "ops": dict(sorted(self.ops.items())),
            "met_ops": _nested(self.met_ops),
            "met_statuses": _nested(self.met_statuses),
            "transitions": _nested(self.transitions),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Coverage:
        return cls(
            int(data["runs"]),
            Counter(data["kinds"]),
            Counter(data["ops"]),
            _flat(data["met_ops"]),
            _flat(data["met_statuses"]),
            _flat(data["transitions"]),
        )

    # -- as tables

    def table(self, kinds: Sequence[str]) -> list[str]:
        """Every kind in ``kinds`` (met or not, so gaps show) against every operation and status seen,
        then the transitions taken and the legal ones no run took."""
        statuses = sorted({to for _, to in self.transitions})
        lines = [
            f"coverage over {self.runs} runs: operations invoked while a fault of each kind was active "
            "(runs: in how many it began)"
        ]
        lines += _grid(kinds, sorted(self.ops), self.kinds, self.met_ops, short=_short_op)
        lines += ["", "replication statuses entered while a fault of each kind was active"]
        lines += _grid(kinds, statuses, self.kinds, self.met_statuses, short=lambda s: s)
        lines += ["", "replication_status transitions taken (from -> to: count)"]
        width = max((len(f"{a} -> {b}") for a, b in self.transitions), default=0)
        lines += [f"  {f'{a} -> {b}':<{width}}  {n:>8}" for (a, b), n in sorted(self.transitions.items())]
        untaken = sorted(f"{a or NEW} -> {b}" for a, b in LEGAL if (a or NEW, b) not in self.transitions)
        lines.append(f"  legal, never taken: {', '.join(untaken) if untaken else 'none'}")
        return lines


def _short_op(name: str) -> str:
    return name.removesuffix("_replication").removesuffix("_volume") if name.count("_") == 1 else name


def _grid(
    rows: Sequence[str],
    columns: Sequence[str],
    began: Counter[str],
    cells: Counter[tuple[str, str]],
    short: Any,
) -> list[str]:
    heads = [short(column) for column in columns]
    width = max([len("fault kind"), *(len(row) for row in rows)])
    widths = [
        max(len(head), len(str(max((cells[(row, column)] for row in rows), default=0))))
        for head, column in zip(heads, columns, strict=True)
    ]
    out = [
        "  "
        + f"{'fault kind':<{width}}  {'runs':>5}  "
        + "  ".join(f"{head:>{w}}" for head, w in zip(heads, widths, strict=True))
    ]
    for row in rows:
        counts = [cells[(row, column)] for column in columns]
        out.append(
            "  "
            + f"{row:<{width}}  {began[row]:>5}  "
            + "  ".join(f"{count or '.':>{w}}" for count, w in zip(counts, widths, strict=True))
        )
    return out


def _nested(pairs: Counter[tuple[str, str]]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for (a, b), count in sorted(pairs.items()):
        out.setdefault(a, {})[b] = count
    return out


def _flat(nested: Mapping[str, Mapping[str, int]]) -> Counter[tuple[str, str]]:
    return Counter({(a, b): count for a, inner in nested.items() for b, count in inner.items()})
