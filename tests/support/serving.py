"""``replisim serve`` as a real process, for the live tests that drive one."""

from __future__ import annotations

import os
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

from . import TESTS

SECRET = "S3cret-Passw0rd"


class Serve:
    """One `replisim serve` process on a free port; `stop` is idempotent and kills if it must."""

    def __init__(self, config: Path, *extra: str):
        self.config = config
        self.log = config.with_name(f"serve-{time.monotonic_ns()}.log")
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])}
        with self.log.open("w") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "replisim",
                    "serve",
                    "--config",
                    str(config),
                    "--port",
                    "0",
                    "--report-interval",
                    "0.2",
                    *extra,
                ],
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
                env=env,
            )

    def wait_url(self, timeout: float = 20.0) -> str:
        assert self.process.stdout is not None
        ready, _, _ = select.select([self.process.stdout], [], [], timeout)
        line = self.process.stdout.readline() if ready else ""
        match = re.search(r"listening on (http://\S+)", line)
        assert match, f"no URL within {timeout} s: {line!r}; log: {self.log.read_text()}"
        return match[1]

    def stop(self, sig: signal.Signals = signal.SIGTERM) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


def write_config(tmp_path: Path, alpha_extra: str = "") -> Path:
    path = tmp_path / "cinder.conf"
    path.write_text(f"""
[DEFAULT]
enabled_backends = alpha, beta, leaky
admin_users = admin

[alpha]
volume_driver = support.memdriver.MemoryDriver
volume_backend_name = alpha
replication_devices = beta
{alpha_extra}

[beta]
volume_driver = support.memdriver.MemoryDriver
volume_backend_name = beta
replication_devices = alpha

[leaky]
volume_driver = support.memdriver.LeakyDriver
volume_backend_name = leaky
managed_replication_target = false
replication_devices = {{'san_ip'='192.0.2.9'}}
san_password = {SECRET}
""")
    return path
