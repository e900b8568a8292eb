"""The parts of Cinder 29's REST surface beyond replication, through the unchanged python-cinderclient.

What Cinder answers is the differential suite's to judge (``tests/differential``); these tests hold
replisim to the behaviour behind those answers: what an action changes, who may do it, and what a
client following the API's own links or counts sees.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from cinderclient import exceptions
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import memdriver
from support.cinderapi import connect, wait_volume

from replisim.actors.config import parse_config
from replisim.actors.serve import Server, start

CONF = """
[DEFAULT]
enabled_backends = alpha
admin_users = admin

[alpha]
volume_driver = support.memdriver.MemoryDriver
volume_backend_name = alpha
"""


@pytest.fixture
def server() -> Iterator[Server]:
    memdriver.reset()
    running = start(parse_config(CONF), "sqlite://", report_interval=0.1)
    try:
        assert running.not_ready(timeout=10.0) == {}
        yield running
    finally:
        running.stop()


def admin(server: Server, **kwargs: Any) -> Any:
    return connect(server.url, "admin", "project-a", **kwargs)


def member(server: Server, project: str = "project-a", **kwargs: Any) -> Any:
    return connect(server.url, "alice", project, **kwargs)


def available(cs: Any, **kwargs: Any) -> Any:
    volume = cs.volumes.create(kwargs.pop("size", 1), **kwargs)
    return wait_volume(cs, volume.id, "status", "available")


def http(server: Server, method: str, path: str, token: str = "admin:project-a", **kwargs: Any) -> Any:
    headers = {"X-Auth-Token": token, **kwargs.pop("headers", {})}
    return requests.request(method, server.url + path, headers=headers, timeout=10, **kwargs)


# -- volume actions --------------------------------------------------------------------------------


def test_an_owner_extends_and_flags_a_volume_and_only_an_admin_resets_its_status(server: Server) -> None:
    alice, cs = member(server), admin(server)
    volume = available(alice, name="mine")

    alice.volumes.extend(volume, 3)
    assert alice.volumes.get(volume.id).size == 3
    for too_small in (3, 2):
        with pytest.raises(exceptions.BadRequest, match="greater than current size"):
            alice.volumes.extend(volume, too_small)

    alice.volumes.set_bootable(volume, True)
    alice.volumes.update_readonly_flag(volume, True)
    shown = alice.volumes.get(volume.id)
    assert (shown.bootable, shown.metadata) == ("true", {"readonly": "True"})
    alice.volumes.set_bootable(volume, False)
    assert alice.volumes.get(volume.id).bootable == "false"

    # a member is refused an admin-only action with 403 (not 400, not a change)
    with pytest.raises(exceptions.Forbidden, match="reset_status"):
        alice.volumes.reset_state(volume, "error")
    assert alice.volumes.get(volume.id).status == "available"

    cs.volumes.reset_state(volume, "error", attach_status="detached", migration_status="migrating")
    shown = cs.volumes.get(volume.id)
    assert (shown.status, shown.migration_status) == ("error", "migrating")
    assert getattr(shown, "os-vol-mig-status-attr:migstat") == "migrating"
    with pytest.raises(exceptions.BadRequest, match="available to extend"):
        cs.volumes.extend(volume, 5)  # an error volume is not extended
    for bad in ({"status": "bogus"}, {"status": "deleting"}, {}):
        with pytest.raises(exceptions.BadRequest):
            cs.volumes._action("os-reset_status", volume, bad)
    cs.volumes.reset_state(volume, "available", migration_status="none")
    shown = cs.volumes.get(volume.id)
    assert (shown.status, shown.migration_status, shown.size) == ("available", None, 3)

    # another project's member does not learn the volume exists
    with pytest.raises(exceptions.NotFound):
        member(server, "project-b").volumes.extend(volume, 9)


@pytest.mark.parametrize(
    ("action", "info"),
    [
        ("os-extend", {}),
        ("os-extend", {"new_size": "big"}),
        ("os-extend", {"new_size": 2, "colour": "blue"}),
        ("os-set_bootable", {"bootable": "maybe"}),
        ("os-update_readonly_flag", {}),
        ("os-update_readonly_flag", {"readonly": "perhaps"}),
        ("os-frobnicate", {}),
    ],
)
def test_a_malformed_action_is_400_and_changes_nothing(server: Server, action: str, info: Any) -> None:
    cs = admin(server)
    volume = available(cs)
    before = http(server, "GET", f"/v3/project-a/volumes/{volume.id}").json()["volume"]
    answer = http(server, "POST", f"/v3/project-a/volumes/{volume.id}/action", json={action: info})
    assert answer.status_code == 400, answer.text
    assert answer.json()["badRequest"]["message"]
    assert http(server, "GET", f"/v3/project-a/volumes/{volume.id}").json()["volume"] == before


# -- description, metadata, update ------------------------------------------------------------------


def test_description_and_metadata_from_create_to_update(server: Server) -> None:
    alice = member(server)
    volume = available(alice, name="data", description="first", metadata={"purpose": "db", "tier": "1"})
    shown = alice.volumes.get(volume.id)
    assert (shown.name, shown.description, shown.metadata) == (
        "data",
        "first",
        {"purpose": "db", "tier": "1"},
    )

    alice.volumes.update(volume, name="renamed", description="second")
    shown = alice.volumes.get(volume.id)
    assert (shown.name, shown.description) == ("renamed", "second")

    alice.volumes.set_metadata(volume, {"tier": "2", "zone": "a"})  # merges
    assert alice.volumes.get(volume.id).metadata == {"purpose": "db", "tier": "2", "zone": "a"}
    alice.volumes.delete_metadata(volume, ["purpose"])
    assert alice.volumes.get(volume.id).metadata == {"tier": "2", "zone": "a"}
    alice.volumes.update_all_metadata(volume, {"only": "this"})  # replaces
    assert alice.volumes.get(volume.id).metadata == {"only": "this"}

    base = f"/v3/project-a/volumes/{volume.id}/metadata"
    token = "alice:project-a"
    assert http(server, "GET", f"{base}/only", token).json() == {"meta": {"only": "this"}}
    assert http(server, "GET", f"{base}/nothing", token).status_code == 404
    assert http(server, "DELETE", f"{base}/nothing", token).status_code == 404
    mismatch = http(server, "PUT", f"{base}/only", token, json={"meta": {"other": "x"}})
    assert mismatch.status_code == 400
    assert http(server, "PUT", f"{base}/only", token, json={"meta": {"only": "that"}}).status_code == 200
    assert alice.volumes.get(volume.id).metadata == {"only": "that"}

    for bad_body in ({"volume": {"size": 5}}, {"name": "x"}, {"volume": {"metadata": {"k": 1}}}):
        assert (
            http(server, "PUT", f"/v3/project-a/volumes/{volume.id}", token, json=bad_body).status_code == 400
        )
    assert http(server, "POST", base, token, json={"metadata": {"k": "v" * 256}}).status_code == 400
    assert alice.volumes.get(volume.id).size == 1
    unknown = "/v3/project-a/volumes/00000000-0000-0000-0000-000000000000"
    assert http(server, "PUT", unknown, json={"volume": {"name": "x"}}).status_code == 404
    assert http(server, "GET", f"{unknown}/metadata").status_code == 404
    with pytest.raises(exceptions.NotFound):
        member(server, "project-b").volumes.set_metadata(volume, {"k": "v"})


# -- listing -------------------------------------------------------------------------------------------


def _pages(server: Server, first: str, token: str = "admin:project-a") -> list[dict[str, Any]]:
    """Every page a client sees following ``volumes_links`` from ``first``, the last one included."""
    pages, url = [], server.url + first
    while True:
        page = requests.get(url, headers={"X-Auth-Token": token}, timeout=10).json()
        pages.append(page)
        links = [link["href"] for link in page.get("volumes_links", []) if link["rel"] == "next"]
        if not links:
            return pages
        assert len(pages) < 20, "the links never end"
        url = links[0]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    limit=st.integers(1, 6),
    sort=st.sampled_from(["", "&sort=name:asc", "&sort=size:desc,name", "&sort_key=name&sort_dir=asc"]),
    detail=st.booleans(),
)
def test_following_the_links_sees_every_volume_once_in_order(
    listed: Server, limit: int, sort: str, detail: bool
) -> None:
    collection = "volumes/detail" if detail else "volumes"
    everything = requests.get(
        f"{listed.url}/v3/project-a/{collection}?{sort.lstrip('&')}",
        headers={"X-Auth-Token": "admin:project-a"},
        timeout=10,
    ).json()["volumes"]
    pages = _pages(listed, f"/v3/project-a/{collection}?limit={limit}{sort}")
    seen = [v["id"] for page in pages for v in page["volumes"]]
    assert seen == [v["id"] for v in everything] and len(set(seen)) == 5
    assert all(len(page["volumes"]) == limit for page in pages[:-1])


@pytest.fixture
def listed(server: Server) -> Server:
    """Five volumes in project-a (sizes 1, 2, 2, 3, 1), two with metadata, one bootable."""
    alice = member(server)
    for name, size, metadata in (
        ("a1", 1, {"k": "v"}),
        ("a2", 2, {}),
        ("b1", 2, {"k": "w"}),
        ("b2", 3, {}),
        ("c1", 1, {}),
    ):
        volume = available(alice, size=size, name=name, metadata=metadata)
        if name == "b2":
            alice.volumes.set_bootable(volume, True)
    return server


def test_sorts_filters_counts_and_the_summary(listed: Server) -> None:
    def names(query: str, version: str = "3.0") -> list[str]:
        answer = http(
            listed,
            "GET",
            f"/v3/project-a/volumes?{query}",
            headers={"OpenStack-API-Version": f"volume {version}"},
        )
        assert answer.status_code == 200, answer.text
        return [v["name"] for v in answer.json()["volumes"]]

    assert names("") == ["c1", "b2", "b1", "a2", "a1"]  # newest first
    assert names("sort=name:asc") == ["a1", "a2", "b1", "b2", "c1"]
    assert names("sort=size:asc,name:desc") == ["c1", "a1", "b1", "a2", "b2"]
    assert names("sort_key=name&sort_dir=desc") == ["c1", "b2", "b1", "a2", "a1"]
    assert names("name~=b", "3.34") == ["b2", "b1"]
    assert names("name~=b") == names("")  # a like filter needs 3.34
    assert names("name=a2") == ["a2"]
    assert names("metadata=%7B%22k%22%3A%22v%22%7D") == ["a1"]
    assert names("bootable=true") == ["b2"]
    assert names("availability_zone=nova") == names("")
    assert names("availability_zone=elsewhere") == []
    assert names("colour=blue") == []  # an admin's unknown filter matches nothing
    alice = http(listed, "GET", "/v3/project-a/volumes?colour=blue", "alice:project-a").json()
    assert len(alice["volumes"]) == 5  # a member's is dropped
    for bad in (
        "sort=colour",
        "sort=name:sideways",
        "sort=name&sort_key=size",
        "limit=many",
        "bootable=maybe",
    ):
        assert http(listed, "GET", f"/v3/project-a/volumes?{bad}").status_code == 400, bad
    unknown = http(listed, "GET", "/v3/project-a/volumes?marker=00000000-0000-0000-0000-000000000000")
    assert unknown.status_code == 404

    counted = http(
        listed,
        "GET",
        "/v3/project-a/volumes?with_count=true&limit=2&name~=1",
        headers={"OpenStack-API-Version": "volume 3.45"},
    ).json()
    assert (counted["count"], len(counted["volumes"])) == (3, 2)
    assert "count" not in http(listed, "GET", "/v3/project-a/volumes?with_count=true").json()  # 3.0

    summary = http(
        listed, "GET", "/v3/project-a/volumes/summary", headers={"OpenStack-API-Version": "volume 3.36"}
    )
    assert summary.json() == {
        "volume-summary": {"total_count": 5, "total_size": 9, "metadata": {"k": ["v", "w"]}}
    }
    assert http(listed, "GET", "/v3/project-a/volumes/summary").status_code == 404  # before 3.12
    other = http(
        listed,
        "GET",
        "/v3/project-b/volumes/summary",
        "bob:project-b",
        headers={"OpenStack-API-Version": "volume 3.12"},
    )
    assert other.json() == {"volume-summary": {"total_count": 0, "total_size": 0}}


# -- types -------------------------------------------------------------------------------------------


def test_untyped_volumes_have_the_default_type_which_cannot_be_deleted(server: Server) -> None:
    cs = admin(server)
    default = cs.volume_types.default()
    assert default.name == "__DEFAULT__"
    volume = available(cs)
    assert cs.volumes.get(volume.id).volume_type == "__DEFAULT__"
    with pytest.raises(exceptions.BadRequest, match="default"):
        cs.volume_types.delete(default.id)
    assert "__DEFAULT__" in [t.name for t in cs.volume_types.list()]


def test_a_type_name_is_unique_and_a_type_can_be_updated(server: Server) -> None:
    cs = admin(server)
    gold = cs.volume_types.create("gold", description="shiny")
    with pytest.raises(exceptions.ClientException) as duplicate:
        cs.volume_types.create("gold")
    assert duplicate.value.code == 409
    cs.volume_types.create("silver")
    updated = cs.volume_types.update(gold.id, name="platinum", description="shinier")
    assert (updated.name, updated.description) == ("platinum", "shinier")
    assert cs.volume_types.get(gold.id).name == "platinum"
    with pytest.raises(exceptions.ClientException) as taken:
        cs.volume_types.update(gold.id, name="silver")
    assert taken.value.code == 409
    with pytest.raises(exceptions.Forbidden):
        member(server).volume_types.update(gold.id, description="mine")


# -- quotas, limits and pools --------------------------------------------------------------------------


def test_quotas_start_at_cinder_s_defaults_and_hold_a_project_to_its_own(server: Server) -> None:
    cs, alice = admin(server), member(server)
    assert alice.quotas.get("project-a").volumes == 10  # Cinder 29's default, which serve starts with
    cs.quotas.update("project-a", volumes=2, gigabytes=4)
    available(alice)
    with pytest.raises(exceptions.OverLimit, match="VolumeSizeExceedsAvailableQuota"):
        alice.volumes.create(4)
    second = available(alice, size=2)
    with pytest.raises(exceptions.OverLimit, match="Maximum number of volumes allowed \\(2\\)"):
        alice.volumes.create(1)
    with pytest.raises(exceptions.OverLimit):
        alice.volumes.extend(second, 4)
    usage = alice.quotas.get("project-a", usage=True)
    assert usage.volumes == {"limit": 2, "in_use": 2, "reserved": 0}
    assert usage.gigabytes == {"limit": 4, "in_use": 3, "reserved": 0}
    absolute = {limit.name: limit.value for limit in alice.limits.get().absolute}
    assert (absolute["maxTotalVolumes"], absolute["totalVolumesUsed"], absolute["totalGigabytesUsed"]) == (
        2,
        2,
        3,
    )
    assert len(alice.volumes.list()) == 2  # nothing was made by the refused requests
    with pytest.raises(exceptions.Forbidden):
        alice.quotas.update("project-a", volumes=50)
    with pytest.raises(exceptions.Forbidden):
        member(server, "project-b").quotas.get("project-a")
    with pytest.raises(exceptions.BadRequest, match="must be equal or greater than existing resources"):
        cs.quotas.update("project-a", volumes=1)
    alice.volumes.delete(second)
    for _ in range(500):  # until it is gone, and its room free again
        if second.id not in {v.id for v in cs.volumes.list()}:
            break
        time.sleep(0.02)
    available(alice)
    cs.quotas.delete("project-a")
    assert cs.quotas.get("project-a").volumes == 10
    assert member(server, "project-b").quotas.get("project-b").volumes == 10  # untouched


def test_only_admins_see_pools_and_every_user_the_served_extensions(server: Server) -> None:
    pools = admin(server).pools.list(detailed=True)
    assert len(pools) == 1 and pools[0].name.endswith("@alpha#alpha")
    assert pools[0].volume_backend_name == "alpha"  # the client lifts the capabilities up a level
    with pytest.raises(exceptions.Forbidden):
        member(server).pools.list()
    extensions = http(server, "GET", "/v3/project-a/extensions", "alice:project-a").json()["extensions"]
    aliases = {e["alias"] for e in extensions}
    assert {"os-quota-sets", "scheduler-stats", "os-volume-actions"} <= aliases
    assert not aliases & {"backups", "os-snapshot-actions", "consistencygroups"}


def test_every_user_sees_the_one_availability_zone(server: Server) -> None:
    for cs in (admin(server), member(server)):
        zones = cs.availability_zones.list()
        assert [(z.zoneName, z.zoneState) for z in zones] == [("nova", {"available": True})]


# -- every answer ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "token", "status"),
    [
        ("GET", "/v3/project-a/volumes", "admin:project-a", 200),
        ("GET", "/v3/project-a/nowhere", "admin:project-a", 404),
        ("DELETE", "/v3/project-a/volumes", "admin:project-a", 404),
        ("GET", "/v3/project-a/volumes", "", 401),
        ("GET", "/v2/", "admin:project-a", 404),
    ],
)
def test_every_answer_carries_a_request_id(
    server: Server, method: str, path: str, token: str, status: int
) -> None:
    answer = http(server, method, path, token)
    assert answer.status_code == status
    assert answer.headers["x-openstack-request-id"].startswith("req-")
