"""The effects a handler yields, and the addresses and messages they carry.

A handler is a generator: it yields one of these plain values and receives the result (or has the
error thrown into it). Both runtimes interpret the same values, so a handler never touches simpy,
pykka, threads or the clock directly. They are values: never mutate one after creating it (they
are not frozen only because frozen dataclasses cost a third more to build on the hot path).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple


class Address(NamedTuple):
    """Where a message goes, as Cinder's RPC names it: a topic and, optionally, one server.

    ``Address("cinder-volume", "host@backend")`` names one volume manager; ``Address("cinder-scheduler")``
    reaches one of the topic's servers, chosen round robin. A named tuple: it is hashed on
    every message, and tuples hash in C.
    """

    topic: str
    server: str | None = None

    def __str__(self) -> str:
        return self.topic if self.server is None else f"{self.topic}.{self.server}"


@dataclass(slots=True)
class Message:
    """A request: the handler's name, its keyword arguments and the RPC API version it speaks."""

    method: str
    args: Mapping[str, Any] = field(default_factory=dict)
    version: str | None = None


@dataclass(slots=True)
class Call:
    """Send ``message`` to ``target`` and wait for its reply; ``MessagingTimeout`` after ``timeout`` s."""

    target: Address
    message: Message
    timeout: float = 60.0


@dataclass(slots=True)
class Cast:
    """Send ``message`` to ``target`` and go on at once; nobody hears whether it arrived."""

    target: Address
    message: Message


@dataclass(slots=True)
class Sleep:
    """Let ``seconds`` of (simulated or wall-clock) time pass."""

    seconds: float


@dataclass(slots=True)
class Now:
    """The current time in seconds since the runtime started."""


DRAW_METHODS = frozenset(
    {
        "random",
        "uniform",
        "expovariate",
        "lognormvariate",
        "gauss",
        "randint",
        "choice",
        "getrandbits",
        "sample",
        "shuffle",
        "paretovariate",
        "weibullvariate",
    }
)


@dataclass(slots=True)
class Draw:
    """A draw from the named random stream, e.g. ``Draw("workload", "expovariate", (2.0,))``."""

    stream: str
    method: str
    args: tuple[Any, ...] = ()


@dataclass(slots=True)
class Block:
    """A blocking operation (a driver call): ``fn(*args)`` completes after ``service_time`` seconds.

    In sim the function runs when the service time has elapsed, so its effects appear at
    completion; live, it runs on a worker thread and takes as long as it takes.
    """

    fn: Callable[..., Any]
    args: tuple[Any, ...] = ()
    service_time: float = 0.0


EFFECT_TYPES = (Call, Cast, Sleep, Now, Draw, Block)


class _NoReply:
    """What a call handler returns to send no reply: another delivery of the same request is
    answering it (a handler deduplicating a redelivered call)."""

    def __repr__(self) -> str:
        return "NO_REPLY"


NO_REPLY = _NoReply()
