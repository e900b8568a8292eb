"""``replisim serve --cpu``: where the server's threads run, and a clear refusal of a CPU it cannot use."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from support.serving import Serve, write_config

# the CPUs this process may use (none known without Linux's CPU affinity)
ALLOWED = frozenset(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else frozenset()
pytestmark = pytest.mark.skipif(
    len(ALLOWED) < 2, reason="placement needs Linux CPU affinity and two CPUs to choose from"
)


def thread_cpus(pid: int) -> dict[str, frozenset[int]]:
    """Each thread of ``pid`` (by name and id) -> the CPUs it may run on."""
    placed = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        status = dict(
            line.split(":\t", 1) for line in (task / "status").read_text().splitlines() if ":\t" in line
        )
        placed[f"{status['Name']}/{task.name}"] = cpu_list(status["Cpus_allowed_list"])
    return placed


def cpu_list(text: str) -> frozenset[int]:
    """The kernel's CPU list (``0-3,6``) as a set."""
    cpus: set[int] = set()
    for part in text.strip().split(","):
        first, _, last = part.partition("-")
        cpus.update(range(int(first), int(last or first) + 1))
    return frozenset(cpus)


@pytest.mark.parametrize("choice", ["auto", str(max(ALLOWED, default=0))])
def test_every_thread_of_the_server_runs_on_the_one_cpu_it_chose(tmp_path: Path, choice: str) -> None:
    server = Serve(write_config(tmp_path), "--cpu", choice)
    try:
        server.wait_url()
        placed = thread_cpus(server.process.pid)
    finally:
        server.stop()
    assert len(placed) > 10, placed  # the actors, the drivers' pools and waitress's workers
    assert len(set(placed.values())) == 1, placed
    cpus = next(iter(placed.values()))
    assert len(cpus) == 1 and cpus <= ALLOWED, placed
    if choice != "auto":
        assert cpus == {int(choice)}
    assert "run on CPU" in server.log.read_text()


def test_all_leaves_the_threads_where_the_kernel_puts_them(tmp_path: Path) -> None:
    server = Serve(write_config(tmp_path), "--cpu", "all")
    try:
        server.wait_url()
        placed = thread_cpus(server.process.pid)
    finally:
        server.stop()
    assert set(placed.values()) == {ALLOWED}, placed


@pytest.mark.parametrize(
    ("choice", "said"),
    [
        ("fast", "--cpu 'fast': give auto, all or a CPU number"),
        ("4096", "--cpu 4096: not a CPU this process may run on (it may use ["),
        ("-1", "--cpu -1: not a CPU this process may run on"),
    ],
)
def test_a_cpu_it_cannot_use_is_refused_with_exit_2_and_nothing_written(
    tmp_path: Path, choice: str, said: str
) -> None:
    config = write_config(tmp_path)
    before = set(tmp_path.iterdir())
    done = subprocess.run(
        [sys.executable, "-m", "replisim", "serve", "--config", str(config), "--port", "0", "--cpu", choice],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])},
    )
    assert done.returncode == 2, done.stderr
    assert said in done.stderr and "Traceback" not in done.stderr
    assert set(tmp_path.iterdir()) == before  # no database made
