"""Random sequences of the four admin actions, creates and deletes, with random driver failures.

After every step each volume's replication_status is one the seed knows and every change so far
followed ``ALLOWED_TRANSITIONS``; once the system is quiet, no volume is left mid-operation.
"""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, rule
from support import memdriver
from support.cluster import Cluster

from replisim import exception
from replisim.actors.db import MemoryRepository
from replisim.actors.status import ALLOWED_TRANSITIONS, REPLICATION_STATUSES, TRANSITIONAL
from replisim.sim import SimRuntime

HOSTS = ["replisim@alpha", "replisim@beta", "replisim@gamma"]
METHODS = [
    "replication_enable",
    "replication_disable",
    "replication_failover",
    "create_volume",
    "delete_volume",
    "list_replication_targets",
]
FAULTS = [exception.VolumeBackendAPIException(data="injected"), RuntimeError("injected driver bug")]


class RecordingRepository(MemoryRepository):
    """Remembers every replication_status change, so transitions can be checked, not sampled."""

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self.changes: list[tuple[str, str | None, str | None]] = []

    def _record(self, volume_id: str, before: str | None, after: dict[str, Any] | None) -> None:
        if after is not None and after["replication_status"] != before:
            self.changes.append((volume_id, before, after["replication_status"]))

    def volume_update(self, volume_id: str, values: Any) -> dict[str, Any]:
        before = self.volume_get(volume_id)["replication_status"]
        after = super().volume_update(volume_id, values)
        self._record(volume_id, before, after)
        return after

    def volume_conditional_update(
        self, volume_id: str, expected: Any, values: Any, *, within_quota: bool = False
    ) -> dict[str, Any] | None:
        before = self.volume_get(volume_id)["replication_status"]
        after = super().volume_conditional_update(volume_id, expected, values, within_quota=within_quota)
        self._record(volume_id, before, after)
        return after


class ReplicationMachine(RuleBasedStateMachine):
    volumes = Bundle("volumes")

    def __init__(self) -> None:
        super().__init__()
        runtime = SimRuntime(seed=3, trace=False)
        self.repo = RecordingRepository(clock=lambda: runtime.now)
        self.cluster = Cluster(runtime, self.repo)
        self.cluster.replicated_type()

    @rule(target=volumes, replicated=st.booleans(), size=st.integers(1, 300))
    def create(self, replicated: bool, size: int) -> str:
        volume = self.cluster.alice("create_volume", size=size, volume_type="gold" if replicated else None)
        self.cluster.settle(0.5)
        return str(volume["id"])

    @rule(
        volume=volumes,
        action=st.sampled_from(
            ["enable_replication", "disable_replication", "failover_replication", "list_replication_targets"]
        ),
    )
    def admin_action(self, volume: str, action: str) -> None:
        # refusals are part of the contract; what matters is the state they leave
        with contextlib.suppress(
            exception.InvalidVolume, exception.VolumeNotFound, exception.VolumeBackendAPIException
        ):
            self.cluster.admin(action, volume_id=volume)

    @rule(volume=volumes)
    def delete(self, volume: str) -> None:
        with contextlib.suppress(exception.InvalidVolume, exception.VolumeNotFound):
            self.cluster.alice("delete_volume", volume_id=volume)

    @rule(volume=volumes, method=st.sampled_from(METHODS), fault=st.sampled_from(FAULTS))
    def break_driver(self, volume: str, method: str, fault: BaseException) -> None:
        """Break a method of the driver that serves ``volume`` (the likeliest to matter)."""
        host = (self.repo.volume_get(volume)["host"] or "") if self._exists(volume) else ""
        memdriver.FAULTS[(host.partition("#")[0] or HOSTS[0], method)] = fault

    def _exists(self, volume: str) -> bool:
        try:
            self.repo.volume_get(volume)
        except exception.VolumeNotFound:
            return False
        return True

    @rule()
    def repair_drivers(self) -> None:
        memdriver.FAULTS.clear()

    @rule(intervals=st.floats(0.01, 2.0))
    def let_time_pass(self, intervals: float) -> None:
        self.cluster.settle(intervals)

    @rule()
    def quiesce(self) -> None:
        self.check_quiet()

    def check_quiet(self) -> None:
        self.cluster.settle(3)
        stuck = [
            (v["id"], v["replication_status"])
            for v in self.repo.volume_get_all()
            if v["replication_status"] in TRANSITIONAL
        ]
        assert not stuck, f"volumes left mid-operation once quiet: {stuck}"

    @invariant()
    def statuses_are_known_and_moves_allowed(self) -> None:
        for volume in self.repo.volume_get_all():
            assert volume["replication_status"] in REPLICATION_STATUSES, volume
        illegal = [c for c in self.repo.changes if (c[1], c[2]) not in ALLOWED_TRANSITIONS]
        assert not illegal, f"transitions outside the table: {illegal}"

    def teardown(self) -> None:
        try:
            self.check_quiet()
        finally:
            self.cluster.stop()


ReplicationMachine.TestCase.settings = settings(
    max_examples=60,
    stateful_step_count=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestReplicationStateMachine = ReplicationMachine.TestCase


def test_a_replication_action_on_a_volume_being_deleted_is_refused_and_leaves_nothing_moving() -> None:
    """Found by the machine above: the API let an enable through while a delete was at work, the
    manager (one request per volume) ignored it, and the volume stayed 'enabling' for good."""
    machine = ReplicationMachine()
    try:
        volume = str(machine.create(replicated=True, size=1))
        machine.break_driver(
            fault=exception.VolumeBackendAPIException("injected"), method="delete_volume", volume=volume
        )
        machine.delete(volume=volume)
        assert machine.repo.volume_get(volume)["status"] == "deleting"
        with pytest.raises(exception.InvalidVolume, match="while its status is 'deleting'"):
            machine.cluster.admin("enable_replication", volume_id=volume)
        machine.check_quiet()
    finally:
        machine.cluster.stop()
