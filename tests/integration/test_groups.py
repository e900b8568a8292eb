"""Generic volume groups and group replication in sim, on the emulated arrays: Cinder 29's states
after each step (reference/cinder-replication.md §2.3), its refusals, its policy (a project member's
actions, not admin-only), and what this project adds: no failure leaves a group or a volume
mid-operation, every status change is one the tables allow, and a group failover's lost
acknowledged writes are counted exactly, as any failover's."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from support.cluster import ADMIN, Cluster

from replisim import exception
from replisim.actors import rpcapi
from replisim.actors.client import Client
from replisim.actors.context import RequestContext
from replisim.actors.db import MemoryRepository
from replisim.actors.driverhost import DriverHost
from replisim.actors.status import ALLOWED_TRANSITIONS, GROUP_TRANSITIONS, TRANSITIONAL
from replisim.drivers.emulated.fabric import Fabric
from replisim.scenarios.checkers import LEGAL
from replisim.sim import SimRuntime

CONF = """
[DEFAULT]
host = replisim
enabled_backends = alpha, beta

[alpha]
volume_driver = replisim.drivers.emulated.EmulatedDriver
volume_backend_name = alpha
replication_devices = beta
replication_mode = async
replication_bandwidth_mbps = 1

[beta]
volume_driver = replisim.drivers.emulated.EmulatedDriver
volume_backend_name = beta
replication_devices = alpha
"""
MEMBER = RequestContext("carol", "project-c", roles=("member", "reader"))
STRANGER = RequestContext("dave", "project-d", roles=("member", "reader"))


class Recording(MemoryRepository):
    """Remembers every replication_status change of volumes and groups."""

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self.volume_moves: list[tuple[str | None, str | None]] = []
        self.group_moves: list[tuple[str | None, str | None]] = []

    def volume_update(self, volume_id: str, values: Any) -> dict[str, Any]:
        before = self.volume_get(volume_id)["replication_status"]
        after = super().volume_update(volume_id, values)
        self.volume_moves.append((before, after["replication_status"]))
        return after

    def volume_conditional_update(
        self, volume_id: str, expected: Any, values: Any, *, within_quota: bool = False
    ) -> dict[str, Any] | None:
        before = self.volume_get(volume_id)["replication_status"]
        after = super().volume_conditional_update(volume_id, expected, values, within_quota=within_quota)
        if after is not None:
            self.volume_moves.append((before, after["replication_status"]))
        return after

    def group_update(self, group_id: str, values: Any) -> dict[str, Any]:
        before = self.group_get(group_id)["replication_status"]
        after = super().group_update(group_id, values)
        self.group_moves.append((before, after["replication_status"]))
        return after

    def group_conditional_update(self, group_id: str, expected: Any, values: Any) -> dict[str, Any] | None:
        before = self.group_get(group_id)["replication_status"]
        after = super().group_conditional_update(group_id, expected, values)
        if after is not None:
            self.group_moves.append((before, after["replication_status"]))
        return after


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    runtime = SimRuntime(seed=5, trace=False)
    fabric = Fabric.for_runtime(runtime)
    world = Cluster(runtime, Recording(clock=lambda: runtime.now), CONF, fabric)
    try:
        yield world
    finally:
        world.stop()


def _types(cluster: Cluster, specs: dict[str, str] | None = None) -> tuple[str, str]:
    volume_type = cluster.admin(
        "create_volume_type", name="mirrored", extra_specs={"replication_enabled": "<is> True"}
    )
    group_type = cluster.admin(
        "create_group_type",
        name="consistent",
        group_specs=specs if specs is not None else {"consistent_group_replication_enabled": "<is> True"},
    )
    return volume_type["id"], group_type["id"]


def _group(cluster: Cluster, client: Client, volumes: int = 2, **type_specs: Any) -> tuple[str, list[str]]:
    volume_type, group_type = _types(cluster, **type_specs)
    group = client("create_group", group_type=group_type, volume_types=[volume_type], name="g")
    cluster.wait_for(lambda: cluster.db.group_get(group["id"])["status"] == "available", "the group")
    ids = [
        client("create_volume", size=1, volume_type=volume_type, group_id=group["id"])["id"]
        for _ in range(volumes)
    ]
    for volume_id in ids:
        cluster.wait_status(volume_id, "status", "available")
    return group["id"], ids


def _state(cluster: Cluster, group_id: str, ids: list[str]) -> tuple[tuple[str, str], list[tuple[str, str]]]:
    group = cluster.db.group_get(group_id)
    return (
        (group["status"], group["replication_status"]),
        [(v["status"], v["replication_status"]) for v in map(cluster.volume, ids)],
    )


def _act(cluster: Cluster, client: Client, action: str, group_id: str, **args: Any) -> None:
    client(action, group_id=group_id, **args)
    cluster.wait_for(
        lambda: cluster.db.group_get(group_id)["replication_status"] not in TRANSITIONAL, f"{action} to end"
    )


def test_a_group_replicates_fails_over_fails_back_and_is_deleted_as_cinder_29_does(cluster: Cluster) -> None:
    group_id, ids = _group(cluster, cluster.admin)
    assert _state(cluster, group_id, ids) == (("available", "disabled"), [("available", "disabled")] * 2)
    assert {cluster.volume(v)["host"] for v in ids} == {cluster.db.group_get(group_id)["host"]}
    cluster.admin("enable_group_replication", group_id=group_id)
    assert _state(cluster, group_id, ids) == (("available", "enabling"), [("available", "enabling")] * 2)
    cluster.wait_for(lambda: cluster.db.group_get(group_id)["replication_status"] == "enabled", "enabled")
    assert _state(cluster, group_id, ids) == (("available", "enabled"), [("available", "enabled")] * 2)
    assert cluster.admin("list_group_replication_targets", group_id=group_id) == {
        "replication_targets": [{"backend_id": "beta"}]
    }
    _act(cluster, cluster.admin, "failover_group_replication", group_id)
    assert _state(cluster, group_id, ids) == (
        ("available", "failed-over"),
        [("available", "failed-over")] * 2,
    )
    _act(cluster, cluster.admin, "failover_group_replication", group_id, secondary_backend_id="default")
    assert _state(cluster, group_id, ids) == (("available", "enabled"), [("available", "enabled")] * 2)
    _act(cluster, cluster.admin, "disable_group_replication", group_id)
    assert _state(cluster, group_id, ids) == (("available", "disabled"), [("available", "disabled")] * 2)
    with pytest.raises(exception.InvalidGroup, match="still contains volumes"):
        cluster.admin("delete_group", group_id=group_id)
    cluster.admin("delete_group", group_id=group_id, delete_volumes=True)
    cluster.settle(2)
    with pytest.raises(exception.GroupNotFound):
        cluster.db.group_get(group_id)
    assert [v for v in cluster.db.volume_get_all() if v["id"] in ids] == []
    assert cluster.fabric is not None
    assert not any(v in array.copies for v in ids for array in cluster.fabric.arrays.values())


def test_every_status_change_of_a_group_action_is_in_the_tables(cluster: Cluster) -> None:
    group_id, _ = _group(cluster, cluster.admin)
    for action, args in (
        ("enable_group_replication", {}),
        ("enable_group_replication", {}),  # a re-enable, from enabled
        ("failover_group_replication", {}),
        ("failover_group_replication", {}),  # again, from failed-over: still failed-over, as Cinder
        ("failover_group_replication", {"secondary_backend_id": "default"}),
        ("disable_group_replication", {}),
    ):
        _act(cluster, cluster.admin, action, group_id, **args)
    db = cluster.db
    assert isinstance(db, Recording)
    volume_moves = {m for m in db.volume_moves if m[0] != m[1]}
    group_moves = {m for m in db.group_moves if m[0] != m[1]}
    assert ("failing-over", "failed-over") in volume_moves and ("enabled", "enabling") in group_moves
    assert volume_moves <= ALLOWED_TRANSITIONS and volume_moves <= LEGAL
    assert group_moves <= GROUP_TRANSITIONS


def test_a_group_failover_counts_every_acknowledged_write_it_loses(cluster: Cluster) -> None:
    group_id, ids = _group(cluster, cluster.admin)
    _act(cluster, cluster.admin, "enable_group_replication", group_id)
    fabric = cluster.fabric
    assert fabric is not None
    for volume_id in ids:
        fabric.set_write_rate(volume_id, 200.0)  # 200 writes/s of 64 KiB over a 1 Mbit/s link: lag grows
    cluster.settle(1)
    before = len(fabric.failovers)
    acknowledged = {v: fabric.writes(v, "alpha") for v in ids}
    _act(cluster, cluster.admin, "failover_group_replication", group_id)
    records = fabric.failovers[before:]
    assert sorted(r.volume_id for r in records) == sorted(ids)
    assert len({r.time for r in records}) == 1  # one instant: a consistent group
    for record in records:
        assert record.lost_writes > 0
        assert record.source_writes >= acknowledged[record.volume_id]
        data = cluster.volume(record.volume_id)["replication_driver_data"]
        assert f'"lost_writes": {record.lost_writes}' in data


def _driver_host(cluster: Cluster, group_id: str) -> DriverHost:
    host = cluster.db.group_get(group_id)["host"]
    actor = cluster.runtime.actor(rpcapi.driver_address(host))
    assert isinstance(actor, DriverHost)
    return actor


@pytest.mark.parametrize("mode", ["cinder", "unexpected", "hang"])
def test_a_failing_driver_leaves_the_group_and_its_volumes_in_error_never_mid_operation(
    cluster: Cluster, mode: str
) -> None:
    group_id, ids = _group(cluster, cluster.admin)
    _act(cluster, cluster.admin, "enable_group_replication", group_id)
    _driver_host(cluster, group_id).faults.arm("failover_replication", mode)
    cluster.admin("failover_group_replication", group_id=group_id)
    cluster.wait_for(
        lambda: cluster.db.group_get(group_id)["replication_status"] not in TRANSITIONAL,
        "the failover to end",
        30,
    )
    group, volumes = _state(cluster, group_id, ids)
    assert group == ("error", "error")
    # a hang times out; the arrays' next report may already say the failover never happened
    repaired = {("error", "error"), ("error", "enabled")} if mode == "hang" else {("error", "error")}
    assert set(volumes) <= repaired
    assert "failover replication of group" in (cluster.db.group_get(group_id)["status_reason"] or "")
    # Cinder's way on: disable from error, allowed from group status error
    _driver_host(cluster, group_id).faults = type(_driver_host(cluster, group_id).faults)()
    _act(cluster, cluster.admin, "disable_group_replication", group_id)
    assert cluster.db.group_get(group_id)["replication_status"] == "disabled"


def test_the_api_refuses_as_cinder_29_does(cluster: Cluster) -> None:
    group_id, ids = _group(cluster, cluster.admin, specs={})
    with pytest.raises(
        exception.InvalidGroupType, match=f"Group {group_id} is not a replication group type."
    ):
        cluster.admin("enable_group_replication", group_id=group_id)
    with pytest.raises(exception.InvalidVolume, match="belong to a group"):
        cluster.admin("delete_volume", volume_id=ids[0])
    with pytest.raises(exception.InvalidInput, match="volume_type must be provided"):
        cluster.admin("create_volume", size=1, group_id=group_id)


def test_group_state_checks_name_the_valid_statuses(cluster: Cluster) -> None:
    group_id, _ = _group(cluster, cluster.admin)
    with pytest.raises(
        exception.InvalidGroup,
        match=re.escape(
            f"Group {group_id} replication status must be ['enabled', 'error'], but current status "
            "is: disabled. Cannot disable replication."
        ),
    ):
        cluster.admin("disable_group_replication", group_id=group_id)
    with pytest.raises(exception.InvalidGroup, match=re.escape("must be ['enabled', 'failed-over']")):
        cluster.admin("failover_group_replication", group_id=group_id)


def test_group_actions_belong_to_project_members_not_only_admins(cluster: Cluster) -> None:
    member = Client(cluster.runtime, MEMBER, timeout=5.0)
    stranger = Client(cluster.runtime, STRANGER, timeout=5.0)
    group_id, ids = _group(cluster, member)
    _act(cluster, member, "enable_group_replication", group_id)
    assert _state(cluster, group_id, ids)[0] == ("available", "enabled")
    assert member("list_group_replication_targets", group_id=group_id) == {
        "replication_targets": [{"backend_id": "beta"}]
    }
    with pytest.raises(exception.GroupNotFound):
        stranger("failover_group_replication", group_id=group_id)
    with pytest.raises(exception.PolicyNotAuthorized):
        member("create_group_type", name="mine")
    reader = Client(cluster.runtime, RequestContext("erin", "project-c", roles=("reader",)), timeout=5.0)
    assert reader("get_group", group_id=group_id)["id"] == group_id
    with pytest.raises(exception.PolicyNotAuthorized):
        reader("disable_group_replication", group_id=group_id)
    assert ADMIN.is_admin
