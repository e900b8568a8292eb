"""The storage array's management API as Python calls, for its driver, its peers and tests.

One HTTP request per call, basic auth, JSON both ways. Failures are ``ArrayError`` (the array
answered with an error status) or ``ArrayUnreachable`` (no answer in time, or no connection).
"""

from __future__ import annotations

import base64
import http.client
import json
import select
import threading
import time
from typing import Any
from urllib.parse import quote, urlencode

from .volumes import decode, encode


class ArrayError(Exception):
    """The array refused a request; ``status`` is its HTTP status, ``details`` its extra fields."""

    def __init__(self, address: str, status: int, message: str, details: dict[str, Any] | None = None):
        super().__init__(f"array {address} answered {status}: {message}")
        self.address = address
        self.status = status
        self.message = message
        self.details = details or {}


class ArrayUnreachable(ArrayError):
    """No answer: the array is down, paused, or too slow for the client's timeout."""

    def __init__(self, address: str, reason: str):
        super().__init__(address, 0, reason)
        self.args = (f"array {address} unreachable: {reason}",)


def parse_address(text: str) -> tuple[str, int]:
    """``'host:port'`` -> ``(host, port)``; ``ValueError`` says what is wrong."""
    host, sep, port = str(text).strip().rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{text!r} is not an address of the form host:port (port 1-65535)")
    return host, int(port)


# Idle keep-alive connections (``ArrayClient(keep_alive=True)``), by array and timeout, newest last,
# with the time each was last used. A connection idle longer than IDLE_REUSE is not reused: the
# array closes one idle for 60 s (its channel_timeout), and one closed as it is reused would fail a
# request the array never saw. One the array has closed (it stopped, or was restarted) is readable,
# and is dropped unused.
IDLE_REUSE = 20.0
IDLE_PER_ARRAY = 32
_IdleKey = tuple[str, int, float]
_idle: dict[_IdleKey, list[tuple[http.client.HTTPConnection, float]]] = {}
_idle_lock = threading.Lock()


def _reusable(connection: http.client.HTTPConnection, since: float, now: float) -> bool:
    sock = connection.sock
    if sock is None or now - since > IDLE_REUSE:
        return False
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return False
    return not readable  # an idle connection with something to read has been closed by the array


def _take_idle(key: _IdleKey) -> http.client.HTTPConnection | None:
    now = time.monotonic()
    with _idle_lock:
        pool = _idle.get(key)
        while pool:
            connection, since = pool.pop()
            if _reusable(connection, since, now):
                return connection
            connection.close()
    return None


def _give_idle(key: _IdleKey, connection: http.client.HTTPConnection) -> None:
    with _idle_lock:
        pool = _idle.setdefault(key, [])
        if len(pool) < IDLE_PER_ARRAY:
            pool.append((connection, time.monotonic()))
            return
    connection.close()


class ArrayClient:
    """Calls one array as one user. The password is kept for the Authorization header only.

    ``keep_alive``: reuse connections to the array across requests (and across clients of the
    same array and timeout): a new connection per request cost the array ~4 times what the request
    did. A request that fails is never retried; its connection is closed."""

    def __init__(
        self, address: str, login: str, password: str, timeout: float = 5.0, *, keep_alive: bool = False
    ):
        self.host, self.port = parse_address(address)
        self.address = f"{self.host}:{self.port}"
        self.login = login
        self.timeout = timeout
        self.keep_alive = keep_alive
        token = base64.b64encode(f"{login}:{password}".encode()).decode("ascii")
        self._authorization = f"Basic {token}"

    def __repr__(self) -> str:
        return f"ArrayClient({self.address!r}, login={self.login!r})"

    def request(self, method: str, path: str, body: Any = None, **query: Any) -> Any:
        if query:
            path += "?" + urlencode(query)
        payload = json.dumps(body).encode() if body is not None else b""
        headers = {
            "Authorization": self._authorization,
            "Accept": "application/json",
            "Content-Type": "application/json",
        }
        if not self.keep_alive:
            headers["Connection"] = "close"
        key = (self.host, self.port, self.timeout)
        connection = _take_idle(key) if self.keep_alive else None
        if connection is None:
            connection = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        keep = False
        try:
            connection.request(method, path, body=payload, headers=headers)
            response = connection.getresponse()
            raw = response.read()
            keep = self.keep_alive and not response.will_close
        except (OSError, http.client.HTTPException) as exc:
            raise ArrayUnreachable(self.address, f"{method} {path}: {type(exc).__name__}: {exc}") from None
        finally:
            if keep:
                _give_idle(key, connection)
            else:
                connection.close()
        try:
            data = json.loads(raw) if raw else {}
        except ValueError:
            raise ArrayError(self.address, response.status, f"{method} {path}: reply is not JSON") from None
        if response.status >= 400:
            details = dict(data) if isinstance(data, dict) else {}
            message = str(details.pop("error", response.reason))
            raise ArrayError(self.address, response.status, message, details)
        return data

    # -- the array

    def health(self) -> dict[str, Any]:
        return dict(self.request("GET", "/health"))

    def stats(self) -> dict[str, Any]:
        return dict(self.request("GET", "/stats"))

    def volumes(self) -> list[dict[str, Any]]:
        return list(self.request("GET", "/volumes")["volumes"])

    def create_volume(self, volume_id: str, size_gb: int) -> dict[str, Any]:
        return dict(self.request("POST", "/volumes", {"id": volume_id, "size_gb": size_gb}))

    def volume(self, volume_id: str) -> dict[str, Any]:
        return dict(self.request("GET", f"/volumes/{quote(volume_id)}"))

    def delete_volume(self, volume_id: str) -> bool:
        """Delete; ``False`` when the array did not have it (which is not an error)."""
        return bool(self.request("DELETE", f"/volumes/{quote(volume_id)}")["deleted"])

    def write(self, volume_id: str, offset: int, data: bytes) -> int:
        """Write and return the write's generation (acknowledged: durable, and on the peer if sync)."""
        reply = self.request(
            "POST", f"/volumes/{quote(volume_id)}/write", {"offset": offset, "data": encode(data)}
        )
        return int(reply["generation"])

    def read(self, volume_id: str, offset: int, length: int) -> bytes:
        reply = self.request("GET", f"/volumes/{quote(volume_id)}/read", offset=offset, length=length)
        return decode(reply["data"])

    # -- replication, as the driver drives it

    def enable_replication(
        self, volume_id: str, peer: str, login: str, password: str, mode: str
    ) -> dict[str, Any]:
        body = {"peer": peer, "login": login, "password": password, "mode": mode}
        return dict(self.request("POST", f"/volumes/{quote(volume_id)}/replication", body))

    def disable_replication(self, volume_id: str) -> dict[str, Any]:
        return dict(self.request("DELETE", f"/volumes/{quote(volume_id)}/replication"))

    def replication_status(self, volume_id: str) -> dict[str, Any]:
        return dict(self.request("GET", f"/volumes/{quote(volume_id)}/replication"))

    def replication_overview(self) -> list[dict[str, Any]]:
        """The replication status of every volume on the array."""
        return list(self.request("GET", "/replication")["volumes"])

    def promote(self, volume_id: str) -> dict[str, Any]:
        return dict(self.request("POST", f"/volumes/{quote(volume_id)}/promote", {}))

    def demote(self, volume_id: str, *, discard_unshipped: bool = False) -> dict[str, Any]:
        """Hand over: ship every pending write to the peer and stop taking writes. With
        ``discard_unshipped``, stop taking writes even if some cannot be shipped; ``fenced`` in the
        answer lists those."""
        body = {"discard_unshipped": True} if discard_unshipped else {}
        return dict(self.request("POST", f"/volumes/{quote(volume_id)}/demote", body))

    # -- link control, for live faults

    def links(self) -> dict[str, Any]:
        return dict(self.request("GET", "/links")["links"])

    def set_link(
        self, peer: str, *, down: bool | None = None, delay: float | None = None, bandwidth: int | None = None
    ) -> dict[str, Any]:
        """Cut (``down=True``), slow (``delay`` seconds per request, ``bandwidth`` bytes/s) or,
        with ``down=False, delay=0, bandwidth=0``, restore this array's link to ``peer``."""
        body = {
            key: value
            for key, value in (("down", down), ("delay", delay), ("bandwidth", bandwidth))
            if value is not None
        }
        return dict(self.request("PUT", f"/links/{quote(peer)}", body))

    def restore_link(self, peer: str) -> dict[str, Any]:
        return dict(self.request("DELETE", f"/links/{quote(peer)}"))

    # -- the replication protocol between arrays

    def begin_replica(self, volume_id: str, size_gb: int, epoch: int, source: dict[str, Any]) -> None:
        self.request(
            "POST",
            f"/replicas/{quote(volume_id)}/begin",
            {"size_gb": size_gb, "epoch": epoch, "source": source},
        )

    def apply(self, volume_id: str, epoch: int, entries: list[dict[str, Any]], baseline: bool = False) -> int:
        """Ship writes; returns the generation the replica holds afterwards."""
        reply = self.request(
            "POST",
            f"/replicas/{quote(volume_id)}/apply",
            {"epoch": epoch, "entries": entries, "baseline": baseline},
        )
        return int(reply["generation"])

    def commit_replica(self, volume_id: str, epoch: int, generation: int) -> None:
        self.request(
            "POST", f"/replicas/{quote(volume_id)}/commit", {"epoch": epoch, "generation": generation}
        )

    def drop_replica(self, volume_id: str, epoch: int) -> None:
        self.request("DELETE", f"/replicas/{quote(volume_id)}", epoch=epoch)
