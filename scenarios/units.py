"""Durations and rates as people write them in scenario files ("15m", "30/m", "1/10m").

Parsing turns them into seconds and events per second; formatting picks the unit that reads best
and is exact, so a scenario written back to a file loads to the same numbers.
"""

from __future__ import annotations

import math
import re

UNITS: dict[str, float] = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}

_NUMBER = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"
_DURATION = re.compile(rf"\s*(?P<number>{_NUMBER})?\s*(?P<unit>[a-z]+)?\s*")
_RATE = re.compile(rf"\s*(?P<count>{_NUMBER})\s*/(?P<period>.*)")
_DURATION_HELP = (
    "use a number of seconds or a number with one of the units ms, s, m, h, d, w (e.g. 90s, 15m, 2h)"
)
_RATE_HELP = "use a number per second or count/period with a unit ms, s, m, h, d, w (e.g. 0.5/s, 30/m, 1/10m)"


class UnitError(ValueError):
    """A duration or rate that cannot be read, or is negative; the message says what is valid."""


def _finite(value: float | int, what: str, written: object = None) -> float:
    """``value`` as a float if it is a finite, non-negative number; errors quote what was ``written``."""
    shown = repr(value if written is None else written)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise UnitError(f"{shown} is not a {what}")
    if not math.isfinite(value):
        raise UnitError(f"{shown} is not a finite {what}")
    if value < 0:
        raise UnitError(f"a {what} cannot be negative, got {shown}")
    return float(value)


def _seconds(text: str, *, bare_unit: bool) -> float | None:
    """Seconds in ``text``; ``bare_unit`` lets "m" mean "1m" (the period of a rate). None if unreadable."""
    match = _DURATION.fullmatch(text)
    if match is None:
        return None
    number, unit = match["number"], match["unit"]
    if number is None and not (bare_unit and unit):
        return None
    if unit is not None and unit not in UNITS:
        return None
    count = float(number) if number is not None else 1.0
    # divide for ms so "5ms" is the nearest float to 0.005, as people expect
    return count / 1000.0 if unit == "ms" else count * UNITS[unit or "s"]


def parse_duration(value: str | float | int) -> float:
    """Seconds from a number of seconds or a string such as ``"90s"``, ``"15m"``, ``"5ms"``."""
    if isinstance(value, str):
        seconds = _seconds(value, bare_unit=False)
        if seconds is None:
            raise UnitError(f"{value!r} is not a duration; {_DURATION_HELP}")
        return _finite(seconds, "duration", value)
    return _finite(value, "duration")


def parse_rate(value: str | float | int) -> float:
    """Events per second from a number or a string ``count/period`` such as ``"30/m"`` or ``"1/10m"``."""
    if not isinstance(value, str):
        return _finite(value, "rate")
    match = _RATE.fullmatch(value)
    period = _seconds(match["period"], bare_unit=True) if match else None
    if match is None or period is None:
        raise UnitError(f"{value!r} is not a rate; {_RATE_HELP}")
    count = float(match["count"])
    if count < 0 or period < 0:
        raise UnitError(f"a rate cannot be negative, got {value!r}")
    if period == 0:
        raise UnitError(f"{value!r} divides by a zero period")
    return _finite(count / period, "rate", value)


def format_duration(seconds: float) -> str | float:
    """A whole count of the largest exact unit (``3600.0`` -> ``"1h"``, ``0.005`` -> ``"5ms"``), else
    the number of seconds."""
    for unit in ("w", "d", "h", "m", "s") if seconds >= 1 else ("ms",):
        count = seconds * 1000.0 if unit == "ms" else seconds / UNITS[unit]
        if count >= 1 and count == int(count) and count < 1e15:
            text = f"{int(count)}{unit}"
            if parse_duration(text) == seconds:
                return text
    return seconds if seconds else 0


def format_rate(per_second: float) -> str | float:
    """An exact ``count/unit`` spelling with a whole count (``0.5`` -> ``"30/m"``), else the number."""
    if per_second == 0:
        return 0
    for unit in ("s", "m", "h", "d", "w"):
        count = per_second * UNITS[unit]
        if count == int(count) and count < 1e15:
            text = f"{int(count)}/{unit}"
            if parse_rate(text) == per_second:
                return text
    return per_second
