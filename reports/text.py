"""How figures read as text, the same on the page and in the terminal."""

from __future__ import annotations

import math

DASH = "—"


def duration(seconds: float | None) -> str:
    """A duration in the unit that reads best: ``850 µs``, ``12.5 ms``, ``3.21 s``, ``2.5 min``, ``1.3 d``."""
    if seconds is None or (isinstance(seconds, float) and not math.isfinite(seconds)):
        return DASH
    magnitude = abs(seconds)
    for limit, scale, unit in (
        (1e-3, 1e-6, "µs"),
        (1.0, 1e-3, "ms"),
        (120.0, 1.0, "s"),
        (7200.0, 60.0, "min"),
        (172800.0, 3600.0, "h"),
    ):
        if magnitude < limit:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 86400.0:.3g} d"


def number(value: float | int | None, digits: int = 4) -> str:
    """A count with thousands separators, or a measure to ``digits`` significant digits."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return DASH
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int) or (float(value).is_integer() and abs(value) < 1e15):
        return f"{int(value):,}"
    return f"{value:,.{digits}g}" if abs(value) < 10**digits else f"{value:,.0f}"


def percent(value: float | None) -> str:
    return DASH if value is None else f"{value:.1f} %"
