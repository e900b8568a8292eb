"""Replication between storage arrays: shipping writes to a peer, and receiving them from one.

A primary volume's acknowledged writes wait in its journal until the peer has applied and fsynced
them. ``sync`` ships inline, before the write is acknowledged; ``async`` leaves it to a background
shipper, so the age of the oldest unshipped write is the lag. A replica starts from a full copy of
the volume's data (the baseline), then applies writes strictly in generation order.

Each volume carries an epoch that a promotion raises: an array refuses writes from an older epoch,
and an old primary that meets a newer one demotes itself, so a failed-over pair has one writer.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any, NoReturn, TypeVar

from .client import ArrayClient, ArrayError, parse_address
from .volumes import (
    CHUNK,
    PRIMARY,
    REPLICA,
    StorageError,
    Volume,
    VolumeStore,
    decode,
    encode,
    write_json_atomically,
)

LOG = logging.getLogger("replisim.array")
MODES = ("sync", "async")
T = TypeVar("T")


class ReplicationFailed(Exception):
    """The peer could not be reached or refused the shipment; the writes stay journaled."""


@dataclass
class LinkShape:
    """A fault on one outgoing link: cut, or slowed by a delay per request and a bandwidth cap."""

    down: bool = False
    delay: float = 0.0  # seconds added to every request
    bandwidth: int = 0  # bytes per second; 0 is unlimited

    @property
    def degraded(self) -> bool:
        return self.down or self.delay > 0 or self.bandwidth > 0


class Links:
    """This array's replication links to its peers. Link faults are runtime state: a restart heals.

    A cut link fails each request at once (as a refused connection would); a slowed one sleeps
    ``delay + bytes / bandwidth`` before sending.
    """

    def __init__(self) -> None:
        self._shapes: dict[str, LinkShape] = {}
        self._lock = threading.Lock()

    def shape(self, peer: str) -> LinkShape:
        with self._lock:
            return LinkShape(**asdict(self._shapes.get(peer, LinkShape())))

    def set(self, peer: str, changes: dict[str, Any]) -> LinkShape:
        parse_address(peer)
        unknown = sorted(set(changes) - {"down", "delay", "bandwidth"})
        if unknown:
            raise StorageError(400, f"unknown link setting(s) {unknown}; use down, delay, bandwidth")
        down, delay, bandwidth = changes.get("down"), changes.get("delay"), changes.get("bandwidth")
        if down is not None and not isinstance(down, bool):
            raise StorageError(400, f"down must be true or false, got {down!r}")
        if delay is not None and (isinstance(delay, bool) or not isinstance(delay, int | float) or delay < 0):
            raise StorageError(400, f"delay must be a number of seconds >= 0, got {delay!r}")
        if bandwidth is not None and (
            not isinstance(bandwidth, int) or isinstance(bandwidth, bool) or bandwidth < 0
        ):
            raise StorageError(400, f"bandwidth must be an integer >= 0 (bytes/s), got {bandwidth!r}")
        with self._lock:
            shape = self._shapes.setdefault(peer, LinkShape())
            if down is not None:
                shape.down = down
            if delay is not None:
                shape.delay = float(delay)
            if bandwidth is not None:
                shape.bandwidth = bandwidth
            if not shape.degraded:
                del self._shapes[peer]
            return LinkShape(**asdict(shape))

    def snapshot(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            return {peer: asdict(shape) for peer, shape in sorted(self._shapes.items())}

    def cross(self, peer: str, nbytes: int) -> None:
        """Pay the link's cost for sending ``nbytes`` to ``peer``; a cut link raises."""
        shape = self.shape(peer)
        if shape.down:
            raise ReplicationFailed(f"replication link to {peer} is cut")
        wait = shape.delay + (nbytes / shape.bandwidth if shape.bandwidth else 0.0)
        if wait > 0:
            time.sleep(wait)
            if self.shape(peer).down:
                raise ReplicationFailed(f"replication link to {peer} was cut mid-transfer")


class PeerBook:
    """Credentials for the arrays this one replicates with, kept in a file only the owner can read
    and never served back."""

    def __init__(self, path: Path, timeout: float):
        self.path = path
        self.timeout = timeout
        self._lock = threading.Lock()
        self._entries: dict[str, dict[str, str]] = (
            json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
        )

    def remember(self, address: str, login: str, password: str) -> None:
        with self._lock:
            if self._entries.get(address) != {"login": login, "password": password}:
                self._entries = {**self._entries, address: {"login": login, "password": password}}
                write_json_atomically(self.path, self._entries, mode=0o600)

    def client(self, address: str) -> ArrayClient:
        entry = self._entries.get(address)
        if entry is None:
            raise ReplicationFailed(f"no credentials for peer {address}")
        return ArrayClient(address, entry["login"], entry["password"], self.timeout)


@dataclass(frozen=True)
class Identity:
    """How peers reach this array, sent with each copy so a promoted replica can replicate back."""

    address: str
    login: str
    password: str


def _int(value: Any, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise StorageError(400, f"{what} must be an integer >= 0, got {value!r}")
    return value


class Replicator:
    """Both ends of replication for one array, plus the background shipper thread."""

    def __init__(
        self,
        store: VolumeStore,
        peers: PeerBook,
        links: Links,
        identity: Identity,
        *,
        interval: float = 0.2,
        probe_interval: float = 1.0,
    ):
        self.store = store
        self.peers = peers
        self.links = links
        self.identity = identity
        self.interval = interval
        self.probe_interval = probe_interval
        self._peer_errors: dict[str, str] = {}
        self._probed: dict[str, float] = {}
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="replication-shipper", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        self._thread.join(timeout=5.0)

    def wake(self) -> None:
        self._wake.set()

    # -- talking to a peer

    def _call(self, volume: Volume, peer: str, nbytes: int, request: Callable[[ArrayClient], T]) -> T:
        """One request to ``peer`` across the link. Link and peer failures raise ``ReplicationFailed``;
        a peer that holds the volume at a newer epoch fences this one (it demotes itself)."""
        try:
            client = self.peers.client(peer)
        except ReplicationFailed as exc:
            self._peer_errors[peer] = str(exc)
            raise
        self.links.cross(peer, nbytes)  # a cut link is the link's state, not an error of the peer
        try:
            result = request(client)
        except ArrayError as exc:
            if exc.status not in (404, 409):
                self._peer_errors[peer] = str(exc)
                raise ReplicationFailed(str(exc)) from None
            self._peer_errors.pop(peer, None)  # the peer answers: the link works, the pair does not
            self._conflict(volume, peer, exc)
        self._peer_errors.pop(peer, None)
        return result

    def _conflict(self, volume: Volume, peer: str, exc: ArrayError) -> NoReturn:
        epoch = exc.details.get("epoch")
        with volume.lock:
            replication = volume.replication
            if volume.role != PRIMARY or not replication or replication["peer"] != peer:
                raise ReplicationFailed(str(exc))
            if isinstance(epoch, int) and epoch > volume.epoch and exc.details.get("role") == PRIMARY:
                LOG.warning(
                    "volume %s: %s holds it as primary at epoch %s (ours %s); demoting ourselves",
                    volume.id,
                    peer,
                    epoch,
                    volume.epoch,
                )
                volume.clear_journal()
                volume.update(
                    role=REPLICA,
                    replication=None,
                    complete=False,
                    source={"address": peer, "mode": replication["mode"]},
                )
            elif replication["in_sync"]:
                LOG.warning(
                    "volume %s: %s lost track of the copy (%s); starting a full copy",
                    volume.id,
                    peer,
                    exc.message,
                )
                volume.clear_journal()
                volume.update(replication={**replication, "in_sync": False, "since": time.time()})
        self.wake()
        raise ReplicationFailed(str(exc))

    def _baseline(self, volume: Volume, peer: str, mode: str) -> int:
        """Copy the volume's data to ``peer`` (caller holds ``volume.lock``, so nothing changes)."""
        source = {**asdict(self.identity), "mode": mode}
        self._call(
            volume,
            peer,
            0,
            lambda c: c.begin_replica(volume.id, int(volume.meta["size_gb"]), volume.epoch, source),
        )
        batch: list[dict[str, Any]] = []
        size = 0
        for offset, data in [*volume.extents(), (-1, b"")]:
            if batch and (offset < 0 or size + len(data) > CHUNK):
                self._call(
                    volume,
                    peer,
                    size,
                    partial(
                        ArrayClient.apply,
                        volume_id=volume.id,
                        epoch=volume.epoch,
                        entries=batch,
                        baseline=True,
                    ),
                )
                batch, size = [], 0
            if offset >= 0:
                batch.append({"offset": offset, "data": encode(data)})
                size += len(data)
        generation = volume.generation
        self._call(volume, peer, 0, lambda c: c.commit_replica(volume.id, volume.epoch, generation))
        return generation

    # -- the primary's side

    def enable(self, volume: Volume, peer: str, login: str, password: str, mode: str) -> None:
        """Start replicating ``volume`` to ``peer`` with a full copy; nothing changes if that fails."""
        if mode not in MODES:
            raise StorageError(400, f"mode must be one of {list(MODES)}, got {mode!r}")
        try:
            peer = "{}:{}".format(*parse_address(peer))
        except ValueError as exc:
            raise StorageError(400, f"peer: {exc}") from None
        if peer == self.identity.address:
            raise StorageError(400, f"peer {peer} is this array; a volume cannot replicate to itself")
        if not isinstance(login, str) or not isinstance(password, str) or not login or not password:
            raise StorageError(400, "login and password of the peer are required")
        with volume.lock:
            if volume.role != PRIMARY:
                raise StorageError(
                    409,
                    f"volume {volume.id} is a replica here; only a primary replicates",
                    role=volume.role,
                    epoch=volume.epoch,
                )
            current = volume.replication
            if current and current["in_sync"] and (current["peer"], current["mode"]) == (peer, mode):
                return
            self.peers.remember(peer, login, password)
            try:
                generation = self._baseline(volume, peer, mode)
            except ReplicationFailed as exc:
                raise StorageError(503, f"cannot copy volume {volume.id} to {peer}: {exc}") from None
            volume.clear_journal()
            volume.update(
                replication={
                    "peer": peer,
                    "mode": mode,
                    "shipped": generation,
                    "in_sync": True,
                    "since": None,
                },
                retained=None if volume.meta.get("retained") == peer else volume.meta.get("retained"),
            )
        self._drop_retained(volume)  # a copy a disable kept on another peer

    def disable(self, volume: Volume) -> None:
        """Stop replicating and drop the replica on the peer: a disabled volume's data must not stay
        readable elsewhere. A peer that cannot be reached keeps it for now; the volume remembers
        it (``retained``) and deleting the volume drops it then."""
        with volume.lock:
            replication = volume.replication
            if not replication:
                return
            volume.clear_journal()
            volume.update(replication=None, retained=replication["peer"])
        self._drop_retained(volume)

    def _drop_retained(self, volume: Volume) -> None:
        peer = volume.meta.get("retained")
        if not peer or volume.role != PRIMARY:
            return
        if self._drop(volume, peer, "is kept until the volume is deleted"):
            with volume.lock:
                if volume.meta.get("retained") == peer and self.store.find(volume.id) is volume:
                    volume.update(retained=None)

    def _drop(self, volume: Volume, peer: str, otherwise: str) -> bool:
        """Ask ``peer`` to drop its copy of ``volume`` (best effort): whether it is gone there."""
        try:  # not through _call: a refusal must not touch this volume's metadata
            self.links.cross(peer, 0)
            self.peers.client(peer).drop_replica(volume.id, volume.epoch)
        except (ReplicationFailed, ArrayError) as exc:
            LOG.warning("volume %s: its replica on %s %s: %s", volume.id, peer, otherwise, exc)
            return False
        return True

    def after_write(self, volume: Volume, generation: int) -> None:
        """Acknowledge a write only once the sync peer has it; async just nudges the shipper."""
        replication = volume.replication
        if not replication or not replication["in_sync"]:
            return
        if replication["mode"] == "sync":
            try:
                self.ship(volume, until=generation)
            except ReplicationFailed as exc:
                raise StorageError(
                    503,
                    f"write {generation} to volume {volume.id} is stored here but "
                    f"not acknowledged by its sync peer {replication['peer']}: {exc}",
                    generation=generation,
                ) from None
        else:
            self.wake()

    def ship(self, volume: Volume, until: int | None = None) -> None:
        """Send journaled writes (up to generation ``until``) to the peer, oldest first."""
        with volume.ship_lock:
            self._ship(volume, until)

    def _ship(self, volume: Volume, until: int | None) -> None:
        with volume.lock:
            replication = volume.replication
            if volume.role != PRIMARY or not replication or not replication["in_sync"]:
                return
            entries = [entry for entry in volume.pending if until is None or entry.generation <= until]
        peer = replication["peer"]
        while entries:
            batch: list[dict[str, Any]] = []
            size = 0
            while entries and (not batch or size + len(entries[0].data) <= CHUNK):
                entry = entries.pop(0)
                batch.append(
                    {"generation": entry.generation, "offset": entry.offset, "data": encode(entry.data)}
                )
                size += len(entry.data)
            held = self._call(
                volume,
                peer,
                size,
                partial(ArrayClient.apply, volume_id=volume.id, epoch=volume.epoch, entries=batch),
            )
            with volume.lock:
                volume.mark_shipped(held)

    def resync(self, volume: Volume) -> None:
        """Make a replica whole again (after a promotion, or when the peer lost its copy)."""
        with volume.lock:
            replication = volume.replication
            if volume.role != PRIMARY or not replication or replication["in_sync"]:
                return
            generation = self._baseline(volume, replication["peer"], replication["mode"])
            volume.clear_journal()
            volume.update(replication={**replication, "shipped": generation, "in_sync": True, "since": None})
        LOG.info(
            "volume %s: copy to %s complete at generation %s", volume.id, replication["peer"], generation
        )

    def demote(self, volume: Volume, *, discard: bool = False) -> dict[str, Any]:
        """A planned failover's first half: refuse new writes, ship every pending one, and become
        the peer's replica, so promoting the peer loses nothing even in async mode.

        With ``discard``, writes that cannot be shipped do not keep the volume primary: it is
        fenced (a replica, refusing writes) all the same, and the answer names what the peer lacks
        (``unshipped``: each write's generation and time), so a failover that goes ahead can say
        exactly what it lost instead of losing it silently."""
        fenced: dict[str, Any] = {"generation": volume.generation, "unshipped": [], "since": None}
        with volume.ship_lock, volume.lock:  # the lock order of ship(); writers wait, then find a replica
            replication = volume.replication
            if volume.role != PRIMARY:
                return fenced
            if not replication:
                raise StorageError(
                    409,
                    f"volume {volume.id} has no replica to hand over to",
                    role=volume.role,
                    epoch=volume.epoch,
                )
            problem = None
            if not replication["in_sync"]:
                problem = StorageError(
                    409,
                    f"volume {volume.id} has no replica in sync to hand over to",
                    role=volume.role,
                    epoch=volume.epoch,
                )
            else:
                try:
                    self._ship(volume, None)
                except ReplicationFailed as exc:
                    problem = StorageError(
                        503,
                        f"volume {volume.id} stays primary: its last writes cannot reach "
                        f"{replication['peer']}: {exc}",
                    )
            if problem is not None and not discard:
                raise problem
            fenced = {
                "generation": volume.generation,
                "unshipped": [[entry.generation, entry.written_at] for entry in volume.pending],
                "since": None if replication["in_sync"] else replication.get("since"),
                "fenced_at": time.time(),
            }
            volume.clear_journal()
            volume.update(
                role=REPLICA,
                replication=None,
                complete=True,
                source={"address": replication["peer"], "mode": replication["mode"]},
            )
        if problem is None:
            LOG.info("volume %s demoted: every write is on %s", volume.id, replication["peer"])
        else:
            LOG.warning(
                "volume %s fenced with %s write(s) %s lacks: %s",
                volume.id,
                len(fenced["unshipped"]),
                replication["peer"],
                problem.message,
            )
        return fenced

    def promote(self, volume: Volume) -> None:
        """Make a replica the writable primary. It replicates back to its old primary, which a full
        copy at the new epoch turns into a replica whenever it is reachable."""
        with volume.lock:
            if volume.role == PRIMARY:
                return
            if not volume.meta.get("complete"):
                raise StorageError(
                    409,
                    f"replica of volume {volume.id} never completed its initial copy; "
                    "promoting it would expose partial data",
                    role=volume.role,
                )
            source = volume.meta.get("source") or {}
            replication = None
            if source.get("address"):
                replication = {
                    "peer": source["address"],
                    "mode": source.get("mode", "async"),
                    "shipped": 0,
                    "in_sync": False,
                    "since": time.time(),
                }
            volume.update(
                role=PRIMARY, epoch=volume.epoch + 1, source=None, complete=None, replication=replication
            )
        LOG.info("volume %s promoted to primary at epoch %s", volume.id, volume.epoch)
        self.wake()

    def forget(self, volume: Volume) -> None:
        """After deleting a primary, drop its replica on the peer, and the one a disable could not
        drop (best effort: the metadata of a deleted volume is never touched)."""
        if volume.role != PRIMARY:
            return
        replication = volume.replication
        peers = [replication["peer"]] if replication else []
        retained = volume.meta.get("retained")
        peers += [retained] if retained and retained not in peers else []
        for peer in peers:
            self._drop(volume, peer, "stays (the volume is deleted)")

    def status(self, volume: Volume) -> dict[str, Any]:
        """What an operator asks of a pair: link state, generations and lag."""
        result = volume.summary()
        replication = volume.replication
        if volume.role != PRIMARY or not replication:
            result["replication"] = None
            return result
        peer = replication["peer"]
        pending = tuple(volume.pending)
        shape = self.links.shape(peer)
        error = self._peer_errors.get(peer)
        link = "down" if shape.down else "error" if error else "slow" if shape.degraded else "up"
        now = time.time()
        if pending:
            lag = now - pending[0].written_at
        elif not replication["in_sync"] and replication.get("since"):
            lag = now - float(replication["since"])
        else:
            lag = 0.0
        result["replication"] = {
            "peer": peer,
            "mode": replication["mode"],
            "link": link,
            "last_error": error,
            "in_sync": replication["in_sync"],
            "shipped_generation": replication["shipped"],
            "unshipped": len(pending),
            "lag_seconds": round(max(lag, 0.0), 3),
        }
        return result

    # -- the replica's side

    def receive_begin(self, volume_id: str, body: dict[str, Any]) -> None:
        epoch = _int(body.get("epoch"), "epoch")
        source = body.get("source")
        if not isinstance(source, dict) or not all(
            isinstance(source.get(k), str) and source.get(k) for k in ("address", "login", "password", "mode")
        ):
            raise StorageError(400, "source must carry address, login, password and mode")
        volume = self.store.find(volume_id)
        meta = {"source": {"address": source["address"], "mode": source["mode"]}, "complete": False}
        if volume is None:
            self.store.create(volume_id, body.get("size_gb"), role=REPLICA, epoch=epoch, **meta)
        else:
            with volume.lock:
                if volume.role == PRIMARY and volume.epoch >= epoch:
                    raise StorageError(
                        409,
                        f"volume {volume_id} is primary here at epoch {volume.epoch}; "
                        f"refusing a copy from epoch {epoch}",
                        role=PRIMARY,
                        epoch=volume.epoch,
                    )
                if volume.role == REPLICA and volume.epoch > epoch:
                    raise StorageError(
                        409,
                        f"replica of {volume_id} is at epoch {volume.epoch}, newer than the sender's {epoch}",
                        role=REPLICA,
                        epoch=volume.epoch,
                    )
                if body.get("size_gb") != volume.meta["size_gb"]:
                    raise StorageError(
                        409,
                        f"volume {volume_id} has size_gb {volume.meta['size_gb']} "
                        f"here, not {body.get('size_gb')}",
                        role=volume.role,
                        epoch=volume.epoch,
                    )
                if volume.role == PRIMARY:
                    LOG.warning(
                        "volume %s: fenced by %s at epoch %s; becoming its replica",
                        volume_id,
                        source["address"],
                        epoch,
                    )
                volume.clear_journal()
                volume.reset_image()
                volume.update(role=REPLICA, replication=None, generation=0, epoch=epoch, **meta)
        self.peers.remember(source["address"], source["login"], source["password"])

    def _replica(self, volume_id: str, epoch: Any) -> Volume:
        volume = self.store.get(volume_id)
        epoch = _int(epoch, "epoch")
        if volume.role != REPLICA or volume.epoch != epoch:
            raise StorageError(
                409,
                f"volume {volume_id} is {volume.role} at epoch {volume.epoch} here; "
                f"not a replica at epoch {epoch}",
                role=volume.role,
                epoch=volume.epoch,
            )
        return volume

    def receive_apply(self, volume_id: str, body: dict[str, Any]) -> int:
        entries = body.get("entries")
        if not isinstance(entries, list) or not all(isinstance(entry, dict) for entry in entries):
            raise StorageError(400, "entries must be a list of objects")
        with self.store.get(volume_id).lock:
            volume = self._replica(volume_id, body.get("epoch"))
            pieces = [(_int(entry.get("offset"), "offset"), decode(entry.get("data"))) for entry in entries]
            if body.get("baseline"):
                if volume.meta.get("complete"):
                    raise StorageError(
                        409, f"the copy of {volume_id} is already complete", role=REPLICA, epoch=volume.epoch
                    )
                volume.apply(pieces, None)
                return volume.generation
            if not volume.meta.get("complete"):
                raise StorageError(
                    409, f"the copy of {volume_id} is incomplete", role=REPLICA, epoch=volume.epoch
                )
            generation = volume.generation
            fresh = []
            for entry, piece in zip(entries, pieces, strict=True):
                number = _int(entry.get("generation"), "generation")
                if number <= generation:
                    continue  # a resend of something already applied
                if number != generation + 1:
                    raise StorageError(
                        409,
                        f"write {number} to {volume_id} skips generations after {generation}",
                        role=REPLICA,
                        epoch=volume.epoch,
                        generation=volume.generation,
                    )
                fresh.append(piece)
                generation = number
            if fresh:
                volume.apply(fresh, generation)
            return volume.generation

    def receive_commit(self, volume_id: str, body: dict[str, Any]) -> None:
        volume = self._replica(volume_id, body.get("epoch"))
        with volume.lock:
            volume.update(generation=_int(body.get("generation"), "generation"), complete=True)

    def receive_drop(self, volume_id: str, epoch: int) -> None:
        """The primary at ``epoch`` deleted the volume: drop our copy, be it a replica or an old
        primary that a failover fenced (but never a primary as new as the sender)."""
        volume = self.store.find(volume_id)
        if volume is None:
            return
        with volume.lock:
            if volume.epoch > epoch or (volume.role == PRIMARY and volume.epoch == epoch):
                raise StorageError(
                    409,
                    f"volume {volume_id} is {volume.role} at epoch {volume.epoch} here; "
                    f"a primary at epoch {epoch} cannot drop it",
                    role=volume.role,
                    epoch=volume.epoch,
                )
        self.store.delete(volume_id)

    # -- the background shipper

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._wake.wait(self.interval)
            self._wake.clear()
            idle_peers: set[str] = set()
            for volume in self.store.list():
                if self._stopping.is_set():
                    return
                replication = volume.replication
                if volume.role != PRIMARY or not replication:
                    continue
                try:
                    if not replication["in_sync"]:
                        self.resync(volume)
                    elif volume.pending:
                        self.ship(volume)
                    else:
                        idle_peers.add(replication["peer"])
                except ReplicationFailed:
                    pass  # recorded as the link's error; retried next round
                except Exception:  # the shipper must outlive any one volume's surprise
                    LOG.exception("volume %s: replication round failed", volume.id)
            self._probe(sorted(idle_peers))

    def _probe(self, peers: list[str]) -> None:
        """Check idle links now and then, so a dead peer shows before the next write needs it."""
        now = time.monotonic()
        for peer in peers:
            if now - self._probed.get(peer, 0.0) < self.probe_interval:
                continue
            self._probed[peer] = now
            try:
                self.links.cross(peer, 0)
                self.peers.client(peer).health()
            except ReplicationFailed:
                continue  # the link is cut: its state says so already
            except ArrayError as exc:
                self._peer_errors[peer] = str(exc)
            else:
                self._peer_errors.pop(peer, None)
