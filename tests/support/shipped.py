"""Shipped scenarios and the verdicts of their runs, as scenario tests read them."""

from __future__ import annotations

from typing import Any

from replisim.console import shipped
from replisim.scenarios.runner import RunResult
from replisim.scenarios.schema import Scenario, load_scenario

from .cinder import require_cinder

# The shipped scenarios whose backends run a Cinder driver (replisim[cinder], which make test
# installs): loading one needs Cinder, and examples/ importable, as `replisim run` from the root has it.
CINDER = frozenset({"cinder-host-failover"})


def scenario(name: str) -> Scenario:
    """The shipped scenario ``name`` (a Cinder one skips, or under make test fails, without Cinder)."""
    if name in CINDER:
        require_cinder()
    return load_scenario(shipped()[name])


def verdict(result: RunResult, check: str) -> tuple[bool | None, Any]:
    """One check's ``ok`` and witness in a run."""
    found = next(v for v in result.verdicts if v.check == check)
    return found.ok, found.witness
