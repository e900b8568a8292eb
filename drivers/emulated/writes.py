"""A volume copy's write history: writes numbered 1, 2, 3, ... with an exact count at any instant.

Workloads write at piecewise-constant rates (aggregated, so an hour of 10,000 volumes is not
millions of events) plus single writes; ``count_at(t)`` is the exact number of writes made by
time ``t``, which is what makes "what the secondary holds" and "what was lost" numbers, not guesses.
"""

from __future__ import annotations

import bisect
import math


class WriteHistory:
    """Segments ``(start, count at start, rate)``; the count grows by ``rate`` per second after."""

    __slots__ = ("_counts", "_rates", "_starts")

    def __init__(self, start: float = 0.0, count: int = 0):
        self._starts = [start]
        self._counts = [float(count)]
        self._rates = [0.0]

    @property
    def rate(self) -> float:
        return self._rates[-1]

    def count_at(self, when: float) -> int:
        """Writes made by ``when`` (before the first segment: the starting count)."""
        i = bisect.bisect_right(self._starts, when) - 1
        if i < 0:
            return int(self._counts[0])
        # A hair of tolerance keeps rate * elapsed from flooring 59.999999 to 59.
        return math.floor(self._counts[i] + self._rates[i] * (when - self._starts[i]) + 1e-9)

    def _exact_at(self, when: float) -> float:
        # On a wall clock two readings for one operation may arrive out of order by a hair, so
        # callers date a change before the last one at the last one's time.
        i = len(self._starts) - 1
        return self._counts[i] + self._rates[i] * (when - self._starts[i])

    def set_rate(self, when: float, rate: float) -> None:
        """From ``when`` on, writes arrive at ``rate`` per second."""
        if rate < 0:
            raise ValueError(f"a write rate cannot be negative, got {rate!r}")
        when = max(when, self._starts[-1])
        self._append(when, self._exact_at(when), rate)

    def add(self, when: float, writes: int = 1) -> int:
        """``writes`` single writes at ``when``; returns the new count (the last write's number)."""
        when = max(when, self._starts[-1])
        self._append(when, self._exact_at(when) + writes, self.rate)
        return self.count_at(when)

    def _append(self, when: float, count: float, rate: float) -> None:
        if when == self._starts[-1]:
            self._counts[-1], self._rates[-1] = count, rate
        else:
            self._starts.append(when)
            self._counts.append(count)
            self._rates.append(rate)

    def first_time_above(self, count: int) -> float:
        """The earliest instant at which more than ``count`` writes had been made (inf: not yet):
        the birth of the oldest write a copy holding ``count`` writes lacks."""
        target = count + 1 - 1e-9
        j = bisect.bisect_left(self._counts, target)
        if j > 0:
            rate = self._rates[j - 1]
            if rate > 0:
                crossing = self._starts[j - 1] + (target - self._counts[j - 1]) / rate
                if j == len(self._starts) or crossing < self._starts[j]:
                    return max(crossing, self._starts[j - 1])
        return self._starts[j] if j < len(self._starts) else math.inf

    def count_before(self, when: float) -> int:
        """Writes made strictly before ``when``: single writes made at ``when`` are not counted."""
        i = bisect.bisect_left(self._starts, when) - 1
        if i < 0:
            return int(self._counts[0])
        return math.floor(self._counts[i] + self._rates[i] * (when - self._starts[i]) + 1e-9)
