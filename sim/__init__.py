"""The actor kernel: effects, actors, the simulated bus and the two runtimes that run them.

Handlers are written once, as generators yielding effects; ``SimRuntime`` runs them in
deterministic simulated time and ``LiveRuntime`` on pykka threads in wall-clock time.
"""

from .actor import Actor
from .bus import Bus, Constant, Link, LogNormal, Uniform
from .effects import NO_REPLY, Address, Block, Call, Cast, Draw, Message, Now, Sleep
from .errors import (
    Deadlock,
    InvalidEffect,
    KernelError,
    MessagingTimeout,
    RemoteError,
    UnknownAddress,
    UnknownMethod,
)
from .liveruntime import LiveRuntime
from .simruntime import SimRuntime
from .streams import Streams
from .trace import Trace

Runtime = SimRuntime | LiveRuntime

__all__ = [
    "NO_REPLY",
    "Actor",
    "Address",
    "Block",
    "Bus",
    "Call",
    "Cast",
    "Constant",
    "Deadlock",
    "Draw",
    "InvalidEffect",
    "KernelError",
    "Link",
    "LiveRuntime",
    "LogNormal",
    "Message",
    "MessagingTimeout",
    "Now",
    "RemoteError",
    "Runtime",
    "SimRuntime",
    "Sleep",
    "Streams",
    "Trace",
    "Uniform",
    "UnknownAddress",
    "UnknownMethod",
]
