"""The scheduler actor: places new volumes with Cinder's filter scheduler, in miniature.

Filters: the backend's stats are fresh, it has room, and it meets the type's extra specs. Weigher:
most free capacity; ties go to the lexically first host, so placement is deterministic. The
scheduler subtracts what it has placed since a backend's last report, as Cinder's host state does.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Generator, Mapping
from dataclasses import dataclass, field
from typing import Any

from replisim import exception
from replisim.sim import Actor, Now

from . import rpcapi
from .db import Repository
from .filters import pool_name, unmet_specs
from .status import CREATING, SCHEDULER_TOPIC, VOLUME_ERROR, VOLUME_TOPIC

LOG = logging.getLogger("replisim.scheduler")
Gen = Generator[Any, Any, Any]


Specs = tuple[tuple[str, str], ...]  # a volume type's extra specs, sorted: hashable


@dataclass
class HostState:
    """What the scheduler believes about one backend."""

    host: str
    capabilities: dict[str, Any]
    updated: float
    placed_gb: float = 0.0
    # unmet_specs per volume type's specs: capabilities only change with a new report (a new
    # HostState), and thousands of creates may arrive between two reports
    unmet: dict[Specs, list[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        free = self.capabilities.get("free_capacity_gb", 0)
        self._free: float | None  # None: the report's figure is unreadable
        if free in ("infinite", "unknown"):
            self._free = math.inf
        else:
            try:
                self._free = float(free)
            except (TypeError, ValueError):
                self._free = None

    def unmet_specs(self, specs: Specs) -> list[str]:
        found = self.unmet.get(specs)
        if found is None:
            found = self.unmet[specs] = unmet_specs(self.capabilities, dict(specs))
        return found

    def free_gb(self) -> float:
        return 0.0 if self._free is None else self._free - self.placed_gb

    def pool(self) -> str:
        return pool_name(self.capabilities)


class Scheduler(Actor):
    """Serves ``cinder-scheduler.<name>``."""

    def __init__(self, db: Repository, *, service_down_time: float = 60.0, host: str | None = None):
        self.db = db
        self.service_down_time = service_down_time
        self.host = host  # its own service row's (None: it keeps none)
        self.last_beat = -math.inf
        self.hosts: dict[str, HostState] = {}
        self._order: list[str] = []  # the hosts, sorted: placement is deterministic
        self.last_reap = 0.0
        self.unsaved: dict[str, str] = {}  # volume id -> why its placement could not be written

    def update_service_capabilities(self, host: str, capabilities: Mapping[str, Any]) -> Gen:
        now = yield Now()
        if host not in self.hosts:
            self._order = sorted([*self.hosts, host])
        self.hosts[host] = HostState(host, dict(capabilities), now)
        if self.host is not None and now - self.last_beat >= self.service_down_time / 6:
            self.last_beat = now  # the scheduler's own heartbeat, at the managers' pace
            self.db.service_update_or_create(self.host, SCHEDULER_TOPIC, {"topic": SCHEDULER_TOPIC})
        if now - self.last_reap >= self.service_down_time:  # the managers' reports are our clock
            self.last_reap = now
            self.reap_unplaced(now)

    def reap_unplaced(self, now: float) -> list[str]:
        """Volumes still ``creating`` with no host after ``service_down_time`` never reached a
        scheduler (their cast was lost): they go to ``error``, saying so; returns their ids."""
        reaped = []
        for volume in self.db.volume_get_all(statuses=[CREATING]):
            if volume["host"] is None and now - float(volume["updated_at"]) >= self.service_down_time:
                why = self.unsaved.pop(volume["id"], None)
                reason = f"not scheduled within {self.service_down_time:g} s: " + (
                    f"the scheduler could not save its placement ({why})"
                    if why
                    else "the request never reached a scheduler"
                )
                if self.db.volume_conditional_update(
                    volume["id"],
                    {"status": CREATING, "host": None},
                    {"status": VOLUME_ERROR, "status_reason": reason},
                ):
                    reaped.append(volume["id"])
        return reaped

    def rejections(self, state: HostState, size: float, specs: Specs, now: float) -> list[str]:
        """Why ``state`` cannot take a volume of ``size`` GiB with ``specs`` (empty: it can)."""
        reasons = []
        if now - state.updated > self.service_down_time:
            reasons.append(f"no stats for {now - state.updated:.0f} s (service down)")
        if state.free_gb() < size:
            reasons.append(f"free {state.free_gb():.0f} GiB < {size} GiB")
        reasons.extend(state.unmet_specs(specs))
        return reasons

    def create_volume(self, context: Mapping[str, Any], volume_id: str, op_id: str | None = None) -> Gen:
        now = yield Now()
        volume = self.db.volume_get(volume_id)
        if volume["status"] != CREATING or volume["host"] is not None:
            # A redelivered request (or one overtaken by the reaper): placing it again would make
            # a second copy of the volume on another backend.
            LOG.info(
                "volume %s is already placed (%s, host %s); request %s ignored",
                volume_id,
                volume["status"],
                volume["host"],
                op_id,
            )
            return None
        specs: Specs = ()
        if volume.get("volume_type_id"):
            specs = tuple(sorted(self.db.volume_type_get(volume["volume_type_id"])["extra_specs"].items()))
        size = float(volume["size"] or 0)
        passed, why = [], []
        # Cinder's host manager skips disabled services: frozen, failed over, or an admin's
        disabled = self.db.service_disabled_hosts(VOLUME_TOPIC)
        for host in self._hosts_for(volume):
            state = self.hosts[host]
            reasons = self.rejections(state, size, specs, now)
            if host in disabled:
                reasons.insert(0, "service disabled")
            if reasons:
                why.append(f"{host}: {'; '.join(reasons)}")
            else:
                passed.append(state)
        if not passed:
            reason = "No valid host was found. " + (" | ".join(why) if why else "No backend has reported.")
            LOG.warning("volume %s: %s", volume_id, reason)
            self.db.volume_conditional_update(
                volume_id,
                {"status": CREATING, "host": None},
                {"status": VOLUME_ERROR, "status_reason": reason},
            )
            return None
        best = min(passed, key=lambda s: (-s.free_gb(), s.host))
        # Claimed, not written: of two deliveries of one request, only one places the volume.
        try:
            placed = self.db.volume_conditional_update(
                volume_id, {"status": CREATING, "host": None}, {"host": f"{best.host}#{best.pool()}"}
            )
        except exception.DBUnavailable as exc:  # the reaper will say so, not that the request was lost
            self.unsaved[volume_id] = str(exc)
            raise
        if placed is None:
            LOG.info("volume %s was placed meanwhile; request %s ignored", volume_id, op_id)
            return None
        best.placed_gb += size
        yield rpcapi.create_volume(context, placed, op_id)
        return best.host

    # -- generic volume groups ---------------------------------------------------------------------

    def _hosts_for(self, volume: Mapping[str, Any]) -> list[str]:
        """Where a volume may go: a group's volume only to its group's backend, as Cinder places it."""
        if not volume.get("group_id"):
            return self._order
        try:
            group_host = self.db.group_get(volume["group_id"])["host"]
        except exception.GroupNotFound:
            return []
        return [host for host in self._order if group_host and host == group_host.partition("#")[0]]

    def create_group(self, context: Mapping[str, Any], group_id: str, op_id: str | None = None) -> Gen:
        """Place a group on a backend that meets its group type's specs and every one of its volume
        types' extra specs (most free capacity first), then ask that backend's manager to create it."""
        now = yield Now()
        group = self.db.group_get(group_id)
        if group["status"] != CREATING or group["host"] is not None:
            LOG.info("group %s is already placed (%s); request %s ignored", group_id, group["host"], op_id)
            return None
        wanted: list[Specs] = [
            tuple(sorted(self.db.group_type_get(group["group_type_id"])["group_specs"].items()))
        ]
        for type_id in group["volume_type_ids"]:
            wanted.append(tuple(sorted(self.db.volume_type_get(type_id)["extra_specs"].items())))
        passed, why = [], []
        for host in self._order:
            state = self.hosts[host]
            reasons = [reason for specs in wanted for reason in self.rejections(state, 0.0, specs, now)]
            if reasons:
                why.append(f"{host}: {'; '.join(dict.fromkeys(reasons))}")
            else:
                passed.append(state)
        if not passed:
            reason = f"No valid host to create group {group_id}. " + (
                " | ".join(why) or "No backend has reported."
            )
            LOG.warning("group %s: %s", group_id, reason)
            self.db.group_conditional_update(
                group_id,
                {"status": CREATING, "host": None},
                {"status": VOLUME_ERROR, "status_reason": reason},
            )
            return None
        best = min(passed, key=lambda s: (-s.free_gb(), s.host))
        placed = self.db.group_conditional_update(
            group_id, {"status": CREATING, "host": None}, {"host": f"{best.host}#{best.pool()}"}
        )
        if placed is None:
            return None
        yield rpcapi.group_cast(context, placed, "create_group", op_id or "")
        return best.host
