"""The kernel's contract, run on both runtimes: one body, two worlds."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Generator
from typing import Any

import pytest

from replisim.sim import (
    Actor,
    Address,
    Block,
    Call,
    Cast,
    Draw,
    InvalidEffect,
    LiveRuntime,
    Message,
    MessagingTimeout,
    Now,
    RemoteError,
    SimRuntime,
    Sleep,
    UnknownAddress,
    UnknownMethod,
)

Gen = Generator[Any, Any, Any]
WORKER = Address("worker", "w1")


class Worker(Actor):
    """A test actor whose handlers exercise each effect."""

    def __init__(self) -> None:
        self.notes: list[Any] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.closed = 0
        self.started = False

    def on_start(self) -> Gen:
        self.started = True
        yield Sleep(0)

    def echo(self, value: Any) -> Any:
        return value

    def note(self, value: Any) -> None:
        self.notes.append(value)

    def notes_so_far(self) -> list[Any]:
        return list(self.notes)

    def slow(self, seconds: float) -> Gen:
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            yield Sleep(seconds)
        finally:
            self.in_flight -= 1
        return seconds

    def hang(self) -> Gen:
        try:
            yield Sleep(3600)
        finally:
            self.closed += 1

    def fail(self, text: str) -> None:
        raise ValueError(text)

    def yields_junk(self) -> Gen:
        yield "not an effect"

    def blocking(self, value: int) -> Gen:
        result = yield Block(lambda v: v * 2, (value,), service_time=0.05)
        return result

    def blocking_fails(self) -> Gen:
        def explode() -> None:
            raise OSError("disk on fire")

        yield Block(explode, service_time=0.01)

    def forward(self, target: str, value: Any) -> Gen:
        return (yield Call(Address("worker", target), Message("echo", {"value": value}), 1.0))

    def burst(self, target: str, count: int) -> Gen:
        for i in range(count):
            yield Cast(Address("worker", target), Message("note", {"value": i}))

    def whoami(self) -> str:
        return str(self.address)


def run(runtime: SimRuntime | LiveRuntime, gen: Gen, timeout: float = 10.0) -> Any:
    return runtime.wait(runtime.submit(gen), timeout)


def test_call_returns_the_reply(runtime: SimRuntime | LiveRuntime) -> None:
    runtime.spawn(Worker(), WORKER)
    assert runtime.call(WORKER, Message("echo", {"value": {"a": [1, 2]}}), timeout=2) == {"a": [1, 2]}


def test_handlers_call_other_actors(runtime: SimRuntime | LiveRuntime) -> None:
    runtime.spawn(Worker(), WORKER)
    runtime.spawn(Worker(), Address("worker", "w2"))
    assert runtime.call(WORKER, Message("forward", {"target": "w2", "value": 9}), 3) == 9


def test_cast_is_delivered_without_reply(runtime: SimRuntime | LiveRuntime) -> None:
    runtime.spawn(Worker(), WORKER)

    def client() -> Gen:
        yield Cast(WORKER, Message("note", {"value": "hello"}))
        yield Sleep(0.1)
        return (yield Call(WORKER, Message("notes_so_far"), 2))

    assert run(runtime, client()) == ["hello"]


def test_call_times_out_and_the_callee_keeps_serving(runtime: SimRuntime | LiveRuntime) -> None:
    runtime.spawn(Worker(), WORKER)

    def client() -> Gen:
        start = yield Now()
        try:
            yield Call(WORKER, Message("slow", {"seconds": 5.0}), timeout=0.2)
        except MessagingTimeout as exc:
            waited = (yield Now()) - start
            echoed = yield Call(WORKER, Message("echo", {"value": "still here"}), 2)
            return str(exc), waited, echoed
        return None

    text, waited, echoed = run(runtime, client())
    assert "slow" in text and "worker.w1" in text and "0.2" in text
    assert 0.2 <= waited < 1.0
    assert echoed == "still here"


def test_callee_exception_travels_back_as_remote_error(runtime: SimRuntime | LiveRuntime) -> None:
    runtime.spawn(Worker(), WORKER)
    with pytest.raises(RemoteError) as info:
        runtime.call(WORKER, Message("fail", {"text": "broken disk"}), 2)
    assert isinstance(info.value.cause, ValueError)
    assert "broken disk" in str(info.value) and info.value.method == "fail"


def test_cast_exception_is_logged_and_traced(
    runtime: SimRuntime | LiveRuntime, caplog: pytest.LogCaptureFixture
) -> None:
    runtime.spawn(Worker(), WORKER)
    with caplog.at_level(logging.ERROR, logger="replisim.sim"):

        def client() -> Gen:
            yield Cast(WORKER, Message("fail", {"text": "cast went wrong"}))
            yield Sleep(0.1)

        run(runtime, client())
    assert "cast went wrong" in caplog.text and "worker.w1" in caplog.text
    errors = [r for r in runtime.trace.records if r["ev"] == "error"]
    assert errors and errors[0]["method"] == "fail"


def test_unknown_method_is_a_remote_error(runtime: SimRuntime | LiveRuntime) -> None:
    runtime.spawn(Worker(), WORKER)
    with pytest.raises(RemoteError) as info:
        runtime.call(WORKER, Message("no_such_handler"), 2)
    assert isinstance(info.value.cause, UnknownMethod)
    assert "no_such_handler" in str(info.value)


def test_unknown_address_names_sender_target_and_message(runtime: SimRuntime | LiveRuntime) -> None:
    with pytest.raises(UnknownAddress, match=r"client sent 'ping' to worker\.nowhere"):
        runtime.call(Address("worker", "nowhere"), Message("ping"), 1)


def test_yielding_a_non_effect_names_the_actor_and_message(runtime: SimRuntime | LiveRuntime) -> None:
    runtime.spawn(Worker(), WORKER)
    with pytest.raises(RemoteError) as info:
        runtime.call(WORKER, Message("yields_junk"), 2)
    assert isinstance(info.value.cause, InvalidEffect)
    assert "worker.w1" in str(info.value.cause) and "'yields_junk'" in str(info.value.cause)


def test_several_handlers_of_one_actor_run_at_once(runtime: SimRuntime | LiveRuntime) -> None:
    worker = runtime.spawn(Worker(), WORKER)
    assert isinstance(worker, Worker)

    def client() -> Gen:
        for _ in range(5):
            yield Cast(WORKER, Message("slow", {"seconds": 0.3}))
        yield Sleep(0.1)
        # the actor is still serving its inbox while five handlers sleep
        answer = yield Call(WORKER, Message("echo", {"value": "served"}), 2)
        yield Sleep(0.5)
        return answer

    assert run(runtime, client()) == "served"
    assert worker.max_in_flight == 5


def test_concurrency_limit_queues_the_rest(runtime: SimRuntime | LiveRuntime) -> None:
    worker = runtime.spawn(Worker(), WORKER, concurrency=2)
    assert isinstance(worker, Worker)

    def client() -> Gen:
        for _ in range(6):
            yield Cast(WORKER, Message("slow", {"seconds": 0.05}))
        yield Sleep(0.5)
        return (yield Call(WORKER, Message("notes_so_far"), 2))

    run(runtime, client())
    assert worker.max_in_flight == 2


def test_a_long_queue_of_handlers_that_fail_at_once_drains_without_recursion(
    runtime: SimRuntime | LiveRuntime,
) -> None:
    worker = runtime.spawn(Worker(), WORKER, concurrency=1)
    assert isinstance(worker, Worker)

    def client() -> Gen:
        yield Cast(WORKER, Message("slow", {"seconds": 0.2}))
        for i in range(3000):  # queued behind the slow one; each fails the moment it starts
            yield Cast(WORKER, Message("fail", {"text": f"bad {i}"}))
        yield Cast(WORKER, Message("note", {"value": "after"}))
        yield Sleep(1.0)
        return (yield Call(WORKER, Message("notes_so_far"), 5))

    assert run(runtime, client()) == ["after"]


def test_messages_between_two_actors_keep_their_order(runtime: SimRuntime | LiveRuntime) -> None:
    runtime.spawn(Worker(), WORKER)
    receiver = runtime.spawn(Worker(), Address("worker", "w2"))
    assert isinstance(receiver, Worker)

    def client() -> Gen:
        yield Call(WORKER, Message("burst", {"target": "w2", "count": 200}), 2)
        yield Sleep(0.3)
        return (yield Call(Address("worker", "w2"), Message("notes_so_far"), 2))

    assert run(runtime, client()) == list(range(200))


def test_topic_without_server_round_robins(runtime: SimRuntime | LiveRuntime) -> None:
    for name in ("w1", "w2", "w3"):
        runtime.spawn(Worker(), Address("worker", name))
    seen = [runtime.call(Address("worker"), Message("whoami"), 2) for _ in range(6)]
    assert seen == ["worker.w1", "worker.w2", "worker.w3"] * 2


def test_blocking_operation_returns_and_raises(runtime: SimRuntime | LiveRuntime) -> None:
    runtime.spawn(Worker(), WORKER)
    assert runtime.call(WORKER, Message("blocking", {"value": 21}), 2) == 42
    with pytest.raises(RemoteError) as info:
        runtime.call(WORKER, Message("blocking_fails"), 2)
    assert isinstance(info.value.cause, OSError)


def test_draws_come_from_the_seeded_stream(runtime: SimRuntime | LiveRuntime) -> None:
    def client() -> Gen:
        values = []
        for _ in range(3):
            values.append((yield Draw("workload", "randint", (0, 10**9))))
        return values

    expected = SimRuntime(seed=7).streams["workload"]
    assert run(runtime, client()) == [expected.randint(0, 10**9) for _ in range(3)]


def test_on_start_runs_when_spawned(runtime: SimRuntime | LiveRuntime) -> None:
    worker = runtime.spawn(Worker(), WORKER)
    runtime.call(WORKER, Message("echo", {"value": 1}), 2)
    assert isinstance(worker, Worker) and worker.started


def test_stop_closes_handlers_in_flight(runtime: SimRuntime | LiveRuntime) -> None:
    worker = runtime.spawn(Worker(), WORKER)
    assert isinstance(worker, Worker)

    def client() -> Gen:
        yield Cast(WORKER, Message("hang"))
        yield Sleep(0.1)

    run(runtime, client())
    runtime.stop()
    assert worker.closed == 1


def test_live_stop_leaves_no_thread_behind() -> None:
    before = set(threading.enumerate())
    rt = LiveRuntime(seed=1)
    for name in ("w1", "w2"):
        rt.spawn(Worker(), Address("worker", name))
    rt.call(WORKER, Message("blocking", {"value": 1}), 2)
    rt.call(WORKER, Message("forward", {"target": "w2", "value": 1}), 2)
    rt.stop()
    deadline = time.monotonic() + 5
    while set(threading.enumerate()) - before and time.monotonic() < deadline:
        time.sleep(0.01)
    assert set(threading.enumerate()) - before == set()


def test_sim_time_is_simulated() -> None:
    rt = SimRuntime(seed=1)
    rt.spawn(Worker(), WORKER)
    started = time.monotonic()
    assert rt.call(WORKER, Message("slow", {"seconds": 3600.0}), timeout=7200) == 3600.0
    assert rt.now == pytest.approx(3600.002)
    assert time.monotonic() - started < 1.0


def test_a_runtime_is_a_context_manager_that_stops_it_however_the_block_ends(runtime_kind: str) -> None:
    """``with LiveRuntime() as rt:`` is how a script ends: every actor thread is gone after the block,
    also when it raised."""
    from support.cluster import make_runtime

    before = {thread.ident for thread in threading.enumerate()}
    with make_runtime(runtime_kind, seed=1) as rt:
        rt.spawn(Worker(), Address("worker", "w1"))
        assert rt.call(Address("worker", "w1"), Message("echo", {"value": 3})) == 3
    with pytest.raises(KeyError), make_runtime(runtime_kind, seed=1) as failing:
        failing.spawn(Worker(), Address("worker", "w1"))
        raise KeyError("the block failed")
    deadline = time.monotonic() + 5
    while {t.ident for t in threading.enumerate() if t.is_alive()} - before and time.monotonic() < deadline:
        time.sleep(0.01)
    assert {t.name for t in threading.enumerate() if t.ident not in before} == set()
