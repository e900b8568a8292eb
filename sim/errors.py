"""Errors the kernel raises into handlers and callers."""

from __future__ import annotations


class KernelError(Exception):
    """Base of every error that the kernel itself raises."""


class MessagingTimeout(KernelError):
    """A call got no reply in time (oslo.messaging's name). The callee may or may not have acted."""


class UnknownAddress(KernelError):
    """No actor is registered under the address a message was sent to."""


class UnknownMethod(KernelError):
    """The addressed actor has no handler for the message's method."""


class InvalidEffect(KernelError):
    """A handler yielded something that is not an effect."""


class Deadlock(KernelError):
    """The simulation ran out of events while a caller was still waiting for a result."""


class RemoteError(KernelError):
    """A callee's handler raised; the original exception is ``cause`` (and ``__cause__``)."""

    def __init__(self, address: str, method: str, cause: BaseException):
        super().__init__(f"{address} failed handling {method!r}: {type(cause).__name__}: {cause}")
        self.address = address
        self.method = method
        self.cause = cause
        self.__cause__ = cause
