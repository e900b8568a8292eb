"""Shared fixtures: the kernel-level suite runs once per runtime (as pykka's suite does); live tests
start real storage array processes through `start_array`."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from replisim.drivers.storage.process import StorageProcess
from replisim.sim import LiveRuntime, SimRuntime


@pytest.fixture(params=["sim", "live"])
def runtime(request: pytest.FixtureRequest) -> Iterator[SimRuntime | LiveRuntime]:
    rt: SimRuntime | LiveRuntime = SimRuntime(seed=7) if request.param == "sim" else LiveRuntime(seed=7)
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
