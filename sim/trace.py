"""The trace: one JSON line per kernel event (send, deliver, drop, timeout, handler error, ...)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any


class Trace:
    """Collects records in memory; ``enabled=False`` makes recording free for benchmarks."""

    def __init__(self, enabled: bool = True):
        self.enabled = enabled
        self.records: list[dict[str, Any]] = []

    def record(self, time: float, event: str, **fields: Any) -> None:
        if self.enabled:
            self.records.append({"t": round(time, 9), "ev": event, **fields})

    def lines(self) -> list[str]:
        return [json.dumps(r, sort_keys=True, separators=(",", ":"), default=str) for r in self.records]

    def write(self, path: str | Path) -> None:
        text = "\n".join(self.lines())
        Path(path).write_text(text + "\n" if text else "", encoding="utf-8")

    def digest(self) -> str:
        """SHA-256 over the JSON lines: equal digests mean byte-identical traces."""
        h = hashlib.sha256()
        for line in self.lines():
            h.update(line.encode())
            h.update(b"\n")
        return h.hexdigest()
