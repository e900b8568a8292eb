"""``replisim serve`` on unmodified Cinder 29 drivers (examples/cinder-fake.conf, through
replisim[cinder]): volumes are created and deleted by Cinder's own driver code over REST, the
per-volume V2 actions are refused on a backend that replicates by host failover only, the
operator's runbook (freeze, failover_host, thaw, fail back) runs on it, and the unmodified
``cinder`` command replicates a group on it (microversion 3.38)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import requests
from support import ROOT
from support.cinder import EXAMPLE, require_cinder
from support.cinderapi import cinder, field

require_cinder()

TOKEN = {"X-Auth-Token": "admin:ops", "OpenStack-API-Version": "volume 3.0"}


def _api(url: str, method: str, path: str, body: dict[str, Any] | None = None, ok: bool = True) -> Any:
    answer = requests.request(method, f"{url}/v3/ops/{path}", json=body, headers=TOKEN, timeout=30)
    if ok:
        assert answer.status_code < 300, (method, path, answer.status_code, answer.text)
    return answer


def _until(url: str, volume_id: str, wanted: str, timeout: float = 60.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        answer = _api(url, "GET", f"volumes/{volume_id}", ok=False)
        status = answer.json()["volume"]["status"] if answer.status_code == 200 else str(answer.status_code)
        if status == wanted or time.monotonic() > deadline:
            assert status == wanted, answer.text
            return answer.json() if answer.status_code == 200 else {}
        time.sleep(0.1)


def _serve(serve: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    """The example config as shipped, served from the repository root (it names
    examples.cinder_replicated from there), its database and log in the test's directory."""
    monkeypatch.chdir(ROOT)
    config = tmp_path / "cinder.conf"
    config.write_text(EXAMPLE.read_text(encoding="utf-8"), encoding="utf-8")
    url: str = serve(config).wait_url(timeout=120)
    return url


def _service(url: str, host: str) -> dict[str, Any]:
    services = _api(url, "GET", "os-services").json()["services"]
    return next(s for s in services if s["host"] == host and s["binary"] == "cinder-volume")


def _service_until(url: str, host: str, wanted: str, timeout: float = 60.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while (service := _service(url, host))["replication_status"] != wanted and time.monotonic() < deadline:
        time.sleep(0.1)
    assert service["replication_status"] == wanted, service
    return service


def _type(url: str, name: str, specs: dict[str, str]) -> None:
    created = _api(url, "POST", "types", {"volume_type": {"name": name}}).json()["volume_type"]
    _api(url, "POST", f"types/{created['id']}/extra_specs", {"extra_specs": specs})


def test_serve_creates_and_deletes_volumes_on_cinders_fake_drivers(
    serve: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    url = _serve(serve, monkeypatch, tmp_path)
    _type(url, "plain", {"volume_backend_name": "fake"})
    _type(url, "gold", {"volume_backend_name": "replicated", "replication_enabled": "<is> True"})
    plain = _api(url, "POST", "volumes", {"volume": {"size": 1, "volume_type": "plain"}}).json()["volume"]
    gold = _api(url, "POST", "volumes", {"volume": {"size": 2, "volume_type": "gold"}}).json()["volume"]
    assert _until(url, plain["id"], "available")["volume"]["os-vol-host-attr:host"].endswith("#fake")
    shown = _until(url, gold["id"], "available")["volume"]
    assert shown["os-vol-host-attr:host"] == "replisim@replicated#replicated"
    assert shown["replication_status"] == "enabled"  # the driver's create_volume said so

    refused = _api(url, "POST", f"volumes/{gold['id']}/action", {"os-enable_replication": None}, ok=False)
    assert refused.status_code == 400, refused.text
    assert "replicates by host failover only" in refused.text

    for volume in (plain, gold):
        _api(url, "DELETE", f"volumes/{volume['id']}")
        _until(url, volume["id"], "404")


def test_the_runbook_fails_a_cinder_driver_over_and_back(
    serve: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """examples/cinder_replicated.py: Cinder's HA fake with failover_host, to its one device."""
    url = _serve(serve, monkeypatch, tmp_path)
    host = "replisim@replicated"
    _service_until(url, host, "enabled")  # its top-level stats say replication_enabled
    assert _service(url, "replisim@fake")["replication_status"] == "disabled"  # the stock fake's do not
    _type(url, "gold", {"volume_backend_name": "replicated", "replication_enabled": "<is> True"})
    _type(url, "plain", {"volume_backend_name": "replicated"})
    gold = _api(url, "POST", "volumes", {"volume": {"size": 1, "volume_type": "gold"}}).json()["volume"]
    plain = _api(url, "POST", "volumes", {"volume": {"size": 1, "volume_type": "plain"}}).json()["volume"]
    _until(url, gold["id"], "available")
    _until(url, plain["id"], "available")

    _api(url, "PUT", "os-services/freeze", {"host": host})
    assert _service(url, host)["frozen"] is True
    wrong = _api(url, "PUT", "os-services/failover_host", {"host": host, "backend_id": "nowhere"})
    assert wrong.status_code == 202
    _service_until(url, host, "enabled")  # InvalidReplicationTarget from Cinder's code: reverted
    _api(url, "PUT", "os-services/failover_host", {"host": host, "backend_id": "secondary"})
    service = _service_until(url, host, "failed-over")
    assert service["active_backend_id"] == "secondary"
    assert _until(url, gold["id"], "available")["volume"]["replication_status"] == "failed-over"
    assert _until(url, plain["id"], "error")["volume"]["replication_status"] == "not-capable"
    _api(url, "PUT", "os-services/thaw", {"host": host})
    assert _service(url, host)["frozen"] is False

    _api(url, "PUT", "os-services/failover_host", {"host": host, "backend_id": "default"})
    service = _service_until(url, host, "enabled")
    assert service["active_backend_id"] in ("", None)
    assert _until(url, gold["id"], "available")["volume"]["replication_status"] == "enabled"


def test_the_cinder_command_replicates_a_group_on_a_cinder_driver(
    serve: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Group types, a group, its volume, and every group replication command of the ``cinder``
    client at 3.38, against Cinder's own group code (examples/cinder_replicated.py's [replicated]),
    each state read back through ``cinder group-show`` and ``cinder show``."""
    url = _serve(serve, monkeypatch, tmp_path)

    def ok(*args: str) -> str:
        done = cinder(url, tmp_path, "--os-volume-api-version", "3.38", *args)
        assert done.returncode == 0, (args, done.stdout, done.stderr)
        return done.stdout

    def until(what: str, name: str, key: str, wanted: str) -> str:
        deadline = time.monotonic() + 60
        while (now := field(ok(what, name), key)) != wanted and time.monotonic() < deadline:
            time.sleep(0.2)
        assert now == wanted, f"{what} {name}: {key} is {now!r}, not {wanted!r}"
        return now

    ok("type-create", "gold")
    ok("type-key", "gold", "set", "volume_backend_name=replicated", "replication_enabled=<is> True")
    ok("group-type-create", "pairs")
    ok("group-type-key", "pairs", "set", "consistent_group_replication_enabled=<is> True")
    group_id = field(ok("group-create", "--name", "g1", "pairs", "gold"), "id")
    until("group-show", "g1", "status", "available")
    volume_id = field(
        ok("create", "1", "--volume-type", "gold", "--group-id", group_id, "--name", "v1"), "id"
    )
    until("show", volume_id, "status", "available")
    assert field(ok("show", volume_id), "replication_status") == "disabled"  # its group does not yet

    ok("group-enable-replication", "g1")
    until("group-show", "g1", "replication_status", "enabled")
    assert field(ok("show", volume_id), "replication_status") == "enabled"
    assert "secondary" in ok("group-list-replication-targets", "g1")
    ok("group-failover-replication", "--secondary-backend-id", "secondary", "g1")
    until("group-show", "g1", "replication_status", "failed-over")
    assert field(ok("show", volume_id), "replication_status") == "failed-over"
    ok("group-failover-replication", "--secondary-backend-id", "default", "g1")
    until("group-show", "g1", "replication_status", "enabled")
    ok("group-disable-replication", "g1")
    until("group-show", "g1", "replication_status", "disabled")
    assert field(ok("show", volume_id), "replication_status") == "disabled"

    ok("group-delete", "--delete-volumes", "g1")
    deadline = time.monotonic() + 60
    while "g1" in ok("group-list") and time.monotonic() < deadline:
        time.sleep(0.2)
    assert "g1" not in ok("group-list") and volume_id not in ok("list")
