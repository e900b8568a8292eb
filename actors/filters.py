"""Matching a volume type's extra specs against the capabilities a backend reports.

The filter scheduler passes a backend only if every extra spec meant for it is satisfied by the
dict the driver's ``get_volume_stats()`` returned. Specs are either plain keys
(``volume_backend_name: foo``), scoped keys (``capabilities:vendor_name``,
``replication:replication_type``), or the Replication V2 seed's ``replication: enabled``.
Scopes other than ``capabilities`` and ``replication`` (``qos:``, ``hw:``...) belong to other
consumers and are ignored here.

Requirement strings may start with an operator:

* ``<is> True|False``: boolean compare (a missing capability counts as False);
* ``<in> text``: substring of the capability's string form;
* ``<or> a <or> b``: the capability equals one of the options (as strings);
* ``== n``, ``!= n``, ``>= n``, ``<= n``, ``< n``, ``> n``: numeric compare;
* ``s== x``, ``s!= x``, ``s>= x``, ``s<= x``, ``s< x``, ``s> x``: string compare;
* anything else is a plain value: string equality, or membership when the capability is a list.

A malformed requirement (``>= lots``, ``<is> maybe``) simply fails to match: the scheduler then
reports the backend as unsuitable, which is the safe answer.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["pool_name", "spec_matches", "unmet_specs", "wants_replication"]

_MISSING: Any = object()

_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq,
    "!=": operator.ne,
    ">=": operator.ge,
    "<=": operator.le,
    "<": operator.lt,
    ">": operator.gt,
}
_STRING_OPS = {f"s{op}": fn for op, fn in _COMPARE.items()}

_SCHEDULER_SCOPES = frozenset({"capabilities", "replication"})
_SEED_REPLICATION_KEY = "replication"
_REPLICATION_FLAG = "replication_enabled"


def pool_name(capabilities: Mapping[str, Any]) -> str:
    """The one pool a backend's stats describe (the part after ``#`` in a volume's host)."""
    return str(capabilities.get("pool_name") or capabilities.get("volume_backend_name") or "pool")


def _capability_name(capabilities: Mapping[str, Any], key: str) -> str | None:
    """Which capability a spec key refers to, or None when the key is not for the scheduler."""
    scope, sep, rest = key.partition(":")
    if not sep:
        return _REPLICATION_FLAG if key == _SEED_REPLICATION_KEY else key
    if scope not in _SCHEDULER_SCOPES:
        return None
    if scope == "replication" and rest not in capabilities and not rest.startswith("replication_"):
        # ``replication:count`` may also name the driver's ``replication_count``.
        prefixed = f"replication_{rest}"
        if prefixed in capabilities:
            return prefixed
    return rest


def _to_bool(value: Any) -> bool | None:
    """A capability's truth, accepting bools and the strings drivers sometimes report."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("true", "1", "yes", "on"):
            return True
        if lowered in ("false", "0", "no", "off", ""):
            return False
        return None
    if isinstance(value, int | float):
        return bool(value)
    return None


def _to_number(value: Any) -> float | None:
    """A numeric form of ``value``; None for bools, NaN and anything not a number."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def _as_text(value: Any) -> str:
    return str(value)


def _plain_equal(cap: Any, wanted: str) -> bool:
    """Plain-value match: equality with the string form, membership for lists, bools by truth."""
    if isinstance(cap, list | tuple | set | frozenset):
        return any(_plain_equal(item, wanted) for item in cap)
    if isinstance(cap, bool):
        return _to_bool(wanted) is cap
    return _as_text(cap) == wanted


def _match_value(cap: Any, requirement: str) -> bool:
    """Evaluates one requirement string against one capability value (``_MISSING`` if absent)."""
    req = requirement.strip()
    words = req.split(None, 1)
    op = words[0] if words else ""
    operand = words[1].strip() if len(words) > 1 else ""

    if op == "<is>":
        if operand.lower() not in ("true", "false"):
            return False
        actual = False if cap is _MISSING or cap is None else _to_bool(cap)
        return actual is (operand.lower() == "true")

    if cap is _MISSING or cap is None:
        return False

    if op == "<in>":
        return bool(operand) and operand in _as_text(cap)
    if op == "<or>":
        options = [part.strip() for part in req.split("<or>")]
        options = [part for part in options if part]
        return any(_plain_equal(cap, option) for option in options)
    if op in _COMPARE:
        want = _to_number(operand)
        have = _to_number(cap)
        if want is None or have is None:
            return False
        return _COMPARE[op](have, want)
    if op in _STRING_OPS:
        if not operand:
            return False
        return _STRING_OPS[op](_as_text(cap), operand)
    return _plain_equal(cap, req)


def spec_matches(capabilities: Mapping[str, Any], key: str, requirement: str) -> bool:
    """Whether one extra spec ``key: requirement`` is satisfied by ``capabilities``.

    Specs whose scope is not the scheduler's (``qos:``, ``hw:``...) always match, so that a volume
    type can carry settings for other consumers without making every backend unsuitable.
    """
    name = _capability_name(capabilities, key)
    if name is None:
        return True
    cap = capabilities.get(name, _MISSING)
    if key == _SEED_REPLICATION_KEY:
        # The seed's form: ``replication: enabled`` / ``disabled``; other values use the operators.
        word = requirement.strip().lower()
        if word == "enabled":
            return cap is not _MISSING and _to_bool(cap) is True
        if word == "disabled":
            return cap is _MISSING or cap is None or _to_bool(cap) is False
    return _match_value(cap, requirement)


def _describe(capabilities: Mapping[str, Any], key: str) -> str:
    name = _capability_name(capabilities, key) or key
    if name not in capabilities:
        return f"backend does not report {name}"
    return f"backend reports {name}={capabilities[name]!r}"


def unmet_specs(capabilities: Mapping[str, Any], extra_specs: Mapping[str, str]) -> list[str]:
    """The specs ``capabilities`` fail, sorted by key; ``[]`` means the backend passes the filter.

    Each entry reads like ``"replication: enabled (backend reports replication_enabled=False)"`` so
    that a scheduling failure can say why each backend was rejected.
    """
    unmet: list[str] = []
    for key in sorted(extra_specs):
        requirement = extra_specs[key]
        if not spec_matches(capabilities, key, requirement):
            unmet.append(f"{key}: {requirement} ({_describe(capabilities, key)})")
    return unmet


def wants_replication(extra_specs: Mapping[str, str]) -> bool:
    """Whether a volume type asks for replication, in the seed's or the later Cinder spelling.

    True for ``replication: enabled`` (any case) and for ``replication_enabled`` (optionally
    ``capabilities:``-scoped) set to ``<is> True``.
    """
    seed = extra_specs.get(_SEED_REPLICATION_KEY)
    if isinstance(seed, str) and seed.strip().lower() == "enabled":
        return True
    for key in (_REPLICATION_FLAG, f"capabilities:{_REPLICATION_FLAG}"):
        value = extra_specs.get(key)
        if isinstance(value, str) and " ".join(value.split()).lower() == "<is> true":
            return True
    return False
