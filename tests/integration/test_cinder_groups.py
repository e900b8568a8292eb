"""Group replication on an unmodified Cinder 29 driver class (examples/cinder-fake.conf's
[replicated], through replisim[cinder]) inside the control plane, on both runtimes: a replicated
group goes through the states test_groups.py expects of the emulated driver, and each step ran the
Cinder class's own group code (its refusals come back as Cinder's exceptions, translated)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from support.cinder import EXAMPLE, require_cinder
from support.cluster import Cluster, make_repo, make_runtime

require_cinder()

from replisim import exception  # noqa: E402
from replisim.actors.status import TRANSITIONAL  # noqa: E402

HOST = "replisim@replicated"
GOLD = {"volume_backend_name": "replicated", "replication_enabled": "<is> True"}
CONSISTENT = {"consistent_group_replication_enabled": "<is> True"}


@pytest.fixture
def world(runtime_kind: str) -> Iterator[Cluster]:
    runtime = make_runtime(runtime_kind, seed=6)
    cluster = Cluster(runtime, make_repo("memory", runtime), EXAMPLE.read_text(encoding="utf-8"))
    try:
        yield cluster
    finally:
        cluster.stop()


def _group(world: Cluster, specs: dict[str, str] | None = None) -> tuple[str, list[str]]:
    volume_type = world.admin("create_volume_type", name="gold", extra_specs=GOLD)
    group_type = world.admin(
        "create_group_type", name="consistent", group_specs=CONSISTENT if specs is None else specs
    )
    group = world.admin("create_group", group_type=group_type["id"], volume_types=[volume_type["id"]])
    world.wait_for(lambda: world.db.group_get(group["id"])["status"] != "creating", "the group")
    ids = [
        world.admin("create_volume", size=1, volume_type=volume_type["id"], group_id=group["id"])["id"]
        for _ in range(2)
    ]
    for volume_id in ids:
        world.wait_status(volume_id, "status", "available")
    return group["id"], ids


def _state(world: Cluster, group_id: str, ids: list[str]) -> tuple[tuple[str, str], list[tuple[str, str]]]:
    group = world.db.group_get(group_id)
    return (
        (group["status"], group["replication_status"]),
        [(v["status"], v["replication_status"]) for v in map(world.volume, ids)],
    )


def _act(world: Cluster, action: str, group_id: str, **args: Any) -> None:
    world.admin(action, group_id=group_id, **args)
    world.wait_for(
        lambda: world.db.group_get(group_id)["replication_status"] not in TRANSITIONAL, f"{action} to end"
    )


def test_a_replicated_group_on_a_cinder_driver_goes_through_cinder_29s_states(world: Cluster) -> None:
    group_id, ids = _group(world)
    assert world.db.group_get(group_id)["host"] == f"{HOST}#replicated"  # the one backend that claims it
    assert _state(world, group_id, ids) == (("available", "disabled"), [("available", "disabled")] * 2)
    _act(world, "enable_group_replication", group_id)
    assert _state(world, group_id, ids) == (("available", "enabled"), [("available", "enabled")] * 2)
    assert world.admin("list_group_replication_targets", group_id=group_id) == {
        "replication_targets": [{"backend_id": "secondary"}]
    }
    _act(world, "failover_group_replication", group_id)
    assert _state(world, group_id, ids) == (("available", "failed-over"), [("available", "failed-over")] * 2)
    _act(world, "failover_group_replication", group_id, secondary_backend_id="default")
    assert _state(world, group_id, ids) == (("available", "enabled"), [("available", "enabled")] * 2)
    _act(world, "disable_group_replication", group_id)
    assert _state(world, group_id, ids) == (("available", "disabled"), [("available", "disabled")] * 2)
    world.admin("delete_group", group_id=group_id, delete_volumes=True)
    world.wait_for(lambda: not any(g["id"] == group_id for g in world.db.group_get_all()), "the delete")
    with pytest.raises(exception.GroupNotFound):
        world.db.group_get(group_id)
    assert [v for v in world.db.volume_get_all() if v["id"] in ids] == []


def test_a_group_failover_to_a_target_the_cinder_driver_lacks_ends_in_error_saying_why(
    world: Cluster,
) -> None:
    """The Cinder class's own failover_replication ran: its InvalidReplicationTarget, translated."""
    group_id, ids = _group(world)
    _act(world, "enable_group_replication", group_id)
    _act(world, "failover_group_replication", group_id, secondary_backend_id="nowhere")
    assert _state(world, group_id, ids) == (("error", "error"), [("error", "error")] * 2)
    reason = world.db.group_get(group_id)["status_reason"] or ""
    assert "InvalidReplicationTarget" in reason and "'nowhere' is not a replication target" in reason


def test_a_group_whose_type_does_not_replicate_is_a_generic_group_on_a_cinder_driver(world: Cluster) -> None:
    """Cinder's own create_group and delete_group (BaseVD's) raise NotImplementedError: the manager
    keeps the group itself and deletes its volumes one by one, as Cinder 29's does."""
    group_id, ids = _group(world, specs={})
    assert _state(world, group_id, ids) == (("available", "disabled"), [("available", "enabled")] * 2)
    with pytest.raises(exception.InvalidGroupType, match="not a replication group type"):
        world.admin("enable_group_replication", group_id=group_id)
    world.admin("delete_group", group_id=group_id, delete_volumes=True)
    world.wait_for(lambda: not any(g["id"] == group_id for g in world.db.group_get_all()), "the delete")
    assert [v for v in world.db.volume_get_all() if v["id"] in ids] == []


def test_a_cinder_driver_that_reports_its_replication_in_error_names_the_groups_it_lost(
    world: Cluster,
) -> None:
    """As Cinder 29's manager does on a report whose stats say replication_status 'error': it asks
    the driver's get_replication_error_status about the backend's replicating groups (with their
    volumes), and writes what it answers; a group that is not replicating is not asked about."""
    group_id, ids = _group(world)
    idle_id, idle_ids = _group_of_another_type(world)
    _act(world, "enable_group_replication", group_id)
    world.deployment.drivers[HOST].driver.link_down = True
    world.wait_for(
        lambda: world.db.group_get(group_id)["replication_status"] == "error", "the group in error"
    )
    world.wait_for(
        lambda: all(world.volume(v)["replication_status"] == "error" for v in ids), "its volumes in error"
    )
    assert world.db.group_get(group_id)["status"] == "available"
    assert "the driver reports" in (world.db.group_get(group_id)["status_reason"] or "")
    assert _state(world, idle_id, idle_ids) == (("available", "disabled"), [("available", "disabled")] * 2)


def _group_of_another_type(world: Cluster) -> tuple[str, list[str]]:
    """A second replication group on the same backend, its replication never enabled."""
    volume_type = world.db.volume_type_get_by_name("gold")
    group_type = world.admin("create_group_type", name="idle", group_specs=CONSISTENT)
    group = world.admin("create_group", group_type=group_type["id"], volume_types=[volume_type["id"]])
    world.wait_for(lambda: world.db.group_get(group["id"])["status"] != "creating", "the group")
    ids = [
        world.admin("create_volume", size=1, volume_type=volume_type["id"], group_id=group["id"])["id"]
        for _ in range(2)
    ]
    for volume_id in ids:
        world.wait_status(volume_id, "status", "available")
    return group["id"], ids


def _recording(world: Cluster, *methods: str) -> dict[str, list[Any]]:
    """What each named method of the Cinder driver instance saw of the groups it was handed: for
    each group, whether ``volumes`` was set (else Cinder would lazy-load it from a database there
    is none of) and its volumes' ids; for ``failover_host``, also each volume's ``group`` id."""
    driver = world.deployment.drivers[HOST].driver
    seen: dict[str, list[Any]] = {name: [] for name in methods}

    def members(group: Any) -> tuple[bool, list[str]]:
        loaded = group.obj_attr_is_set("volumes")
        return loaded, sorted(v.id for v in group.volumes) if loaded else []

    for name in methods:
        original = getattr(driver, name)

        def recording(
            context: Any, *args: Any, _name: str = name, _original: Any = original, **kw: Any
        ) -> Any:
            if _name == "failover_host":
                volumes, groups = args[0], kw.get("groups") or []
                seen[_name].append(
                    (
                        {g.id: members(g) for g in groups},
                        {v.id: v.group.id for v in volumes if v.group_id},
                    )
                )
            else:
                seen[_name].append(members(args[0]))
            return _original(context, *args, **kw)

        setattr(driver, name, recording)
    return seen


def test_every_group_a_cinder_driver_is_handed_holds_its_volumes_as_cinder_29_lazy_loads_them(
    world: Cluster,
) -> None:
    """Cinder 29's manager hands its driver groups whose ``volumes`` load from its database on
    first read: none on a create, the members before the change on an update, the replicated
    groups of the backend on a host failover. The adapter
    sets them from replisim's rows, and the host failover takes the group along, as Cinder's does."""
    seen = _recording(world, "create_group", "update_group", "failover_host")
    group_id, ids = _group(world)
    assert seen["create_group"] == [(True, [])]
    world.admin("update_group", group_id=group_id, remove_volumes=ids[1])
    world.wait_for(lambda: world.volume(ids[1])["group_id"] is None, "the volume to leave the group")
    assert seen["update_group"] == [(True, sorted(ids))]  # the members as they were
    world.admin("update_group", group_id=group_id, add_volumes=ids[1])
    world.wait_for(lambda: world.volume(ids[1])["group_id"] == group_id, "the volume to rejoin")
    assert seen["update_group"][1] == (True, [ids[0]])
    _act(world, "enable_group_replication", group_id)

    world.admin("failover_host", host=HOST, backend_id="secondary")
    world.wait_for(lambda: world.db.group_get(group_id)["replication_status"] == "failed-over", "the group")
    members = (True, sorted(ids))
    assert seen["failover_host"] == [({group_id: members}, dict.fromkeys(ids, group_id))]
    assert _state(world, group_id, ids) == (("available", "failed-over"), [("available", "failed-over")] * 2)
    world.admin("failover_host", host=HOST, backend_id="default")
    world.wait_for(lambda: world.db.group_get(group_id)["replication_status"] == "enabled", "the failback")
    assert _state(world, group_id, ids) == (("available", "enabled"), [("available", "enabled")] * 2)
