"""What a run observed: the clients' operation history and every replication status change.

The operation history follows Jepsen's shape: each operation is an ``invoke`` followed by exactly
one of ``ok`` (it happened), ``fail`` (it certainly did not) or ``info`` (unknown: the client timed
out). Latency is measured from the *intended* send time, so a stalled client cannot hide a stall.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from replisim.actors.db import Repository
from replisim.sim.errors import MessagingTimeout


@dataclass(frozen=True, slots=True)
class Op:
    """One line of the history (slotted: a large run records millions)."""

    index: int
    process: str
    type: str  # invoke | ok | fail | info
    f: str
    time: float
    value: Any = None
    intended: float | None = None  # on invoke: when the workload meant to send it
    error: str | None = None


OP_FIELDS = tuple(f.name for f in fields(Op))


def outcome_of(error: BaseException | None) -> str:
    """``fail`` for an error the API reported, ``info`` when the outcome is unknown."""
    if error is None:
        return "ok"
    return "info" if isinstance(error, MessagingTimeout) else "fail"


@dataclass
class History:
    ops: list[Op] = field(default_factory=list)
    _open: dict[int, Op] = field(default_factory=dict)

    def invoke(self, process: str, f: str, value: Any, now: float, intended: float | None = None) -> int:
        index = len(self.ops)
        op = Op(index, process, "invoke", f, now, value, intended if intended is not None else now)
        self.ops.append(op)
        self._open[index] = op
        return index

    def complete(self, index: int, now: float, value: Any = None, error: BaseException | None = None) -> Op:
        invoked = self._open.pop(index)
        kind = outcome_of(error)
        text = None if error is None else f"{type(error).__name__}: {error}"
        op = Op(
            invoked.index,
            invoked.process,
            kind,
            invoked.f,
            now,
            value if error is None else None,
            invoked.intended,
            text,
        )
        self.ops.append(op)
        return op

    def pairs(self) -> list[tuple[Op, Op]]:
        """(invoke, completion) for every completed operation, in invocation order."""
        invokes = {op.index: op for op in self.ops if op.type == "invoke"}
        done = sorted((op for op in self.ops if op.type != "invoke"), key=lambda op: op.index)
        return [(invokes[op.index], op) for op in done]

    def write(self, path: Path) -> None:
        """The history as JSON lines, one operation each (``history.jsonl``)."""
        with path.open("w") as out:
            for op in self.ops:
                out.write(json.dumps(asdict(op), sort_keys=True, default=str) + "\n")


def for_report(op: Op) -> dict[str, Any]:
    """An operation as ``run.json`` keeps it. history.jsonl holds every answer whole; of an answer
    the report reads only the id of the volume a create made, so that is all run.json keeps (a
    get_volume answer is a whole row, and a large run polls millions of them)."""
    value = op.value
    if op.type != "invoke":
        made = op.f == "create_volume" and isinstance(value, Mapping) and "id" in value
        value = {"id": value["id"]} if made else None
    return {**{name: getattr(op, name) for name in OP_FIELDS}, "value": value}


@dataclass(frozen=True)
class Transition:
    time: float
    volume_id: str
    old: str | None
    new: str
    reason: str | None = None
    host: str | None = None  # the volume's host and location as the change left them
    location: str | None = None


class RecordingRepository:
    """Wraps a repository and records every ``replication_status`` (and volume ``status``) change,
    whoever makes it, so checkers judge what really happened to the database."""

    def __init__(self, inner: Repository, clock: Any):
        self._inner = inner
        self._clock = clock
        self.transitions: list[Transition] = []
        self.status_changes: list[Transition] = []

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._inner, name)
        if callable(value):  # a method of the inner repository: found once, not on every call
            setattr(self, name, value)
        return value

    @property
    def available(self) -> bool:
        return bool(self._inner.available)

    @available.setter
    def available(self, value: bool) -> None:
        self._inner.available = value

    def _record(self, before: Mapping[str, Any] | None, after: Mapping[str, Any] | None) -> None:
        if after is None:
            return
        now = self._clock()
        old_rep = before.get("replication_status") if before else None
        if after.get("replication_status") != old_rep:
            self.transitions.append(
                Transition(
                    now,
                    after["id"],
                    old_rep,
                    after["replication_status"],
                    after.get("replication_extended_status"),
                    after.get("host"),
                    after.get("provider_location"),
                )
            )
        old_status = before.get("status") if before else None
        if after.get("status") != old_status:
            self.status_changes.append(
                Transition(now, after["id"], old_status, after["status"], after.get("status_reason"))
            )

    def volume_create(self, values: Mapping[str, Any], *, within_quota: bool = False) -> dict[str, Any]:
        row = self._inner.volume_create(values, within_quota=within_quota)
        self._record(None, row)
        return row

    def volume_update(self, volume_id: str, values: Mapping[str, Any]) -> dict[str, Any]:
        before = self._inner.volume_get(volume_id)
        row = self._inner.volume_update(volume_id, values)
        self._record(before, row)
        return row

    def volume_conditional_update(
        self,
        volume_id: str,
        expected: Mapping[str, Any],
        values: Mapping[str, Any],
        *,
        within_quota: bool = False,
    ) -> dict[str, Any] | None:
        before = self._inner.volume_get(volume_id)
        row = self._inner.volume_conditional_update(volume_id, expected, values, within_quota=within_quota)
        self._record(before, row)
        return row

    def volume_destroy(self, volume_id: str) -> None:
        before = self._inner.volume_get(volume_id)
        self._inner.volume_destroy(volume_id)
        self.status_changes.append(Transition(self._clock(), volume_id, before.get("status"), "deleted"))


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` whole or not at all (a reader never sees half a record or report)."""
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)


class OutputError(ValueError):
    """An output directory cannot be written: ``--out DIR: cannot write there: reason``."""


def prepare_output_dir(out: Path, option: str = "--out") -> Path:
    """Create ``out`` and prove it writable before any work starts, so that a bad path (under a file,
    under /proc, read-only) costs nothing and loses nothing."""
    try:
        if out.exists() and not out.is_dir():
            raise NotADirectoryError(20, "it is a file, not a directory")
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".replisim-write-probe"
        probe.touch()
        probe.unlink()
    except OSError as exc:
        raise OutputError(f"{option} {out}: cannot write there: {exc.strerror or exc}") from None
    return out
