"""The Replication V2 control plane end to end: API -> scheduler/manager -> driver, over the bus.

Every test runs on both runtimes and both repository implementations.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from support import memdriver
from support.cluster import ADMIN, Cluster, make_repo, make_runtime

from replisim import exception
from replisim.actors import rpcapi
from replisim.sim import Message, RemoteError


@pytest.fixture(params=["memory", "sql"])
def repo_kind(request: pytest.FixtureRequest) -> str:
    kind: str = request.param
    return kind


@pytest.fixture
def cluster(runtime_kind: str, repo_kind: str) -> Iterator[Cluster]:
    runtime = make_runtime(runtime_kind)
    c = Cluster(runtime, make_repo(repo_kind, runtime))
    try:
        yield c
    finally:
        c.stop()


def test_replicated_volumes_land_on_replication_capable_backends_only(cluster: Cluster) -> None:
    cluster.replicated_type()
    # alpha has 1000 GiB, beta 800: most-free-first places alpha, alpha, beta, alpha, beta
    hosts = [cluster.available_volume(cluster.alice, "gold", size=150)["host"] for _ in range(5)]
    pools = [h.split("#")[1] for h in hosts]
    assert set(pools) <= {"alpha", "beta"}
    if not cluster.live:  # live, a stats report may land between two creates and shift the order
        assert pools == ["alpha", "alpha", "beta", "alpha", "beta"]
    plain = cluster.available_volume(cluster.alice, size=50)
    assert plain["host"] == "replisim@gamma#gamma"  # most free space wins without specs


def test_enable_failover_list_disable_round_trip(cluster: Cluster) -> None:
    cluster.replicated_type()
    volume = cluster.available_volume(cluster.alice, "gold")
    vid, primary = volume["id"], volume["host"]
    assert volume["replication_status"] == "disabled"

    cluster.admin("enable_replication", volume_id=vid)
    enabled = cluster.wait_status(vid, "replication_status", "enabled")
    assert enabled["replication_driver_data"]

    targets = cluster.admin("list_replication_targets", volume_id=vid)
    partner = "beta" if "alpha" in primary else "alpha"
    assert targets == {"volume_id": vid, "targets": [{"type": "managed", "backend_name": partner}]}

    cluster.admin("failover_replication", volume_id=vid)
    failed_over = cluster.wait_status(vid, "replication_status", "failed-over")
    assert failed_over["host"] == f"replisim@{partner}#{partner}"
    assert failed_over["provider_location"] == f"{partner}:{vid}"

    # the seed's docs ask that failover act as a toggle: a second one switches back
    cluster.admin("failover_replication", volume_id=vid)
    back = cluster.wait_for(
        lambda: (
            (v := cluster.volume(vid))["host"] == primary and v["replication_status"] == "failed-over" and v
        ),
        "fail back",
    )
    assert back["host"] == primary


def test_seed_cases_enable_and_disable(cluster: Cluster) -> None:
    cluster.replicated_type()
    vid = cluster.available_volume(cluster.alice, "gold")["id"]
    backend = cluster.volume(vid)["host"].split("@")[1].split("#")[0]

    # enable from an invalid state is refused
    cluster.db.volume_update(vid, {"replication_status": "enabled"})
    with pytest.raises(exception.InvalidVolume):
        cluster.admin("enable_replication", volume_id=vid)
    # disable from an invalid state is refused
    cluster.db.volume_update(vid, {"replication_status": "invalid-state"})
    with pytest.raises(exception.InvalidVolume):
        cluster.admin("disable_replication", volume_id=vid)
    # enable from disabled reaches the driver
    cluster.db.volume_update(vid, {"replication_status": "disabled"})
    cluster.admin("enable_replication", volume_id=vid)
    cluster.wait_status(vid, "replication_status", "enabled")
    assert memdriver.ARRAYS[backend][vid]["replicating"] is True
    # disable from enabled, then from disabled, both reach the driver
    cluster.admin("disable_replication", volume_id=vid)
    cluster.wait_status(vid, "replication_status", "disabled")
    assert memdriver.ARRAYS[backend][vid]["replicating"] is False
    memdriver.ARRAYS[backend][vid]["replicating"] = True  # the driver is told again, and fixes drift
    cluster.admin("disable_replication", volume_id=vid)
    cluster.wait_for(lambda: memdriver.ARRAYS[backend][vid]["replicating"] is False, "driver disable")


def test_invalid_state_message_reads_as_a_sentence(cluster: Cluster) -> None:
    cluster.replicated_type()
    vid = cluster.available_volume(cluster.alice, "gold")["id"]
    with pytest.raises(exception.InvalidVolume) as info:
        cluster.admin("failover_replication", volume_id=vid)
    assert str(info.value) == (
        f"Invalid volume: Cannot failover replication for volume {vid} while its replication status "
        "is 'disabled'; the valid states are 'enabled', 'failed-over', 'error'."
    )
    assert cluster.volume(vid)["replication_status"] == "disabled"


def test_policy_not_found_and_capability_errors(cluster: Cluster) -> None:
    cluster.replicated_type()
    vid = cluster.available_volume(cluster.alice, "gold")["id"]
    for action in (
        "enable_replication",
        "disable_replication",
        "failover_replication",
        "list_replication_targets",
    ):
        with pytest.raises(exception.PolicyNotAuthorized) as denied:
            cluster.alice(action, volume_id=vid)
        assert denied.value.code == 403
    with pytest.raises(exception.VolumeNotFound) as missing:
        cluster.admin("enable_replication", volume_id="no-such-volume")
    assert missing.value.code == 404
    with pytest.raises(exception.VolumeNotFound):
        cluster.bob("get_volume", volume_id=vid)  # another project's volume is invisible
    plain = cluster.available_volume(cluster.alice)
    with pytest.raises(exception.InvalidVolume, match="does not ask for replication"):
        cluster.admin("enable_replication", volume_id=plain["id"])
    # a replication type placed by force on a backend without replication
    gold = cluster.db.volume_type_get_by_name("gold")["id"]
    cluster.db.volume_update(plain["id"], {"volume_type_id": gold})
    with pytest.raises(exception.InvalidVolume, match="does not report replication_enabled"):
        cluster.admin("enable_replication", volume_id=plain["id"])
    assert cluster.volume(plain["id"])["replication_status"] == "disabled"


def test_listing_is_scoped_to_the_project(cluster: Cluster) -> None:
    mine = cluster.available_volume(cluster.alice)
    theirs = cluster.available_volume(cluster.bob)
    assert [v["id"] for v in cluster.alice("list_volumes")] == [mine["id"]]
    assert {v["id"] for v in cluster.admin("list_volumes")} == {mine["id"], theirs["id"]}
    with pytest.raises(exception.PolicyNotAuthorized):
        cluster.alice("create_volume_type", name="x")


@pytest.mark.parametrize(
    "fault", [exception.VolumeBackendAPIException(data="array said no"), ZeroDivisionError("driver bug")]
)
def test_driver_failures_end_in_error_with_a_reason_never_stuck(
    cluster: Cluster, fault: BaseException
) -> None:
    cluster.replicated_type()
    volume = cluster.available_volume(cluster.alice, "gold")
    vid, host = volume["id"], volume["host"].partition("#")[0]
    memdriver.FAULTS[(host, "replication_enable")] = fault
    cluster.admin("enable_replication", volume_id=vid)
    failed = cluster.wait_status(vid, "replication_status", "error")
    assert type(fault).__name__ in failed["replication_extended_status"]
    assert str(fault) in failed["replication_extended_status"]
    # the manager survived: it still serves requests for other volumes
    del memdriver.FAULTS[(host, "replication_enable")]
    other = cluster.available_volume(cluster.alice, "gold")
    cluster.admin("enable_replication", volume_id=other["id"])
    cluster.wait_status(other["id"], "replication_status", "enabled")


def test_failed_failover_sets_error_as_the_seed_does(cluster: Cluster) -> None:
    cluster.replicated_type()
    volume = cluster.available_volume(cluster.alice, "gold")
    vid, host = volume["id"], volume["host"].partition("#")[0]
    cluster.admin("enable_replication", volume_id=vid)
    cluster.wait_status(vid, "replication_status", "enabled")
    memdriver.FAULTS[(host, "replication_failover")] = exception.UnableToFailOver(reason="target gone")
    cluster.admin("failover_replication", volume_id=vid)
    failed = cluster.wait_status(vid, "replication_status", "error")
    assert "target gone" in failed["replication_extended_status"]
    assert failed["host"] == volume["host"]


def test_list_targets_failure_becomes_backend_api_exception(cluster: Cluster) -> None:
    cluster.replicated_type()
    volume = cluster.available_volume(cluster.alice, "gold")
    memdriver.FAULTS[(volume["host"].partition("#")[0], "list_replication_targets")] = KeyError("x")
    with pytest.raises(exception.VolumeBackendAPIException, match="Get replication targets failed"):
        cluster.admin("list_replication_targets", volume_id=volume["id"])


def test_replication_updates_move_volumes_to_error_and_back(
    cluster: Cluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    cluster.replicated_type()
    volume = cluster.available_volume(cluster.alice, "gold")
    vid, host = volume["id"], volume["host"].partition("#")[0]
    cluster.admin("enable_replication", volume_id=vid)
    cluster.wait_status(vid, "replication_status", "enabled")
    driver = cluster.deployment.drivers[host]
    reports = [{"volid": vid, "status": "error", "reason": "link down"}]
    monkeypatch.setattr(driver, "get_replication_updates", lambda context: list(reports))
    failed = cluster.wait_status(vid, "replication_status", "error")
    assert "link down" in failed["replication_extended_status"]
    reports[:] = [{"volid": vid, "status": "ok"}]
    cluster.wait_status(vid, "replication_status", "enabled")


def test_manager_refuses_an_rpc_version_it_does_not_know(cluster: Cluster) -> None:
    cluster.replicated_type()
    volume = cluster.available_volume(cluster.alice, "gold")
    message = Message(
        "list_replication_targets", {"context": ADMIN.to_dict(), "volume_id": volume["id"]}, version="1.99"
    )
    with pytest.raises(RemoteError) as info:
        cluster.runtime.call(rpcapi.manager_address(volume["host"]), message, timeout=5)
    assert isinstance(info.value.cause, exception.UnsupportedVersion)
    assert "1.99" in str(info.value.cause)


def test_no_valid_host_puts_the_volume_in_error_with_the_reason(cluster: Cluster) -> None:
    volume = cluster.admin("create_volume", size=100_000)
    failed = cluster.wait_status(volume["id"], "status", "error")
    assert failed["status_reason"].startswith("No valid host was found.")
    assert "replisim@gamma" in failed["status_reason"] and "GiB" in failed["status_reason"]


def test_delete_removes_from_db_and_array(cluster: Cluster) -> None:
    volume = cluster.available_volume(cluster.alice)
    cluster.alice("delete_volume", volume_id=volume["id"])
    cluster.wait_for(lambda: volume["id"] not in memdriver.ARRAYS["gamma"], "array delete")
    with pytest.raises(exception.VolumeNotFound):
        cluster.wait_for(lambda: cluster.volume(volume["id"]) and False, "db delete", reports=5)


def test_restart_reconciles_volumes_a_crash_left_mid_operation(runtime_kind: str, tmp_path: object) -> None:
    from replisim.actors.db import SqlRepository

    url = f"sqlite:///{tmp_path}/cinder.db"
    first = Cluster(make_runtime(runtime_kind), SqlRepository(url, clock=lambda: 0.0))
    first.replicated_type()
    vid = first.available_volume(first.alice, "gold")["id"]
    first.db.volume_update(vid, {"replication_status": "enabling_secondary"})  # the crash point
    first.stop()

    runtime = make_runtime(runtime_kind, seed=2)
    second = Cluster(runtime, SqlRepository(url, clock=lambda: runtime.now))
    try:
        volume = second.wait_status(vid, "replication_status", "error")
        assert "restarted while the volume was enabling_secondary" in volume["replication_extended_status"]
    finally:
        second.stop()
