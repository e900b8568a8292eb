"""os-services live: python-cinderclient's typed host-failover calls (failover_host, freeze_host,
thaw_host) and service list against ``replisim serve``'s REST layer, with Cinder 29's validation
answers, on emulated arrays that really move the volumes."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from cinderclient import exceptions
from support.cinderapi import connect, wait_volume

from replisim.actors.config import parse_config
from replisim.actors.serve import Server, start

CONF = """
[DEFAULT]
enabled_backends = alpha, beta

[alpha]
volume_driver = replisim.drivers.emulated.EmulatedDriver
volume_backend_name = alpha
replication_devices = beta
emulated_fabric = rest-services

[beta]
volume_driver = replisim.drivers.emulated.EmulatedDriver
volume_backend_name = beta
replication_devices = alpha
emulated_fabric = rest-services
"""
ALPHA = "replisim@alpha"


@pytest.fixture
def server() -> Iterator[Server]:
    running = start(parse_config(CONF), "sqlite://", report_interval=0.1)
    try:
        assert running.not_ready(timeout=10.0) == {}
        yield running
    finally:
        running.stop()


def put(server: Server, action: str, body: Any, token: str = "admin:ops", version: str = "3.71") -> Any:
    return requests.put(
        f"{server.url}/v3/{token.partition(':')[2]}/os-services/{action}",
        json=body,
        headers={"X-Auth-Token": token, "OpenStack-API-Version": f"volume {version}"},
        timeout=10,
    )


def alpha_row(cs: Any) -> Any:
    return next(s for s in cs.services.list(binary="cinder-volume") if s.host == ALPHA)


def wait_row(cs: Any, status: str, timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while (row := alpha_row(cs)).replication_status != status:
        assert time.monotonic() < deadline, f"{ALPHA} is {row.replication_status}, not {status}"
        time.sleep(0.05)
    return row


def test_the_cinderclient_runbook_moves_the_backend_and_back(server: Server) -> None:
    cs = connect(server.url, "admin", "ops")
    kind = cs.volume_types.create("gold")
    kind.set_keys({"replication": "enabled", "volume_backend_name": "alpha"})
    volume = wait_volume(cs, cs.volumes.create(1, name="db", volume_type="gold").id, "status", "available")
    cs.volumes._action("os-enable_replication", volume.id)
    wait_volume(cs, volume.id, "replication_status", "enabled")
    rows = {s.binary: s for s in cs.services.list()}
    assert {"cinder-scheduler", "cinder-volume"} <= set(rows)
    assert not hasattr(rows["cinder-scheduler"], "replication_status")  # volume services only
    assert (alpha_row(cs).replication_status, alpha_row(cs).frozen) == ("enabled", False)

    cs.services.freeze_host(ALPHA)
    assert (alpha_row(cs).frozen, alpha_row(cs).status, alpha_row(cs).disabled_reason) == (
        True,
        "disabled",
        "frozen",
    )
    with pytest.raises(exceptions.BadRequest, match="frozen storage backends"):
        cs.volumes.delete(volume.id)
    cs.services.failover_host(ALPHA, "beta")
    row = wait_row(cs, "failed-over")
    assert row.active_backend_id == "beta" and row.disabled_reason == "failed-over"
    moved = wait_volume(cs, volume.id, "replication_status", "failed-over")
    assert getattr(moved, "os-vol-host-attr:host").startswith(ALPHA)
    cs.services.thaw_host(ALPHA)
    assert (alpha_row(cs).frozen, alpha_row(cs).status) == (False, "enabled")

    cs.services.failover_host(ALPHA, "default")
    assert wait_row(cs, "enabled").active_backend_id == ""
    wait_volume(cs, volume.id, "replication_status", "enabled")


@pytest.mark.parametrize(
    "case",
    [
        ("freeze", {}, "3.0", 400, "Invalid input received: Host field is missing."),
        (
            "freeze",
            {},
            "3.26",
            400,
            "Invalid input received: One and only one of cluster and host must be set.",
        ),
        (
            "failover_host",
            {"host": ALPHA, "bogus": 1},
            "3.0",
            400,
            "Additional properties are not allowed ('bogus' was unexpected)",
        ),
        ("failover_host", {"host": "nowhere"}, "3.71", 400, "No service found with host=nowhere"),
        (
            "thaw",
            {"host": ALPHA},
            "3.71",
            400,
            "Invalid input received: No service could be changed: frozen in ['replisim@alpha'] "
            "must be True to failover.",
        ),
        ("failover", {"host": ALPHA}, "3.71", 404, "The resource /os-services/failover could not be found."),
        ("enable", {"host": "nowhere", "binary": "cinder-volume"}, "3.0", 404, None),
        (
            "reset_active_backend",
            {"host": ALPHA},
            "3.0",
            400,
            "Service for host replisim@alpha must first be frozen.",
        ),
    ],
)
def test_service_actions_answer_as_cinder_29(server: Server, case: tuple[Any, ...]) -> None:
    action, body, version, code, message = case
    answer = put(server, action, body, version=version)
    assert answer.status_code == code, answer.text
    fault = next(iter(answer.json().values()))
    if message is not None:
        assert fault["message"] == message


def test_service_actions_are_admin_only_and_enable_changes_nothing(server: Server) -> None:
    for action in ("freeze", "thaw", "failover_host", "enable", "reset_active_backend"):
        body = {"host": ALPHA, **({"binary": "cinder-volume"} if action == "enable" else {})}
        assert put(server, action, body, token="alice:project-a").status_code == 403, action
    answer = put(server, "disable", {"host": ALPHA, "binary": "cinder-volume"})
    assert answer.status_code == 200
    assert answer.json() == {
        "host": ALPHA,
        "service": "",
        "binary": "cinder-volume",
        "status": "disabled",
        "disabled": True,
    }
    cs = connect(server.url, "admin", "ops")
    assert alpha_row(cs).status == "enabled"  # Cinder 29's disable saves the service unchanged
    answer = put(
        server, "disable-log-reason", {"host": ALPHA, "binary": "cinder-volume", "disabled_reason": "maint"}
    )
    assert answer.json()["disabled_reason"] == "maint"
    assert (alpha_row(cs).status, alpha_row(cs).disabled_reason) == ("disabled", "maint")
