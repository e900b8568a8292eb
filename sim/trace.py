"""The trace: one JSON line per kernel event (send, deliver, drop, timeout, handler error, ...).

A day of a large world is millions of lines, so each line is made (sorted keys, compact) as its
event happens, hashed, and kept gzip-compressed a block at a time (in memory, then past a few
megabytes in a temporary file); the digest and the file come from those blocks. The three events
of every message (send, deliver, reply) have their lines formatted directly, byte for byte what
``json.dumps`` would give, and the generic ``record`` covers the rest.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import tempfile
import threading
import zlib
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from json.encoder import encode_basestring_ascii
from pathlib import Path
from typing import Any, BinaryIO

BLOCK = 8192  # lines hashed and compressed at a time
SPOOL_AFTER = 8 << 20  # compressed bytes kept in memory before the blocks go to a temporary file
GZIP = 31  # zlib's wbits for a gzip container: the blocks, joined, are a .gz file


def _quote(value: Any) -> str:
    """A string (or an address) as a JSON string, as json.dumps writes it."""
    return encode_basestring_ascii(str(value))


class Trace:
    """Records kernel events; ``enabled=False`` makes recording free for benchmarks. A live
    runtime records from many threads and passes ``threadsafe=True``."""

    def __init__(self, enabled: bool = True, *, threadsafe: bool = False):
        self.enabled = enabled
        self._pending: list[str] = []
        self._count = 0
        self._hash = hashlib.sha256()
        self._gzip = zlib.compressobj(1, zlib.DEFLATED, GZIP)
        self._blocks: list[bytes] = []
        self._kept = 0  # bytes in _blocks
        self._spool: BinaryIO | None = None
        self._lock = threading.Lock() if threadsafe else None
        self._add: Callable[[str], None] = self._append if self._lock is None else self._append_locked
        # The fixed parts of send and deliver lines, per (sender, receiver, kind, method): a world
        # has few of those and sends millions of messages.
        self._parts: dict[tuple[Any, ...], tuple[str, ...]] = {}
        self._t: float = -1.0
        self._t_text = ""

    # -- recording --------------------------------------------------------------------------------

    def record(self, time: float, event: str, **fields: Any) -> None:
        if self.enabled:
            self._add(
                json.dumps(
                    {"t": round(time, 9), "ev": event, **fields},
                    sort_keys=True,
                    separators=(",", ":"),
                    default=str,
                )
            )

    def _time(self, time: float) -> str:
        """``time`` as the lines give it (many events share an instant)."""
        if time != self._t or type(time) is not type(self._t):
            self._t, self._t_text = time, repr(round(time, 9))
        return self._t_text

    def send(self, time: float, envelope: Any) -> None:
        """A kernel envelope (cast, call or reply) leaves its sender."""
        message = envelope.message
        if message is not None:
            key: tuple[Any, ...] = (envelope.src, envelope.dst, envelope.kind, message.method)
            parts = self._parts.get(key) or self._cache(
                key,
                (
                    f'{{"dst":{_quote(envelope.dst)},"ev":"send","id":',
                    f',"kind":{_quote(envelope.kind)},"method":{_quote(message.method)},'
                    f'"src":{_quote(envelope.src)},"t":',
                ),
            )
            self._add(f"{parts[0]}{envelope.id}{parts[1]}{self._time(time)}}}")
        else:
            key = (envelope.src, envelope.dst, envelope.kind)
            parts = self._parts.get(key) or self._cache(
                key,
                (
                    f'{{"dst":{_quote(envelope.dst)},"ev":"send","id":',
                    f',"kind":{_quote(envelope.kind)},"method":"reply:',
                    f'","src":{_quote(envelope.src)},"t":',
                ),
            )
            self._add(f"{parts[0]}{envelope.id}{parts[1]}{envelope.call_id}{parts[2]}{self._time(time)}}}")

    def deliver(self, time: float, envelope: Any) -> None:
        """A cast or call reaches its actor."""
        key = (envelope.dst, envelope.message.method)
        parts = self._parts.get(key) or self._cache(
            key,
            (
                f'{{"dst":{_quote(envelope.dst)},"ev":"deliver","id":',
                f',"method":{_quote(envelope.message.method)},"t":',
            ),
        )
        self._add(f"{parts[0]}{envelope.id}{parts[1]}{self._time(time)}}}")

    def reply(self, time: float, envelope: Any) -> None:
        """A reply reaches the caller still waiting for it."""
        ok = "true" if envelope.error is None else "false"
        self._add(
            f'{{"call":{envelope.call_id},"ev":"reply","id":{envelope.id},"ok":{ok},"t":{self._time(time)}}}'
        )

    def _cache(self, key: tuple[Any, ...], parts: tuple[str, ...]) -> tuple[str, ...]:
        self._parts[key] = parts
        return parts

    def _append(self, line: str) -> None:
        pending = self._pending
        pending.append(line)
        if len(pending) >= BLOCK:
            self._seal()

    def _append_locked(self, line: str) -> None:
        assert self._lock is not None
        with self._lock:
            self._append(line)

    def _seal(self) -> None:
        """Hash and compress the pending lines."""
        if self._pending:
            block = ("\n".join(self._pending) + "\n").encode()
            self._hash.update(block)
            self._store(self._gzip.compress(block))
            self._count += len(self._pending)
            self._pending = []

    def _store(self, compressed: bytes) -> None:
        """Keep a compressed block: in memory, or past SPOOL_AFTER bytes in a temporary file."""
        if self._spool is None:
            self._blocks.append(compressed)
            self._kept += len(compressed)
            if self._kept > SPOOL_AFTER:
                # lives as long as the trace; the OS removes it when it is closed
                self._spool = tempfile.TemporaryFile(prefix="replisim-trace-")  # noqa: SIM115
                self._spool.writelines(self._blocks)
                self._blocks = []
        else:
            self._spool.write(compressed)

    def _guarded(self) -> AbstractContextManager[Any]:
        return self._lock if self._lock is not None else nullcontext()

    def _gzip_to(self, out: BinaryIO) -> None:
        """Write every line so far to ``out`` as one gzip file (the stream stays open for more)."""
        with self._guarded():
            self._seal()
            if self._spool is not None:
                self._spool.seek(0)
                shutil.copyfileobj(self._spool, out)
                self._spool.seek(0, io.SEEK_END)
            out.writelines(self._blocks)
            out.write(self._gzip.copy().flush())

    # -- reading ----------------------------------------------------------------------------------

    def __len__(self) -> int:
        return self._count + len(self._pending)

    def lines(self) -> list[str]:
        out = io.BytesIO()
        self._gzip_to(out)
        return zlib.decompress(out.getvalue(), GZIP).decode().splitlines()

    @property
    def records(self) -> list[dict[str, Any]]:
        """The events as dicts (parsed back from the lines: for tests and small runs)."""
        return [json.loads(line) for line in self.lines()]

    def write(self, path: str | Path) -> None:
        """Write the lines as a gzip file (``trace.jsonl.gz``: ``zcat`` reads it)."""
        with Path(path).open("wb") as out:
            self._gzip_to(out)

    def digest(self) -> str:
        """SHA-256 over the JSON lines: equal digests mean byte-identical traces."""
        with self._guarded():
            self._seal()
            return self._hash.hexdigest()
