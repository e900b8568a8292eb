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
    assert set(contract.METHODS) == set(contract.REQUIRED) | set(v21)

    class Seed:
        pass

    class HostFailover:
        def failover_host(self, context, volumes, secondary_id=None, groups=None):
            return None, [], []

    assert not contract.supports(Seed(), contract.V21)
    assert contract.supports(HostFailover(), contract.V21)
    assert not contract.supports(HostFailover(), contract.ACTIVE_ACTIVE)
