"""The emulated driver under the real control plane: the contract's return formats and what the
manager does with them, for managed and unmanaged targets."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from support.cluster import Cluster, make_repo, make_runtime
from support.emulated import CONF, replicated

from replisim import exception
from replisim.actors.config import parse_config
from replisim.drivers.emulated import EmulatedDriver
from replisim.drivers.emulated.fabric import Fabric


@pytest.fixture
def world(runtime_kind: str) -> Iterator[Cluster]:
    runtime = make_runtime(runtime_kind, seed=3)
    cluster = Cluster(runtime, make_repo("memory", runtime), CONF, fabric=Fabric.for_runtime(runtime))
    try:
        yield cluster
    finally:
        cluster.stop()


def test_stats_carry_the_replication_capabilities(world: Cluster) -> None:
    stats = {m.host.partition("@")[2]: m.last_stats for m in world.deployment.managers.values()}
    assert stats["alpha"]["replication_enabled"] is True
    assert stats["alpha"]["replication_type"] == ["async"]
    assert stats["beta"]["replication_type"] == ["sync"]
    assert stats["alpha"]["replication_count"] == 1
    assert stats["beta"]["free_capacity_gb"] <= stats["beta"]["total_capacity_gb"] == 800


def test_managed_failover_moves_the_volume_to_the_target_backend_and_back(world: Cluster) -> None:
    vid = replicated(world, "beta")
    assert world.fabric is not None
    world.fabric.set_write_rate(vid, 1.0)
    world.admin("failover_replication", volume_id=vid)
    moved = world.wait_status(vid, "replication_status", "failed-over")
    assert moved["host"] == "replisim@alpha#alpha"
    assert moved["provider_location"] == f"emulated://alpha/{vid}"
    assert json.loads(moved["replication_driver_data"])["lost_writes"] == 0  # beta replicates in sync

    # The seed's documentation: a second failover switches back; back where it was created and
    # replicating again, the volume is enabled, not failed over.
    world.admin("failover_replication", volume_id=vid)
    world.wait_for(lambda: world.volume(vid)["host"] == "replisim@beta#beta", "fail back to beta")
    assert world.volume(vid)["replication_status"] == "enabled"


def test_unmanaged_failover_keeps_the_host_and_masks_device_secrets(world: Cluster) -> None:
    vid = replicated(world, "dr")
    targets = world.admin("list_replication_targets", volume_id=vid)
    assert targets == {
        "volume_id": vid,
        "targets": [
            {
                "type": "unmanaged",
                "backend_id": "vault",
                "san_ip": "10.0.0.9",
                "san_login": "ops",
                "san_password": "***",
            }
        ],
    }
    assert "hunter2" not in json.dumps(targets)
    world.admin("failover_replication", volume_id=vid)
    moved = world.wait_status(vid, "replication_status", "failed-over")
    assert moved["host"] == "replisim@dr#dr"
    assert moved["provider_location"] == f"emulated://vault/{vid}"


def test_non_replicated_volume_lists_no_targets_and_disable_stops_shipping(world: Cluster) -> None:
    vid = replicated(world, "alpha")
    world.admin("disable_replication", volume_id=vid)
    world.wait_status(vid, "replication_status", "disabled")
    assert world.admin("list_replication_targets", volume_id=vid)["targets"] == []


def test_config_errors_name_the_option() -> None:
    config = parse_config(CONF.replace("replication_mode = sync", "replication_mode = sometimes"))
    backend = config.backend("beta")
    with pytest.raises(
        exception.InvalidConfigurationValue,
        match='"sometimes" is not valid for configuration option "replication_mode"',
    ):
        EmulatedDriver(backend.driver_configuration(), backend.host, fabric=Fabric())
