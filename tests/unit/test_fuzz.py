"""Random worlds: a seed names one world for good, the worlds span the space the issue asks for
(every fault kind and parameter, every replication shape, sync and async, managed and unmanaged, thin
and thick), every one is valid (its file loads back equal), and a kind added to the registry is drawn
without touching the generator."""

from __future__ import annotations

import dataclasses
import hashlib
import subprocess
import sys
from collections.abc import Iterable, Mapping
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from replisim.drivers import contract
from replisim.scenarios.faults import KINDS, Fault, FaultKind, Param
from replisim.scenarios.fuzz import PROFILES, FuzzError, draw_world, fault_kinds
from replisim.scenarios.schema import (
    FlipFlopPolicy,
    PoissonPolicy,
    Scenario,
    parse_scenario,
    scenario_to_yaml,
)

SEEDS = range(1, 301)


@pytest.fixture(scope="module")
def worlds() -> list[Scenario]:
    return [draw_world(seed) for seed in SEEDS]


def round_trips(world: Scenario) -> bool:
    return parse_scenario(scenario_to_yaml(world), "again.yaml") == dataclasses.replace(
        world, source="again.yaml"
    )


# -- a seed names a world --------------------------------------------------------------------------------


def test_same_seed_same_world_and_different_seeds_differ(worlds: list[Scenario]) -> None:
    assert [draw_world(seed) for seed in (1, 17, 300)] == [worlds[0], worlds[16], worlds[299]]
    assert len({scenario_to_yaml(world) for world in worlds}) == len(worlds)
    assert draw_world(5, "deep") != worlds[4]


def world_digests(seeds: Iterable[int]) -> str:
    text = "".join(scenario_to_yaml(draw_world(seed)) for seed in seeds)
    return hashlib.sha256(text.encode()).hexdigest()


def test_same_world_in_other_processes_and_hash_seeds() -> None:
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); from test_fuzz import world_digests; "
        "print(world_digests(range(1, 21)))"
    )
    here = str(__import__("pathlib").Path(__file__).parent)
    seen = {
        subprocess.run(
            [sys.executable, "-c", code, here],
            capture_output=True,
            text=True,
            check=True,
            env={"PYTHONHASHSEED": hash_seed, "PATH": "/usr/bin:/bin"},
        ).stdout.strip()
        for hash_seed in ("1", "2")
    }
    assert seen == {world_digests(range(1, 21))}


def test_unknown_profile_is_refused_naming_the_profiles() -> None:
    with pytest.raises(FuzzError, match="unknown fuzz profile 'huge'; profiles: ci, deep"):
        draw_world(1, "huge")


# -- every world is valid: the schema is the judge --------------------------------------------------------


def test_every_world_of_300_seeds_loads_back_equal_from_its_file(worlds: list[Scenario]) -> None:
    assert [world.seed for world in worlds if not round_trips(world)] == []


@settings(database=None, max_examples=60, deadline=None)
@given(st.integers(0, 2**32), st.sampled_from(sorted(PROFILES)))
def test_any_seed_of_any_profile_loads_back_equal(seed: int, profile: str) -> None:
    assert round_trips(draw_world(seed, profile))


# -- the worlds cover the space ---------------------------------------------------------------------------


def drawn_faults(world: Scenario) -> list[Fault]:
    """Explicit faults and the random policies' kinds (as faults without a time)."""
    faults = list(world.faults)
    for policy in world.random_faults:
        if isinstance(policy, PoissonPolicy):
            faults += [Fault(kind, "*", policy.start) for kind in policy.kinds]
        else:
            assert isinstance(policy, FlipFlopPolicy)
            faults.append(Fault(policy.kind, policy.target, policy.start, params=policy.params))
    return faults


def test_every_fault_kind_and_every_parameter_value_is_drawn(worlds: list[Scenario]) -> None:
    faults = [fault for world in worlds for fault in drawn_faults(world)]
    assert {fault.kind for fault in faults} == set(KINDS)
    values: dict[tuple[str, str], list[Any]] = {}
    for fault in faults:
        for name, value in fault.params.items():
            values.setdefault((fault.kind, name), []).append(value)
    assert {key for key in values} == {
        (kind, param.name) for kind, spec in KINDS.items() for param in spec.params
    }
    assert (
        set(values[("driver.raise", "method")])
        == set(values[("driver.hang", "method")])
        == set(contract.REQUIRED)
    )
    assert set(values[("driver.raise", "error")]) == {"cinder", "unexpected"}
    for kind in ("bus.loss", "bus.duplicate", "bus.reorder"):  # both ends of a probability, and between
        probabilities = values[(kind, "probability")]
        assert {0.0, 1.0} <= set(probabilities) and len(set(probabilities)) >= 5, kind
    for key in [
        ("array.latency_spike", "factor"),
        ("link.flap", "period"),
        ("link.throttle", "bandwidth_mbps"),
        ("array.controller_restart", "completes"),
    ]:
        assert len(set(values[key])) >= 5, key
    for groups in values[("bus.partition", "groups")]:
        flat = [pattern for group in groups for pattern in group]
        assert len(groups) >= 2 and all(groups) and len(flat) == len(set(flat))


def targets_of(world: Scenario) -> dict[str, set[str]]:
    return {name: set(spec.replication_targets) for name, spec in world.topology.backends.items()}


def has_cycle(graph: Mapping[str, set[str]], length: int) -> bool:
    """A replication cycle through exactly ``length`` distinct backends."""

    def walk(path: list[str]) -> bool:
        if len(path) == length:
            return path[0] in graph[path[-1]]
        return any(walk([*path, nxt]) for nxt in graph[path[-1]] if nxt not in path)

    return any(walk([start]) for start in graph)


def has_chain(graph: Mapping[str, set[str]]) -> bool:
    """a -> b -> c where c does not replicate back to a: a cascade, not a ring."""
    return any(c != a and a not in graph[c] for a in graph for b in graph[a] for c in graph[b])


def test_every_replication_shape_mode_and_pool_appears(worlds: list[Scenario]) -> None:
    graphs = [targets_of(world) for world in worlds]
    fan_outs = {len(targets) for graph in graphs for targets in graph.values()}
    assert fan_outs == {0, 1, 2, 3, 4}  # up to four targets
    assert any(has_chain(graph) for graph in graphs)
    assert any(has_cycle(graph, 2) for graph in graphs)  # a pair replicating both ways
    assert any(has_cycle(graph, 3) for graph in graphs) and any(has_cycle(graph, 5) for graph in graphs)
    assert any(not any(graph.values()) for graph in graphs)  # no replication at all
    backends = [spec for world in worlds for spec in world.topology.backends.values()]
    replicating = [b for b in backends if b.replication_targets or b.replication_devices]
    assert {b.replication_mode for b in replicating} == {"sync", "async"}
    assert {b.provisioning for b in backends} == {"thin", "thick"}
    unmanaged = [b for b in backends if b.replication_devices]
    assert unmanaged and all(
        device.get("san_password") for b in unmanaged for device in b.replication_devices
    )
    capacities = [b.capacity_gb for b in backends]
    assert min(capacities) < 100 and max(capacities) > 10000  # small pools run out
    assert any(b.array != b.name for b in backends)
    sizes = {len(world.topology.backends) for world in worlds}
    assert min(sizes) == 1 and max(sizes) == PROFILES["ci"].backends[1]
    assert max(len(draw_world(seed, "deep").topology.backends) for seed in range(1, 41)) >= 15
    assert any(world.topology.links for world in worlds)
    buses = [world.topology.bus for world in worlds]
    assert any(bus.loss > 0 for bus in buses) and any(
        bus.loss == bus.duplicate == bus.reorder == 0 for bus in buses
    )


def test_operators_fail_over_fail_back_name_secondaries_and_disable_in_waves(worlds: list[Scenario]) -> None:
    actions = [(world, action) for world in worlds for action in world.workload.actions]
    failovers = [a for _, a in actions if a.action == "failover_replication"]
    assert any(a.secondary for a in failovers) and any(a.secondary is None for a in failovers)
    assert {a.volumes.partition(":")[0] for _, a in actions} == {"all", "backend", "type"}

    def followed(world: Scenario, first: str, then: str) -> bool:
        done = world.workload.actions
        return any(
            a.action == first and b.action == then and a.volumes == b.volumes and a.at < b.at
            for a in done
            for b in done
            if a is not b
        )

    assert any(
        followed(world, "failover_replication", "failover_replication") for world in worlds
    )  # failback
    assert any(followed(world, "disable_replication", "enable_replication") for world in worlds)
    policies = [p for world in worlds for p in world.workload.policies]
    assert policies and any(p.after > 0 for p in policies) and any(p.secondary for p in policies)
    assert {p.when for p in policies} == {"array_down"}


def test_faults_overlap_interleave_start_broken_and_some_last_until_the_heal(worlds: list[Scenario]) -> None:
    def twins(world: Scenario) -> bool:  # same kind, same target, the second starting inside the first
        return any(
            a.kind == b.kind and a.target == b.target and a.start <= b.start < a.end
            for a in world.faults
            for b in world.faults
            if a is not b
        )

    assert sum(twins(world) for world in worlds) >= len(worlds) // 4
    assert any(fault.duration is None for world in worlds for fault in world.faults)
    assert any(fault.start == 0 for world in worlds for fault in world.faults)
    kinds = [type(policy) for world in worlds for policy in world.random_faults]
    assert PoissonPolicy in kinds and FlipFlopPolicy in kinds
    for world in worlds:  # the heal phase outlasts the control plane's own timeouts several times over
        assert world.heal >= max(600.0, 10 * world.report_interval)
        assert all(fault.end <= world.duration or fault.duration is None for fault in world.faults)


# -- the registry decides what is drawn -------------------------------------------------------------------


def test_a_kind_added_to_the_registry_is_drawn_without_touching_the_generator(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    probe = FaultKind("array.fuzz_probe", "array", "a kind the generator never saw", KINDS["array.crash"].sim)
    monkeypatch.setitem(KINDS, "array.fuzz_probe", probe)
    assert "array.fuzz_probe" in [kind.name for kind in fault_kinds()]
    seen = [
        world.seed
        for world in map(draw_world, range(1, 61))
        if any(f.kind == "array.fuzz_probe" for f in drawn_faults(world))
    ]
    assert len(seen) >= 10


def test_a_kind_whose_required_parameter_cannot_be_drawn_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    shape = Param("shape", "mystery", "a parameter of a type nobody draws", required=True)
    probe = FaultKind("bus.fuzz_probe", "bus", "a probe", KINDS["bus.loss"].sim, (shape,))
    monkeypatch.setitem(KINDS, "bus.fuzz_probe", probe)
    with pytest.raises(FuzzError, match=r"bus\.fuzz_probe needs params\.shape"):
        draw_world(1)


def test_a_kind_hitting_a_target_type_the_generator_does_not_know_is_an_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    probe = FaultKind("volume.fuzz_probe", "volume", "a probe", KINDS["array.crash"].sim)
    monkeypatch.setitem(KINDS, "volume.fuzz_probe", probe)
    with pytest.raises(
        FuzzError, match=r"volume\.fuzz_probe hits a target the world generator does not know"
    ):
        draw_world(1)
