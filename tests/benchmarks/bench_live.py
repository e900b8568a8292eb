"""Live throughput: volume creates through ``replisim serve`` by 1, 8, 32 and 64 concurrent clients,
against the same creates as direct driver calls, in one run, on one real storage array process.

Run: ``.venv/bin/python tests/benchmarks/bench_live.py [SECONDS_PER_LEVEL] [LEVELS...]`` (or
``make bench``); defaults 8 s and ``1 8 32 64``. The server is its own process (``replisim serve``
on SQLite in a file, one storage array process behind it), so that the clients, which are threads
of this process, do not share its interpreter lock.

A client POSTs a create (the body cinderclient sends) and polls ``GET /volumes/{id}`` every 5 ms
until the volume is ``available``; its latency is from the POST to that answer. Printed per level:
creates/s that reached ``available``, p50 and p99 of that latency, and errors (a refused POST, a
reset or timed-out connection, or a volume that went to ``error``), and the CPU time per create
that the server process, the array process and the clients (this process) spent during the level
(from ``/proc``: on two shared cores the rate depends on the load, the CPU per create much less,
and the clients' share is CPU the servers did not get). The baseline is the array driver's
``create_volume`` called directly by the same number of threads. A last line times the poll alone:
one client GETting one volume, and serve's CPU per GET (each create above polls every 5 ms
until its volume is available).

``replisim serve`` keeps its threads on one CPU (``--cpu auto``); the line ``REST, --cpu all``
runs the level nearest 32 clients again on a server whose threads the kernel spreads over every
CPU, so that each run shows what the placement is worth on the machine it runs on.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import select
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests

from replisim.actors.config import parse_config
from replisim.drivers.storage.driver import StorageDriver
from replisim.drivers.storage.process import StorageProcess

PASSWORD = "bench-s3cret"
POLL = 0.005


class Level:
    """What one level of concurrency measured."""

    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.errors: list[str] = []
        self.lock = threading.Lock()

    def done(self, seconds: float) -> None:
        with self.lock:
            self.latencies.append(seconds)

    def failed(self, why: str) -> None:
        with self.lock:
            self.errors.append(why)


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] * 1000 if ordered else float("nan")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time a process has used so far (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_level(
    clients: int, seconds: float, one: Callable[[int, int, Level], None], pids: tuple[int, ...]
) -> tuple[Level, float, tuple[float, ...]]:
    """``clients`` threads each calling ``one(client, i, level)`` until ``seconds`` have passed;
    what the level measured, its wall time, and the CPU seconds each of ``pids`` spent meanwhile."""
    level = Level()
    pids = (*pids, os.getpid())  # the clients' own CPU last: they share the machine's two cores
    cpu_before = [cpu_seconds(pid) for pid in pids]
    deadline = time.perf_counter() + seconds

    def client(number: int) -> None:
        i = 0
        while time.perf_counter() < deadline:
            one(number, i, level)
            i += 1

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - began
    return level, wall, tuple(cpu_seconds(pid) - before for pid, before in zip(pids, cpu_before, strict=True))


def caller(url: str) -> Callable[..., tuple[int, Any]]:
    """``call(client, method, path, payload=None)``: a request on the client's own keep-alive
    connection, answered as (status, decoded JSON)."""
    parts = urlsplit(url)
    headers = {"X-Auth-Token": "admin:bench", "Content-Type": "application/json"}
    connections: dict[int, http.client.HTTPConnection] = {}

    def call(client: int, method: str, path: str, payload: str | None = None) -> tuple[int, Any]:
        connection = connections.get(client)
        if connection is None:
            connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=30)
            connections[client] = connection
        try:
            connection.request(method, path, payload, headers)
            answer = connection.getresponse()
            return answer.status, json.loads(answer.read() or b"null")
        except (OSError, http.client.HTTPException):
            connection.close()
            del connections[client]
            raise

    return call


def rest_poll(url: str, volume_id: str) -> Callable[[int, int, Level], None]:
    """A client that only polls: ``GET`` of one volume, the request a waiting client repeats most."""
    call, path = caller(url), f"/v3/bench/volumes/{volume_id}"

    def one(client: int, i: int, level: Level) -> None:
        began = time.perf_counter()
        try:
            status, _ = call(client, "GET", path)
        except (OSError, http.client.HTTPException) as exc:
            level.failed(f"{type(exc).__name__}: {exc}")
            return
        if status != 200:
            level.failed(f"GET {status}")
            return
        level.done(time.perf_counter() - began)

    return one


def rest_create(url: str) -> Callable[[int, int, Level], None]:
    """A client: one keep-alive connection (``http.client``, the lightest client the standard
    library has: the clients share the machine's two cores with the servers, and ``requests``
    spent more CPU per create than serve did), the body cinderclient sends, then polls."""
    body = json.dumps(
        {
            "volume": {
                "size": 1,
                "availability_zone": None,
                "source_volid": None,
                "description": None,
                "multiattach": False,
                "snapshot_id": None,
                "backup_id": None,
                "name": "bench",
                "imageRef": None,
                "volume_type": None,
                "metadata": {},
                "consistencygroup_id": None,
            }
        }
    )
    call = caller(url)

    def one(client: int, i: int, level: Level) -> None:
        began = time.perf_counter()
        try:
            status, posted = call(client, "POST", "/v3/bench/volumes", body)
            if status != 202:
                level.failed(f"POST {status}: {json.dumps(posted)[:120]}")
                return
            volume_path = f"/v3/bench/volumes/{posted['volume']['id']}"
            while True:
                volume = call(client, "GET", volume_path)[1]["volume"]["status"]
                if volume == "available":
                    level.done(time.perf_counter() - began)
                    return
                if volume != "creating":
                    level.failed(f"volume went to {volume}")
                    return
                time.sleep(POLL)
        except (OSError, http.client.HTTPException) as exc:
            level.failed(f"{type(exc).__name__}: {exc}")

    return one


def direct_create(driver: StorageDriver) -> Callable[[int, int, Level], None]:
    def one(client: int, i: int, level: Level) -> None:
        began = time.perf_counter()
        try:
            driver.create_volume({"id": f"direct-{client:03d}-{i:06d}", "size": 1})
        except Exception as exc:
            level.failed(f"{type(exc).__name__}: {exc}")
            return
        level.done(time.perf_counter() - began)

    return one


def serve(config: Path, *options: str) -> tuple[subprocess.Popen[str], str]:
    """``replisim serve`` on ``config`` with ``options``, its quotas lifted; the process and its URL."""
    process = subprocess.Popen(
        [sys.executable, "-m", "replisim", "serve", "--config", str(config), "--port", "0", *options],
        stdout=subprocess.PIPE,
        stderr=config.with_suffix(".log").open("a"),
        text=True,
    )
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], 60)
    match = re.search(r"listening on (http://\S+)", process.stdout.readline() if ready else "")
    if not match:
        process.kill()
        raise SystemExit(f"replisim serve did not start; see {config.with_suffix('.log')}")
    # serve starts at Cinder's default quotas (10 volumes a project): a load test lifts them, as
    # one does on Cinder
    unlimited = {"quota_set": {"volumes": -1, "gigabytes": -1}}
    lifted = requests.put(
        f"{match[1]}/v3/bench/os-quota-sets/bench",
        json=unlimited,
        headers={"X-Auth-Token": "admin:bench"},
        timeout=30,
    )
    lifted.raise_for_status()
    return process, match[1]


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 8.0
    levels = [int(n) for n in sys.argv[2:]] or [1, 8, 32, 64]
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    with tempfile.TemporaryDirectory() as tmp:
        array = StorageProcess(Path(tmp) / "alpha", "alpha", PASSWORD, capacity_gb=10**7).start()
        config = Path(tmp) / "cinder.conf"
        text = (
            "[DEFAULT]\nenabled_backends = alpha\nadmin_users = admin\n\n[alpha]\n"
            "volume_driver = replisim.drivers.storage.StorageDriver\nvolume_backend_name = alpha\n"
            f"san_ip = 127.0.0.1\nsan_port = {array.port}\nsan_login = admin\n"
            f"san_password = {PASSWORD}\n"
        )
        config.write_text(text)
        process, url = serve(config)
        assert array.pid is not None
        rows = []
        try:
            for clients in levels:
                rows.append(
                    (
                        "REST to available",
                        clients,
                        *run_level(clients, seconds, rest_create(url), (process.pid, array.pid)),
                    )
                )
            created = requests.post(
                f"{url}/v3/bench/volumes",
                json={"volume": {"size": 1}},
                headers={"X-Auth-Token": "admin:bench"},
                timeout=30,
            )
            created.raise_for_status()
            polls = run_level(1, seconds / 2, rest_poll(url, created.json()["volume"]["id"]), (process.pid,))
            process.terminate()
            process.wait(30)
            # the same load on a server whose threads the kernel spreads over every CPU
            process, url = serve(config, "--cpu", "all", "--db", f"sqlite:///{tmp}/spread.db")
            spread = min(levels, key=lambda clients: abs(clients - 32))  # the goal's level
            rows.append(
                (
                    "REST, --cpu all",
                    spread,
                    *run_level(spread, seconds, rest_create(url), (process.pid, array.pid)),
                )
            )
            backend = parse_config(text).backend("alpha")
            driver = StorageDriver(backend.driver_configuration(), backend.host)
            driver.do_setup(None)
            for clients in levels:
                rows.append(
                    (
                        "driver, direct",
                        clients,
                        *run_level(clients, seconds, direct_create(driver), (array.pid,)),
                    )
                )
        finally:
            process.terminate()
            process.wait(30)
            array.stop()
    print(f"volume creates, {seconds:g} s per level, replisim serve and one storage array on 127.0.0.1")
    print(f"load average before: {load}")
    print(
        f"  {'path':<18} {'clients':>7} {'creates/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}"
        f" {'CPU ms/create: serve':>21} {'array':>6} {'clients':>8}"
    )
    for label, clients, level, wall, cpu in rows:
        rate = len(level.latencies) / wall
        p50, p99 = percentile(level.latencies, 0.5), percentile(level.latencies, 0.99)
        per_create = [f"{1000 * spent / max(len(level.latencies), 1):.2f}" for spent in cpu]
        serve_cpu, array_cpu, client_cpu = per_create if len(cpu) == 3 else ["-", *per_create]
        print(
            f"  {label:<18} {clients:>7} {rate:>10.1f} {p50:>8.1f} {p99:>8.1f} {len(level.errors):>7}"
            f" {serve_cpu:>21} {array_cpu:>6} {client_cpu:>8}"
        )
        for why in sorted(set(level.errors))[:3]:
            print(f"      e.g. {why}")
    poll, poll_wall, (poll_cpu, _clients_cpu) = polls
    print(
        f"  poll (GET of one volume), 1 client on one connection: {len(poll.latencies) / poll_wall:.0f}/s, "
        f"p50 {percentile(poll.latencies, 0.5):.2f} ms, {len(poll.errors)} errors, "
        f"{1e6 * poll_cpu / max(len(poll.latencies), 1):.0f} us of serve CPU per GET"
    )


if __name__ == "__main__":
    main()
