"""The recording repository reads a volume's statuses before each write without copying its row,
and records what it recorded when it copied the row."""

from __future__ import annotations

import pytest

from replisim import exception
from replisim.actors.db import MemoryRepository
from replisim.scenarios.history import RecordingRepository


class CopyingOnly:
    """A repository without ``volume_statuses``: the recorder falls back to the row."""

    def __init__(self, inner: MemoryRepository):
        self._inner = inner

    def __getattr__(self, name: str) -> object:
        if name == "volume_statuses":
            raise AttributeError(name)
        return getattr(self._inner, name)


def changes(repo: RecordingRepository) -> list[tuple[object, ...]]:
    volume = repo.volume_create({"id": "v1", "size": 1, "status": "creating", "host": "h@b#p"})
    repo.volume_update(volume["id"], {"status": "available"})
    repo.volume_conditional_update(volume["id"], {"status": "available"}, {"replication_status": "enabled"})
    repo.volume_destroy(volume["id"])
    return [(t.old, t.new) for t in repo.transitions + repo.status_changes]


def test_statuses_read_without_a_copy_record_what_the_row_said() -> None:
    clock = lambda: 1.0  # noqa: E731
    direct = RecordingRepository(MemoryRepository(clock=clock), clock)
    fallback = RecordingRepository(CopyingOnly(MemoryRepository(clock=clock)), clock)  # type: ignore[arg-type]
    recorded = changes(direct)
    assert recorded == changes(fallback)
    assert ("available", "deleted") in recorded


def test_statuses_of_a_missing_volume_raise_as_volume_get_does() -> None:
    repo = MemoryRepository(clock=lambda: 0.0)
    with pytest.raises(exception.VolumeNotFound):
        repo.volume_statuses("nope")
