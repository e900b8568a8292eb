"""The storage array process: volumes on disk, a JSON management API, replication to peers.

``replisim array serve`` runs ``serve()``. Every endpoint but ``/health`` needs HTTP basic auth
with the array's login and password (a backend's ``san_login``/``san_password``); the password is
never logged nor returned. Routes:

========  ===============================  ====================================================
GET       /health                          liveness (no auth): name and status
GET       /stats                           capacity and volume count
GET/POST  /volumes                         list; create ``{"id", "size_gb"}``
GET/DEL   /volumes/{id}                    show; delete (absent is fine)
POST      /volumes/{id}/write              ``{"offset", "data": base64}`` -> ``{"generation"}``
GET       /volumes/{id}/read               ``?offset=&length=`` -> ``{"generation", "data"}``
POST/DEL  /volumes/{id}/replication        enable ``{"peer", "login", "password", "mode"}``; disable
GET       /volumes/{id}/replication        status: link, generations, unshipped writes, lag
GET       /replication                     the status of every volume
POST      /volumes/{id}/promote            failover: this replica becomes the writable primary
POST      /volumes/{id}/demote             planned failover: ship every write, then turn replica;
                                           ``{"discard_unshipped": true}`` fences it even so
GET       /links, PUT/DEL /links/{peer}    link faults ``{"down", "delay", "bandwidth"}``; restore
POST      /replicas/{id}/begin|apply|commit, DEL /replicas/{id}: the protocol between arrays
========  ===============================  ====================================================
"""

from __future__ import annotations

import base64
import binascii
import fcntl
import hmac
import json
import logging
import re
import signal
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote

from replisim.webserver import BadJson, HttpServer, Limits, Refusal, parse_json

from .client import parse_address
from .replication import Identity, Links, PeerBook, Replicator
from .volumes import StorageError, Volume, VolumeStore, decode, encode

LOG = logging.getLogger("replisim.array")
MAX_BODY = 64 << 20
MAX_READ = 16 << 20

Reply = tuple[int, dict[str, Any]]
Route = Callable[["Request"], Reply]


class SetupError(Exception):
    """The array cannot start (the root is in use, the port is taken): a user's problem to fix."""


class ArrayServer:
    """One array: its volumes, peers, links and replicator, behind the HTTP API."""

    def __init__(
        self,
        root: Path,
        host: str,
        port: int,
        *,
        name: str,
        login: str,
        password: str,
        capacity_gb: int = 1000,
        peer_timeout: float = 5.0,
        limits: Limits | None = None,
    ):
        try:
            self.http = HttpServer(
                self.application,
                host,
                port,
                limits=limits or Limits(max_body=MAX_BODY, threads=16),
                fault=lambda _code, message: {"error": message},
                gate=self.gate,
                challenge=(("WWW-Authenticate", 'Basic realm="replisim-array"'),),
                ident="replisim-array",
            )
        except OSError as exc:
            raise SetupError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
        self.name = name
        self.login = login
        self._password = password
        self.address = f"{host}:{self.http.port}"
        self.store = VolumeStore(root, capacity_gb)
        self.links = Links()
        self.replicator = Replicator(
            self.store,
            PeerBook(root / "peers.json", peer_timeout),
            self.links,
            Identity(self.address, login, password),
        )

    def authorized(self, header: str | None) -> bool:
        scheme, _, token = (header or "").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            login, _, password = base64.b64decode(token, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        same_login = hmac.compare_digest(login.encode(), self.login.encode())
        return hmac.compare_digest(password.encode(), self._password.encode()) and same_login

    def gate(self, method: str, path: str, headers: Mapping[str, str]) -> Refusal | None:
        """Credentials before a byte of the body is read; only ``GET /health`` is open."""
        if (method, path) == ("GET", "/health") or self.authorized(headers.get("AUTHORIZATION")):
            return None
        return 401, "authentication required: HTTP basic auth with the array's login"

    def application(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        """The WSGI application: route, run the endpoint, answer JSON (errors too)."""
        method, path = environ["REQUEST_METHOD"], environ.get("PATH_INFO") or "/"
        try:
            status, reply = self.route(method, path, environ)
        except StorageError as exc:
            status, reply = exc.status, {"error": exc.message, **exc.details}
        except Exception:  # a bug must not kill the worker silently
            LOG.exception("%s %s failed", method, path)
            status, reply = 500, {"error": "internal error; see the array's log"}
        # The request line and status only: bodies and headers (credentials) are never logged.
        LOG.info("%s %s %s %d", environ.get("REMOTE_ADDR", "-"), method, path, status)
        raw = json.dumps(reply).encode()
        headers = [("Content-Type", "application/json"), ("Content-Length", str(len(raw)))]
        start_response(f"{status} {_REASONS.get(status, 'Error')}", headers)
        return [raw]

    def route(self, method: str, path: str, environ: dict[str, Any]) -> Reply:
        allowed = []
        for route_method, pattern, handler in ROUTES:
            match = pattern.fullmatch(path)
            if match is None:
                continue
            if route_method != method:
                allowed.append(route_method)
                continue
            params = {key: unquote(value) for key, value in match.groupdict().items()}
            query = {k: v[-1] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
            return handler(Request(self, params, _body(environ), query))
        if allowed:
            return 405, {"error": f"{method} is not allowed on {path}; use {', '.join(sorted(allowed))}"}
        return 404, {"error": f"no such endpoint: {path}"}

    def serve_forever(self) -> None:
        self.http.serve_forever()

    def shutdown(self) -> None:
        self.http.shutdown()


def _body(environ: dict[str, Any]) -> dict[str, Any]:
    """The JSON object a request carries ({} for none); waitress has bounded and read it."""
    length = int(environ.get("CONTENT_LENGTH") or 0)
    try:
        data = parse_json(environ["wsgi.input"].read(length) if length else b"")
    except BadJson as exc:
        raise StorageError(400, f"request body: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise StorageError(400, "request body must be a JSON object")
    return data


_REASONS = {
    200: "OK",
    201: "Created",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Request Entity Too Large",
    500: "Internal Server Error",
    503: "Service Unavailable",
    507: "Insufficient Storage",
}


# -- endpoints ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    """What an endpoint gets: the array, the path's parameters, the JSON body and the query."""

    server: ArrayServer
    path: dict[str, str]
    body: dict[str, Any]
    query: dict[str, str]

    @property
    def volume(self) -> Volume:
        return self.server.store.get(self.path["id"])

    @property
    def peer(self) -> str:
        try:
            return "{}:{}".format(*parse_address(self.path["peer"]))
        except ValueError as exc:
            raise StorageError(400, f"link: {exc}") from None


def _health(request: Request) -> Reply:
    return 200, {"status": "ok", "name": request.server.name}


def _stats(request: Request) -> Reply:
    return 200, {"name": request.server.name, **request.server.store.stats()}


def _list(request: Request) -> Reply:
    return 200, {"volumes": [volume.summary() for volume in request.server.store.list()]}


def _create(request: Request) -> Reply:
    volume_id = request.body.get("id")
    if not isinstance(volume_id, str):
        raise StorageError(400, "id must be a string")
    volume, created = request.server.store.create(volume_id, request.body.get("size_gb"))
    return (201 if created else 200), volume.summary()


def _show(request: Request) -> Reply:
    return 200, request.volume.summary()


def _delete(request: Request) -> Reply:
    volume = request.server.store.delete(request.path["id"])
    if volume is not None:
        request.server.replicator.forget(volume)
    return 200, {"deleted": volume is not None}


def _write(request: Request) -> Reply:
    volume = request.volume
    offset = request.body.get("offset")
    if not isinstance(offset, int) or isinstance(offset, bool):
        raise StorageError(400, "offset must be an integer")
    generation = volume.write(offset, decode(request.body.get("data")), time.time())
    request.server.replicator.after_write(volume, generation)
    return 200, {"generation": generation}


def _read(request: Request) -> Reply:
    volume = request.volume
    try:
        offset, length = int(request.query.get("offset", "0")), int(request.query["length"])
    except (KeyError, ValueError):
        raise StorageError(400, "read needs integer query parameters offset and length") from None
    if length > MAX_READ:
        raise StorageError(400, f"length {length} is above the limit of {MAX_READ} bytes per read")
    generation = volume.generation
    return 200, {"generation": generation, "data": encode(volume.read(offset, length))}


def _enable(request: Request) -> Reply:
    volume, body = request.volume, request.body
    request.server.replicator.enable(
        volume,
        str(body.get("peer", "")),
        body.get("login", ""),
        body.get("password", ""),
        body.get("mode", "async"),
    )
    return 200, request.server.replicator.status(volume)


def _disable(request: Request) -> Reply:
    volume = request.volume
    request.server.replicator.disable(volume)
    return 200, request.server.replicator.status(volume)


def _status(request: Request) -> Reply:
    return 200, request.server.replicator.status(request.volume)


def _overview(request: Request) -> Reply:
    replicator = request.server.replicator
    return 200, {"volumes": [replicator.status(volume) for volume in request.server.store.list()]}


def _promote(request: Request) -> Reply:
    volume = request.volume
    request.server.replicator.promote(volume)
    return 200, request.server.replicator.status(volume)


def _demote(request: Request) -> Reply:
    volume = request.volume
    discard = request.body.get("discard_unshipped", False)
    if not isinstance(discard, bool):
        raise StorageError(400, f"discard_unshipped must be true or false, got {discard!r}")
    fenced = request.server.replicator.demote(volume, discard=discard)
    return 200, {**request.server.replicator.status(volume), "fenced": fenced}


def _links(request: Request) -> Reply:
    return 200, {"links": request.server.links.snapshot()}


def _set_link(request: Request) -> Reply:
    peer = request.peer
    shape = request.server.links.set(peer, request.body)
    LOG.warning("link to %s: %s", peer, asdict(shape))
    return 200, {"peer": peer, **asdict(shape)}


def _restore_link(request: Request) -> Reply:
    peer = request.peer
    shape = request.server.links.set(peer, {"down": False, "delay": 0, "bandwidth": 0})
    LOG.warning("link to %s restored", peer)
    request.server.replicator.wake()
    return 200, {"peer": peer, **asdict(shape)}


def _begin(request: Request) -> Reply:
    request.server.replicator.receive_begin(request.path["id"], request.body)
    return 200, {}


def _apply(request: Request) -> Reply:
    return 200, {"generation": request.server.replicator.receive_apply(request.path["id"], request.body)}


def _commit(request: Request) -> Reply:
    request.server.replicator.receive_commit(request.path["id"], request.body)
    return 200, {}


def _drop(request: Request) -> Reply:
    try:
        epoch = int(request.query.get("epoch", ""))
    except ValueError:
        raise StorageError(400, "dropping a replica needs an integer epoch query parameter") from None
    request.server.replicator.receive_drop(request.path["id"], epoch)
    return 200, {}


_ID = r"(?P<id>[^/]+)"
ROUTES: list[tuple[str, re.Pattern[str], Route]] = [
    (method, re.compile(pattern), handler)
    for method, pattern, handler in [
        ("GET", "/health", _health),
        ("GET", "/stats", _stats),
        ("GET", "/volumes", _list),
        ("POST", "/volumes", _create),
        ("GET", f"/volumes/{_ID}", _show),
        ("DELETE", f"/volumes/{_ID}", _delete),
        ("POST", f"/volumes/{_ID}/write", _write),
        ("GET", f"/volumes/{_ID}/read", _read),
        ("POST", f"/volumes/{_ID}/replication", _enable),
        ("DELETE", f"/volumes/{_ID}/replication", _disable),
        ("GET", f"/volumes/{_ID}/replication", _status),
        ("GET", "/replication", _overview),
        ("POST", f"/volumes/{_ID}/promote", _promote),
        ("POST", f"/volumes/{_ID}/demote", _demote),
        ("GET", "/links", _links),
        ("PUT", "/links/(?P<peer>[^/]+)", _set_link),
        ("DELETE", "/links/(?P<peer>[^/]+)", _restore_link),
        ("POST", f"/replicas/{_ID}/begin", _begin),
        ("POST", f"/replicas/{_ID}/apply", _apply),
        ("POST", f"/replicas/{_ID}/commit", _commit),
        ("DELETE", f"/replicas/{_ID}", _drop),
    ]
]


def lock_root(root: Path) -> Any:
    """Hold ``root/.lock`` for the process's life, so two arrays never share one directory."""
    handle = open(root / ".lock", "a+")  # noqa: SIM115 (held open until the process exits)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        raise SetupError(f"root {root} is in use by another array process") from None
    return handle


def serve(
    root: Path,
    host: str,
    port: int,
    *,
    name: str,
    login: str,
    password: str,
    capacity_gb: int = 1000,
    peer_timeout: float = 5.0,
) -> None:
    """Run an array until SIGTERM or SIGINT. Prints one line, ``listening on http://HOST:PORT``, once
    the socket accepts connections (a supervisor that asked for port 0 reads the port there)."""
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s " + name.replace("%", "%%") + " %(levelname)s %(message)s",
    )
    lock = lock_root(root)
    server = ArrayServer(
        root,
        host,
        port,
        name=name,
        login=login,
        password=password,
        capacity_gb=capacity_gb,
        peer_timeout=peer_timeout,
    )

    def shutdown(signum: int, frame: Any) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, shutdown)
    signal.signal(signal.SIGINT, shutdown)
    server.replicator.start()
    LOG.info("array %s serving %s on %s (%d volumes)", name, root, server.address, len(server.store.volumes))
    print(f"listening on http://{server.address}", flush=True)
    try:
        server.serve_forever()
    finally:
        server.replicator.stop()
        lock.close()
        LOG.info("array %s stopped", name)
