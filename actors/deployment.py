"""Deploy a cinder.conf onto a runtime: scheduler, API, and per backend a driver host and a manager.

This is the composition root: it knows every actor. Callers that only talk to the API use
``client.Client`` instead.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from replisim import exception
from replisim.drivers.contract import load_driver
from replisim.sim import Address, Runtime

from . import rpcapi
from .api import VolumeAPI
from .client import API
from .config import BackendConfig, CinderConfig
from .db import Repository
from .driverhost import DriverHost
from .manager import VolumeManager
from .policy import Policy
from .scheduler import Scheduler
from .status import SCHEDULER_TOPIC, VOLUME_TOPIC


@dataclass
class Deployment:
    """What ``deploy`` started, for tests, reports and fault injection to reach into."""

    runtime: Runtime
    config: CinderConfig
    db: Repository
    api: VolumeAPI
    scheduler: Scheduler
    managers: dict[str, VolumeManager] = field(default_factory=dict)
    drivers: dict[str, Any] = field(default_factory=dict)
    manager_class: type[VolumeManager] = VolumeManager  # what a restarted manager is built as


def deploy(
    runtime: Runtime,
    config: CinderConfig,
    db: Repository,
    policy: Policy | None = None,
    *,
    report_interval: float = 10.0,
    driver_timeout: float = 30.0,
    drivers: Mapping[str, Any] | None = None,
    manager_class: type[VolumeManager] = VolumeManager,
) -> Deployment:
    """Spawn the control plane for every enabled backend of ``config``.

    ``drivers`` maps backend names to ready driver objects; otherwise each backend's
    ``volume_driver`` class is built with ``(configuration=..., host=...)`` per the driver contract.
    """
    scheduler = Scheduler(db, service_down_time=max(60.0, 6 * report_interval), host=config.host)
    api = VolumeAPI(db, policy, service_down_time=max(60.0, 6 * report_interval))
    runtime.spawn(scheduler, Address(SCHEDULER_TOPIC, "scheduler"))
    runtime.spawn(api, API)
    deployment = Deployment(runtime, config, db, api, scheduler, manager_class=manager_class)
    for name, backend in config.backends.items():
        if drivers and name in drivers:
            driver = drivers[name]
        else:
            driver = _build(load_driver(backend.volume_driver), backend, db)
        manager = manager_class(
            backend.host, db, report_interval=report_interval, driver_timeout=driver_timeout
        )
        runtime.spawn(DriverHost(driver), rpcapi.driver_address(backend.host))
        runtime.spawn(manager, rpcapi.manager_address(backend.host))
        deployment.managers[backend.host] = manager
        deployment.drivers[backend.host] = driver
    return deployment


def _build(cls: type, backend: BackendConfig, db: Repository) -> Any:
    """A backend's driver, built per the driver contract; a constructor that also takes
    ``active_backend_id`` (a Cinder driver's does) gets the one the service row says it serves
    from, as Cinder's manager passes it at start, so a restarted failed-over backend knows."""
    kwargs: dict[str, Any] = {}
    if "active_backend_id" in inspect.signature(cls).parameters:
        try:
            kwargs["active_backend_id"] = (
                db.service_get(backend.host, VOLUME_TOPIC)["active_backend_id"] or None
            )
        except exception.ServiceNotFound:
            kwargs["active_backend_id"] = None
    return cls(configuration=backend.driver_configuration(), host=backend.host, **kwargs)
