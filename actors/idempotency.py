"""Request ids, and the memory that makes a handler idempotent against a redelivered message.

The bus delivers at least once (a broker redelivers; the simulated bus duplicates on purpose), so
every state-changing request the API accepts gets an id, carried by every cast and driver call it
causes. A receiver remembers the ids it has started; a second delivery of one is dropped (a cast)
or answered from the first one's result (a driver call), never run again.
"""

from __future__ import annotations

import heapq
from collections import OrderedDict
from typing import Any

# Enough to outlast any redelivery: a duplicate arrives within a bus latency of its original.
REMEMBERED = 4096


class RecentRequests:
    """The last ``size`` request ids seen, with what each one produced once it finished."""

    def __init__(self, size: int = REMEMBERED):
        self.size = size
        self._seen: OrderedDict[str, Any] = OrderedDict()
        self._answers: list[tuple[float, str]] = []  # a heap of (kept until, request id)

    def first(self, request_id: str | None) -> bool:
        """True the first time ``request_id`` is seen (None: no id, always first); remembers it."""
        if request_id is None:
            return True
        if request_id in self._seen:
            return False
        self._seen[request_id] = _RUNNING
        if len(self._seen) > self.size:
            self._seen.popitem(last=False)
        return True

    def finish(self, request_id: str | None, result: Any, keep_until: float | None = None) -> None:
        """Remember what the request produced; with ``keep_until``, only until then (the id stays)."""
        if request_id is not None and request_id in self._seen:
            self._seen[request_id] = result
            if keep_until is not None:
                heapq.heappush(self._answers, (keep_until, request_id))

    def forget_answers(self, now: float) -> None:
        """Drop the answers kept until before ``now``: each was an answer its caller can no longer
        take (a driver host keeps thousands, and one report of a backend's volumes is thousands of
        rows), so only ``ANSWERED`` is left of it, and the request still never runs twice."""
        answers = self._answers
        while answers and answers[0][0] < now:
            request_id = heapq.heappop(answers)[1]
            if request_id in self._seen:
                self._seen[request_id] = ANSWERED

    def result(self, request_id: str) -> Any:
        """What the request produced, or ``RUNNING`` while its first delivery is still at work."""
        return self._seen.get(request_id, _RUNNING)


class _Marker:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


_RUNNING = RUNNING = _Marker("RUNNING")
ANSWERED = _Marker("ANSWERED")  # finished, and its answer dropped: its caller has stopped waiting
