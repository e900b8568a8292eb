"""Live faults on storage array processes, named as the fault catalog names them.

An array is named by its array name and a link by ``"source->target"``; ``inject`` starts a fault
and ``heal`` ends it. Only the kinds a real process can suffer are here; the simulator interprets
the rest of the catalog.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .storage_process import StorageProcess

LIVE_KINDS = ("array.crash", "array.pause", "link.down", "link.throttle")


class ArrayFaults:
    """Injects and heals faults on a set of running arrays, keyed by array name."""

    def __init__(self, arrays: Mapping[str, StorageProcess]):
        self.arrays = dict(arrays)

    def inject(self, kind: str, target: str, params: Mapping[str, Any] | None = None) -> None:
        """``array.crash``: SIGKILL; ``array.pause``: SIGSTOP; ``link.down``: cut the source's link to
        the target; ``link.throttle``: cap it at ``bandwidth_mbps`` and add ``delay`` seconds."""
        params = params or {}
        if kind == "array.crash":
            self._array(target).kill()
        elif kind == "array.pause":
            self._array(target).pause()
        elif kind == "link.down":
            source, peer = self._link(target)
            source.cut_link(peer)
        elif kind == "link.throttle":
            source, peer = self._link(target)
            mbps = float(params.get("bandwidth_mbps", 0.0))
            source.slow_link(peer, delay=float(params.get("delay", 0.0)), bandwidth=int(mbps * 1_000_000 / 8))
        else:
            raise ValueError(f"fault kind {kind!r} has no live form; live kinds: {', '.join(LIVE_KINDS)}")

    def heal(self, kind: str, target: str) -> None:
        """End a fault: a crashed array restarts with its data, a paused one resumes, a link is restored."""
        if kind == "array.crash":
            self._array(target).start()
        elif kind == "array.pause":
            self._array(target).resume()
        elif kind in ("link.down", "link.throttle"):
            source, peer = self._link(target)
            source.restore_link(peer)
        else:
            raise ValueError(f"fault kind {kind!r} has no live form; live kinds: {', '.join(LIVE_KINDS)}")

    def _array(self, name: str) -> StorageProcess:
        try:
            return self.arrays[name]
        except KeyError:
            raise ValueError(f"no array named {name!r}; arrays: {', '.join(sorted(self.arrays))}") from None

    def _link(self, target: str) -> tuple[StorageProcess, StorageProcess]:
        source, arrow, peer = target.partition("->")
        if not arrow:
            raise ValueError(f"link target {target!r} must be 'source->target' (array names)")
        return self._array(source.strip()), self._array(peer.strip())
