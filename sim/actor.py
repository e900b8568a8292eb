"""The actor base class: public methods are handlers, looked up by the message's method name."""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any

from .effects import Address, Message
from .errors import UnknownMethod

Handler = Callable[..., Any]


class Actor:
    """Subclass and write handlers as public methods.

    A handler may be a generator that yields effects (see ``replisim.sim.effects``) and returns
    its reply, or a plain method whose return value is the reply. ``address`` is set by the
    runtime at spawn time.
    """

    address: Address

    def handler_for(self, message: Message) -> Handler:
        """The bound method that handles ``message``; override to check versions or route."""
        name = message.method
        handler = None
        if not name.startswith("_") and name not in _NOT_HANDLERS:
            handler = getattr(self, name, None)
        if not callable(handler):
            raise UnknownMethod(f"{type(self).__name__} at {self.address} has no handler {name!r}")
        return handler

    def on_start(self) -> Generator[Any, Any, Any] | None:
        """A task the runtime starts with the actor (periodic loops, recovery); none by default."""
        return None


_NOT_HANDLERS = frozenset(name for name in vars(Actor) if not name.startswith("_"))
