"""The differential suite's marker: ``pytest -m differential`` runs it alone, ``-m 'not differential'``
leaves it out."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "differential: compares replisim serve with real Cinder 29 (tests/differential)"
    )
