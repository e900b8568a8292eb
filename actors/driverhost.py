"""The driver host actor: owns one driver object and runs its methods as blocking operations.

In sim, an operation takes the service time the driver reports (``service_time(operation, args)``,
an optional hook the emulated array's driver provides), else a constant; live, it takes as long as
the real call does. Exceptions travel back to the manager unchanged, as the cause of a RemoteError.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Generator, Mapping
from typing import Any

from replisim import exception
from replisim.drivers import contract
from replisim.sim import NO_REPLY, Actor, Block, Now, Sleep

from .context import RequestContext
from .idempotency import ANSWERED, RUNNING, RecentRequests

DEFAULT_SERVICE_TIME = 0.05
HANG_FOREVER = 10 * 365 * 86400.0  # a hang with no end: ten simulated years


class DriverFaults:
    """Faults armed on any driver's methods (those of the contract): ``cinder`` raises a
    CinderException, ``unexpected`` a bare RuntimeError (a driver bug), and ``hang`` holds the
    call until the fault ends."""

    MODES = ("cinder", "unexpected", "hang")

    def __init__(self) -> None:
        self._armed: dict[int, tuple[str, str, float]] = {}  # token -> (method, mode, until)
        self._tokens = itertools.count(1)

    def __bool__(self) -> bool:
        return bool(self._armed)

    def arm(self, method: str, mode: str, until: float = math.inf) -> int:
        """Arm ``mode`` on ``method`` until then; returns the token that disarms this one alone
        (faults overlap: the latest armed and still in force applies)."""
        if method not in contract.METHODS:
            raise contract.unknown_method(method)
        if mode not in self.MODES:
            raise ValueError(f"fault mode {mode!r} is not one of {self.MODES}")
        token = next(self._tokens)
        self._armed[token] = (method, mode, until)
        return token

    def disarm(self, token: int) -> None:
        self._armed.pop(token, None)

    def armed(self, token: int) -> bool:
        return token in self._armed

    def active(self, method: str, now: float) -> tuple[str, float] | None:
        for armed_method, mode, until in reversed(self._armed.values()):
            if armed_method == method and now < until:
                return mode, until
        return None


class DriverHost(Actor):
    """Hosts ``driver`` (anything meeting the driver contract) for one backend."""

    def __init__(self, driver: Any):
        self.driver = driver
        self.faults = DriverFaults()
        self.calls = RecentRequests()

    def invoke(
        self,
        operation: str,
        args: Mapping[str, Any],
        call_id: str | None = None,
        timeout: float | None = None,
    ) -> Generator[Any, Any, Any]:
        """Run one driver method; a redelivered ``call_id`` gets the first delivery's answer (or
        none while that one runs) and never runs the method twice: a failover done twice is a
        failover and a failback. The answer is kept while the caller can still take it (its
        ``timeout`` from the call's arrival); after that a redelivery gets no reply, as the
        caller would drop it."""
        now = yield Now()
        self.calls.forget_answers(now)
        if not self.calls.first(call_id):
            assert call_id is not None
            outcome = self.calls.result(call_id)
            if outcome is RUNNING or outcome is ANSWERED:
                return NO_REPLY
            value, error = outcome
            if error is not None:
                raise error
            return value
        keep_until = None if timeout is None else now + timeout
        try:
            value = yield from self._run(operation, args)
        except Exception as exc:
            self.calls.finish(call_id, (None, exc), keep_until)
            raise
        self.calls.finish(call_id, (value, None), keep_until)
        return value

    def _run(self, operation: str, args: Mapping[str, Any]) -> Generator[Any, Any, Any]:
        if operation not in contract.METHODS:
            raise contract.unknown_method(operation)
        if self.faults:
            now = yield Now()
            fault = self.faults.active(operation, now)
            if fault is not None:
                mode, until = fault
                if mode == "hang":
                    yield Sleep(min(until - now, HANG_FOREVER))
                elif mode == "cinder":
                    raise exception.VolumeBackendAPIException(data=f"injected fault in {operation}")
                else:
                    raise RuntimeError(f"injected driver bug in {operation}")
        method = getattr(self.driver, operation, None)
        if not callable(method):  # a clause the driver does not take part in (groups): Cinder's answer
            raise NotImplementedError(f"the driver has no {operation}")
        call_args = dict(args)
        if "context" in call_args and isinstance(call_args["context"], Mapping):
            call_args["context"] = RequestContext.from_dict(call_args["context"])
        hook = getattr(self.driver, "service_time", None)
        seconds = hook(operation, call_args) if callable(hook) else DEFAULT_SERVICE_TIME
        return (yield Block(lambda: method(**call_args), (), float(seconds)))
