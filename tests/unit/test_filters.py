"""Tests for matching volume-type extra specs against backend capabilities."""

from __future__ import annotations

import operator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from replisim.actors.filters import spec_matches, unmet_specs, wants_replication

CAPS = {
    "volume_backend_name": "foo",
    "replication_enabled": True,
    "replication_type": ["async", "sync"],
    "replication_count": 1,
    "total_capacity_gb": 100,
    "free_capacity_gb": 40,
    "vendor_name": "Open Source",
    "thin_provisioning_support": "True",
    "driver_version": "2.1.0",
    "pools": "unknown",
}

NO_REPLICATION = {
    "volume_backend_name": "foo",
    "replication_enabled": False,
    "total_capacity_gb": 100,
    "free_capacity_gb": 40,
}

SEED_TYPES = [
    {"replication": "enabled"},
    {"replication": "enabled", "volume_backend_name": "foo"},
    {"replication": "enabled", "volume_backend_name": "foo", "replication:replication_type": "async"},
]


# --------------------------------------------------------------------------------------------
# Operators
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "requirement", "expected"),
    [
        ("replication_enabled", "<is> True", True),
        ("replication_enabled", "<is> true", True),
        ("replication_enabled", "<is> False", False),
        ("thin_provisioning_support", "<is> True", True),  # string capability
        ("thin_provisioning_support", "<is> False", False),
        ("vendor_name", "<is> True", False),  # not a boolean at all
        ("replication_enabled", "<is> maybe", False),  # malformed requirement
    ],
)
def test_is(key: str, requirement: str, expected: bool) -> None:
    assert spec_matches(CAPS, key, requirement) is expected


def test_is_false_counts_missing_as_false() -> None:
    assert spec_matches({}, "replication_enabled", "<is> False")
    assert spec_matches({"replication_enabled": None}, "replication_enabled", "<is> False")
    assert not spec_matches({}, "replication_enabled", "<is> True")
    assert spec_matches(NO_REPLICATION, "replication_enabled", "<is> False")
    assert spec_matches({"multiattach": "false"}, "multiattach", "<is> False")


@pytest.mark.parametrize(
    ("key", "requirement", "expected"),
    [
        ("vendor_name", "<in> Source", True),
        ("vendor_name", "<in> Open Source", True),
        ("vendor_name", "<in> Closed", False),
        ("replication_type", "<in> sync", True),  # substring of the list's string form
        ("vendor_name", "<in>", False),
    ],
)
def test_in(key: str, requirement: str, expected: bool) -> None:
    assert spec_matches(CAPS, key, requirement) is expected


@pytest.mark.parametrize(
    ("key", "requirement", "expected"),
    [
        ("volume_backend_name", "<or> foo <or> bar", True),
        ("volume_backend_name", "<or> bar <or> foo", True),
        ("volume_backend_name", "<or> bar <or> baz", False),
        ("replication_count", "<or> 1 <or> 2", True),
        ("replication_count", "<or> 3", False),
        ("replication_type", "<or> sync <or> metro", True),  # list capability: membership
    ],
)
def test_or(key: str, requirement: str, expected: bool) -> None:
    assert spec_matches(CAPS, key, requirement) is expected


@pytest.mark.parametrize(
    ("requirement", "expected"),
    [
        ("== 40", True),
        ("== 40.0", True),
        ("== 41", False),
        ("!= 41", True),
        ("!= 40", False),
        (">= 40", True),
        (">= 41", False),
        ("<= 40", True),
        ("<= 39.5", False),
        ("< 41", True),
        ("< 40", False),
        ("> 39", True),
        ("> 40", False),
        (">= lots", False),  # non-numeric requirement
        (">=", False),
    ],
)
def test_numeric(requirement: str, expected: bool) -> None:
    assert spec_matches(CAPS, "free_capacity_gb", requirement) is expected


def test_numeric_on_non_numeric_capability_does_not_match() -> None:
    assert not spec_matches(CAPS, "pools", ">= 0")
    assert not spec_matches(CAPS, "vendor_name", "!= 1")
    assert not spec_matches(CAPS, "replication_enabled", ">= 0")  # bools are not numbers here
    assert spec_matches({"free_capacity_gb": "12.5"}, "free_capacity_gb", "> 12")  # numeric strings are
    assert spec_matches({"free_capacity_gb": "infinity"}, "free_capacity_gb", "> 1000000")


@pytest.mark.parametrize(
    ("requirement", "expected"),
    [
        ("s== 2.1.0", True),
        ("s== 2.1", False),
        ("s!= 3.0.0", True),
        ("s!= 2.1.0", False),
        ("s>= 2.1.0", True),
        ("s>= 2.2", False),
        ("s<= 2.1.0", True),
        ("s<= 2.0.9", False),
        ("s< 3", True),
        ("s< 10", False),  # string, not numeric, order
        ("s> 10", True),
        ("s> 3", False),
    ],
)
def test_string_ops(requirement: str, expected: bool) -> None:
    assert spec_matches(CAPS, "driver_version", requirement) is expected


def test_plain_values() -> None:
    assert spec_matches(CAPS, "volume_backend_name", "foo")
    assert not spec_matches(CAPS, "volume_backend_name", "bar")
    assert spec_matches(CAPS, "replication_count", "1")
    assert spec_matches(CAPS, "replication_type", "async")  # list membership
    assert not spec_matches(CAPS, "replication_type", "metro")
    assert spec_matches(CAPS, "vendor_name", "Open Source")  # values may contain spaces
    assert spec_matches(CAPS, "replication_enabled", "True")
    assert spec_matches(CAPS, "replication_enabled", "true")
    assert not spec_matches(CAPS, "replication_enabled", "False")


def test_missing_capability_does_not_match() -> None:
    for requirement in ("foo", "<is> True", "<in> f", "<or> foo", "== 1", "s== foo"):
        assert not spec_matches({}, "volume_backend_name", requirement), requirement
        assert not spec_matches({"volume_backend_name": None}, "volume_backend_name", requirement)


# --------------------------------------------------------------------------------------------
# Scopes and the seed's replication key
# --------------------------------------------------------------------------------------------


def test_capabilities_scope_looks_up_the_key() -> None:
    assert spec_matches(CAPS, "capabilities:vendor_name", "Open Source")
    assert spec_matches(CAPS, "capabilities:replication_enabled", "<is> True")
    assert not spec_matches(NO_REPLICATION, "capabilities:replication_enabled", "<is> True")
    assert not spec_matches(CAPS, "capabilities:free_capacity_gb", ">= 1000")
    assert not spec_matches(CAPS, "capabilities:no_such_thing", "x")


def test_replication_scope() -> None:
    assert spec_matches(CAPS, "replication:replication_type", "async")
    assert spec_matches(CAPS, "replication:replication_type", "sync")
    assert not spec_matches(CAPS, "replication:replication_type", "metro")
    assert not spec_matches(NO_REPLICATION, "replication:replication_type", "async")
    assert spec_matches({"replication_type": "async"}, "replication:replication_type", "async")
    # ``replication:count`` falls back to the driver's ``replication_count``.
    assert spec_matches(CAPS, "replication:count", ">= 1")
    assert not spec_matches(CAPS, "replication:count", ">= 2")


@pytest.mark.parametrize("key", ["qos:maxIOPS", "hw:cpu_policy", "hw_rng:allowed", "QoS:anything"])
def test_other_scopes_are_ignored(key: str) -> None:
    assert spec_matches(CAPS, key, "whatever")
    assert spec_matches({}, key, ">= 1000")
    assert unmet_specs({}, {key: "x"}) == []


def test_seed_replication_key() -> None:
    assert spec_matches(CAPS, "replication", "enabled")
    assert spec_matches(CAPS, "replication", "Enabled")
    assert not spec_matches(NO_REPLICATION, "replication", "enabled")
    assert not spec_matches({}, "replication", "enabled")
    assert spec_matches({"replication_enabled": "true"}, "replication", "enabled")
    assert spec_matches(NO_REPLICATION, "replication", "disabled")
    assert spec_matches({}, "replication", "disabled")
    assert not spec_matches(CAPS, "replication", "disabled")
    # Other values use the operators against replication_enabled.
    assert spec_matches(CAPS, "replication", "<is> True")


@pytest.mark.parametrize("extra_specs", SEED_TYPES)
def test_seed_extra_specs_match_a_replicating_foo_backend(extra_specs: dict[str, str]) -> None:
    assert unmet_specs(CAPS, extra_specs) == []
    assert all(spec_matches(CAPS, key, value) for key, value in extra_specs.items())


@pytest.mark.parametrize("extra_specs", SEED_TYPES)
def test_seed_extra_specs_reject_a_non_replicating_backend(extra_specs: dict[str, str]) -> None:
    assert unmet_specs(NO_REPLICATION, extra_specs)[0] == (
        "replication: enabled (backend reports replication_enabled=False)"
    )


def test_seed_extra_specs_reject_wrong_backend_name_and_type() -> None:
    bar = {**CAPS, "volume_backend_name": "bar", "replication_type": ["sync"]}
    assert unmet_specs(bar, SEED_TYPES[0]) == []
    assert unmet_specs(bar, SEED_TYPES[1]) == [
        "volume_backend_name: foo (backend reports volume_backend_name='bar')"
    ]
    assert unmet_specs(bar, SEED_TYPES[2]) == [
        "replication:replication_type: async (backend reports replication_type=['sync'])",
        "volume_backend_name: foo (backend reports volume_backend_name='bar')",
    ]


def test_unmet_specs_messages_and_order() -> None:
    specs = {
        "volume_backend_name": "foo",
        "replication": "enabled",
        "free_capacity_gb": ">= 50",
        "capabilities:vendor_name": "<in> Acme",
        "qos:maxIOPS": "100",
        "multiattach": "<is> True",
    }
    assert unmet_specs(NO_REPLICATION, specs) == [
        "capabilities:vendor_name: <in> Acme (backend does not report vendor_name)",
        "free_capacity_gb: >= 50 (backend reports free_capacity_gb=40)",
        "multiattach: <is> True (backend does not report multiattach)",
        "replication: enabled (backend reports replication_enabled=False)",
    ]
    assert unmet_specs(CAPS, {}) == []


# --------------------------------------------------------------------------------------------
# wants_replication
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("extra_specs", "expected"),
    [
        ({"replication": "enabled"}, True),
        ({"replication": "ENABLED "}, True),
        ({"replication": "disabled"}, False),
        ({"replication_enabled": "<is> True"}, True),
        ({"replication_enabled": "<is>   true"}, True),
        ({"capabilities:replication_enabled": "<is> True"}, True),
        ({"replication_enabled": "<is> False"}, False),
        ({"volume_backend_name": "foo"}, False),
        ({}, False),
    ],
)
def test_wants_replication(extra_specs: dict[str, str], expected: bool) -> None:
    assert wants_replication(extra_specs) is expected


# --------------------------------------------------------------------------------------------
# Property: numeric operators agree with Python's comparisons
# --------------------------------------------------------------------------------------------

NUMERIC_OPS = {
    "==": operator.eq,
    "!=": operator.ne,
    ">=": operator.ge,
    "<=": operator.le,
    "<": operator.lt,
    ">": operator.gt,
}
numbers = st.one_of(
    st.integers(min_value=-(10**6), max_value=10**6),
    st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False),
)


@given(cap=numbers, wanted=numbers, op=st.sampled_from(sorted(NUMERIC_OPS)), as_string=st.booleans())
def test_numeric_ops_agree_with_python(cap: float, wanted: float, op: str, as_string: bool) -> None:
    reported = repr(cap) if as_string else cap
    expected = NUMERIC_OPS[op](float(cap), float(repr(wanted)))
    assert spec_matches({"free_capacity_gb": reported}, "free_capacity_gb", f"{op} {wanted!r}") is expected


@given(cap=numbers, wanted=numbers)
def test_ge_and_lt_partition_the_numbers(cap: float, wanted: float) -> None:
    caps = {"free_capacity_gb": cap}
    assert spec_matches(caps, "free_capacity_gb", f">= {wanted!r}") != spec_matches(
        caps, "free_capacity_gb", f"< {wanted!r}"
    )
