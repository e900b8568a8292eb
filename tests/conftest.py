"""Shared fixtures: the kernel-level suite runs once per runtime (as pykka's suite does)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from replisim.sim import LiveRuntime, SimRuntime


@pytest.fixture(params=["sim", "live"])
def runtime(request: pytest.FixtureRequest) -> Iterator[SimRuntime | LiveRuntime]:
    rt: SimRuntime | LiveRuntime = SimRuntime(seed=7) if request.param == "sim" else LiveRuntime(seed=7)
    try:
        yield rt
    finally:
        rt.stop()
