"""The storage driver against real array processes: the driver contract with a managed target and
with an unmanaged device, replication updates from real link state, and a paused array."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from support.cluster import Cluster, make_repo, make_runtime

from replisim import exception
from replisim.actors.config import parse_config
from replisim.actors.context import admin_context
from replisim.actors.status import is_valid_host
from replisim.drivers.conformance import load_target, run_suite
from replisim.drivers.storage.driver import StorageDriver
from replisim.drivers.storage.process import StorageProcess

StartArray = Callable[..., StorageProcess]
CTX = admin_context()
DRIVER = "replisim.drivers.storage.StorageDriver"
CONTRACT_STATS = {
    "volume_backend_name",
    "vendor_name",
    "driver_version",
    "storage_protocol",
    "total_capacity_gb",
    "free_capacity_gb",
    "replication_enabled",
    "replication_type",
    "replication_count",
}


def managed_conf(alpha: StorageProcess, beta: StorageProcess, extra: str = "") -> str:
    return f"""
[DEFAULT]
enabled_backends = alpha, beta

[alpha]
volume_driver = {DRIVER}
san_port = {alpha.port}
san_password = pw-alpha-s3cret
storage_timeout = 1
replication_devices = beta
replication_peer_beta = {beta.address}
replication_peer_beta_password = pw-beta-s3cret
replication_peer_beta_pool = fast
{extra}

[beta]
volume_driver = {DRIVER}
san_ip = 127.0.0.1
san_port = {beta.port}
san_login = admin
san_password = pw-beta-s3cret
storage_pool = fast
replication_devices = alpha
replication_peer_alpha = {alpha.address}
replication_peer_alpha_password = pw-alpha-s3cret
replication_peer_alpha_pool = alpha
"""


def drivers_for(conf: str) -> dict[str, StorageDriver]:
    config = parse_config(conf)
    drivers = {
        name: StorageDriver(configuration=backend.driver_configuration(), host=backend.host)
        for name, backend in config.backends.items()
    }
    for driver in drivers.values():
        driver.do_setup(CTX)
        driver.check_for_setup_error()
    return drivers


def new_volume(volume_id: str, host: str, **specs: str) -> dict[str, Any]:
    return {
        "id": volume_id,
        "size": 1,
        "host": host,
        "status": "creating",
        "volume_type_id": None,
        "replication_status": "disabled",
        "replication_driver_data": None,
        "provider_location": None,
        "extra_specs": specs,
    }


def apply(volume: dict[str, Any], update: dict[str, Any] | None) -> None:
    """What the volume manager does with a driver's model update."""
    update = dict(update or {})
    volume.update(update.pop("model_update", {}))
    volume.update(update)


def errors(driver: StorageDriver) -> list[dict[str, Any]]:
    """A report's errors (its ``ok`` entries may restate healthy volumes' truth)."""
    return [u for u in driver.get_replication_updates(CTX) if u["status"] == "error"]


def wait_for(predicate: Callable[[], Any], what: str, timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def test_managed_target_failover_and_failback(start_array: StartArray) -> None:
    a, b = start_array("alpha"), start_array("beta")
    drivers = drivers_for(managed_conf(a, b))
    alpha, beta = drivers["alpha"], drivers["beta"]

    stats = alpha.get_volume_stats(refresh=True)
    assert set(stats) >= CONTRACT_STATS and stats["replication_enabled"] is True
    assert stats["replication_type"] == ["async", "sync"] and stats["replication_count"] == 1
    assert stats["total_capacity_gb"] == stats["free_capacity_gb"] == 1000
    assert beta.get_volume_stats()["pool_name"] == "fast"

    volume = new_volume("vol-1", "replisim@alpha#alpha", **{"replication:replication_type": "<in> sync"})
    apply(volume, alpha.create_volume(volume))
    assert alpha.get_volume_stats()["free_capacity_gb"] == 999
    assert alpha.list_replication_targets(CTX, volume) == {"volume_id": "vol-1", "targets": []}
    a.client().write("vol-1", 0, b"before enable")

    apply(volume, alpha.replication_enable(CTX, volume))
    data = json.loads(volume["replication_driver_data"])
    assert data == {"active": "alpha", "peer": "beta", "mode": "sync", "home": "alpha"}
    assert alpha.list_replication_targets(CTX, volume) == {
        "volume_id": "vol-1",
        "targets": [{"type": "managed", "backend_name": "beta"}],
    }
    assert errors(alpha) == []
    a.client().write("vol-1", 4096, b"after enable")

    result = alpha.replication_failover(CTX, volume, None)
    assert is_valid_host(result["host"]) and result["host"] == "replisim@beta#fast"
    apply(volume, result)
    assert volume["provider_location"] == f"{b.address}/vol-1"
    assert b.client().read("vol-1", 0, 13) == b"before enable"
    assert b.client().read("vol-1", 4096, 12) == b"after enable"
    b.client().write("vol-1", 8192, b"served by beta")

    # beta's driver serves the volume now, replicating back to alpha
    targets = beta.list_replication_targets(CTX, volume)["targets"]
    assert targets == [{"type": "managed", "backend_name": "alpha"}]
    wait_for(lambda: b.client().replication_status("vol-1")["replication"]["in_sync"], "the copy back")
    with pytest.raises(exception.InvalidReplicationTarget):
        beta.replication_failover(CTX, volume, "beta")  # already there
    with pytest.raises(exception.InvalidReplicationTarget):
        beta.replication_failover(CTX, volume, "gamma")

    back = beta.replication_failover(CTX, volume, None)
    assert back["host"] == "replisim@alpha#alpha"
    apply(volume, back)
    assert a.client().read("vol-1", 8192, 14) == b"served by beta"

    alpha.delete_volume(volume)
    alpha.delete_volume(volume)  # deleting what the array does not have succeeds
    assert [v["id"] for v in a.client().volumes()] == []
    wait_for(lambda: b.client().volumes() == [], "the replica on beta to go too")


def unmanaged_conf(alpha: StorageProcess, vault: StorageProcess) -> str:
    return f"""
[DEFAULT]
enabled_backends = alpha

[alpha]
volume_driver = {DRIVER}
san_port = {alpha.port}
san_password = pw-alpha-s3cret
storage_timeout = 1
managed_replication_target = false
replication_devices = {{'backend_id'='vault' 'san_ip'='127.0.0.1' 'san_port'='{vault.port}'
    'san_login'='admin' 'san_password'='pw-vault-s3cret'}}
"""


def test_unmanaged_device_failover_routes_to_the_device(start_array: StartArray) -> None:
    a, vault = start_array("alpha"), start_array("vault")
    alpha = drivers_for(unmanaged_conf(a, vault))["alpha"]
    assert alpha.get_volume_stats()["replication_count"] == 1
    volume = new_volume("vol-u", "replisim@alpha#alpha")
    apply(volume, alpha.create_volume(volume))
    apply(volume, alpha.replication_enable(CTX, volume))
    a.client().write("vol-u", 0, b"primary data")

    targets = alpha.list_replication_targets(CTX, volume)
    assert targets == {
        "volume_id": "vol-u",
        "targets": [
            {
                "type": "unmanaged",
                "backend_id": "vault",
                "san_ip": "127.0.0.1",
                "san_port": str(vault.port),
                "san_login": "admin",
                "san_password": "***",
            }
        ],
    }
    assert "s3cret" not in json.dumps(targets)

    result = alpha.replication_failover(CTX, volume, "vault")
    assert "host" not in result  # the volume stays on this backend, which now routes to the device
    assert result["model_update"] == {
        "provider_location": f"{vault.address}/vol-u",
        "replication_status": "failed-over",
    }
    apply(volume, result)
    assert vault.client().read("vol-u", 0, 12) == b"primary data"
    vault.client().write("vol-u", 0, b"device data!")
    home = alpha.list_replication_targets(CTX, volume)["targets"]
    assert home == [{"type": "managed", "backend_name": "alpha"}]

    wait_for(lambda: vault.client().replication_status("vol-u")["replication"]["in_sync"], "the copy back")
    vault.cut_link(a)  # the device's link home: reported by alpha's driver, which serves the volume
    errors = wait_for(lambda: alpha.get_replication_updates(CTX), "an error for the cut link")
    assert errors[0]["volid"] == "vol-u" and "cut" in errors[0]["reason"]
    vault.restore_link(a)

    back = alpha.replication_failover(CTX, volume, "default")
    assert "host" not in back
    assert back["model_update"] == {
        "provider_location": f"{a.address}/vol-u",
        "replication_status": "enabled",  # a failback
    }
    apply(volume, back)
    assert a.client().read("vol-u", 0, 12) == b"device data!"
    alpha.replication_disable(CTX, volume)
    assert alpha.list_replication_targets(CTX, volume) == {"volume_id": "vol-u", "targets": []}


def test_failover_when_the_primary_array_is_dead(start_array: StartArray) -> None:
    a, b = start_array("alpha"), start_array("beta")
    alpha = drivers_for(managed_conf(a, b, extra="storage_replication_mode = sync"))["alpha"]
    volume = new_volume("vol-d", "replisim@alpha#alpha")
    apply(volume, alpha.create_volume(volume))
    apply(volume, alpha.replication_enable(CTX, volume))
    a.client().write("vol-d", 0, b"acknowledged by both")
    a.kill()
    result = alpha.replication_failover(CTX, volume, None)  # unplanned: alpha cannot hand over
    assert result["host"] == "replisim@beta#fast"
    assert b.client().read("vol-d", 0, 20) == b"acknowledged by both"
    with pytest.raises(exception.InvalidReplicationTarget, match="holds no replica"):
        alpha.replication_failover(CTX, new_volume("vol-none", "replisim@alpha#alpha"), None)


def test_replication_updates_follow_the_link_and_the_lag(start_array: StartArray) -> None:
    a, b = start_array("alpha"), start_array("beta")
    alpha = drivers_for(managed_conf(a, b, extra="storage_max_lag_seconds = 0.3"))["alpha"]
    volumes = [new_volume(f"vol-{i}", "replisim@alpha#alpha") for i in range(2)]
    for volume in volumes:
        apply(volume, alpha.create_volume(volume))
    apply(volumes[0], alpha.replication_enable(CTX, volumes[0]))  # async, the backend's default
    assert errors(alpha) == []

    a.cut_link(b)
    time.sleep(1.2)  # long enough for the shipper to probe the idle link while it is cut
    (cut,) = alpha.get_replication_updates(CTX)
    assert cut["volid"] == "vol-0" and cut["status"] == "error" and cut["link"] == "down"
    assert "link to" in cut["reason"] and "cut" in cut["reason"]

    a.client().restore_link(b.address)
    assert alpha.get_replication_updates(CTX) == [
        {
            "volid": "vol-0",
            "status": "ok",
            "peer": b.address,
            "mode": "async",
            "link": "up",
            "lag_seconds": 0.0,
            "unshipped": 0,
            # the array's truth: where the volume is served from, and that this is its home
            "host": "replisim@alpha#alpha",
            "provider_location": f"{a.address}/vol-0",
            "replication_status": "enabled",
        }
    ]
    assert errors(alpha) == []

    a.slow_link(b, delay=1.0)
    a.client().write("vol-0", 0, b"slow")
    time.sleep(0.4)
    (lagging,) = alpha.get_replication_updates(CTX)
    assert lagging["link"] == "slow" and "above storage_max_lag_seconds" in lagging["reason"]

    a.restore_link(b)
    wait_for(lambda: [u["status"] for u in alpha.get_replication_updates(CTX)] == ["ok"], "the recovery")
    b.kill()  # the shipper's probe finds the dead peer even with nothing to ship
    (dead,) = wait_for(lambda: errors(alpha), "the dead peer to be reported")
    assert dead["link"] == "error" and "is failing" in dead["reason"] and "unreachable" in dead["reason"]


def test_a_paused_array_fails_calls_cleanly_and_recovers(start_array: StartArray) -> None:
    a, b = start_array("alpha"), start_array("beta")
    alpha = drivers_for(managed_conf(a, b))["alpha"]
    volume = new_volume("vol-p", "replisim@alpha#alpha")
    apply(volume, alpha.create_volume(volume))
    apply(volume, alpha.replication_enable(CTX, volume))

    a.pause()
    started = time.monotonic()
    with pytest.raises(exception.VolumeBackendAPIException, match="unreachable"):
        alpha.get_volume_stats(refresh=True)
    assert time.monotonic() - started < 3.0  # storage_timeout = 1: it fails, it does not hang
    (update,) = alpha.get_replication_updates(CTX)
    assert update["volid"] == "vol-p" and update["status"] == "error" and "unreachable" in update["reason"]

    a.resume()  # (a create sent now would be an unknown outcome: the array runs it once resumed)
    assert alpha.get_volume_stats()["free_capacity_gb"] == 999
    assert [u["status"] for u in alpha.get_replication_updates(CTX)] == ["ok"]


def holdings(*arrays: StorageProcess) -> list[tuple[int, int]]:
    """Each array's volume count and used capacity, asked of the array itself."""
    volumes = [array.client().volumes() for array in arrays]
    return [(len(held), sum(v["size_gb"] for v in held)) for held in volumes]


@pytest.mark.parametrize("profile", ["managed", "unmanaged"])
def test_the_conformance_suite_passes_and_leaves_every_array_as_it_was(
    start_array: StartArray, tmp_path: Path, profile: str
) -> None:
    alpha, other = start_array("alpha"), start_array("beta" if profile == "managed" else "vault")
    conf = tmp_path / "cinder.conf"
    conf.write_text(managed_conf(alpha, other) if profile == "managed" else unmanaged_conf(alpha, other))
    alpha.client().create_volume("customer-volume", 2)  # not the suite's: it stays, untouched
    before = holdings(alpha, other)
    reports = []
    for _ in range(2):
        report = run_suite(load_target(DRIVER, str(conf)), require=("replication", "config-secrets"))
        assert {o.check.id for o in report.outcomes if o.status == "failed"} == set()
        assert report.exit_code == 0 and report.count("passed") >= 30
        # the suite cannot crash an array behind a driver that does not own the process
        assert [o.check.id for o in report.outcomes if o.status == "skipped"] == ["ERR-ARRAY-004"]
        assert holdings(alpha, other) == before  # replicas on the peer included
        reports.append(report)
    assert before == [(1, 2), (0, 0)]
    first, second = (set(report.volume_ids) for report in reports)
    assert len(first) >= 20 and first.isdisjoint(second)


def test_disable_drops_the_replica_and_delete_drops_one_a_cut_link_kept(start_array: StartArray) -> None:
    a, b = start_array("alpha"), start_array("beta")
    alpha = drivers_for(managed_conf(a, b))["alpha"]
    volume = new_volume("vol-r", "replisim@alpha#alpha")
    apply(volume, alpha.create_volume(volume))
    apply(volume, alpha.replication_enable(CTX, volume))
    assert [v["id"] for v in b.client().volumes()] == ["vol-r"]
    alpha.replication_disable(CTX, volume)
    assert b.client().volumes() == []  # its data is no longer readable on the peer

    apply(volume, alpha.replication_enable(CTX, volume))
    a.cut_link(b)
    alpha.replication_disable(CTX, volume)  # the peer cannot be told: its replica stays for now
    assert [v["id"] for v in b.client().volumes()] == ["vol-r"]
    a.restore_link(b)
    alpha.delete_volume(volume)
    assert a.client().volumes() == [] and b.client().volumes() == []


@pytest.mark.parametrize(
    ("section", "problem"),
    [
        ("san_port = 1", "[alpha] san_password: missing"),
        ("san_password = x", "[alpha] san_port: missing"),
        ("san_port = 99999\nsan_password = x", "[alpha] san_port: '127.0.0.1:99999' is not an address"),
        (
            "san_port = 1\nsan_password = x\nstorage_replication_mode = eventually",
            "storage_replication_mode: 'eventually' is not one of async, sync",
        ),
        ("san_port = 1\nsan_password = x\nstorage_timeout = soon", "storage_timeout: 'soon' is not a number"),
        (
            "san_port = 1\nsan_password = x\nreplication_devices = beta",
            "[alpha] replication_peer_beta: missing; name the array of replication target 'beta'",
        ),
        (
            "san_port = 1\nsan_password = x\nmanaged_replication_target = false\n"
            "replication_devices = {'san_port'='2' 'san_password'='hunter2'}",
            "needs 'backend_id'",
        ),
    ],
)
def test_configuration_mistakes_fail_set_up_with_the_key(section: str, problem: str) -> None:
    conf = (
        f"[DEFAULT]\nenabled_backends = alpha, beta\n[alpha]\nvolume_driver = {DRIVER}\n{section}\n"
        f"[beta]\nvolume_driver = {DRIVER}\n"
    )
    backend = parse_config(conf).backends["alpha"]
    driver = StorageDriver(configuration=backend.driver_configuration(), host=backend.host)
    with pytest.raises(exception.InvalidConfigurationValue) as failed:
        driver.do_setup(CTX)
    assert problem in str(failed.value) and "hunter2" not in str(failed.value)


def test_the_control_plane_fails_a_volume_over_and_back_on_real_arrays(start_array: StartArray) -> None:
    """API -> manager -> driver -> arrays, on the live runtime: the manager applies what the driver
    returns, so the volume's host follows the failover and its data is on the other array."""
    arrays = {"alpha": start_array("alpha"), "beta": start_array("beta")}
    runtime = make_runtime("live")
    conf = managed_conf(arrays["alpha"], arrays["beta"])
    cluster = Cluster(runtime, make_repo("memory", runtime), conf=conf)
    try:
        cluster.admin(
            "create_volume_type",
            name="gold-sync",
            extra_specs={"replication": "enabled", "replication:replication_type": "sync"},
        )
        volume = cluster.available_volume(cluster.alice, "gold-sync", size=1)
        vid, first = volume["id"], volume["host"].split("@")[1].split("#")[0]
        second = "beta" if first == "alpha" else "alpha"
        arrays[first].client().write(vid, 0, b"before failover")

        cluster.admin("enable_replication", volume_id=vid)
        enabled = cluster.wait_status(vid, "replication_status", "enabled")
        assert json.loads(enabled["replication_driver_data"])["mode"] == "sync"
        arrays[first].client().write(vid, 4096, b"replicated synchronously")

        cluster.admin("failover_replication", volume_id=vid)
        moved = cluster.wait_status(vid, "replication_status", "failed-over")
        assert moved["host"].startswith(f"replisim@{second}#")
        assert arrays[second].client().read(vid, 4096, 24) == b"replicated synchronously"

        wait_for(
            lambda: arrays[second].client().replication_status(vid)["replication"]["in_sync"], "the copy back"
        )
        cluster.admin("failover_replication", volume_id=vid)
        cluster.wait_for(lambda: cluster.volume(vid)["host"].startswith(f"replisim@{first}#"), "failback")
        assert arrays[first].client().volume(vid)["role"] == "primary"
    finally:
        cluster.stop()
