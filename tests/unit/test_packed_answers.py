"""A history keeps large answers packed; every reader sees them whole, through ``Op.answer``."""

from __future__ import annotations

import dataclasses
import json
import time
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from support import runfiles

from replisim.scenarios.history import HISTORY_NAME, PACK_AT, History, Packed, for_report

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=8) | st.dictionaries(st.text(max_size=12), inner, max_size=8),
    max_leaves=60,
)


def completed(value: Any, f: str = "get_volume") -> Any:
    history = History()
    index = history.invoke("p", f, {"volume_id": "v"}, 0.0)
    return history.complete(index, 1.0, value=value)


@given(value=json_values)
def test_a_packed_answer_unpacks_to_the_original(value: Any) -> None:
    op = completed(value)
    assert op.answer == value
    assert op.to_dict()["value"] == value


@given(
    value=json_values,
    error=st.none() | st.text(max_size=30),
    process=st.text(max_size=12),
    f=st.text(max_size=20),
    intended=st.none() | st.floats(allow_nan=False),
)
def test_a_history_line_reads_back_as_the_operation(
    value: Any, error: str | None, process: str, f: str, intended: float | None
) -> None:
    """The written line, its packed answer spliced in as text, is the operation's dict, keys sorted."""
    history = History()
    index = history.invoke(process, f, {"volume_id": "v"}, 0.0, intended)
    for written in (history.ops[index], history.complete(index, 1.5, value=value, error=None)):
        op = written if error is None else dataclasses.replace(written, error=error)
        line = op.to_line()
        assert line.endswith("}\n") and "\n" not in line[:-1]
        assert json.loads(line) == op.to_dict()
        assert list(json.loads(line)) == sorted(op.to_dict())


def test_a_large_row_is_packed_and_a_small_answer_or_a_string_is_not() -> None:
    row = {"id": "vol-1", "status": "available", "reason": "x" * PACK_AT}
    assert type(completed(row).value) is Packed
    assert completed({"id": "vol-1"}).value == {"id": "vol-1"}
    message = "Backend reported error during thaw_host: " + "y" * PACK_AT
    assert completed(message).value == message and completed(message).answer == message


def test_the_report_and_the_history_file_read_a_packed_answer_whole(tmp_path: Any) -> None:
    row = {"id": "vol-1", "size": 10, "metadata": {str(i): i for i in range(100)}}
    history = History()
    index = history.invoke("p", "create_volume", {"size": 10}, 0.0)
    op = history.complete(index, 1.0, value=row)
    assert type(op.value) is Packed
    assert for_report(op)["value"] == {"id": "vol-1"}
    history.write(tmp_path / HISTORY_NAME)
    lines = runfiles.history(tmp_path)
    assert lines[1]["value"] == row


@given(value=json_values, secret=st.text(min_size=1, max_size=20))
def test_the_answer_text_holds_a_string_exactly_when_the_answer_does(value: Any, secret: str) -> None:
    """What the secrets checker searches: a packed answer's text, read without decoding it, holds
    a string value exactly as the unpacked answer's own JSON does."""
    padded = {"pad": "p" * PACK_AT, "value": value, "leak": secret}
    op = completed(padded)
    assert type(op.value) is Packed
    assert op.answer_text == json.dumps(padded, separators=(",", ":"))
    assert json.dumps(secret)[1:-1] in op.answer_text


@given(value=json_values)
def test_two_histories_of_one_answer_are_equal_and_of_another_are_not(value: Any) -> None:
    """Determinism tests compare histories op by op: a packed answer equals its twin."""
    padded = {"pad": "p" * PACK_AT, "value": value}
    assert completed(padded) == completed(dict(padded))
    assert completed(padded) != completed({**padded, "value": [value]})


def test_the_history_file_is_the_same_bytes_for_the_same_history(tmp_path: Any) -> None:
    """Two runs of one seed write equal histories byte for byte: the gzip header holds no time or name."""
    history = History()
    history.complete(history.invoke("p", "create_volume", {"size": 1}, 0.0), 1.0, value={"id": "vol-1"})
    first, second = tmp_path / "a" / HISTORY_NAME, tmp_path / "b" / HISTORY_NAME
    for path in (first, second):
        path.parent.mkdir()
        history.write(path)
        time.sleep(1.1)  # a gzip header with a time in it would now differ
    assert first.read_bytes() == second.read_bytes()
    assert [op["type"] for op in runfiles.history(first.parent)] == ["invoke", "ok"]
