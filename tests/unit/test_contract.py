"""The driver contract is one table, and what depends on it follows it: the driver host, driver
faults and the emulated driver's service times."""

from __future__ import annotations

import pytest

from replisim.actors.driverhost import DriverFaults
from replisim.drivers import contract
from replisim.drivers.emulated.array import DEFAULT_SERVICE_TIMES
from replisim.drivers.emulated.driver import OPERATIONS


def test_the_emulated_driver_times_every_contract_method_and_nothing_else() -> None:
    assert set(OPERATIONS) == set(contract.METHODS)
    assert set(OPERATIONS.values()) <= set(DEFAULT_SERVICE_TIMES)


def test_driver_faults_arm_every_contract_method_and_refuse_anything_else() -> None:
    faults = DriverFaults()
    for method in contract.METHODS:
        faults.arm(method, "cinder")
        assert faults.active(method, 0.0) == ("cinder", float("inf"))
    with pytest.raises(ValueError, match="'resize_volume' is not a driver operation"):
        faults.arm("resize_volume", "cinder")


def test_a_clause_reads_as_the_contract_states_it() -> None:
    stats = contract.METHODS["get_volume_stats"]
    assert str(stats) == "get_volume_stats(refresh=False) -> dict"
    assert contract.CONSTRUCTOR.signature == "__init__(configuration, host)"
    assert {name for name, clause in contract.REQUIRED.items() if clause.gate} == {
        "replication_enable",
        "replication_disable",
        "replication_failover",
        "get_replication_updates",
    }
    failover_host = contract.METHODS["failover_host"]
    assert failover_host.signature == "failover_host(context, volumes, secondary_id=None, groups=None)"
    assert failover_host.era == contract.V21 and failover_host.gate == contract.REPLICATION


def test_v21_clauses_are_cinder_29s_and_optional_to_a_seed_driver() -> None:
    v21 = {c.name: c.signature for c in contract.V21_CLAUSES}
    assert v21 == {
        "failover_host": "failover_host(context, volumes, secondary_id=None, groups=None)",
        "failover": "failover(context, volumes, secondary_id=None, groups=None)",
        "failover_completed": "failover_completed(context, active_backend_id=None)",
        "freeze_backend": "freeze_backend(context)",
        "thaw_backend": "thaw_backend(context)",
    }
    assert not set(v21) & set(contract.REQUIRED)
    assert set(contract.METHODS) == set(contract.REQUIRED) | set(v21) | {
        c.name for c in contract.GROUP_CLAUSES
    }

    class Seed:
        pass

    class HostFailover:
        def failover_host(self, context, volumes, secondary_id=None, groups=None):
            return None, [], []

    assert not contract.supports(Seed(), contract.V21)
    assert contract.supports(HostFailover(), contract.V21)
    assert not contract.supports(HostFailover(), contract.ACTIVE_ACTIVE)


def test_the_gates_of_the_seed_and_group_clauses() -> None:
    gated = {
        name: clause.gate
        for name, clause in contract.METHODS.items()
        if clause.gate and clause.era != contract.V21
    }
    assert gated == {
        "replication_enable": contract.REPLICATION,
        "replication_disable": contract.REPLICATION,
        "replication_failover": contract.REPLICATION,
        "get_replication_updates": contract.REPLICATION,
        "enable_replication": contract.GROUP_REPLICATION,
        "disable_replication": contract.GROUP_REPLICATION,
        "failover_replication": contract.GROUP_REPLICATION,
        "get_replication_error_status": contract.GROUP_REPLICATION,
    }
    assert str(contract.METHODS["failover_replication"]) == (
        "failover_replication(context, group, volumes, secondary_backend_id=None) -> "
        + contract.GROUP_UPDATES
    )


def test_every_clause_belongs_to_one_era_and_a_driver_takes_part_in_groups_by_reporting_them() -> None:
    assert [c.name for era in contract.ERAS.values() for c in era] == list(contract.METHODS)
    assert {c.era for c in contract.GROUP_CLAUSES} == {"groups"}
    assert not contract.era_supported("groups", {"replication_enabled": True})
    assert not contract.era_supported("groups", {"group_replication_enabled": "True"})  # a bool, not text
    assert contract.era_supported("groups", {"consistent_group_replication_enabled": True})
    assert contract.era_supported("v2", {})
