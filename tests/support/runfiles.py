"""Reading what a run directory holds, as a user would with ``zcat``."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

from replisim.scenarios.history import HISTORY_NAME


def text(path: Path) -> str:
    """A run file's text, decompressed when it is gzip (``*.gz``)."""
    return gzip.decompress(path.read_bytes()).decode() if path.suffix == ".gz" else path.read_text()


def history(out: Path) -> list[dict[str, Any]]:
    """The operations of the history a run wrote into ``out``, in order."""
    return [json.loads(line) for line in text(out / HISTORY_NAME).splitlines()]
