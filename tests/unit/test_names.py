"""Seeded Faker names: the same seed names everything alike, another seed differently."""

from __future__ import annotations

import re

from replisim.scenarios.names import Names

SLUG = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")


def names_for(seed: int) -> tuple[tuple[str, ...], list[str]]:
    names = Names(seed)
    return names.tenants(20), [names.volume() for _ in range(50)]


def test_same_seed_same_names_other_seed_other_names() -> None:
    assert names_for(3) == names_for(3)
    tenants, volumes = names_for(3)
    other_tenants, other_volumes = names_for(4)
    assert tenants != other_tenants and volumes != other_volumes


def test_names_are_distinct_slugs() -> None:
    tenants, volumes = names_for(11)
    assert len(set(tenants)) == 20 and len(set(volumes)) == 50
    assert all(SLUG.fullmatch(name) for name in (*tenants, *volumes)), (tenants, volumes)
