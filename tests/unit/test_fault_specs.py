"""Faults as data: a fault entry's mistakes get clear errors, and seeded schedules are reproducible."""

from __future__ import annotations

import random

import pytest

from replisim.scenarios.fault_policies import flip_flop_schedule, poisson_schedule
from replisim.scenarios.faults import Fault, FaultSpecError, check_targets, parse_fault


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            {"kind": "array.crahs", "target": "alpha", "start": 0},
            "unknown fault kind 'array.crahs' (did you mean 'array.crash'?)",
        ),
        ({"kind": "array.crash", "target": "alpha", "start": 0, "duration": -5}, "duration must be >= 0"),
        (
            {"kind": "link.down", "target": "a->b", "start": 0, "durration": 5},
            "unknown key 'durration' (did you mean 'duration'?)",
        ),
        ({"kind": "driver.raise", "target": "alpha", "start": 0}, "driver.raise needs params.method"),
        ({"kind": "bus.loss", "target": "*", "start": 0, "params": {"probability": 2}}, "between 0 and 1"),
        ({"kind": "bus.loss", "target": "*", "start": 0, "params": {"p": 0.5}}, "has no parameter 'p'"),
    ],
)
def test_bad_fault_specs_get_clear_errors(spec: dict[str, object], message: str) -> None:
    with pytest.raises(FaultSpecError) as err:
        parse_fault(spec, "scenario.yaml faults[0]")
    assert message in str(err.value)
    assert str(err.value).startswith("scenario.yaml faults[0]")


def test_unknown_targets_are_named_with_a_suggestion() -> None:
    fault = parse_fault({"kind": "array.crash", "target": "alhpa", "start": 10})
    with pytest.raises(FaultSpecError, match="unknown array 'alhpa' \\(did you mean 'alpha'\\?\\)"):
        check_targets([fault], {"array": ["alpha", "beta"]})


def test_random_schedules_are_reproducible_and_end_before_the_heal() -> None:
    def draw(seed: int) -> list[Fault]:
        return poisson_schedule(
            random.Random(f"{seed}:faults"),
            rate=1 / 60,
            kinds=["link.down", "array.crash"],
            targets={"link": ["a->b"], "array": ["a", "b"]},
            start=0,
            end=3600,
        )

    assert draw(1) == draw(1)
    assert draw(1) != draw(2)
    assert all(f.end <= 3600 for f in draw(1))
    assert 30 <= len(draw(1)) <= 100  # ~60 expected at one a minute
    flips = flip_flop_schedule("link.down", "a->b", interval=10, start=100, end=160)
    assert [(f.start, f.duration) for f in flips] == [(100, 10), (120, 10), (140, 10)]
