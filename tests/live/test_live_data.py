"""Data and state in live mode, on real array processes under the live control plane: a failover
never loses acknowledged writes silently, a transient error does not flip a failed-over volume
back, and a volume in replication ``error`` always has a way out."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from cinderclient import exceptions as cinder_exceptions
from support import memdriver
from support.cinderapi import connect, wait_volume
from support.cluster import Cluster, make_repo, make_runtime

from replisim import exception
from replisim.actors.config import parse_config
from replisim.actors.db import SqlRepository
from replisim.actors.manager import UNREPORTED_REASON, UPDATE_REASON
from replisim.actors.serve import start
from replisim.drivers.storage.process import StorageProcess
from replisim.reports.report import write_report
from replisim.scenarios.live_record import LiveRecorder

StartArray = Callable[..., StorageProcess]
DRIVER = "replisim.drivers.storage.StorageDriver"


def conf(alpha: StorageProcess, beta: StorageProcess, mode: str = "async") -> str:
    """Two backends on two arrays, each the other's managed target."""
    return f"""
[DEFAULT]
enabled_backends = alpha, beta

[alpha]
volume_driver = {DRIVER}
san_port = {alpha.port}
san_password = pw-alpha-s3cret
storage_timeout = 1
storage_replication_mode = {mode}
replication_devices = beta
replication_peer_beta = {beta.address}
replication_peer_beta_password = pw-beta-s3cret
replication_peer_beta_pool = beta

[beta]
volume_driver = {DRIVER}
san_port = {beta.port}
san_password = pw-beta-s3cret
storage_timeout = 1
storage_replication_mode = {mode}
replication_devices = alpha
replication_peer_alpha = {alpha.address}
replication_peer_alpha_password = pw-alpha-s3cret
replication_peer_alpha_pool = alpha
"""


@pytest.fixture
def live(start_array: StartArray) -> Iterator[tuple[Cluster, dict[str, StorageProcess]]]:
    arrays = {"alpha": start_array("alpha"), "beta": start_array("beta")}
    runtime = make_runtime("live")
    cluster = Cluster(runtime, make_repo("sql", runtime), conf=conf(arrays["alpha"], arrays["beta"]))
    try:
        # both arrays are up: a create must not race the backends' first reports (its settle of
        # 2.5 report intervals is 125 ms, and a storage backend's set-up takes longer on busy cores)
        cluster.wait_for(
            lambda: set(cluster.deployment.managers) <= set(cluster.deployment.scheduler.hosts), "reports"
        )
        yield cluster, arrays
    finally:
        cluster.stop()


def replicated_volume(cluster: Cluster, arrays: dict[str, StorageProcess]) -> tuple[str, str, str]:
    """A replicated, enabled volume: its id, the backend it was created on and the other one."""
    cluster.replicated_type()
    volume = cluster.available_volume(cluster.alice, "gold", size=1)
    vid, first = volume["id"], volume["host"].split("@")[1].split("#")[0]
    cluster.admin("enable_replication", volume_id=vid)
    cluster.wait_status(vid, "replication_status", "enabled")
    arrays[first].client().write(vid, 0, b"shipped before the cut")
    wait_for(lambda: arrays[first].client().replication_status(vid)["replication"]["unshipped"] == 0, "ship")
    return vid, first, "beta" if first == "alpha" else "alpha"


def wait_for(predicate: Callable[[], Any], what: str, timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def test_a_failover_over_a_cut_link_reports_exactly_what_it_lost(
    live: tuple[Cluster, dict[str, StorageProcess]],
) -> None:
    """The serving array answers but cannot ship: the failover goes ahead, fencing it first, and
    the loss (writes and seconds) is in the extended status and the driver data, not silent."""
    cluster, arrays = live
    vid, first, second = replicated_volume(cluster, arrays)
    arrays[first].cut_link(arrays[second])
    acknowledged = [arrays[first].client().write(vid, 4096 * (i + 1), b"after the cut") for i in range(7)]
    assert acknowledged == sorted(acknowledged) and len(set(acknowledged)) == 7
    time.sleep(0.3)  # the oldest lost write is at least this old when the array is fenced

    cluster.admin("failover_replication", volume_id=vid)
    moved = cluster.wait_status(vid, "replication_status", "failed-over")

    assert moved["host"].startswith(f"replisim@{second}#")
    said = moved["replication_extended_status"]
    assert said is not None and "lost 7 acknowledged write(s)" in said and "exact" in said
    record = json.loads(moved["replication_driver_data"])["failover"]
    assert record["lost_writes"] == 7 and record["exact"] is True and record["planned"] is False
    assert record["source"] == first and record["target"] == second
    assert 0.3 <= record["lost_seconds"] < 30
    # the new primary really lacks them, and the old one was fenced: no write lands there unseen
    assert arrays[second].client().read(vid, 4096, 13) == b"\0" * 13
    assert arrays[second].client().read(vid, 0, 22) == b"shipped before the cut"
    assert arrays[first].client().volume(vid)["role"] == "replica"


def test_a_planned_failover_loses_nothing_and_says_nothing(
    live: tuple[Cluster, dict[str, StorageProcess]],
) -> None:
    cluster, arrays = live
    vid, first, second = replicated_volume(cluster, arrays)
    arrays[first].slow_link(arrays[second], delay=0.2)
    for i in range(3):
        arrays[first].client().write(vid, 4096 * (i + 1), b"in flight")
    cluster.admin("failover_replication", volume_id=vid)
    moved = cluster.wait_status(vid, "replication_status", "failed-over")
    record = json.loads(moved["replication_driver_data"])["failover"]
    assert record["lost_writes"] == 0 and record["planned"] is True
    assert moved["replication_extended_status"] is None
    assert arrays[second].client().read(vid, 3 * 4096, 9) == b"in flight"


def test_the_live_record_and_report_state_the_loss(start_array: StartArray, tmp_path: Path) -> None:
    """``replisim serve --record``: the failover's loss is in run.json and the report, as a
    simulated run's RPO is."""
    arrays = {"alpha": start_array("alpha"), "beta": start_array("beta")}
    out = tmp_path / "record"
    server = start(
        parse_config(conf(arrays["alpha"], arrays["beta"])),
        "sqlite://",
        report_interval=0.1,
        record=LiveRecorder.into(out, "<string>"),
    )
    try:
        assert server.not_ready(timeout=10.0) == {}
        cs = connect(server.url, "admin", "admin-project")
        cs.volume_types.create("gold").set_keys({"replication": "enabled"})
        volume = wait_volume(cs, cs.volumes.create(1, volume_type="gold").id, "status", "available")
        cs.volumes._action("os-enable_replication", volume)
        wait_volume(cs, volume.id, "replication_status", "enabled")
        first = volume.to_dict()["os-vol-host-attr:host"].split("@")[1].split("#")[0]
        second = "beta" if first == "alpha" else "alpha"
        arrays[first].cut_link(arrays[second])
        for i in range(5):
            arrays[first].client().write(volume.id, 4096 * i, b"lost")
        cs.volumes._action("os-failover_replication", volume)
        moved = wait_volume(cs, volume.id, "replication_status", "failed-over")
        said = moved.to_dict()["os-volume-replication:extended_status"]
        assert "lost 5 acknowledged write(s)" in said
    finally:
        server.stop()
    write_report(out)

    run = json.loads((out / "run.json").read_text())
    (record,) = run["failovers"]
    assert (record["volume_id"], record["source"], record["target"]) == (volume.id, first, second)
    assert record["lost_writes"] == 5 and record["lag"] > 0
    report = json.loads((out / "report.json").read_text())
    summary = report["failovers"]["summary"]
    assert (summary["count"], summary["unplanned"], summary["lost_writes"]) == (1, 1, 5)
    (row,) = report["failovers"]["records"]
    assert row["cause"].startswith("unplanned") and row["rpo_s"] == record["lag"]


def hold_write_lock(path: Path, seconds: float) -> threading.Thread:
    """Another process's writer, as SQLite sees it: a connection of its own holding the write
    lock for ``seconds``."""
    ready = threading.Event()

    def hold() -> None:
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        ready.set()
        time.sleep(seconds)
        other.execute("COMMIT")
        other.close()

    thread = threading.Thread(target=hold, daemon=True)
    thread.start()
    ready.wait(5.0)
    return thread


def test_64_concurrent_creates_all_land_while_another_writer_holds_the_database(tmp_path: Path) -> None:
    """No create is lost to contention: 64 clients at once, through API, scheduler and manager,
    while another process holds SQLite's write lock for five times the busy timeout."""
    path = tmp_path / "replisim.sqlite"
    runtime = make_runtime("live")
    repo = SqlRepository(f"sqlite:///{path}", clock=lambda: runtime.now, busy_timeout=0.2)
    cluster = Cluster(runtime, repo)
    try:
        # contention on the creates, not on start-up: the scheduler has heard from every backend
        # (a backend's first report waits for the database too, and until then there is no host)
        cluster.wait_for(
            lambda: set(cluster.deployment.managers) <= set(cluster.deployment.scheduler.hosts), "reports"
        )
        holder = hold_write_lock(path, 1.0)
        with ThreadPoolExecutor(max_workers=64) as pool:
            created = list(pool.map(lambda _: cluster.alice("create_volume", size=1)["id"], range(64)))
        holder.join()
        assert len(set(created)) == 64
        cluster.wait_for(
            lambda: all(cluster.volume(v)["status"] != "creating" for v in created), "every create to end"
        )
        outcomes = Counter((cluster.volume(v)["status"], cluster.volume(v)["status_reason"]) for v in created)
        assert outcomes == {("available", None): 64}
    finally:
        cluster.stop()


def test_a_lock_held_past_the_patience_is_reported_as_such(tmp_path: Path) -> None:
    path = tmp_path / "replisim.sqlite"
    repo = SqlRepository(f"sqlite:///{path}", clock=time.time, busy_timeout=0.05, lock_patience=0.3)
    holder = hold_write_lock(path, 1.0)
    try:
        with pytest.raises(exception.DBUnavailable, match=r"locked.*held the write lock for"):
            repo.volume_create({"id": "v-1", "size": 1, "status": "creating"})
    finally:
        holder.join()
    assert repo.volume_create({"id": "v-1", "size": 1, "status": "creating"})["id"] == "v-1"
    repo.close()


def failed_over_volumes(
    cluster: Cluster, arrays: dict[str, StorageProcess], count: int
) -> tuple[list[str], str, str]:
    """``count`` replicated volumes created on one backend, each failed over to the other and its
    copy back complete."""
    cluster.replicated_type()
    cluster.admin(
        "set_extra_specs",
        type_id=cluster.db.volume_type_get_by_name("gold")["id"],
        extra_specs={"volume_backend_name": "alpha"},
    )
    vids = [cluster.available_volume(cluster.alice, "gold", size=1)["id"] for _ in range(count)]
    for vid in vids:
        cluster.admin("enable_replication", volume_id=vid)
    for vid in vids:
        cluster.wait_status(vid, "replication_status", "enabled")
        cluster.admin("failover_replication", volume_id=vid)
    beta = arrays["beta"].client()
    for vid in vids:
        cluster.wait_status(vid, "replication_status", "failed-over")
        wait_for(partial(lambda v: beta.replication_status(v)["replication"]["in_sync"], vid), "copy")
    return vids, "alpha", "beta"


def test_a_transient_error_does_not_flip_a_failed_over_volume_back(
    live: tuple[Cluster, dict[str, StorageProcess]],
) -> None:
    """SIGSTOP of the array holding their replicas: the failed-over volumes go to error, and come
    back failed-over (served by beta), never enabled."""
    cluster, arrays = live
    vids, stopped, second = failed_over_volumes(cluster, arrays, 3)
    arrays[stopped].pause()
    try:
        for vid in vids:
            cluster.wait_for(lambda v=vid: cluster.volume(v)["replication_status"] == "error", "error", 200)
    finally:
        arrays[stopped].resume()
    for vid in vids:
        back = cluster.wait_status(vid, "replication_status", "failed-over")
        assert back["host"].startswith(f"replisim@{second}#")
    cluster.settle(20)  # and they stay so, report after report
    assert {cluster.volume(v)["replication_status"] for v in vids} == {"failed-over"}


@pytest.mark.parametrize("stop", ["pause", "kill"])
def test_the_volumes_of_an_array_that_stops_serving_go_to_error_naming_it_and_come_back(
    live: tuple[Cluster, dict[str, StorageProcess]], stop: str
) -> None:
    """SIGSTOP or SIGKILL of the array that serves a replicated volume: its backend cannot even
    report stats, and the volume goes to ``error`` with a reason naming the array, its address and
    the error (a report loop that stopped at the failed stats call left it ``enabled`` for good).
    When the array answers again, the volume comes back ``enabled``, the reason cleared."""
    cluster, arrays = live
    vid, first, _ = replicated_volume(cluster, arrays)
    array = arrays[first]
    getattr(array, stop)()
    try:
        failed = cluster.wait_for(
            lambda: (v := cluster.volume(vid))["replication_status"] == "error" and v, "error", 400
        )
    finally:
        array.resume() if stop == "pause" else array.start()
    reason = failed["replication_extended_status"]
    # the stats call fails first (or, when the signal lands between them, the replication report)
    assert reason.startswith((UNREPORTED_REASON, UPDATE_REASON)), reason
    assert f"array {first} ({array.address}) is unreachable" in reason, reason
    assert failed["previous_replication_status"] == "enabled"
    back = cluster.wait_status(vid, "replication_status", "enabled")
    assert back["replication_extended_status"] is None
    assert back["host"].startswith(f"replisim@{first}#")


def test_a_failover_the_database_missed_is_repaired_from_the_arrays(
    live: tuple[Cluster, dict[str, StorageProcess]],
) -> None:
    """A failover whose outcome the manager never wrote (its driver call timed out) leaves the
    row naming the old host, in error, with ``enabled`` as the status to return to: the array's
    report brings it to where it is, failed over, rather than back to enabled."""
    cluster, arrays = live
    (vid,), first, second = failed_over_volumes(cluster, arrays, 1)
    cluster.db.volume_update(
        vid,
        {
            "host": f"replisim@{first}#{first}",
            "provider_location": f"{arrays[first].address}/{vid}",
            "replication_status": "error",
            "previous_replication_status": "enabled",
            "replication_extended_status": "failover replication failed: driver timed out",
        },
    )
    repaired = cluster.wait_status(vid, "replication_status", "failed-over")
    assert repaired["host"].startswith(f"replisim@{second}#")
    assert repaired["provider_location"] == f"{arrays[second].address}/{vid}"


MEMORY_CONF = """
[DEFAULT]
enabled_backends = alpha, beta

[alpha]
volume_driver = support.memdriver.MemoryDriver
volume_backend_name = alpha
replication_devices = beta

[beta]
volume_driver = support.memdriver.MemoryDriver
volume_backend_name = beta
replication_devices = alpha
"""


def test_an_admin_resets_replication_status_error_over_rest() -> None:
    """``os-reset_replication_status``: admin only, from ``error`` only, to a stable status, and
    the extended status says who did it; then the volume's actions work again."""
    memdriver.reset()
    server = start(parse_config(MEMORY_CONF), "sqlite://", report_interval=0.1)
    try:
        assert server.not_ready(timeout=10.0) == {}
        admin = connect(server.url, "admin", "admin-project")
        admin.volume_types.create("gold").set_keys({"replication": "enabled", "volume_backend_name": "alpha"})
        volume = wait_volume(admin, admin.volumes.create(1, volume_type="gold").id, "status", "available")
        admin.volumes._action("os-enable_replication", volume)
        wait_volume(admin, volume.id, "replication_status", "enabled")
        with pytest.raises(cinder_exceptions.BadRequest, match="only 'error' can be reset"):
            admin.volumes._action("os-reset_replication_status", volume, {"replication_status": "disabled"})

        memdriver.FAULTS[("replisim@alpha", "replication_failover")] = exception.UnableToFailOver(
            reason="the target is gone"
        )
        admin.volumes._action("os-failover_replication", volume)
        wait_volume(admin, volume.id, "replication_status", "error")
        del memdriver.FAULTS[("replisim@alpha", "replication_failover")]
        with pytest.raises(cinder_exceptions.BadRequest):  # Cinder refuses disable from error
            admin.volumes._action("os-disable_replication", volume)

        owner = connect(server.url, "alice", "admin-project")
        with pytest.raises(cinder_exceptions.Forbidden):
            owner.volumes._action("os-reset_replication_status", volume, {"replication_status": "enabled"})
        with pytest.raises(cinder_exceptions.BadRequest, match="must be one of"):
            admin.volumes._action("os-reset_replication_status", volume, {"replication_status": "enabling"})
        with pytest.raises(cinder_exceptions.BadRequest, match="takes an optional 'replication_status'"):
            admin.volumes._action("os-reset_replication_status", volume, {"status": "available"})

        admin.volumes._action("os-reset_replication_status", volume, {"replication_status": "enabled"})
        reset = admin.volumes.get(volume.id).to_dict()
        assert reset["replication_status"] == "enabled"
        assert "reset from 'error' to 'enabled' by admin" in reset["os-volume-replication:extended_status"]
        admin.volumes._action("os-disable_replication", volume)
        wait_volume(admin, volume.id, "replication_status", "disabled")
    finally:
        server.stop()


def test_a_volume_in_error_whose_array_is_healthy_comes_back_and_a_failback_can_be_disabled(
    live: tuple[Cluster, dict[str, StorageProcess]],
) -> None:
    """A failover that failed (its target was down) leaves the volume in error; once the arrays
    report it healthy and in sync, the manager brings it back to enabled. A failover and a
    failback later it is ``enabled`` again, so it can be disabled."""
    cluster, arrays = live
    vid, first, second = replicated_volume(cluster, arrays)
    arrays[second].kill()
    cluster.admin("failover_replication", volume_id=vid)
    failed = cluster.wait_status(vid, "replication_status", "error")
    assert "unreachable" in failed["replication_extended_status"]
    arrays[second].start()
    back = cluster.wait_for(
        lambda: (v := cluster.volume(vid))["replication_status"] == "enabled" and v, "reconciled", 400
    )
    assert back["host"].startswith(f"replisim@{first}#")

    cluster.admin("failover_replication", volume_id=vid)
    cluster.wait_status(vid, "replication_status", "failed-over")
    wait_for(lambda: arrays[second].client().replication_status(vid)["replication"]["in_sync"], "copy")
    cluster.admin("failover_replication", volume_id=vid)
    home = cluster.wait_status(vid, "replication_status", "enabled")
    assert home["host"].startswith(f"replisim@{first}#")
    cluster.admin("disable_replication", volume_id=vid)
    cluster.wait_status(vid, "replication_status", "disabled")
