"""``replisim serve``'s REST API as a WSGI application on the shared waitress transport.

``rest.BlockStorageApi`` answers a request given as plain values; this module only carries them
between WSGI and it: the raw target, the headers, the body (read only after the gate has seen the
credentials), and the reply back as JSON. Every refusal the transport makes itself is a Cinder
fault too (``rest.fault_body``), so a client never meets a text page.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from replisim.webserver import HttpServer, Limits, Refusal

from .rest import MAX_BODY, NO_CREDENTIALS, BlockStorageApi, fault_body, has_credentials, new_request_id

_STATUS_TEXT = {
    200: "OK",
    202: "Accepted",
    300: "Multiple Choices",
    302: "Found",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    406: "Not Acceptable",
    409: "Conflict",
    413: "Request Entity Too Large",
    500: "Internal Server Error",
    501: "Not Implemented",
    503: "Service Unavailable",
}
_VERSION_PATHS = frozenset({"/", "/v3", "/v3/"})


def _headers(environ: Mapping[str, Any]) -> dict[str, str]:
    """The request's headers by lower-case name, as ``BlockStorageApi.handle`` takes them."""
    found = {
        key[5:].replace("_", "-").lower(): value
        for key, value in environ.items()
        if key.startswith("HTTP_") and isinstance(value, str)
    }
    for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        if environ.get(key):
            found[key.replace("_", "-").lower()] = environ[key]
    return found


class RestApplication:
    """The WSGI application over one ``BlockStorageApi``."""

    def __init__(self, api: BlockStorageApi):
        self.api = api

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        headers = _headers(environ)
        length = int(environ.get("CONTENT_LENGTH") or 0)  # waitress has checked it and read the body
        body = environ["wsgi.input"].read(length) if length else b""
        target = environ.get("REQUEST_URI") or environ.get("PATH_INFO") or "/"
        base_url = f"{environ.get('wsgi.url_scheme', 'http')}://{headers.get('host') or self._host(environ)}"
        reply = self.api.handle(environ["REQUEST_METHOD"], target, headers, body, base_url)
        payload = b"" if reply.body is None else json.dumps(reply.body).encode()
        out = [*reply.headers, ("Content-Length", str(len(payload)))]
        if payload:
            out.append(("Content-Type", "application/json"))
        start_response(f"{reply.status} {_STATUS_TEXT.get(reply.status, 'Unknown')}", out)
        return [payload]

    @staticmethod
    def _host(environ: Mapping[str, Any]) -> str:
        return f"{environ.get('SERVER_NAME', '127.0.0.1')}:{environ.get('SERVER_PORT', '')}"


def gate(method: str, path: str, headers: Mapping[str, str]) -> Refusal | None:
    """Credentials before the body: only version discovery may be asked without them."""
    if path in _VERSION_PATHS:
        return None
    present = {
        "x-auth-token": headers.get("X_AUTH_TOKEN", ""),
        "x-user-id": headers.get("X_USER_ID", ""),
    }
    return None if has_credentials(present) else (401, NO_CREDENTIALS)


_LISTINGS = frozenset({"detail", "summary"})


def inline(method: str, path: str) -> bool:
    """Whether a request is a show of one volume (``GET /v3[/{project_id}]/volumes/{id}``), the
    poll a client makes while it waits: a policy check, one indexed read (on a reader connection
    that never waits for a writer) and a render, answered on the serving loop's own thread."""
    if method != "GET":
        return False
    parts = path.split("/")
    # ['', 'v3', project, 'volumes', id] or ['', 'v3', 'volumes', id]
    return (
        len(parts) in (4, 5)
        and parts[0] == ""
        and parts[1] == "v3"
        and parts[-2] == "volumes"
        and parts[-1] not in _LISTINGS
        and all(parts[1:])
    )


class ApiServer(HttpServer):
    """``replisim serve``'s HTTP server: the REST application, Cinder faults, noauth checked early."""

    def __init__(
        self,
        address: tuple[str, int],
        api: BlockStorageApi,
        limits: Limits | None = None,
        inline_polls: bool = True,
    ):
        """``inline_polls``: answer a poll on the serving loop's thread (see ``inline``); only where
        the database's reads never wait, since a poll that waited there would stall every connection."""
        super().__init__(
            RestApplication(api),
            address[0],
            address[1],
            limits=limits or Limits(max_body=MAX_BODY, threads=16),
            fault=fault_body,
            gate=gate,
            error_headers=lambda: (("x-openstack-request-id", new_request_id()),),
            ident="replisim",
            inline=inline if inline_polls else None,
        )
        self.api = api
