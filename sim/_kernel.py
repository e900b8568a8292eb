"""What both runtimes share: envelopes, mailboxes, the handler trampoline and the registry.

A runtime only has to say how time passes and how work reaches an actor's context
(``_post``, ``_transmit``, ``_after``, ``_start_block``); everything else is written once here.
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections import deque
from collections.abc import Callable, Generator
from dataclasses import dataclass
from types import GeneratorType
from typing import Any, Self

from .actor import Actor
from .effects import DRAW_METHODS, NO_REPLY, Address, Block, Call, Cast, Draw, Message, Now, Sleep
from .errors import InvalidEffect, KernelError, MessagingTimeout, RemoteError, UnknownAddress
from .streams import Streams
from .trace import Trace

LOG = logging.getLogger("replisim.sim")

CLIENT = Address("client")
DEFAULT_CONCURRENCY = 64  # Cinder's default executor_thread_pool_size


@dataclass(slots=True)
class Envelope:
    """One message on the wire: a cast, a call, or the reply to a call."""

    id: int
    kind: str  # "cast" | "call" | "reply"
    src: Address
    dst: Address
    message: Message | None = None
    call_id: int = 0
    value: Any = None
    error: BaseException | None = None

    def describe(self) -> str:
        return self.message.method if self.message is not None else f"reply:{self.call_id}"


class Mailbox:
    """An actor's inbox: pause, the concurrency limit and the queue behind it."""

    def __init__(self, runtime: RuntimeBase, actor: Actor | None, address: Address, limit: int | None):
        self.runtime = runtime
        self.actor = actor
        self.address = address
        self.limit = limit if limit is not None else 1 << 30
        self.in_flight = 0
        self.queue: deque[Envelope] = deque()
        self.paused = False
        self.deferred: list[Callable[[], None]] = []
        self.tasks: set[Task] = set()
        self.draining = False  # keeps a run of handlers that fail at once from nesting start()

    def execute(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` in this actor's context now, or once it is resumed."""
        if self.paused:
            self.deferred.append(fn)
        else:
            fn()

    def resume(self) -> None:
        self.paused = False
        pending, self.deferred = self.deferred, []
        for fn in pending:
            self.execute(fn)

    def accept(self, envelope: Envelope) -> None:
        if self.in_flight < self.limit:
            self.start(envelope)
        else:
            self.queue.append(envelope)

    def start(self, envelope: Envelope) -> None:
        message = envelope.message
        assert message is not None and self.actor is not None
        self.in_flight += 1
        try:
            result = self.actor.handler_for(message)(**message.args)
        except Exception as exc:
            self.finished(envelope, None, exc)
            return
        if type(result) is GeneratorType:
            Task(self.runtime, self, result, envelope).resume(None, None)
        else:
            self.finished(envelope, result, None)

    def label(self, envelope: Envelope | None) -> str:
        """How errors name a handler: the actor's address and the message's method."""
        what = envelope.describe() if envelope is not None else "on_start"
        return f"actor {self.address} handling {what!r}"

    def finished(self, envelope: Envelope | None, value: Any, error: BaseException | None) -> None:
        rt = self.runtime
        if envelope is not None:
            self.in_flight -= 1
            if error is not None:
                rt.trace.record(
                    rt.now,
                    "error",
                    actor=str(self.address),
                    method=envelope.describe(),
                    error=f"{type(error).__name__}: {error}",
                )
                if envelope.kind == "cast":
                    LOG.error("%s failed: %s: %s", self.label(envelope), type(error).__name__, error)
            if envelope.kind == "call" and value is not NO_REPLY:
                remote = RemoteError(str(self.address), envelope.describe(), error) if error else None
                rt._transmit(
                    Envelope(
                        rt.next_id(),
                        "reply",
                        self.address,
                        envelope.src,
                        call_id=envelope.call_id,
                        value=value,
                        error=remote,
                    )
                )
            if self.draining:  # a handler that finished inside start(): the outer loop goes on
                return
            self.draining = True
            try:
                while self.queue and self.in_flight < self.limit and not self.paused:
                    self.start(self.queue.popleft())
            finally:
                self.draining = False


class Task:
    """Steps one handler generator, interpreting the effects it yields."""

    __slots__ = ("envelope", "gen", "mailbox", "on_done", "runtime")

    def __init__(
        self,
        runtime: RuntimeBase,
        mailbox: Mailbox,
        gen: Generator[Any, Any, Any],
        envelope: Envelope | None,
        on_done: Callable[[Any, BaseException | None], None] | None = None,
    ):
        self.runtime = runtime
        self.mailbox = mailbox
        self.gen = gen
        self.envelope = envelope
        self.on_done = on_done
        mailbox.tasks.add(self)

    def resume(self, value: Any, error: BaseException | None) -> None:
        if self not in self.mailbox.tasks:  # abandoned by a restart: its process is gone
            return
        rt = self.runtime
        gen = self.gen
        while True:
            try:
                effect = gen.send(value) if error is None else gen.throw(error)
            except StopIteration as stop:
                self._finish(stop.value, None)
                return
            except Exception as exc:
                self._finish(None, exc)
                return
            value, error = None, None
            kind = type(effect)
            if kind is Cast:
                try:
                    rt._send(self.mailbox.address, effect.target, "cast", effect.message)
                except KernelError as exc:
                    error = exc
            elif kind is Now:
                value = rt.now
            elif kind is Call:
                try:
                    rt._start_call(self, effect)
                    return
                except KernelError as exc:
                    error = exc
            elif kind is Sleep:
                rt._after(effect.seconds, self.mailbox, self._resumer(None, None))
                return
            elif kind is Block:
                rt._start_block(self, effect)
                return
            elif kind is Draw:
                try:
                    value = rt._draw(effect)
                except (ValueError, TypeError, IndexError) as exc:
                    error = exc
            else:
                where = self.mailbox.label(self.envelope)
                error = InvalidEffect(
                    f"{where} yielded {effect!r} ({type(effect).__name__}), which is not an effect; "
                    "yield Call, Cast, Sleep, Now, Draw or Block"
                )

    def _resumer(self, value: Any, error: BaseException | None) -> Callable[[], None]:
        return lambda: self.resume(value, error)

    def _finish(self, value: Any, error: BaseException | None) -> None:
        self.mailbox.tasks.discard(self)
        if self.on_done is not None:
            self.on_done(value, error)
        else:
            self.mailbox.finished(self.envelope, value, error)


class Pending:
    """The result of work submitted from outside the actors (``RuntimeBase.submit``)."""

    def __init__(self) -> None:
        self.done = False
        self.value: Any = None
        self.error: BaseException | None = None
        # A thread waiting live sleeps on this until the result is set, rather than polling.
        self._settled = threading.Event()

    def _set(self, value: Any, error: BaseException | None) -> None:
        self.value, self.error, self.done = value, error, True
        self._settled.set()

    def settle(self, timeout: float | None) -> bool:
        """Block this thread until the result is set (True) or ``timeout`` seconds pass (False)."""
        return self._settled.wait(timeout)

    def unwrap(self) -> Any:
        if self.error is not None:
            raise self.error
        return self.value


class RuntimeBase:
    """Registry, addressing, random streams and trace; subclasses supply time and transport."""

    def __init__(self, seed: int = 0, trace: bool = True, *, threads: bool = False):
        self.seed = seed
        self.streams = Streams(seed)
        self.trace = Trace(enabled=trace, threadsafe=threads)  # threads: actors record from their own
        self._mailboxes: dict[Address, Mailbox] = {}
        self._servers: dict[str, list[str]] = {}
        self._round_robin: dict[str, itertools.count[int]] = {}
        self._ids = itertools.count(1)
        self._pending: dict[int, tuple[Task, Mailbox]] = {}
        self._lock = threading.Lock()
        self._client = self._register(None, CLIENT, None)

    # -- time and transport, per runtime ---------------------------------------------------------

    @property
    def now(self) -> float:
        raise NotImplementedError

    def _post(self, mailbox: Mailbox, fn: Callable[[], None]) -> None:
        """Run ``fn`` in ``mailbox``'s actor context (honouring pause)."""
        raise NotImplementedError

    def _transmit(self, envelope: Envelope) -> None:
        raise NotImplementedError

    def _after(self, delay: float, mailbox: Mailbox | None, fn: Callable[[], None]) -> None:
        """Run ``fn`` after ``delay`` seconds: in ``mailbox``'s context, or anywhere if None."""
        raise NotImplementedError

    def _start_block(self, task: Task, effect: Block) -> None:
        raise NotImplementedError

    # -- registry ---------------------------------------------------------------------------------

    def _register(self, actor: Actor | None, address: Address, limit: int | None) -> Mailbox:
        if address in self._mailboxes:
            raise ValueError(f"an actor is already registered at {address}")
        mailbox = Mailbox(self, actor, address, limit)
        self._mailboxes[address] = mailbox
        if address.server is not None and actor is not None:
            self._servers.setdefault(address.topic, []).append(address.server)
            self._servers[address.topic].sort()
        return mailbox

    def spawn(self, actor: Actor, address: Address, concurrency: int | None = DEFAULT_CONCURRENCY) -> Actor:
        """Register ``actor`` at ``address``; at most ``concurrency`` handlers run at once."""
        if address.server is None:
            raise ValueError(f"spawn needs a full address (topic and server), got {address}")
        actor.address = address
        mailbox = self._register(actor, address, concurrency)
        self._after(0.0, mailbox, lambda: self._start_on_start(mailbox))
        return actor

    def _start_on_start(self, mailbox: Mailbox) -> None:
        assert mailbox.actor is not None
        gen = mailbox.actor.on_start()
        if gen is None:
            return

        def done(value: Any, error: BaseException | None) -> None:
            if error is not None:
                self.trace.record(
                    self.now,
                    "error",
                    actor=str(mailbox.address),
                    method="on_start",
                    error=f"{type(error).__name__}: {error}",
                )
                LOG.error("%s failed: %s: %s", mailbox.label(None), type(error).__name__, error)

        Task(self, mailbox, gen, None, done).resume(None, None)

    def resolve(self, target: Address) -> Address:
        """The concrete address a message to ``target`` goes to (round robin over a topic)."""
        if target.server is not None:
            if target not in self._mailboxes:
                raise UnknownAddress(f"no actor is registered at {target}")
            return target
        servers = self._servers.get(target.topic)
        if not servers:
            raise UnknownAddress(f"no actor serves topic {target.topic!r}")
        with self._lock:
            counter = self._round_robin.setdefault(target.topic, itertools.count())
            index = next(counter)
        return Address(target.topic, servers[index % len(servers)])

    def next_id(self) -> int:
        return next(self._ids)

    def actor(self, address: Address) -> Actor:
        """The actor object registered at ``address`` (for inspection in tests and reports)."""
        actor = self._mailboxes[address].actor
        if actor is None:
            raise UnknownAddress(f"no actor is registered at {address}")
        return actor

    # -- messaging ------------------------------------------------------------------------------

    def _send(self, src: Address, target: Address, kind: str, message: Message, call_id: int = 0) -> None:
        if target.server is not None and target in self._mailboxes:
            dst = target
        else:
            try:
                dst = self.resolve(target)
            except UnknownAddress as exc:
                raise UnknownAddress(f"{src} sent {message.method!r} to {target}: {exc}") from None
        self._transmit(Envelope(next(self._ids), kind, src, dst, message, call_id))

    def _start_call(self, task: Task, effect: Call) -> None:
        call_id = self.next_id()
        self._send(task.mailbox.address, effect.target, "call", effect.message, call_id)
        self._pending[call_id] = (task, task.mailbox)
        self._set_timeout(call_id, effect)

    def _set_timeout(self, call_id: int, effect: Call) -> None:
        """Time the call out after ``effect.timeout`` s unless its reply has arrived by then."""
        self._after(effect.timeout, None, lambda: self._call_timed_out(call_id, effect))

    def _call_timed_out(self, call_id: int, effect: Call) -> None:
        entry = self._pending.pop(call_id, None)
        if entry is None:
            return
        task, mailbox = entry
        self.trace.record(
            self.now,
            "timeout",
            actor=str(mailbox.address),
            call=call_id,
            method=effect.message.method,
            target=str(effect.target),
        )
        error = MessagingTimeout(
            f"{mailbox.address} got no reply from {effect.target} to "
            f"{effect.message.method!r} within {effect.timeout} s"
        )
        self._post(mailbox, lambda: task.resume(None, error))

    def _arrive(self, envelope: Envelope) -> None:
        """An envelope reached its destination: run it in the destination's context."""
        mailbox = self._mailboxes.get(envelope.dst)
        if mailbox is None:
            self.trace.record(self.now, "drop", id=envelope.id, reason="gone", dst=str(envelope.dst))
            return
        if envelope.kind == "reply":
            mailbox.execute(lambda: self._reply_arrived(envelope))
        else:
            if self.trace.enabled:
                self.trace.deliver(self.now, envelope)
            if mailbox.paused:
                mailbox.deferred.append(lambda: mailbox.accept(envelope))
            else:
                mailbox.accept(envelope)

    def _reply_arrived(self, envelope: Envelope) -> None:
        entry = self._pending.pop(envelope.call_id, None)
        if entry is None:
            self.trace.record(self.now, "late-reply", id=envelope.id, call=envelope.call_id)
            return
        if self.trace.enabled:
            self.trace.reply(self.now, envelope)
        entry[0].resume(envelope.value, envelope.error)

    def _draw(self, effect: Draw) -> Any:
        if effect.method not in DRAW_METHODS:
            raise ValueError(f"Draw method {effect.method!r} is not one of {sorted(DRAW_METHODS)}")
        return getattr(self.streams[effect.stream], effect.method)(*effect.args)

    # -- the outside world ------------------------------------------------------------------------

    def submit(self, gen: Generator[Any, Any, Any]) -> Pending:
        """Run a generator of effects as a client (not an actor); returns its ``Pending`` result."""
        pending = Pending()
        self._post(self._client, lambda: Task(self, self._client, gen, None, pending._set).resume(None, None))
        return pending

    def wait(self, pending: Pending, timeout: float | None = None) -> Any:
        """Block (or, in sim, run the clock) until ``pending`` is done; return or raise its result."""
        raise NotImplementedError

    def call(self, target: Address, message: Message, timeout: float = 60.0) -> Any:
        """Call an actor from outside and wait for its reply."""

        def client() -> Generator[Any, Any, Any]:
            return (yield Call(target, message, timeout))

        return self.wait(self.submit(client()), timeout + 5.0)

    def cast(self, target: Address, message: Message) -> None:
        """Cast to an actor from outside."""
        self._send(CLIENT, target, "cast", message)

    def pause(self, address: Address) -> None:
        """Stop serving ``address``'s inbox (a SIGSTOP'd process); messages wait for ``unpause``."""
        self._mailboxes[self.resolve(address)].paused = True

    def paused(self, address: Address) -> bool:
        return self._mailboxes[self.resolve(address)].paused

    def unpause(self, address: Address) -> None:
        mailbox = self._mailboxes[self.resolve(address)]
        self._post_forced(mailbox, mailbox.resume)

    def restart(self, address: Address, actor: Actor) -> None:
        """Kill the actor at ``address`` and start ``actor`` in its place, as a crashed process
        comes back: handlers in flight are abandoned (their callers time out), queued messages are
        lost, and the new actor's ``on_start`` runs."""
        mailbox = self._mailboxes[self.resolve(address)]

        def swap() -> None:
            for task in list(mailbox.tasks):
                mailbox.tasks.discard(task)
                task.gen.close()
            mailbox.queue.clear()
            mailbox.deferred.clear()
            mailbox.in_flight = 0
            mailbox.paused = False
            actor.address = mailbox.address
            mailbox.actor = actor
            self.trace.record(self.now, "restart", actor=str(mailbox.address))
            self._start_on_start(mailbox)

        self._post_forced(mailbox, swap)

    def _post_forced(self, mailbox: Mailbox, fn: Callable[[], None]) -> None:
        """Like ``_post`` but runs even while the mailbox is paused."""
        raise NotImplementedError

    def at(self, delay: float, fn: Callable[[], None]) -> None:
        """Run the plain callable ``fn`` after ``delay`` seconds (how fault schedules act)."""
        self._after(delay, None, fn)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        """``with LiveRuntime() as rt:`` stops its threads however the block ends, so a script exits."""
        self.stop()

    def stop(self) -> None:
        """Close every handler in flight; live runtimes also stop their threads."""
        for mailbox in self._mailboxes.values():
            for task in list(mailbox.tasks):
                task.gen.close()
            mailbox.tasks.clear()
