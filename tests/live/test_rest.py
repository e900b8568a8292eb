"""The REST layer through python-cinderclient, against an in-process server on a loopback port.

The backends are the in-memory test driver: these tests are about the HTTP surface (routes, views,
faults, microversions, who is admin, redaction), not about storage.
"""

from __future__ import annotations

import datetime
import json
import logging
import socket
import struct
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
import requests
from cinderclient import api_versions, exceptions
from cinderclient import client as cinder_client
from hypothesis import given, settings
from hypothesis import strategies as st
from support import memdriver
from support.cinderapi import connect, wait_volume
from support.rawhttp import address, closed_within, exchange, read_answer

from replisim import exception
from replisim.actors.config import parse_config
from replisim.actors.rest import NO_ROUTE_BODY, BlockStorageApi, HttpError, requested_version
from replisim.actors.serve import Server, start
from replisim.actors.wsgi import ApiServer
from replisim.redaction import Redactor
from replisim.sim import SimRuntime
from replisim.webserver import Limits

SECRET = "S3cret-Passw0rd"
DEVICE_SECRET = "dev1ce-t0ken-9"
CONF = f"""
[DEFAULT]
enabled_backends = alpha, beta, leaky
admin_users = admin, ops

[alpha]
volume_driver = support.memdriver.MemoryDriver
volume_backend_name = alpha
replication_devices = beta

[beta]
volume_driver = support.memdriver.MemoryDriver
volume_backend_name = beta
replication_devices = alpha

[leaky]
volume_driver = support.memdriver.LeakyDriver
volume_backend_name = leaky
managed_replication_target = false
replication_devices = {{'san_ip'='192.0.2.9' 'api_token'='{DEVICE_SECRET}'}}
san_password = {SECRET}
"""


@pytest.fixture
def server() -> Iterator[Server]:
    memdriver.reset()
    running = start(parse_config(CONF), "sqlite://", report_interval=0.1)
    try:
        assert running.not_ready(timeout=10.0) == {}
        yield running
    finally:
        running.stop()


def admin(server: Server, **kwargs: Any) -> Any:
    return connect(server.url, "admin", "admin-project", **kwargs)


def replicated_volume(cs: Any, backend: str = "alpha", type_name: str = "gold") -> Any:
    """An available volume of a type that asks for replication, placed on ``backend``."""
    kind = cs.volume_types.create(type_name)
    kind.set_keys({"replication": "enabled", "volume_backend_name": backend})
    volume = cs.volumes.create(1, name="data", volume_type=type_name)
    return wait_volume(cs, volume.id, "status", "available")


def raw(
    server: Server, method: str, path: str, token: str = "admin:admin-project", **kwargs: Any
) -> requests.Response:
    headers = {"X-Auth-Token": token, **kwargs.pop("headers", {})}
    return requests.request(method, server.url + path, headers=headers, timeout=10, **kwargs)


def test_start_reports_a_backend_whose_driver_failed_set_up() -> None:
    memdriver.reset()
    offline = exception.VolumeBackendAPIException(data="array offline")
    memdriver.FAULTS[("replisim@beta", "do_setup")] = offline
    running = start(parse_config(CONF), "sqlite://", report_interval=0.1)
    try:
        problems = running.not_ready(timeout=10.0)
    finally:
        running.stop()
        memdriver.reset()
    assert list(problems) == ["replisim@beta"] and "array offline" in problems["replisim@beta"]


# -- version discovery and microversions --------------------------------------------------------


def test_version_discovery_gives_cinderclient_its_microversion_range(server: Server) -> None:
    root = requests.get(server.url + "/", timeout=10)
    assert root.status_code == 300  # Cinder's Multiple Choices
    (v3,) = root.json()["versions"]
    assert (v3["id"], v3["min_version"], v3["version"]) == ("v3.0", "3.0", "3.71")
    assert requests.get(server.url + "/v3/", timeout=10).json() == root.json()

    assert cinder_client.get_highest_client_server_version(server.url + "/v3") == "3.71"
    cs = admin(server, version="3.0")
    assert api_versions.discover_version(cs, api_versions.APIVersion("3.71")).get_string() == "3.71"


def test_the_microversion_header_is_honoured_echoed_and_checked(server: Server) -> None:
    volume = admin(server).volumes.create(1, name="v")
    path = f"/v3/volumes/{volume.id}"
    old = raw(server, "GET", path)
    assert old.headers["OpenStack-API-Version"] == "volume 3.0"
    assert "volume_type_id" not in old.json()["volume"]  # added in 3.63
    new = raw(server, "GET", path, headers={"OpenStack-API-Version": "volume 3.63"})
    assert new.headers["OpenStack-API-Version"] == "volume 3.63"
    assert new.headers["Vary"] == "OpenStack-API-Version"
    assert "volume_type_id" in new.json()["volume"]
    latest = raw(server, "GET", path, headers={"OpenStack-API-Version": "compute 2.1, volume latest"})
    assert latest.headers["OpenStack-API-Version"] == "volume 3.71"

    too_new = raw(server, "GET", path, headers={"OpenStack-API-Version": "volume 3.99"})
    assert too_new.status_code == 406
    assert "maximum is 3.71" in too_new.json()["computeFault"]["message"]
    garbled = raw(server, "GET", path, headers={"OpenStack-API-Version": "volume three"})
    assert garbled.status_code == 400 and "MajorNum.MinorNum" in garbled.json()["badRequest"]["message"]
    assert "OpenStack-API-Version" not in garbled.headers  # Cinder names no version it could not read
    assert too_new.headers["OpenStack-API-Version"] == "volume 3.99"  # and echoes one it cannot serve


# -- volumes ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("bare", [False, True], ids=["project-in-url", "no-project-in-url"])
def test_volume_create_list_show_delete(server: Server, bare: bool, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "replisim.rest")
    cs = connect(server.url, "alice", "project-a", bare=bare)
    created = cs.volumes.create(2, name="scratch")
    assert (created.size, created.name, created.status) == (2, "scratch", "creating")
    volume = wait_volume(cs, created.id, "status", "available")
    assert volume.replication_status == "disabled"
    created_at = datetime.datetime.fromisoformat(volume.created_at).replace(tzinfo=datetime.UTC)
    assert abs(created_at - datetime.datetime.now(datetime.UTC)) < datetime.timedelta(minutes=1)
    assert not hasattr(volume, "os-vol-host-attr:host")  # alice is not an admin

    assert [v.id for v in cs.volumes.list()] == [created.id]
    (summary,) = cs.volumes.list(detailed=False)
    assert summary.id == created.id and summary.name == "scratch"
    assert summary.links[0]["href"].endswith(f"/v3/project-a/volumes/{created.id}")
    assert [v.id for v in cs.volumes.list(search_opts={"name": "other"})] == []
    # bob (another project) cannot see it, the admin can with all_tenants
    assert connect(server.url, "bob", "project-b").volumes.list() == []
    seen = admin(server).volumes.list(search_opts={"all_tenants": 1})
    assert [getattr(v, "os-vol-host-attr:host") for v in seen] == ["replisim@alpha#alpha"]

    cs.volumes.delete(created.id)
    with pytest.raises(exceptions.NotFound):
        wait_volume(cs, created.id, "status", "gone")
    prefix = "/v3/volumes" if bare else "/v3/project-a/volumes"
    assert any(f"POST {prefix} -> 202" in r.getMessage() for r in caplog.records)


def test_volume_of_a_type_given_by_name_shows_the_type_name(server: Server) -> None:
    cs = admin(server)
    volume = replicated_volume(cs)
    assert volume.volume_type == "gold"
    assert getattr(volume, "os-vol-host-attr:host") == "replisim@alpha#alpha"


# -- types and extra specs -----------------------------------------------------------------------


def test_volume_types_and_extra_specs(server: Server) -> None:
    cs = admin(server)
    gold = cs.volume_types.create("gold", description="replicated")
    assert (gold.name, gold.description, gold.is_public) == ("gold", "replicated", True)
    gold.set_keys({"replication": "enabled", "volume_backend_name": "alpha"})
    assert gold.get_keys() == {"replication": "enabled", "volume_backend_name": "alpha"}
    assert cs.volume_types.get(gold.id).extra_specs["replication"] == "enabled"
    assert [t.name for t in cs.volume_types.list()] == ["gold", "__DEFAULT__"]  # newest first

    gold.unset_keys(["volume_backend_name"])
    assert gold.get_keys() == {"replication": "enabled"}
    one = raw(server, "GET", f"/v3/admin-project/types/{gold.id}/extra_specs/replication")
    assert one.json() == {"replication": "enabled"}
    put = raw(server, "PUT", f"/v3/types/{gold.id}/extra_specs/tier", json={"tier": "1"})
    assert (put.status_code, gold.get_keys()["tier"]) == (200, "1")

    # non-admins see the type and only its user-visible specs, and cannot change it
    gold.set_keys({"replication_enabled": "<is> True"})
    public = connect(server.url, "alice", "project-a").volume_types.get(gold.id)
    assert public.name == "gold" and public.extra_specs == {"replication_enabled": "<is> True"}
    with pytest.raises(exceptions.Forbidden):
        connect(server.url, "alice", "project-a").volume_types.create("tin")

    cs.volume_types.delete(gold.id)
    with pytest.raises(exceptions.NotFound):
        cs.volume_types.get(gold.id)


# -- the four replication actions ------------------------------------------------------------------


def test_replication_actions_answer_202_and_the_target_list_200(server: Server) -> None:
    cs = admin(server)
    volume = replicated_volume(cs)

    resp, body = cs.volumes._action("os-enable_replication", volume, {})
    assert (resp.status_code, body) == (202, None)
    wait_volume(cs, volume.id, "replication_status", "enabled")

    resp, body = cs.volumes._action("os-list_replication_targets", volume)
    assert resp.status_code == 200
    assert body == {"volume_id": volume.id, "targets": [{"type": "managed", "backend_name": "beta"}]}

    resp, _ = cs.volumes._action("os-disable_replication", volume)
    assert resp.status_code == 202
    wait_volume(cs, volume.id, "replication_status", "disabled")
    cs.volumes._action("os-enable_replication", volume)
    wait_volume(cs, volume.id, "replication_status", "enabled")

    resp, body = cs.volumes._action("os-failover_replication", volume, {"secondary": "beta"})
    assert (resp.status_code, body) == (202, None)
    failed_over = wait_volume(cs, volume.id, "replication_status", "failed-over")
    assert getattr(failed_over, "os-vol-host-attr:host") == "replisim@beta#beta"


def test_non_admins_are_refused_the_replication_actions_with_403(server: Server) -> None:
    cs = admin(server)
    volume = replicated_volume(cs)
    outsider = connect(server.url, "mallory", "admin-project")
    for action in (
        "os-enable_replication",
        "os-disable_replication",
        "os-failover_replication",
        "os-list_replication_targets",
    ):
        with pytest.raises(exceptions.Forbidden) as refused:
            outsider.volumes._action(action, volume, {})
        assert refused.value.code == 403 and "volume:" in refused.value.message
    assert cs.volumes.get(volume.id).replication_status == "disabled"  # nothing was started

    # the admin role makes a caller admin, as does being listed in [DEFAULT] admin_users
    role_admin = connect(server.url, "mallory", "admin-project", roles=("member", "admin"))
    assert role_admin.volumes._action("os-enable_replication", volume)[0].status_code == 202
    wait_volume(cs, volume.id, "replication_status", "enabled")
    ops = connect(server.url, "ops", "ops-project")
    assert ops.volumes._action("os-list_replication_targets", volume)[0].status_code == 200


# -- faults ----------------------------------------------------------------------------------------


def test_errors_are_cinder_fault_bodies_with_their_status(server: Server) -> None:
    missing = raw(server, "GET", "/v3/admin-project/volumes/no-such-volume")
    assert missing.status_code == 404
    assert missing.json() == {
        "itemNotFound": {"code": 404, "message": "Volume no-such-volume could not be found."}
    }
    cs = admin(server)
    with pytest.raises(exceptions.NotFound) as not_found:
        cs.volumes._action("os-enable_replication", "no-such-volume")
    assert "no-such-volume" in not_found.value.message

    plain = cs.volumes.create(1, name="plain")
    wait_volume(cs, plain.id, "status", "available")
    with pytest.raises(exceptions.BadRequest) as not_replicated:
        cs.volumes._action("os-enable_replication", plain)
    assert "does not ask for replication" in not_replicated.value.message

    bad_size = raw(server, "POST", "/v3/volumes", json={"volume": {"size": "big"}})
    assert bad_size.status_code == 400 and "'big'" in bad_size.json()["badRequest"]["message"]
    snapshot = raw(server, "POST", "/v3/volumes", json={"volume": {"size": 1, "snapshot_id": "s"}})
    assert "snapshot_id" in snapshot.json()["badRequest"]["message"]
    unknown = raw(server, "POST", f"/v3/volumes/{plain.id}/action", json={"os-frobnicate": {}})
    assert "There is no such action: os-frobnicate" in unknown.json()["badRequest"]["message"]
    extra = raw(server, "POST", f"/v3/volumes/{plain.id}/action", json={"os-failover_replication": {"x": 1}})
    assert "optional 'secondary'" in extra.json()["badRequest"]["message"]
    not_json = raw(server, "POST", "/v3/volumes", data=b"{size: 1")
    assert not_json.status_code == 400 and "not valid JSON" in not_json.json()["badRequest"]["message"]
    filters = raw(server, "GET", "/v3/volumes/detail?sort_key=colour")
    assert "colour" in filters.json()["badRequest"]["message"]
    assert raw(server, "GET", "/v3/volumes/detail?colour=blue").json() == {"volumes": []}  # as Cinder

    for method, path in (("GET", "/v3/snapshots"), ("PUT", "/v3/volumes"), ("GET", "/v4/volumes")):
        unrouted = raw(server, method, path)  # as Cinder's router: no route, no 405, no microversion
        assert unrouted.status_code == 404 and unrouted.json() == NO_ROUTE_BODY, (method, path)
        assert "OpenStack-API-Version" not in unrouted.headers
    mismatch = raw(server, "GET", "/v3/project-b/volumes", token="alice:project-a")
    assert "not the caller's project" in mismatch.json()["badRequest"]["message"]
    anonymous = requests.get(server.url + "/v3/volumes", timeout=10)
    assert anonymous.status_code == 401 and "unauthorized" in anonymous.json()


def test_wrong_state_is_400_and_an_unavailable_database_503(server: Server) -> None:
    cs = admin(server)
    volume = replicated_volume(cs)
    with pytest.raises(exceptions.BadRequest) as wrong_state:
        cs.volumes._action("os-failover_replication", volume)
    assert "'disabled'" in wrong_state.value.message and "'enabled'" in wrong_state.value.message

    server.deployment.db.available = False
    try:
        down = raw(server, "GET", f"/v3/volumes/{volume.id}")
    finally:
        server.deployment.db.available = True
    assert down.status_code == 503 and down.json()["serviceUnavailable"]["code"] == 503


# -- secrets and services --------------------------------------------------------------------------


def test_no_configured_secret_in_any_response(server: Server, caplog: pytest.LogCaptureFixture) -> None:
    """Responses and the REST layer's log lines; the whole served process's log is test_serve's job."""
    caplog.set_level(logging.INFO, "replisim.rest")
    cs = admin(server)
    volume = replicated_volume(cs, backend="leaky")
    bodies: list[str] = []

    def record(resp: requests.Response, *args: Any, **kwargs: Any) -> None:
        bodies.append(resp.text + json.dumps(dict(resp.headers)))

    cs.client.session.session.hooks["response"].append(record)
    _, targets = cs.volumes._action("os-list_replication_targets", volume)
    (target,) = targets["targets"]
    assert target == {
        "type": "unmanaged",
        "san_ip": "192.0.2.9",
        "api_token": "***",
        "san_password": "***",
        "hint": "log in with ***",
    }
    cs.volumes._action("os-enable_replication", volume)
    wait_volume(cs, volume.id, "replication_status", "enabled")
    cs.volumes._action("os-failover_replication", volume, {"secondary": SECRET})
    failed = wait_volume(cs, volume.id, "replication_status", "error")
    assert "refused the password ***" in getattr(failed, "os-volume-replication:extended_status")
    cs.volumes.list()
    cs.services.list()
    cs.volume_types.list()

    assert len(bodies) >= 8
    rest_log = [r.getMessage() for r in caplog.records if r.name == "replisim.rest"]
    for text in (*bodies, *rest_log):
        assert SECRET not in text and DEVICE_SECRET not in text


def test_services_list_is_admin_only_and_filters(server: Server) -> None:
    services = admin(server).services.list()
    assert sorted((s.binary, s.host, s.state, s.status) for s in services) == [
        ("cinder-scheduler", "replisim", "up", "enabled"),
        *(("cinder-volume", f"replisim@{b}", "up", "enabled") for b in ("alpha", "beta", "leaky")),
    ]
    assert services[0].cluster is None  # a 3.7 field, present at 3.71
    only = admin(server).services.list(host="replisim@beta", binary="cinder-volume")
    assert [s.host for s in only] == ["replisim@beta"]
    with pytest.raises(exceptions.Forbidden):
        connect(server.url, "alice", "project-a").services.list()


# -- the request parser, over arbitrary input -----------------------------------------------------

SEGMENTS = st.sampled_from(
    [
        "v3",
        "p1",
        "volumes",
        "detail",
        "action",
        "types",
        "extra_specs",
        "os-services",
        "snapshots",
        "%20",
        "",
        "x",
    ]
)
VERSIONS = st.one_of(
    st.none(),
    st.text(max_size=16),
    st.tuples(st.integers(0, 5), st.integers(0, 120)).map(lambda v: f"volume {v[0]}.{v[1]}"),
)


@settings(max_examples=200, deadline=None)
@given(
    req=st.fixed_dictionaries(
        {
            "method": st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH"]),
            "path": st.lists(SEGMENTS, max_size=5),
            "query": st.sampled_from(["", "?all_tenants=1", "?limit=x", "?colour=1", "?name=a&name=b"]),
            "x-auth-token": st.sampled_from([None, "", "alice", "alice:p1", "admin:p2", ":"]),
            "openstack-api-version": VERSIONS,
            "body": st.one_of(
                st.binary(max_size=24), st.sampled_from([b"{}", b'{"volume": {"size": 1}}', b"[]"])
            ),
        }
    )
)
def test_any_request_gets_an_answer_in_cinder_form(req: dict[str, Any]) -> None:
    """Whatever arrives, the answer is a status and, for errors, a fault body whose code is that status.
    No actor runs here, so requests that get as far as the API actor answer 503."""
    headers = {k: req[k] for k in ("x-auth-token", "openstack-api-version") if req[k] is not None}
    target = "/" + "/".join(req["path"]) + req["query"]
    reply = OFFLINE_API.handle(req["method"], target, headers, req["body"], "http://h")
    assert reply.status in {200, 300, 302, 400, 401, 404, 406, 503}
    if reply.status >= 400 and reply.body != NO_ROUTE_BODY:  # the router's own 404 is webob's
        ((name, fault),) = reply.body.items()
        assert fault["code"] == reply.status and fault["message"]
        fixed_names = {401: "unauthorized", 404: "itemNotFound", 503: "serviceUnavailable"}
        assert name == fixed_names.get(reply.status, name)
    echoed = dict(reply.headers).get("OpenStack-API-Version", "volume 3.")
    assert echoed.startswith("volume 3.") and dict(reply.headers)["x-openstack-request-id"].startswith("req-")


@given(major=st.integers(0, 9), minor=st.integers(0, 999))
def test_a_microversion_is_served_exactly_when_in_range(major: int, minor: int) -> None:
    try:
        served = requested_version(f"volume {major}.{minor}")
    except HttpError as refused:
        assert refused.code == 406 and not (3, 0) <= (major, minor) <= (3, 71)
    else:
        assert served == (major, minor) and (3, 0) <= served <= (3, 71)


OFFLINE_API = BlockStorageApi(
    SimRuntime(seed=1), admin_users=frozenset({"admin"}), redactor=Redactor(["hunter2"]), timeout=1.0
)


# -- the HTTP transport ----------------------------------------------------------------------------

TOKEN = b"X-Auth-Token: admin:admin-project\r\n"


@pytest.mark.parametrize(
    ("request_bytes", "status", "says"),
    [
        (b"POST /v3/volumes HTTP/1.1\r\nContent-Length: 2000000\r\n" + TOKEN, 413, "larger than 1048576"),
        (b"GET /v3/" + b"x" * 9000 + b" HTTP/1.1\r\n" + TOKEN, 414, "longer than"),
        (b"POST /v3/volumes HTTP/1.1\r\nTransfer-Encoding: gzip\r\n" + TOKEN, 501, "Transfer-Encoding"),
        (b"POST /v3/volumes HTTP/1.1\r\n" + TOKEN, 411, "needs a Content-Length"),
        (b"POST /v3/volumes HTTP/1.1\r\nContent-Length: -1\r\n" + TOKEN, 400, "Content-Length"),
        (
            b"POST /v3/types HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n" + TOKEN,
            400,
            "both Content-Length and Transfer-Encoding",
        ),
        (b"GET /v3/volumes HTTP/1.1\r\nX-Big: " + b"h" * 70000 + b"\r\n" + TOKEN, 431, "exceed"),
        (b"POST /v3/volumes HTTP/1.1\r\nContent-Length: 900000\r\n", 401, "No credentials"),
    ],
)
def test_every_transport_refusal_is_a_cinder_fault(
    server: Server, request_bytes: bytes, status: int, says: str
) -> None:
    answer = exchange(server.url, request_bytes + b"\r\n", timeout=5)  # no body is ever sent
    assert answer.status == status and answer.headers["content-type"] == "application/json"
    ((name, fault),) = answer.json().items()
    assert fault["code"] == status and says in fault["message"]
    assert name == {400: "badRequest", 401: "unauthorized", 404: "itemNotFound", 405: "badMethod"}.get(
        status, {413: "overLimit", 501: "notImplemented"}.get(status, "computeFault")
    )


def test_a_chunked_body_is_accepted(server: Server) -> None:
    body = json.dumps({"volume_type": {"name": "chunked-gold"}}).encode()
    chunks = b"".join(f"{len(p):x}\r\n".encode() + p + b"\r\n" for p in (body[:5], body[5:]))
    head = b"POST /v3/types HTTP/1.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
    answer = exchange(server.url, head + TOKEN + b"\r\n" + chunks + b"0\r\n\r\n")
    assert answer.status == 200 and answer.json()["volume_type"]["name"] == "chunked-gold"


def test_64_clients_connecting_at_once_are_all_answered(server: Server) -> None:
    """http.server's listen backlog of 5 reset some of these; the real backlog queues them all."""
    sockets = [socket.create_connection(address(server.url), timeout=20) for _ in range(64)]
    try:
        for sock in sockets:
            sock.sendall(b"GET /v3/volumes HTTP/1.1\r\nHost: h\r\n" + TOKEN + b"\r\n")
        answers = [read_answer(sock) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()
    assert [a.status for a in answers] == [200] * 64


def test_idle_and_stalled_connections_are_closed_and_hold_no_worker() -> None:
    """A body shorter than its Content-Length used to hold a handler thread forever."""
    api = BlockStorageApi(SimRuntime(seed=1), admin_users=frozenset(), redactor=Redactor([]), timeout=1.0)
    httpd = ApiServer(
        ("127.0.0.1", 0), api, Limits(max_body=1 << 20, threads=1, channel_timeout=1, cleanup_interval=1)
    )
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        idle = socket.create_connection(address(httpd.url), timeout=10)
        stalled = [socket.create_connection(address(httpd.url), timeout=10) for _ in range(4)]
        for sock in stalled:  # four times the one worker: none of them may take it
            sock.sendall(b"POST /v3/types HTTP/1.1\r\nContent-Length: 100\r\n" + TOKEN + b'\r\n{"vol')
        assert exchange(httpd.url, b"GET /v3/ HTTP/1.1\r\n\r\n", timeout=5).status == 200
        for sock in (idle, *stalled):
            waited = closed_within(sock, 5.0)
            assert waited is not None, "the server kept an idle or stalled connection open"
            sock.close()
    finally:
        httpd.shutdown()
        thread.join(10)


def test_clients_that_hang_up_leave_no_traceback(server: Server, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    for _ in range(20):
        with socket.create_connection(address(server.url), timeout=5) as sock:
            sock.sendall(b"GET /v3/volumes/detail HTTP/1.1\r\n" + TOKEN + b"\r\n")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # a reset
    assert exchange(server.url, b"GET /v3/ HTTP/1.1\r\n\r\n").status == 200
    assert [r for r in caplog.records if r.levelno >= logging.WARNING or r.exc_info] == []


# -- hostile input -----------------------------------------------------------------------------------


def test_no_answer_depends_on_whether_caller_text_is_a_secret(server: Server) -> None:
    """The old masker turned any configured secret in an answer into ***, the caller's own text too,
    so ``GET /<guess>`` answered differently for the real password. Each probe echoes the guess;
    with the guess replaced by a marker, the answers for every guess must be the same bytes."""
    guesses = [SECRET, DEVICE_SECRET, "wrong-guess-1", "S3cret-Passw0rE", "hunter2"]

    def probes(guess: str) -> list[str]:
        answers = [
            raw(server, "GET", f"/{guess}"),
            raw(server, "GET", f"/v3/{guess}/volumes"),
            raw(server, "GET", f"/v3/volumes/{guess}"),
            raw(server, "GET", f"/v3/types/{guess}"),
            raw(server, "POST", "/v3/volumes", json={"volume": {"size": guess}}),
            raw(server, "POST", "/v3/volumes", json={"volume": {"size": 1, "volume_type": guess}}),
            raw(server, "GET", f"/v3/volumes/detail?{guess}=1"),
            raw(server, "POST", "/v3/volumes/x/action", json={guess: {}}),
        ]
        return [f"{a.status_code} {a.text}".replace(guess, "<GUESS>") for a in answers]

    first, *others = [probes(guess) for guess in guesses]
    assert sum("<GUESS>" in answer for answer in first) >= 6  # the probes echo the guess
    for guess, answers in zip(guesses[1:], others, strict=True):
        assert answers == first, guess


def test_unstorable_or_unbounded_input_is_a_400_not_a_500(server: Server) -> None:
    lone = "bad\ud800name"
    deep = '{"a": ' * 1000 + "{}" + "}" * 1000  # as text: encoding it would overflow this stack
    cases = [
        ("POST", "/v3/volumes", {"volume": {"size": 1, "name": lone}}, "surrogate"),
        ("POST", "/v3/types", {"volume_type": {"name": lone}}, "surrogate"),
        ("POST", "/v3/types", {"volume_type": {"name": "t", "extra_specs": {"k": lone}}}, "surrogate"),
        ("POST", "/v3/types", {"volume_type": {"name": "t", "extra_specs": {lone: "v"}}}, "surrogate"),
        ("POST", "/v3/volumes", {"volume": {"size": 10**23}}, "from 1 to 2147483647"),
        ("POST", "/v3/volumes", {"volume": {"size": str(10**23)}}, "from 1 to 2147483647"),
        ("POST", "/v3/volumes", deep, "nested deeper"),
    ]
    for method, path, body, says in cases:
        text = body if isinstance(body, str) else json.dumps(body)  # the surrogate travels as \ud800
        answer = raw(server, method, path, data=text, headers={"Content-Type": "application/json"})
        assert answer.status_code == 400, (path, answer.text)
        assert says in answer.json()["badRequest"]["message"]
    kind = admin(server).volume_types.create("fine")
    answer = raw(
        server, "POST", f"/v3/types/{kind.id}/extra_specs", data=json.dumps({"extra_specs": {"k": lone}})
    )
    assert answer.status_code == 400 and "surrogate" in answer.text


# -- a bounded, seeded fuzz over the route table ------------------------------------------------------

FUZZ_PER_ROUTE = 80
NASTY_TEXT = st.sampled_from(["", " ", "\ud800", "a\udfffb", "\x00", "é", "🙂", "%2e%2e", "a" * 300, "***"])
TEXT = st.one_of(NASTY_TEXT, st.text(max_size=12))
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from([0, -1, 2**31, 2**63, 10**23, -(10**23)]),
    st.floats(allow_nan=False),
    TEXT,
)
JSON = st.recursive(
    SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3)
)
SIZES = st.one_of(
    st.sampled_from([10**23, 2**63, 2**31, 1, 0, -1, "10", "1e3", " 2", "٣", 1.5]),
    st.integers(-(2**80), 2**80),
    st.integers(1, 5),
)
VOLUME = st.fixed_dictionaries(
    {"size": SIZES},
    optional={
        "name": TEXT,
        "volume_type": st.one_of(st.sampled_from(["fuzz-gold"]), TEXT),
        "availability_zone": st.just("nova"),
    },
)
VOLUME_TYPE = st.fixed_dictionaries(
    {"name": st.one_of(TEXT, SCALARS)},
    optional={"extra_specs": st.one_of(st.dictionaries(TEXT, TEXT, max_size=3), JSON), "description": JSON},
)
ACTIONS = st.sampled_from(
    [
        "os-enable_replication",
        "os-disable_replication",
        "os-failover_replication",
        "os-list_replication_targets",
    ]
)
# The body each controller method reads, so that most requests get past the shape checks.
BODIES: dict[str, Any] = {
    "create_volume": VOLUME.map(lambda v: {"volume": v}),
    "create_type": VOLUME_TYPE.map(lambda t: {"volume_type": t}),
    "set_extra_specs": st.dictionaries(TEXT, st.one_of(TEXT, JSON), max_size=3).map(
        lambda e: {"extra_specs": e}
    ),
    "volume_action": st.tuples(
        ACTIONS,
        st.one_of(st.none(), st.fixed_dictionaries({}, optional={"secondary": st.one_of(TEXT, JSON)})),
    ).map(lambda a: {a[0]: a[1]}),
}


def test_no_request_over_the_route_table_gets_a_5xx() -> None:
    """Random requests over every route (valid ids and junk ids, shaped and junk JSON bodies,
    admins and users); the server must never answer 5xx. Seeded (derandomize), bounded."""
    memdriver.reset()
    running = start(parse_config(CONF), "sqlite://", report_interval=0.1)
    sent = []
    try:
        assert running.not_ready(timeout=10.0) == {}
        cs = admin(running)
        known_type = cs.volume_types.create("fuzz-gold")
        known_type.set_keys({"replication": "enabled", "volume_backend_name": "alpha"})
        known_volume = cs.volumes.create(1, name="fuzz", volume_type="fuzz-gold")
        ids = st.one_of(st.sampled_from([known_volume.id, known_type.id, "replication"]), TEXT)

        def fuzz(route: Any) -> None:
            @settings(max_examples=FUZZ_PER_ROUTE, derandomize=True, deadline=None, database=None)
            @given(
                other_method=st.sampled_from([*[None] * 12, "GET", "POST", "PUT", "DELETE", "PATCH"]),
                fill=st.lists(ids, min_size=4, max_size=4),
                data=st.data(),
                token=st.sampled_from(["admin:admin-project", "alice:project-a", "ops"]),
                query=st.sampled_from(["", "?all_tenants=1", "?limit=-1", "?marker=x", "?name=%ED%A0%80"]),
            )
            def one(
                *, other_method: Any, fill: list[str], data: st.DataObject, token: str, query: str
            ) -> None:
                method, pattern, handler = route
                shaped = BODIES.get(handler)
                if handler == "update_extra_spec":
                    shaped = JSON.map(lambda value: {fill[1]: value})
                # a body where the route reads one, mostly of its shape; junk or none elsewhere
                body = data.draw(
                    st.one_of(shaped, shaped, shaped, JSON)
                    if shaped is not None
                    else st.one_of(st.none(), JSON)
                )
                parts, values = [], iter(fill)
                for part in pattern:
                    parts.append(
                        quote(next(values), safe="", errors="surrogatepass") if part == "*" else part
                    )
                path = "/v3/" + "/".join(parts) + query
                text = None if body is None else json.dumps(body)
                answer = raw(running, other_method or method, path, token=token, data=text)
                sent.append(path)
                assert answer.status_code < 500, (other_method or method, path, text, answer.text)

            one()

        for route in BlockStorageApi.ROUTES:  # each route its share, whatever the generator favours
            fuzz(route)
    finally:
        running.stop()
    print(f"fuzz: {len(sent)} requests, none answered 5xx")
    assert len(sent) >= FUZZ_PER_ROUTE * len(BlockStorageApi.ROUTES) // 2
