"""Replication between real array processes: sync loses nothing acknowledged, async lag is visible
and heals, failover and failback keep one writer, and live faults map onto the processes."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from replisim.drivers.storage.client import ArrayClient, ArrayError
from replisim.drivers.storage.process import StorageProcess
from replisim.scenarios.faults import ArrayFaults, Fault

StartArray = Callable[..., StorageProcess]


def wait_for(predicate: Callable[[], Any], what: str, timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def pair(start_array: StartArray, mode: str) -> tuple[StorageProcess, StorageProcess, ArrayClient]:
    primary, secondary = start_array("primary"), start_array("secondary")
    client = primary.client()
    client.create_volume("v", 1)
    client.write("v", 0, b"written before replication")  # the initial copy must carry it
    status = client.enable_replication("v", secondary.address, "admin", "pw-secondary-s3cret", mode)
    assert status["replication"]["in_sync"] and status["replication"]["link"] == "up"
    return primary, secondary, client


def link(client: ArrayClient) -> dict[str, Any]:
    replication: dict[str, Any] = client.replication_status("v")["replication"]
    return replication


def test_sync_pair_keeps_every_acknowledged_write_when_the_primary_dies(start_array: StartArray) -> None:
    primary, secondary, client = pair(start_array, "sync")
    primary.slow_link(secondary, delay=0.02)  # so that an "async in disguise" would fall behind
    acknowledged = {i * 4096: f"sync write {i}".encode() for i in range(1, 12)}
    for offset, data in acknowledged.items():
        client.write("v", offset, data)
    primary.kill()  # no shutdown path: only what was acknowledged counts

    replica = secondary.client()
    assert replica.volume("v")["generation"] == 12
    assert replica.read("v", 0, 26) == b"written before replication"
    for offset, data in acknowledged.items():
        assert replica.read("v", offset, len(data)) == data


def test_sync_write_is_refused_while_the_peer_cannot_acknowledge_it(start_array: StartArray) -> None:
    primary, secondary, client = pair(start_array, "sync")
    primary.cut_link(secondary)
    with pytest.raises(ArrayError) as refused:
        client.write("v", 0, b"not acknowledged")
    assert refused.value.status == 503 and "not acknowledged by its sync peer" in refused.value.message
    assert link(client)["link"] == "down" and link(client)["unshipped"] == 1

    secondary.pause()  # a peer that holds its socket but never answers: the write times out, cleanly
    primary.restore_link(secondary)
    started = time.monotonic()
    with pytest.raises(ArrayError) as timed_out:
        client.write("v", 4096, b"also not acknowledged")
    assert timed_out.value.status == 503 and time.monotonic() - started < 4.0  # peer_timeout is 1 s
    secondary.resume()
    assert client.write("v", 8192, b"acknowledged") == 4
    replica = secondary.client()
    assert replica.volume("v")["generation"] == 4  # the refused writes shipped before this one
    assert replica.read("v", 8192, 12) == b"acknowledged"


def test_async_lag_shows_while_the_link_is_slow_or_cut_and_heals_after(start_array: StartArray) -> None:
    primary, secondary, client = pair(start_array, "async")
    replica = secondary.client()
    primary.slow_link(secondary, delay=0.3)
    for i in range(5):
        client.write("v", i * 4096, f"async {i}".encode())
    slow = link(client)
    assert slow["link"] == "slow" and slow["unshipped"] >= 1
    wait_for(lambda: replica.volume("v")["generation"] == 6, "the slow link to deliver")

    primary.cut_link(secondary)
    for i in range(5, 10):
        client.write("v", i * 4096, f"async {i}".encode())  # async: acknowledged without the peer
    time.sleep(0.4)
    cut = link(client)
    assert cut["link"] == "down" and cut["unshipped"] == 5 and cut["lag_seconds"] >= 0.4
    assert cut["shipped_generation"] == 6 and replica.volume("v")["generation"] == 6

    primary.restore_link(secondary)
    wait_for(lambda: link(client)["unshipped"] == 0, "the shipper to catch up")
    healed = link(client)
    assert healed["link"] == "up" and healed["lag_seconds"] == 0 and healed["shipped_generation"] == 11
    assert replica.volume("v")["generation"] == 11
    assert [replica.read("v", i * 4096, 7) for i in range(10)] == [f"async {i}".encode() for i in range(10)]


def test_failover_and_failback_keep_one_writer_and_all_data(start_array: StartArray) -> None:
    _, b, client_a = pair(start_array, "sync")
    client_b = b.client()
    client_a.write("v", 4096, b"on a")
    with pytest.raises(ArrayError) as replica_write:
        client_b.write("v", 0, b"a replica is read-only")
    assert replica_write.value.status == 409

    promoted = client_b.promote("v")  # failover: b is the primary now, and copies back to a
    assert promoted["role"] == "primary" and promoted["epoch"] == 1
    client_b.write("v", 8192, b"on b")
    wait_for(lambda: link(client_b)["in_sync"], "b's copy back to a")
    assert client_a.volume("v")["role"] == "replica"  # the old primary was fenced
    with pytest.raises(ArrayError):
        client_a.write("v", 0, b"split brain")
    assert client_b.write("v", 12288, b"synced to a") == 4

    assert client_a.promote("v")["epoch"] == 2  # failback
    wait_for(lambda: link(client_a)["in_sync"], "a's copy back to b")
    client_a.write("v", 16384, b"back on a")
    for client in (client_a, client_b):
        assert [client.read("v", offset, 4) for offset in (4096, 8192, 12288, 16384)] == [
            b"on a",
            b"on b",
            b"sync",
            b"back",
        ]
    assert client_b.volume("v")["role"] == "replica"


def test_a_planned_failover_loses_nothing_even_in_async_mode(start_array: StartArray) -> None:
    primary, secondary, client = pair(start_array, "async")
    primary.slow_link(secondary, delay=0.2)
    for i in range(1, 4):
        client.write("v", i * 4096, f"late {i}".encode())
    assert link(client)["unshipped"] >= 2  # these would be lost by a failover now
    demoted = client.demote("v")  # waits until the peer has them, and takes no more writes
    assert demoted["role"] == "replica" and demoted["complete"]
    with pytest.raises(ArrayError) as refused:
        client.write("v", 0, b"too late")
    assert refused.value.status == 409
    replica = secondary.client()
    assert replica.volume("v")["generation"] == 4
    assert replica.promote("v")["role"] == "primary"
    assert [replica.read("v", i * 4096, 6) for i in range(1, 4)] == [b"late 1", b"late 2", b"late 3"]


def test_an_old_primary_that_comes_back_after_failover_is_fenced(start_array: StartArray) -> None:
    a, b, client_a = pair(start_array, "async")
    a.kill()
    client_b = b.client()
    client_b.promote("v")
    client_b.write("v", 0, b"new primary writes")
    degraded = link(client_b)
    assert not degraded["in_sync"] and degraded["link"] in ("up", "error")  # a is down: nothing to copy to
    with pytest.raises(ArrayError) as early:
        client_a.volume("v")
    assert early.value.status == 0  # unreachable
    a.start()
    wait_for(lambda: link(client_b)["in_sync"], "b to rebuild a's copy")
    assert client_a.volume("v")["role"] == "replica"
    assert client_a.read("v", 0, 18) == b"new primary writes"


def test_a_newer_primary_can_drop_the_fenced_old_primarys_copy(start_array: StartArray) -> None:
    """Deleting a volume just after its failover drops the peer's copy even if the peer has not
    been demoted yet: a primary at an older epoch is fenced; one at the sender's epoch is not."""
    a, b, client_a = pair(start_array, "async")
    b.cut_link(a)  # b cannot rebuild a's copy, so a is still a primary at epoch 0
    assert b.client().promote("v")["epoch"] == 1
    assert client_a.volume("v")["role"] == "primary"
    with pytest.raises(ArrayError) as refused:
        client_a.drop_replica("v", epoch=0)
    assert refused.value.status == 409 and client_a.volumes()
    client_a.drop_replica("v", epoch=1)
    assert client_a.volumes() == []


def test_deleting_a_fenced_old_primary_leaves_the_new_one_and_no_trace(start_array: StartArray) -> None:
    a, b, client_a = pair(start_array, "async")
    b.cut_link(a)
    b.client().promote("v")
    assert client_a.delete_volume("v")  # b refuses to drop its copy: it is the newer primary
    assert b.client().volume("v")["role"] == "primary"
    a.restart()
    assert a.client().volumes() == []


def test_live_fault_kinds_drive_the_processes(start_array: StartArray) -> None:
    primary, secondary, client = pair(start_array, "async")
    faults = ArrayFaults({"primary": primary, "secondary": secondary})
    link_faults = [
        Fault("link.throttle", "primary->secondary", 0.0, params={"bandwidth_mbps": 0.08, "delay": 0.05}),
        Fault("link.down", "primary->secondary", 1.0),
    ]

    faults.inject(link_faults[0])
    assert client.links() == {secondary.address: {"down": False, "delay": 0.05, "bandwidth": 10_000}}
    faults.inject(link_faults[1])
    assert client.links()[secondary.address]["down"] is True
    for fault in link_faults:
        faults.heal(fault)
    assert client.links() == {}

    pause = Fault("array.pause", "secondary", 0.0)
    faults.inject(pause)
    with pytest.raises(ArrayError):
        secondary.client(timeout=0.3).health()
    faults.heal(pause)
    assert secondary.client().health()["status"] == "ok"

    crash = Fault("array.crash", "primary", 0.0)
    faults.inject(crash)
    assert not primary.running
    faults.heal(crash)
    assert client.read("v", 0, 26) == b"written before replication"

    for fault, problem in (
        (Fault("bus.loss", "*", 0.0), "no live form on storage arrays"),
        (Fault("array.crash", "gamma", 0.0), "no array named 'gamma'"),
        (Fault("link.down", "primary", 0.0), "must be 'source->target'"),
    ):
        with pytest.raises(ValueError, match=problem):
            faults.inject(fault)
