"""Helpers to stand up the control plane in tests, on either runtime and either repository."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from replisim.actors.client import Client
from replisim.actors.config import parse_config
from replisim.actors.context import RequestContext
from replisim.actors.db import MemoryRepository, Repository, SqlRepository
from replisim.actors.deployment import Deployment, deploy
from replisim.actors.manager import VolumeManager
from replisim.drivers.emulated import emulated_drivers
from replisim.drivers.emulated.fabric import Fabric
from replisim.sim import LiveRuntime, Runtime, SimRuntime
from support import memdriver

CONF = """
[DEFAULT]
enabled_backends = alpha, beta, gamma

[alpha]
volume_driver = support.memdriver.MemoryDriver
volume_backend_name = alpha
replication_devices = beta
total_capacity_gb = 1000

[beta]
volume_driver = support.memdriver.MemoryDriver
volume_backend_name = beta
replication_devices = alpha
total_capacity_gb = 800

[gamma]
volume_driver = support.memdriver.MemoryDriver
volume_backend_name = gamma
total_capacity_gb = 5000
"""

ADMIN = RequestContext("admin", "admin-project", is_admin=True, roles=("admin",))
ALICE = RequestContext("alice", "project-a")
BOB = RequestContext("bob", "project-b")


def make_runtime(kind: str, seed: int = 1) -> Runtime:
    return SimRuntime(seed=seed) if kind == "sim" else LiveRuntime(seed=seed)


def make_repo(kind: str, runtime: Runtime) -> Repository:
    clock = lambda: runtime.now  # noqa: E731
    return MemoryRepository(clock=clock) if kind == "memory" else SqlRepository("sqlite://", clock=clock)


LIVE_PATIENCE = 15.0  # wall seconds


class Cluster:
    """A deployed control plane plus the clients and waits a test needs."""

    def __init__(
        self,
        runtime: Runtime,
        repo: Repository,
        conf: str = CONF,
        fabric: Fabric | None = None,
        *,
        manager_class: type[VolumeManager] = VolumeManager,
    ):
        memdriver.reset()
        self.runtime = runtime
        self.db = repo
        self.live = isinstance(runtime, LiveRuntime)
        self.interval = 0.05 if self.live else 10.0
        config = parse_config(conf)
        self.fabric = fabric
        self.deployment: Deployment = deploy(
            runtime,
            config,
            repo,
            report_interval=self.interval,
            driver_timeout=2.0 if self.live else 30.0,
            drivers=emulated_drivers(config, fabric) if fabric else None,
            manager_class=manager_class,
        )
        self.admin = Client(runtime, ADMIN, timeout=5.0)
        self.alice = Client(runtime, ALICE, timeout=5.0)
        self.bob = Client(runtime, BOB, timeout=5.0)
        self.settle(2.5)  # managers report stats at least twice

    def settle(self, reports: float = 1.0) -> None:
        """Let ``reports`` report intervals pass."""
        self.runtime.run(until=self.runtime.now + reports * self.interval)

    def wait_for(self, predicate: Callable[[], Any], what: str, reports: float = 20.0) -> Any:
        # Live, twenty 50 ms reports are one second of wall time: too little on two busy cores, so
        # a live wait lasts at least LIVE_PATIENCE (a healthy cluster answers long before).
        span = reports * self.interval
        deadline = self.runtime.now + (max(span, LIVE_PATIENCE) if self.live else span)
        while self.runtime.now < deadline:
            value = predicate()
            if value:
                return value
            if self.live:
                time.sleep(0.005)
            else:
                self.runtime.run(until=self.runtime.now + self.interval / 20)
        raise AssertionError(f"timed out waiting for {what}")

    def volume(self, volume_id: str) -> dict[str, Any]:
        return self.db.volume_get(volume_id)

    def _describe(self, volume_id: str, field: str) -> str:
        v = self.volume(volume_id)
        return (
            f"{v[field]!r}, replication_extended_status {v['replication_extended_status']!r}, "
            f"updated at {v['updated_at']}, at {self.runtime.now:.3f}"
        )

    def wait_status(self, volume_id: str, field: str, value: str) -> dict[str, Any]:
        result: dict[str, Any] = self.wait_for(
            lambda: (v := self.volume(volume_id))[field] == value and v,
            f"volume {volume_id} {field} == {value!r} (now {self._describe(volume_id, field)})",
        )
        return result

    def replicated_type(self) -> dict[str, Any]:
        created: dict[str, Any] = self.admin(
            "create_volume_type", name="gold", extra_specs={"replication": "enabled"}
        )
        return created

    def available_volume(
        self, client: Client, type_name: str | None = None, size: int = 10
    ) -> dict[str, Any]:
        volume = client("create_volume", size=size, volume_type=type_name)
        return self.wait_status(volume["id"], "status", "available")

    def stop(self) -> None:
        self.runtime.stop()
        self.db.close()
