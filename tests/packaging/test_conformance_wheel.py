"""A vendor's CI: install the built wheel into a fresh environment, write a driver in a file of its
own outside the repository, and run ``replisim conformance`` against it from there."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

from support import build_wheel

# A standalone driver, as a vendor would write it: no replisim base class, only its exceptions.
VENDOR_DRIVER = '''
"""Acme's driver: volumes on in-memory arrays shared by the backends of one process."""

from replisim.exception import InvalidReplicationTarget, VolumeBackendAPIException

ARRAYS = {}  # backend name -> {volume id: {"replica_of": backend or None, "replicating": bool}}


class AcmeDriver:
    VERSION = "2.1"

    def __init__(self, configuration, host):
        self.config = configuration
        self.host = host
        self.backend = host.partition("@")[2]
        self.targets = list(configuration.safe_get("replication_devices") or [])
        ARRAYS.setdefault(self.backend, {})

    def do_setup(self, context):
        self.password = self.config.safe_get("acme_password")

    def check_for_setup_error(self):
        if not self.password:
            raise VolumeBackendAPIException(data="acme_password is not set")

    def get_volume_stats(self, refresh=False):
        used = sum(1 for v in ARRAYS[self.backend].values() if v["replica_of"] is None)
        stats = {"volume_backend_name": self.config.volume_backend_name, "vendor_name": "Acme",
                 "driver_version": self.VERSION, "storage_protocol": "iSCSI",
                 "total_capacity_gb": 100, "free_capacity_gb": 100 - used,
                 "replication_enabled": bool(self.targets)}
        if self.targets:
            stats.update(replication_type=["sync"], replication_count=len(self.targets))
        return stats

    def create_volume(self, volume):
        ARRAYS[self.backend][volume["id"]] = {"replica_of": None, "replicating": False}
        return {"provider_location": f"acme://{self.backend}/{volume['id']}"}

    def delete_volume(self, volume):
        for array in ARRAYS.values():
            array.pop(volume["id"], None)

    def _volume(self, volume):
        found = ARRAYS[self.backend].get(volume["id"])
        if found is None:
            raise VolumeBackendAPIException(data=f"no volume {volume['id']} on {self.backend}")
        return found

    def replication_enable(self, context, volume):
        self._volume(volume)["replicating"] = True
        for target in self.targets:
            ARRAYS[target][volume["id"]] = {"replica_of": self.backend, "replicating": False}
        return {"replication_driver_data": ",".join(self.targets)}

    def replication_disable(self, context, volume):
        self._volume(volume)["replicating"] = False
        return None

    def replication_failover(self, context, volume, secondary):
        target = secondary or (self.targets[0] if self.targets else None)
        if target not in self.targets or volume["id"] not in ARRAYS.get(target, {}):
            raise InvalidReplicationTarget(reason=f"no replica of {volume['id']} on {target!r}")
        ARRAYS[target][volume["id"]] = {"replica_of": None, "replicating": True}
        ARRAYS[self.backend][volume["id"]] = {"replica_of": target, "replicating": False}
        return {"host": f"{self.host.partition('@')[0]}@{target}#{target}",
                "model_update": {"provider_location": f"acme://{target}/{volume['id']}"}}

    def list_replication_targets(self, context, volume):
        replicating = ARRAYS[self.backend].get(volume["id"], {}).get("replicating")
        targets = [{"type": "managed", "backend_name": t} for t in self.targets] if replicating else []
        return {"volume_id": volume["id"], "targets": targets}

    def get_replication_updates(self, context):
        return []


class ChattyAcmeDriver(AcmeDriver):
    """The same, but it shows its password to whoever lists targets."""

    def list_replication_targets(self, context, volume):
        answer = super().list_replication_targets(context, volume)
        return {**answer, "targets": [{**t, "login": self.password} for t in answer["targets"]]}
'''

VENDOR_CONFIG = """
[DEFAULT]
enabled_backends = acme-a, acme-b

[acme-a]
volume_driver = acme_driver.AcmeDriver
volume_backend_name = acme-a
replication_devices = acme-b
acme_password = hunter2-acme

[acme-b]
volume_driver = acme_driver.AcmeDriver
volume_backend_name = acme-b
replication_devices = acme-a
acme_password = hunter2-acme
"""


def test_the_installed_wheel_checks_a_driver_written_outside_the_repository(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    wheel = build_wheel(wheels)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "-q",
            "--no-deps",
            "--no-index",
            str(wheel),
        ],
        check=True,
        capture_output=True,
    )
    # replisim's dependencies come from the test environment (a path, so its editable finder stays off)
    site = Path(
        subprocess.run(
            [python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    (site / "dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n", encoding="utf-8")

    vendor = tmp_path / "acme"
    vendor.mkdir()
    (vendor / "acme_driver.py").write_text(textwrap.dedent(VENDOR_DRIVER), encoding="utf-8")
    (vendor / "acme.conf").write_text(VENDOR_CONFIG, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    where = subprocess.run(
        [python, "-c", "import replisim; print(replisim.__file__)"],
        cwd=vendor,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert where.startswith(str(venv))  # the wheel, not the repository

    def conformance(driver: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                venv / "bin" / "replisim",
                "conformance",
                "--driver",
                driver,
                "--config",
                "acme.conf",
                "--json",
                "report.json",
                "--junitxml",
                "report.xml",
            ],
            cwd=vendor,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )

    done = conformance("acme_driver:AcmeDriver")
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("replisim conformance: PASS")
    report = json.loads((vendor / "report.json").read_text())
    outcomes = {c["id"]: c["outcome"] for c in report["checks"]}
    assert report["driver_version"] == "2.1" and outcomes["ERR-ARRAY-004"] == "skipped"
    assert set(outcomes.values()) == {"passed", "skipped"} and report["executed"] >= 28

    done = conformance("acme_driver:ChattyAcmeDriver")
    assert done.returncode == 1
    failed = {
        c["id"]
        for c in json.loads((vendor / "report.json").read_text())["checks"]
        if c["outcome"] == "failed"
    }
    assert failed == {"REPL-TARGETS-007", "REPL-TARGETS-012"}
    assert "hunter2-acme" not in done.stdout + (vendor / "report.xml").read_text()
