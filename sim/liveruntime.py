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

from ._kernel import Envelope, Mailbox, Pending, RuntimeBase, Task
from .effects import Block
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
        with self._cond:
            heapq.heappush(self._heap, (time.monotonic() + delay, next(self._seq), fn))
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
