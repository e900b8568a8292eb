"""The comparator and the corpus, without servers: every kind of difference is found, normalising
hides only what differs between deployments, the allowlist covers only what it names, and the
corpus and known-differences file are well formed."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from differential import cli, compare, corpus, suite
from differential.runner import Exchange, render

VOLUME_ID = "5a4b6c1e-1111-4222-8333-944455556666"
OTHER_ID = "0b1c2d3e-aaaa-4bbb-8ccc-dddddddddddd"


def exchange(status: int = 200, body: Any = None, key: str = "s/show", **headers: str) -> Exchange:
    shown = {
        "openstack-api-version": "volume 3.0",
        "x-openstack-request-id": f"req-{OTHER_ID}",
        "content-type": "application/json",
        **{k.replace("_", "-"): v for k, v in headers.items()},
    }
    return Exchange(key, "GET", f"/v3/p/volumes/{VOLUME_ID}", status, shown, body)


def volume(**fields: Any) -> dict[str, Any]:
    return {
        "volume": {
            "id": VOLUME_ID,
            "status": "available",
            "size": 1,
            "created_at": "2026-12-01T10:00:00.123456",
            "links": [{"rel": "self", "href": f"http://127.0.0.1:8776/v3/p/volumes/{VOLUME_ID}"}],
            **fields,
        }
    }


def diff(cinder: Exchange, replisim: Exchange, exact_message: bool = False) -> list[compare.Difference]:
    return compare.differences(
        compare.Normaliser().exchange(cinder),
        compare.Normaliser().exchange(replisim),
        exact_message=exact_message,
    )


def test_answers_that_differ_only_in_ids_times_urls_and_request_ids_match() -> None:
    theirs = volume()
    ours = volume()
    ours["volume"].update(
        id=OTHER_ID,
        created_at="2027-01-01T00:00:00.000001",
        links=[{"rel": "self", "href": f"http://127.0.0.1:9/v3/p/volumes/{OTHER_ID}"}],
    )
    mine = Exchange(
        "s/show",
        "GET",
        f"/v3/p/volumes/{OTHER_ID}",
        200,
        {**exchange().headers, "x-openstack-request-id": f"req-{VOLUME_ID}"},
        ours,
    )
    assert diff(exchange(body=theirs), mine) == []


@pytest.mark.parametrize(
    ("change", "where", "what"),
    [
        (lambda b: b["volume"].pop("size"), "body.volume.size", "missing"),
        (lambda b: b["volume"].update(colour="blue"), "body.volume.colour", "extra"),
        (lambda b: b["volume"].update(size="1"), "body.volume.size", "type"),
        (lambda b: b["volume"].update(status="error"), "body.volume.status", "value"),
        (lambda b: b["volume"].update(links=[]), "body.volume.links[]", "length"),
        (lambda b: b["volume"].update(created_at="2026-12-01T10:00:00Z"), "body.volume.created_at", "value"),
        (lambda b: b["volume"].update(created_at=None), "body.volume.created_at", "type"),
    ],
)
def test_each_kind_of_body_difference_is_found(change: Any, where: str, what: str) -> None:
    ours = volume()
    change(ours)
    found = diff(exchange(body=volume()), exchange(body=ours))
    assert [(d.where, d.what) for d in found] == [(where, what)]


def test_an_id_in_another_place_is_a_difference() -> None:
    theirs = {"volumes": [{"id": VOLUME_ID}, {"id": OTHER_ID}]}
    ours = {"volumes": [{"id": OTHER_ID}, {"id": VOLUME_ID}]}
    found = diff(exchange(body=theirs), exchange(body=ours))
    assert [d.where for d in found] == ["body.volumes[0].id", "body.volumes[1].id"]


def test_status_and_headers_are_compared() -> None:
    found = diff(
        exchange(202, body=volume()),
        exchange(200, body=volume(), openstack_api_version="volume 3.71", x_openstack_request_id="-"),
    )
    assert [d.where for d in found] == [
        "status",
        "header openstack-api-version",
        "header x-openstack-request-id",
    ]


def test_content_type_counts_only_when_there_is_a_body() -> None:
    assert diff(exchange(202), exchange(202, content_type="text/html")) == []
    assert [
        d.where for d in diff(exchange(body=volume()), exchange(body=volume(), content_type="text/html"))
    ] == ["header content-type"]


def test_a_fault_message_is_compared_only_when_the_step_says_clients_read_it() -> None:
    theirs = exchange(404, {"itemNotFound": {"code": 404, "message": "Volume x could not be found."}})
    ours = exchange(404, {"itemNotFound": {"code": 404, "message": "No volume x."}})
    assert diff(theirs, ours) == []
    assert [d.what for d in diff(theirs, ours, exact_message=True)] == ["value"]
    other_fault = exchange(404, {"badRequest": {"code": 404, "message": "Volume x could not be found."}})
    assert {d.where for d in diff(theirs, other_fault)} == {"body.itemNotFound", "body.badRequest"}


def test_free_values_are_compared_by_type_and_pool_capabilities_by_their_contract_keys() -> None:
    theirs = {
        "pools": [
            {
                "name": "h@b#p",
                "capabilities": {
                    "vendor_name": "Open Source",
                    "total_capacity_gb": "infinite",
                    "pool_name": "p",
                    "QoS_support": False,
                },
            }
        ]
    }
    ours: dict[str, Any] = {
        "pools": [
            {
                "name": "h@b#p",
                "capabilities": {
                    "vendor_name": "replisim",
                    "total_capacity_gb": "1000",
                    "pool_name": "p",
                    "thin": True,
                },
            }
        ]
    }
    assert diff(exchange(body=theirs), exchange(body=ours)) == []
    ours["pools"][0]["capabilities"]["total_capacity_gb"] = 1000.0  # a number of GiB or a word: a capacity
    assert diff(exchange(body=theirs), exchange(body=ours)) == []
    ours["pools"][0]["capabilities"]["total_capacity_gb"] = None
    assert [d.where for d in diff(exchange(body=theirs), exchange(body=ours))] == [
        "body.pools[0].capabilities.total_capacity_gb"
    ]
    ours["pools"][0]["capabilities"]["total_capacity_gb"] = "1000"
    ours["pools"][0]["capabilities"].pop("pool_name")
    assert [d.where for d in diff(exchange(body=theirs), exchange(body=ours))] == [
        "body.pools[0].capabilities.pool_name"
    ]


def test_the_allowlist_covers_only_the_place_and_kind_it_names() -> None:
    extra = compare.Difference("body.volume.os-volume-replication:extended_status", None, None, "extra")
    missing = compare.Difference("body.volume.os-volume-replication:extended_status", None, None, "missing")
    verdict = compare.judge("volumes/show", "GET /", [extra, missing])
    assert verdict.outcome == "differs"
    assert verdict.unexplained == (missing,) and [d for d, _ in verdict.allowed] == [extra]
    assert compare.judge("volumes/show", "GET /", [extra]).outcome == "allowlisted"
    seed = compare.Difference("status", 400, 202, "status")
    assert compare.judge("replication-actions/enable", "POST /", [seed]).outcome == "allowlisted"
    assert compare.judge("replication-actions/create", "POST /", [seed]).outcome == "differs"


def test_every_allowlist_entry_says_why() -> None:
    assert all(len(entry.why.split()) >= 8 for entry in compare.ALLOWLIST)


def test_corpus_keys_are_unique_and_every_template_name_is_saved_by_an_earlier_step() -> None:
    assert len(corpus.request_keys()) == len(set(corpus.request_keys()))
    for scenario in corpus.SCENARIOS:
        saved = {"project"}
        for step in scenario.steps:
            used = set(re.findall(r"\{(\w+)\}", f"{step.path} {step.body}"))
            assert used <= saved, f"{scenario.name}/{step.label} uses {used - saved} before any step saves it"
            saved |= set(step.save)


def test_templates_render_everywhere_in_a_body() -> None:
    assert render({"a": ["{x}", {"{x}": 1}]}, {"x": "v"}) == {"a": ["v", {"v": 1}]}


def test_known_differences_name_real_requests_with_reasons(tmp_path: Path) -> None:
    assert set(suite.load_known()) <= set(suite.all_keys())
    stale = tmp_path / "known.yaml"
    stale.write_text("volumes/nothing-like-this: replisim does not yet do it\n")
    with pytest.raises(ValueError, match=r"known\.yaml: 'volumes/nothing-like-this' is not a request"):
        suite.load_known(stale)
    stale.write_text("volumes/show: ''\n")
    with pytest.raises(ValueError, match="needs a reason"):
        suite.load_known(stale)


def test_cli_output_shapes() -> None:
    properties = "+----------+-------+\n| Property | Value |\n+---+---+\n| size | 1 |\n| id | x |\n+---+\n"
    table = "+----+------+\n| ID | Name |\n+----+------+\n| 1  | a    |\n+----+------+\n"
    assert cli.shape(properties) == ("properties", "id", "size")
    assert cli.shape(table) == ("columns", "ID", "Name")
    assert cli.shape("") == ()
    assert cli.shape("3.71\n") == ("text",)


def test_cli_outcomes_are_judged_by_the_allowlist_as_answers_are() -> None:
    def outcome(code: int, *shape: str) -> cli.Outcome:
        return cli.Outcome("cli/show", "cinder show v", code, shape, "")

    cinder = outcome(0, "properties", "id", "size")
    seed_field = outcome(0, "properties", "id", "os-volume-replication:extended_status", "size")
    assert cli.compare(cinder, seed_field).outcome == "allowlisted"
    assert cli.compare(cinder, outcome(0, "properties", "id", "size", "colour")).outcome == "differs"
    assert cli.compare(cinder, outcome(0, "properties", "id")).outcome == "differs"
    assert cli.compare(cinder, outcome(1)).outcome == "differs"
    assert cli.compare(outcome(0, "columns", "ID"), outcome(0, "columns", "Id")).outcome == "differs"
    assert cli.compare(cinder, outcome(0, "properties", "size", "id")).outcome == "matches"
