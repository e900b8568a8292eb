"""Latency histograms: HdrHistogram at three significant digits, in seconds.

A histogram keeps every recorded latency within 0.1 % of its value in constant memory, so the tail
(p99.9) is as trustworthy as the median however many operations a run makes, and two runs'
histograms can be merged. The exact minimum, maximum and mean are kept beside it.
"""

from __future__ import annotations

import math

from hdrh.histogram import HdrHistogram

UNIT = 1e-6  # recorded in microseconds
HIGHEST = 10**12  # 10^12 us: 11.6 days, longer than any wait worth timing
SIGNIFICANT_DIGITS = 3  # values are kept within 10^-3 of themselves
PERCENTILES = (50.0, 90.0, 99.0, 99.9)


class LatencyHistogram:
    """Latencies in seconds; percentiles within 0.1 % of the true order statistic."""

    def __init__(self) -> None:
        self._hdr = HdrHistogram(1, HIGHEST, SIGNIFICANT_DIGITS)
        self.count = 0
        self.min = math.inf
        self.max = -math.inf
        self._sum = 0.0

    def record(self, seconds: float) -> None:
        seconds = max(0.0, seconds)
        self._hdr.record_value(min(HIGHEST, round(seconds / UNIT)))
        self.count += 1
        self.min = min(self.min, seconds)
        self.max = max(self.max, seconds)
        self._sum += seconds

    @property
    def mean(self) -> float:
        return self._sum / self.count if self.count else math.nan

    def percentile(self, percent: float) -> float:
        """The latency that ``percent`` % of recorded ones do not exceed (NaN when empty)."""
        return self.percentiles([percent])[0]

    def percentiles(self, percents: list[float]) -> list[float]:
        """``percentile`` of each of ``percents``, in one pass over the histogram."""
        if not self.count:
            return [math.nan] * len(percents)
        values = self._hdr.get_percentile_to_value_dict(percents)
        return [min(max(values[p] * UNIT, self.min), self.max) for p in percents]

    def summary(self) -> dict[str, float | None]:
        """min, p50, p90, p99, p99.9, max and mean in seconds (None when nothing was recorded)."""
        if not self.count:
            return {key: None for key in ("min_s", *(_key(p) for p in PERCENTILES), "max_s", "mean_s")}
        out: dict[str, float | None] = {"min_s": self.min}
        out.update(zip((_key(p) for p in PERCENTILES), self.percentiles(list(PERCENTILES)), strict=True))
        out.update(max_s=self.max, mean_s=self.mean)
        return out

    def spectrum(self, points: int = 60) -> tuple[list[float], list[float]]:
        """(percentiles, latencies) from 0 to 99.99 %, spaced evenly in 'nines', for a plot."""
        if not self.count:
            return [], []
        percents = [100.0 * (1 - 10 ** (-4.0 * i / (points - 1))) for i in range(points)]
        return percents, self.percentiles(percents)

    def encode(self) -> str:
        """The histogram in HdrHistogram's compressed base64 form, for other tools to merge."""
        return self._hdr.encode().decode("ascii")


def _key(percent: float) -> str:
    return f"p{percent:g}_s"
