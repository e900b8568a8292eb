"""What tests of the Cinder driver adapter share: Cinder itself, or a skip that says how to get it.

``make test`` installs the ``cinder`` extra and sets ``REPLISIM_REQUIRE_CINDER``, so there a
missing Cinder fails the test; run by hand without the extra, the test is skipped, saying so.
"""

from __future__ import annotations

import os
import sys

import pytest

from . import ROOT

EXAMPLE = ROOT / "examples" / "cinder-fake.conf"  # Cinder's fakes, and examples/cinder_replicated.py
FAKE = "cinder.tests.fake_driver:FakeLoggingVolumeDriver"
HA = "cinder.tests.fake_driver:FakeHAReplicatedLoggingVolumeDriver"
REPLICATED = "examples.cinder_replicated:ReplicatedFakeDriver"


def require_cinder() -> None:
    """Skip (or, under ``make test``, fail) the calling test module unless Cinder 29 imports."""
    from replisim.drivers import cinder_adapter

    try:
        with cinder_adapter.importing():
            import cinder.tests.fake_driver  # noqa: F401
    except ImportError as exc:
        if os.environ.get("REPLISIM_REQUIRE_CINDER"):
            pytest.fail(f"make test installs the cinder extra, yet Cinder does not import: {exc}")
        pytest.skip(
            f"needs the cinder extra (pip install -e '.[cinder]'; make test installs it): {exc}",
            allow_module_level=True,
        )
    if str(ROOT) not in sys.path:  # examples.cinder_replicated, as the example config names it
        sys.path.insert(0, str(ROOT))
