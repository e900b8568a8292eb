"""Call timeouts kept in one queue per length fire exactly as one heap event per timeout would:
at the same instants, in the same order among every other event, under every schedule."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from replisim.sim import Actor, Address, Call, Message, MessagingTimeout, Now, SimRuntime, Sleep
from replisim.sim._kernel import RuntimeBase

Gen = Generator[Any, Any, Any]
SLOW = Address("slow", "s1")


class HeapTimeouts(SimRuntime):
    """The runtime as it was: every call's timeout its own heap event."""

    _set_timeout = RuntimeBase._set_timeout


class Slow(Actor):
    """Answers after ``delay`` simulated seconds."""

    def answer(self, delay: float) -> Gen:
        yield Sleep(delay)
        return delay


# (start after s, timeout s, reply after s): timeouts from a few lengths, so queues share them
calls = st.lists(
    st.tuples(
        st.sampled_from([0.0, 0.5, 1.0, 1.5, 3.0]),
        st.sampled_from([0.0, 1.0, 2.0, 2.5]),
        st.sampled_from([0.0, 0.5, 1.0, 2.0, 2.5, 4.0]),
    ),
    max_size=30,
)


def run(runtime_class: type[SimRuntime], schedule: str, plan: list[tuple[float, float, float]]) -> Any:
    runtime = runtime_class(seed=3, schedule=schedule)
    runtime.spawn(Slow(), SLOW)
    seen: list[tuple[int, float, str]] = []

    def client(index: int, start: float, timeout: float, reply: float) -> Gen:
        yield Sleep(start)
        try:
            value = yield Call(SLOW, Message("answer", {"delay": reply}), timeout)
        except MessagingTimeout:
            value = "timeout"
        seen.append((index, (yield Now()), str(value)))

    for index, (start, timeout, reply) in enumerate(plan):
        runtime.submit(client(index, start, timeout, reply))
    runtime.run()
    return seen, runtime.now, runtime.trace.digest()


@settings(max_examples=150, deadline=None)
@given(plan=calls, schedule=st.sampled_from(["fifo", "random", "pct"]))
def test_timeout_queues_fire_in_the_order_and_at_the_times_a_heap_would(
    plan: list[tuple[float, float, float]], schedule: str
) -> None:
    assert run(SimRuntime, schedule, plan) == run(HeapTimeouts, schedule, plan)


def test_a_cancelled_timeout_at_a_queue_tail_still_ends_an_endless_run_where_it_did() -> None:
    plan = [(0.0, 5.0, 0.0), (0.0, 5.0, 0.0), (1.0, 5.0, 0.5)]
    queued, heaped = run(SimRuntime, "fifo", plan), run(HeapTimeouts, "fifo", plan)
    assert queued == heaped
    assert queued[1] == 6.0  # the last (cancelled) timeout's instant
