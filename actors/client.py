"""Reaching the API actor from outside it: the effect a workload yields, and a blocking client.

Everything that talks to the control plane as a user does (the REST layer, scenario workloads,
the conformance suite, tests) goes through here rather than through the composition root.
"""

from __future__ import annotations

from typing import Any

from replisim.sim import Address, Call, Message, RemoteError, Runtime

from .context import RequestContext
from .status import API_TOPIC, RPC_VERSION

API = Address(API_TOPIC, "api")


def api_call(context: RequestContext, method: str, timeout: float = 30.0, **args: Any) -> Call:
    """The effect a workload handler yields to call the API actor."""
    return Call(API, Message(method, {"context": context.to_dict(), **args}, RPC_VERSION), timeout)


class Client:
    """Calls the API actor from outside the actors, as one user, and raises what the API raised
    (the way a REST client sees status codes)."""

    def __init__(self, runtime: Runtime, context: RequestContext, timeout: float = 30.0):
        self.runtime = runtime
        self.context = context
        self.timeout = timeout

    def __call__(self, method: str, **args: Any) -> Any:
        call = api_call(self.context, method, self.timeout, **args)
        try:
            return self.runtime.call(call.target, call.message, call.timeout)
        except RemoteError as err:
            raise err.cause from None
