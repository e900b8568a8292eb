"""Faults compose: any interleaving of same-knob faults leaves, at every moment, the combination
of the ones in force, and, once all have ended, the value from before the first."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from replisim.scenarios.faults import SimWorld


class Setting:
    value = 1.0


@given(st.lists(st.floats(min_value=1.0, max_value=100.0), min_size=1, max_size=8), st.data())
def test_any_interleaving_of_contributions_restores_the_base(values: list[float], data: Any) -> None:
    world = SimWorld(deployment=None)  # type: ignore[arg-type]
    setting = Setting()
    active: dict[int, float] = {}
    undos = {}
    for index, value in enumerate(values):
        undos[index] = world.contribute(
            ("knob",),
            value,
            read=lambda: setting.value,
            write=lambda v: setattr(setting, "value", v),
            combine=lambda base, vs: base * max(vs),
        )
        active[index] = value
        assert setting.value == max(active.values())
        if data.draw(st.booleans()):  # end some faults while others are still beginning
            gone = data.draw(st.sampled_from(sorted(active)))
            undos.pop(gone)()
            active.pop(gone)
            assert setting.value == (max(active.values()) if active else 1.0)
    for index in data.draw(st.permutations(sorted(undos))):
        undos[index]()
        undos[index]()  # ending twice changes nothing
        active.pop(index)
        assert setting.value == (max(active.values()) if active else 1.0)
    assert setting.value == 1.0 and world.leftovers() == []
