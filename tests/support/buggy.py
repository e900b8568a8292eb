"""Deliberately broken managers and drivers, each with one bug a checker must catch (test-only).

Module-level so sweep worker processes can import them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from replisim import exception
from replisim.actors.manager import VolumeManager
from replisim.drivers.emulated import EmulatedDriver
from replisim.scenarios.runner import run_scenario
from replisim.scenarios.schema import Scenario, load_scenario


class ForgetsFailoverHost(VolumeManager):
    """Applies everything a failover returns except the new ``host``."""

    @staticmethod
    def _failover_values(result: Any) -> dict[str, Any]:
        values = VolumeManager._failover_values(result)
        values.pop("host", None)
        values.pop("provider_location", None)
        return values


class ForgetsOnlyTheFailoverHost(VolumeManager):
    """Applies a failover's location but not its ``host``: the database then names the array the
    volume is on, but not the backend the driver said serves it now."""

    @staticmethod
    def _failover_values(result: Any) -> dict[str, Any]:
        values = VolumeManager._failover_values(result)
        values.pop("host", None)
        return values


class SkipsErrorNeverReaps(VolumeManager):
    """Leaves a volume in its transitional status when the driver fails, and never reaps orphans."""

    def _fail(self, volume_id: str, expected: str, action: str, exc: BaseException) -> None:
        return None

    def reap_orphans(self, now: float) -> list[str]:
        return []


class EnablesStraightAfterFailover(VolumeManager):
    """Writes ``enabled`` after a failover, skipping ``failed-over``: an illegal transition."""

    @staticmethod
    def _failover_values(result: Any) -> dict[str, Any]:
        return {**VolumeManager._failover_values(result), "replication_status": "enabled"}


class ReportsNoLoss(VolumeManager):
    """Records every failover as lossless, whatever the driver said."""

    @staticmethod
    def _failover_values(result: Any) -> dict[str, Any]:
        values = VolumeManager._failover_values(result)
        data = json.loads(values.get("replication_driver_data") or "{}")
        values["replication_driver_data"] = json.dumps({**data, "lost_writes": 0})
        return values


class IgnoresReplicationUpdates(VolumeManager):
    def apply_replication_update(self, update: Mapping[str, Any], asked: float | None = None) -> None:
        return None


class LeaksDevicePassword(EmulatedDriver):
    """Puts the replication device's password in the volume's provider location."""

    def create_volume(self, volume: Mapping[str, Any]) -> dict[str, Any]:
        update = super().create_volume(volume)
        password = next((d.get("san_password") for d in self.devices if isinstance(d, Mapping)), "")
        return {"provider_location": f"{update['provider_location']}?auth={password}"}


class RefusesFailback(EmulatedDriver):
    """Fails over, then refuses every failback as an invalid target: the backend stays failed over."""

    def failover_host(
        self,
        context: Any,
        volumes: list[Mapping[str, Any]],
        secondary_id: str | None = None,
        groups: list[Any] | None = None,
    ) -> tuple[str | None, list[dict[str, Any]], list[dict[str, Any]]]:
        if secondary_id == "default":
            raise exception.InvalidReplicationTarget(reason="this array cannot fail back")
        return super().failover_host(context, volumes, secondary_id, groups)


class RefusesThaw(EmulatedDriver):
    """Refuses every thaw: the service stays disabled, as Cinder leaves it when the driver says no."""

    def thaw_backend(self, context: Any) -> bool:
        raise exception.VolumeDriverException(message="the array will not take writes yet")


class IgnoresFreeze(EmulatedDriver):
    """Refuses every freeze: the control plane freezes the service anyway (the API marks it frozen
    and the manager disables it whatever the driver says), so the freeze still does what it asks."""

    def freeze_backend(self, context: Any) -> bool:
        raise exception.VolumeDriverException(message="the array ignores freezes")


def failing_run(scenario: Scenario, seed: int) -> Any:
    return run_scenario(scenario, seed, manager_class=SkipsErrorNeverReaps)


def failing_run_one(scenario_path: str, seed: int) -> dict[str, Any]:
    return dict(failing_run(load_scenario(scenario_path), seed).summary())


def forgets_failover_host_run(scenario: Scenario, seed: int) -> Any:
    """Every failover leaves the database naming the old array: ``no_volume_lost`` must fail."""
    return run_scenario(scenario, seed, manager_class=ForgetsFailoverHost)
