"""The two servers under comparison: real Cinder 29 (``cinder_stack.py`` in its own virtual
environment, as a child process) and ``replisim serve`` (in this process), configured alike:
host ``replisim``, the same backends, each replicating to the others when there are several."""

from __future__ import annotations

import os
import re
import select
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from replisim.actors.config import parse_config
from replisim.actors.serve import Server, start

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
CINDER_VENV = Path(os.environ.get("CINDER_VENV", ROOT / ".venv-cinder29"))
CINDER_STAMP = ".cinder29-stamp"
BACKENDS = ("alpha",)


class NotInstalled(Exception):
    """The Cinder virtual environment is missing; ``setup-cinder.sh`` makes it."""


def cinder_python() -> Path:
    python = CINDER_VENV / "bin" / "python"
    if not (CINDER_VENV / CINDER_STAMP).exists() or not python.exists():
        raise NotInstalled(
            f"Cinder 29 is not installed in {CINDER_VENV}; run "
            f"tests/differential/setup-cinder.sh (or make differential)"
        )
    return python


@dataclass
class CinderStack:
    """``cinder_stack.py`` running; ``url`` once it printed it."""

    process: subprocess.Popen[str]
    log: Path
    url: str = ""

    @classmethod
    def start(cls, log: Path, backends: tuple[str, ...] = BACKENDS, timeout: float = 180.0) -> CinderStack:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OS_", "PYTHON"))}
        with log.open("w") as err:
            process = subprocess.Popen(
                [str(cinder_python()), str(HERE / "cinder_stack.py"), "--backends", ",".join(backends)],
                stdout=subprocess.PIPE,
                stderr=err,
                text=True,
                env=env,
                cwd=HERE,
            )
        stack = cls(process, log)
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], timeout)
        line = process.stdout.readline() if ready else ""
        match = re.search(r"listening on (http://\S+)", line)
        if not match:
            stack.stop()
            tail = "\n".join(log.read_text().splitlines()[-30:])
            raise RuntimeError(
                f"Cinder's stack gave no URL within {timeout:g} s ({line!r}); log {log}:\n{tail}"
            )
        stack.url = match[1]
        return stack

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


# A lone backend replicates to an unmanaged array of its own, as Cinder's fake driver reports
# replication (and group replication) on its pool without a peer: so replicated types and group
# replication have somewhere to go on both servers. Cinder's side lists the same device.
DR_DEVICE = "alpha-dr"
UNMANAGED_DEVICE = f"managed_replication_target = false\nreplication_devices = {{'backend_id'='{DR_DEVICE}'}}"


def replisim_config(backends: tuple[str, ...] = BACKENDS) -> str:
    """``cinder.conf`` for ``replisim serve``: the emulated driver, fast, each backend replicating
    to the others (a lone one to its own unmanaged device)."""
    sections = []
    for name in backends:
        others = ", ".join(b for b in backends if b != name)
        sections.append(f"""
[{name}]
volume_driver = replisim.drivers.emulated.EmulatedDriver
volume_backend_name = {name}
emulated_fabric = differential-{os.getpid()}
{f"replication_devices = {others}" if others else UNMANAGED_DEVICE}
service_time_create = 0.02
service_time_delete = 0.02
service_time_enable = 0.02
service_time_disable = 0.02
service_time_failover = 0.02
""")
    return (
        f"[DEFAULT]\nhost = replisim\nenabled_backends = {', '.join(backends)}\nadmin_users = admin\n"
        + "".join(sections)
    )


def start_replisim(backends: tuple[str, ...] = BACKENDS) -> Server:
    server = start(parse_config(replisim_config(backends)), "sqlite://", report_interval=1.0)
    not_ready = server.not_ready(timeout=30.0)
    if not_ready:
        server.stop()
        raise RuntimeError(f"replisim serve: backends not ready: {not_ready}")
    return server


def timed(what: str, timings: dict[str, float], started: float) -> None:
    timings[what] = time.monotonic() - started
