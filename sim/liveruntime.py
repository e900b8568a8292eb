"""LiveRuntime: the same actors on pykka threads, in wall-clock time.

Each actor is a pykka actor whose thread only ever steps handler generators; waiting (replies,
timers, blocking driver calls) happens elsewhere and comes back as a message to that thread. So
an actor with handlers in flight keeps serving its inbox, and its state is touched by one thread.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import pykka

from ._kernel import CLIENT, Envelope, Mailbox, Pending, RuntimeBase, Task
from .effects import Address, Block, Message
from .errors import MessagingTimeout

LOG = logging.getLogger("replisim.sim")


class _Shell(pykka.ThreadingActor):
    """The pykka actor behind a mailbox: every message it gets is a callable to run."""

    def on_receive(self, message: Any) -> None:
        try:
            message()
        except Exception:  # a kernel bug must not stop the actor thread
            LOG.exception("unexpected error in the live runtime")


class _Timers:
    """One thread that runs callables at wall-clock deadlines."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._stopped = False
        self._thread = threading.Thread(target=self._loop, name="replisim-timers", daemon=True)
        self._thread.start()

    def after(self, delay: float, fn: Callable[[], None]) -> None:
        entry = (time.monotonic() + delay, next(self._seq), fn)
        with self._cond:
            heapq.heappush(self._heap, entry)
            # Wake the loop only when its wait must end sooner: every call's timeout is a timer,
            # nearly always later than the earliest, and a wake-up per call is a thread switch.
            if self._heap[0] is entry:
                self._cond.notify()

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._stopped and (not self._heap or self._heap[0][0] > time.monotonic()):
                    timeout = self._heap[0][0] - time.monotonic() if self._heap else None
                    self._cond.wait(timeout)
                if self._stopped:
                    return
                _, _, fn = heapq.heappop(self._heap)
            try:
                fn()
            except Exception:
                LOG.exception("timer callback failed")

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify()
        self._thread.join()


class _Waiter:
    """A thread outside the actors waiting for the reply to its ``LiveRuntime.call``; stands in for
    the waiting task in the runtime's table of calls in flight (``resume`` is what a reply calls)."""

    __slots__ = ("error", "settled", "value")

    def __init__(self) -> None:
        self.settled = threading.Event()
        self.value: Any = None
        self.error: BaseException | None = None

    def resume(self, value: Any, error: BaseException | None) -> None:
        self.value, self.error = value, error
        self.settled.set()


class LiveRuntime(RuntimeBase):
    """Wall-clock runtime; ``stop()`` ends every thread it started."""

    def __init__(self, seed: int = 0, trace: bool = True, block_workers: int = 32):
        self._shells: dict[Mailbox, pykka.ActorRef[Any]] = {}
        self._t0 = time.monotonic()
        self._timers = _Timers()
        self._executor = ThreadPoolExecutor(max_workers=block_workers, thread_name_prefix="replisim-block")
        self._stopped = False
        super().__init__(seed, trace, threads=True)

    @property
    def now(self) -> float:
        return time.monotonic() - self._t0

    def _register(self, actor: Any, address: Any, limit: int | None) -> Mailbox:
        mailbox = super()._register(actor, address, limit)
        self._shells[mailbox] = _Shell.start()
        return mailbox

    def _post(self, mailbox: Mailbox, fn: Callable[[], None]) -> None:
        if not self._stopped:
            self._shells[mailbox].tell(lambda: mailbox.execute(fn))

    def _post_forced(self, mailbox: Mailbox, fn: Callable[[], None]) -> None:
        if not self._stopped:
            self._shells[mailbox].tell(fn)

    def _after(self, delay: float, mailbox: Mailbox | None, fn: Callable[[], None]) -> None:
        if delay < 0:
            raise ValueError(f"cannot schedule {delay} s in the past")
        if mailbox is None:
            self._timers.after(delay, fn)
        elif delay == 0:  # straight into the inbox: ahead of anything sent after (on_start first)
            self._post(mailbox, fn)
        else:
            self._timers.after(delay, lambda: self._post(mailbox, fn))

    def _transmit(self, envelope: Envelope) -> None:
        if self.trace.enabled:
            self.trace.send(self.now, envelope)
        mailbox = self._mailboxes.get(envelope.dst)
        if mailbox is None or self._stopped:
            self.trace.record(self.now, "drop", id=envelope.id, reason="gone")
            return
        if envelope.kind == "reply" and envelope.dst == CLIENT:
            entry = self._pending.get(envelope.call_id)
            if entry is not None and type(entry[0]) is _Waiter:
                # the answer to a thread blocked in ``call``: handed over here, on the replier's
                # thread; no actor's state is touched, so no actor thread need carry it
                self._arrive(envelope)
                return
        self._shells[mailbox].tell(lambda: self._arrive(envelope))

    def _start_block(self, task: Task, effect: Block) -> None:
        future = self._executor.submit(effect.fn, *effect.args)

        def done(f: Future[Any]) -> None:
            if f.cancelled():  # the runtime stopped before the worker began it
                return
            error = f.exception()
            value = None if error is not None else f.result()
            self._post(task.mailbox, lambda: task.resume(value, error))

        future.add_done_callback(done)

    def run(self, until: float | None = None) -> None:
        """Let wall-clock time pass until ``until`` seconds since start."""
        if until is not None:
            time.sleep(max(0.0, until - self.now))

    def call(self, target: Address, message: Message, timeout: float = 60.0) -> Any:
        """Call an actor from this (non-actor) thread and block until its reply, or raise
        ``MessagingTimeout`` after ``timeout`` seconds, as a client task's ``Call`` would; but the
        request leaves from this thread and the reply is handed straight back to it, rather than
        each crossing the client's actor thread, and the wait is its own timer."""
        call_id = self.next_id()
        waiter = _Waiter()
        self._pending[call_id] = (waiter, self._client)  # type: ignore[assignment]
        try:
            self._send(CLIENT, target, "call", message, call_id)
        except BaseException:
            self._pending.pop(call_id, None)
            raise
        if not waiter.settled.wait(timeout):
            if self._pending.pop(call_id, None) is not None:
                self.trace.record(
                    self.now,
                    "timeout",
                    actor=str(CLIENT),
                    call=call_id,
                    method=message.method,
                    target=str(target),
                )
                raise MessagingTimeout(
                    f"{CLIENT} got no reply from {target} to {message.method!r} within {timeout} s"
                )
            waiter.settled.wait()  # the reply won the race with the timeout: it is being handed over
        if waiter.error is not None:
            raise waiter.error
        return waiter.value

    def wait(self, pending: Pending, timeout: float | None = None) -> Any:
        if not pending.settle(timeout):
            raise MessagingTimeout(f"no result within {timeout} s")
        return pending.unwrap()

    def stop(self) -> None:
        """Stop timers, workers and every actor thread, and wait for them to end."""
        if self._stopped:
            return
        self._stopped = True
        self._timers.stop()
        for ref in self._shells.values():
            ref.stop(block=False)
        for ref in self._shells.values():
            ref.actor_stopped.wait(5.0)
        super().stop()
        self._executor.shutdown(wait=True, cancel_futures=True)
