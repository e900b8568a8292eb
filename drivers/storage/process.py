"""Run storage arrays as real child processes, and inject the live faults a process can suffer.

``StorageProcess`` starts ``replisim array serve`` on a free loopback port, waits until it answers,
and can kill it (SIGKILL, a power loss), pause and resume it (SIGSTOP/SIGCONT), restart it on the
same port, and cut, slow or restore its replication link to a peer. Tests and the scenario runner
use it; every process it starts is also killed when the interpreter exits, as a safety net.
"""

from __future__ import annotations

import atexit
import os
import selectors
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Any

from .client import ArrayClient, ArrayError

_RUNNING: set[StorageProcess] = set()  # strong references: a forgotten handle must still be killed


class StorageProcessError(RuntimeError):
    """The array process did not come up; the message carries the tail of its log."""


class StorageProcess:
    """One array process. ``root`` is created if needed; the log goes to ``root.parent/<name>.log``
    unless ``log_path`` says otherwise (never inside the root, which holds only volumes)."""

    def __init__(
        self,
        root: Path | str,
        name: str,
        password: str,
        *,
        login: str = "admin",
        port: int = 0,
        host: str = "127.0.0.1",
        capacity_gb: int = 1000,
        peer_timeout: float = 5.0,
        log_path: Path | str | None = None,
        start_timeout: float = 10.0,
    ):
        self.root = Path(root)
        self.name = name
        self.login = login
        self._password = password
        self.host = host
        self.port = port
        self.capacity_gb = capacity_gb
        self.peer_timeout = peer_timeout
        self.log_path = Path(log_path) if log_path else self.root.parent / f"{name}.log"
        self.start_timeout = start_timeout
        self._process: subprocess.Popen[bytes] | None = None

    def __repr__(self) -> str:
        return f"StorageProcess({self.name!r}, address={self.address!r}, running={self.running})"

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def client(self, timeout: float = 5.0) -> ArrayClient:
        return ArrayClient(self.address, self.login, self._password, timeout)

    # -- life cycle

    def start(self) -> StorageProcess:
        """Start the process and return once it serves requests (on the same port after a restart)."""
        if self.running:
            return self
        self.root.mkdir(parents=True, exist_ok=True)
        command = [
            sys.executable,
            "-m",
            "replisim",
            "array",
            "serve",
            "--root",
            str(self.root),
            "--port",
            str(self.port),
            "--host",
            self.host,
            "--name",
            self.name,
            "--login",
            self.login,
            "--capacity-gb",
            str(self.capacity_gb),
            "--peer-timeout",
            str(self.peer_timeout),
        ]
        env = {**os.environ, "REPLISIM_ARRAY_PASSWORD": self._password}
        with open(self.log_path, "ab") as log:
            self._process = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log, env=env
            )
        _RUNNING.add(self)
        assert self._process.stdout is not None
        try:
            line = self._first_line(self._process.stdout)
            self.port = int(line.rsplit(":", 1)[1])
            self._wait_until_healthy()
        except Exception:
            self.kill()
            raise
        return self

    def _first_line(self, stream: IO[bytes]) -> str:
        deadline = time.monotonic() + self.start_timeout
        with selectors.DefaultSelector() as selector:
            selector.register(stream, selectors.EVENT_READ)
            while time.monotonic() < deadline:
                if selector.select(timeout=0.05):
                    line = stream.readline().decode(errors="replace").strip()
                    if line.startswith("listening on "):
                        return line
                    break
                if not self.running:
                    break
        self._fail("did not report a listening address")
        raise AssertionError("unreachable")

    def _wait_until_healthy(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        client = self.client(timeout=1.0)
        while time.monotonic() < deadline:
            try:
                if client.health().get("name") == self.name:
                    return
            except ArrayError:
                pass
            if not self.running:
                break
            time.sleep(0.02)
        self._fail("did not answer /health")

    def _fail(self, what: str) -> None:
        code = self._process.poll() if self._process else None
        state = f"exited with code {code}" if code is not None else "still running"
        tail = self.log_path.read_text(errors="replace")[-2000:] if self.log_path.exists() else ""
        raise StorageProcessError(f"array {self.name} {what} ({state}); log {self.log_path}:\n{tail}")

    def kill(self) -> None:
        """SIGKILL: no shutdown path runs, as in a power loss."""
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGKILL)
        self._reap()

    def pause(self) -> None:
        """SIGSTOP: the process holds its sockets but answers nothing until ``resume()``."""
        self._signal(signal.SIGSTOP)

    def resume(self) -> None:
        self._signal(signal.SIGCONT)

    def stop(self, timeout: float = 5.0) -> None:
        """Shut down cleanly (SIGTERM), or kill after ``timeout`` seconds."""
        process = self._process
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGCONT)  # a paused process cannot act on SIGTERM
            process.terminate()
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
        self._reap()

    def restart(self) -> StorageProcess:
        """Stop if running, then start again on the same port with the same root."""
        self.stop()
        return self.start()

    def _signal(self, signum: int) -> None:
        if not self.running:
            raise StorageProcessError(f"array {self.name} is not running")
        assert self._process is not None
        self._process.send_signal(signum)

    def _reap(self) -> None:
        if self._process is not None:
            self._process.wait()
            if self._process.stdout:
                self._process.stdout.close()
        _RUNNING.discard(self)

    def __enter__(self) -> StorageProcess:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # -- replication link faults (this array's side of its link to ``peer``)

    def cut_link(self, peer: StorageProcess | str) -> None:
        self.client().set_link(_address(peer), down=True)

    def slow_link(self, peer: StorageProcess | str, *, delay: float = 0.0, bandwidth: int = 0) -> None:
        """Add ``delay`` seconds per replication request and cap it at ``bandwidth`` bytes/s (0: none)."""
        self.client().set_link(_address(peer), delay=delay, bandwidth=bandwidth)

    def restore_link(self, peer: StorageProcess | str) -> None:
        self.client().restore_link(_address(peer))


def _address(peer: StorageProcess | str) -> str:
    return peer.address if isinstance(peer, StorageProcess) else peer


@atexit.register
def _kill_leftovers() -> None:
    for process in list(_RUNNING):
        process.kill()
