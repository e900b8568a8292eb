"""The driver host's memory of answers: a redelivered call is answered once from memory while its
caller still waits, never run twice, and the answer is let go once the caller has stopped waiting
(a host kept 4,096 answers, and one backend's replication report is thousands of rows: at 100,000
volumes that was most of a run's memory)."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Generator
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from replisim.actors.driverhost import DriverHost
from replisim.actors.idempotency import ANSWERED, RecentRequests
from replisim.sim import NO_REPLY, Address, Call, Message, SimRuntime

HOST = Address("cinder-driver", "node@alpha")


class Report:
    """An answer that a test can watch die (a list cannot be weakly referenced)."""


class CountingDriver:
    def __init__(self) -> None:
        self.runs = 0
        self.answers: list[weakref.ref[Report]] = []

    def get_replication_updates(self, context: Any = None) -> Report:
        self.runs += 1
        report = Report()
        self.answers.append(weakref.ref(report))
        return report


def _invoke(runtime: SimRuntime, call_id: str, timeout: float) -> Any:
    def client() -> Generator[Any, Any, Any]:
        message = Message(
            "invoke",
            {"operation": "get_replication_updates", "args": {}, "call_id": call_id, "timeout": timeout},
        )
        return (yield Call(HOST, message, timeout))

    return runtime.wait(runtime.submit(client()), timeout + 5)


def test_a_redelivery_within_the_timeout_is_answered_from_memory_and_runs_nothing() -> None:
    runtime = SimRuntime(seed=1)
    driver = CountingDriver()
    runtime.spawn(DriverHost(driver), HOST)
    first = _invoke(runtime, "c1", timeout=60.0)
    assert _invoke(runtime, "c1", timeout=60.0) is first
    assert driver.runs == 1


def test_an_answer_is_let_go_once_its_caller_stopped_waiting_and_the_call_still_never_reruns() -> None:
    runtime = SimRuntime(seed=1)
    driver = CountingDriver()
    host = DriverHost(driver)
    runtime.spawn(host, HOST)
    _invoke(runtime, "c1", timeout=30.0)
    runtime.run(until=runtime.now + 31.0)
    _invoke(runtime, "c2", timeout=30.0)  # any later call lets the expired answers go
    gc.collect()
    assert driver.answers[0]() is None, "the host still holds an answer no caller can take"
    assert driver.answers[1]() is not None  # c2's caller could still be waiting for a redelivery
    assert host.calls.result("c1") is ANSWERED

    def redelivered() -> Generator[Any, Any, Any]:
        return (yield from host.invoke("get_replication_updates", {}, "c1", 30.0))

    gen = redelivered()
    assert next(gen) is not None  # asks the time
    try:
        gen.send(runtime.now)
    except StopIteration as stop:
        assert stop.value is NO_REPLY
    assert driver.runs == 2  # c1 never ran again


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.floats(0, 100), st.floats(0, 50), st.booleans()),
        min_size=1,
        max_size=60,
    )
)
def test_recent_requests_keep_an_answer_exactly_until_its_time(
    calls: list[tuple[float, float, bool]],
) -> None:
    """Whatever the order of arrivals and timeouts: every answer still due is there, no answer
    past its time is, and no id is forgotten (within the size)."""
    memory = RecentRequests()
    now = 0.0
    due: dict[str, float] = {}
    for index, (gap, timeout, kept) in enumerate(calls):
        now += gap
        memory.forget_answers(now)
        request_id = f"r{index}"
        assert memory.first(request_id)
        memory.finish(request_id, ("answer", index), now + timeout if kept else None)
        due[request_id] = now + timeout if kept else float("inf")
    memory.forget_answers(now)
    for request_id, until in due.items():
        assert not memory.first(request_id)  # never run twice
        outcome = memory.result(request_id)
        expected = ("answer", int(request_id[1:])) if until >= now else ANSWERED
        assert outcome == expected, (request_id, until, now)
