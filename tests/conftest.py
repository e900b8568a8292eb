"""What every test folder shares: the one table of runtimes the suite runs on (as pykka's suite runs
over its runtimes), the markers, and live storage arrays to start.

A test that should run on every runtime takes the ``runtime`` fixture (a fresh runtime) or
``runtime_kind`` (its name, to build its own); the live runtime's cases carry the ``live`` marker,
as does every test under ``tests/live/``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from support.cluster import make_runtime

from replisim.drivers.storage.process import StorageProcess
from replisim.sim import Runtime

RUNTIMES = ("sim", pytest.param("live", marks=pytest.mark.live))
LIVE = Path(__file__).resolve().parent / "live"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if LIVE in item.path.parents:
            item.add_marker(pytest.mark.live)


@pytest.fixture(params=RUNTIMES)
def runtime_kind(request: pytest.FixtureRequest) -> str:
    """``sim`` or ``live``: every test that takes it runs once per runtime."""
    kind: str = request.param
    return kind


@pytest.fixture
def runtime(runtime_kind: str) -> Iterator[Runtime]:
    rt = make_runtime(runtime_kind, seed=7)
    try:
        yield rt
    finally:
        rt.stop()


@pytest.fixture
def start_array(tmp_path: Path) -> Iterator[Callable[..., StorageProcess]]:
    """Start storage array processes (``start_array("a")``); every one is killed at teardown,
    whatever the test did to it."""
    started: list[StorageProcess] = []

    def start(name: str, **options: Any) -> StorageProcess:
        options.setdefault("password", f"pw-{name}-s3cret")
        options.setdefault("peer_timeout", 1.0)
        process = StorageProcess(tmp_path / name, name, **options)
        started.append(process)
        return process.start()

    try:
        yield start
    finally:
        for process in started:
            process.kill()
