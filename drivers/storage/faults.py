"""Live faults on storage array processes, named as the fault catalog names them.

The faults are ``replisim.sim.faults.Fault`` values: an array is named by its array name and a link
by ``"source->target"``; ``inject`` begins a fault and ``heal`` ends it. Only the kinds a real
process can suffer are here; the simulator interprets the rest of the catalog.
"""

from __future__ import annotations

from collections.abc import Mapping

from replisim.drivers.emulated.link import mbps_to_kib_s
from replisim.sim.faults import Fault

from .process import StorageProcess

# array.pause (SIGSTOP) is live-only: the simulator's nearest kind is manager.pause.
LIVE_KINDS = ("array.crash", "array.pause", "link.down", "link.throttle")


class ArrayFaults:
    """Begins and ends faults on a set of running arrays, keyed by array name."""

    def __init__(self, arrays: Mapping[str, StorageProcess]):
        self.arrays = dict(arrays)

    def inject(self, fault: Fault) -> None:
        """``array.crash``: SIGKILL; ``array.pause``: SIGSTOP; ``link.down``: cut the source's link to
        the target; ``link.throttle``: cap it at ``bandwidth_mbps`` and add ``delay`` seconds."""
        if fault.kind == "array.crash":
            self._array(fault.target).kill()
        elif fault.kind == "array.pause":
            self._array(fault.target).pause()
        elif fault.kind == "link.down":
            source, peer = self._link(fault.target)
            source.cut_link(peer)
        elif fault.kind == "link.throttle":
            source, peer = self._link(fault.target)
            bandwidth = int(mbps_to_kib_s(float(fault.param("bandwidth_mbps"))) * 1024)
            source.slow_link(peer, delay=float(fault.params.get("delay", 0.0)), bandwidth=bandwidth)
        else:
            raise self._unsupported(fault)

    def heal(self, fault: Fault) -> None:
        """End a fault: a crashed array restarts with its data, a paused one resumes, a link is restored."""
        if fault.kind == "array.crash":
            self._array(fault.target).start()
        elif fault.kind == "array.pause":
            self._array(fault.target).resume()
        elif fault.kind in ("link.down", "link.throttle"):
            source, peer = self._link(fault.target)
            source.restore_link(peer)
        else:
            raise self._unsupported(fault)

    @staticmethod
    def _unsupported(fault: Fault) -> ValueError:
        return ValueError(f"fault kind {fault.kind!r} has no live form on storage arrays; "
                          f"live kinds: {', '.join(LIVE_KINDS)}")

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
