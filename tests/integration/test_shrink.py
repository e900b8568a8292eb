"""Shrinking: a failing scenario loses every fault, admin action and bit of load that does not matter,
keeps exactly what does, and stays a scenario file that loads."""

from __future__ import annotations

from dataclasses import replace

import pytest

from replisim.scenarios.faults import Fault
from replisim.scenarios.schema import Scenario, draw_faults, parse_scenario, scenario_to_yaml
from replisim.scenarios.shrink import shrink

TEXT = """\
name: shrink-me
seed: 4
duration: 1h
topology:
  backends:
    alpha: {replication_targets: [beta]}
    beta: {}
workload:
  initial_volumes: 40
  create: {rate: 1/s}
  delete: {rate: 0.2/s}
  writes: {per_volume_rate: 2/s}
  actions:
    - {at: 5m, action: enable_replication}
    - {at: 30m, action: failover_replication, volumes: backend:alpha, secondary: beta}
    - {at: 50m, action: disable_replication}
  policies:
    - {when: array_down, backend: alpha, action: failover_replication, after: 30s}
faults:
  schedule:
    - {kind: array.crash, target: alpha, start: 20m, duration: 15m}
    - {kind: manager.restart, target: beta, start: 40m, duration: 1m}
  random:
    - {policy: poisson, rate: 1/2m, kinds: [link.down, bus.loss, array.latency_spike]}
"""


@pytest.fixture
def scenario() -> Scenario:
    return parse_scenario(TEXT, "shrink-me.yaml")


def culprits(scenario: Scenario) -> tuple[Fault, Fault]:
    """Two of the faults the seed draws at random: the 'bug' needs both."""
    drawn = draw_faults(scenario, scenario.seed)
    assert len(drawn) >= 20, "the test needs a seeded case with at least 20 faults"
    return drawn[5], drawn[len(drawn) - 3]


def test_keeps_exactly_the_two_faults_that_matter(scenario: Scenario) -> None:
    first, second = culprits(scenario)
    calls: list[Scenario] = []

    def still_fails(candidate: Scenario) -> bool:
        calls.append(candidate)
        return first in candidate.faults and second in candidate.faults

    result = shrink(scenario, still_fails)
    assert result.scenario.faults == (first, second)
    assert result.scenario.random_faults == ()
    assert result.scenario.workload.actions == () and result.scenario.workload.policies == ()
    assert result.scenario.workload.initial_volumes == 0 and result.scenario.workload.create.rate == 0
    assert len(result.original.faults) >= 20 and result.original.faults == tuple(draw_faults(scenario, 4))
    assert result.attempts == len(calls) == len({repr(call) for call in calls}) <= 80
    assert not result.exhausted
    assert result.summary().startswith(
        f"shrunk {len(result.original.faults)} -> 2 faults, 3 -> 0 admin actions, 1 -> 0 admin policies in "
    )
    again = shrink(scenario, lambda s: first in s.faults and second in s.faults)
    assert again == result


def test_keeps_the_action_and_enough_load(scenario: Scenario) -> None:
    failover = scenario.workload.actions[1]

    def still_fails(candidate: Scenario) -> bool:
        work = candidate.workload
        return failover in work.actions and work.create.rate >= 0.1 and work.initial_volumes >= 3

    result = shrink(scenario, still_fails)
    work = result.scenario.workload
    assert result.scenario.faults == () and work.actions == (failover,) and work.policies == ()
    assert 0.1 <= work.create.rate < 0.2  # halved from 1/s while it still failed
    assert 3 <= work.initial_volumes < 6
    assert work.delete.rate == 0 and work.writes.per_volume_rate == 0


def test_shrinks_for_the_failing_seed_and_writes_a_runnable_file(scenario: Scenario) -> None:
    drawn = draw_faults(scenario, 99)
    needed = drawn[-1]
    result = shrink(scenario, lambda s: needed in s.faults, seed=99)
    assert result.scenario.seed == 99 and result.scenario.faults == (needed,)
    reloaded = parse_scenario(scenario_to_yaml(result.scenario, comment=result.summary()), "shrunk.yaml")
    assert reloaded == replace(result.scenario, source="shrunk.yaml")


def test_attempt_budget_bounds_the_work_and_the_result_still_fails(scenario: Scenario) -> None:
    first, second = culprits(scenario)
    result = shrink(scenario, lambda s: first in s.faults and second in s.faults, max_attempts=6)
    assert result.exhausted and result.attempts == 6
    assert first in result.scenario.faults and second in result.scenario.faults
    assert "may not be minimal" in result.summary()


def test_a_scenario_that_does_not_fail_is_refused(scenario: Scenario) -> None:
    with pytest.raises(ValueError, match="seed 4 does not fail"):
        shrink(scenario, lambda s: False)
