"""Seeded, named random streams: one master seed, one independent stream per subsystem.

Sharing one stream between, say, arrivals and service times correlates them and skews results;
naming the streams also keeps one subsystem's extra draws from shifting another's.
"""

from __future__ import annotations

import random
import uuid


class Streams:
    """Hands out ``random.Random`` instances derived from ``seed`` and a stream name."""

    def __init__(self, seed: int):
        self.seed = seed
        self._streams: dict[str, random.Random] = {}

    def __getitem__(self, name: str) -> random.Random:
        stream = self._streams.get(name)
        if stream is None:
            # str seeds hash with SHA-512 inside random: stable across processes and PYTHONHASHSEED.
            stream = self._streams[name] = random.Random(f"{self.seed}:{name}")
        return stream

    def uuid(self, name: str = "ids") -> str:
        """A version-4 UUID string drawn from a stream instead of ``os.urandom``."""
        return str(uuid.UUID(int=self[name].getrandbits(128), version=4))
