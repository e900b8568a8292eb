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
import functools
import json
import logging
import re
import time
import traceback
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlencode, urlsplit

from replisim import exception
from replisim.redaction import Redactor, mask_secret_keys
from replisim.sim import KernelError, Runtime
from replisim.webserver import BadJson, parse_json

from . import views
from .api import VolumeAPI
from .client import Client
from .context import RequestContext
from .db import DEFAULT_TYPE_ID, DEFAULT_TYPE_NAME
from .rest_groups import GROUP_ROUTES, GROUPS_SINCE, GroupsRest
from .views import MAX_VERSION, MIN_VERSION, Version, version_text

LOG = logging.getLogger("replisim.rest")

VERSION_HEADER = "OpenStack-API-Version"
CALL_TIMEOUT = 75.0  # longer than the API actor's own wait for list_replication_targets (60 s)
MAX_BODY = 1 << 20
DB_MAX_INT = 0x7FFFFFFF  # Cinder's bound on a volume's size (cinder.api.validation's volume_size)
NO_CREDENTIALS = "No credentials: send 'X-Auth-Token: USER:PROJECT' (noauth)."
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
    # replisim's own way out of replication_status error (Cinder's os-reset_status cannot change it)
    "os-reset_replication_status": "reset_replication_status",
}
# The arguments each action takes (every one optional but a reset's status, which the API checks).
_ACTION_ARGUMENTS = {
    "os-failover_replication": {"secondary"},
    "os-reset_replication_status": {"replication_status"},
}
# PUT /volumes/{id}: the body's keys and the fields they set (Cinder takes both spellings).
_VOLUME_UPDATE = {
    "name": "display_name",
    "display_name": "display_name",
    "description": "display_description",
    "display_description": "display_description",
    "metadata": "metadata",
}
# The filters a volume listing applies (besides paging and sorting): those ``/resource_filters``
# lists, and Cinder's other spellings of the name. An admin's unknown filter matches nothing, a
# member's is dropped, as in Cinder.
_VOLUME_FILTERS = (*views.RESOURCE_FILTERS["volume"], "display_name", "name~", "display_name~")
# Sort keys (Cinder's names) and the volume fields they sort by.
_SORT_KEYS = {
    "id": "id",
    "name": "display_name",
    "display_name": "display_name",
    "status": "status",
    "size": "size",
    "created_at": "created_at",
    "updated_at": "updated_at",
    "bootable": "bootable",
    "project_id": "project_id",
    "user_id": "user_id",
    "volume_type_id": "volume_type_id",
    "replication_status": "replication_status",
    "host": "host",
}
LIKE_FILTERS_SINCE: Version = (3, 34)
COUNT_SINCE: Version = (3, 45)
SUMMARY_SINCE: Version = (3, 12)
SUMMARY_METADATA_SINCE: Version = (3, 36)
POOL_FILTERS_SINCE: Version = (3, 28)
RESOURCE_FILTERS_SINCE: Version = (3, 33)
POOL_TYPE_FILTER_SINCE: Version = (3, 35)
# Create-volume fields that name features replisim does not have: refused unless empty.
_UNSUPPORTED_CREATE = (
    "snapshot_id",
    "source_volid",
    "imageRef",
    "backup_id",
    "consistencygroup_id",
    "multiattach",
)


class HttpError(Exception):
    """A request the REST layer itself refuses (bad URL, body, version or credentials).

    ``version``: the microversion the answer names in its ``OpenStack-API-Version`` header (as
    Cinder echoes one it cannot serve), if not the request's."""

    def __init__(self, code: int, message: str, *, version: Version | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.version = version


class NoRoute(Exception):
    """No route has this method and path: Cinder's router answers before any API code runs, with
    webob's page as JSON and no microversion header."""


# What Cinder's router answers (webob's HTTPNotFound as JSON) for a path or a method it has no route for.
NO_ROUTE_BODY = {
    "message": "The resource could not be found.<br /><br />\n\n\n",
    "code": "404 Not Found",
    "title": "Not Found",
}
# webob's HTTPBadRequest text: Cinder's answer to a body sent to the version document.
NOT_COMPLIANT = (
    "The server could not comply with the request since it is either malformed or otherwise incorrect."
)


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
    """The microversion an ``OpenStack-API-Version`` header asks for; 3.0 without one. Refused
    as Cinder refuses it: a malformed one with 400, one out of range with 406 (naming it in the
    answer's header when its major version is 3, as Cinder does)."""
    for item in (header or "").split(","):
        service, _, value = item.strip().partition(" ")
        if service.lower() != "volume":
            continue
        value = value.strip()
        if value.lower() == "latest":
            return MAX_VERSION
        match = re.fullmatch(r"(\d{1,9})\.(\d{1,9})", value)
        if not match:
            raise HttpError(
                400, f"API Version String {value} is of invalid format. Must be of format MajorNum.MinorNum."
            )
        version = (int(match[1]), int(match[2]))
        if not MIN_VERSION <= version <= MAX_VERSION:
            raise HttpError(
                406,
                f"Version {value} is not supported by the API. Minimum is "
                f"{version_text(MIN_VERSION)} and maximum is {version_text(MAX_VERSION)}.",
                version=version if version[0] == MIN_VERSION[0] else None,
            )
        return version
    return MIN_VERSION


def fault_body(code: int, message: str) -> dict[str, Any]:
    """Cinder's fault body: ``{"<faultName>": {"code": N, "message": "..."}}``."""
    return {_FAULT_NAMES.get(code, "computeFault"): {"code": code, "message": message}}


def _quota_fault(exc: exception.QuotaError) -> Reply:
    """Cinder's answer to a request beyond quota: 413 ``overLimit``, the exception's name before
    its message, and when to retry (at once: nothing frees quota but the caller)."""
    body = fault_body(exc.code, f"{type(exc).__name__}: {exc.msg}")
    body[_FAULT_NAMES[exc.code]]["retryAfter"] = "0"
    return Reply(exc.code, body, (("Retry-After", "0"),))


def has_credentials(headers: Mapping[str, str]) -> bool:
    """Whether the headers name a caller at all (``request_context`` says who); lower-case names."""
    return bool(headers.get("x-auth-token", "").strip() or headers.get("x-user-id", "").strip())


def request_context(
    headers: Mapping[str, str],
    url_project: str | None,
    admin_users: frozenset[str],
    request_id: str | None = None,
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
        user, project, user in admin_users or "admin" in roles, request_id or new_request_id(), roles
    )


def new_request_id() -> str:
    """Cinder's form; every answer carries one, a refused request's too."""
    return f"req-{uuid.uuid4()}"


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


def _metadata(value: Any) -> dict[str, str]:
    """A metadata object as a client sends it; the API actor checks lengths."""
    if not isinstance(value, dict):
        raise HttpError(400, f"Invalid input for field/attribute metadata: {value!r} is not an object.")
    bad = [k for k, v in value.items() if not isinstance(v, str)]
    if bad:
        raise HttpError(
            400, f"Invalid input for field/attribute metadata: the value of {bad[0]!r} is not a string."
        )
    return dict(value)


def _only(
    info: Mapping[str, Any], action: str, *, required: tuple[str, ...] = (), optional: tuple[str, ...] = ()
) -> None:
    """400 unless an action's arguments are ``required`` plus some of ``optional``."""
    missing = [k for k in required if k not in info]
    unknown = sorted(set(info) - set(required) - set(optional))
    if missing or unknown:
        wanted = ", ".join(repr(k) for k in (*required, *optional))
        problem = f"'{missing[0]}' is a required property" if missing else f"{unknown[0]!r} was unexpected"
        raise HttpError(400, f"Invalid input for {action}: {problem}; it takes {wanted}.")


def _strict_bool(value: Any, action: str, key: str) -> bool:
    """A boolean as Cinder reads one strictly: true/false, yes/no, on/off, 1/0, y/n, t/f."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "t", "true", "on", "y", "yes"):
        return True
    if text in ("0", "f", "false", "off", "n", "no"):
        return False
    raise HttpError(400, f"Invalid input for {action}: {key} {value!r} is not a boolean (true or false).")


def _sort_order(sort: str | None, sort_key: str | None, sort_dir: str | None) -> list[tuple[str, bool]]:
    """``sort=k1:asc,k2`` or ``sort_key``/``sort_dir`` as (field, descending) pairs; Cinder's
    default is newest first, and ``id`` (descending) always breaks ties."""
    if sort is not None and (sort_key is not None or sort_dir is not None):
        raise HttpError(
            400, "The 'sort_key' and 'sort_dir' parameters are deprecated and cannot be used with 'sort'."
        )
    pairs: list[tuple[str, str]] = []
    if sort is not None:
        for item in sort.split(","):
            key, _, direction = item.strip().partition(":")
            pairs.append((key.strip(), direction.strip() or "desc"))
    else:
        pairs.append((sort_key or "created_at", sort_dir or "desc"))
    order = []
    for key, direction in pairs:
        if key not in _SORT_KEYS:
            raise HttpError(
                400,
                f"Invalid input received: Invalid sort key {key!r}; sort by one of {', '.join(_SORT_KEYS)}.",
            )
        if direction.lower() not in ("asc", "desc"):
            raise HttpError(
                400, f"Invalid input received: Unknown sort direction {direction!r}, must be 'desc' or 'asc'."
            )
        order.append((_SORT_KEYS[key], direction.lower() == "desc"))
    if all(field != "id" for field, _ in order):
        order.append(("id", True))
    return order


def _sortable(field: str, volume: Mapping[str, Any]) -> tuple[bool, Any]:
    """A volume's sort key by ``field``: None sorts first ascending (as in SQL), beside any one type."""
    value = volume[field]
    return (value is not None, value if value is not None else 0)


def _volume_filter(key: str, value: str, version: Version) -> Callable[[Mapping[str, Any]], bool]:
    """One listing filter as a test of a volume row."""
    field = {"name": "display_name", "name~": "display_name~"}.get(key, key)
    if field.endswith("~"):
        return lambda v: value in (v[field[:-1]] or "")
    if field == "availability_zone":
        return lambda v: value == views.ZONE
    if field == "bootable":
        flag = configparser.ConfigParser.BOOLEAN_STATES.get(value.strip().lower())
        if flag is None:
            raise HttpError(400, f"Invalid input received: bootable={value!r} is not a boolean.")
        return lambda v: v["bootable"] is flag
    if field == "metadata":
        try:
            wanted = json.loads(value)
        except ValueError:
            wanted = None
        if not isinstance(wanted, dict):
            raise HttpError(400, f"Invalid input received: metadata={value!r} is not a JSON object.")
        pairs = {str(k): str(v) for k, v in wanted.items()}
        return lambda v: all(v["metadata"].get(k) == want for k, want in pairs.items())
    if field not in ("project_id", "display_name", "status", "replication_status"):
        return lambda v: False  # an admin's filter on a field volumes do not have
    return lambda v: v[field] == value


Route = tuple[str, tuple[str, ...], str]


class BlockStorageApi(GroupsRest):
    """Routes a request to a controller method, calls the API actor, and shapes the reply (the
    group controllers are ``GroupsRest``'s)."""

    ROUTES: tuple[Route, ...] = (
        ("GET", ("volumes",), "list_volumes"),
        ("GET", ("volumes", "detail"), "list_volumes_detail"),
        ("GET", ("volumes", "summary"), "volume_summary"),
        ("POST", ("volumes",), "create_volume"),
        ("GET", ("volumes", "*"), "show_volume"),
        ("PUT", ("volumes", "*"), "update_volume"),
        ("DELETE", ("volumes", "*"), "delete_volume"),
        ("POST", ("volumes", "*", "action"), "volume_action"),
        ("GET", ("volumes", "*", "metadata"), "list_metadata"),
        ("POST", ("volumes", "*", "metadata"), "merge_metadata"),
        ("PUT", ("volumes", "*", "metadata"), "replace_metadata"),
        ("GET", ("volumes", "*", "metadata", "*"), "show_metadata_item"),
        ("PUT", ("volumes", "*", "metadata", "*"), "update_metadata_item"),
        ("DELETE", ("volumes", "*", "metadata", "*"), "delete_metadata_item"),
        ("GET", ("types",), "list_types"),
        ("POST", ("types",), "create_type"),
        ("GET", ("types", "default"), "show_default_type"),
        ("GET", ("types", "*"), "show_type"),
        ("PUT", ("types", "*"), "update_type"),
        ("DELETE", ("types", "*"), "delete_type"),
        ("GET", ("types", "*", "extra_specs"), "list_extra_specs"),
        ("POST", ("types", "*", "extra_specs"), "set_extra_specs"),
        ("GET", ("types", "*", "extra_specs", "*"), "show_extra_spec"),
        ("PUT", ("types", "*", "extra_specs", "*"), "update_extra_spec"),
        ("DELETE", ("types", "*", "extra_specs", "*"), "delete_extra_spec"),
        ("GET", ("os-services",), "list_services"),
        ("PUT", ("os-services", "*"), "update_service"),
        ("GET", ("os-availability-zone",), "list_availability_zones"),
        ("GET", ("limits",), "show_limits"),
        ("GET", ("os-quota-sets", "*"), "show_quotas"),
        ("PUT", ("os-quota-sets", "*"), "update_quotas"),
        ("DELETE", ("os-quota-sets", "*"), "delete_quotas"),
        ("GET", ("os-quota-sets", "*", "defaults"), "show_quota_defaults"),
        ("GET", ("os-quota-class-sets", "*"), "show_quota_class"),
        ("PUT", ("os-quota-class-sets", "*"), "update_quota_class"),
        ("GET", ("scheduler-stats", "get_pools"), "get_pools"),
        ("GET", ("extensions",), "list_extensions"),
        ("GET", ("resource_filters",), "list_resource_filters"),
        *GROUP_ROUTES,
    )
    # A path's first segment that names a collection, not a project (``/v3/volumes``).
    collections = frozenset(pattern[0] for _, pattern, _ in ROUTES)

    def __init__(
        self,
        runtime: Runtime,
        *,
        admin_users: frozenset[str],
        redactor: Redactor,
        timeout: float = CALL_TIMEOUT,
        recorder: CallRecorder | None = None,
        reads: VolumeAPI | None = None,
    ):
        self.runtime = runtime
        self.recorder = recorder
        # Live, the API actor itself: its READS run on the request's thread (a poll does not wait
        # in the actor's inbox behind creates); everything else is a call through the inbox.
        self.reads = reads
        self.admin_users = admin_users
        self.redactor = redactor
        self.timeout = timeout
        # The routes by method and path length, in ROUTES' order: a request looks only at those
        # that could match it (every poll is one).
        self._routes: dict[tuple[str, int], list[tuple[tuple[str, ...], str]]] = {}
        for verb, pattern, name in self.ROUTES:
            self._routes.setdefault((verb, len(pattern)), []).append((pattern, name))

    # -- the request cycle ---------------------------------------------------------------------

    def handle(
        self, method: str, target: str, headers: Mapping[str, str], body: bytes, base_url: str
    ) -> Reply:
        """Answer one HTTP request; ``headers`` has lower-case names. Never raises."""
        started = time.monotonic()
        arrived = self.runtime.now
        request_id = new_request_id()
        version: Version | None = None  # the one the answer names; None: no header, as Cinder's router
        try:
            url = urlsplit(target)
            segments = tuple(s for s in url.path.split("/") if s)
            if url.path == "/v3":
                reply = Reply(302, None, (("Location", f"{base_url}/v3/"),))
            elif segments in ((), ("v3",)):
                version = requested_version(headers.get(VERSION_HEADER.lower()))
                reply = self._versions(segments, body, base_url)
            else:
                project, path = self._split(segments)
                handler, args = self._route(method, path)
                version = requested_version(headers.get(VERSION_HEADER.lower()))
                context = request_context(headers, project, self.admin_users, request_id)
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
        except NoRoute:
            version, reply = None, Reply(404, NO_ROUTE_BODY)
        except HttpError as exc:
            version, reply = exc.version if version is None else version, self._fault(exc, request_id)
        except Exception as exc:
            reply = self._fault(exc, request_id)
        echo = (
            ()
            if version is None
            else ((VERSION_HEADER, f"volume {version_text(version)}"), ("Vary", VERSION_HEADER))
        )
        reply = Reply(
            reply.status, reply.body, (*reply.headers, *echo, ("x-openstack-request-id", request_id))
        )
        LOG.info(
            "%s",
            self.redactor.text(
                f"{method} {target} -> {reply.status} "
                f"({(time.monotonic() - started) * 1000:.1f} ms) {request_id}"
            ),
        )
        return reply

    @staticmethod
    def _versions(segments: tuple[str, ...], body: bytes, base_url: str) -> Reply:
        """The version document, whatever the method, as Cinder's router maps every method to
        it; a body it cannot take (Cinder's controller has no argument for one) is a 400."""
        if body.strip():
            _json(body)
            raise HttpError(400, NOT_COMPLIANT)
        # Cinder answers the root with 300 Multiple Choices and /v3/ with 200.
        return Reply(300 if not segments else 200, views.versions(base_url))

    def _split(self, segments: tuple[str, ...]) -> tuple[str | None, tuple[str, ...]]:
        """``/v3/{project_id}/volumes`` or ``/v3/volumes``: the project (or None) and the rest."""
        if not segments or segments[0] != "v3":
            raise NoRoute
        rest = segments[1:]
        if rest and rest[0] not in self.collections:
            return rest[0], rest[1:]
        return None, rest

    def _route(self, method: str, path: tuple[str, ...]) -> tuple[Callable[..., Reply], list[str]]:
        """The controller method for ``method`` on ``path`` and the ids the path holds; else
        ``NoRoute`` (Cinder's router has no 405: a method a path lacks is as unknown as the path)."""
        for pattern, name in self._routes.get((method, len(path)), ()):
            if all(p in ("*", s) for p, s in zip(pattern, path, strict=True)):
                return getattr(self, name), [s for p, s in zip(pattern, path, strict=True) if p == "*"]
        raise NoRoute

    def _fault(self, exc: Exception, request_id: str) -> Reply:
        if isinstance(exc, exception.QuotaError):
            return _quota_fault(exc)
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
        call: Callable[[], Any]
        if self.reads is not None and method in VolumeAPI.READS:
            handler = getattr(self.reads, method)
            context = request.context.to_dict()
            call = functools.partial(handler, context, **args)
        else:
            call = functools.partial(Client(self.runtime, request.context, self.timeout), method, **args)
        if self.recorder is None:
            return call()
        return self.recorder(
            request.context.project_id, method, self.redactor.data(args), request.arrived, call
        )

    # -- volumes ---------------------------------------------------------------------------------

    def _type_names(self, request: Request) -> dict[str, str]:
        return {t["id"]: t["name"] for t in self._call(request, "list_volume_types")}

    def _detail(
        self,
        request: Request,
        volume: Mapping[str, Any],
        type_names: Mapping[str, str] | None = None,
        *,
        extended: bool = True,
    ) -> dict[str, Any]:
        names = type_names
        if names is None:  # one volume: only the name of its own type (an untyped one shows the default)
            type_id = volume.get("volume_type_id") or DEFAULT_TYPE_ID
            # the default type can be neither renamed nor deleted: its name needs no look-up
            names = {DEFAULT_TYPE_ID: DEFAULT_TYPE_NAME}
            if type_id != DEFAULT_TYPE_ID:
                names = {}
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
            extended=extended,
        )

    def _volumes(self, request: Request) -> tuple[list[dict[str, Any]], int]:
        """The caller's volumes after Cinder's filters, sort and paging, and how many matched."""
        query = dict(request.query)
        limit = query.pop("limit", None)
        marker = query.pop("marker", None)
        order = _sort_order(query.pop("sort", None), query.pop("sort_key", None), query.pop("sort_dir", None))
        for paging in ("with_count", "offset", "all_tenants"):
            query.pop(paging, None)
        if request.version < LIKE_FILTERS_SINCE:
            query = {k: v for k, v in query.items() if not k.endswith("~")}
        if not request.context.is_admin:  # Cinder drops a member's unknown filters
            query = {k: v for k, v in query.items() if k in _VOLUME_FILTERS}
        wanted = [_volume_filter(key, value, request.version) for key, value in query.items()]
        volumes = self._call(request, "list_volumes", all_tenants=_flag(request.query, "all_tenants"))
        volumes = [v for v in volumes if all(matches(v) for matches in wanted)]
        for field, descending in reversed(order):  # stable sorts, the last key first
            volumes.sort(key=functools.partial(_sortable, field), reverse=descending)
        matched = len(volumes)
        if marker is not None:
            ids = [v["id"] for v in volumes]
            if marker not in ids:
                raise exception.VolumeNotFound(volume_id=marker)
            volumes = volumes[ids.index(marker) + 1 :]
        if limit is not None:
            if not limit.isdigit():
                raise HttpError(400, f"limit must be a whole number, got {limit!r}.")
            volumes = volumes[: int(limit)]
        return volumes, matched

    def _listing(
        self, request: Request, collection: str, shown: list[dict[str, Any]], page: list[Any], matched: int
    ) -> Reply:
        """A volume listing with Cinder's ``volumes_links`` (a full page has a next link) and ``count``."""
        body: dict[str, Any] = {"volumes": shown}
        limit = request.query.get("limit")
        if page and limit is not None and len(page) == int(limit):
            params = [(k, v) for k, v in request.query.items() if k != "marker"]
            query = urlencode([*params, ("marker", page[-1]["id"])], safe="~:")
            project = request.context.project_id
            body["volumes_links"] = [
                {"rel": "next", "href": f"{request.base_url}/v3/{project}/{collection}?{query}"}
            ]
        if request.version >= COUNT_SINCE and _flag(request.query, "with_count"):
            body["count"] = matched
        return Reply(200, body)

    def list_volumes(self, request: Request) -> Reply:
        volumes, matched = self._volumes(request)
        shown = [views.volume_summary(v, request.base_url) for v in volumes]
        return self._listing(request, "volumes", shown, volumes, matched)

    def list_volumes_detail(self, request: Request) -> Reply:
        volumes, matched = self._volumes(request)
        names = self._type_names(request)
        shown = [self._detail(request, v, names) for v in volumes]
        return self._listing(request, "volumes/detail", shown, volumes, matched)

    def volume_summary(self, request: Request) -> Reply:
        """``/volumes/summary`` (3.12): how many, how big, and (3.36) every metadata value in use."""
        if request.version < SUMMARY_SINCE:
            raise exception.VolumeNotFound(volume_id="summary")
        volumes = self._call(request, "list_volumes", all_tenants=_flag(request.query, "all_tenants"))
        summary: dict[str, Any] = {
            "total_count": len(volumes),
            "total_size": sum(v["size"] or 0 for v in volumes),
        }
        if request.version >= SUMMARY_METADATA_SINCE:
            values: dict[str, set[str]] = {}
            for volume in volumes:
                for key, value in volume["metadata"].items():
                    values.setdefault(key, set()).add(value)
            summary["metadata"] = {key: sorted(found) for key, found in sorted(values.items())}
        return Reply(200, {"volume-summary": summary})

    def show_volume(self, request: Request, volume_id: str) -> Reply:
        return Reply(
            200, {"volume": self._detail(request, self._call(request, "get_volume", volume_id=volume_id))}
        )

    def create_volume(self, request: Request) -> Reply:
        spec = _object(request.body, "volume")
        unsupported = [k for k in _UNSUPPORTED_CREATE if spec.get(k) not in (None, {}, False)]
        zone = spec.get("availability_zone")
        if zone not in (None, views.ZONE):
            raise exception.InvalidInput(
                reason=f"Availability zone '{zone}' is invalid; this deployment has {views.ZONE!r} only."
            )
        if unsupported:
            raise HttpError(
                400,
                f"replisim volumes are made empty: size, name, description, metadata, volume_type "
                f"and availability_zone only; this request also sets {', '.join(unsupported)}.",
            )
        if "size" not in spec:
            raise HttpError(400, "A volume needs a 'size' in GiB.")
        name = spec.get("name", spec.get("display_name"))
        description = spec.get("description", spec.get("display_description"))
        volume_type = spec.get("volume_type")
        for key, value in (("name", name), ("description", description), ("volume_type", volume_type)):
            if value is not None and not isinstance(value, str):
                raise HttpError(400, f"Volume {key} must be a string, got {value!r}.")
        group_id = spec.get("group_id") if request.version >= GROUPS_SINCE else None
        if group_id is not None and not isinstance(group_id, str):
            raise HttpError(400, f"Volume group_id must be a string, got {group_id!r}.")
        volume = self._call(
            request,
            "create_volume",
            size=_size(spec["size"]),
            name=name,
            volume_type=volume_type,
            description=description,
            metadata=_metadata(spec.get("metadata") or {}),
            **({"group_id": group_id} if group_id is not None else {}),
        )
        return Reply(202, {"volume": self._detail(request, volume, extended=False)})

    def update_volume(self, request: Request, volume_id: str) -> Reply:
        spec = _object(request.body, "volume")
        unknown = sorted(set(spec) - set(_VOLUME_UPDATE))
        if unknown:
            raise HttpError(
                400,
                f"Invalid input for field/attribute volume: {', '.join(unknown)} cannot be updated; "
                f"a volume's {', '.join(sorted(_VOLUME_UPDATE))} can.",
            )
        values = {_VOLUME_UPDATE[k]: v for k, v in spec.items()}
        for key in ("display_name", "display_description"):
            if values.get(key) is not None and not isinstance(values[key], str):
                raise HttpError(400, f"Volume {key.removeprefix('display_')} must be a string.")
        if "metadata" in values:
            values["metadata"] = _metadata(values["metadata"])
        volume = self._call(request, "update_volume", volume_id=volume_id, **values)
        return Reply(200, {"volume": self._detail(request, volume, extended=False)})

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
                'name, such as {"os-extend": {"new_size": 2}}.',
            )
        ((action, info),) = body.items()
        if action in _REPLICATION_ACTIONS:
            return self._replication_action(request, volume_id, action, info)
        handler = _VOLUME_ACTIONS.get(action)
        if handler is None:
            raise HttpError(
                400,
                f"There is no such action: {action}. Verify the request body and Content-Type "
                "header and try again.",
            )
        if not isinstance(info, dict):
            raise HttpError(400, f"{action} takes a JSON object, got {json.dumps(info)}.")
        return handler(self, request, volume_id, info)

    def _replication_action(self, request: Request, volume_id: str, action: str, info: Any) -> Reply:
        info = {} if info is None else info
        allowed = _ACTION_ARGUMENTS.get(action, set())
        if not isinstance(info, dict) or set(info) - allowed:
            takes = " or ".join(f"an optional '{name}'" for name in sorted(allowed)) or "no arguments"
            raise HttpError(400, f"{action} takes {takes}; got {json.dumps(info)}.")
        result = self._call(request, _REPLICATION_ACTIONS[action], volume_id=volume_id, **info)
        if action == "os-list_replication_targets":
            return Reply(200, self.redactor.data(mask_secret_keys(result)))
        return Reply(202)

    def _extend(self, request: Request, volume_id: str, info: Mapping[str, Any]) -> Reply:
        _only(info, "os-extend", required=("new_size",))
        new_size = info["new_size"]
        if isinstance(new_size, str) and new_size.strip().isdigit():
            new_size = int(new_size)
        if isinstance(new_size, bool) or not isinstance(new_size, int) or new_size < 1:
            raise HttpError(400, f"os-extend: new_size must be a whole number of GiB, got {new_size!r}.")
        self._call(request, "extend_volume", volume_id=volume_id, new_size=new_size)
        return Reply(202)

    def _reset_status(self, request: Request, volume_id: str, info: Mapping[str, Any]) -> Reply:
        _only(info, "os-reset_status", optional=("status", "attach_status", "migration_status"))
        for key, value in info.items():
            if value is not None and not isinstance(value, str):
                raise HttpError(400, f"os-reset_status: {key} must be a string, got {value!r}.")
        self._call(request, "reset_status", volume_id=volume_id, **info)
        return Reply(202)

    def _set_bootable(self, request: Request, volume_id: str, info: Mapping[str, Any]) -> Reply:
        _only(info, "os-set_bootable", required=("bootable",))
        bootable = _strict_bool(info["bootable"], "os-set_bootable", "bootable")
        self._call(request, "update_volume", volume_id=volume_id, bootable=bootable)
        return Reply(200)

    def _update_readonly_flag(self, request: Request, volume_id: str, info: Mapping[str, Any]) -> Reply:
        _only(info, "os-update_readonly_flag", required=("readonly",))
        readonly = _strict_bool(info["readonly"], "os-update_readonly_flag", "readonly")
        self._call(request, "update_readonly_flag", volume_id=volume_id, readonly=readonly)
        return Reply(202)

    # -- volume metadata -------------------------------------------------------------------------

    def list_metadata(self, request: Request, volume_id: str) -> Reply:
        return Reply(200, {"metadata": self._call(request, "get_volume_metadata", volume_id=volume_id)})

    def _set_metadata(self, request: Request, volume_id: str, *, delete: bool) -> Reply:
        metadata = _metadata(_object(request.body, "metadata"))
        result = self._call(
            request, "update_volume_metadata", volume_id=volume_id, metadata=metadata, delete=delete
        )
        return Reply(200, {"metadata": result})

    def merge_metadata(self, request: Request, volume_id: str) -> Reply:
        return self._set_metadata(request, volume_id, delete=False)

    def replace_metadata(self, request: Request, volume_id: str) -> Reply:
        return self._set_metadata(request, volume_id, delete=True)

    def show_metadata_item(self, request: Request, volume_id: str, key: str) -> Reply:
        metadata = self._call(request, "get_volume_metadata", volume_id=volume_id)
        if key not in metadata:
            raise exception.MetadataNotFound(volume_id=volume_id, key=key)
        return Reply(200, {"meta": {key: metadata[key]}})

    def update_metadata_item(self, request: Request, volume_id: str, key: str) -> Reply:
        meta = _metadata(_object(request.body, "meta"))
        if set(meta) != {key}:
            raise HttpError(
                400,
                "Request body and URI mismatch" if len(meta) == 1 else "Request body contains too many items",
            )
        self._call(request, "update_volume_metadata", volume_id=volume_id, metadata=meta)
        return Reply(200, {"meta": meta})

    def delete_metadata_item(self, request: Request, volume_id: str, key: str) -> Reply:
        self._call(request, "delete_volume_metadata", volume_id=volume_id, key=key)
        return Reply(200)

    # -- volume types and extra specs ------------------------------------------------------------

    def _type_view(
        self, request: Request, row: Mapping[str, Any], *, qos: bool = True, access: bool = True
    ) -> dict[str, Any]:
        return views.volume_type(row, is_admin=request.context.is_admin, qos=qos, access=access)

    def list_types(self, request: Request) -> Reply:
        # ``is_public`` is accepted and moot: every replisim volume type is public. Newest first.
        rows = sorted(
            self._call(request, "list_volume_types"), key=lambda t: (t["created_at"], t["id"]), reverse=True
        )
        return Reply(200, {"volume_types": [self._type_view(request, t) for t in rows]})

    def show_type(self, request: Request, type_id: str) -> Reply:
        row = self._call(request, "get_volume_type", type_id=type_id)
        return Reply(200, {"volume_type": self._type_view(request, row)})

    def show_default_type(self, request: Request) -> Reply:
        row = self._call(request, "get_default_volume_type")
        return Reply(200, {"volume_type": self._type_view(request, row, access=False)})

    def update_type(self, request: Request, type_id: str) -> Reply:
        spec = _object(request.body, "volume_type")
        unknown = sorted(set(spec) - {"name", "description", "is_public"})
        if unknown:
            raise HttpError(
                400, f"A volume type's name, description and is_public can change, not {unknown[0]!r}."
            )
        if spec.get("is_public", True) is not True:
            raise HttpError(400, "replisim volume types are all public; private types are not supported.")
        for key in ("name", "description"):
            if spec.get(key) is not None and not isinstance(spec[key], str):
                raise HttpError(400, f"A volume type's {key} must be a string.")
        row = self._call(
            request,
            "update_volume_type",
            type_id=type_id,
            name=spec.get("name"),
            description=spec.get("description"),
        )
        return Reply(200, {"volume_type": self._type_view(request, row, qos=False, access=False)})

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
        return Reply(200, {"volume_type": self._type_view(request, row, qos=False)})

    def delete_type(self, request: Request, type_id: str) -> Reply:
        self._call(request, "delete_volume_type", type_id=type_id)
        return Reply(202)

    def _extra_specs(self, request: Request, type_id: str) -> dict[str, str]:
        row = self._call(request, "get_volume_type", type_id=type_id)
        return views.visible_extra_specs(row["extra_specs"], is_admin=request.context.is_admin)

    def list_extra_specs(self, request: Request, type_id: str) -> Reply:
        return Reply(200, {"extra_specs": self._extra_specs(request, type_id)})

    def set_extra_specs(self, request: Request, type_id: str) -> Reply:
        specs = _object(request.body, "extra_specs")
        self._call(request, "set_extra_specs", type_id=type_id, extra_specs=specs)
        return Reply(200, {"extra_specs": specs})

    def show_extra_spec(self, request: Request, type_id: str, key: str) -> Reply:
        specs = self._extra_specs(request, type_id)
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

    def update_service(self, request: Request, action: str) -> Reply:
        """``PUT /os-services/{action}``: Cinder 29's routes (its router has no ``failover``)."""
        handler = _SERVICE_ACTIONS.get(action)
        if handler is None:  # Cinder's controller answers webob's bare 404, as its router does
            raise NoRoute
        body = request.body if request.body is not None else {}
        if not isinstance(body, dict):
            raise HttpError(400, f"Invalid input for field/attribute body. Value: {body!r}. Not an object.")
        return handler(self, request, body)

    def _freeze(self, request: Request, body: dict[str, Any]) -> Reply:
        host = _service_host(
            body, {"host", "cluster"}, request.version, clustered=request.version >= CLUSTER_SINCE
        )
        self._call(request, "freeze_host", host=host)
        return Reply(200)

    def _thaw(self, request: Request, body: dict[str, Any]) -> Reply:
        host = _service_host(
            body, {"host", "cluster"}, request.version, clustered=request.version >= CLUSTER_SINCE
        )
        error = self._call(request, "thaw_host", host=host)
        if error:
            raise HttpError(400, f"Invalid input received: {error}")
        return Reply(200)

    def _failover_host(self, request: Request, body: dict[str, Any]) -> Reply:
        host = _service_host(
            body,
            {"host", "cluster", "backend_id"},
            request.version,
            clustered=request.version >= CLUSTER_SINCE,
        )
        backend_id = body.get("backend_id")
        if backend_id is not None and not isinstance(backend_id, str):
            raise HttpError(400, f"Invalid input for field/attribute backend_id. Value: {backend_id!r}.")
        self._call(request, "failover_host", host=host, backend_id=backend_id)
        return Reply(202)

    def _reset_active_backend(self, request: Request, body: dict[str, Any]) -> Reply:
        """replisim's own (Cinder has it as ``cinder-manage reset_active_backend``, on the DB)."""
        host = _service_host(body, {"host"}, request.version, clustered=False)
        row = self._call(request, "reset_active_backend", host=host)
        services = self._call(request, "list_services")
        state = next((s["state"] for s in services if s["id"] == row["id"]), "down")
        return Reply(200, {"service": views.service({**row, "state": state}, version=request.version)})

    def _set_service(self, request: Request, body: dict[str, Any], *, disabled: bool, reason: bool) -> Reply:
        allowed = {"host", "binary", "cluster", "service", *({"disabled_reason"} if reason else ())}
        host = _service_host(body, allowed, request.version, clustered=False)
        for key in ("binary", "service", *(("disabled_reason",) if reason else ())):
            value = body.get(key)
            if value is not None and (not isinstance(value, str) or not 1 <= len(value) <= 255):
                raise HttpError(400, f"Invalid input for field/attribute {key}. Value: {value!r}.")
        if "binary" not in body and "service" not in body:
            raise HttpError(400, "Invalid input for field/attribute body. 'binary' is a required property.")
        binary, service = body.get("binary", ""), body.get("service", "")
        why = body.get("disabled_reason") if reason else None
        if reason and why is not None and not why.strip():
            raise HttpError(400, "Invalid input for field/attribute disabled_reason. Value: blank.")
        self._call(
            request,
            "set_service_disabled",
            host=host,
            binary=binary or service,
            disabled=disabled,
            reason=why,
        )
        answer = {"host": host, "service": service, "binary": binary}
        answer.update(status="disabled" if disabled else "enabled", disabled=disabled)
        if reason:
            answer["disabled_reason"] = why
        return Reply(200, answer)

    # -- availability zones ------------------------------------------------------------------------

    def list_availability_zones(self, request: Request) -> Reply:
        """replisim has Cinder's default zone only, always available (every user may list it)."""
        return Reply(
            200, {"availabilityZoneInfo": [{"zoneName": views.ZONE, "zoneState": {"available": True}}]}
        )

    # -- quotas and limits -------------------------------------------------------------------------

    def show_quotas(self, request: Request, project_id: str) -> Reply:
        limits = self._call(request, "get_quotas", project_id=project_id, usage=_flag(request.query, "usage"))
        return Reply(200, {"quota_set": {**limits, "id": project_id}})

    def show_quota_defaults(self, request: Request, project_id: str) -> Reply:
        limits = self._call(request, "get_quota_defaults", project_id=project_id)
        return Reply(200, {"quota_set": {**limits, "id": project_id}})

    def update_quotas(self, request: Request, project_id: str) -> Reply:
        values = _object(request.body, "quota_set")
        limits = self._call(request, "update_quotas", project_id=project_id, limits=values)
        return Reply(200, {"quota_set": limits})

    def delete_quotas(self, request: Request, project_id: str) -> Reply:
        self._call(request, "delete_quotas", project_id=project_id)
        return Reply(200)

    def show_quota_class(self, request: Request, class_name: str) -> Reply:
        limits = self._call(request, "get_quota_class", class_name=class_name)
        return Reply(200, {"quota_class_set": {**limits, "id": class_name}})

    def update_quota_class(self, request: Request, class_name: str) -> Reply:
        values = _object(request.body, "quota_class_set")
        limits = self._call(request, "update_quota_class", class_name=class_name, limits=values)
        return Reply(200, {"quota_class_set": limits})

    def show_limits(self, request: Request) -> Reply:
        return Reply(200, views.limits(self._call(request, "get_limits")))

    # -- pools, extensions and filters -------------------------------------------------------------

    def get_pools(self, request: Request) -> Reply:
        """``scheduler-stats/get_pools``: filtered by name (3.28) and volume type (3.35), as in Cinder;
        earlier microversions ignore filters."""
        filters = {k: v for k, v in request.query.items() if k != "detail"}
        if request.version < POOL_FILTERS_SINCE:
            filters = {}
        unknown = sorted(set(filters) - set(views.RESOURCE_FILTERS["pool"]))
        if unknown:
            raise HttpError(400, f"Invalid filters {', '.join(unknown)} are found in query options.")
        if request.version < POOL_TYPE_FILTER_SINCE:
            filters.pop("volume_type", None)
        pools = self._call(request, "get_pools", **filters)
        return Reply(200, {"pools": [views.pool(p, detail=_flag(request.query, "detail")) for p in pools]})

    def list_extensions(self, request: Request) -> Reply:
        return Reply(200, {"extensions": [views.extension(e) for e in views.EXTENSIONS]})

    def list_resource_filters(self, request: Request) -> Reply:
        """The filters each listing takes (3.33); ``?resource=`` picks one."""
        if request.version < RESOURCE_FILTERS_SINCE:
            raise HttpError(404, "The resource could not be found.")
        wanted = request.query.get("resource")
        return Reply(
            200,
            {
                "resource_filters": [
                    {"resource": resource, "filters": list(filters)}
                    for resource, filters in views.RESOURCE_FILTERS.items()
                    if wanted in (None, resource)
                ]
            },
        )


# os-services: Cinder 29's service actions (PUT /os-services/{action}) and their handlers. Its
# router has failover_host only: PUT /os-services/failover is a 404 there, and here.
_SERVICE_ACTIONS: dict[str, Callable[[BlockStorageApi, Request, dict[str, Any]], Reply]] = {
    "freeze": BlockStorageApi._freeze,
    "thaw": BlockStorageApi._thaw,
    "failover_host": BlockStorageApi._failover_host,
    "enable": functools.partial(BlockStorageApi._set_service, disabled=False, reason=False),
    "disable": functools.partial(BlockStorageApi._set_service, disabled=True, reason=False),
    "disable-log-reason": functools.partial(BlockStorageApi._set_service, disabled=True, reason=True),
    # replisim's own: the admin's way out of failover-error (Cinder's cinder-manage command)
    "reset_active_backend": BlockStorageApi._reset_active_backend,
}
CLUSTER_SINCE: Version = (3, 26)  # failover_host takes a cluster instead of a host
_CINDER_HOST = re.compile(r"^[a-zA-Z0-9-._#@:/+\[\]]*$")


def _service_host(body: Mapping[str, Any], allowed: set[str], version: Version, *, clustered: bool) -> Any:
    """The body's host, validated as Cinder's schema and ``get_cluster_host`` do it. replisim has no
    clusters, so a cluster alone names no service."""
    unexpected = sorted(set(body) - allowed)
    if unexpected:
        shown = ", ".join(repr(k) for k in unexpected)
        verb = "was" if len(unexpected) == 1 else "were"
        raise HttpError(400, f"Additional properties are not allowed ({shown} {verb} unexpected)")
    host = body.get("host")
    if host is not None and (
        not isinstance(host, str) or not 1 <= len(host) <= 255 or not _CINDER_HOST.match(host)
    ):
        raise HttpError(400, f"Invalid input for field/attribute host. Value: {host!r}.")
    cluster = body.get("cluster") if clustered else None
    if bool(cluster) == bool(host):
        message = (
            "One and only one of cluster and host must be set." if clustered else "Host field is missing."
        )
        raise HttpError(400, f"Invalid input received: {message}")
    if cluster:
        raise HttpError(400, f"No service found with cluster={cluster}")
    return host


# Cinder's volume actions replisim has, and their handlers (the seed's own are ``_REPLICATION_ACTIONS``).
_VOLUME_ACTIONS: dict[str, Callable[[BlockStorageApi, Request, str, Mapping[str, Any]], Reply]] = {
    "os-extend": BlockStorageApi._extend,
    "os-reset_status": BlockStorageApi._reset_status,
    "os-set_bootable": BlockStorageApi._set_bootable,
    "os-update_readonly_flag": BlockStorageApi._update_readonly_flag,
}
