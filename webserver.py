"""The HTTP transport both replisim servers share: waitress, with limits, an early gate, JSON errors.

``replisim serve`` (the REST API) and ``replisim array serve`` (a storage array) are WSGI
applications on waitress (see docs/design.md for why waitress). This module adds what neither
waitress nor WSGI gives on its own:

- a *gate* that sees the request line and headers before a byte of the body is read, so a server
  refuses a caller without credentials (or a body it will not take) without buffering it;
- refusals waitress makes itself (malformed requests, oversized headers or bodies, unsupported
  transfer codings) answered in the server's own JSON fault shape, never a text page;
- a request carrying both ``Content-Length`` and ``Transfer-Encoding`` refused (request smuggling),
  a request with a body but no length refused, and over-long URIs refused;
- ``parse_json``: a request body as JSON, bounded in depth and free of lone surrogates, so that bad
  input is a 400 and never a ``RecursionError`` or an ``UnicodeEncodeError`` deeper down.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from waitress import wasyncore
from waitress.adjustments import Adjustments
from waitress.channel import HTTPChannel
from waitress.parser import HTTPRequestParser, ParsingError
from waitress.server import TcpWSGIServer
from waitress.task import ErrorTask
from waitress.utilities import Error

MAX_JSON_DEPTH = 32
MAX_URI = 8192
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})

# A refusal: the status and the message the server's fault shape carries.
Refusal = tuple[int, str]
# Sees the method, the path (as sent, %-escapes and all) and the headers (upper-case keys, dashes
# as underscores: ``AUTHORIZATION``) before the body is read; a refusal is answered, the connection closed.
Gate = Callable[[str, str, Mapping[str, str]], Refusal | None]
# Whether a request (its method and path as sent) is cheap and never blocks, so that the serving loop
# may answer it on its own thread rather than hand it to a worker (see ``_Server.add_task``).
Inline = Callable[[str, str], bool]
# Shapes a refusal as the server's JSON body.
Fault = Callable[[int, str], Any]
WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

_REASONS = {
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    411: "Length Required",
    413: "Request Entity Too Large",
    414: "URI Too Long",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    501: "Not Implemented",
}
LOG = logging.getLogger("replisim.http")


class BadJson(ValueError):
    """A request body that is not acceptable JSON; the message says why, for a 400."""


def parse_json(raw: bytes) -> Any:
    """``raw`` as JSON (None when blank): ``BadJson`` for invalid text, nesting deeper than
    ``MAX_JSON_DEPTH`` or a lone UTF-16 surrogate in any string (no store can encode one)."""
    if not raw.strip():
        return None
    try:
        value = json.loads(raw)
    except RecursionError:
        raise BadJson(f"JSON nested deeper than {MAX_JSON_DEPTH} levels") from None
    except ValueError as exc:
        raise BadJson(f"not valid JSON: {exc}") from None
    # Iterative, so that checking a deep document cannot itself run out of stack.
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            _check_text(item)
        elif isinstance(item, dict | list):
            if depth > MAX_JSON_DEPTH:
                raise BadJson(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
            if isinstance(item, dict):
                for key in item:
                    _check_text(key)
                stack.extend((v, depth + 1) for v in item.values())
            else:
                stack.extend((v, depth + 1) for v in item)
    return value


def _check_text(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise BadJson(
            f"a string holds a lone UTF-16 surrogate ({text[exc.start]!r} at character {exc.start})"
        ) from None


class _Refused(Error):
    """A refusal made by the gate or by the transport rules below, before the body is read."""

    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code = code
        self.reason = _REASONS.get(code, "Error")


class _Parser(HTTPRequestParser):
    """waitress's parser, plus the transport rules and the server's gate once the headers are in."""

    gate: Gate | None = None
    error: Error | None = None
    _gated = False

    def parse_header(self, header_plus: bytes) -> None:
        super().parse_header(header_plus)
        # waitress takes the chunked coding and drops Content-Length; RFC 9112 says such a message
        # may be an attempt at request smuggling, so it is refused instead.
        if "CONTENT_LENGTH" in self.headers and (self.chunked or "TRANSFER_ENCODING" in self.headers):
            raise ParsingError("a request may not carry both Content-Length and Transfer-Encoding")

    def received(self, data: bytes) -> int:
        consumed = super().received(data)
        if self.headers_finished and not self._gated:
            self._gated = True
            if self.error is None and not self.empty:
                refusal = self._refusal()
                if refusal is not None:
                    self.error = _Refused(*refusal)
                    self.completed = True  # the body, if any, is never read
        return consumed

    def _refusal(self) -> Refusal | None:
        if len(self.request_uri) > MAX_URI:
            return 414, f"The request URI is longer than {MAX_URI} characters."
        if self.command in BODY_METHODS and not self.chunked and "CONTENT_LENGTH" not in self.headers:
            return 411, f"A {self.command} request needs a Content-Length (or a chunked body)."
        if self.gate is None:
            return None
        try:
            return self.gate(self.command, self.request_uri.partition("?")[0], self.headers)
        except Exception:  # a bug in a gate must not take the serving loop down
            LOG.exception("the gate failed on %s %s", self.command, self.path)
            return 500, "The server could not check this request."


class _JsonErrorTask(ErrorTask):
    """waitress's error answer, in the server's JSON fault shape."""

    def execute(self) -> None:
        error = self.request.error
        server = self.channel.server
        message = str(error.body)
        if error.code == 413:
            message = f"The request body is larger than {server.adj.max_request_body_size - 1} bytes."
        elif error.code == 431:
            message = f"The request line and headers exceed {server.adj.max_request_header_size} bytes."
        body = json.dumps(server.fault(error.code, message)).encode()
        self.status = f"{error.code} {error.reason}"
        self.response_headers.append(("Content-Type", "application/json"))
        if error.code == 401:
            self.response_headers.extend(self.channel.server.challenge)
        self.response_headers.extend(server.error_headers())
        self.set_close_on_finish()
        self.content_length = len(body)
        self.write(body)


class _Channel(HTTPChannel):
    error_task_class = _JsonErrorTask
    server: _Server
    _inline_due = False  # set by ``_Server.add_task``: serve the first request here, after reading

    def handle_read(self) -> None:
        super().handle_read()
        # ``received`` (under the requests lock, which ``service`` takes too) has only marked it
        while self._inline_due:
            self._inline_due = False
            self.service()


class _Server(TcpWSGIServer):
    fault: Fault
    challenge: tuple[tuple[str, str], ...] = ()
    error_headers: Callable[[], Sequence[tuple[str, str]]] = tuple
    inline: Inline | None = None
    _loop_thread: int | None = None

    def run(self) -> None:
        self._loop_thread = threading.get_ident()
        super().run()

    def add_task(self, task: Any) -> None:
        """A channel with a complete request. A request the server calls cheap (``inline``), read
        on the serving loop with nothing of the channel's still unsent, is answered on the loop
        itself, once ``received`` returns: handing it to a worker and its answer back to the loop
        cost two thread switches, several times what answering it does. Anything else (and a
        refusal) goes to the workers, as in waitress."""
        if (
            self.inline is not None
            and isinstance(task, _Channel)
            and threading.get_ident() == self._loop_thread
            and not task.total_outbufs_len
        ):
            request = task.requests[0]
            if request.error is None and self.inline(request.command, request.request_uri.partition("?")[0]):
                task._inline_due = True
                return
        super().add_task(task)

    def pull_trigger(self) -> None:
        # a channel's task wakes the loop so that it looks at the channel again; on the loop's own
        # thread (an inline answer) it is about to
        if threading.get_ident() != self._loop_thread:
            super().pull_trigger()


@dataclass(frozen=True)
class Limits:
    """What one server takes; waitress's defaults where these say nothing."""

    max_body: int
    threads: int = 8
    backlog: int = 1024
    connection_limit: int = 256
    channel_timeout: int = 60  # seconds a connection may sit idle, or send a body too slowly
    cleanup_interval: int = 10  # how often idle connections are looked for
    max_header: int = 64 << 10


class HttpServer:
    """A WSGI application served on ``host:port`` until ``shutdown``; bound when constructed."""

    def __init__(
        self,
        app: WsgiApp,
        host: str,
        port: int,
        *,
        limits: Limits,
        fault: Fault,
        gate: Gate | None = None,
        challenge: tuple[tuple[str, str], ...] = (),
        error_headers: Callable[[], Sequence[tuple[str, str]]] = tuple,
        ident: str = "replisim",
        inline: Inline | None = None,
    ):
        parser = type("GatedParser", (_Parser,), {"gate": staticmethod(gate) if gate else None})
        channel = type("GatedChannel", (_Channel,), {"parser_class": parser})
        server_class = type(
            "ReplisimServer",
            (_Server,),
            {
                "channel_class": channel,
                "fault": staticmethod(fault),
                "inline": staticmethod(inline) if inline else None,
            },
        )
        adj = Adjustments(
            host=host,
            port=port,
            ident=ident,
            threads=limits.threads,
            backlog=limits.backlog,
            connection_limit=limits.connection_limit,
            channel_timeout=limits.channel_timeout,
            cleanup_interval=limits.cleanup_interval,
            # waitress refuses a body of max_request_body_size bytes or more
            max_request_body_size=limits.max_body + 1,
            max_request_header_size=limits.max_header,
            log_socket_errors=False,  # a client that hangs up is not the server's error
        )
        self._server = server_class(app, map={}, adj=adj)
        self._server.challenge = challenge
        self._server.error_headers = error_headers  # fresh per answer (a request id, say)
        self._stopped = threading.Event()

    @property
    def port(self) -> int:
        return int(self._server.effective_port)

    @property
    def url(self) -> str:
        host = str(self._server.effective_host)
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{self.port}"

    def serve_forever(self) -> None:
        """Serve until ``shutdown``; returns when the serving loop has stopped."""
        try:
            self._server.run()
        finally:
            self._stopped.set()

    def shutdown(self, timeout: float = 10.0) -> None:
        """Stop accepting, close every connection, and wait for the serving loop and the workers."""
        server = self._server

        def close_all() -> None:
            wasyncore.close_all(server._map)

        if not self._stopped.is_set():
            # runs on the serving loop's own thread; a trigger already closed means the loop is
            # closing of itself
            with contextlib.suppress(OSError):
                server.trigger.pull_trigger(close_all)
            self._stopped.wait(timeout)
        server.task_dispatcher.shutdown(timeout=timeout)


# waitress logs each client that hangs up mid-answer at INFO, and its queue depth as a WARNING
# whenever every worker is busy (the normal state of a loaded server): neither is an error here.
logging.getLogger("waitress.queue").setLevel(logging.ERROR)
