"""The storage fabric: every emulated array, the replication links between them, and the volumes'
write traffic. Replication pairs, failover and split brain span two arrays, so they live here.

One fabric per simulated world: the scenario runner builds one on the simulation clock and hands it
to each emulated driver; a driver built from ``cinder.conf`` alone (conformance runs, live use)
shares a named fabric on the wall clock.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from replisim import exception

from .array import GIB_IN_KIB, Copy, EmulatedArray
from .link import ReplicationLink, mbps_to_kib_s
from .writes import WriteHistory

DEFAULT_BANDWIDTH_MBPS = 1000.0
DEFAULT_LATENCY = 0.005


@dataclass(frozen=True)
class FailoverRecord:
    """What one failover cost: the writes the old primary had that the new one lacks (RPO)."""

    volume_id: str
    time: float
    source: str
    target: str
    mode: str
    source_writes: int
    target_writes: int
    lag: float
    rate: float = 0.0  # writes per second the old primary took over the lag window
    split: bool = False  # it resolved a split brain: the loser's writes since the split are lost
    in_sync: bool = True  # the target was current with its pair (a sync pair is never in sync while
    # it is suspended: enabled or re-formed while its peer was unreachable, or paused)

    @property
    def lost_writes(self) -> int:
        return max(0, self.source_writes - self.target_writes)

    def to_dict(self) -> dict[str, Any]:
        return {
            "volume_id": self.volume_id,
            "time": self.time,
            "source": self.source,
            "target": self.target,
            "mode": self.mode,
            "source_writes": self.source_writes,
            "target_writes": self.target_writes,
            "lost_writes": self.lost_writes,
            "lag": round(self.lag, 6),
            "rate": self.rate,
            "split": self.split,
            "in_sync": self.in_sync,
        }


class Fabric:
    """Arrays by name, links by ``source->target``, each volume's copies and write rate."""

    _named: ClassVar[dict[str, Fabric]] = {}

    def __init__(
        self,
        clock: Callable[[], float] | None = None,
        seed: int | str = 0,
        rngs: Callable[[str], random.Random] | None = None,
    ):
        started = time.monotonic()
        self.clock = clock or (lambda: time.monotonic() - started)
        self._rng = rngs or (lambda name: random.Random(f"{seed}:{name}"))
        self.arrays: dict[str, EmulatedArray] = {}
        self.links: dict[str, ReplicationLink] = {}
        self.owners: dict[str, str] = {}  # array name -> the backend that drives it
        self.rates: dict[str, float] = {}  # volume id -> writes per second its clients make
        self.failovers: list[FailoverRecord] = []
        self.split: dict[str, None] = {}  # volumes with two primaries, in the order they split
        self.home: dict[str, str] = {}  # volume id -> the array it was created on
        # volume id -> the backend serving it from another's array since a failover that left its
        # host as it was (every host failover, V2.1; a per-volume failover whose driver keeps the
        # volume): the backend that owns the array does not claim it. Changed only by ``serve``,
        # which keeps every change, timed, in ``serving``, so a checker can ask who served when.
        self.served_by: dict[str, str] = {}
        self.serving: list[tuple[float, str, str | None]] = []
        # array -> {volume id: [until, reports left]}: volumes whose replication changed, which the
        # backend driving that array reports until then (so a manager that missed an outcome learns it)
        self.changed: dict[str, dict[str, list[float]]] = {}
        self._link_faults: dict[str, set[str]] = {}
        # Indexes, so that a look-up costs the same on 100 arrays as on 2: each volume's copies by
        # array, the arrays in creation order (the order copies are listed in), each backend's
        # array, and the links leaving and reaching each array (in creation order).
        self._placed: dict[str, dict[str, Copy]] = {}
        self._rank: dict[str, int] = {}
        self._array_of: dict[str, str] = {}
        self._links_from: dict[str, list[ReplicationLink]] = {}
        self._links_to: dict[str, list[ReplicationLink]] = {}
        # Which copies each link feeds, kept until a copy is placed or removed or changes its role
        # or link (``_moved`` counts those): a report asks every interval while a link is down,
        # and scanning the target array each time made an outage cost O(volumes) per interval.
        self._moves = 0
        self._fed: dict[ReplicationLink, tuple[int, list[Copy]]] = {}

    @classmethod
    def named(cls, name: str) -> Fabric:
        """The process-wide fabric ``name`` (wall clock), for drivers built from config alone."""
        if name not in cls._named:
            cls._named[name] = Fabric(seed=name)
        return cls._named[name]

    @classmethod
    def for_runtime(cls, runtime: Any) -> Fabric:
        """A fabric on ``runtime``'s clock, drawing from its seeded streams (one per array)."""
        return cls(clock=lambda: runtime.now, rngs=lambda name: runtime.streams[name])

    @property
    def now(self) -> float:
        return self.clock()

    # -- arrays and links -------------------------------------------------------------------------

    def array(self, name: str) -> EmulatedArray:
        """The array ``name``, created with defaults on first mention (an unmanaged device, say)."""
        array = self.arrays.get(name)
        if array is None:
            array = self.arrays[name] = EmulatedArray(name, self._rng(f"array:{name}"))
            self._rank[name] = len(self._rank)
        return array

    def backend_serving(self, volume_id: str, array: str) -> str | None:
        """The backend a volume served from ``array`` belongs to: the one that failed over to the
        array with it (host failover), else the array's owner."""
        return self.served_by.get(volume_id) or self.owners.get(array)

    def serve(self, volume_id: str, backend: str | None) -> None:
        """From now ``backend`` serves the volume from whichever array holds its primary (None: the
        owner of that array does, as after a failover that moved the volume's host, or a failback)."""
        if self.served_by.get(volume_id) == backend:
            return
        if backend is None:
            del self.served_by[volume_id]
        else:
            self.served_by[volume_id] = backend
        self.serving.append((self.now, volume_id, backend))

    def set_owner(self, array: str, backend: str) -> None:
        """``backend`` drives ``array`` (its driver says so at set-up)."""
        if self.owners.get(array) != backend:
            self.owners[array] = backend
            self._array_of = {}
            for name, owner in self.owners.items():  # the first array a backend was given wins
                self._array_of.setdefault(owner, name)

    def array_of(self, backend: str) -> str:
        """The array a backend drives (its own name until its driver says otherwise)."""
        return self._array_of.get(backend, backend)

    def link(self, source: str, target: str) -> ReplicationLink:
        name = f"{source}->{target}"
        if name not in self.links:
            bandwidth = mbps_to_kib_s(DEFAULT_BANDWIDTH_MBPS)
            link = self.links[name] = ReplicationLink(
                source, target, bandwidth_kib_s=bandwidth, latency=DEFAULT_LATENCY, start=self.now
            )
            self._links_from.setdefault(source, []).append(link)
            self._links_to.setdefault(target, []).append(link)
            self._refresh_link(link)
        return self.links[name]

    def configure_link(
        self, source: str, target: str, *, bandwidth_mbps: float | None = None, latency: float | None = None
    ) -> ReplicationLink:
        link = self.link(source, target)
        if bandwidth_mbps is not None:
            link.set_bandwidth(self.now, mbps_to_kib_s(bandwidth_mbps))
        if latency is not None:
            link.latency = latency
        return link

    def set_link_fault(self, name: str, reason: str, active: bool) -> None:
        """Cut (or restore) a link for one reason; it carries data only when no reason holds."""
        source, _, target = name.partition("->")
        reasons = self._link_faults.setdefault(name, set())
        (reasons.add if active else reasons.discard)(reason)
        self._refresh_link(self.link(source, target))

    def link_faults(self, name: str) -> frozenset[str]:
        """The reasons that hold a link down (faults; none: it is up unless an array is down)."""
        return frozenset(self._link_faults.get(name, ()))

    def _refresh_link(self, link: ReplicationLink) -> None:
        now = self.now
        up = (
            not self._link_faults.get(link.name)
            and self.array(link.source).serving
            and self.array(link.target).serving
        )
        if up == link.up:
            return
        link.set_up(now, up)
        for copy in self._secondaries_on(link):
            if copy.mode == "sync" and not copy.paused:
                # A write is acknowledged only once the target has it: a pair in sync that loses its
                # link holds its primary's writes until the link returns (and resyncs at once then).
                if up:
                    copy.frozen, copy.since, copy.stalling = None, now, False
                elif copy.frozen is None:
                    copy.frozen, copy.stalling = self.array(copy.array).writes_of(copy, now), True
                if copy.source is not None:
                    self._apply_rate(copy.source, self.rates.get(copy.volume_id, 0.0))
            self._meter(copy)

    def links_between(self, source: str | None = None, target: str | None = None) -> list[ReplicationLink]:
        if source is not None:
            links = self._links_from.get(source, [])
        elif target is not None:
            links = self._links_to.get(target, [])
        else:
            links = list(self.links.values())
        return [link for link in links if target in (None, link.target)]

    def carried_by(self, link: ReplicationLink) -> list[Copy]:
        """The secondaries a link feeds, paused pairs excepted (they are meant to stand still)."""
        return [copy for copy in self._secondaries_on(link) if not copy.paused]

    def link_is_up(self, name: str) -> bool:
        return self.links[name].up if name in self.links else True

    # -- volumes ----------------------------------------------------------------------------------

    def copies(self, volume_id: str) -> list[Copy]:
        """The volume's copies, in the order their arrays were created."""
        placed = self._placed.get(volume_id)
        return list(placed.values()) if placed else []

    def _add(self, array: EmulatedArray, copy: Copy) -> None:
        """Place ``copy``, keeping a volume's copies in the order their arrays were created (so
        ``copies``, asked for every volume of every report, sorts nothing)."""
        array.add(copy)
        self._moved()
        placed = self._placed.setdefault(copy.volume_id, {})
        placed[array.name] = copy
        if len(placed) > 1:
            rank = self._rank
            ordered = sorted(placed.values(), key=lambda c: rank[c.array])
            if any(a is not b for a, b in zip(placed.values(), ordered, strict=True)):
                placed.clear()
                placed.update((c.array, c) for c in ordered)

    def _discard(self, array: EmulatedArray, volume_id: str) -> None:
        array.discard(volume_id, self.now)
        self._moved()
        placed = self._placed.get(volume_id)
        if placed is not None:
            placed.pop(array.name, None)
            if not placed:
                del self._placed[volume_id]

    def primary(self, volume_id: str) -> Copy | None:
        """The copy clients write to (during a split brain: the original, not the one the split promoted)."""
        primaries = [c for c in self.copies(volume_id) if c.role == "primary"]
        return next((c for c in primaries if c.split_from is None), primaries[0] if primaries else None)

    def secondaries(self, volume_id: str) -> list[Copy]:
        return [c for c in self.copies(volume_id) if c.role == "secondary"]

    def _secondaries_on(self, link: ReplicationLink) -> list[Copy]:
        known = self._fed.get(link)
        if known is not None and known[0] == self._moves:
            return known[1]
        copies = self.array(link.target).copies.values()
        fed = [c for c in copies if c.link is link and c.role == "secondary"]
        self._fed[link] = (self._moves, fed)
        return fed

    def _moved(self) -> None:
        """A copy was placed or removed, or changed its role or link."""
        self._moves += 1

    def create(self, array_name: str, volume_id: str, size_gb: int) -> Copy:
        array = self.array(array_name)
        array.require_up()
        if volume_id in array.copies:  # a retried create is not a second volume
            return array.copies[volume_id]
        array.check_room(size_gb, self.now)
        copy = Copy(volume_id, array_name, size_gb, history=WriteHistory(self.now))
        if not self._placed.get(volume_id):
            self.home[volume_id] = array_name  # kept after a delete: checkers judge the past
        self._add(array, copy)
        self._apply_rate(copy, self.rates.get(volume_id, 0.0))
        self._meter(copy)
        return copy

    def delete(self, array_name: str, volume_id: str) -> None:
        """Remove the volume from every array: the copy on ``array_name`` (which must answer), every
        replica, and every other primary a split brain left (deleting a volume leaves nothing)."""
        self.array(array_name).require_up()
        copies = list(self.copies(volume_id))
        for copy in copies:
            if copy.role == "primary":
                self._apply_rate(copy, 0.0)
        for copy in copies:
            if copy.role == "secondary":
                self._stop_pair(copy)
        for copy in copies:
            self._discard(self.array(copy.array), volume_id)
        self.rates.pop(volume_id, None)
        self.split.pop(volume_id, None)
        self.serve(volume_id, None)

    # -- writes -----------------------------------------------------------------------------------

    def set_write_rate(self, volume_id: str, rate: float) -> None:
        """Clients of ``volume_id`` write ``rate`` times a second from now on (to its primaries)."""
        self.rates[volume_id] = rate
        for copy in self.copies(volume_id):
            if copy.role == "primary":
                self._apply_rate(copy, rate)

    def write(self, volume_id: str, writes: int = 1) -> int:
        """Single writes to the volume's primary; returns the last write's number."""
        copy = self.primary(volume_id)
        if copy is None or copy.history is None:
            raise exception.VolumeNotFound(volume_id=volume_id)
        array = self.array(copy.array)
        array.require_up()
        if array.suspended:
            raise exception.VolumeBackendAPIException(data=f"array {array.name} is not answering")
        if any(s.stalling and s.source is copy for s in self.secondaries(volume_id)):
            raise exception.VolumeBackendAPIException(
                data=f"write to volume {volume_id} held: its sync replica is unreachable"
            )
        now = self.now
        count = copy.history.add(now, writes)
        for secondary in self.secondaries(volume_id):
            if secondary.source is copy and secondary.link is not None and secondary.mode == "async":
                secondary.link.add(now, writes * array.write_size_kb)
        self._remeter(volume_id)
        return count

    def writes(self, volume_id: str, array_name: str) -> int:
        """How many writes the copy on ``array_name`` holds now (0 when there is none)."""
        array = self.array(array_name)
        copy = array.copies.get(volume_id)
        return 0 if copy is None else array.writes_of(copy, self.now)

    def _apply_rate(self, copy: Copy, rate: float) -> None:
        """Set a primary copy's write rate (zero while its array is down, or while a sync pair of
        its waits for its link) and its links' input."""
        if copy.history is None:
            return
        array = self.array(copy.array)
        stalled = any(
            s.stalling and s.source is copy and s.role == "secondary"
            for s in self.secondaries(copy.volume_id)
        )
        effective = rate if array.serving and not stalled else 0.0
        now = self.now
        delta = effective - copy.history.rate
        if delta == 0:
            return
        copy.history.set_rate(now, effective)
        for secondary in self.secondaries(copy.volume_id):
            if (
                secondary.source is copy
                and secondary.link is not None
                and secondary.frozen is None
                and secondary.mode == "async"
            ):
                secondary.link.change_rate(now, delta * array.write_size_kb)
        self._remeter(copy.volume_id)

    def _meter(self, copy: Copy) -> None:
        """Re-state a copy's thin usage and its growth rate (between events, a secondary grows
        as its source does while its pair carries data)."""
        array = self.array(copy.array)
        now = self.now
        source = copy.source
        if copy.history is not None:
            rate = copy.history.rate
        elif (
            copy.frozen is None
            and source is not None
            and source.history is not None
            and copy.link is not None
            and copy.link.up
        ):
            rate = source.history.rate
        else:
            rate = 0.0
        per_write = array.write_size_kb / GIB_IN_KIB
        array.meter.set(
            copy.volume_id, now, array.writes_of(copy, now) * per_write, rate * per_write, copy.size_gb
        )

    def _remeter(self, volume_id: str) -> None:
        for copy in self.copies(volume_id):
            self._meter(copy)

    # -- replication pairs --------------------------------------------------------------------------

    def enable(self, volume_id: str, source_array: str, target_array: str, mode: str) -> Copy:
        """Start replicating the volume's copy on ``source_array`` to ``target_array`` (idempotent)."""
        source = self.array(source_array)
        source.require_up()
        primary = source.copies.get(volume_id)
        if primary is None or primary.role != "primary":
            raise exception.VolumeBackendAPIException(
                data=f"array {source_array} has no primary copy of volume {volume_id}"
            )
        target = self.array(target_array)
        target.require_up()
        existing = target.copies.get(volume_id)
        if existing is not None and existing.role == "secondary" and existing.source is primary:
            if existing.paused:  # resume a paused pair: resync, then ship again
                self._start_pair(existing, primary)
            return existing
        if existing is not None:
            raise exception.VolumeBackendAPIException(
                data=f"array {target_array} already holds a {existing.role} copy of volume {volume_id}"
            )
        target.check_room(primary.size_gb, self.now)
        copy = Copy(volume_id, target_array, primary.size_gb, role="secondary", mode=mode)
        self._add(target, copy)
        self._start_pair(copy, primary)
        return copy

    def _start_pair(self, copy: Copy, primary: Copy) -> None:
        now = self.now
        copy.source, copy.frozen, copy.since = primary, None, now
        copy.paused = copy.stalling = False
        copy.link = self.link(primary.array, copy.array)
        self._moved()
        if copy.mode == "sync" and not copy.link.up:  # never in sync yet: suspended, not stalling
            copy.frozen = primary.history.count_at(now) if primary.history else 0
        if copy.mode == "async" and primary.history is not None:
            copy.link.change_rate(now, primary.history.rate * self.array(primary.array).write_size_kb)
        self._meter(copy)

    def _stop_pair(self, copy: Copy) -> None:
        """Stop shipping to a secondary; it keeps what it had."""
        if copy.frozen is None:
            now = self.now
            copy.frozen = self.array(copy.array).writes_of(copy, now)
            source = copy.source
            if copy.mode == "async" and copy.link is not None and source and source.history is not None:
                copy.link.change_rate(now, -source.history.rate * self.array(source.array).write_size_kb)
            self._meter(copy)

    def pause(self, volume_id: str, source_array: str) -> None:
        """Disable replication: every pair fed by the copy on ``source_array`` stops shipping."""
        self.array(source_array).require_up()
        for copy in self.secondaries(volume_id):
            if copy.source is not None and copy.source.array == source_array:
                self._stop_pair(copy)
                copy.paused, copy.stalling = True, False
                self._apply_rate(copy.source, self.rates.get(volume_id, 0.0))

    def pair_state(self, copy: Copy) -> str:
        """replicating, paused, broken (link or source down) or split (a split brain holds)."""
        if copy.split_from is not None:
            return "split"
        if copy.paused:
            return "paused"
        if copy.link is None or not copy.link.up:
            return "broken"
        return "replicating"

    def lag(self, copy: Copy) -> float:
        if copy.mode == "sync" or copy.link is None or copy.frozen is not None:
            return 0.0
        return copy.link.lag(self.now)

    # -- failover -----------------------------------------------------------------------------------

    def failover(self, volume_id: str, target_array: str) -> FailoverRecord:
        """Promote the copy on ``target_array``; every other primary (the old one and, after a split
        brain, each copy the split promoted) becomes its secondary, so a second failover switches
        back and no split survives. Writes a demoted primary had that the target lacks are lost:
        one record per demoted primary; the one returned is the old (original) primary's."""
        now = self.now
        target = self.array(target_array)
        target.require_up()
        copy = target.copies.get(volume_id)
        if copy is None:
            raise exception.InvalidReplicationTarget(
                reason=f"array {target_array} holds no copy of volume {volume_id}"
            )
        losers = [c for c in self.copies(volume_id) if c.role == "primary" and c is not copy]
        if not losers:
            raise exception.InvalidReplicationTarget(
                reason=f"the copy of volume {volume_id} on {target_array} is already its primary"
            )
        losers.sort(key=lambda c: c.split_from is not None)  # the original primary first
        records = [self._loss(copy, loser, now) for loser in losers]
        if copy.role == "secondary":
            held = target.writes_of(copy, now)
            self._stop_pair(copy)
            copy.role, copy.history, copy.inherited = "primary", WriteHistory(now, held), held
            copy.source = copy.link = None
            copy.frozen, copy.paused, copy.stalling = None, False, False
            self._moved()
        self.failovers.extend(records)
        for loser in losers:
            fed = [
                other
                for other in self.secondaries(volume_id)
                if other.source is loser and other is not copy and other not in losers
            ]
            self._demote(loser, copy)
            for other in fed:
                self._stop_pair(other)
                self._start_pair(other, copy)
        copy.split_from = None
        self.split.pop(volume_id, None)
        self._apply_rate(copy, self.rates.get(volume_id, 0.0))
        self._remeter(volume_id)
        return records[0]

    def _loss(self, winner: Copy, loser: Copy, now: float) -> FailoverRecord:
        """What promoting ``winner`` costs the primary ``loser``: the writes it has that the winner
        lacks, and how stale the winner was (RPO in seconds)."""
        loser_array = self.array(loser.array)
        source_writes = loser.history.count_at(now) if loser.history else 0
        stopped = now if loser_array.up else loser_array.down_since
        in_sync = True
        if loser.split_from is not None:  # a copy the split promoted: its writes since then are lost
            held, lag, split = loser.inherited, now - loser.since, True
        elif winner.role == "primary":  # the winner is the split's copy: the original's are lost
            held, lag, split = winner.inherited, now - winner.since, True
        else:
            split = False
            held = self.array(winner.array).writes_of(winner, now)
            in_sync = winner.frozen is None or winner.stalling
            if winner.frozen is None and winner.mode == "async":
                lag = max(0.0, self.lag(winner) - (now - stopped))
            else:
                # A paused or broken copy stands still: it is as stale as the oldest write it lacks.
                oldest = loser.history.first_time_above(held) if loser.history else math.inf
                lag = max(0.0, stopped - oldest) if source_writes > held else 0.0
        # The rate clients wrote at over the lag window (what the window could have lost).
        window_start = stopped - lag
        made = source_writes - (loser.history.count_at(window_start) if loser.history else source_writes)
        rate = made / lag if lag > 0 else self.rates.get(winner.volume_id, 0.0)
        return FailoverRecord(
            winner.volume_id,
            now,
            loser.array,
            winner.array,
            winner.mode,
            source_writes,
            held,
            lag,
            rate,
            split=split,
            in_sync=in_sync,
        )

    def _demote(self, old: Copy, new: Copy) -> None:
        """The old primary becomes a secondary of the new one; its unreplicated writes are gone."""
        if old.history is not None:
            self._apply_rate(old, 0.0)
        old.role, old.history, old.split_from = "secondary", None, None
        old.mode = new.mode
        self._start_pair(old, new)

    def lost_in(self, record: FailoverRecord) -> int:
        """Writes lost by the whole failover ``record`` belongs to (a split can demote several)."""
        lost = 0
        for other in reversed(self.failovers):
            if other.time != record.time:
                break
            if other.volume_id == record.volume_id:
                lost += other.lost_writes
        return lost

    def split_volumes(self, array_name: str) -> list[str]:
        """Volumes with a primary on ``array_name`` and another primary elsewhere."""
        copies = self.array(array_name).copies
        return [v for v in self.split if v in copies and copies[v].role == "primary"]

    # -- array-wide faults --------------------------------------------------------------------------

    def crash(self, array_name: str) -> None:
        """The array stops: its volumes take no writes and its links carry nothing."""
        array = self.array(array_name)
        if not array.up:
            return
        for copy in array.copies.values():
            self._apply_rate(copy, 0.0)
        array.up = False
        array.down_since = self.now
        for link in list(self.links.values()):
            if array_name in (link.source, link.target):
                self._refresh_link(link)

    def restart(self, array_name: str) -> None:
        """The array comes back with every write it acknowledged."""
        array = self.array(array_name)
        if array.up:
            return
        array.up = True
        for link in list(self.links.values()):
            if array_name in (link.source, link.target):
                self._refresh_link(link)
        for copy in array.copies.values():
            if copy.role == "primary":
                self._apply_rate(copy, self.rates.get(copy.volume_id, 0.0))

    def suspend(self, array_name: str, until: float) -> None:
        """The array's controller stops answering until ``until`` or ``resume`` (a SIGSTOP): what it
        is asked to do waits for the pause to end, its volumes take no writes and its links carry
        nothing; unlike a crash it loses nothing and nobody sees it fail."""
        array = self.array(array_name)
        array.suspended, array.suspended_until = True, until
        self._refresh_array(array)

    def resume(self, array_name: str) -> None:
        """A paused array's controller answers again, with everything it held."""
        array = self.array(array_name)
        array.suspended, array.suspended_until = False, self.now
        self._refresh_array(array)

    def _refresh_array(self, array: EmulatedArray) -> None:
        """Its links and its volumes' write rates, after it stopped or started serving."""
        for link in list(self.links.values()):
            if array.name in (link.source, link.target):
                self._refresh_link(link)
        for copy in array.copies.values():
            if copy.role == "primary":
                self._apply_rate(copy, self.rates.get(copy.volume_id, 0.0))

    def split_brain(self, link_name: str, reason: str = "split_brain") -> list[str]:
        """Cut the link (for ``reason``) and promote its secondaries while their primaries keep
        taking writes; returns the volumes now split."""
        self.set_link_fault(link_name, reason, True)
        split = []
        link = self.links[link_name]
        now = self.now
        for copy in self.carried_by(link):  # a paused replica is not replicating: nothing promotes it
            primary = copy.source
            held = self.array(copy.array).writes_of(copy, now)
            behind = self.lag(copy)  # an async target was already this far behind at the split
            self._stop_pair(copy)
            copy.role, copy.history, copy.inherited = "primary", WriteHistory(now, held), held
            copy.source, copy.link, copy.frozen, copy.since = None, None, None, now - behind
            copy.paused = copy.stalling = False
            self._moved()
            copy.split_from = primary.array if primary else None
            self.split[copy.volume_id] = None
            rate = self.rates.get(copy.volume_id, 0.0)
            self._apply_rate(copy, rate)
            if primary is not None:  # it no longer waits on a partner: it takes writes on its own
                self._apply_rate(primary, rate)
            self._remeter(copy.volume_id)
            split.append(copy.volume_id)
        return split
