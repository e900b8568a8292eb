"""`replisim serve` as a real process: the `cinder` command against it, bad input, and crash recovery."""

from __future__ import annotations

import signal
import sqlite3
import time
from pathlib import Path

import pytest
from support.cinderapi import cinder, connect, field, wait_volume
from support.serving import SECRET, Serve, write_config


def test_the_cinder_command_drives_replisim_serve(tmp_path: Path, serve: type[Serve]) -> None:
    server = serve(write_config(tmp_path))
    url = server.wait_url()

    def ok(*args: str) -> str:
        done = cinder(url, tmp_path, *args)
        assert done.returncode == 0, done.stderr
        return done.stdout

    ok("type-create", "gold")
    ok("type-key", "gold", "set", "replication=enabled", "volume_backend_name=leaky")
    assert "volume_backend_name" in ok("extra-specs-list")
    volume_id = field(ok("create", "1", "--name", "vol1", "--volume-type", "gold"), "id")
    admin = connect(url, "admin", "ops", bare=True)
    wait_volume(admin, volume_id, "status", "available")
    shown = ok("show", "vol1")
    assert (field(shown, "replication_status"), field(shown, "os-vol-host-attr:host")) == (
        "disabled",
        "replisim@leaky#leaky",
    )
    assert volume_id in ok("list")
    assert ok("service-list").count("cinder-volume") == 3
    refused = cinder(url, tmp_path, "service-list", user="alice")
    assert refused.returncode == 1 and "HTTP 403" in refused.stderr

    # The replication actions have no `cinder` subcommand: the Python API posts them.
    admin.volumes._action("os-enable_replication", volume_id)
    wait_volume(admin, volume_id, "replication_status", "enabled")
    _, targets = admin.volumes._action("os-list_replication_targets", volume_id)
    assert targets["targets"][0]["san_password"] == "***"
    admin.volumes._action("os-failover_replication", volume_id, {"secondary": "dr-site"})
    failed = wait_volume(admin, volume_id, "replication_status", "error")
    assert "refused the password ***" in getattr(failed, "os-volume-replication:extended_status")

    assert server.stop(signal.SIGTERM) == 0
    assert server.process.stdout is not None and "stopped" in server.process.stdout.read()
    log = server.log.read_text()
    assert "dr-site refused the password ***" in log  # the manager's error line, redacted
    assert SECRET not in log


def test_bad_configuration_is_exit_2_naming_file_section_and_key(tmp_path: Path, serve: type[Serve]) -> None:
    config = write_config(tmp_path)
    config.write_text(config.read_text().replace("support.memdriver.LeakyDriver", "nowhere.Driver"))
    server = serve(config)
    assert server.process.wait(timeout=30) == 2
    message = server.log.read_text()
    assert str(config) in message and "leaky" in message and "volume_driver" in message
    assert "Traceback" not in message


@pytest.mark.parametrize(
    ("db", "says"),
    [
        ("postgresql://ops:Db-Passw0rd@127.0.0.1:1/cinder", "cannot use the database postgresql://ops:***@"),
        ("not a url", "--db is not an SQLAlchemy database URL"),
    ],
    ids=["unreachable", "malformed"],
)
def test_an_unusable_database_is_exit_2_without_its_password(
    tmp_path: Path, serve: type[Serve], db: str, says: str
) -> None:
    server = serve(write_config(tmp_path), "--db", db)
    assert server.process.wait(timeout=30) == 2
    message = server.log.read_text()
    assert says in message and "Db-Passw0rd" not in message and "Traceback" not in message


def test_a_restart_after_sigkill_mid_failover_reconciles(tmp_path: Path, serve: type[Serve]) -> None:
    config = write_config(tmp_path, alpha_extra="failover_delay = 60")
    first = serve(config)
    url = first.wait_url()
    cs = connect(url, "admin", "ops")
    gold = cs.volume_types.create("gold")
    gold.set_keys({"replication": "enabled", "volume_backend_name": "alpha"})
    acknowledged = [cs.volumes.create(1, name=f"v{i}", volume_type="gold").id for i in range(3)]
    for volume_id in acknowledged:
        wait_volume(cs, volume_id, "status", "available")
    victim = acknowledged[0]
    cs.volumes._action("os-enable_replication", victim)
    wait_volume(cs, victim, "replication_status", "enabled")
    assert cs.volumes._action("os-failover_replication", victim)[0].status_code == 202
    time.sleep(0.5)  # the manager is now inside the driver's 60 s failover
    assert cs.volumes.get(victim).replication_status == "enabling_secondary"
    first.stop(signal.SIGKILL)

    second = serve(config)  # the same database file, next to the config
    cs = connect(second.wait_url(), "admin", "ops")
    volumes = {v.id: v for v in cs.volumes.list(search_opts={"all_tenants": 1})}
    assert set(acknowledged) <= set(volumes)
    assert not {v.replication_status for v in volumes.values()} & {
        "enabling",
        "disabling",
        "enabling_secondary",
    }
    recovered = volumes[victim]
    assert recovered.replication_status == "error"
    assert "restarted while the volume was enabling_secondary" in getattr(
        recovered, "os-volume-replication:extended_status"
    )
    # ids are drawn from the runtime's seed: a restart must not draw the last run's again
    fresh = cs.volumes.create(1, name="after-restart", volume_type="gold")
    assert fresh.id not in {*volumes, gold.id}
    assert second.stop() == 0
    with sqlite3.connect(tmp_path / "cinder.db") as db:  # the default database, in WAL mode
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
