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
    gated = {name: clause.gate for name, clause in contract.METHODS.items() if clause.gate}
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
