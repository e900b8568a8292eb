"""The trace: its fast line formats are byte for byte ``json.dumps``, and its compressed blocks, its
digest and its file all hold every line, in order, however the recording was split into blocks."""

from __future__ import annotations

import gzip
import hashlib
import json
import threading
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from replisim.sim import Address, Message, Trace
from replisim.sim import trace as trace_module
from replisim.sim._kernel import Envelope

TEXT = st.text(max_size=12)  # any characters: quotes, backslashes, control and non-ASCII ones
ADDRESSES = st.builds(Address, TEXT, st.none() | TEXT)
TIMES = st.floats(0, 1e9, allow_nan=False) | st.integers(0, 10**6)
IDS = st.integers(0, 2**62)


def dumps(event: str, time: float, **fields: object) -> str:
    """What the generic ``Trace.record`` writes for an event."""
    return json.dumps(
        {"t": round(time, 9), "ev": event, **fields}, sort_keys=True, separators=(",", ":"), default=str
    )


@settings(max_examples=300, deadline=None)
@given(
    time=TIMES,
    id=IDS,
    call_id=IDS,
    kind=st.sampled_from(["cast", "call", "reply"]),
    src=ADDRESSES,
    dst=ADDRESSES,
    method=st.none() | TEXT,
    ok=st.booleans(),
)
def test_the_fast_lines_are_what_json_dumps_writes(  # noqa: PLR0917 - drawn by hypothesis
    time: float, id: int, call_id: int, kind: str, src: Address, dst: Address, method: str | None, ok: bool
) -> None:
    message = None if method is None else Message(method)
    envelope = Envelope(id, kind, src, dst, message, call_id, error=None if ok else ValueError())
    trace = Trace()
    trace.send(time, envelope)
    described = method if method is not None else f"reply:{call_id}"
    expected = [dumps("send", time, id=id, kind=kind, src=str(src), dst=str(dst), method=described)]
    if method is not None:
        trace.deliver(time, envelope)
        expected.append(dumps("deliver", time, id=id, dst=str(dst), method=method))
    trace.reply(time, envelope)
    expected.append(dumps("reply", time, id=id, call=call_id, ok=ok))
    assert trace.lines() == expected


def test_blocks_digest_and_file_hold_every_line_in_order(tmp_path: Path, monkeypatch: object) -> None:
    monkeypatch.setattr(trace_module, "BLOCK", 7)  # type: ignore[attr-defined]
    trace = Trace()
    expected = []
    for i in range(100):
        trace.record(i * 0.5, "tick", n=i, note='é"\\')
        expected.append(dumps("tick", i * 0.5, n=i, note='é"\\'))
        if i % 13 == 0:  # reading in the middle seals a short block: nothing may be lost or doubled
            assert (
                trace.digest()
                == hashlib.sha256("".join(f"{line}\n" for line in expected).encode()).hexdigest()
            )
    assert trace.lines() == expected and len(trace) == 100
    assert trace.records[3] == {"t": 1.5, "ev": "tick", "n": 3, "note": 'é"\\'}
    trace.write(tmp_path / "trace.jsonl.gz")
    text = gzip.decompress((tmp_path / "trace.jsonl.gz").read_bytes()).decode()
    assert text.splitlines() == expected
    assert hashlib.sha256(text.encode()).hexdigest() == trace.digest()


def test_a_disabled_trace_records_nothing() -> None:
    trace = Trace(enabled=False)
    trace.record(1.0, "tick")
    assert trace.lines() == [] and len(trace) == 0
    assert trace.digest() == hashlib.sha256(b"").hexdigest()


def test_threads_recording_at_once_lose_no_line(monkeypatch: object) -> None:
    monkeypatch.setattr(trace_module, "BLOCK", 16)  # type: ignore[attr-defined]
    trace = Trace(threadsafe=True)

    def record(worker: int) -> None:
        for i in range(2000):
            trace.record(0.0, "tick", worker=worker, n=i)

    threads = [threading.Thread(target=record, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seen = {(r["worker"], r["n"]) for r in trace.records}
    assert len(trace) == 8000 and seen == {(w, i) for w in range(4) for i in range(2000)}


def test_equal_times_of_another_type_are_written_as_json_dumps_writes_them() -> None:
    """The clock reads int 0 before the first event and float 0.0 after: the lines say so."""
    trace = Trace()
    envelope = Envelope(1, "call", Address("a", "x"), Address("b", "y"), Message("m"), 7)
    for time in (0, 0.0, 0, 1e-10, 2.5, 2.5):
        trace.deliver(time, envelope)
    assert trace.lines() == [
        dumps("deliver", t, id=1, dst="b.y", method="m") for t in (0, 0.0, 0, 1e-10, 2.5, 2.5)
    ]


def test_a_long_trace_spools_its_blocks_to_disk_and_loses_nothing(
    tmp_path: Path, monkeypatch: object
) -> None:
    monkeypatch.setattr(trace_module, "BLOCK", 50)  # type: ignore[attr-defined]
    monkeypatch.setattr(trace_module, "SPOOL_AFTER", 100)  # type: ignore[attr-defined]
    trace = Trace()
    expected = []
    for i in range(20000):
        trace.record(float(i), "tick", n=i)
        expected.append(dumps("tick", float(i), n=i))
        if i == 15000:
            assert trace._spool is not None and trace.lines() == expected  # readable mid-run
    trace.write(tmp_path / "trace.jsonl.gz")
    assert gzip.decompress((tmp_path / "trace.jsonl.gz").read_bytes()).decode().splitlines() == expected
    assert trace.lines() == expected
    assert trace.digest() == hashlib.sha256("".join(f"{line}\n" for line in expected).encode()).hexdigest()
