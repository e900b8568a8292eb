"""An emulated pool slows down as it fills, so capacity reports can show what a full pool does to latency."""

from __future__ import annotations

import random

import pytest

from replisim.drivers.emulated.array import EmulatedArray


def _array(used_gb: float, capacity_gb: float = 1000.0) -> EmulatedArray:
    array = EmulatedArray("a", random.Random(1), capacity_gb=capacity_gb)
    array.meter.set("v", 0.0, used_gb, 0.0, used_gb)  # one volume holding ``used_gb``, not growing
    return array


@pytest.mark.parametrize(
    ("used", "slowdown"),
    [(0, 1.0), (500, 1.0), (700, 1.0), (850, 2.0), (910, 0.3 / 0.09), (940, 5.0), (1000, 5.0)],
)
def test_slowdown_starts_at_seventy_percent_and_is_capped(used: float, slowdown: float) -> None:
    assert _array(used).fill_slowdown(0.0) == pytest.approx(slowdown)


def test_service_times_scale_by_the_slowdown_with_the_same_draws() -> None:
    empty, full = _array(0.0), _array(850.0)  # same seed: same log-normal draws
    for _ in range(5):
        assert full.service_time("create", 0.0) == pytest.approx(2 * empty.service_time("create", 0.0))


def test_a_thin_pool_slows_as_its_volumes_fill_it() -> None:
    array = EmulatedArray("a", random.Random(1), capacity_gb=100.0)
    array.meter.set("v", 0.0, 0.0, 1.0, 100.0)  # fills 1 GiB a second until full at t=100
    assert array.fill_slowdown(50.0) == 1.0
    assert array.fill_slowdown(85.0) == pytest.approx(2.0)
    assert array.fill_slowdown(150.0) == 5.0
