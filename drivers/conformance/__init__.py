"""The driver conformance suite: checks with permanent IDs that hold any driver to the contract.

Run it as ``replisim conformance --driver pkg.mod:Class --config FILE`` or as
``pytest --driver pkg.mod:Class --driver-config FILE``; from Python, ``load_target`` then
``run_suite`` give a ``RunReport`` that ``report`` writes as text, JUnit XML or JSON.
"""

from .checks import CAPABILITIES, CHECKS, Check
from .runner import RunReport, Suite, run_suite, select_checks
from .target import BadInput, Target, load_target

__all__ = [
    "CAPABILITIES",
    "CHECKS",
    "BadInput",
    "Check",
    "RunReport",
    "Suite",
    "Target",
    "load_target",
    "run_suite",
    "select_checks",
]
