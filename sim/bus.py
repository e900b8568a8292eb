"""The simulated message bus: latency per link, loss, duplication, reordering and partitions.

Every decision draws from the bus's own seeded stream, and every knob can be changed at any
simulated time, so a fault schedule is just a list of calls to these methods. A link is FIFO
(as an AMQP queue is) unless reordering is switched on for it.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable
from dataclasses import dataclass, field

from .effects import Address


@dataclass(frozen=True, slots=True)
class Constant:
    """Every message takes ``seconds``."""

    seconds: float

    def sample(self, rng: random.Random) -> float:
        return self.seconds


@dataclass(frozen=True, slots=True)
class Uniform:
    """Latency drawn uniformly from ``[low, high]`` seconds."""

    low: float
    high: float

    def sample(self, rng: random.Random) -> float:
        return rng.uniform(self.low, self.high)


@dataclass(frozen=True, slots=True)
class LogNormal:
    """Heavy-ish tail around ``median`` seconds; ``sigma`` is the log-space spread."""

    median: float
    sigma: float

    def sample(self, rng: random.Random) -> float:
        return rng.lognormvariate(math.log(self.median), self.sigma)


Latency = Constant | Uniform | LogNormal


@dataclass(frozen=True, slots=True)
class Link:
    """How messages fare on a link: latency, and the probabilities of loss, duplicate, reorder."""

    latency: Latency = field(default_factory=lambda: Constant(0.001))
    loss: float = 0.0
    duplicate: float = 0.0
    reorder: float = 0.0

    def __post_init__(self) -> None:
        for name in ("loss", "duplicate", "reorder"):
            p = getattr(self, name)
            if not 0.0 <= p <= 1.0:
                raise ValueError(f"Link.{name} must be a probability in [0, 1], got {p!r}")


def matches(pattern: str, address: Address) -> bool:
    """A pattern names one actor (``topic.server``) or a whole topic (``topic``)."""
    return pattern == address.topic or pattern == str(address)


class Bus:
    """Decides, per message, when (and whether, and how often) it arrives."""

    def __init__(self, rng: random.Random, default: Link | None = None, *, strict_fifo: bool = False):
        self._rng = rng
        # A schedule that reorders same-time events would reorder two messages due on one link at
        # one instant: then each message on a link arrives strictly after the one before it.
        self._strict_fifo = strict_fifo
        self.default = default or Link()
        self._links: dict[tuple[str | None, str | None], Link] = {}
        self._partitions: list[tuple[tuple[str, ...], ...]] = []
        self._fifo: dict[tuple[Address, Address], float] = {}
        self._cache: dict[tuple[Address, Address], Link] = {}

    # -- knobs ---------------------------------------------------------------------------------

    def set_link(self, link: Link, src: str | None = None, dst: str | None = None) -> None:
        """Use ``link`` for messages from ``src`` to ``dst`` (patterns; ``None`` is any)."""
        if src is None and dst is None:
            self.default = link
        else:
            self._links[(src, dst)] = link
        self._cache.clear()

    def override(self, src: str | None = None, dst: str | None = None) -> Link | None:
        """The link ``set_link`` set for exactly these patterns, if any."""
        return self._links.get((src, dst))

    def reset_link(self, src: str | None = None, dst: str | None = None) -> None:
        """Drop a link override set by ``set_link``."""
        self._links.pop((src, dst), None)
        self._cache.clear()

    def partition(self, *groups: Iterable[str]) -> int:
        """Cut every link between actors of different groups; returns a handle for ``heal``."""
        frozen = tuple(tuple(g) for g in groups)
        if len(frozen) < 2:
            raise ValueError("a partition needs at least two groups")
        self._partitions.append(frozen)
        return len(self._partitions) - 1

    def heal(self, handle: int | None = None) -> None:
        """Remove one partition (by handle) or all of them."""
        if handle is None:
            self._partitions.clear()
        else:
            self._partitions[handle] = ()

    def partitioned_groups(self) -> list[tuple[tuple[str, ...], ...]]:
        """The partitions in force."""
        return [groups for groups in self._partitions if groups]

    # -- decisions -----------------------------------------------------------------------------

    def link_for(self, src: Address, dst: Address) -> Link:
        key = (src, dst)
        link = self._cache.get(key)
        if link is None:
            link = self.default
            best = -1
            for (s, d), candidate in self._links.items():
                if (s is None or matches(s, src)) and (d is None or matches(d, dst)):
                    rank = (s is not None) * 2 + (d is not None)
                    if rank > best:
                        best, link = rank, candidate
            self._cache[key] = link
        return link

    def partitioned(self, src: Address, dst: Address) -> bool:
        for groups in self._partitions:
            side_src = side_dst = -1
            for i, group in enumerate(groups):
                for pattern in group:
                    if side_src < 0 and matches(pattern, src):
                        side_src = i
                    if side_dst < 0 and matches(pattern, dst):
                        side_dst = i
            if side_src >= 0 and side_dst >= 0 and side_src != side_dst:
                return True
        return False

    def plan(self, src: Address, dst: Address, now: float) -> tuple[list[float], str | None]:
        """Delays after which copies of one message arrive, or ``([], reason)`` when dropped."""
        if self._partitions and self.partitioned(src, dst):
            return [], "partition"
        link = self.link_for(src, dst) if self._links else self.default
        rng = self._rng
        if link.loss and rng.random() < link.loss:
            return [], "loss"
        copies = 2 if link.duplicate and rng.random() < link.duplicate else 1
        delays = []
        for _ in range(copies):
            delay = link.latency.sample(rng)
            if link.reorder and rng.random() < link.reorder:
                delay += link.latency.sample(rng)  # overtaken: skips the FIFO, arrives late
            else:
                key = (src, dst)
                arrival = now + delay
                last = self._fifo.get(key, 0.0)
                if last > arrival:
                    delay = last - now
                    while now + delay < last:  # the subtraction rounds: never land before the last
                        delay = math.nextafter(delay, math.inf)
                    arrival = now + delay
                if self._strict_fifo:
                    while now + delay <= last:
                        delay = math.nextafter(delay, math.inf)
                    arrival = now + delay
                self._fifo[key] = arrival
            delays.append(delay)
        return delays, None
