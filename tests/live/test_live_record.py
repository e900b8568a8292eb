"""``replisim serve --record``: a live server's calls, status changes and pools become a run record
and the same report a simulated run gets, with the figures matching what the clients did."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from cinderclient import exceptions
from support import TESTS, memdriver, runfiles
from support.cinderapi import connect, wait_volume
from support.serving import Serve, write_config

from replisim.actors.config import parse_config
from replisim.actors.serve import Server, start
from replisim.reports.report import write_report
from replisim.scenarios.live_record import LiveRecorder

SECRET = "Rec0rd-S3cret-pw"
DEVICE_SECRET = "rec-dev1ce-t0ken"
CONF = f"""
[DEFAULT]
enabled_backends = alpha, beta, leaky

[alpha]
volume_driver = support.memdriver.MemoryDriver
volume_backend_name = alpha
replication_devices = beta
total_capacity_gb = 200

[beta]
volume_driver = support.memdriver.MemoryDriver
volume_backend_name = beta
replication_devices = alpha
total_capacity_gb = 300

[leaky]
volume_driver = support.memdriver.LeakyDriver
volume_backend_name = leaky
managed_replication_target = false
replication_devices = {{'san_ip'='192.0.2.9' 'api_token'='{DEVICE_SECRET}'}}
san_password = {SECRET}
"""
# The calls that change something; the reads the client makes while it waits are recorded too.
MUTATING = {
    "create_volume_type",
    "set_extra_specs",
    "create_volume",
    "delete_volume",
    "enable_replication",
    "disable_replication",
    "failover_replication",
}


def load(out: Path) -> tuple[list[dict[str, Any]], dict[str, Any], dict[str, Any]]:
    history = runfiles.history(out)
    return history, json.loads((out / "run.json").read_text()), json.loads((out / "report.json").read_text())


def wait_gone(cs: Any, volume_id: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            cs.volumes.get(volume_id)
        except exceptions.NotFound:
            return
        time.sleep(0.02)
    raise AssertionError(f"volume {volume_id} still there after {timeout} s")


def drive(url: str) -> tuple[list[tuple[str, str]], list[str], str]:
    """Creates, a delete, enables, a failover and two refusals; returns (API method, outcome) as the
    client saw each, the replicated volumes' ids and the deleted volume's id."""
    done: list[tuple[str, str]] = []
    cs = connect(url, "admin", "admin-project")
    kind = cs.volume_types.create("gold")
    kind.set_keys({"replication": "enabled", "volume_backend_name": "alpha"})
    done += [("create_volume_type", "ok"), ("set_extra_specs", "ok")]
    replicated = [cs.volumes.create(2, volume_type="gold") for _ in range(2)]
    plain = cs.volumes.create(1)
    done += [("create_volume", "ok")] * 3
    for volume in (*replicated, plain):
        wait_volume(cs, volume.id, "status", "available")
    cs.volumes.delete(plain)
    done.append(("delete_volume", "ok"))
    wait_gone(cs, plain.id)
    for volume in replicated:
        cs.volumes._action("os-enable_replication", volume)
        done.append(("enable_replication", "ok"))
        wait_volume(cs, volume.id, "replication_status", "enabled")
    cs.volumes._action("os-failover_replication", replicated[0], {"secondary": "beta"})
    done.append(("failover_replication", "ok"))
    wait_volume(cs, replicated[0].id, "replication_status", "failed-over")
    with pytest.raises(exceptions.BadRequest):  # enabled already: the API refuses
        cs.volumes._action("os-enable_replication", replicated[1])
    done.append(("enable_replication", "fail"))
    with pytest.raises(exceptions.NotFound):
        cs.volumes._action("os-failover_replication", "no-such-volume")
    done.append(("failover_replication", "fail"))
    return done, [v.id for v in replicated], plain.id


def recording(out: Path) -> Server:
    """A server recording into ``out``, as ``replisim serve --record`` starts one."""
    recorder = LiveRecorder.into(out, "<string>")
    return start(parse_config(CONF), "sqlite://", report_interval=0.1, record=recorder)


def test_a_recorded_server_reports_exactly_what_its_clients_did(tmp_path: Path) -> None:
    memdriver.reset()
    out = tmp_path / "record"
    server = recording(out)
    try:
        assert server.not_ready(timeout=10.0) == {}
        done, replicated, plain = drive(server.url)
    finally:
        server.stop()
    write_report(out)  # as the command line does once the server has stopped

    history, run, report = load(out)
    invokes = {op["index"]: op for op in history if op["type"] == "invoke"}
    completions = [op for op in history if op["type"] != "invoke"]
    assert sorted(op["index"] for op in completions) == sorted(invokes)  # each call answered once
    assert {op["process"] for op in history} == {"admin-project"}
    recorded = [
        (invokes[op["index"]]["f"], op["type"])
        for op in sorted(completions, key=lambda op: op["index"])
        if op["f"] in MUTATING
    ]
    assert recorded == done
    assert {op["f"] for op in history} - MUTATING == {"get_volume", "get_volume_type"}

    expected = Counter(done)
    for f in MUTATING - {"disable_replication"}:
        stats = report["operations"][f]
        assert (stats["ok"], stats["fail"], stats["info"]) == (expected[f, "ok"], expected[f, "fail"], 0), f
    assert report["operations"]["create_volume (done)"]["ok"] == 3
    assert report["operations"]["delete_volume (done)"]["ok"] == 1
    assert report["operations"]["enable_replication (done)"]["ok"] == 2
    assert report["operations"]["failover_replication (done)"]["ok"] == 1
    assert report["header"]["mode"] == "live" and report["header"]["seed"] is None

    moves = [(t["volume"], t["from"], t["to"]) for t in run["transitions"]]
    assert (replicated[0], "enabling_secondary", "failed-over") in moves
    assert sum(to == "failed-over" for _, _, to in moves) == 1
    changes = [(t["volume"], t["from"], t["to"]) for t in run["status_changes"]]
    assert (plain, "deleting", "deleted") in changes

    pools = report["capacity"]
    assert (pools["alpha"]["capacity_gb"], pools["beta"]["capacity_gb"]) == (200, 300)
    assert len(pools["alpha"]["series"]["time"]) >= 2
    assert pools["alpha"]["volumes"] + pools["beta"]["volumes"] == 2  # the plain one was deleted

    page = (out / "report.html").read_text()
    assert page.count("data:image/png;base64,") >= 4  # latency, throughput, timeline, capacity at least


def test_no_configured_secret_reaches_the_record(tmp_path: Path) -> None:
    memdriver.reset()
    out = tmp_path / "record"
    server = recording(out)
    try:
        assert server.not_ready(timeout=10.0) == {}
        cs = connect(server.url, "admin", "admin-project")
        kind = cs.volume_types.create("leaky")
        kind.set_keys({"replication": "enabled", "volume_backend_name": "leaky"})
        volume = wait_volume(
            cs, cs.volumes.create(1, name=f"named {SECRET}", volume_type="leaky").id, "status", "available"
        )
        cs.volumes._action("os-list_replication_targets", volume)
        cs.volumes._action("os-enable_replication", volume)
        wait_volume(cs, volume.id, "replication_status", "enabled")
        cs.volumes._action("os-failover_replication", volume, {"secondary": SECRET})
        wait_volume(cs, volume.id, "replication_status", "error")
        with pytest.raises(exceptions.NotFound):  # the error answer names the type it did not find
            cs.volumes.create(1, volume_type=DEVICE_SECRET)
    finally:
        server.stop()
    write_report(out)  # as the command line does once the server has stopped

    history, _, _ = load(out)
    assert any(op["f"] == "failover_replication" for op in history)
    assert any(op["type"] == "fail" and op["f"] == "create_volume" for op in history)
    files = sorted(p for p in out.iterdir() if p.is_file())
    assert {p.name for p in files} >= {"run.json", "history.jsonl.gz", "report.json", "report.html"}
    for path in files:
        text = runfiles.text(path)
        assert SECRET not in text and DEVICE_SECRET not in text, path.name
    assert "***" in runfiles.text(out / "history.jsonl.gz")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_the_serve_command_writes_its_record_when_signalled(tmp_path: Path, sig: signal.Signals) -> None:
    out = tmp_path / "record"
    server = Serve(write_config(tmp_path), "--record", str(out))
    try:
        cs = connect(server.wait_url(), "admin", "ops")
        wait_volume(cs, cs.volumes.create(1).id, "status", "available")
    finally:
        code = server.stop(sig)
    assert code == 0, server.log.read_text()
    history, _, report = load(out)
    assert [op["type"] for op in history if op["f"] == "create_volume"] == ["invoke", "ok"]
    assert report["operations"]["create_volume (done)"]["ok"] == 1


def test_an_unwritable_record_directory_is_refused_before_serving(tmp_path: Path) -> None:
    taken = tmp_path / "a-file"
    taken.write_text("")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "replisim",
            "serve",
            "--config",
            str(write_config(tmp_path)),
            "--port",
            "0",
            "--record",
            str(taken / "sub"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "PYTHONPATH": str(TESTS)},
    )
    assert done.returncode == 2
    assert f"--record {taken / 'sub'}: cannot write there" in done.stderr
    assert "Traceback" not in done.stderr
