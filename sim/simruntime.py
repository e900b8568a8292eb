"""SimRuntime: actors in simulated time on simpy, messages through the faulty ``Bus``.

Nothing here reads the wall clock or an unseeded random source: the same seed and the same code
give the same trace, byte for byte.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from heapq import heappush
from typing import Any

import simpy
from simpy.core import EventPriority
from simpy.events import Event

from ._kernel import Envelope, Mailbox, Pending, RuntimeBase, Task
from .bus import Bus, Link
from .effects import Block, Call
from .errors import Deadlock
from .schedule import DEFAULT, make


class _Wake(Event):
    """A bare scheduled callback: cheaper than a ``Timeout`` on the bus's hot path."""

    def __init__(self, env: simpy.Environment, callback: Callable[[Event], None]):
        self.env = env
        self.callbacks = [callback]
        self._ok = True
        self._value = None


# A call's timeout as its queue keeps it: due time, priority, heap sequence number, call id, call.
Timeout = tuple[float, EventPriority, int, int, Call]


class SimRuntime(RuntimeBase):
    """Deterministic runtime: ``run(until=...)`` advances simulated time; ``schedule`` names how
    events due at one instant are ordered (``sim.schedule``)."""

    def __init__(self, seed: int = 0, trace: bool = True, link: Link | None = None, schedule: str = DEFAULT):
        super().__init__(seed, trace)
        self.env = simpy.Environment()
        self.schedule = make(schedule, self.streams["schedule"])
        self.bus = Bus(self.streams["bus"], link, strict_fifo=schedule != DEFAULT)
        self._priority = self.schedule.priority
        # Call timeouts, one first-in first-out queue per timeout length: timeouts of one length
        # expire in the order they were set, so only each queue's head needs a heap event, and
        # a run's heap no longer holds one event per call in flight. Cancelled timeouts (the
        # reply came) are skipped when their queue's head moves past them.
        self._timeouts: dict[float, deque[Timeout]] = {}

    @property
    def now(self) -> float:
        return self.env.now

    def _post(self, mailbox: Mailbox, fn: Callable[[], None]) -> None:
        mailbox.execute(fn)

    def _post_forced(self, mailbox: Mailbox, fn: Callable[[], None]) -> None:
        fn()

    def _after(self, delay: float, mailbox: Mailbox | None, fn: Callable[[], None]) -> None:
        if delay < 0:
            raise ValueError(f"cannot schedule {delay} s in the past")
        env = self.env
        if mailbox is None:
            env.schedule(_Wake(env, lambda _: fn()), self._priority(None), delay)
        else:
            env.schedule(_Wake(env, lambda _: mailbox.execute(fn)), self._priority(mailbox.address), delay)

    def _set_timeout(self, call_id: int, effect: Call) -> None:
        """Queue the call's timeout behind those of its length. Each timeout keeps the heap key a
        heap event of its own would have had (due time, priority, sequence number, drawn as
        ``_after`` draws them), and its queue's wake-up is scheduled with that key, so timeouts
        fire at the same instants and in the same order among other events as one heap event
        each would: the trace is unchanged."""
        delay = effect.timeout
        if delay < 0:
            raise ValueError(f"cannot schedule {delay} s in the past")
        env = self.env
        timeout: Timeout = (env.now + delay, self._priority(None), next(env._eid), call_id, effect)
        queue = self._timeouts.get(delay)
        if queue is None:
            queue = self._timeouts[delay] = deque()
        if not queue:
            queue.append(timeout)
            self._wake_for(queue)
        elif timeout[:2] >= queue[-1][:2]:
            queue.append(timeout)
        else:  # a schedule that draws priorities put it before the last: not in order, on its own
            wake = _Wake(env, lambda _: self._call_timed_out(call_id, effect))
            heappush(env._queue, (timeout[0], timeout[1], timeout[2], wake))

    def _wake_for(self, queue: deque[Timeout]) -> None:
        """Schedule the wake-up of ``queue``'s head, with the head's own heap key."""
        due, priority, eid = queue[0][:3]
        heappush(self.env._queue, (due, priority, eid, _Wake(self.env, lambda _: self._expire(queue))))

    def _expire(self, queue: deque[Timeout]) -> None:
        """The head of ``queue`` is due: time its call out, and wake for the next live one. The
        last timeout of a queue is kept even when cancelled, so the heap's last event (where a run
        without an end stops) is where it was with one event per timeout."""
        _, _, _, call_id, effect = queue.popleft()
        pending = self._pending
        while len(queue) > 1 and queue[0][3] not in pending:
            queue.popleft()
        if queue:
            self._wake_for(queue)
        self._call_timed_out(call_id, effect)

    def _transmit(self, envelope: Envelope) -> None:
        trace = self.trace
        now = self.env.now
        if trace.enabled:
            trace.send(now, envelope)
        delays, reason = self.bus.plan(envelope.src, envelope.dst, now)
        if reason is not None:
            trace.record(now, "drop", id=envelope.id, reason=reason)
            return
        if len(delays) > 1:
            trace.record(now, "dup", id=envelope.id)
        arrive = self._arrive
        env = self.env
        actor = envelope.src  # a delivery is a step of its sender's (PCT orders senders)
        for delay in delays:
            env.schedule(_Wake(env, lambda _: arrive(envelope)), self._priority(actor), delay)

    def _start_block(self, task: Task, effect: Block) -> None:
        def complete() -> None:
            try:
                value = effect.fn(*effect.args)
            except Exception as exc:
                task.resume(None, exc)
            else:
                task.resume(value, None)

        self._after(effect.service_time, task.mailbox, complete)

    def run(self, until: float | None = None) -> None:
        """Advance simulated time to ``until`` (or until no event is left)."""
        self.env.run(until=until)

    def wait(self, pending: Pending, timeout: float | None = None) -> Any:
        """Run the simulation until ``pending`` is done; ``Deadlock`` if it never can be."""
        env = self.env
        deadline = None if timeout is None else env.now + timeout
        while not pending.done:
            if env.peek() == float("inf"):
                raise Deadlock("the simulation has no events left and the result is still pending")
            if deadline is not None and env.peek() > deadline:
                env.run(until=deadline)
                raise Deadlock(f"no result after {timeout} simulated seconds")
            env.step()
        return pending.unwrap()
