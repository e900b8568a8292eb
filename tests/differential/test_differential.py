"""The differential suite under pytest: one test item per request and per ``cinder`` command.

A request must answer as Cinder 29 does (up to the allowlist), except the ones listed in
``known_differences.yaml``, which are strict xfails: the surface work fixes them one by one, and a
fix that forgets to remove its entry fails as XPASS. Both servers run once per session.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from typing import Any

import pytest

from differential import compare, suite
from differential.servers import NotInstalled, cinder_python

pytestmark = [pytest.mark.live, pytest.mark.differential]

KNOWN = suite.load_known()


@pytest.fixture(scope="session")
def differential_run(tmp_path_factory: pytest.TempPathFactory) -> suite.Run:
    try:
        cinder_python()
    except NotInstalled as exc:
        if os.environ.get("CI"):  # CI installs it through `make test`: a missing install is a failure there
            pytest.fail(str(exc))
        pytest.skip(str(exc))
    return suite.run(tmp_path_factory.mktemp("differential"))


def _items() -> Iterator[Any]:
    for key in suite.all_keys():
        marks = [pytest.mark.xfail(strict=True, reason=KNOWN[key])] if key in KNOWN else []
        yield pytest.param(key, id=key, marks=marks)


@pytest.mark.parametrize("key", _items())
def test_answers_as_cinder_29(differential_run: suite.Run, key: str) -> None:
    result = differential_run.results[key]
    assert result.outcome != "differs", "\n" + result.report


def test_every_allowlist_entry_is_still_needed(differential_run: suite.Run) -> None:
    unused = [a.keys for i, a in enumerate(compare.ALLOWLIST) if i not in differential_run.allowlist_used]
    assert not unused, f"allowlist entries that no difference needed (remove them): {unused}"


def test_every_status_a_label_names_is_cinders(differential_run: suite.Run) -> None:
    """A step labelled ``...-400`` must get 400 from Cinder itself: one that Cinder accepts tests
    nothing it says, and changes the state the next step races against."""
    wrong = {
        key: (int(named.group(1)), status)
        for key, status in differential_run.cinder_status.items()
        if (named := re.search(r"-(\d{3})$", key)) and int(named.group(1)) != status
    }
    assert not wrong, f"steps Cinder answers otherwise than their label says (named, got): {wrong}"
