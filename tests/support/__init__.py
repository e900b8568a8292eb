"""What tests in every folder share: the in-memory driver, clusters and servers to stand up, the
broken managers and drivers quality tests run, and where the suite's own files are.

The folder holding this package (``tests/``) is on ``sys.path`` (pytest's ``pythonpath``, and
``PYTHONPATH`` for the processes tests start), so config files name the test drivers as
``support.memdriver.MemoryDriver``.
"""

from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent
ROOT = TESTS.parent
DATA = TESTS / "data" / "scenarios"
