"""One emulated storage array: a pool, the volume copies it holds, its health and its service times.

The array keeps what is local to it; replication between arrays (pairs, links, failover) is the
fabric's business (``fabric.py``), since it always involves two of them.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from replisim import exception

from .link import ReplicationLink
from .usage import UsageMeter
from .writes import WriteHistory

# Median seconds per operation; each call draws around the median (log-normal, sigma below).
DEFAULT_SERVICE_TIMES: Mapping[str, float] = {
    "create": 2.0,
    "delete": 1.0,
    "enable": 0.5,
    "disable": 0.5,
    "failover": 3.0,
    "stats": 0.05,
    "list": 0.1,
    "updates": 0.1,
    "setup": 0.2,
    "failover_host": 5.0,  # a whole backend's failover: one call, every volume
    "freeze": 0.1,
}
SERVICE_TIME_SIGMA = 0.25
# A thin pool slows down as it fills: free extents get scarce and fragmented, so allocation and
# space reclamation work harder. Below FULL_POOL_KNEE of the pool in use nothing changes; above it,
# service times grow as (1 - knee) / (1 - utilisation), like a queue nearing saturation: 2x at 85 %,
# 5x from 94 % on. The cap keeps the default service times well inside the volume manager's 30 s
# driver timeout, so a full pool is slow and refuses creates rather than timing operations out.
FULL_POOL_KNEE = 0.7
FULL_POOL_SLOWDOWN_CAP = 5.0
GIB_IN_KIB = 1024 * 1024


@dataclass(eq=False, slots=True)
class Copy:
    """A volume's copy on one array: the primary (takes writes) or a secondary (fed by a link)."""

    volume_id: str
    array: str
    size_gb: int
    role: str = "primary"  # primary | secondary
    history: WriteHistory | None = None  # a primary's own writes
    source: Copy | None = None  # a secondary's primary
    link: ReplicationLink | None = None
    mode: str = "async"
    since: float = 0.0  # when this secondary was last in sync with its source (or split from it)
    frozen: int | None = None  # a paused or broken secondary's write count
    paused: bool = False  # replication disabled on purpose
    stalling: bool = False  # a sync secondary that lost its link while in sync: its primary waits
    inherited: int = 0  # writes of the old primary a promoted copy held when promoted
    split_from: str | None = None  # on a copy a split brain promoted: the array of the other primary


@dataclass
class EmulatedArray:
    """A pool with capacity, thin or thick, volume copies, and fault switches."""

    name: str
    rng: random.Random
    pool: str = ""
    capacity_gb: float = 1000.0
    thin: bool = True
    max_over_subscription_ratio: float = 20.0
    write_size_kb: float = 64.0
    service_times: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_SERVICE_TIMES))
    copies: dict[str, Copy] = field(default_factory=dict)
    up: bool = True
    down_since: float = 0.0
    capacity_exhausted: bool = False
    latency_factor: float = 1.0
    restarting_until: float = -math.inf  # a controller restart's window end
    restart_completes: float = 0.5
    suspended: bool = False  # a paused controller: nothing it is asked to do makes progress
    suspended_until: float = -math.inf  # ... until then (the pause's end)
    meter: UsageMeter = field(default_factory=UsageMeter)  # thin space in use, kept by the fabric
    _provisioned: float = 0.0

    def __post_init__(self) -> None:
        self.pool = self.pool or self.name

    def add(self, copy: Copy) -> None:
        self.copies[copy.volume_id] = copy
        self._provisioned += copy.size_gb

    def discard(self, volume_id: str, now: float) -> None:
        copy = self.copies.pop(volume_id, None)
        if copy is not None:
            self._provisioned -= copy.size_gb
            self.meter.remove(volume_id, now)

    # -- health -----------------------------------------------------------------------------------

    @property
    def serving(self) -> bool:
        """Up and not paused: its volumes take writes and its links carry data."""
        return self.up and not self.suspended

    def require_up(self) -> None:
        if not self.up:
            raise exception.VolumeBackendAPIException(data=f"array {self.name} is not reachable")

    def service_time(self, operation: str, now: float) -> float:
        """Seconds ``operation`` takes if started at ``now``: log-normal around its median, scaled
        by a latency spike and by how full the pool is; during a controller restart or a pause it
        does not finish before the restart or the pause does."""
        median = self.service_times.get(operation, DEFAULT_SERVICE_TIMES.get(operation, 0.1))
        seconds = (
            median
            * math.exp(self.rng.gauss(0.0, SERVICE_TIME_SIGMA))
            * self.latency_factor
            * self.fill_slowdown(now)
        )
        if now < self.restarting_until:
            seconds += self.restarting_until - now
        if self.suspended and now < self.suspended_until:
            seconds += self.suspended_until - now
        return seconds

    def fill_slowdown(self, now: float) -> float:
        """How many times slower than its median an operation runs because the pool is nearly full."""
        if self.capacity_gb <= 0:
            return 1.0
        utilisation = self.used_gb(now) / self.capacity_gb
        if utilisation <= FULL_POOL_KNEE:
            return 1.0
        return min(FULL_POOL_SLOWDOWN_CAP, (1 - FULL_POOL_KNEE) / max(1e-9, 1 - utilisation))

    def interrupted(self, started: float) -> bool:
        """For an operation started during a controller restart: True if it was lost (not done)."""
        return started < self.restarting_until and self.rng.random() >= self.restart_completes

    # -- capacity ---------------------------------------------------------------------------------

    def used_gb(self, now: float) -> float:
        """Space consumed: thick reserves the whole size; thin holds what was written, up to the size."""
        return self.meter.total(now) if self.thin else self._provisioned

    def provisioned_gb(self) -> float:
        return self._provisioned

    def free_gb(self, now: float) -> float:
        if self.capacity_exhausted:
            return 0.0
        return max(0.0, self.capacity_gb - self.used_gb(now))

    def check_room(self, size_gb: int, now: float) -> None:
        """Refuse a new copy the pool cannot hold (thin: within the over-subscription ratio)."""
        room = self.free_gb(now)
        if self.thin:
            limit = self.capacity_gb * self.max_over_subscription_ratio - self.provisioned_gb()
            room = limit if room > 0 else 0.0
        if size_gb > room or self.capacity_exhausted:
            raise exception.VolumeBackendAPIException(
                data=f"array {self.name} pool {self.pool}: no space for {size_gb} GiB "
                f"({room:.0f} GiB available)"
            )

    # -- data -------------------------------------------------------------------------------------

    @staticmethod
    def writes_of(copy: Copy, now: float) -> int:
        """How many of the volume's writes this copy holds at ``now``."""
        if copy.history is not None:
            return copy.history.count_at(now)
        if copy.frozen is not None or copy.source is None or copy.source.history is None:
            return copy.frozen or 0
        source = copy.source.history
        if copy.mode == "sync" or copy.link is None:
            return source.count_at(now)
        when, inclusive = copy.link.position(now)
        if when <= copy.since:
            return source.count_at(copy.since)
        return source.count_at(when) if inclusive else source.count_before(when)

    def stats(self, now: float) -> dict[str, Any]:
        return {
            "pool_name": self.pool,
            "total_capacity_gb": round(self.capacity_gb, 3),
            "free_capacity_gb": round(self.free_gb(now), 3),
            "provisioned_capacity_gb": round(self.provisioned_gb(), 3),
            "thin_provisioning_support": self.thin,
            "thick_provisioning_support": not self.thin,
            "max_over_subscription_ratio": self.max_over_subscription_ratio,
            "total_volumes": len(self.copies),
        }
