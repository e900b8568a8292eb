"""The repository contract, run on every backend: the simulator and live runs must agree."""

from __future__ import annotations

import copy
import shutil
import sqlite3
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, rule

from replisim import exception
from replisim.actors.db import (
    CGSNAPSHOT_GROUP_TYPE_ID,
    CGSNAPSHOT_GROUP_TYPE_NAME,
    DEFAULT_TYPE_ID,
    DEFAULT_TYPE_NAME,
    VOLUME_FIELDS,
    MemoryRepository,
    Repository,
    SqlRepository,
    make_repository,
)


class FakeClock:
    """Time that moves only when a test says so, so timestamps are exact."""

    def __init__(self, now: float = 1000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float = 1.0) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=["memory", "sqlite-memory", "sqlite-file"])
def repo(request: pytest.FixtureRequest, clock: FakeClock, tmp_path: Path) -> Iterator[Repository]:
    backend: Repository
    if request.param == "memory":
        backend = MemoryRepository(clock=clock)
    elif request.param == "sqlite-memory":
        backend = SqlRepository("sqlite://", clock=clock)
    else:
        backend = SqlRepository(f"sqlite:///{tmp_path / 'cinder.sqlite'}", clock=clock)
    try:
        yield backend
    finally:
        backend.close()


# --- volumes ----------------------------------------------------------------------------------


def test_create_fills_defaults_and_timestamps(repo: Repository, clock: FakeClock) -> None:
    row = repo.volume_create({"id": "v1", "project_id": "p1", "size": 2, "host": "h@b#p"})
    assert set(row) == set(VOLUME_FIELDS)
    assert row["status"] == "creating"
    assert row["replication_status"] == "disabled"
    assert row["deleted"] is False
    assert row["deleted_at"] is None
    assert row["provider_location"] is None
    assert row["created_at"] == row["updated_at"] == clock.now
    assert repo.volume_get("v1") == row


def test_update_bumps_updated_at_and_destroy_soft_deletes(repo: Repository, clock: FakeClock) -> None:
    created = repo.volume_create({"id": "v1", "size": 1})
    clock.advance(5)
    updated = repo.volume_update("v1", {"status": "available", "provider_location": "lun-7"})
    assert updated == {
        **created,
        "status": "available",
        "provider_location": "lun-7",
        "updated_at": created["created_at"] + 5,
    }
    assert repo.volume_get("v1") == updated
    clock.advance(1)
    repo.volume_destroy("v1")
    with pytest.raises(exception.VolumeNotFound):
        repo.volume_get("v1")
    assert repo.volume_get_all() == []
    with pytest.raises(exception.VolumeNotFound):
        repo.volume_destroy("v1")


@pytest.mark.parametrize("values", [{}, {"id": 7}, {"id": "v9", "size": "1"}, {"id": "v9", "size": True}])
def test_create_rejects_missing_id_and_mistyped_values(repo: Repository, values: dict) -> None:
    with pytest.raises(exception.Invalid):
        repo.volume_create(values)
    assert repo.volume_get_all() == []


def test_create_rejects_a_duplicate_id_even_of_a_deleted_volume(repo: Repository) -> None:
    repo.volume_create({"id": "v1"})
    with pytest.raises(exception.Invalid):
        repo.volume_create({"id": "v1"})
    repo.volume_destroy("v1")
    with pytest.raises(exception.Invalid):
        repo.volume_create({"id": "v1"})


def test_returned_rows_are_copies(repo: Repository) -> None:
    row = repo.volume_create({"id": "v1", "status": "available", "metadata": {"k": "v"}})
    row["status"] = "mangled"
    row["metadata"]["k"] = "mangled"
    repo.volume_get("v1")["metadata"].clear()
    repo.volume_get_all()[0]["admin_metadata"]["x"] = "y"
    assert (repo.volume_get("v1")["metadata"], repo.volume_get("v1")["admin_metadata"]) == ({"k": "v"}, {})
    repo.volume_get("v1")["status"] = "mangled"
    repo.volume_get_all()[0]["status"] = "mangled"
    repo.volume_update("v1", {"size": 3})["status"] = "mangled"
    assert repo.volume_get("v1")["status"] == "available"

    volume_type = repo.volume_type_create("t1", "gold", {"replication_enabled": "<is> True"})
    volume_type["extra_specs"]["replication_enabled"] = "mangled"
    repo.volume_type_get("t1")["extra_specs"].clear()
    repo.volume_type_get("t1")["extra_specs"]["x"] = "y"
    assert repo.volume_type_get("t1")["extra_specs"] == {"replication_enabled": "<is> True"}

    caps = {"pools": [{"name": "p1"}]}
    service = repo.service_update_or_create("h@b", "cinder-volume", {"capabilities": caps})
    caps["pools"].append({"name": "alias"})
    service["capabilities"]["pools"].clear()
    repo.service_get("h@b", "cinder-volume")["capabilities"]["pools"].clear()
    assert repo.service_get("h@b", "cinder-volume")["capabilities"] == {"pools": [{"name": "p1"}]}


def _vandalise(value: Any) -> None:
    """Change every container in ``value``, at every depth, as a careless caller might."""
    if isinstance(value, dict):
        for item in list(value.values()):
            _vandalise(item)
        for key in list(value):
            value[key] = "mangled"
        value["extra"] = ["mangled"]
    elif isinstance(value, list):
        for item in value:
            _vandalise(item)
        value.append("mangled")


def _stored(repo: Repository) -> Any:
    """Everything the repository holds, as its readers see it."""
    return (
        repo.volume_get_all(),
        repo.volume_type_get_all(),
        repo.service_get_all(),
        repo.group_type_get_all(),
        repo.group_get_all(),
        repo.quota_get("p1"),
        repo.quota_class_get("default"),
    )


def _group_rows(repo: Repository) -> None:
    """Group type gt1 (replicated) and its group g1 of type t1, holding volume v1."""
    repo.group_type_create("gt1", "replicated", {"group_replication_enabled": "<is> True"})
    repo.group_create({"id": "g1", "group_type_id": "gt1", "volume_type_ids": ["t1"], "project_id": "p"})
    repo.volume_update("v1", {"group_id": "g1"})


# Every call that hands back rows, on a store holding volume v1, type t1 (gold), service h@b, group
# type gt1 and group g1.
ROW_CALLS: dict[str, Callable[[Any], Any]] = {
    "volume_create": lambda r: r.volume_create({"id": "v9", "size": 1}),
    "volume_get": lambda r: r.volume_get("v1"),
    "volume_get_all": lambda r: r.volume_get_all(),
    "volume_update": lambda r: r.volume_update("v1", {"status": "error"}),
    "volume_conditional_update": lambda r: r.volume_conditional_update("v1", {}, {"size": 9}),
    "volume_type_create": lambda r: r.volume_type_create("t9", "silver", {"k": "v"}),
    "volume_type_get": lambda r: r.volume_type_get("t1"),
    "volume_type_get_by_name": lambda r: r.volume_type_get_by_name("gold"),
    "volume_type_get_all": lambda r: r.volume_type_get_all(),
    "volume_type_update": lambda r: r.volume_type_update("t1", {"description": "shiny"}),
    "volume_type_extra_specs_update": lambda r: r.volume_type_extra_specs_update("t1", {"a": "b"}),
    "service_update_or_create": lambda r: r.service_update_or_create(
        "h@b", "cinder-volume", {"capabilities": {"pools": [{"name": "p2", "tags": ["x"]}]}}
    ),
    "service_get_all": lambda r: r.service_get_all(),
    "service_get": lambda r: r.service_get("h@b", "cinder-volume"),
    "service_conditional_update": lambda r: r.service_conditional_update(
        "h@b", "cinder-volume", {"frozen": False}, {"frozen": True}
    ),
    "quota_get": lambda r: r.quota_get("p1"),
    "quota_class_get": lambda r: r.quota_class_get("default"),
    "quota_usage": lambda r: r.quota_usage("p1"),
    "group_type_create": lambda r: r.group_type_create("gt9", "plain", {"k": "v"}),
    "group_type_get": lambda r: r.group_type_get("gt1"),
    "group_type_get_by_name": lambda r: r.group_type_get_by_name("replicated"),
    "group_type_get_all": lambda r: r.group_type_get_all(),
    "group_type_update": lambda r: r.group_type_update("gt1", {"description": "mirrored"}),
    "group_type_specs_update": lambda r: r.group_type_specs_update("gt1", {"a": "b"}),
    "group_create": lambda r: r.group_create({"id": "g9", "volume_type_ids": ["t1"]}),
    "group_get": lambda r: r.group_get("g1"),
    "group_get_all": lambda r: r.group_get_all(project_id="p"),
    "group_update": lambda r: r.group_update("g1", {"status": "available"}),
    "group_conditional_update": lambda r: r.group_conditional_update("g1", {}, {"volume_type_ids": ["t1"]}),
    "volume_get_all_by_group": lambda r: r.volume_get_all_by_group("g1"),
}


def test_every_row_call_is_listed() -> None:
    returns_rows = {name for name in vars(Repository) if not name.startswith("_")} - {
        "available",
        "close",
        "service_disabled_hosts",
        "volume_destroy",
        "volume_type_delete",
        "volume_type_extra_specs_delete",
        "quota_update",
        "quota_destroy",
        "quota_class_update",
        "group_type_delete",
        "group_type_specs_delete",
        "group_destroy",
    }
    assert returns_rows == set(ROW_CALLS)


@pytest.mark.parametrize("call", ROW_CALLS.values(), ids=ROW_CALLS.keys())
def test_mutating_what_a_call_returned_never_changes_the_store(
    repo: Repository, call: Callable[[Any], Any]
) -> None:
    caps: dict[str, Any] = {
        "pools": [{"name": "p1", "tags": ["thin"]}],
        "replication_type": ["async"],
        "total_capacity_gb": 10.5,
        "replication_enabled": True,
    }
    specs = {"replication": "enabled"}
    repo.volume_create({"id": "v1", "status": "available"})
    repo.volume_type_create("t1", "gold", specs)
    repo.service_update_or_create("h@b", "cinder-volume", {"capabilities": caps})
    _vandalise(caps)  # what was written is the store's own too
    _vandalise(specs)
    assert repo.service_get("h@b", "cinder-volume")["capabilities"]["pools"] == [
        {"name": "p1", "tags": ["thin"]}
    ]
    assert repo.volume_type_get("t1")["extra_specs"] == {"replication": "enabled"}
    _group_rows(repo)
    returned = call(repo)
    before = copy.deepcopy(_stored(repo))
    _vandalise(returned)
    assert _stored(repo) == before


def test_get_missing_volume_raises(repo: Repository) -> None:
    with pytest.raises(exception.VolumeNotFound, match="nope"):
        repo.volume_get("nope")
    with pytest.raises(exception.VolumeNotFound):
        repo.volume_update("nope", {"status": "available"})


@pytest.mark.parametrize(
    "call",
    [
        lambda r: r.volume_create({"id": "v2", "colour": "red"}),
        lambda r: r.volume_update("v1", {"colour": "red"}),
        lambda r: r.volume_conditional_update("v1", {"colour": "red"}, {}),
        lambda r: r.volume_conditional_update("v1", {}, {"colour": "red"}),
        lambda r: r.service_update_or_create("h", "cinder-volume", {"colour": "red"}),
    ],
    ids=["create", "update", "cas-expected", "cas-values", "service"],
)
def test_unknown_field_is_invalid_and_named(repo: Repository, call: Callable[[Any], Any]) -> None:
    repo.volume_create({"id": "v1"})
    with pytest.raises(exception.Invalid, match="colour"):
        call(repo)


@pytest.mark.parametrize("field", ["id", "created_at", "updated_at", "deleted_at", "deleted"])
def test_repository_owned_fields_are_read_only(repo: Repository, field: str) -> None:
    before = repo.volume_create({"id": "v1"})
    with pytest.raises(exception.Invalid, match=field):
        repo.volume_update("v1", {field: before[field]})


def test_get_all_filters(repo: Repository, clock: FakeClock) -> None:
    specs = [
        ("v1", "p1", "h@b", "available", "enabled"),
        ("v2", "p1", "h@b#pool1", "in-use", "disabled"),
        ("v3", "p2", "h@b#pool2", "available", None),
        ("v4", "p2", "h@bb#pool1", "error", "enabled"),
        ("v5", "p1", "h@c", "available", "failed-over"),
        ("v6", "p1", None, "creating", "disabled"),
    ]
    for vid, project, host, status, rep in specs:
        repo.volume_create(
            {"id": vid, "project_id": project, "host": host, "status": status, "replication_status": rep}
        )
        clock.advance()

    def ids(**filters: Any) -> list[str]:
        return [row["id"] for row in repo.volume_get_all(**filters)]

    assert ids() == ["v1", "v2", "v3", "v4", "v5", "v6"]
    assert ids(project_id="p2") == ["v3", "v4"]
    assert ids(host="h@b") == ["v1", "v2", "v3"]  # not h@bb
    assert ids(host="h@b#pool1") == ["v2"]
    assert ids(host="h") == []
    assert ids(statuses=["available", "in-use"]) == ["v1", "v2", "v3", "v5"]
    assert ids(statuses=[]) == []
    assert ids(replication_statuses={"enabled", "failed-over"}) == ["v1", "v4", "v5"]
    assert ids(project_id="p1", host="h@b", statuses=("available",)) == ["v1"]


def test_get_all_orders_by_created_at_then_id(repo: Repository, clock: FakeClock) -> None:
    for vid in ("b", "a", "c"):
        repo.volume_create({"id": vid})
    clock.advance(-10)  # an earlier timestamp sorts first whatever its id
    repo.volume_create({"id": "z"})
    assert [row["id"] for row in repo.volume_get_all()] == ["z", "a", "b", "c"]


def test_host_filter_is_exact_about_case_and_wildcards(repo: Repository) -> None:
    repo.volume_create({"id": "v1", "host": "H@B#p"})
    repo.volume_create({"id": "v2", "host": "hx1@b#p"})
    assert repo.volume_get_all(host="h@b") == []
    assert repo.volume_get_all(host="h_1@b") == []


# --- conditional update -------------------------------------------------------------------------


def test_conditional_update_matches_one_value(repo: Repository, clock: FakeClock) -> None:
    repo.volume_create({"id": "v1", "status": "available"})
    clock.advance()
    row = repo.volume_conditional_update("v1", {"status": "available"}, {"status": "in-use"})
    assert row is not None
    assert row["status"] == "in-use"
    assert row["updated_at"] == clock.now
    assert repo.volume_get("v1") == row


def test_conditional_update_matches_any_of_a_tuple_and_none(repo: Repository) -> None:
    repo.volume_create({"id": "v1", "replication_status": None, "status": "error"})
    row = repo.volume_conditional_update(
        "v1",
        {"status": ("available", "error"), "replication_status": None},
        {"replication_status": "enabled"},
    )
    assert row is not None
    assert row["replication_status"] == "enabled"
    row = repo.volume_conditional_update(
        "v1", {"replication_status": [None, "enabled"]}, {"replication_status": "disabled"}
    )
    assert row is not None
    assert row["replication_status"] == "disabled"


def test_conditional_update_mismatch_changes_nothing(repo: Repository, clock: FakeClock) -> None:
    before = repo.volume_create({"id": "v1", "status": "available", "replication_status": "enabled"})
    clock.advance()
    expectations: list[dict[str, Any]] = [
        {"status": "in-use"},
        {"status": ("error", "in-use")},
        {"status": "available", "replication_status": None},
        {"status": ()},
    ]
    for expected in expectations:
        assert repo.volume_conditional_update("v1", expected, {"status": "deleting"}) is None
    assert repo.volume_get("v1") == before


def test_conditional_update_of_missing_or_deleted_volume_raises(repo: Repository) -> None:
    with pytest.raises(exception.VolumeNotFound):
        repo.volume_conditional_update("nope", {"status": "available"}, {"status": "in-use"})
    repo.volume_create({"id": "v1", "status": "available"})
    repo.volume_destroy("v1")
    with pytest.raises(exception.VolumeNotFound):
        repo.volume_conditional_update("v1", {}, {"status": "in-use"})


def test_racing_conditional_updates_have_exactly_one_winner(repo: Repository) -> None:
    for vid in ("v1", "v2", "v3"):
        repo.volume_create({"id": vid})
        barrier = threading.Barrier(8)
        winners: list[str] = []
        failures: list[BaseException] = []

        def race(
            vid: str = vid,
            barrier: threading.Barrier = barrier,
            winners: list[str] = winners,
            failures: list[BaseException] = failures,
        ) -> None:
            name = threading.current_thread().name
            barrier.wait()
            try:
                row = repo.volume_conditional_update(
                    vid,
                    {"replication_status": "disabled"},
                    {"replication_status": "enabling", "replication_extended_status": name},
                )
            except BaseException as exc:  # reported below, not lost in the thread
                failures.append(exc)
                return
            if row is not None:
                winners.append(name)

        threads = [threading.Thread(target=race, name=f"{vid}-racer-{i}") for i in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert failures == []
        assert len(winners) == 1
        stored = repo.volume_get(vid)
        assert stored["replication_status"] == "enabling"
        assert stored["replication_extended_status"] == winners[0]


# --- volume types -------------------------------------------------------------------------------


def test_volume_types_and_extra_specs(repo: Repository, clock: FakeClock) -> None:
    gold = repo.volume_type_create("t-gold", "gold", {"replication_enabled": "<is> True"}, "mirrored")
    assert gold == {
        "id": "t-gold",
        "name": "gold",
        "description": "mirrored",
        "extra_specs": {"replication_enabled": "<is> True"},
        "created_at": clock.now,
        "updated_at": clock.now,
    }
    repo.volume_type_create("t-bronze", "bronze")
    assert repo.volume_type_get("t-bronze")["extra_specs"] == {}
    assert repo.volume_type_get_by_name("gold") == gold
    assert [t["name"] for t in repo.volume_type_get_all()] == [DEFAULT_TYPE_NAME, "bronze", "gold"]

    clock.advance()
    specs = repo.volume_type_extra_specs_update(
        "t-gold", {"replication_type": "<in> async", "replication_enabled": "<is> False"}
    )
    assert specs == {"replication_enabled": "<is> False", "replication_type": "<in> async"}
    assert repo.volume_type_get("t-gold")["updated_at"] == clock.now

    repo.volume_type_extra_specs_delete("t-gold", "replication_type")
    assert repo.volume_type_get("t-gold")["extra_specs"] == {"replication_enabled": "<is> False"}
    with pytest.raises(exception.NotFound, match="replication_type"):
        repo.volume_type_extra_specs_delete("t-gold", "replication_type")

    repo.volume_type_delete("t-gold")
    with pytest.raises(exception.VolumeTypeNotFound):
        repo.volume_type_get("t-gold")
    assert [t["name"] for t in repo.volume_type_get_all()] == [DEFAULT_TYPE_NAME, "bronze"]


def test_volume_type_errors(repo: Repository) -> None:
    repo.volume_type_create("t1", "gold")
    with pytest.raises(exception.VolumeTypeExists, match="gold"):
        repo.volume_type_create("t2", "gold")
    with pytest.raises(exception.Invalid):
        repo.volume_type_create("t1", "silver")
    with pytest.raises(exception.Invalid):
        repo.volume_type_create("t3", "silver", {"k": 1})  # type: ignore[dict-item]
    for call in (
        lambda: repo.volume_type_get("nope"),
        lambda: repo.volume_type_get_by_name("nope"),
        lambda: repo.volume_type_delete("nope"),
        lambda: repo.volume_type_update("nope", {"description": "x"}),
        lambda: repo.volume_type_extra_specs_update("nope", {"k": "v"}),
        lambda: repo.volume_type_extra_specs_delete("nope", "k"),
    ):
        with pytest.raises(exception.VolumeTypeNotFound):
            call()
    assert [t["id"] for t in repo.volume_type_get_all()] == [DEFAULT_TYPE_ID, "t1"]


def test_every_database_starts_with_the_default_type_and_it_can_change(
    repo: Repository, clock: FakeClock
) -> None:
    default = repo.volume_type_get_by_name(DEFAULT_TYPE_NAME)
    assert default["id"] == DEFAULT_TYPE_ID and default["extra_specs"] == {}
    assert repo.volume_type_get(DEFAULT_TYPE_ID) == default
    clock.advance()
    changed = repo.volume_type_update(DEFAULT_TYPE_ID, {"description": "ours"})
    assert changed == {**default, "description": "ours", "updated_at": clock.now}
    assert repo.volume_type_get(DEFAULT_TYPE_ID) == changed


def test_a_volume_type_is_renamed_unless_the_name_is_taken(repo: Repository) -> None:
    repo.volume_type_create("t1", "gold", {"k": "v"}, "old")
    repo.volume_type_create("t2", "silver")
    renamed = repo.volume_type_update("t1", {"name": "platinum", "description": None})
    assert (renamed["name"], renamed["description"], renamed["extra_specs"]) == ("platinum", None, {"k": "v"})
    assert repo.volume_type_get_by_name("platinum")["id"] == "t1"
    assert repo.volume_type_update("t1", {"name": "platinum"})["name"] == "platinum"  # its own name
    with pytest.raises(exception.VolumeTypeExists, match="silver"):
        repo.volume_type_update("t1", {"name": "silver"})
    bad_changes: list[dict[str, Any]] = [{"extra_specs": {}}, {"id": "t9"}, {"name": 3}, {"description": 4}]
    for bad in bad_changes:
        with pytest.raises(exception.Invalid):
            repo.volume_type_update("t1", bad)
    assert repo.volume_type_get("t1") == renamed


def test_volume_metadata_and_description_are_stored_as_given(repo: Repository) -> None:
    row = repo.volume_create({"id": "v1", "display_description": "d", "metadata": {"a": "1"}})
    assert (row["display_description"], row["metadata"], row["admin_metadata"]) == ("d", {"a": "1"}, {})
    assert (row["bootable"], row["attach_status"], row["migration_status"]) == (False, "detached", None)
    blank = repo.volume_create({"id": "v2"})
    blank["metadata"]["x"] = "y"  # the defaults are never shared
    assert repo.volume_get("v2")["metadata"] == {} == repo.volume_create({"id": "v3"})["metadata"]
    updated = repo.volume_update("v1", {"metadata": {"b": "2"}, "admin_metadata": {"readonly": "True"}})
    assert (updated["metadata"], updated["admin_metadata"]) == ({"b": "2"}, {"readonly": "True"})
    for bad in ({"metadata": {"k": 1}}, {"metadata": {2: "v"}}, {"admin_metadata": "x"}, {"bootable": "yes"}):
        with pytest.raises(exception.Invalid):
            repo.volume_update("v1", bad)
    assert repo.volume_get("v1") == updated


# --- services -----------------------------------------------------------------------------------


def test_service_upsert_assigns_ids_and_keeps_report_count(repo: Repository, clock: FakeClock) -> None:
    first = repo.service_update_or_create("h@b", "cinder-volume", {"topic": "cinder-volume"})
    assert first == {
        "id": 1,
        "host": "h@b",
        "binary": "cinder-volume",
        "topic": "cinder-volume",
        "disabled": False,
        "disabled_reason": None,
        "report_count": 0,
        "capabilities": None,
        "stats_at": None,
        "replication_status": "not-capable",
        "active_backend_id": None,
        "frozen": False,
        "created_at": clock.now,
        "updated_at": clock.now,
    }
    second = repo.service_update_or_create("sched", "cinder-scheduler", {})
    assert second["id"] == 2

    clock.advance(10)
    beat = repo.service_update_or_create("h@b", "cinder-volume", {"report_count": 1})
    assert (beat["id"], beat["report_count"], beat["topic"]) == (1, 1, "cinder-volume")
    assert (beat["created_at"], beat["updated_at"]) == (first["created_at"], clock.now)
    repo.service_update_or_create(
        "h@b", "cinder-volume", {"report_count": 2, "disabled": True, "disabled_reason": "maintenance"}
    )
    stored = repo.service_get("h@b", "cinder-volume")
    assert (stored["report_count"], stored["disabled"]) == (2, True)

    assert [s["id"] for s in repo.service_get_all()] == [1, 2]
    assert [s["host"] for s in repo.service_get_all(binary="cinder-scheduler")] == ["sched"]
    with pytest.raises(exception.ServiceNotFound, match="cinder-backup on h@b"):
        repo.service_get("h@b", "cinder-backup")


def test_a_service_starts_not_capable_and_unfrozen_on_its_own_array(repo: Repository) -> None:
    row = repo.service_update_or_create("h@b", "cinder-volume", {})
    assert (row["replication_status"], row["active_backend_id"], row["frozen"]) == (
        "not-capable",
        None,
        False,
    )


def test_service_conditional_update_claims_once_and_says_which_rows_are_disabled(
    repo: Repository, clock: FakeClock
) -> None:
    repo.service_update_or_create("h@a", "cinder-volume", {"replication_status": "enabled"})
    repo.service_update_or_create("h@b", "cinder-volume", {"disabled": True})
    repo.service_update_or_create("h@b", "cinder-scheduler", {"disabled": True})
    claim = ({"replication_status": ["enabled", "failed-over"]}, {"replication_status": "failing-over"})
    clock.advance()
    won = repo.service_conditional_update("h@a", "cinder-volume", *claim)
    assert won is not None and won["replication_status"] == "failing-over"
    assert won["updated_at"] == clock.now
    assert repo.service_conditional_update("h@a", "cinder-volume", *claim) is None  # the racer loses
    assert repo.service_get("h@a", "cinder-volume")["replication_status"] == "failing-over"
    assert repo.service_disabled_hosts("cinder-volume") == {"h@b"}
    with pytest.raises(exception.ServiceNotFound):
        repo.service_conditional_update("h@c", "cinder-volume", {}, {"frozen": True})
    with pytest.raises(exception.Invalid, match="Unknown service field 'colour'"):
        repo.service_conditional_update("h@a", "cinder-volume", {"colour": "red"}, {})


# --- quotas -------------------------------------------------------------------------------------


def test_quota_limits_are_stored_per_project_and_class(repo: Repository) -> None:
    assert repo.quota_get("p1") == {} and repo.quota_class_get("default") == {}
    repo.quota_update("p1", {"volumes": 3, "gigabytes": -1})
    repo.quota_update("p1", {"volumes": 4})
    repo.quota_class_update("default", {"volumes": 10})
    assert repo.quota_get("p1") == {"volumes": 4, "gigabytes": -1}
    assert repo.quota_get("p2") == {}
    assert repo.quota_class_get("default") == {"volumes": 10}
    repo.quota_destroy("p1")
    assert repo.quota_get("p1") == {} and repo.quota_class_get("default") == {"volumes": 10}
    bad_limits: list[dict[str, Any]] = [
        {"volumes": -2},
        {"volumes": "3"},
        {"volumes": True},
        {"": 1},
        {"volumes": 2**31},
    ]
    for bad in bad_limits:
        with pytest.raises(exception.Invalid):
            repo.quota_update("p1", bad)
    assert repo.quota_get("p1") == {}


def _volume(vid: str, size: int = 1, project: str = "p1", type_id: str | None = None) -> dict[str, Any]:
    return {"id": vid, "project_id": project, "size": size, "volume_type_id": type_id}


def test_nothing_stored_means_unlimited(repo: Repository) -> None:
    for i in range(30):
        repo.volume_create(_volume(f"v{i}", size=1000), within_quota=True)
    assert repo.quota_usage("p1").volumes == 30 and repo.quota_usage("p1").gigabytes == 30000


def test_a_create_beyond_quota_is_refused_and_writes_nothing(repo: Repository) -> None:
    repo.quota_class_update("default", {"volumes": 2, "gigabytes": 5})
    repo.volume_create(_volume("v1", size=2), within_quota=True)
    with pytest.raises(exception.VolumeSizeExceedsAvailableQuota, match="Requested 4G, quota is 5G and 2G"):
        repo.volume_create(_volume("v2", size=4), within_quota=True)
    repo.volume_create(_volume("v2", size=2), within_quota=True)
    with pytest.raises(exception.VolumeLimitExceeded, match=r"allowed \(2\) exceeded for quota 'volumes'"):
        repo.volume_create(_volume("v3"), within_quota=True)
    repo.volume_create(_volume("v3", project="p2"), within_quota=True)  # another project: its own room
    repo.volume_create(_volume("v4"))  # not asked to count (an internal row)
    assert [v["id"] for v in repo.volume_get_all(project_id="p1")] == ["v1", "v2", "v4"]
    repo.quota_update("p1", {"volumes": -1, "gigabytes": -1})  # the project's own beat its class's
    repo.volume_create(_volume("v5", size=100), within_quota=True)


def test_a_deleted_volume_frees_its_quota(repo: Repository) -> None:
    repo.quota_update("p1", {"volumes": 1})
    repo.volume_create(_volume("v1"), within_quota=True)
    with pytest.raises(exception.VolumeLimitExceeded):
        repo.volume_create(_volume("v2"), within_quota=True)
    repo.volume_destroy("v1")
    repo.volume_create(_volume("v2"), within_quota=True)
    assert repo.quota_usage("p1").volumes == 1


def test_per_volume_and_per_type_quotas(repo: Repository) -> None:
    repo.volume_type_create("t1", "gold")
    repo.quota_update("p1", {"per_volume_gigabytes": 5, "volumes_gold": 1, "gigabytes___DEFAULT__": 3})
    with pytest.raises(
        exception.VolumeSizeExceedsLimit, match="size 6G is larger than maximum allowed limit 5G"
    ):
        repo.volume_create(_volume("v1", size=6, type_id="t1"), within_quota=True)
    repo.volume_create(_volume("v1", size=5, type_id="t1"), within_quota=True)
    with pytest.raises(exception.VolumeLimitExceeded, match="quota 'volumes_gold'"):
        repo.volume_create(_volume("v2", type_id="t1"), within_quota=True)
    repo.volume_create(_volume("v2", size=3), within_quota=True)  # untyped: the default type's
    with pytest.raises(exception.VolumeSizeExceedsAvailableQuota, match="gigabytes___DEFAULT__"):
        repo.volume_create(_volume("v3"), within_quota=True)
    usage = repo.quota_usage("p1")
    assert (usage.volumes, usage.gigabytes) == (2, 8)
    assert usage.by_type == {"t1": (1, 5), DEFAULT_TYPE_ID: (1, 3)}


def test_an_extend_beyond_quota_is_refused_and_changes_nothing(repo: Repository) -> None:
    repo.quota_update("p1", {"gigabytes": 4, "per_volume_gigabytes": 3})
    repo.volume_create(_volume("v1", size=1), within_quota=True)
    with pytest.raises(exception.VolumeSizeExceedsLimit):
        repo.volume_conditional_update("v1", {"size": 1}, {"size": 4}, within_quota=True)
    assert repo.volume_conditional_update("v1", {"size": 1}, {"size": 3}, within_quota=True) is not None
    repo.volume_create(_volume("v2", size=1), within_quota=True)
    with pytest.raises(exception.VolumeSizeExceedsAvailableQuota, match="Requested 1G, quota is 4G and 4G"):
        repo.volume_conditional_update("v2", {"size": 1}, {"size": 2}, within_quota=True)
    assert repo.volume_get("v2")["size"] == 1
    # an update whose expectations fail changes nothing and so needs no room
    assert repo.volume_conditional_update("v2", {"size": 7}, {"size": 9}, within_quota=True) is None


@pytest.mark.parametrize("what", ["create", "extend"])
def test_concurrent_requests_never_overshoot_a_quota(repo: Repository, what: str) -> None:
    """Each check counts what is stored in the same transaction as the write: of 16 racers for 5
    places, exactly 5 win, on every backend."""
    repo.quota_update(
        "p1", {"volumes": 5 if what == "create" else -1, "gigabytes": 5 if what == "extend" else -1}
    )
    if what == "extend":
        for i in range(16):
            repo.volume_create(_volume(f"v{i}", size=0))
    barrier = threading.Barrier(16)
    won: list[int] = []
    refused: list[int] = []
    failures: list[BaseException] = []

    def race(i: int) -> None:
        barrier.wait()
        try:
            if what == "create":
                repo.volume_create(_volume(f"r{i}"), within_quota=True)
            else:
                repo.volume_conditional_update(f"v{i}", {"size": 0}, {"size": 1}, within_quota=True)
        except exception.QuotaError:
            refused.append(i)
        except BaseException as exc:  # reported below, not lost in the thread
            failures.append(exc)
        else:
            won.append(i)

    threads = [threading.Thread(target=race, args=(i,)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert failures == []
    assert (len(won), len(refused)) == (5, 11)
    usage = repo.quota_usage("p1")
    assert (usage.volumes if what == "create" else usage.gigabytes) == 5


# --- outage -------------------------------------------------------------------------------------

EVERY_CALL: dict[str, Callable[[Any], Any]] = {
    "volume_create": lambda r: r.volume_create({"id": "v2"}),
    "volume_get": lambda r: r.volume_get("v1"),
    "volume_get_all": lambda r: r.volume_get_all(),
    "volume_update": lambda r: r.volume_update("v1", {"status": "error"}),
    "volume_conditional_update": lambda r: r.volume_conditional_update("v1", {}, {"size": 9}),
    "volume_destroy": lambda r: r.volume_destroy("v1"),
    "volume_type_create": lambda r: r.volume_type_create("t2", "silver"),
    "volume_type_get": lambda r: r.volume_type_get("t1"),
    "volume_type_get_by_name": lambda r: r.volume_type_get_by_name("gold"),
    "volume_type_get_all": lambda r: r.volume_type_get_all(),
    "volume_type_update": lambda r: r.volume_type_update("t1", {"name": "platinum"}),
    "volume_type_delete": lambda r: r.volume_type_delete("t1"),
    "volume_type_extra_specs_update": lambda r: r.volume_type_extra_specs_update("t1", {"a": "b"}),
    "volume_type_extra_specs_delete": lambda r: r.volume_type_extra_specs_delete("t1", "k"),
    "service_update_or_create": lambda r: r.service_update_or_create("h", "b", {"report_count": 5}),
    "service_get_all": lambda r: r.service_get_all(),
    "service_get": lambda r: r.service_get("h", "b"),
    "service_conditional_update": lambda r: r.service_conditional_update(
        "h", "b", {"frozen": False}, {"frozen": True}
    ),
    "service_disabled_hosts": lambda r: r.service_disabled_hosts("b"),
    "quota_get": lambda r: r.quota_get("p1"),
    "quota_update": lambda r: r.quota_update("p1", {"volumes": 1}),
    "quota_destroy": lambda r: r.quota_destroy("p1"),
    "quota_class_get": lambda r: r.quota_class_get("default"),
    "quota_class_update": lambda r: r.quota_class_update("default", {"volumes": 1}),
    "quota_usage": lambda r: r.quota_usage("p1"),
    **{name: call for name, call in ROW_CALLS.items() if name.startswith(("group", "volume_get_all_by"))},
    "group_type_delete": lambda r: r.group_type_delete("gt1"),
    "group_type_specs_delete": lambda r: r.group_type_specs_delete("gt1", "group_replication_enabled"),
    "group_destroy": lambda r: r.group_destroy("g1"),
}


def test_outage_covers_the_whole_interface() -> None:
    public = {name for name in vars(Repository) if not name.startswith("_")}
    assert public - {"close"} == set(EVERY_CALL)


def test_outage_fails_every_call_and_writes_nothing(repo: Repository, clock: FakeClock) -> None:
    repo.volume_create({"id": "v1", "status": "available"})
    repo.volume_type_create("t1", "gold", {"k": "v"})
    repo.service_update_or_create("h", "b", {})
    repo.quota_update("p1", {"volumes": 5})
    repo.quota_class_update("default", {"volumes": 7})
    _group_rows(repo)

    def snapshot() -> tuple[Any, ...]:
        return _stored(repo)

    before = snapshot()
    clock.advance()
    repo.available = False
    for call in EVERY_CALL.values():
        with pytest.raises(exception.DBUnavailable, match="database is unavailable"):
            call(repo)
    repo.available = True
    assert snapshot() == before


# --- construction -------------------------------------------------------------------------------


def test_make_repository_picks_the_backend(clock: FakeClock) -> None:
    for url, kind in ((None, MemoryRepository), ("memory", MemoryRepository), ("sqlite://", SqlRepository)):
        backend = make_repository(url, clock)
        assert isinstance(backend, kind)
        backend.close()


def test_file_database_uses_wal_and_persists(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "cinder.sqlite"
    first = SqlRepository(f"sqlite:///{path}", clock=clock)
    first.volume_create({"id": "v1"})
    first.close()
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    second = SqlRepository(f"sqlite:///{path}", clock=clock)
    assert second.volume_get("v1")["id"] == "v1"
    second.close()


# --- both backends answer alike -----------------------------------------------------------------

IDS = st.sampled_from(["a", "b", "c", "d"])
STATUS = st.sampled_from(["creating", "available", "in-use", "error"])
REPLICATION = st.sampled_from(["disabled", "enabling", "enabled", "failed-over", None])
HOST = st.sampled_from(["h@b", "h@b#p1", "h@b#p2", "h@bb#p1", "g@b", None])
VALUES = st.fixed_dictionaries(
    {},
    optional={
        "status": STATUS,
        "replication_status": REPLICATION,
        "host": HOST,
        "project_id": st.sampled_from(["p1", "p2"]),
        "size": st.integers(1, 3),
        "replication_extended_status": st.text(max_size=3),
    },
)
PROJECTS = st.sampled_from(["p1", "p2"])
LIMITS = st.dictionaries(
    st.sampled_from(["volumes", "gigabytes", "per_volume_gigabytes", "volumes___DEFAULT__"]),
    st.integers(-1, 4),
    max_size=3,
)
EXPECTED = st.fixed_dictionaries(
    {},
    optional={
        "status": STATUS | st.lists(STATUS, max_size=2).map(tuple),
        "replication_status": REPLICATION | st.frozensets(REPLICATION, max_size=2),
        "size": st.integers(1, 3),
    },
)


def _outcome(call: Callable[[Repository], Any], repo: Repository) -> tuple[str, Any]:
    try:
        return "ok", call(repo)
    except exception.CinderException as exc:
        return type(exc).__name__, str(exc)


def _typed(value: Any) -> Any:
    """``value`` with each scalar's type beside it: 0 == False and 1.0 == 1, but a backend that
    answers one for the other does not answer the same."""
    if isinstance(value, dict):
        return sorted((key, _typed(item)) for key, item in value.items())
    if isinstance(value, list | tuple):
        return [_typed(item) for item in value]
    return (type(value).__name__, value)


class SameAnswers(RuleBasedStateMachine):
    """Random volume traffic: memory and SQLite must give identical answers, timestamps included."""

    def __init__(self) -> None:
        super().__init__()
        self.clock = FakeClock()
        self.memory = MemoryRepository(clock=self.clock)
        self.sql = SqlRepository("sqlite://", clock=self.clock)
        # a file database reads on its own pool, and a volume through the DBAPI directly
        self.directory = tempfile.mkdtemp()
        self.file = SqlRepository(f"sqlite:///{self.directory}/cinder.sqlite", clock=self.clock)

    def both(self, call: Callable[[Repository], Any]) -> None:
        expected = _typed(_outcome(call, self.memory))
        assert expected == _typed(_outcome(call, self.sql))
        assert expected == _typed(_outcome(call, self.file))

    @rule(seconds=st.sampled_from([0.0, 0.25, 1.0]))
    def tick(self, seconds: float) -> None:
        self.clock.advance(seconds)

    @rule(vid=IDS, values=VALUES)
    def create(self, vid: str, values: dict[str, Any]) -> None:
        self.both(lambda r: r.volume_create({"id": vid, **values}))

    @rule(vid=IDS, values=VALUES)
    def update(self, vid: str, values: dict[str, Any]) -> None:
        self.both(lambda r: r.volume_update(vid, values))

    @rule(vid=IDS, expected=EXPECTED, values=VALUES)
    def conditional_update(self, vid: str, expected: dict[str, Any], values: dict[str, Any]) -> None:
        self.both(lambda r: r.volume_conditional_update(vid, expected, values))

    @rule(vid=IDS)
    def destroy(self, vid: str) -> None:
        self.both(lambda r: r.volume_destroy(vid))

    @rule(project=PROJECTS, limits=LIMITS, of_class=st.booleans())
    def set_quota(self, project: str, limits: dict[str, int], of_class: bool) -> None:
        self.both(
            lambda r: r.quota_class_update("default", limits) if of_class else r.quota_update(project, limits)
        )

    @rule(vid=IDS, values=VALUES)
    def create_within_quota(self, vid: str, values: dict[str, Any]) -> None:
        self.both(lambda r: r.volume_create({"id": vid, **values}, within_quota=True))

    @rule(vid=IDS, expected=EXPECTED, size=st.integers(1, 4))
    def resize_within_quota(self, vid: str, expected: dict[str, Any], size: int) -> None:
        self.both(lambda r: r.volume_conditional_update(vid, expected, {"size": size}, within_quota=True))

    @rule(project=PROJECTS)
    def usage(self, project: str) -> None:
        self.both(lambda r: (r.quota_usage(project), r.quota_get(project), r.quota_class_get("default")))

    @rule(vid=IDS)
    def get(self, vid: str) -> None:
        self.both(lambda r: r.volume_get(vid))

    @rule(
        project=st.none() | st.sampled_from(["p1", "p2"]),
        host=st.none() | st.sampled_from(["h@b", "h@b#p1", "h", "g@b"]),
        statuses=st.none() | st.lists(STATUS, max_size=2),
        replication=st.none() | st.lists(REPLICATION, max_size=2),
    )
    def get_all(
        self, project: str | None, host: str | None, statuses: list[str] | None, replication: list[str] | None
    ) -> None:
        self.both(
            lambda r: r.volume_get_all(
                project_id=project, host=host, statuses=statuses, replication_statuses=replication
            )
        )

    def teardown(self) -> None:
        self.memory.close()
        self.sql.close()
        self.file.close()
        shutil.rmtree(self.directory, ignore_errors=True)


SameAnswers.TestCase.settings = settings(max_examples=50, stateful_step_count=25, deadline=None)
TestSameAnswers = SameAnswers.TestCase


def test_a_volume_without_a_project_counts_against_its_quota_in_every_repository() -> None:
    """SameAnswers found it: a row with no project is the memory repository's project None, but
    SQL's ``project_id = NULL`` matched nothing, so on SQLite such volumes were never counted."""
    state = SameAnswers()
    try:
        state.set_quota(project="p1", limits={"volumes": 1}, of_class=True)
        state.create(vid="b", values={})
        state.create_within_quota(vid="a", values={})  # each repository answers as the others
        for repo in (state.memory, state.sql, state.file):
            refused = _outcome(lambda r: r.volume_create({"id": "c"}, within_quota=True), repo)
            assert refused[0] == "VolumeLimitExceeded", (repo, refused)
    finally:
        state.teardown()


JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False)
    | st.text(max_size=4)
)
CAPABILITIES = st.recursive(
    JSON_SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.lists(inner, max_size=3).map(tuple)
        | st.dictionaries(st.text(max_size=3) | st.integers(0, 9), inner, max_size=3)
    ),
    max_leaves=12,
)


@settings(max_examples=100, deadline=None)
@given(capabilities=st.dictionaries(st.text(max_size=5), CAPABILITIES, max_size=5))
def test_both_backends_store_capabilities_alike(capabilities: dict[str, Any]) -> None:
    """Whatever shape a driver's stats take (tuples, integer keys, nesting), memory gives back what
    an SQL JSON column does."""
    clock = FakeClock()
    memory, sql = MemoryRepository(clock=clock), SqlRepository("sqlite://", clock=clock)
    try:
        answers = [
            r.service_update_or_create("h@b", "cinder-volume", {"capabilities": capabilities})
            for r in (memory, sql)
        ]
        assert answers[0] == answers[1]
        assert memory.service_get("h@b", "cinder-volume") == sql.service_get("h@b", "cinder-volume")
    finally:
        memory.close()
        sql.close()


# --- generic volume groups and their types -----------------------------------------------------------


def test_group_types_and_their_specs(repo: Repository, clock: FakeClock) -> None:
    created = repo.group_type_create("gt1", "mirrored", {"b": "2", "a": "1"}, "pairs")
    assert created == {
        "id": "gt1",
        "name": "mirrored",
        "description": "pairs",
        "is_public": True,
        "group_specs": {"a": "1", "b": "2"},
        "created_at": 1000.0,
        "updated_at": 1000.0,
    }
    with pytest.raises(exception.GroupTypeExists):
        repo.group_type_create("gt2", "mirrored")
    clock.advance()
    assert repo.group_type_specs_update("gt1", {"a": "9"}) == {"a": "9", "b": "2"}
    repo.group_type_specs_delete("gt1", "b")
    with pytest.raises(exception.GroupTypeSpecsNotFound, match="has no specs with key b"):
        repo.group_type_specs_delete("gt1", "b")
    assert repo.group_type_get_by_name("mirrored")["group_specs"] == {"a": "9"}
    assert repo.group_type_get("gt1")["updated_at"] == 1001.0
    repo.group_type_create("gt2", "plain")
    with pytest.raises(exception.GroupTypeExists):
        repo.group_type_update("gt2", {"name": "mirrored"})
    assert [t["name"] for t in repo.group_type_get_all()] == [CGSNAPSHOT_GROUP_TYPE_NAME, "mirrored", "plain"]
    repo.group_type_delete("gt2")
    with pytest.raises(exception.GroupTypeNotFound):
        repo.group_type_get("gt2")


def test_every_database_starts_with_cinders_reserved_group_type_once(
    tmp_path: Path, clock: FakeClock
) -> None:
    url = f"sqlite:///{tmp_path / 'twice.sqlite'}"
    for _ in range(2):  # a database that outlived its server is not given a second one
        repo = SqlRepository(url, clock=clock)
        reserved = [t for t in repo.group_type_get_all() if t["name"] == CGSNAPSHOT_GROUP_TYPE_NAME]
        repo.close()
        assert [(t["id"], t["group_specs"]) for t in reserved] == [
            (CGSNAPSHOT_GROUP_TYPE_ID, {"consistent_group_snapshot_enabled": "<is> True"})
        ]
    assert MemoryRepository(clock=clock).group_type_get(CGSNAPSHOT_GROUP_TYPE_ID)["is_public"] is True


def test_groups_are_claimed_by_compare_and_swap_and_soft_deleted(repo: Repository, clock: FakeClock) -> None:
    group = repo.group_create({"id": "g1", "project_id": "p", "volume_type_ids": ["t1", "t2"]})
    assert (group["status"], group["replication_status"], group["volume_type_ids"]) == (
        "creating",
        "disabled",
        ["t1", "t2"],
    )
    repo.group_create({"id": "g2", "project_id": "q"})
    assert repo.group_conditional_update("g1", {"status": "available"}, {"status": "deleting"}) is None
    assert repo.group_conditional_update("g1", {"status": ("creating", None)}, {"status": "available"})
    assert [g["id"] for g in repo.group_get_all(project_id="p")] == ["g1"]
    repo.volume_create({"id": "v1", "group_id": "g1"})
    repo.volume_create({"id": "v2"})
    assert [v["id"] for v in repo.volume_get_all_by_group("g1")] == ["v1"]
    with pytest.raises(exception.Invalid, match="volume_type_ids are strings"):
        repo.group_update("g1", {"volume_type_ids": [1]})
    with pytest.raises(exception.Invalid, match="read-only"):
        repo.group_update("g1", {"deleted": True})
    repo.group_destroy("g1")
    with pytest.raises(exception.GroupNotFound):
        repo.group_get("g1")
    with pytest.raises(exception.Invalid, match="already exists"):
        repo.group_create({"id": "g1"})
    assert [g["id"] for g in repo.group_get_all()] == ["g2"]


def test_a_database_file_from_before_groups_gains_the_group_column(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "old.sqlite"
    SqlRepository(f"sqlite:///{path}", clock=clock).close()
    with sqlite3.connect(path) as conn:  # the volumes table as it was before groups
        conn.execute("ALTER TABLE volumes DROP COLUMN group_id")
        conn.execute(
            "INSERT INTO volumes (id, bootable, metadata, admin_metadata, created_at, updated_at, deleted) "
            "VALUES ('old', 0, '{}', '{}', 1, 1, 0)"
        )
    repo = SqlRepository(f"sqlite:///{path}", clock=clock)
    try:
        assert repo.volume_get("old")["group_id"] is None
        repo.volume_update("old", {"group_id": "g1"})
        assert [v["id"] for v in repo.volume_get_all_by_group("g1")] == ["old"]
    finally:
        repo.close()


def test_only_a_file_sqlite_database_says_its_reads_never_wait(tmp_path: Path) -> None:
    """What lets ``serve`` answer a poll on its serving loop: under WAL a read takes no lock, while
    an in-memory database's reads take the writers' turn (and a server's would cross a network)."""
    in_file = SqlRepository(f"sqlite:///{tmp_path / 'r.db'}", clock=lambda: 0.0)
    in_memory = SqlRepository("sqlite://", clock=lambda: 0.0)
    try:
        assert (in_file.reads_never_wait, in_memory.reads_never_wait) == (True, False)
    finally:
        in_file.close()
        in_memory.close()
