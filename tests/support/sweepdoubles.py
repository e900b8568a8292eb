"""A stand-in for the scenario runner in sweep tests: verdicts fixed by the seed, importable by
worker processes (tests/ is on their path)."""

from __future__ import annotations

import hashlib
import os
from typing import Any


def run_one(scenario_path: str, seed: int) -> dict[str, Any]:
    """'liveness' fails on multiples of 7, 'data' on multiples of 5, and seed 13 crashes."""
    if seed == 13:
        raise RuntimeError("the runner fell over on seed 13")
    with open(scenario_path, encoding="utf-8") as handle:
        text = handle.read()
    return {
        "seed": seed,
        "digest": hashlib.sha256(f"{text}:{seed}".encode()).hexdigest()[:16],
        "verdicts": {
            "liveness": {"ok": seed % 7 != 0, "witness": None if seed % 7 else {"volume": f"v{seed}"}},
            "data": {"ok": seed % 5 != 0, "witness": None if seed % 5 else {"lost_writes": seed}},
        },
        "pid": os.getpid(),
        "hash_seed": os.environ.get("PYTHONHASHSEED"),
    }
