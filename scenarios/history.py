"""What a run observed: the clients' operation history and every replication status change.

The operation history follows Jepsen's shape: each operation is an ``invoke`` followed by exactly
one of ``ok`` (it happened), ``fail`` (it certainly did not) or ``info`` (unknown: the client timed
out). Latency is measured from the *intended* send time, so a stalled client cannot hide a stall.
"""

from __future__ import annotations

import gzip
import json
import logging
import os
import zlib
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from replisim.actors.db import Repository
from replisim.sim.errors import MessagingTimeout

PACK_AT = 512  # an answer whose compact JSON is this long or longer is kept packed
# A large run's history is hundreds of MB of JSON lines (1.3 GB for 100,000 volumes over a day):
# gzip keeps it about a tenth of that, and ``zcat`` reads it.
HISTORY_NAME = "history.jsonl.gz"


class Packed:
    """An answer kept as zlib-compressed compact JSON: a volume row or a listing costs a tenth of
    its objects' memory, and a large run keeps hundreds of thousands of them. Read it through
    ``Op.answer``, never directly."""

    __slots__ = ("data",)

    def __init__(self, data: bytes):
        self.data = data

    def unpack(self) -> Any:
        return json.loads(zlib.decompress(self.data))

    def __eq__(self, other: object) -> bool:
        """The same answer: packing is deterministic, so equal answers pack to equal bytes (two
        runs of one seed have equal histories)."""
        return type(other) is Packed and other.data == self.data

    def __hash__(self) -> int:
        return hash(self.data)

    def __repr__(self) -> str:
        return f"Packed({len(self.data)} bytes)"


def pack(value: Any) -> Any:
    """``value`` packed when it is a large mapping or list, otherwise as it is. The JSON is the
    text ``history.jsonl.gz`` holds of it, so unpacking gives what that file holds."""
    if not isinstance(value, dict | list):
        return value
    try:
        text = _COMPACT.encode(value)
    except (TypeError, ValueError):
        return value
    if len(text) < PACK_AT:
        return value
    # A small window and little memory: zlib.compress's defaults set up 256 KiB per call, which
    # cost seven times the compression of a 1 KiB row.
    packer = zlib.compressobj(1, zlib.DEFLATED, 12, 4)
    return Packed(packer.compress(text.encode()) + packer.flush())


_COMPACT = json.JSONEncoder(separators=(",", ":"), default=str)


@dataclass(frozen=True, slots=True)
class Op:
    """One line of the history (slotted: a large run records millions). A completion's large
    answer is kept packed: read ``answer``, not ``value``."""

    index: int
    process: str
    type: str  # invoke | ok | fail | info
    f: str
    time: float
    value: Any = None
    intended: float | None = None  # on invoke: when the workload meant to send it
    error: str | None = None

    @property
    def answer(self) -> Any:
        """The value: an invocation's arguments or a completion's answer, unpacked."""
        value = self.value
        return value.unpack() if type(value) is Packed else value

    @property
    def answer_text(self) -> str:
        """The value as compact JSON text, a packed one without building its objects (a search
        of every answer, as for a leaked secret, would otherwise decode and re-encode each)."""
        value = self.value
        return zlib.decompress(value.data).decode() if type(value) is Packed else _COMPACT.encode(value)

    def to_dict(self) -> dict[str, Any]:
        """The operation as plain data, its answer unpacked (as ``history.jsonl.gz`` holds it)."""
        return {**{name: getattr(self, name) for name in OP_FIELDS}, "value": self.answer}

    def to_line(self) -> str:
        """``to_dict`` as one JSON line, keys sorted, its value spliced in as ``answer_text``:
        decoding every packed answer to re-encode it cost a large run's write two thirds of its time."""
        head = json.dumps(
            {name: getattr(self, name) for name in OP_FIELDS if name != "value"}, sort_keys=True
        )
        return f'{head[:-1]}, "value": {self.answer_text}}}\n'  # "value" sorts after every other field


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
            pack(value) if error is None else None,
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
        """The history as gzip-compressed JSON lines, one operation each (``history.jsonl.gz``);
        the same history writes the same bytes (no time or name in the gzip header)."""
        with path.open("wb") as raw, gzip.GzipFile("", "wb", 1, raw, mtime=0) as out:
            for op in self.ops:
                out.write(op.to_line().encode())


def for_report(op: Op) -> dict[str, Any]:
    """An operation as ``run.json`` keeps it. history.jsonl.gz holds every answer whole; of an answer
    the report reads only the id of the volume a create made, so that is all run.json keeps (a
    get_volume answer is a whole row, and a large run polls millions of them)."""
    value = op.value
    if op.type != "invoke":
        value = op.answer if op.f == "create_volume" else None
        value = {"id": value["id"]} if isinstance(value, Mapping) and "id" in value else None
    return {**{name: getattr(op, name) for name in OP_FIELDS}, "value": value}


@dataclass(frozen=True, slots=True)
class Transition:
    time: float
    volume_id: str
    old: str | None
    new: str
    reason: str | None = None
    host: str | None = None  # the volume's host and location as the change left them
    location: str | None = None


# The columns of a service row whose changes are recorded: its replication state (Replication
# V2.1's host failover) and whether and why it is disabled (a freeze, a failover, a failed set-up).
SERVICE_STATE = ("replication_status", "active_backend_id", "frozen", "disabled", "disabled_reason")


@dataclass(frozen=True)
class ServiceChange:
    """A service row's state (``SERVICE_STATE``) as a write left it, when that write changed it."""

    time: float
    host: str
    binary: str
    replication_status: str | None
    active_backend_id: str | None
    frozen: bool
    disabled: bool
    disabled_reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class RecordingRepository:
    """Wraps a repository and records every ``replication_status`` (and volume ``status``) change,
    and every change of a service's replication state, whoever makes it, so checkers judge what
    really happened to the database. Recording only reads what the writes return: it adds no
    database access of its own, so a run's trace is the same with or without it."""

    def __init__(self, inner: Repository, clock: Any):
        self._inner = inner
        self._clock = clock
        self.transitions: list[Transition] = []
        self.status_changes: list[Transition] = []
        self.service_changes: list[ServiceChange] = []
        self._service_state: dict[tuple[str, str], tuple[Any, ...]] = {}  # (host, binary) -> as last written

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

    def _statuses(self, volume_id: str) -> tuple[Any, Any]:
        """The volume's (status, replication_status) before a write: from the inner repository's
        ``volume_statuses`` where it has one (no copy of the row), else from its row."""
        statuses = getattr(self._inner, "volume_statuses", None)
        if statuses is not None:
            return statuses(volume_id)
        row = self._inner.volume_get(volume_id)
        return row.get("status"), row.get("replication_status")

    def _record(self, before: tuple[Any, Any] | None, after: Mapping[str, Any] | None) -> None:
        if after is None:
            return
        now = self._clock()
        old_status, old_rep = before if before is not None else (None, None)
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
        if after.get("status") != old_status:
            self.status_changes.append(
                Transition(now, after["id"], old_status, after["status"], after.get("status_reason"))
            )

    def volume_create(self, values: Mapping[str, Any], *, within_quota: bool = False) -> dict[str, Any]:
        row = self._inner.volume_create(values, within_quota=within_quota)
        self._record(None, row)
        return row

    def volume_update(self, volume_id: str, values: Mapping[str, Any]) -> dict[str, Any]:
        before = self._statuses(volume_id)
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
        before = self._statuses(volume_id)
        row = self._inner.volume_conditional_update(volume_id, expected, values, within_quota=within_quota)
        self._record(before, row)
        return row

    def _record_service(self, row: Mapping[str, Any] | None) -> None:
        """Record the service row a write returned if its state differs from the last one written."""
        if row is None:
            return
        key = (row["host"], row["binary"])
        state = tuple(row.get(name) for name in SERVICE_STATE)
        if self._service_state.get(key) == state:
            return
        self._service_state[key] = state
        self.service_changes.append(
            ServiceChange(
                self._clock(),
                row["host"],
                row["binary"],
                row.get("replication_status"),
                row.get("active_backend_id"),
                bool(row.get("frozen")),
                bool(row.get("disabled")),
                row.get("disabled_reason"),
            )
        )

    def service_update_or_create(self, host: str, binary: str, values: Mapping[str, Any]) -> dict[str, Any]:
        row = self._inner.service_update_or_create(host, binary, values)
        self._record_service(row)
        return row

    def service_conditional_update(
        self, host: str, binary: str, expected: Mapping[str, Any], values: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        row = self._inner.service_conditional_update(host, binary, expected, values)
        self._record_service(row)
        return row

    def volume_destroy(self, volume_id: str) -> None:
        status, _ = self._statuses(volume_id)
        self._inner.volume_destroy(volume_id)
        self.status_changes.append(Transition(self._clock(), volume_id, status, "deleted"))


@dataclass(frozen=True)
class LogLine:
    """A warning or error a logger gave during a run, at the run's time."""

    time: float
    level: str
    message: str


class _Keep(logging.Handler):
    def __init__(self, clock: Callable[[], float], lines: list[LogLine]):
        super().__init__(logging.WARNING)
        self._clock = clock
        self._lines = lines

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._lines.append(LogLine(float(self._clock()), record.levelname, record.getMessage()))
        except Exception:  # a record that cannot be formatted is logging's to report, not the run's
            self.handleError(record)


@contextmanager
def logged(name: str, clock: Callable[[], float]) -> Iterator[list[LogLine]]:
    """The warnings and errors logger ``name`` gives while the block runs (as well as wherever its
    records already go): what a manager said when a driver refused, which the database does not
    keep. It neither changes the logger's level nor does anything a run's trace sees."""
    lines: list[LogLine] = []
    handler = _Keep(clock, lines)
    logger = logging.getLogger(name)
    logger.addHandler(handler)
    try:
        yield lines
    finally:
        logger.removeHandler(handler)


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
