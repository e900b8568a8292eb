"""What tests in every folder share: the in-memory driver, clusters and servers to stand up, the
broken managers and drivers quality tests run, and where the suite's own files are.

The folder holding this package (``tests/``) is on ``sys.path`` (pytest's ``pythonpath``, and
``PYTHONPATH`` for the processes tests start), so config files name the test drivers as
``support.memdriver.MemoryDriver``.
"""

import shutil
import subprocess
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent
ROOT = TESTS.parent
DATA = TESTS / "data" / "scenarios"


def build_wheel(into: Path) -> Path:
    """Build replisim's wheel from the working tree into ``into``. setuptools packs what it copied
    to ``build/lib``, so a module left there by an earlier build would hide one pyproject omits:
    that copy goes first."""
    shutil.rmtree(ROOT / "build" / "lib", ignore_errors=True)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(into), str(ROOT)],
        check=True,
        capture_output=True,
    )
    (wheel,) = into.glob("replisim-*.whl")
    return wheel
