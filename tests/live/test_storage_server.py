"""The storage array process on its own: durability across SIGKILL, auth, secrets, bad input."""

from __future__ import annotations

import base64
import json
import os
import socket
import struct
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from support.rawhttp import exchange, read_answer

from replisim.drivers.storage.client import ArrayClient, ArrayError
from replisim.drivers.storage.process import StorageProcess
from replisim.drivers.storage.volumes import GIB, StorageError, VolumeStore

StartArray = Callable[..., StorageProcess]
REPLISIM = Path(sys.executable).with_name("replisim")


def test_every_acknowledged_write_survives_sigkill_and_restart(start_array: StartArray) -> None:
    array = start_array("a")
    client = array.client()
    client.create_volume("vol-1", 2)
    acknowledged: dict[int, bytes] = {}
    for i in range(40):  # overlapping writes too: the last write to a range is what must be read back
        offset = (i * 7919 * 512) % (2 * GIB - 4096)
        data = f"write {i:03d} ".encode() * 8
        assert client.write("vol-1", offset, data) == i + 1
        acknowledged = {o: d for o, d in acknowledged.items() if not (offset <= o < offset + len(data))}
        acknowledged[offset] = data
    client.write("vol-1", 0, b"A" * 100)
    client.write("vol-1", 50, b"B" * 10)  # overwrites the middle of the previous write
    array.kill()
    assert not array.running

    array.start()
    client = array.client()
    assert client.volume("vol-1")["generation"] == 42
    assert client.read("vol-1", 0, 100) == b"A" * 50 + b"B" * 10 + b"A" * 40
    for offset, data in acknowledged.items():
        if offset >= 100:
            assert client.read("vol-1", offset, len(data)) == data, offset
    image = array.root / "volumes" / "vol-1.img"
    assert image.stat().st_size == 2 * GIB and image.stat().st_blocks * 512 < 4 << 20  # sparse


def test_credentials_are_required_and_never_returned_or_logged(start_array: StartArray) -> None:
    b = start_array("b")
    a = start_array("a")
    assert ArrayClient(a.address, "admin", "nope").request("GET", "/health")["name"] == "a"  # health is open
    for login, password in (("admin", "wrong"), ("root", "pw-a-s3cret"), ("", "")):
        with pytest.raises(ArrayError) as refused:
            ArrayClient(a.address, login, password).stats()
        assert refused.value.status == 401
    client = a.client()
    client.create_volume("v", 1)
    client.write("v", 0, b"x")
    replies = [
        client.enable_replication("v", b.address, "admin", "pw-b-s3cret", "async"),
        client.stats(),
        client.volumes(),
        client.replication_status("v"),
        client.replication_overview(),
        client.volume("v"),
        b.client().volumes(),
        b.client().replication_overview(),
    ]
    a.cut_link(b)
    replies += [client.links(), client.replication_status("v")]
    text = json.dumps(replies)
    assert "127.0.0.1" in text and "s3cret" not in text
    a.stop()
    b.stop()
    for log in (a.log_path, b.log_path):
        assert "s3cret" not in log.read_text()
    assert os.stat(a.root / "peers.json").st_mode & 0o077 == 0  # the peer's password: owner-only


def test_api_refuses_bad_requests_with_reasons(start_array: StartArray) -> None:
    client = start_array("a").client()
    assert client.create_volume("v", 1)["generation"] == 0
    assert client.create_volume("v", 1)["id"] == "v"  # a retried create is fine
    cases = [
        (lambda: client.create_volume("v", 2), 409, "exists with size_gb 1"),
        (lambda: client.create_volume("../etc", 1), 400, "invalid volume id"),
        (lambda: client.create_volume("w", 0), 400, "size_gb must be a positive integer"),
        (lambda: client.create_volume("big", 5000), 507, "not enough space"),
        (lambda: client.write("v", GIB - 2, b"abc"), 400, "outside volume v"),
        (lambda: client.read("nope", 0, 1), 404, "volume nope not found"),
        (lambda: client.promote("v"), 200, ""),  # already primary: nothing to do
        (lambda: client.enable_replication("v", "not-an-address", "u", "p", "sync"), 400, "host:port"),
        (lambda: client.enable_replication("v", "127.0.0.1:1", "u", "p", "sometimes"), 400, "mode must be"),
        (lambda: client.set_link("127.0.0.1:1", delay=-1), 400, "delay must be"),
        (lambda: client.request("PATCH", "/volumes"), 405, "use GET, POST"),
        (lambda: client.request("GET", "/volume"), 404, "no such endpoint"),
    ]
    for call, status, text in cases:
        if status == 200:
            call()
            continue
        with pytest.raises(ArrayError) as refused:
            call()
        assert refused.value.status == status and text in refused.value.message
    assert client.delete_volume("v") is True
    assert client.delete_volume("v") is False  # deleting what is gone succeeds


def _serve(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(REPLISIM), "array", "serve", *args],
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
        env={**os.environ, "REPLISIM_ARRAY_PASSWORD": "pw", **(env or {})},
    )


def test_cli_reports_bad_input_with_exit_2(tmp_path: Path, start_array: StartArray) -> None:
    missing = _serve("--root", str(tmp_path / "nope"), "--port", "0", "--name", "x")
    assert missing.returncode == 2 and "'--root'" in missing.stderr and "does not exist" in missing.stderr

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        busy = _serve("--root", str(tmp_path), "--port", str(port), "--name", "x")
    assert busy.returncode == 2 and f"cannot listen on 127.0.0.1:{port}" in busy.stderr
    assert "Traceback" not in busy.stderr

    nopass = _serve(
        "--root", str(tmp_path), "--port", "0", "--name", "x", env={"REPLISIM_ARRAY_PASSWORD": ""}
    )
    assert nopass.returncode == 2 and "--password-file" in nopass.stderr

    running = start_array("a")
    shared = _serve("--root", str(running.root), "--port", "0", "--name", "again")
    assert shared.returncode == 2 and "in use by another array process" in shared.stderr


def test_restart_recovery_drops_unacknowledged_leftovers(tmp_path: Path) -> None:
    """What a SIGKILL can leave behind: a torn journal line, a journal entry whose write was never
    numbered, a half-created volume and a temporary metadata file. Loading keeps only what was
    acknowledged."""
    store = VolumeStore(tmp_path, capacity_gb=10)
    volume, _ = store.create("v", 1)
    volume.update(
        replication={"peer": "127.0.0.1:1", "mode": "async", "shipped": 0, "in_sync": True, "since": None}
    )
    for i in range(3):
        volume.write(i * 10, b"abc", now=100.0 + i)
    journal = volume.path("journal")
    lines = journal.read_text().splitlines()
    numbered_later = json.loads(lines[-1]) | {"generation": 4}  # appended, then the crash hit
    journal.write_text("\n".join([*lines, json.dumps(numbered_later), '{"generation": 5, "off']))
    (tmp_path / "volumes" / "half.img").write_bytes(b"")
    (tmp_path / "volumes" / ".v.json.tmp").write_text("{")

    reloaded = VolumeStore(tmp_path, capacity_gb=10).get("v")
    assert [entry.generation for entry in reloaded.pending] == [1, 2, 3]
    assert [entry.written_at for entry in reloaded.pending] == [100.0, 101.0, 102.0]
    assert sorted(p.name for p in (tmp_path / "volumes").iterdir()) == ["v.img", "v.journal", "v.json"]
    reloaded.mark_shipped(3)
    assert not reloaded.pending and journal.stat().st_size == 0


def test_concurrent_creates_claim_ids_and_space_exactly_once(tmp_path: Path) -> None:
    """Creates write their files outside the store's lock, so the claims are what keeps them
    apart: many threads creating a few ids (some with a clashing size) on a store with room for
    fewer than asked. Each id is created once, repeats get that volume, a clash is a 409, space is
    never promised twice, and what is on disk is what the store says."""
    store = VolumeStore(tmp_path, capacity_gb=20)
    asks = [(f"v{i % 12}", 3 if i % 12 else (2 if i % 5 else 1)) for i in range(96)]  # 12 ids x 3 GiB
    outcomes: list[tuple[str, int, str]] = []
    lock = threading.Lock()
    start = threading.Barrier(32)

    def create(ask: tuple[str, int]) -> None:
        volume_id, size = ask
        try:
            _, created = store.create(volume_id, size)
            outcome = "created" if created else "exists"
        except StorageError as exc:
            outcome = str(exc.status)
        with lock:
            outcomes.append((volume_id, size, outcome))

    def worker(mine: list[tuple[str, int]]) -> None:
        start.wait()
        for ask in mine:
            create(ask)

    threads = [threading.Thread(target=worker, args=(asks[n::32],)) for n in range(32)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    created = [(vid, size) for vid, size, outcome in outcomes if outcome == "created"]
    assert len(created) == len({vid for vid, _ in created}) == len(store.volumes)
    assert sum(size for _, size in created) <= 20
    for volume_id, size, outcome in outcomes:
        volume = store.find(volume_id)
        if outcome in ("created", "exists"):
            assert volume is not None and volume.meta["size_gb"] == size
        elif outcome == "409":
            assert volume is not None and volume.meta["size_gb"] != size
        else:
            assert outcome == "507" and volume is None
    assert {"created", "exists", "409", "507"} == {outcome for _, _, outcome in outcomes}
    assert {(v.id, v.meta["size_gb"]) for v in VolumeStore(tmp_path, capacity_gb=20).list()} == {
        (v.id, v.meta["size_gb"]) for v in store.list()
    }


# -- the HTTP transport: the gate before the body, limits, framing, JSON errors --------------------


def _auth(name: str) -> str:
    return "Basic " + base64.b64encode(f"admin:pw-{name}-s3cret".encode()).decode()


def test_credentials_are_checked_before_a_byte_of_the_body_is_read(start_array: StartArray) -> None:
    """A 32 MiB body announced without credentials is refused on its headers alone: the client
    never sends it, and the answer comes at once (the server is not waiting for the body)."""
    url = f"http://{start_array('a').address}"
    head = b"POST /volumes HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\n"
    refused = exchange(url, head + b"Content-Length: 33554432\r\n\r\n", timeout=5)
    assert refused.status == 401 and "basic auth" in refused.json()["error"]
    assert refused.headers["www-authenticate"].startswith("Basic")
    deep = b"[" * 1000 + b"]" * 1000  # never parsed without credentials
    assert exchange(url, head + f"Content-Length: {len(deep)}\r\n\r\n".encode() + deep).status == 401
    with_auth = head + f"Authorization: {_auth('a')}\r\n".encode()
    parsed = exchange(url, with_auth + f"Content-Length: {len(deep)}\r\n\r\n".encode() + deep)
    assert parsed.status == 400 and "nested deeper" in parsed.json()["error"]


@pytest.mark.parametrize(
    ("request_head", "status", "says"),
    [
        (b"POST /volumes HTTP/1.1\r\nContent-Length: -1\r\n", 400, "Content-Length"),
        (b"POST /volumes HTTP/1.1\r\n", 411, "needs a Content-Length"),
        (b"POST /volumes HTTP/1.1\r\nContent-Length: 70000000\r\n", 413, "larger than"),
        (
            b"POST /volumes HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n",
            400,
            "both Content-Length and Transfer-Encoding",
        ),
        (b"POST /volumes HTTP/1.1\r\nTransfer-Encoding: gzip\r\n", 501, "Transfer-Encoding"),
        (b"GET /" + b"v" * 9000 + b" HTTP/1.1\r\n", 414, "longer than"),
        (b"GET /stats HTTP/1.1\r\nX-Big: " + b"h" * 70000 + b"\r\n", 431, "exceed"),
        (b"PATCH /volumes HTTP/1.1\r\nContent-Length: 0\r\n", 405, "use GET, POST"),
        (b"GET /nothing-here HTTP/1.1\r\n", 404, "no such endpoint"),
    ],
)
def test_every_refusal_is_a_json_error(
    start_array: StartArray, request_head: bytes, status: int, says: str
) -> None:
    url = f"http://{start_array('a').address}"
    answer = exchange(url, request_head + f"Authorization: {_auth('a')}\r\n\r\n".encode())
    assert answer.status == status and answer.headers["content-type"] == "application/json"
    assert says in answer.json()["error"]


def test_a_chunked_body_is_accepted(start_array: StartArray) -> None:
    array = start_array("a")
    body = json.dumps({"id": "chunky", "size_gb": 1}).encode()
    chunks = b"".join(f"{len(piece):x}\r\n".encode() + piece + b"\r\n" for piece in (body[:7], body[7:]))
    head = f"POST /volumes HTTP/1.1\r\nAuthorization: {_auth('a')}\r\nTransfer-Encoding: chunked\r\n\r\n"
    answer = exchange(f"http://{array.address}", head.encode() + chunks + b"0\r\n\r\n")
    assert answer.status == 201 and array.client().volume("chunky")["id"] == "chunky"


def test_journals_of_unshipped_writes_are_owner_only(tmp_path: Path) -> None:
    store = VolumeStore(tmp_path, capacity_gb=10)
    volume, _ = store.create("v", 1)
    with volume.lock:
        volume.update(replication={"peer": "127.0.0.1:1", "mode": "async", "in_sync": True, "shipped": 0})
    volume.write(0, b"secret data", 1.0)
    journal = volume.path("journal")
    assert journal.exists() and journal.read_text()  # the write waits there for the peer
    volume.load_journal()  # rewrites the file, as a restart does
    for path in (journal, volume.path("img")):
        assert path.stat().st_mode & 0o777 == 0o600, path


def test_64_clients_at_once_are_all_answered_and_hang_ups_leave_no_traceback(
    start_array: StartArray,
) -> None:
    """The array's side of the backlog of 5 that reset 21 of 64 simultaneous failover POSTs, and of
    the BrokenPipe tracebacks: all 64 are answered, and clients that reset their connection
    mid-request leave the array answering and its log without a traceback."""
    array = start_array("a")
    request = f"GET /stats HTTP/1.1\r\nHost: h\r\nAuthorization: {_auth('a')}\r\n\r\n".encode()
    sockets = [socket.create_connection((array.host, array.port), timeout=20) for _ in range(64)]
    try:
        for sock in sockets:
            sock.sendall(request)
        answers = [read_answer(sock) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()
    assert [a.status for a in answers] == [200] * 64
    for _ in range(20):
        with socket.create_connection((array.host, array.port), timeout=5) as sock:
            sock.sendall(request.replace(b"/stats", b"/volumes"))
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # a reset
    assert exchange(f"http://{array.address}", request).status == 200
    assert "Traceback" not in array.log_path.read_text()
