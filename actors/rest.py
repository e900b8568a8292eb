"""The REST layer: the subset of Cinder's Block Storage v3 API that a replication workflow needs.

It only translates. A request becomes a ``RequestContext`` (noauth: ``X-Auth-Token: user:project``)
and one call to the API actor through ``client.Client``; the answer becomes Cinder's JSON
(``views``), and an exception its fault body with the exception's ``code``. Policy, validation of
state and everything else stay in the API actor, so a REST client and a simulated workload meet
the same rules.

HTTP itself is ``wsgi.py``'s (a WSGI application on the shared waitress transport); this module
sees a request as plain values and never touches a socket.

Secrets: an answer masks what the server itself emits from configuration and driver data (the
driver's replication targets, the reasons a manager or driver gave, the driver's own exceptions)
and never what the caller sent. Masking caller text would make every echo an oracle: a guess
that came back as ``***`` would be the password.
"""

from __future__ import annotations

import configparser
import contextlib
import json
import logging
import re
import time
import traceback
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlsplit

from replisim import exception
from replisim.redaction import Redactor, mask_secret_keys
from replisim.sim import KernelError, Runtime
from replisim.webserver import BadJson, parse_json

from . import views
from .client import Client
from .context import RequestContext
from .views import MAX_VERSION, MIN_VERSION, Version, version_text

LOG = logging.getLogger("replisim.rest")

VERSION_HEADER = "OpenStack-API-Version"
CALL_TIMEOUT = 75.0  # longer than the API actor's own wait for list_replication_targets (60 s)
MAX_BODY = 1 << 20
DB_MAX_INT = 0x7FFFFFFF  # Cinder's bound on a volume's size (cinder.api.validation's volume_size)
NO_CREDENTIALS = "No credentials: send 'X-Auth-Token: USER:PROJECT' (noauth)."
_COLLECTIONS = frozenset({"volumes", "types", "os-services"})
# The exceptions a driver raises about its backend: their text is the driver's, so it is masked.
_DRIVER_ERRORS = (exception.VolumeBackendAPIException, exception.VolumeDriverException)
# Cinder's fault names by status; any other status is a "computeFault".
_FAULT_NAMES = {
    400: "badRequest",
    401: "unauthorized",
    403: "forbidden",
    404: "itemNotFound",
    405: "badMethod",
    409: "conflictingRequest",
    413: "overLimit",
    415: "badMediaType",
    501: "notImplemented",
    503: "serviceUnavailable",
}
# The seed's four volume actions and the API actor methods behind them.
_REPLICATION_ACTIONS = {
    "os-enable_replication": "enable_replication",
    "os-disable_replication": "disable_replication",
    "os-failover_replication": "failover_replication",
    "os-list_replication_targets": "list_replication_targets",
}
_VOLUME_FILTERS = (
    "all_tenants",
    "project_id",
    "name",
    "display_name",
    "status",
    "replication_status",
    "limit",
    "marker",
)
# Create-volume fields that name features replisim does not have: refused unless empty.
_UNSUPPORTED_CREATE = (
    "description",
    "snapshot_id",
    "source_volid",
    "imageRef",
    "backup_id",
    "consistencygroup_id",
    "group_id",
    "metadata",
    "multiattach",
)


class HttpError(Exception):
    """A request the REST layer itself refuses (bad URL, body, version or credentials)."""

    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Request:
    """One parsed API request."""

    method: str
    path: tuple[str, ...]  # after ``/v3`` and the optional project id
    query: Mapping[str, str]
    body: Any
    context: RequestContext
    version: Version
    base_url: str
    arrived: float  # on the runtime's clock


class CallRecorder(Protocol):
    """Told of every call a request makes to the API actor; makes the call and returns its result."""

    def __call__(
        self, process: str, f: str, args: Mapping[str, Any], arrived: float, call: Callable[[], Any]
    ) -> Any: ...


@dataclass(frozen=True)
class Reply:
    status: int
    body: Any = None  # None: an empty body
    headers: tuple[tuple[str, str], ...] = ()


def requested_version(header: str | None) -> Version:
    """The microversion an ``OpenStack-API-Version`` header asks for; 3.0 without one."""
    for item in (header or "").split(","):
        service, _, value = item.strip().partition(" ")
        if service.lower() != "volume":
            continue
        value = value.strip()
        if value.lower() == "latest":
            return MAX_VERSION
        match = re.fullmatch(r"(\d+)\.(\d+)", value)
        if not match:
            raise HttpError(400, f"API version {value!r} is not of the form MAJOR.MINOR (such as 3.0).")
        version = (int(match[1]), int(match[2]))
        if not MIN_VERSION <= version <= MAX_VERSION:
            raise HttpError(
                406,
                f"Version {value} is not supported by the API. Minimum is "
                f"{version_text(MIN_VERSION)} and maximum is {version_text(MAX_VERSION)}.",
            )
        return version
    return MIN_VERSION


def fault_body(code: int, message: str) -> dict[str, Any]:
    """Cinder's fault body: ``{"<faultName>": {"code": N, "message": "..."}}``."""
    return {_FAULT_NAMES.get(code, "computeFault"): {"code": code, "message": message}}


def has_credentials(headers: Mapping[str, str]) -> bool:
    """Whether the headers name a caller at all (``request_context`` says who); lower-case names."""
    return bool(headers.get("x-auth-token", "").strip() or headers.get("x-user-id", "").strip())


def request_context(
    headers: Mapping[str, str], url_project: str | None, admin_users: frozenset[str]
) -> RequestContext:
    """Who is asking, read as Cinder's noauth middleware reads it.

    ``X-Auth-Token: user:project`` (a bare ``user`` takes the project from the URL, else its own
    name); without a token, the ``X-User-Id``/``X-Project-Id`` headers an auth proxy would set.
    Admin: a user named in ``admin_users``, or one carrying the ``admin`` role in ``X-Roles``.
    """
    token = headers.get("x-auth-token", "").strip()
    if token:
        user, _, project = token.partition(":")
        project = project or url_project or user
    else:
        user = headers.get("x-user-id", "").strip()
        project = headers.get("x-project-id", "").strip() or url_project or user
    if not user:
        raise HttpError(401, NO_CREDENTIALS)
    if url_project is not None and url_project != project:
        raise HttpError(
            400,
            f"Malformed request URL: the URL's project {url_project!r} is not the "
            f"caller's project {project!r}.",
        )
    roles = tuple(sorted({r.strip().lower() for r in headers.get("x-roles", "").split(",") if r.strip()}))
    return RequestContext(
        user, project, user in admin_users or "admin" in roles, f"req-{uuid.uuid4()}", roles
    )


def _flag(query: Mapping[str, str], name: str) -> bool:
    value = query.get(name, "0").strip().lower()
    flag = configparser.ConfigParser.BOOLEAN_STATES.get(value)
    if flag is not None:
        return flag
    raise HttpError(400, f"Query parameter {name!r} must be a boolean such as 1 or 0, got {value!r}.")


def _object(body: Any, key: str) -> dict[str, Any]:
    """``body[key]`` when it is a JSON object; otherwise a 400 that shows the expected shape."""
    value = body.get(key) if isinstance(body, dict) else None
    if not isinstance(value, dict):
        raise HttpError(400, f"The request body must be a JSON object with a {key!r} object in it.")
    return value


def _json(body: bytes) -> Any:
    try:
        return parse_json(body)
    except BadJson as exc:
        raise HttpError(400, f"The request body is not acceptable: {exc}.") from None


def _size(value: Any) -> int:
    size: int | None = None
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        size = int(value)
    elif isinstance(value, int) and not isinstance(value, bool):
        size = value
    if size is None or size > DB_MAX_INT:  # below 1 is the API actor's to refuse
        shown = value if isinstance(value, int | str) and len(str(value)) <= 40 else f"{str(value)[:40]}..."
        raise HttpError(
            400, f"Volume size must be a whole number of GiB from 1 to {DB_MAX_INT}, got {shown!r}."
        )
    return size


Route = tuple[str, tuple[str, ...], str]


class BlockStorageApi:
    """Routes a request to a controller method, calls the API actor, and shapes the reply."""

    ROUTES: tuple[Route, ...] = (
        ("GET", ("volumes",), "list_volumes"),
        ("GET", ("volumes", "detail"), "list_volumes_detail"),
        ("POST", ("volumes",), "create_volume"),
        ("GET", ("volumes", "*"), "show_volume"),
        ("DELETE", ("volumes", "*"), "delete_volume"),
        ("POST", ("volumes", "*", "action"), "volume_action"),
        ("GET", ("types",), "list_types"),
        ("POST", ("types",), "create_type"),
        ("GET", ("types", "*"), "show_type"),
        ("DELETE", ("types", "*"), "delete_type"),
        ("GET", ("types", "*", "extra_specs"), "list_extra_specs"),
        ("POST", ("types", "*", "extra_specs"), "set_extra_specs"),
        ("GET", ("types", "*", "extra_specs", "*"), "show_extra_spec"),
        ("PUT", ("types", "*", "extra_specs", "*"), "update_extra_spec"),
        ("DELETE", ("types", "*", "extra_specs", "*"), "delete_extra_spec"),
        ("GET", ("os-services",), "list_services"),
    )

    def __init__(
        self,
        runtime: Runtime,
        *,
        admin_users: frozenset[str],
        redactor: Redactor,
        timeout: float = CALL_TIMEOUT,
        recorder: CallRecorder | None = None,
    ):
        self.runtime = runtime
        self.recorder = recorder
        self.admin_users = admin_users
        self.redactor = redactor
        self.timeout = timeout

    # -- the request cycle ---------------------------------------------------------------------

    def handle(
        self, method: str, target: str, headers: Mapping[str, str], body: bytes, base_url: str
    ) -> Reply:
        """Answer one HTTP request; ``headers`` has lower-case names. Never raises."""
        started = time.monotonic()
        arrived = self.runtime.now
        request_id = "-"
        version = MIN_VERSION
        try:
            url = urlsplit(target)
            segments = tuple(s for s in url.path.split("/") if s)
            if segments in ((), ("v3",)):
                reply = self._versions(method, segments, base_url)
            else:
                version = requested_version(headers.get(VERSION_HEADER.lower()))
                project, path = self._split(segments, url.path)
                handler, args = self._route(method, path, url.path)
                context = request_context(headers, project, self.admin_users)
                request_id = context.request_id
                request = Request(
                    method,
                    path,
                    dict(parse_qsl(url.query, keep_blank_values=True)),
                    _json(body),
                    context,
                    version,
                    base_url,
                    arrived,
                )
                reply = handler(request, *args)
        except Exception as exc:
            reply = self._fault(exc, request_id)
        reply = Reply(
            reply.status,
            reply.body,
            (
                *reply.headers,
                (VERSION_HEADER, f"volume {version_text(version)}"),
                ("Vary", VERSION_HEADER),
                ("x-openstack-request-id", request_id),
            ),
        )
        LOG.info(
            "%s",
            self.redactor.text(
                f"{method} {target} -> {reply.status} "
                f"({(time.monotonic() - started) * 1000:.1f} ms) {request_id}"
            ),
        )
        return reply

    def _versions(self, method: str, segments: tuple[str, ...], base_url: str) -> Reply:
        if method != "GET":
            raise HttpError(405, f"{method} is not allowed on the version document; use GET.")
        # Cinder answers the root with 300 Multiple Choices and /v3/ with 200.
        return Reply(300 if not segments else 200, views.versions(base_url))

    @staticmethod
    def _split(segments: tuple[str, ...], where: str) -> tuple[str | None, tuple[str, ...]]:
        """``/v3/{project_id}/volumes`` or ``/v3/volumes``: the project (or None) and the rest."""
        if not segments or segments[0] != "v3":
            raise HttpError(404, f"No API at {where}; this server speaks /v3.")
        rest = segments[1:]
        if rest and rest[0] not in _COLLECTIONS:
            return rest[0], rest[1:]
        return None, rest

    def _route(
        self, method: str, path: tuple[str, ...], where: str
    ) -> tuple[Callable[..., Reply], list[str]]:
        """The controller method for ``method`` on ``path`` and the ids the path holds; else 404/405."""
        allowed = []
        for verb, pattern, name in self.ROUTES:
            if len(pattern) == len(path) and all(p in ("*", s) for p, s in zip(pattern, path, strict=True)):
                if verb == method:
                    return getattr(self, name), [s for p, s in zip(pattern, path, strict=True) if p == "*"]
                allowed.append(verb)
        if allowed:
            raise HttpError(
                405, f"{method} is not allowed on {where}; allowed: {', '.join(sorted(allowed))}."
            )
        raise HttpError(404, f"The resource {where} could not be found.")

    def _fault(self, exc: Exception, request_id: str) -> Reply:
        if isinstance(exc, HttpError):
            code, message = exc.code, exc.message
        elif isinstance(exc, _DRIVER_ERRORS):  # the driver's words: they may hold its credentials
            code, message = exc.code, self.redactor.text(exc.msg)
        elif isinstance(exc, exception.CinderException):  # the control plane's words on the request
            code, message = exc.code, exc.msg
        elif isinstance(exc, KernelError):  # a call that timed out, an actor that is gone
            code, message = 503, f"The volume API is unavailable ({type(exc).__name__}); try again."
        else:
            LOG.error("%s", self.redactor.text(f"{request_id} failed:\n{traceback.format_exc()}"))
            code, message = (
                500,
                (
                    "The server has either erred or is incapable of performing the "
                    f"requested operation (request {request_id})."
                ),
            )
        return Reply(code, fault_body(code, message))

    def _call(self, request: Request, method: str, **args: Any) -> Any:
        client = Client(self.runtime, request.context, self.timeout)
        if self.recorder is None:
            return client(method, **args)
        return self.recorder(
            request.context.project_id,
            method,
            self.redactor.data(args),
            request.arrived,
            lambda: client(method, **args),
        )

    # -- volumes ---------------------------------------------------------------------------------

    def _type_names(self, request: Request) -> dict[str, str]:
        return {t["id"]: t["name"] for t in self._call(request, "list_volume_types")}

    def _detail(
        self, request: Request, volume: Mapping[str, Any], type_names: Mapping[str, str] | None = None
    ) -> dict[str, Any]:
        names = type_names
        if names is None:  # one volume: only the name of its own type, and no call without one
            names = {}
            type_id = volume.get("volume_type_id")
            if type_id:
                with contextlib.suppress(exception.VolumeTypeNotFound):  # the view shows the id
                    names = {type_id: self._call(request, "get_volume_type", type_id=type_id)["name"]}
        reason = volume.get("replication_extended_status")
        if isinstance(reason, str):  # what a manager or driver said: the server's words, not the caller's
            volume = {**volume, "replication_extended_status": self.redactor.text(reason)}
        return views.volume_detail(
            volume,
            names,
            is_admin=request.context.is_admin,
            version=request.version,
            base_url=request.base_url,
        )

    def _volumes(self, request: Request) -> list[dict[str, Any]]:
        """The caller's volumes after Cinder's filters and paging, newest first."""
        query = request.query
        unknown = sorted(set(query) - set(_VOLUME_FILTERS))
        if unknown:
            raise HttpError(
                400,
                f"Invalid filters {', '.join(unknown)} are found in query options; "
                f"supported: {', '.join(_VOLUME_FILTERS)}.",
            )
        volumes = self._call(request, "list_volumes", all_tenants=_flag(query, "all_tenants"))
        wanted = {
            "project_id": query.get("project_id"),
            "display_name": query.get("name"),
            "status": query.get("status"),
            "replication_status": query.get("replication_status"),
        }
        if "display_name" in query:
            wanted["display_name"] = query["display_name"]
        volumes = [v for v in volumes if all(want is None or v[key] == want for key, want in wanted.items())]
        volumes.sort(key=lambda v: (v["created_at"], v["id"]), reverse=True)
        if "marker" in query:
            ids = [v["id"] for v in volumes]
            if query["marker"] not in ids:
                raise HttpError(400, f"Marker {query['marker']!r} is not a volume in this listing.")
            volumes = volumes[ids.index(query["marker"]) + 1 :]
        if "limit" in query:
            if not query["limit"].isdigit():
                raise HttpError(400, f"limit must be a whole number, got {query['limit']!r}.")
            volumes = volumes[: int(query["limit"])]
        return volumes

    def list_volumes(self, request: Request) -> Reply:
        return Reply(
            200, {"volumes": [views.volume_summary(v, request.base_url) for v in self._volumes(request)]}
        )

    def list_volumes_detail(self, request: Request) -> Reply:
        volumes = self._volumes(request)
        names = self._type_names(request)
        return Reply(200, {"volumes": [self._detail(request, v, names) for v in volumes]})

    def show_volume(self, request: Request, volume_id: str) -> Reply:
        return Reply(
            200, {"volume": self._detail(request, self._call(request, "get_volume", volume_id=volume_id))}
        )

    def create_volume(self, request: Request) -> Reply:
        spec = _object(request.body, "volume")
        unsupported = [k for k in _UNSUPPORTED_CREATE if spec.get(k) not in (None, {}, False)]
        zone = spec.get("availability_zone")
        if zone not in (None, views.ZONE):
            unsupported.append("availability_zone")
        if unsupported:
            raise HttpError(
                400,
                f"replisim volumes support size, name, volume_type and availability zone "
                f"{views.ZONE!r} only; this request also sets {', '.join(unsupported)}.",
            )
        if "size" not in spec:
            raise HttpError(400, "A volume needs a 'size' in GiB.")
        name, volume_type = spec.get("name"), spec.get("volume_type")
        for key, value in (("name", name), ("volume_type", volume_type)):
            if value is not None and not isinstance(value, str):
                raise HttpError(400, f"Volume {key} must be a string, got {value!r}.")
        volume = self._call(
            request, "create_volume", size=_size(spec["size"]), name=name, volume_type=volume_type
        )
        return Reply(202, {"volume": self._detail(request, volume)})

    def delete_volume(self, request: Request, volume_id: str) -> Reply:
        # ``cascade`` would delete snapshots; replisim volumes have none, so there is nothing to cascade.
        self._call(request, "delete_volume", volume_id=volume_id)
        return Reply(202)

    def volume_action(self, request: Request, volume_id: str) -> Reply:
        body = request.body
        if not isinstance(body, dict) or len(body) != 1:
            raise HttpError(
                400,
                "An action body is a JSON object with exactly one key, the action's "
                'name, such as {"os-enable_replication": {}}.',
            )
        ((action, info),) = body.items()
        method = _REPLICATION_ACTIONS.get(action)
        if method is None:
            raise HttpError(
                400,
                f"There is no such action: {action}. Supported actions: {', '.join(_REPLICATION_ACTIONS)}.",
            )
        info = {} if info is None else info
        allowed = {"secondary"} if action == "os-failover_replication" else set()
        if not isinstance(info, dict) or set(info) - allowed:
            takes = "an optional 'secondary'" if allowed else "no arguments"
            raise HttpError(400, f"{action} takes {takes}; got {json.dumps(info)}.")
        result = self._call(request, method, volume_id=volume_id, **info)
        if action == "os-list_replication_targets":
            return Reply(200, self.redactor.data(mask_secret_keys(result)))
        return Reply(202)

    # -- volume types and extra specs ------------------------------------------------------------

    def _type_view(self, request: Request, row: Mapping[str, Any]) -> dict[str, Any]:
        return views.volume_type(row, is_admin=request.context.is_admin)

    def list_types(self, request: Request) -> Reply:
        # ``is_public`` is accepted and moot: every replisim volume type is public.
        rows = sorted(self._call(request, "list_volume_types"), key=lambda t: t["name"])
        return Reply(200, {"volume_types": [self._type_view(request, t) for t in rows]})

    def show_type(self, request: Request, type_id: str) -> Reply:
        row = self._call(request, "get_volume_type", type_id=type_id)
        return Reply(200, {"volume_type": self._type_view(request, row)})

    def create_type(self, request: Request) -> Reply:
        spec = _object(request.body, "volume_type")
        if spec.get("os-volume-type-access:is_public", True) is not True:
            raise HttpError(400, "replisim volume types are all public; private types are not supported.")
        specs = spec.get("extra_specs") or {}
        if not isinstance(specs, dict):
            raise HttpError(400, f"extra_specs must be a JSON object, got {specs!r}.")
        row = self._call(
            request,
            "create_volume_type",
            name=spec.get("name"),
            extra_specs=specs,
            description=spec.get("description"),
        )
        return Reply(200, {"volume_type": self._type_view(request, row)})

    def delete_type(self, request: Request, type_id: str) -> Reply:
        self._call(request, "delete_volume_type", type_id=type_id)
        return Reply(202)

    def list_extra_specs(self, request: Request, type_id: str) -> Reply:
        row = self._call(request, "get_volume_type", type_id=type_id)
        return Reply(200, {"extra_specs": dict(row["extra_specs"])})

    def set_extra_specs(self, request: Request, type_id: str) -> Reply:
        specs = _object(request.body, "extra_specs")
        self._call(request, "set_extra_specs", type_id=type_id, extra_specs=specs)
        return Reply(200, {"extra_specs": specs})

    def show_extra_spec(self, request: Request, type_id: str, key: str) -> Reply:
        specs = self._call(request, "get_volume_type", type_id=type_id)["extra_specs"]
        if key not in specs:
            raise HttpError(404, f"Volume type {type_id} has no extra spec {key!r}.")
        return Reply(200, {key: specs[key]})

    def update_extra_spec(self, request: Request, type_id: str, key: str) -> Reply:
        body = request.body
        if not isinstance(body, dict) or set(body) != {key}:
            raise HttpError(400, f"The body must be a JSON object with the one key {key!r}, as in the URL.")
        self._call(request, "set_extra_specs", type_id=type_id, extra_specs=body)
        return Reply(200, body)

    def delete_extra_spec(self, request: Request, type_id: str, key: str) -> Reply:
        self._call(request, "unset_extra_spec", type_id=type_id, key=key)
        return Reply(202)

    # -- services ----------------------------------------------------------------------------------

    def list_services(self, request: Request) -> Reply:
        unknown = sorted(set(request.query) - {"host", "binary"})
        if unknown:
            raise HttpError(400, f"Invalid filters {', '.join(unknown)}; supported: host, binary.")
        rows = [
            {**s, "disabled_reason": self.redactor.data(s["disabled_reason"])}
            for s in self._call(request, "list_services")
            if all(request.query.get(k) in (None, s[k]) for k in ("host", "binary"))
        ]
        return Reply(200, {"services": [views.service(s, version=request.version) for s in rows]})
