"""A small in-memory driver for control-plane tests (a test double, never shipped to users).

Backends share one ``ARRAYS`` registry so a managed failover can find the target's copy. Tests
make methods fail through ``FAULTS[(host, method)] = exception``, and slow a failover down with
the backend option ``failover_delay`` (seconds), so a test can kill a server in the middle of one.
"""

from __future__ import annotations

import json
import time
from typing import Any

from replisim import exception

ARRAYS: dict[str, dict[str, dict[str, Any]]] = {}
FAULTS: dict[tuple[str, str], BaseException] = {}


def reset() -> None:
    ARRAYS.clear()
    FAULTS.clear()


class MemoryDriver:
    VERSION = "1.0"

    def __init__(self, configuration: Any, host: str):
        self.configuration = configuration
        self.host = host
        self.backend = host.partition("@")[2]
        self.targets: list[str] = list(configuration.safe_get("replication_devices") or [])
        self.total_gb = int(configuration.safe_get("total_capacity_gb") or 1000)
        ARRAYS.setdefault(self.backend, {})

    def _maybe_fail(self, method: str) -> None:
        fault = FAULTS.get((self.host, method))
        if fault is not None:
            raise fault

    @property
    def volumes(self) -> dict[str, dict[str, Any]]:
        return ARRAYS[self.backend]

    def do_setup(self, context: Any) -> None:
        self._maybe_fail("do_setup")

    def check_for_setup_error(self) -> None:
        self._maybe_fail("check_for_setup_error")

    def get_volume_stats(self, refresh: bool = False) -> dict[str, Any]:
        self._maybe_fail("get_volume_stats")
        used = sum(v["size"] for v in self.volumes.values() if v["primary"])
        stats: dict[str, Any] = {
            "volume_backend_name": self.configuration.volume_backend_name,
            "vendor_name": "replisim-tests",
            "driver_version": self.VERSION,
            "storage_protocol": "iSCSI",
            "pool_name": self.backend,
            "total_capacity_gb": self.total_gb,
            "free_capacity_gb": self.total_gb - used,
            "replication_enabled": bool(self.targets),
        }
        if self.targets:
            stats.update(replication_type=["async"], replication_count=len(self.targets))
        return stats

    def create_volume(self, volume: dict[str, Any]) -> dict[str, Any] | None:
        self._maybe_fail("create_volume")
        self.volumes[volume["id"]] = {"size": volume["size"], "primary": True, "replicating": False}
        return {"provider_location": f"{self.backend}:{volume['id']}"}

    def delete_volume(self, volume: dict[str, Any]) -> None:
        self._maybe_fail("delete_volume")
        self.volumes.pop(volume["id"], None)

    def replication_enable(self, context: Any, volume: dict[str, Any]) -> dict[str, Any]:
        self._maybe_fail("replication_enable")
        target = self.targets[0]
        self.volumes[volume["id"]]["replicating"] = True
        ARRAYS[target][volume["id"]] = {"size": volume["size"], "primary": False, "replicating": True}
        return {"replication_driver_data": json.dumps({"primary": self.backend, "secondary": target})}

    def replication_disable(self, context: Any, volume: dict[str, Any]) -> dict[str, Any] | None:
        self._maybe_fail("replication_disable")
        self.volumes[volume["id"]]["replicating"] = False
        return None

    def replication_failover(
        self, context: Any, volume: dict[str, Any], secondary: str | None
    ) -> dict[str, Any]:
        self._maybe_fail("replication_failover")
        time.sleep(float(self.configuration.safe_get("failover_delay") or 0))
        data = json.loads(volume.get("replication_driver_data") or "{}")
        target = secondary or data.get("secondary")
        if not target or target not in ARRAYS or volume["id"] not in ARRAYS[target]:
            raise exception.InvalidReplicationTarget(reason=f"no replica of {volume['id']} on {target!r}")
        ARRAYS[target][volume["id"]]["primary"] = True
        self.volumes[volume["id"]]["primary"] = False
        hostname = self.host.partition("@")[0]
        return {
            "host": f"{hostname}@{target}#{target}",
            "model_update": {"provider_location": f"{target}:{volume['id']}"},
            "replication_driver_data": json.dumps({"primary": target, "secondary": self.backend}),
        }

    def list_replication_targets(self, context: Any, volume: dict[str, Any]) -> dict[str, Any]:
        self._maybe_fail("list_replication_targets")
        replicating = self.volumes.get(volume["id"], {}).get("replicating")
        targets = [{"type": "managed", "backend_name": t} for t in self.targets] if replicating else []
        return {"volume_id": volume["id"], "targets": targets}

    def get_replication_updates(self, context: Any) -> list[dict[str, Any]]:
        self._maybe_fail("get_replication_updates")
        return []


class LeakyDriver(MemoryDriver):
    """Breaks the contract on purpose: its targets (its unmanaged ``replication_devices``) and its
    failover error carry credentials, so the server's own redaction is what keeps them out of sight."""

    def replication_enable(self, context: Any, volume: dict[str, Any]) -> dict[str, Any]:
        self.volumes[volume["id"]]["replicating"] = True
        return {}

    def list_replication_targets(self, context: Any, volume: dict[str, Any]) -> dict[str, Any]:
        password = self.configuration.safe_get("san_password")
        devices: list[dict[str, str]] = self.configuration.safe_get("replication_devices") or []
        return {
            "volume_id": volume["id"],
            "targets": [
                {"type": "unmanaged", **device, "san_password": password, "hint": f"log in with {password}"}
                for device in devices
            ],
        }

    def replication_failover(
        self, context: Any, volume: dict[str, Any], secondary: str | None
    ) -> dict[str, Any]:
        password = self.configuration.safe_get("san_password")
        raise exception.VolumeBackendAPIException(data=f"{secondary} refused the password {password}")
