"""A storage array's volumes on disk: a sparse image, a metadata file and a write journal each.

Every acknowledged change is durable before it is acknowledged: data is fsynced before its
generation is recorded, and metadata is replaced atomically (temporary file, fsync, rename, fsync of
the directory), so a SIGKILL at any instant leaves the old or the new state, never a torn one.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

GIB = 1 << 30
CHUNK = 1 << 20  # baseline copies move data in pieces of at most this many bytes
VOLUME_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
PRIMARY, REPLICA = "primary", "replica"


class StorageError(Exception):
    """A request the array refuses; ``status`` is the HTTP status the server answers with and
    ``details`` extra JSON fields (a peer reads them to tell a fence from a gap)."""

    def __init__(self, status: int, message: str, **details: Any):
        super().__init__(message)
        self.status = status
        self.message = message
        self.details = details


def fsync_directory(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _owner_only(path: Path, *, append: bool = False) -> TextIO:
    """A text file opened for writing, created 0600: a journal holds written data, as images do."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if append else os.O_TRUNC)
    fd = os.open(path, flags, 0o600)
    os.fchmod(fd, 0o600)  # a journal an older version left 0644 is closed up too
    return os.fdopen(fd, "a" if append else "w", encoding="utf-8")


def write_json_atomically(path: Path, data: Any, mode: int = 0o644) -> None:
    """Replace ``path`` with ``data`` so that a crash leaves either the old or the new file."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(data, handle, sort_keys=True)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    fsync_directory(path.parent)


def encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def decode(text: Any, what: str = "data") -> bytes:
    if not isinstance(text, str):
        raise StorageError(400, f"{what} must be a base64 string")
    try:
        return base64.b64decode(text, validate=True)
    except binascii.Error:
        raise StorageError(400, f"{what} is not valid base64") from None


@dataclass(frozen=True)
class JournalEntry:
    """One acknowledged write that the peer may not have yet."""

    generation: int
    offset: int
    data: bytes
    written_at: float  # wall-clock seconds: the age of the oldest unshipped write is the lag

    def to_json(self) -> dict[str, Any]:
        return {
            "generation": self.generation,
            "offset": self.offset,
            "data": encode(self.data),
            "written_at": self.written_at,
        }


class Volume:
    """One volume. ``lock`` serialises changes; ``meta`` is replaced, never mutated, so a reader
    that takes a reference gets a consistent snapshot without the lock."""

    def __init__(self, directory: Path, meta: dict[str, Any]):
        self.directory = directory
        self.meta = meta
        self.lock = threading.RLock()
        self.ship_lock = threading.Lock()  # one shipment to the peer at a time
        self.pending: deque[JournalEntry] = deque()

    # -- identity and files

    @property
    def id(self) -> str:
        return str(self.meta["id"])

    @property
    def size_bytes(self) -> int:
        return int(self.meta["size_gb"]) * GIB

    @property
    def role(self) -> str:
        return str(self.meta["role"])

    @property
    def generation(self) -> int:
        return int(self.meta["generation"])

    @property
    def epoch(self) -> int:
        return int(self.meta["epoch"])

    @property
    def replication(self) -> dict[str, Any] | None:
        value = self.meta.get("replication")
        return dict(value) if value else None

    def path(self, suffix: str) -> Path:
        return self.directory / f"{self.id}.{suffix}"

    def update(self, **changes: Any) -> None:
        """Apply ``changes`` to the metadata and persist it atomically (caller holds ``lock``)."""
        meta = {**self.meta, **changes}
        write_json_atomically(self.path("json"), meta)
        self.meta = meta

    def summary(self) -> dict[str, Any]:
        meta = self.meta
        return {
            key: meta.get(key)
            for key in ("id", "size_gb", "role", "generation", "epoch", "source", "complete")
        }

    # -- data

    def _check_range(self, offset: int, length: int) -> None:
        if offset < 0 or length < 0 or offset + length > self.size_bytes:
            raise StorageError(
                400,
                f"range [{offset}, {offset + length}) is outside volume {self.id} of {self.size_bytes} bytes",
            )

    def _pwrite_all(self, pieces: list[tuple[int, bytes]]) -> None:
        fd = os.open(self.path("img"), os.O_WRONLY)
        try:
            for start, data in pieces:
                view, position = memoryview(data), start
                while view:
                    written = os.pwrite(fd, view, position)
                    view, position = view[written:], position + written
            os.fsync(fd)
        finally:
            os.close(fd)

    def read(self, offset: int, length: int) -> bytes:
        self._check_range(offset, length)
        with open(self.path("img"), "rb") as handle:
            handle.seek(offset)
            return handle.read(length)

    def write(self, offset: int, data: bytes, now: float) -> int:
        """A client write on the primary; returns its generation once data and number are durable."""
        with self.lock:
            if self.role != PRIMARY:
                raise StorageError(
                    409, f"volume {self.id} is a read-only replica here; promote it first", role=self.role
                )
            self._check_range(offset, len(data))
            self._pwrite_all([(offset, data)])
            generation = self.generation + 1
            replication = self.replication
            if replication and replication["in_sync"]:
                entry = JournalEntry(generation, offset, data, now)
                self._journal_append(entry)
                self.pending.append(entry)
            self.update(generation=generation)
            return generation

    def apply(self, pieces: list[tuple[int, bytes]], generation: int | None) -> None:
        """Store shipped data on a replica; ``generation`` is recorded only after the data is durable."""
        for offset, data in pieces:
            self._check_range(offset, len(data))
        self._pwrite_all(pieces)
        if generation is not None:
            self.update(generation=generation)

    def extents(self) -> Iterator[tuple[int, bytes]]:
        """The volume's data as (offset, bytes) pieces, skipping holes and all-zero chunks."""
        fd = os.open(self.path("img"), os.O_RDONLY)
        try:
            size = os.fstat(fd).st_size
            position = 0
            while position < size:
                try:
                    start = os.lseek(fd, position, os.SEEK_DATA)
                except OSError:  # ENXIO: nothing but holes from here on
                    return
                end = min(os.lseek(fd, start, os.SEEK_HOLE), size)
                for offset in range(start, end, CHUNK):
                    data = os.pread(fd, min(CHUNK, end - offset), offset)
                    if data.count(0) != len(data):
                        yield offset, data
                position = end
        finally:
            os.close(fd)

    def reset_image(self) -> None:
        """Drop every byte (a replica about to receive a fresh copy)."""
        fd = os.open(self.path("img"), os.O_WRONLY)
        try:
            os.ftruncate(fd, 0)
            os.ftruncate(fd, self.size_bytes)
            os.fsync(fd)
        finally:
            os.close(fd)

    # -- the journal of writes the peer has not acknowledged

    def _journal_append(self, entry: JournalEntry) -> None:
        with _owner_only(self.path("journal"), append=True) as handle:
            handle.write(json.dumps(entry.to_json()) + "\n")
            handle.flush()
            os.fsync(handle.fileno())

    def load_journal(self) -> None:
        """Rebuild ``pending`` after a restart: entries the peer lacks and that were acknowledged.

        A crash between the journal append and the metadata update leaves an entry newer than the
        recorded generation (never acknowledged): it is dropped, and the file rewritten without it.
        """
        self.pending.clear()
        replication = self.replication
        path = self.path("journal")
        if not replication or not replication["in_sync"] or not path.exists():
            self.clear_journal()
            return
        shipped = int(replication["shipped"])
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                raw = json.loads(line)
                entry = JournalEntry(
                    int(raw["generation"]),
                    int(raw["offset"]),
                    base64.b64decode(raw["data"]),
                    float(raw["written_at"]),
                )
            except (ValueError, KeyError, TypeError, binascii.Error):
                continue  # a torn last line: that write was never acknowledged
            if shipped < entry.generation <= self.generation:
                self.pending.append(entry)
        tmp = path.with_name(f".{path.name}.tmp")
        with _owner_only(tmp) as handle:
            handle.writelines(json.dumps(entry.to_json()) + "\n" for entry in self.pending)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        fsync_directory(self.directory)

    def clear_journal(self) -> None:
        self.pending.clear()
        path = self.path("journal")
        if path.exists():
            os.truncate(path, 0)

    def mark_shipped(self, generation: int) -> None:
        """The peer holds every write up to ``generation``; forget them (caller holds ``lock``)."""
        replication = self.replication
        if not replication or generation <= int(replication["shipped"]):
            return
        self.update(replication={**replication, "shipped": generation})
        while self.pending and self.pending[0].generation <= generation:
            self.pending.popleft()
        if not self.pending:
            self.clear_journal()


class VolumeStore:
    """Every volume under ``root/volumes``, loaded at start-up, with the array's capacity."""

    def __init__(self, root: Path, capacity_gb: int):
        self.directory = root / "volumes"
        self.directory.mkdir(exist_ok=True)
        self.capacity_gb = capacity_gb
        self.lock = threading.Lock()
        self.volumes: dict[str, Volume] = {}
        # creates under way: id -> (size, set when it ends); their files are written outside ``lock``
        self._creating: dict[str, tuple[int, threading.Event]] = {}
        # the sum of the volumes' sizes, kept as they come and go (a volume's size never changes):
        # summing them on every create cost the array time in proportion to its volumes
        self._provisioned = 0
        for meta_path in sorted(self.directory.glob("*.json")):
            volume = Volume(self.directory, json.loads(meta_path.read_text(encoding="utf-8")))
            volume.load_journal()
            self.volumes[volume.id] = volume
            self._provisioned += int(volume.meta["size_gb"])
        for leftover in self.directory.iterdir():  # a crash mid-create or mid-delete
            owner = leftover.name.rpartition(".")[0]
            if leftover.name.startswith(".") or owner not in self.volumes:
                leftover.unlink()

    @staticmethod
    def check_id(volume_id: str) -> str:
        if not VOLUME_ID.fullmatch(volume_id):
            raise StorageError(
                400,
                f"invalid volume id {volume_id!r}: use 1-128 letters, digits, '.', '_' "
                "or '-', starting with a letter or digit",
            )
        return volume_id

    def provisioned_gb(self) -> int:
        return self._provisioned

    def find(self, volume_id: str) -> Volume | None:
        return self.volumes.get(volume_id)

    def get(self, volume_id: str) -> Volume:
        volume = self.volumes.get(self.check_id(volume_id))
        if volume is None:
            raise StorageError(404, f"volume {volume_id} not found")
        return volume

    def list(self) -> list[Volume]:
        return [self.volumes[key] for key in sorted(self.volumes)]

    def create(self, volume_id: str, size_gb: Any, role: str = PRIMARY, **meta: Any) -> tuple[Volume, bool]:
        """Create a volume; a repeat with the same size returns the existing one (``False``).

        The id and the space are claimed under the store's lock; the files (three fsyncs) are
        written outside it, so creates of different volumes overlap their waits for the disk (under
        the lock they capped an array near 1 / (3 fsyncs) creates per second). A repeat that
        arrives while the first is under way waits for its outcome."""
        self.check_id(volume_id)
        if not isinstance(size_gb, int) or isinstance(size_gb, bool) or size_gb < 1:
            raise StorageError(400, f"size_gb must be a positive integer, got {size_gb!r}")
        while True:
            with self.lock:
                existing = self.volumes.get(volume_id)
                under_way = self._creating.get(volume_id)
                known = int(existing.meta["size_gb"]) if existing is not None else None
                if under_way is not None:
                    known = under_way[0]
                if known is not None and known != size_gb:
                    raise StorageError(409, f"volume {volume_id} exists with size_gb {known}, not {size_gb}")
                if existing is not None:
                    return existing, False
                if under_way is None:
                    reserved = sum(size for size, _ in self._creating.values())
                    free = self.capacity_gb - self.provisioned_gb() - reserved
                    if size_gb > free:
                        raise StorageError(507, f"not enough space for {size_gb} GiB: {free} GiB free")
                    done = threading.Event()
                    self._creating[volume_id] = (size_gb, done)
                    break
            under_way[1].wait()  # then look again: it exists, or it failed and this one tries
        try:
            volume = Volume(
                self.directory,
                {
                    "id": volume_id,
                    "size_gb": size_gb,
                    "role": role,
                    "generation": 0,
                    "epoch": 0,
                    "replication": None,
                    **meta,
                },
            )
            fd = os.open(volume.path("img"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                os.ftruncate(fd, volume.size_bytes)  # sparse: no blocks until written
                os.fsync(fd)
            finally:
                os.close(fd)
            volume.update()  # the metadata file is what makes the volume exist
            with self.lock:
                self.volumes[volume_id] = volume
                self._provisioned += size_gb
            return volume, True
        finally:
            with self.lock:
                del self._creating[volume_id]
            done.set()

    def _settle(self, volume_id: str) -> None:
        """Wait (holding no lock) until no create of ``volume_id`` is under way."""
        while True:
            with self.lock:
                under_way = self._creating.get(volume_id)
            if under_way is None:
                return
            under_way[1].wait()

    def delete(self, volume_id: str) -> Volume | None:
        """Remove a volume (metadata first, so a crash never leaves a half volume); absent is fine."""
        self.check_id(volume_id)
        self._settle(volume_id)
        with self.lock:
            volume = self.volumes.pop(volume_id, None)
            if volume is None:
                return None
            self._provisioned -= int(volume.meta["size_gb"])
            with volume.lock:
                volume.path("json").unlink()
                fsync_directory(self.directory)
                for suffix in ("img", "journal"):
                    volume.path(suffix).unlink(missing_ok=True)
            return volume

    def stats(self) -> dict[str, Any]:
        provisioned = self.provisioned_gb()
        return {
            "total_capacity_gb": self.capacity_gb,
            "free_capacity_gb": self.capacity_gb - provisioned,
            "provisioned_capacity_gb": provisioned,
            "volumes": len(self.volumes),
        }
