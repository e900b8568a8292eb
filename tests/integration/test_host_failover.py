"""Host failover (Replication V2.1) through the real control plane on emulated arrays: Cinder 29's
service state machine, what it does to each volume, freeze and thaw, and the admin's reset."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from support.cluster import ADMIN, Cluster, make_repo, make_runtime
from support.emulated import CONF, replicated

from replisim import exception
from replisim.actors.client import Client
from replisim.actors.context import RequestContext
from replisim.drivers.emulated.fabric import Fabric

ALPHA = "replisim@alpha"


@pytest.fixture
def world(runtime_kind: str) -> Iterator[Cluster]:
    runtime = make_runtime(runtime_kind, seed=5)
    cluster = Cluster(runtime, make_repo("memory", runtime), CONF, fabric=Fabric.for_runtime(runtime))
    try:
        yield cluster
    finally:
        cluster.stop()


def service(world: Cluster, host: str = ALPHA) -> dict[str, Any]:
    return world.db.service_get(host, "cinder-volume")


def refused(call: Any, cause: type[Exception]) -> str:
    with pytest.raises(cause) as caught:
        call()
    return str(caught.value)


def wait_service(world: Cluster, status: str, host: str = ALPHA) -> dict[str, Any]:
    found: dict[str, Any] = world.wait_for(
        lambda: (s := service(world, host))["replication_status"] == status and s,
        f"{host} {status} (now {service(world, host)['replication_status']})",
    )
    return found


def test_a_service_starts_enabled_when_its_driver_replicates(world: Cluster) -> None:
    rows = {s["host"]: s for s in world.admin("list_services")}
    assert rows[ALPHA]["replication_status"] == "enabled"
    assert (rows[ALPHA]["frozen"], rows[ALPHA]["active_backend_id"]) == (False, None)
    assert rows["replisim"]["binary"] == "cinder-scheduler"


def test_the_runbook_freeze_failover_thaw_failback_counts_every_lost_write(world: Cluster) -> None:
    assert world.fabric is not None
    fabric = world.fabric
    replicated_ids = [replicated(world, "alpha") for _ in range(3)]
    plain = world.available_volume(world.alice, None)  # untyped: placed on the emptiest backend
    for vid in replicated_ids:
        fabric.set_write_rate(vid, 2.0)  # alpha replicates async behind 30 s of link latency
    world.settle(3)

    world.admin("freeze_host", host=ALPHA)
    assert (service(world)["frozen"], service(world)["disabled_reason"]) == (True, "frozen")
    message = refused(lambda: world.admin("freeze_host", host=ALPHA), exception.InvalidInput)
    assert message == (
        "Invalid input received: No service could be changed: frozen in ['replisim@alpha'] "
        "must be False to failover."
    )
    frozen = refused(
        lambda: world.alice("delete_volume", volume_id=replicated_ids[0]), exception.InvalidInput
    )
    assert frozen == (
        "Invalid input received: Modification operations are not allowed on frozen storage backends."
    )

    fabric.crash("alpha")
    world.admin("failover_host", host=ALPHA, backend_id="beta")
    row = wait_service(world, "failed-over")
    assert (row["active_backend_id"], row["disabled"], row["disabled_reason"]) == (
        "beta",
        True,
        "failed-over",
    )
    lost = {r.volume_id: r.lost_writes for r in fabric.failovers}
    assert set(lost) == set(replicated_ids)
    assert world.live or sum(lost.values()) > 0  # async: the lag window is lost (sim: 30 s of it)
    for vid in replicated_ids:
        volume = world.volume(vid)
        assert volume["host"].startswith(ALPHA + "#")  # V2.1: the backend serves it from beta's array
        assert volume["provider_location"] == f"emulated://beta/{vid}"
        assert volume["replication_status"] in ("failed-over", "error")  # error: its link is down
        assert json.loads(volume["replication_driver_data"])["lost_writes"] == lost[vid]
    if world.volume(plain["id"])["host"].startswith(ALPHA):
        assert world.volume(plain["id"])["status"] == "error"
        assert world.volume(plain["id"])["replication_status"] == "not-capable"

    # A failed-over backend takes no new volumes; another backend does.
    fresh = world.available_volume(world.alice, None)
    assert not fresh["host"].startswith(ALPHA)
    again = refused(lambda: world.admin("failover_host", host="nowhere"), exception.InvalidInput)
    assert again == "No service found with host=nowhere"

    world.admin("thaw_host", host=ALPHA)
    row = service(world)
    assert (row["frozen"], row["disabled"], row["replication_status"]) == (False, False, "failed-over")

    fabric.restart("alpha")
    world.settle(3)
    world.admin("failover_host", host=ALPHA, backend_id="default")
    row = wait_service(world, "enabled")
    assert (row["active_backend_id"], row["disabled"]) == ("", False)
    for vid in replicated_ids:
        volume = world.wait_status(vid, "replication_status", "enabled")
        assert volume["provider_location"] == f"emulated://alpha/{vid}"
        assert fabric.primary(vid) is not None and fabric.primary(vid).array == "alpha"


def test_a_refused_target_reverts_and_a_driver_error_needs_the_admin_reset(world: Cluster) -> None:
    replicated(world, "alpha")
    world.admin("failover_host", host=ALPHA, backend_id="nowhere")
    assert wait_service(world, "enabled")["active_backend_id"] is None  # InvalidReplicationTarget

    driver: Any = world.deployment.drivers[ALPHA]

    def broken(*args: Any, **kwargs: Any) -> Any:
        return None, []  # the old 2-tuple: Cinder ends it in failover-error

    driver.failover_host = broken
    world.admin("failover_host", host=ALPHA)
    row = wait_service(world, "failover-error")
    assert row["disabled"] is True
    message = refused(lambda: world.admin("failover_host", host=ALPHA), exception.InvalidInput)
    assert (
        "replication_status in ['replisim@alpha'] must be ['enabled', 'failed-over'] and must be up"
        in message
    )

    reset = refused(lambda: world.admin("reset_active_backend", host=ALPHA), exception.InvalidInput)
    assert reset == "Service for host replisim@alpha must first be frozen."
    world.admin("freeze_host", host=ALPHA)
    row = world.admin("reset_active_backend", host=ALPHA)
    assert (row["replication_status"], row["active_backend_id"], row["frozen"]) == ("enabled", None, True)


def test_host_failover_and_freeze_are_admin_only(world: Cluster) -> None:
    member = Client(world.runtime, RequestContext("alice", "project-a"), timeout=5.0)
    for method in ("failover_host", "freeze_host", "thaw_host", "reset_active_backend"):
        refused(lambda m=method: member(m, host=ALPHA), exception.PolicyNotAuthorized)
    assert service(world)["replication_status"] == "enabled" and not service(world)["frozen"]
    assert ADMIN.is_admin
