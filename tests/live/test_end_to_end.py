"""One replication story, told twice: live (python-cinderclient -> `replisim serve` -> real storage
array processes) and in sim (the actor API -> emulated arrays). The test body is the same; only
the world differs, and in both the data written before a failover is on the secondary after it."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol

import pytest
from support.cinderapi import connect
from support.cluster import Cluster, make_repo, make_runtime
from support.serving import Serve

from replisim.drivers.emulated.fabric import Fabric
from replisim.drivers.storage.process import StorageProcess

DATA = b"replisim was here"


class World(Protocol):
    def create_type(self, name: str, specs: dict[str, str]) -> None: ...
    def create_volume(self, type_name: str) -> str: ...
    def action(self, volume_id: str, name: str) -> None: ...
    def volume(self, volume_id: str) -> dict[str, Any]: ...
    def write(self, volume_id: str, data: bytes) -> int: ...
    def holds(self, volume_id: str, backend: str, write: int, data: bytes) -> bool: ...
    def advance(self) -> None: ...


def wait(world: World, volume_id: str, field: str, value: str, rounds: int = 400) -> dict[str, Any]:
    for _ in range(rounds):
        volume = world.volume(volume_id)
        if volume[field] == value:
            return volume
        world.advance()
    raise AssertionError(f"volume {volume_id}: {field} is {volume[field]!r}, expected {value!r}")


def replicate_write_fail_over_and_read_back(world: World) -> None:
    """The story both worlds must tell alike."""
    world.create_type("gold", {"replication": "enabled", "volume_backend_name": "alpha"})
    volume_id = world.create_volume("gold")
    created = wait(world, volume_id, "status", "available")
    assert "@alpha" in created["host"] and created["replication_status"] == "disabled"
    world.action(volume_id, "os-enable_replication")
    wait(world, volume_id, "replication_status", "enabled")
    write = world.write(volume_id, DATA)
    world.action(volume_id, "os-failover_replication")
    moved = wait(world, volume_id, "replication_status", "failed-over")
    assert "@beta" in moved["host"]
    assert world.holds(volume_id, "beta", write, DATA)


# -- live: real processes, real sockets, python-cinderclient ---------------------------------------------


class LiveWorld:
    def __init__(self, cs: Any, arrays: dict[str, StorageProcess]):
        self.cs = cs
        self.arrays = arrays

    def create_type(self, name: str, specs: dict[str, str]) -> None:
        self.cs.volume_types.create(name).set_keys(specs)

    def create_volume(self, type_name: str) -> str:
        return str(self.cs.volumes.create(1, name="story", volume_type=type_name).id)

    def action(self, volume_id: str, name: str) -> None:
        response, _ = self.cs.volumes._action(name, volume_id)
        assert response.status_code == 202

    def volume(self, volume_id: str) -> dict[str, Any]:
        volume = self.cs.volumes.get(volume_id)
        return {
            "status": volume.status,
            "replication_status": volume.replication_status,
            "host": getattr(volume, "os-vol-host-attr:host"),
        }

    def write(self, volume_id: str, data: bytes) -> int:
        backend = self.volume(volume_id)["host"].partition("@")[2].partition("#")[0]
        return self.arrays[backend].client().write(volume_id, 0, data)

    def holds(self, volume_id: str, backend: str, write: int, data: bytes) -> bool:
        return self.arrays[backend].client().read(volume_id, 0, len(data)) == data

    def advance(self) -> None:
        time.sleep(0.05)


def live_conf(path: Path, alpha: StorageProcess, beta: StorageProcess) -> Path:
    def section(name: str, me: StorageProcess, peer: str, other: StorageProcess) -> str:
        return (
            f"[{name}]\nvolume_driver = replisim.drivers.storage.StorageDriver\n"
            f"volume_backend_name = {name}\nsan_ip = 127.0.0.1\nsan_port = {me.port}\n"
            f"san_login = admin\nsan_password = pw-{name}-s3cret\nreplication_devices = {peer}\n"
            f"replication_peer_{peer} = 127.0.0.1:{other.port}\n"
            f"replication_peer_{peer}_password = pw-{peer}-s3cret\n"
        )

    path.write_text(
        "[DEFAULT]\nenabled_backends = alpha, beta\nadmin_users = admin\n\n"
        + section("alpha", alpha, "beta", beta)
        + "\n"
        + section("beta", beta, "alpha", alpha)
    )
    return path


@pytest.fixture
def live_world(tmp_path: Path, start_array: Callable[..., StorageProcess]) -> Iterator[LiveWorld]:
    alpha, beta = start_array("alpha"), start_array("beta")
    server = Serve(live_conf(tmp_path / "cinder.conf", alpha, beta))
    try:
        yield LiveWorld(connect(server.wait_url(), "admin", "ops"), {"alpha": alpha, "beta": beta})
    finally:
        server.stop()


# -- sim: emulated arrays, simulated time ------------------------------------------------------------------

SIM_CONF = """
[DEFAULT]
enabled_backends = alpha, beta

[alpha]
volume_driver = replisim.drivers.emulated.EmulatedDriver
volume_backend_name = alpha
replication_devices = beta

[beta]
volume_driver = replisim.drivers.emulated.EmulatedDriver
volume_backend_name = beta
replication_devices = alpha
"""


class SimWorld:
    def __init__(self, cluster: Cluster, fabric: Fabric):
        self.cluster = cluster
        self.fabric = fabric
        self.types: dict[str, str] = {}

    def create_type(self, name: str, specs: dict[str, str]) -> None:
        self.cluster.admin("create_volume_type", name=name, extra_specs=specs)

    def create_volume(self, type_name: str) -> str:
        return str(self.cluster.admin("create_volume", size=1, name="story", volume_type=type_name)["id"])

    def action(self, volume_id: str, name: str) -> None:
        self.cluster.admin(name.removeprefix("os-"), volume_id=volume_id)

    def volume(self, volume_id: str) -> dict[str, Any]:
        return dict(self.cluster.admin("get_volume", volume_id=volume_id))

    def write(self, volume_id: str, data: bytes) -> int:
        return self.fabric.write(volume_id)  # the emulated array numbers writes; it keeps no bytes

    def holds(self, volume_id: str, backend: str, write: int, data: bytes) -> bool:
        return self.fabric.writes(volume_id, backend) >= write

    def advance(self) -> None:
        self.cluster.settle(0.25)


@pytest.fixture
def sim_world() -> Iterator[SimWorld]:
    runtime = make_runtime("sim", seed=21)
    fabric = Fabric.for_runtime(runtime)
    cluster = Cluster(runtime, make_repo("sql", runtime), SIM_CONF, fabric=fabric)
    try:
        yield SimWorld(cluster, fabric)
    finally:
        cluster.stop()


def test_live_story_with_cinderclient_serve_and_storage_processes(live_world: LiveWorld) -> None:
    replicate_write_fail_over_and_read_back(live_world)


def test_sim_story_with_emulated_arrays(sim_world: SimWorld) -> None:
    replicate_write_fail_over_and_read_back(sim_world)
