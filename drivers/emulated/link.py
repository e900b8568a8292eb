"""A replication link between two arrays: a FIFO fluid queue with a bandwidth and a latency.

Writes enter at their aggregate rate (plus single writes); the link ships them in order at up to
``bandwidth`` and they land ``latency`` later. The queue is solved in closed form (Reich's
formula over the input's breakpoints) whenever someone asks, so lag, backlog and exactly which
writes the target holds cost no simulation events, and stay exact when the link is cut or throttled.
"""

from __future__ import annotations

import bisect


class ReplicationLink:
    """Ships writes from ``source`` to ``target`` (array names); sizes in KiB, times in seconds."""

    def __init__(
        self, source: str, target: str, *, bandwidth_kib_s: float, latency: float, start: float = 0.0
    ):
        if bandwidth_kib_s <= 0 or latency < 0:
            raise ValueError(f"link {source}->{target}: bandwidth must be positive and latency >= 0")
        self.source = source
        self.target = target
        self.bandwidth = bandwidth_kib_s
        self.latency = latency
        self.up = True
        # Input W(t), cumulative KiB written: breakpoints with the value just before and at the
        # breakpoint (single writes jump) and the slope after it.
        self._at = [start]
        self._left = [0.0]
        self._right = [0.0]
        self._slope = [0.0]
        self._t0 = start  # last time the output was solved
        self._out = 0.0  # KiB landed on the target by _t0

    def __repr__(self) -> str:
        state = "up" if self.up else "down"
        return f"ReplicationLink({self.source}->{self.target}, {state}, {self.bandwidth:g} KiB/s)"

    @property
    def name(self) -> str:
        return f"{self.source}->{self.target}"

    # -- input ------------------------------------------------------------------------------------

    def _written(self, when: float, left: bool = False) -> float:
        i = bisect.bisect_right(self._at, when) - 1
        if i < 0:
            return self._left[0]
        if left and self._at[i] == when:
            return self._left[i]
        return self._right[i] + self._slope[i] * (when - self._at[i])

    def _breakpoint(self, now: float) -> int:
        if now > self._at[-1]:  # (a reading a hair older than the last change joins that change)
            value = self._written(now)
            self._at.append(now)
            self._left.append(value)
            self._right.append(value)
            self._slope.append(self._slope[-1])
        return len(self._at) - 1

    def change_rate(self, now: float, delta_kib_s: float) -> None:
        """A volume joined, left, or changed its write rate on this link."""
        i = self._breakpoint(now)
        self._slope[i] = max(0.0, self._slope[i] + delta_kib_s)

    def add(self, now: float, kib: float) -> None:
        """Single writes of ``kib`` in total, made at ``now``."""
        i = self._breakpoint(now)
        self._right[i] += kib

    # -- output -----------------------------------------------------------------------------------

    def _solve(self, now: float) -> float:
        """KiB landed by ``now``; the queue has been in one regime (up or down) since ``_t0``."""
        t0 = self._t0
        if now <= t0:
            return self._out
        if not self.up:
            return self._out
        rate, lat = self.bandwidth, self.latency
        best = min(self._out + rate * (now - t0), self._written(now - lat))
        lo = bisect.bisect_left(self._at, t0 - lat)
        hi = bisect.bisect_right(self._at, now - lat)
        for i in range(lo, hi):
            s = self._at[i] + lat
            best = min(best, self._left[i] + rate * (now - s))
        return max(best, self._out)

    def _advance(self, now: float) -> None:
        """Solve up to ``now`` and forget input older than anything still in flight. Queries may
        advance too: the regime only changes through ``set_up``, ``set_bandwidth`` and ``set_latency``."""
        if now <= self._t0:
            return
        self._out = self._solve(now)
        self._t0 = now
        keep = bisect.bisect_right(self._right, self._out + 1e-9) - 1
        cut = min(self._at[max(keep, 0)], now - self.latency)
        self._prune(cut)

    def _prune(self, before: float) -> None:
        keep = bisect.bisect_right(self._at, before) - 1
        if keep > 0:
            del self._at[:keep], self._left[:keep], self._right[:keep], self._slope[:keep]

    def set_up(self, now: float, up: bool) -> None:
        self._advance(now)
        self.up = up

    def set_bandwidth(self, now: float, kib_s: float) -> None:
        if kib_s <= 0:
            raise ValueError(f"link {self.name}: bandwidth must be positive, got {kib_s!r}")
        self._advance(now)
        self.bandwidth = kib_s

    def set_latency(self, now: float, latency: float) -> None:
        """From ``now`` writes land ``latency`` after they ship; those in flight are held back too."""
        if latency < 0:
            raise ValueError(f"link {self.name}: latency must be >= 0, got {latency!r}")
        self._advance(now)
        self.latency = latency

    def landed(self, now: float) -> float:
        """KiB the target holds by ``now``."""
        self._advance(now)
        return self._out

    def backlog(self, now: float) -> float:
        """KiB written but not yet on the target (queued or in flight)."""
        return max(0.0, self._written(now) - self.landed(now))

    def position(self, now: float) -> tuple[float, bool]:
        """``(t, inclusive)``: the target holds every write made before ``t`` (and at ``t`` when
        inclusive), and none made after."""
        landed = self.landed(now)
        i = bisect.bisect_right(self._right, landed + 1e-9) - 1
        if i < 0:
            return self._at[0], False
        last = i == len(self._at) - 1
        slope = self._slope[i]
        if slope > 0:
            when = self._at[i] + (landed - self._right[i]) / slope
            if last or when < self._at[i + 1]:
                return when, True
            return self._at[i + 1], False
        return (max(self._at[i], now - self.latency) if last else self._at[i + 1]), last

    def lag(self, now: float) -> float:
        """Age of the oldest write the target lacks, in seconds (0 when it has them all)."""
        if self.backlog(now) <= 1e-9:
            return 0.0
        return max(0.0, now - self.position(now)[0])


def mbps_to_kib_s(mbps: float) -> float:
    """Megabits per second (how links are sold) to KiB per second."""
    return mbps * 1_000_000 / 8 / 1024
