"""The trace: one JSON line per kernel event (send, deliver, drop, timeout, handler error, ...).

A day of a large world is millions of lines, so each line is made (sorted keys, compact) as its
event happens, hashed, and kept gzip-compressed in memory, a block at a time; the digest and the
file come from those blocks. The three events of every message (send, deliver, reply) have their
lines formatted directly, byte for byte what ``json.dumps`` would give, and the generic ``record``
covers the rest.
"""

from __future__ import annotations

import hashlib
import json
import threading
import zlib
from contextlib import AbstractContextManager, nullcontext
from json.encoder import encode_basestring_ascii
from pathlib import Path
from typing import Any

BLOCK = 8192  # lines hashed and compressed at a time
GZIP = 31  # zlib's wbits for a gzip container: the blocks, joined, are a .gz file


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
        self._quoted: dict[Any, str] = {}  # addresses and method names as JSON strings
        self._lock = threading.Lock() if threadsafe else None

    # -- recording --------------------------------------------------------------------------------

    def record(self, time: float, event: str, **fields: Any) -> None:
        if self.enabled:
            self._add(json.dumps({"t": round(time, 9), "ev": event, **fields}, sort_keys=True,
                                 separators=(",", ":"), default=str))

    def send(self, time: float, envelope: Any) -> None:
        """A kernel envelope (cast, call or reply) leaves its sender."""
        q = self._quote
        message = envelope.message
        method = q(message.method) if message is not None else f'"reply:{envelope.call_id}"'
        self._add(f'{{"dst":{q(envelope.dst)},"ev":"send","id":{envelope.id},"kind":{q(envelope.kind)},'
                  f'"method":{method},"src":{q(envelope.src)},"t":{round(time, 9)!r}}}')

    def deliver(self, time: float, envelope: Any) -> None:
        """A cast or call reaches its actor."""
        q = self._quote
        self._add(f'{{"dst":{q(envelope.dst)},"ev":"deliver","id":{envelope.id},'
                  f'"method":{q(envelope.message.method)},"t":{round(time, 9)!r}}}')

    def reply(self, time: float, envelope: Any) -> None:
        """A reply reaches the caller still waiting for it."""
        ok = "true" if envelope.error is None else "false"
        self._add(f'{{"call":{envelope.call_id},"ev":"reply","id":{envelope.id},"ok":{ok},'
                  f'"t":{round(time, 9)!r}}}')

    def _quote(self, value: Any) -> str:
        quoted = self._quoted.get(value)
        if quoted is None:
            quoted = self._quoted[value] = encode_basestring_ascii(str(value))
        return quoted

    def _add(self, line: str) -> None:
        if self._lock is not None:
            with self._lock:
                self._append(line)
        else:
            self._append(line)

    def _append(self, line: str) -> None:
        pending = self._pending
        pending.append(line)
        if len(pending) >= BLOCK:
            self._seal()

    def _seal(self) -> None:
        """Hash and compress the pending lines."""
        if self._pending:
            block = ("\n".join(self._pending) + "\n").encode()
            self._hash.update(block)
            self._blocks.append(self._gzip.compress(block))
            self._count += len(self._pending)
            self._pending = []

    def _guarded(self) -> AbstractContextManager[Any]:
        return self._lock if self._lock is not None else nullcontext()

    def _sealed(self) -> bytes:
        """Every line so far as one gzip file (the stream stays open for more)."""
        with self._guarded():
            self._seal()
            return b"".join(self._blocks) + self._gzip.copy().flush()

    # -- reading ----------------------------------------------------------------------------------

    def __len__(self) -> int:
        return self._count + len(self._pending)

    def lines(self) -> list[str]:
        return zlib.decompress(self._sealed(), GZIP).decode().splitlines()

    @property
    def records(self) -> list[dict[str, Any]]:
        """The events as dicts (parsed back from the lines: for tests and small runs)."""
        return [json.loads(line) for line in self.lines()]

    def write(self, path: str | Path) -> None:
        """Write the lines as a gzip file (``trace.jsonl.gz``: ``zcat`` reads it)."""
        Path(path).write_bytes(self._sealed())

    def digest(self) -> str:
        """SHA-256 over the JSON lines: equal digests mean byte-identical traces."""
        with self._guarded():
            self._seal()
            return self._hash.hexdigest()
