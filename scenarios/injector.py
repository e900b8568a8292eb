"""Interprets fault values in a running world: arrays and links (the fabric), driver hosts, the
bus, volume managers and the database. Each fault begins at its start and is undone at its end
(or when the heal phase starts), and every begin and end is logged for reports.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from replisim.actors import rpcapi
from replisim.actors.deployment import Deployment
from replisim.actors.driverhost import DriverHost
from replisim.actors.manager import VolumeManager
from replisim.drivers.emulated.fabric import Fabric
from replisim.drivers.emulated.link import mbps_to_kib_s
from replisim.sim import SimRuntime
from replisim.sim.faults import Fault


@dataclass(frozen=True)
class FaultEvent:
    """A fault beginning or ending, at a simulated time."""

    time: float
    phase: str  # begin | end
    fault: Fault


class FaultInjector:
    """Schedules faults on a deployment and the fabric its emulated drivers share."""

    def __init__(self, deployment: Deployment, fabric: Fabric | None = None):
        self.deployment = deployment
        self.runtime = deployment.runtime
        self.fabric = fabric
        self.events: list[FaultEvent] = []
        self._undo: dict[int, Any] = {}

    def schedule(self, faults: Iterable[Fault], heal_at: float | None = None) -> None:
        """Begin each fault at its start and end it at its end, or at ``heal_at`` at the latest."""
        now = self.runtime.now
        for fault in sorted(faults, key=lambda f: (f.start, f.kind, f.target)):
            end = fault.end if heal_at is None else min(fault.end, heal_at)
            if fault.start >= end:
                continue
            self.runtime.at(max(0.0, fault.start - now), functools.partial(self.begin, fault))
            if end != float("inf"):
                self.runtime.at(end - now, functools.partial(self.end, fault))

    # -- dispatch ---------------------------------------------------------------------------------

    def begin(self, fault: Fault) -> None:
        self.events.append(FaultEvent(self.runtime.now, "begin", fault))
        getattr(self, "_begin_" + fault.kind.replace(".", "_"))(fault)

    def end(self, fault: Fault) -> None:
        self.events.append(FaultEvent(self.runtime.now, "end", fault))
        undo = getattr(self, "_end_" + fault.kind.replace(".", "_"), None)
        if undo is not None:
            undo(fault)

    def _need_fabric(self, fault: Fault) -> Fabric:
        if self.fabric is None:
            raise ValueError(f"{fault.describe()}: this world has no emulated arrays")
        return self.fabric

    def _sim(self, fault: Fault) -> SimRuntime:
        if not isinstance(self.runtime, SimRuntime):
            raise ValueError(f"{fault.describe()}: bus faults need the simulated bus")
        return self.runtime

    # -- arrays -----------------------------------------------------------------------------------

    def _begin_array_crash(self, fault: Fault) -> None:
        self._need_fabric(fault).crash(fault.target)

    def _end_array_crash(self, fault: Fault) -> None:
        self._need_fabric(fault).restart(fault.target)

    def _begin_array_controller_restart(self, fault: Fault) -> None:
        array = self._need_fabric(fault).array(fault.target)
        array.restarting_until = fault.end
        array.restart_completes = float(fault.param("completes"))

    def _end_array_controller_restart(self, fault: Fault) -> None:
        self._need_fabric(fault).array(fault.target).restarting_until = self.runtime.now

    def _begin_array_latency_spike(self, fault: Fault) -> None:
        self._need_fabric(fault).array(fault.target).latency_factor = float(fault.param("factor"))

    def _end_array_latency_spike(self, fault: Fault) -> None:
        self._need_fabric(fault).array(fault.target).latency_factor = 1.0

    def _begin_array_capacity_exhausted(self, fault: Fault) -> None:
        self._need_fabric(fault).array(fault.target).capacity_exhausted = True

    def _end_array_capacity_exhausted(self, fault: Fault) -> None:
        self._need_fabric(fault).array(fault.target).capacity_exhausted = False

    # -- replication links ------------------------------------------------------------------------

    def _begin_link_down(self, fault: Fault) -> None:
        self._need_fabric(fault).set_link_fault(fault.target, "link.down", True)

    def _end_link_down(self, fault: Fault) -> None:
        self._need_fabric(fault).set_link_fault(fault.target, "link.down", False)

    def _begin_link_flap(self, fault: Fault) -> None:
        fabric = self._need_fabric(fault)
        period = float(fault.param("period"))
        self._undo[id(fault)] = True

        def flip(down: bool) -> None:
            if id(fault) in self._undo:  # until the fault ends
                fabric.set_link_fault(fault.target, "link.flap", down)
                self.runtime.at(period, functools.partial(flip, not down))

        flip(True)

    def _end_link_flap(self, fault: Fault) -> None:
        self._undo.pop(id(fault), None)
        self._need_fabric(fault).set_link_fault(fault.target, "link.flap", False)

    def _begin_link_throttle(self, fault: Fault) -> None:
        fabric = self._need_fabric(fault)
        source, _, target = fault.target.partition("->")
        link = fabric.link(source, target)
        self._undo[id(fault)] = link.bandwidth
        link.set_bandwidth(fabric.now, mbps_to_kib_s(float(fault.param("bandwidth_mbps"))))

    def _end_link_throttle(self, fault: Fault) -> None:
        fabric = self._need_fabric(fault)
        source, _, target = fault.target.partition("->")
        fabric.link(source, target).set_bandwidth(fabric.now, self._undo.pop(id(fault)))

    def _begin_link_split_brain(self, fault: Fault) -> None:
        self._need_fabric(fault).split_brain(fault.target)

    def _end_link_split_brain(self, fault: Fault) -> None:
        # The link comes back; the split itself lasts until an operator fails over to one side.
        self._need_fabric(fault).set_link_fault(fault.target, "split_brain", False)

    # -- drivers, managers, database ----------------------------------------------------------------

    def _host(self, backend: str) -> str:
        return self.deployment.config.backend(backend).host

    def _driver_host(self, fault: Fault) -> DriverHost:
        actor = self.runtime.actor(rpcapi.driver_address(self._host(fault.target)))
        assert isinstance(actor, DriverHost)
        return actor

    def _begin_driver_raise(self, fault: Fault) -> None:
        self._driver_host(fault).faults.arm(str(fault.param("method")), str(fault.param("error")), fault.end)

    def _end_driver_raise(self, fault: Fault) -> None:
        self._driver_host(fault).faults.disarm(str(fault.param("method")))

    def _begin_driver_hang(self, fault: Fault) -> None:
        self._driver_host(fault).faults.arm(str(fault.param("method")), "hang", fault.end)

    def _end_driver_hang(self, fault: Fault) -> None:
        self._driver_host(fault).faults.disarm(str(fault.param("method")))

    def _begin_manager_pause(self, fault: Fault) -> None:
        self.runtime.pause(rpcapi.manager_address(self._host(fault.target)))

    def _end_manager_pause(self, fault: Fault) -> None:
        self.runtime.unpause(rpcapi.manager_address(self._host(fault.target)))

    def _begin_manager_restart(self, fault: Fault) -> None:
        # Down for the fault's duration (its inbox waits, as a broker queue would), then a new
        # process: in-flight work is abandoned and start-up reconciliation runs.
        self.runtime.pause(rpcapi.manager_address(self._host(fault.target)))

    def _end_manager_restart(self, fault: Fault) -> None:
        host = self._host(fault.target)
        old = self.deployment.managers[host]
        new = VolumeManager(host, old.db, report_interval=old.report_interval,
                            driver_timeout=old.driver_timeout)
        self.deployment.managers[host] = new
        self.runtime.restart(rpcapi.manager_address(host), new)

    def _begin_db_unavailable(self, fault: Fault) -> None:
        self.deployment.db.available = False

    def _end_db_unavailable(self, fault: Fault) -> None:
        self.deployment.db.available = True

    # -- the bus ----------------------------------------------------------------------------------

    def _bus_ends(self, fault: Fault) -> tuple[str | None, str | None]:
        if fault.target == "*":
            return None, None
        src, _, dst = fault.target.partition("->")
        return src or None, dst or None

    def _set_bus(self, fault: Fault, **change: Any) -> None:
        bus = self._sim(fault).bus
        src, dst = self._bus_ends(fault)
        self._undo[id(fault)] = bus.default
        bus.set_link(dataclasses.replace(bus.default, **change), src, dst)

    def _begin_bus_loss(self, fault: Fault) -> None:
        self._set_bus(fault, loss=float(fault.param("probability")))

    def _begin_bus_duplicate(self, fault: Fault) -> None:
        self._set_bus(fault, duplicate=float(fault.param("probability")))

    def _begin_bus_reorder(self, fault: Fault) -> None:
        self._set_bus(fault, reorder=float(fault.param("probability")))

    def _end_bus_loss(self, fault: Fault) -> None:
        bus = self._sim(fault).bus
        default = self._undo.pop(id(fault))
        if fault.target == "*":
            bus.set_link(default)
        else:
            bus.reset_link(*self._bus_ends(fault))

    _end_bus_duplicate = _end_bus_loss
    _end_bus_reorder = _end_bus_loss

    def _begin_bus_partition(self, fault: Fault) -> None:
        groups = fault.param("groups")
        self._undo[id(fault)] = self._sim(fault).bus.partition(*groups)

    def _end_bus_partition(self, fault: Fault) -> None:
        self._sim(fault).bus.heal(self._undo.pop(id(fault)))

