"""``run.json`` is written in batches through the C encoder, and reads as ``json.dump`` wrote it."""

from __future__ import annotations

import io
import json
from pathlib import PurePosixPath
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from replisim.scenarios.runner import dump_in_batches

leaves = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=20)
    | st.builds(PurePosixPath, st.text(max_size=10))  # not JSON: default=str writes its text
)
values = st.recursive(
    leaves,
    lambda inner: st.lists(inner, max_size=9) | st.dictionaries(st.text(max_size=8), inner, max_size=5),
    max_leaves=40,
)


@given(data=st.dictionaries(st.text(max_size=8), values, max_size=6), batch=st.integers(1, 4))
def test_the_batched_record_is_byte_for_byte_what_json_dump_writes(data: dict[str, Any], batch: int) -> None:
    out = io.StringIO()
    dump_in_batches(data, out, batch=batch)
    assert out.getvalue() == json.dumps(data, sort_keys=True, default=str)
