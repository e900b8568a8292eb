"""The requests both servers are sent: scenarios, each a short sequence of steps, as data.

A step's path and body are templates: ``{project}`` is the scenario's project and any other
``{name}`` a value an earlier step saved from its answer (``save={"vol": "volume.id"}``). Each
scenario has a project of its own (hex, as production routing wants), so listings and quotas see
only what the scenario made. A request's key, ``scenario/label``, names its test item and its entry
in ``known_differences.yaml``; keys are fixed by this file alone, so pytest knows them before
anything runs.

Scenarios run in order on one server, after the ``cinder`` commands (``cli.py``). A step that
leaves a backend unusable goes last: in Cinder 29, ``PUT os-services/disable-log-reason`` disables
a backend for good, because its ``enable`` (like ``disable``) saves the service unchanged.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

ADMIN = "admin"
MEMBER = "member"
LATEST = "3.71"


@dataclass(frozen=True)
class Step:
    """One request, made as ``who`` (admin or member) at microversion ``version`` (None: no header).

    ``poll``: repeat the request until ``settled`` (its volume left every transitional status),
    ``group`` (its group left every transitional status and replication status) or ``gone`` (404);
    only the last answer is compared.
    """

    label: str
    method: str
    path: str
    body: Any = None
    who: str = ADMIN
    version: str | None = None
    save: Mapping[str, str] = field(default_factory=dict)
    poll: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    raw_body: str | None = None  # sent as is, instead of ``body`` as JSON
    exact_message: bool = False  # a fault's message is compared word for word (clients read it)


@dataclass(frozen=True)
class Scenario:
    name: str
    steps: tuple[Step, ...]

    @property
    def project(self) -> str:
        return hashlib.sha256(self.name.encode()).hexdigest()[:32]

    def request_keys(self) -> list[str]:
        return [f"{self.name}/{step.label}" for step in self.steps]


def get(label: str, path: str, **kw: Any) -> Step:
    return Step(label, "GET", path, **kw)


def post(label: str, path: str, body: Any = None, **kw: Any) -> Step:
    return Step(label, "POST", path, body, **kw)


def put(label: str, path: str, body: Any = None, **kw: Any) -> Step:
    return Step(label, "PUT", path, body, **kw)


def delete(label: str, path: str, **kw: Any) -> Step:
    return Step(label, "DELETE", path, **kw)


P = "/v3/{project}"
VOLUMES = f"{P}/volumes"
VOL = f"{VOLUMES}/{{vol}}"


def create(label: str, save: str = "vol", **volume: Any) -> Step:
    return post(label, VOLUMES, {"volume": {"size": 1, **volume}}, save={save: "volume.id"})


def settle(label: str, var: str = "vol", **kw: Any) -> Step:
    return get(label, f"{VOLUMES}/{{{var}}}", poll="settled", **kw)


def action(label: str, name: str, info: Any = None, var: str = "vol", **kw: Any) -> Step:
    return post(label, f"{VOLUMES}/{{{var}}}/action", {name: info if info is not None else {}}, **kw)


def gone(label: str, var: str = "vol") -> Step:
    return get(label, f"{VOLUMES}/{{{var}}}", poll="gone")


GROUP_TYPES = f"{P}/group_types"
GTYPE = f"{GROUP_TYPES}/{{gtype}}"
GROUPS = f"{P}/groups"
GRP = f"{GROUPS}/{{grp}}"
GROUP_MV = "3.38"  # group replication's microversion; groups are 3.13, group types 3.11
REPLICATED_GROUP = {"group_replication_enabled": "<is> True"}  # what Cinder's fake driver reports


def group_action(label: str, name: str, info: Any = None, var: str = "grp", **kw: Any) -> Step:
    kw.setdefault("version", GROUP_MV)
    return post(label, f"{GROUPS}/{{{var}}}/action", {name: info if info is not None else {}}, **kw)


def group_settled(label: str, var: str = "grp", **kw: Any) -> Step:
    kw.setdefault("version", GROUP_MV)
    return get(label, f"{GROUPS}/{{{var}}}", poll="group", **kw)


SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        "versions",
        (
            get("root", "/"),
            get("root-3.71", "/", version=LATEST),
            get("v3", "/v3/"),
            get("v3-3.71", "/v3/", version=LATEST),
            get("v3-no-slash", "/v3"),
            get("volumes-3.99-406", VOLUMES, version="3.99", exact_message=True),
            get("volumes-2.0-406", VOLUMES, version="2.0", exact_message=True),
            get("volumes-bad-version", VOLUMES, version="3.x"),
            get("volumes-latest", VOLUMES, version="latest"),
            post("post-root", "/", {}),
            post("post-v3-body", "/v3/", {"a": 1}),
            Step("delete-root", "DELETE", "/"),
            get("root-3.99-406", "/", version="3.99", exact_message=True),
            post("post-v3-no-slash", "/v3", {}),
            get("unknown-api", "/v2/"),
        ),
    ),
    Scenario(
        "types",
        (
            get("list", f"{P}/types"),
            get("default", f"{P}/types/default", save={"default": "volume_type.id"}),
            post(
                "create",
                f"{P}/types",
                {
                    "volume_type": {
                        "name": "diff-gold",
                        "description": "gold",
                        "extra_specs": {"RESKEY:availability_zones": "nova", "vendor:tier": "1"},
                    }
                },
                save={"type": "volume_type.id"},
            ),
            post("create-duplicate-409", f"{P}/types", {"volume_type": {"name": "diff-gold"}}),
            post("create-no-name", f"{P}/types", {"volume_type": {"description": "nameless"}}),
            get("show", f"{P}/types/{{type}}"),
            get("show-by-name", f"{P}/types/diff-gold"),
            put("update", f"{P}/types/{{type}}", {"volume_type": {"description": "golden"}}),
            put("update-public", f"{P}/types/{{type}}", {"volume_type": {"is_public": True}}),
            get("list-after", f"{P}/types"),
            get("list-member", f"{P}/types", who=MEMBER),
            get("show-member", f"{P}/types/{{type}}", who=MEMBER),
            get("extra-specs-member", f"{P}/types/{{type}}/extra_specs", who=MEMBER),
            get("extra-specs", f"{P}/types/{{type}}/extra_specs"),
            post("extra-specs-set", f"{P}/types/{{type}}/extra_specs", {"extra_specs": {"vendor:tier": "2"}}),
            get("extra-spec-show", f"{P}/types/{{type}}/extra_specs/vendor:tier"),
            get("extra-spec-missing-404", f"{P}/types/{{type}}/extra_specs/nothing"),
            put("extra-spec-update", f"{P}/types/{{type}}/extra_specs/vendor:tier", {"vendor:tier": "3"}),
            put("extra-spec-update-mismatch", f"{P}/types/{{type}}/extra_specs/vendor:tier", {"other": "3"}),
            delete("extra-spec-delete", f"{P}/types/{{type}}/extra_specs/vendor:tier"),
            post("create-member-403", f"{P}/types", {"volume_type": {"name": "diff-member"}}, who=MEMBER),
            post(
                "extra-specs-set-member-403",
                f"{P}/types/{{type}}/extra_specs",
                {"extra_specs": {"k": "v"}},
                who=MEMBER,
            ),
            create("untyped-volume"),
            settle("untyped-volume-shows-default"),
            settle("untyped-volume-3.63", version="3.63"),
            create("typed-volume", save="typed", volume_type="diff-gold"),
            settle("typed-volume-shows-type", var="typed"),
            delete("delete-in-use", f"{P}/types/{{type}}"),
            delete("typed-volume-delete", f"{VOLUMES}/{{typed}}"),
            gone("typed-volume-gone", var="typed"),
            delete("untyped-volume-delete", VOL),
            gone("untyped-volume-gone"),
            delete("delete", f"{P}/types/{{type}}"),
            get("show-deleted-404", f"{P}/types/{{type}}"),
            delete("delete-default-400", f"{P}/types/{{default}}"),
            get("show-unknown-404", f"{P}/types/00000000-0000-0000-0000-000000000000"),
        ),
    ),
    Scenario(
        "volumes",
        (
            get("list-empty", VOLUMES),
            create("create", name="diff-basic"),
            settle("show"),
            get("show-3.0", VOL, version="3.0"),
            get("list", VOLUMES),
            get("list-detail", f"{VOLUMES}/detail"),
            get("list-detail-3.71", f"{VOLUMES}/detail", version=LATEST),
            get("show-member", VOL, who=MEMBER),
            get("list-detail-member", f"{VOLUMES}/detail", who=MEMBER),
            get("show-unknown-404", f"{VOLUMES}/00000000-0000-0000-0000-000000000000"),
            delete("delete", VOL),
            gone("gone"),
            delete("delete-again-404", VOL),
        ),
    ),
    Scenario(
        "volume-create-fields",
        (
            create(
                "with-description-metadata",
                name="diff-fields",
                description="a volume",
                metadata={"purpose": "diff", "tier": "1"},
            ),
            settle("show"),
            create("with-zone", save="zoned", availability_zone="nova"),
            settle("with-zone-show", var="zoned"),
            post("bad-zone", VOLUMES, {"volume": {"size": 1, "availability_zone": "nowhere"}}),
            post("size-zero", VOLUMES, {"volume": {"size": 0}}),
            post("size-text", VOLUMES, {"volume": {"size": "big"}}),
            post(
                "size-string-number",
                VOLUMES,
                {"volume": {"size": "1", "name": "diff-string-size"}},
                save={"strsize": "volume.id"},
            ),
            post("no-size", VOLUMES, {"volume": {"name": "diff-nosize"}}),
            post("unknown-type-404", VOLUMES, {"volume": {"size": 1, "volume_type": "no-such-type"}}),
            post("no-volume-key", VOLUMES, {"size": 1}),
            post("metadata-not-object", VOLUMES, {"volume": {"size": 1, "metadata": "x"}}),
            post("unknown-field", VOLUMES, {"volume": {"size": 1, "colour": "blue"}}),
            post("not-json", VOLUMES, raw_body="{not json"),
            settle("string-size-show", var="strsize"),
        ),
    ),
    Scenario(
        "volume-update",
        (
            create("create", name="diff-update"),
            settle("settled"),
            put("rename", VOL, {"volume": {"name": "diff-renamed", "description": "renamed"}}),
            get("show", VOL),
            put("metadata-via-update", VOL, {"volume": {"metadata": {"k": "v"}}}),
            put("empty-200", VOL, {"volume": {}}),
            put("no-volume-key-400", VOL, {"name": "x"}),
            put("size-not-updatable", VOL, {"volume": {"size": 5}}),
            put("unknown-404", f"{VOLUMES}/00000000-0000-0000-0000-000000000000", {"volume": {"name": "x"}}),
            put("member", VOL, {"volume": {"description": "by member"}}, who=MEMBER),
        ),
    ),
    Scenario(
        "volume-metadata",
        (
            create("create", metadata={"a": "1"}),
            settle("settled"),
            get("list", f"{VOL}/metadata"),
            post("merge", f"{VOL}/metadata", {"metadata": {"b": "2"}}),
            put("replace", f"{VOL}/metadata", {"metadata": {"c": "3", "d": "4"}}),
            get("list-after", f"{VOL}/metadata"),
            get("show-key", f"{VOL}/metadata/c"),
            get("show-missing-404", f"{VOL}/metadata/zzz"),
            put("update-key", f"{VOL}/metadata/c", {"meta": {"c": "33"}}),
            put("update-key-mismatch-400", f"{VOL}/metadata/c", {"meta": {"x": "1"}}),
            delete("delete-key", f"{VOL}/metadata/d"),
            delete("delete-missing-404", f"{VOL}/metadata/d"),
            get("show-volume", VOL),
            get("list-member", f"{VOL}/metadata", who=MEMBER),
            post("bad-body-400", f"{VOL}/metadata", {"meta": {"x": "1"}}),
            get("unknown-volume-404", f"{VOLUMES}/00000000-0000-0000-0000-000000000000/metadata"),
        ),
    ),
    Scenario(
        "volume-actions",
        (
            create("create", name="diff-actions"),
            settle("settled"),
            action("extend", "os-extend", {"new_size": 2}),
            settle("extended"),
            action("extend-smaller-400", "os-extend", {"new_size": 1}),
            action("extend-no-size-400", "os-extend", {}),
            action("reset-status-error", "os-reset_status", {"status": "error"}),
            get("after-reset", VOL),
            action("extend-in-error-400", "os-extend", {"new_size": 3}),
            action("reset-status-bad-400", "os-reset_status", {"status": "bogus"}),
            action("reset-status-available", "os-reset_status", {"status": "available"}),
            action("set-bootable", "os-set_bootable", {"bootable": True}),
            get("after-bootable", VOL),
            action("set-bootable-bad-400", "os-set_bootable", {"bootable": "maybe"}),
            action("readonly", "os-update_readonly_flag", {"readonly": True}),
            get("after-readonly", VOL),
            action("readonly-bad-400", "os-update_readonly_flag", {"readonly": "perhaps"}),
            action("unknown-action-400", "os-frobnicate", exact_message=True),
            post("two-actions-400", f"{VOL}/action", {"os-extend": {"new_size": 3}, "os-set_bootable": {}}),
            post("empty-body-400", f"{VOL}/action", {}),
            post(
                "unknown-volume-404",
                f"{VOLUMES}/00000000-0000-0000-0000-000000000000/action",
                {"os-extend": {"new_size": 3}},
            ),
        ),
    ),
    Scenario(
        "member-rights",
        (
            create("create", name="diff-member", who=MEMBER),
            settle("settled", who=MEMBER),
            action("extend-member", "os-extend", {"new_size": 2}, who=MEMBER),
            settle("extended", who=MEMBER),
            action("reset-status-member-403", "os-reset_status", {"status": "error"}, who=MEMBER),
            action("set-bootable-member", "os-set_bootable", {"bootable": True}, who=MEMBER),
            action("readonly-member", "os-update_readonly_flag", {"readonly": True}, who=MEMBER),
            get("services-member-403", f"{P}/os-services", who=MEMBER),
            get("pools-member-403", f"{P}/scheduler-stats/get_pools", who=MEMBER),
            put(
                "quota-update-member-403",
                f"{P}/os-quota-sets/{{project}}",
                {"quota_set": {"volumes": 50}},
                who=MEMBER,
            ),
            get("quota-show-member", f"{P}/os-quota-sets/{{project}}", who=MEMBER),
            get("zones-member", f"{P}/os-availability-zone", who=MEMBER),
            get("limits-member", f"{P}/limits", who=MEMBER),
            get("list-all-tenants-member", f"{VOLUMES}/detail?all_tenants=1", who=MEMBER),
            get("show-admin-view", VOL),
            delete("delete-member", VOL, who=MEMBER),
            gone("gone"),
        ),
    ),
    Scenario(
        "replication-actions",
        (
            create("create", name="diff-repl"),
            settle("settled"),
            action("enable", "os-enable_replication"),
            action("disable", "os-disable_replication"),
            action("failover", "os-failover_replication", {"secondary": "beta"}),
            action("list-targets", "os-list_replication_targets"),
            action("enable-member", "os-enable_replication", who=MEMBER),
        ),
    ),
    Scenario(
        "listing",
        (
            create("create-a1", save="a1", name="diff-a1", metadata={"k": "v"}),
            settle("a1-settled", var="a1"),
            create("create-a2", save="a2", name="diff-a2"),
            settle("a2-settled", var="a2"),
            create("create-b1", save="b1", name="diff-b1", metadata={"k": "w"}),
            settle("b1-settled", var="b1"),
            action("b1-bootable", "os-set_bootable", {"bootable": True}, var="b1"),
            get("list", VOLUMES),
            get("limit-2", f"{VOLUMES}?limit=2", save={"next": "volumes.1.id"}),
            get("limit-2-next", f"{VOLUMES}?limit=2&marker={{next}}"),
            # a client following volumes_links page by page must see every volume, then an empty page
            get("page-1", f"{VOLUMES}?limit=1", save={"page2": "volumes_links.0.href"}),
            get("page-2", "{page2}", save={"page3": "volumes_links.0.href"}),
            get("page-3", "{page3}", save={"page4": "volumes_links.0.href"}),
            get("page-4", "{page4}"),
            get("detail-limit-1", f"{VOLUMES}/detail?limit=1"),
            get("marker-unknown-404", f"{VOLUMES}?marker=00000000-0000-0000-0000-000000000000"),
            get("limit-bad-400", f"{VOLUMES}?limit=many"),
            get("sort-name-asc", f"{VOLUMES}?sort=name:asc"),
            get("sort-key-dir", f"{VOLUMES}?sort_key=name&sort_dir=desc"),
            get("sort-bad-key-400", f"{VOLUMES}?sort_key=colour"),
            get("name-exact", f"{VOLUMES}?name=diff-a2"),
            get("name-like-3.34", f"{VOLUMES}?name~=diff-a", version="3.34"),
            get("name-like-3.0", f"{VOLUMES}?name~=diff-a"),
            get("metadata-filter", f"{VOLUMES}?metadata=%7B%22k%22%3A%22v%22%7D"),
            get("bootable-filter", f"{VOLUMES}/detail?bootable=true"),
            get("zone-filter", f"{VOLUMES}?availability_zone=nova"),
            get("status-filter", f"{VOLUMES}?status=available"),
            get("unknown-filter", f"{VOLUMES}?colour=blue"),
            get("with-count-3.45", f"{VOLUMES}?with_count=true", version="3.45"),
            get("with-count-detail-3.45", f"{VOLUMES}/detail?with_count=true&limit=1", version="3.45"),
            get("summary-3.12", f"{VOLUMES}/summary", version="3.12"),
            get("summary-3.36", f"{VOLUMES}/summary", version="3.36"),
            get("summary-3.0", f"{VOLUMES}/summary"),
            get("summary-member-3.12", f"{VOLUMES}/summary", version="3.12", who=MEMBER),
        ),
    ),
    Scenario(
        "microversions",
        (
            create("create", name="diff-mv"),
            settle("3.0"),
            *(get(v, VOL, version=v) for v in ("3.13", "3.21", "3.48", "3.61", "3.63", "3.65", LATEST)),
            get("member-3.71", VOL, version=LATEST, who=MEMBER),
            get("detail-3.71", f"{VOLUMES}/detail", version=LATEST),
        ),
    ),
    Scenario(
        "limits-quotas",
        (
            get("limits", f"{P}/limits"),
            get("quota-show", f"{P}/os-quota-sets/{{project}}"),
            get("quota-usage", f"{P}/os-quota-sets/{{project}}?usage=True"),
            get("quota-defaults", f"{P}/os-quota-sets/{{project}}/defaults"),
            put(
                "quota-update",
                f"{P}/os-quota-sets/{{project}}",
                {"quota_set": {"volumes": 20, "gigabytes": 500}},
            ),
            put("quota-update-bad-400", f"{P}/os-quota-sets/{{project}}", {"quota_set": {"volumes": "lots"}}),
            put("quota-update-unknown-400", f"{P}/os-quota-sets/{{project}}", {"quota_set": {"colour": 1}}),
            get("quota-after", f"{P}/os-quota-sets/{{project}}"),
            get("limits-after", f"{P}/limits"),
            delete("quota-reset", f"{P}/os-quota-sets/{{project}}"),
            get("quota-after-reset", f"{P}/os-quota-sets/{{project}}"),
            get("class-show", f"{P}/os-quota-class-sets/default"),
            put("class-update", f"{P}/os-quota-class-sets/default", {"quota_class_set": {"backups": 11}}),
            put("class-restore", f"{P}/os-quota-class-sets/default", {"quota_class_set": {"backups": 10}}),
            get("class-show-member-403", f"{P}/os-quota-class-sets/default", who=MEMBER),
            put(
                "class-update-bad-400", f"{P}/os-quota-class-sets/default", {"quota_class_set": {"colour": 1}}
            ),
            put(
                "class-update-member-403",
                f"{P}/os-quota-class-sets/default",
                {"quota_class_set": {"backups": 10}},
                who=MEMBER,
            ),
            get("quota-other-project", f"{P}/os-quota-sets/00000000000000000000000000000000"),
            get("quota-usage-bad-400", f"{P}/os-quota-sets/{{project}}?usage=perhaps"),
            put("quota-update-empty-400", f"{P}/os-quota-sets/{{project}}", {"quota_set": {}}),
            delete("quota-reset-member-403", f"{P}/os-quota-sets/{{project}}", who=MEMBER),
        ),
    ),
    Scenario(
        "quota-enforced",
        (
            put(
                "quota-one-volume",
                f"{P}/os-quota-sets/{{project}}",
                {"quota_set": {"volumes": 1, "gigabytes": 3}},
            ),
            create("first", name="diff-q1"),
            settle("first-settled"),
            post("second-413", VOLUMES, {"volume": {"size": 1, "name": "diff-q2"}}, exact_message=True),
            get("usage", f"{P}/os-quota-sets/{{project}}?usage=True"),
            put("quota-two-volumes", f"{P}/os-quota-sets/{{project}}", {"quota_set": {"volumes": 2}}),
            post("too-big-413", VOLUMES, {"volume": {"size": 5, "name": "diff-q3"}}, exact_message=True),
            action("extend-beyond-413", "os-extend", {"new_size": 10}, exact_message=True),
            get("limits", f"{P}/limits"),
            put(
                "per-volume-limit",
                f"{P}/os-quota-sets/{{project}}",
                {"quota_set": {"per_volume_gigabytes": 1}},
            ),
            post("per-volume-413", VOLUMES, {"volume": {"size": 2, "name": "diff-q4"}}, exact_message=True),
            put(
                "below-usage-400",
                f"{P}/os-quota-sets/{{project}}",
                {"quota_set": {"volumes": 0}},
                exact_message=True,
            ),
            put(
                "negative-400",
                f"{P}/os-quota-sets/{{project}}",
                {"quota_set": {"volumes": -2}},
                exact_message=True,
            ),
            put("type-quota", f"{P}/os-quota-sets/{{project}}", {"quota_set": {"volumes___DEFAULT__": 1}}),
            post("type-413", VOLUMES, {"volume": {"size": 1, "name": "diff-q5"}}, exact_message=True),
            get("usage-member", f"{P}/os-quota-sets/{{project}}?usage=True", who=MEMBER),
            get("defaults-member", f"{P}/os-quota-sets/{{project}}/defaults", who=MEMBER),
            get(
                "other-project-member-403",
                f"{P}/os-quota-sets/00000000000000000000000000000000",
                who=MEMBER,
            ),
            delete("delete-first", VOL),
            gone("first-gone"),
            get("usage-after-delete", f"{P}/os-quota-sets/{{project}}?usage=True"),
            get("limits-after-delete", f"{P}/limits"),
        ),
    ),
    Scenario(
        "zones-pools-extensions",
        (
            get("zones", f"{P}/os-availability-zone"),
            get("pools", f"{P}/scheduler-stats/get_pools"),
            get("pools-detail", f"{P}/scheduler-stats/get_pools?detail=True"),
            get(
                "pools-by-name", f"{P}/scheduler-stats/get_pools?name=replisim@alpha%23alpha", version=LATEST
            ),
            get(
                "pools-by-type-3.35", f"{P}/scheduler-stats/get_pools?volume_type=__DEFAULT__", version="3.35"
            ),
            get("pools-by-unknown-name", f"{P}/scheduler-stats/get_pools?name=nothing", version=LATEST),
            get("pools-filters-ignored-3.0", f"{P}/scheduler-stats/get_pools?name=nothing"),
            get("pools-bad-filter-400", f"{P}/scheduler-stats/get_pools?colour=blue", version=LATEST),
            get("extensions", f"{P}/extensions"),
            get("extensions-member", f"{P}/extensions", who=MEMBER),
            get("resource-filters", f"{P}/resource_filters", version="3.33"),
            get("resource-filters-pool", f"{P}/resource_filters?resource=pool", version="3.33"),
            get("resource-filters-3.0-404", f"{P}/resource_filters"),
        ),
    ),
    Scenario(
        "faults",
        (
            get("unknown-collection-404", f"{P}/nowhere"),
            get("unknown-subresource-404", f"{VOLUMES}/detail/more"),
            Step("delete-limits-404", "DELETE", f"{P}/limits"),
            Step("delete-collection-404", "DELETE", VOLUMES),
            Step("patch-volumes-404", "PATCH", VOLUMES, {}),
            Step("put-types-404", "PUT", f"{P}/types", {}),
            post("post-detail-404", f"{VOLUMES}/detail", {}),
            post("no-body", VOLUMES),
            get("no-token", VOLUMES, headers={"X-Auth-Token": ""}),
            get("other-project-in-url", "/v3/00000000000000000000000000000000/volumes"),
            get("bare-url-3.0", "/v3/volumes"),
            get("bare-url-3.71", "/v3/volumes", version=LATEST),
            get("bare-types-3.71", "/v3/types", version=LATEST),
        ),
    ),
    Scenario(
        "group-types",
        (
            get("list-3.10-404", GROUP_TYPES, version="3.10"),
            post(
                "create",
                GROUP_TYPES,
                {
                    "group_type": {
                        "name": "diff-grp",
                        "description": "mirrored",
                        "group_specs": REPLICATED_GROUP,
                    }
                },
                version="3.11",
                save={"gtype": "group_type.id"},
            ),
            post("create-duplicate-409", GROUP_TYPES, {"group_type": {"name": "diff-grp"}}, version="3.11"),
            post("create-no-name-400", GROUP_TYPES, {"group_type": {"description": "x"}}, version="3.11"),
            post(
                "create-member-403",
                GROUP_TYPES,
                {"group_type": {"name": "diff-grp-m"}},
                version="3.11",
                who=MEMBER,
            ),
            get("show", GTYPE, version="3.11"),
            get("show-member", GTYPE, version="3.11", who=MEMBER),
            get("list", GROUP_TYPES, version="3.11"),
            get("list-member", GROUP_TYPES, version="3.11", who=MEMBER),
            get("default-404", f"{GROUP_TYPES}/default", version="3.11"),
            get("unknown-404", f"{GROUP_TYPES}/00000000-0000-0000-0000-000000000000", version="3.11"),
            put("update", GTYPE, {"group_type": {"description": "pairs"}}, version="3.11"),
            put("update-nothing-400", GTYPE, {"group_type": {}}, version="3.11", exact_message=True),
            get("specs", f"{GTYPE}/group_specs", version="3.11"),
            post("specs-set", f"{GTYPE}/group_specs", {"group_specs": {"vendor:k": "v"}}, version="3.11"),
            get("spec-show", f"{GTYPE}/group_specs/vendor:k", version="3.11"),
            get("spec-missing-404", f"{GTYPE}/group_specs/nothing", version="3.11"),
            put("spec-update", f"{GTYPE}/group_specs/vendor:k", {"vendor:k": "w"}, version="3.11"),
            put("spec-update-mismatch-400", f"{GTYPE}/group_specs/vendor:k", {"other": "w"}, version="3.11"),
            delete("spec-delete", f"{GTYPE}/group_specs/vendor:k", version="3.11"),
            get("specs-member-403", f"{GTYPE}/group_specs", version="3.11", who=MEMBER),
            get("show-after", GTYPE, version="3.11"),
            delete("delete", GTYPE, version="3.11"),
            get("show-deleted-404", GTYPE, version="3.11"),
        ),
    ),
    Scenario(
        "groups",
        (
            post(
                "volume-type",
                f"{P}/types",
                {
                    "volume_type": {
                        "name": "diff-grp-vol",
                        "extra_specs": {"replication_enabled": "<is> True"},
                    }
                },
                save={"vtype": "volume_type.id"},
            ),
            post(
                "group-type",
                GROUP_TYPES,
                {"group_type": {"name": "diff-grp-rep", "group_specs": REPLICATED_GROUP}},
                version=GROUP_MV,
                save={"gtype": "group_type.id"},
            ),
            post(
                "groups-3.12-404",
                GROUPS,
                {"group": {"group_type": "{gtype}", "volume_types": ["{vtype}"]}},
                version="3.12",
            ),
            post(
                "create",
                GROUPS,
                {"group": {"name": "diff-g1", "group_type": "{gtype}", "volume_types": ["{vtype}"]}},
                version=GROUP_MV,
                save={"grp": "group.id"},
            ),
            group_settled("available"),
            get("show-3.13", GRP, version="3.13"),
            get("show-3.71", GRP, version=LATEST),
            get("show-member", GRP, version=GROUP_MV, who=MEMBER),
            get("list", GROUPS, version=GROUP_MV),
            get("list-detail", f"{GROUPS}/detail", version=GROUP_MV),
            post(
                "create-unknown-type-404",
                GROUPS,
                {"group": {"group_type": "no-such-type", "volume_types": ["{vtype}"]}},
                version=GROUP_MV,
            ),
            post("create-no-types-400", GROUPS, {"group": {"group_type": "{gtype}"}}, version=GROUP_MV),
            post(
                "create-bogus-400",
                GROUPS,
                {"group": {"group_type": "{gtype}", "volume_types": ["{vtype}"], "bogus": 1}},
                version=GROUP_MV,
            ),
            post(
                "volume-create",
                VOLUMES,
                {"volume": {"size": 1, "name": "diff-gv", "group_id": "{grp}", "volume_type": "{vtype}"}},
                version=GROUP_MV,
                save={"vol": "volume.id"},
            ),
            settle("volume-settled", version=GROUP_MV),
            post(
                "volume-create-untyped-400",
                VOLUMES,
                {"volume": {"size": 1, "group_id": "{grp}"}},
                version=GROUP_MV,
                exact_message=True,
            ),
            delete("volume-delete-in-group-400", VOL, version=GROUP_MV),
            get("list-volumes-3.25", f"{GRP}?list_volume=True", version="3.25"),
            group_action("enable-3.37-404", "enable_replication", version="3.37"),
            # Cinder's schema takes any object inside the action (a key of its own enables): only a
            # non-object is refused before the group is looked at
            group_action("enable-not-object-400", "enable_replication", "yes"),
            group_action("enable", "enable_replication"),
            group_settled("enabled"),
            settle("volume-enabled", version=GROUP_MV),
            group_action("list-targets", "list_replication_targets"),
            group_action("list-targets-member", "list_replication_targets", who=MEMBER),
            group_action("failover-bogus-400", "failover_replication", {"bogus": True}),
            group_action(
                "failover",
                "failover_replication",
                {"secondary_backend_id": "alpha-dr", "allow_attached_volume": False},
            ),
            group_settled("failed-over"),
            settle("volume-failed-over", version=GROUP_MV),
            group_action("enable-failed-over-400", "enable_replication", exact_message=True),
            group_action("failback", "failover_replication", {"secondary_backend_id": "default"}),
            group_settled("failed-back"),
            group_action("disable-member", "disable_replication", who=MEMBER),
            group_settled("disabled"),
            settle("volume-disabled", version=GROUP_MV),
            group_action("disable-again-400", "disable_replication", exact_message=True),
            group_action("failover-disabled-400", "failover_replication", {}, exact_message=True),
            put("rename", GRP, {"group": {"name": "diff-g1-renamed"}}, version=GROUP_MV),
            put("update-nothing-400", GRP, {"group": {"name": "diff-g1-renamed"}}, version=GROUP_MV),
            put("remove-volume", GRP, {"group": {"remove_volumes": "{vol}"}}, version=GROUP_MV),
            group_settled("removed"),
            settle("volume-outside", version=GROUP_MV),
            put("add-volume", GRP, {"group": {"add_volumes": "{vol}"}}, version=GROUP_MV),
            group_settled("added"),
            put(
                "add-unknown-volume-400",
                GRP,
                {"group": {"add_volumes": "00000000-0000-0000-0000-000000000000"}},
                version=GROUP_MV,
                exact_message=True,
            ),
            group_action("delete-with-volumes-400", "delete", exact_message=True),
            post(
                "plain-type",
                GROUP_TYPES,
                {"group_type": {"name": "diff-grp-plain"}},
                version=GROUP_MV,
                save={"ptype": "group_type.id"},
            ),
            post(
                "plain-create",
                GROUPS,
                {"group": {"group_type": "{ptype}", "volume_types": ["{vtype}"]}},
                version=GROUP_MV,
                save={"plain": "group.id"},
            ),
            group_settled("plain-available", var="plain"),
            group_action("plain-enable-400", "enable_replication", var="plain", exact_message=True),
            group_action("plain-delete", "delete", var="plain"),
            get("plain-gone", f"{GROUPS}/{{plain}}", version=GROUP_MV, poll="gone"),
            group_action("delete", "delete", {"delete-volumes": True}),
            get("gone", GRP, version=GROUP_MV, poll="gone"),
            gone("volume-gone"),
        ),
    ),
    Scenario(
        "host-failover",
        (
            get("list-before", f"{P}/os-services?binary=cinder-volume", version=LATEST),
            put("freeze", f"{P}/os-services/freeze", {"host": "replisim@alpha"}),
            get("after-freeze", f"{P}/os-services?binary=cinder-volume", version=LATEST),
            put(
                "freeze-again-400", f"{P}/os-services/freeze", {"host": "replisim@alpha"}, exact_message=True
            ),
            # accepted (the service is enabled: alpha replicates to alpha-dr), then refused by the
            # driver: beta is no target of alpha, so the service goes back to enabled
            put(
                "failover-bad-target",
                f"{P}/os-services/failover_host",
                {"host": "replisim@alpha", "backend_id": "beta"},
                exact_message=True,
            ),
            get("after-bad-target", f"{P}/os-services?binary=cinder-volume", version=LATEST, poll="service"),
            put("failover-route-404", f"{P}/os-services/failover", {"host": "replisim@alpha"}),
            put(
                "failover-bad-body-400",
                f"{P}/os-services/failover_host",
                {"host": "replisim@alpha", "bogus": 1},
            ),
            put("freeze-no-host-400", f"{P}/os-services/freeze", {}, exact_message=True),
            put("freeze-no-host-3.26-400", f"{P}/os-services/freeze", {}, version="3.26", exact_message=True),
            put(
                "failover-unknown-host-400",
                f"{P}/os-services/failover_host",
                {"host": "nowhere"},
                exact_message=True,
            ),
            put("freeze-member-403", f"{P}/os-services/freeze", {"host": "replisim@alpha"}, who=MEMBER),
            put("thaw", f"{P}/os-services/thaw", {"host": "replisim@alpha"}),
            get("after-thaw", f"{P}/os-services?binary=cinder-volume", version=LATEST),
            put("thaw-again-400", f"{P}/os-services/thaw", {"host": "replisim@alpha"}, exact_message=True),
            # the runbook's middle: fail over to alpha-dr, look, fail back, look
            put(
                "failover",
                f"{P}/os-services/failover_host",
                {"host": "replisim@alpha", "backend_id": "alpha-dr"},
            ),
            get("failed-over", f"{P}/os-services?binary=cinder-volume", version=LATEST, poll="service"),
            put(
                "failback",
                f"{P}/os-services/failover_host",
                {"host": "replisim@alpha", "backend_id": "default"},
            ),
            get("failed-back", f"{P}/os-services?binary=cinder-volume", version=LATEST, poll="service"),
        ),
    ),
    Scenario(
        "group-host-failover",
        (
            # a replicated group goes with its backend: Cinder 29's failover_host hands the
            # driver the backend's replicated groups and writes each group's outcome
            post(
                "volume-type",
                f"{P}/types",
                {
                    "volume_type": {
                        "name": "diff-hgrp-vol",
                        "extra_specs": {"replication_enabled": "<is> True"},
                    }
                },
                save={"vtype": "volume_type.id"},
            ),
            post(
                "group-type",
                GROUP_TYPES,
                {"group_type": {"name": "diff-hgrp-rep", "group_specs": REPLICATED_GROUP}},
                version=GROUP_MV,
                save={"gtype": "group_type.id"},
            ),
            post(
                "create",
                GROUPS,
                {"group": {"name": "diff-hg1", "group_type": "{gtype}", "volume_types": ["{vtype}"]}},
                version=GROUP_MV,
                save={"grp": "group.id"},
            ),
            group_settled("available"),
            post(
                "volume-create",
                VOLUMES,
                {"volume": {"size": 1, "name": "diff-hgv", "group_id": "{grp}", "volume_type": "{vtype}"}},
                version=GROUP_MV,
                save={"vol": "volume.id"},
            ),
            settle("volume-settled", version=GROUP_MV),
            group_action("enable", "enable_replication"),
            group_settled("enabled"),
            put(
                "failover",
                f"{P}/os-services/failover_host",
                {"host": "replisim@alpha", "backend_id": "alpha-dr"},
            ),
            get("failed-over", f"{P}/os-services?binary=cinder-volume", version=LATEST, poll="service"),
            group_settled("group-failed-over"),
            settle("volume-failed-over", version=GROUP_MV),
            put(
                "failback",
                f"{P}/os-services/failover_host",
                {"host": "replisim@alpha", "backend_id": "default"},
            ),
            get("failed-back", f"{P}/os-services?binary=cinder-volume", version=LATEST, poll="service"),
            group_settled("group-failed-back"),
            settle("volume-failed-back", version=GROUP_MV),
            group_action("disable", "disable_replication"),
            group_settled("disabled"),
            group_action("delete", "delete", {"delete-volumes": True}),
            get("gone", GRP, version=GROUP_MV, poll="gone"),
        ),
    ),
    Scenario(
        "services",
        (
            get("list", f"{P}/os-services"),
            get("list-3.7", f"{P}/os-services", version="3.7"),
            get("list-3.49", f"{P}/os-services", version="3.49"),
            get("list-3.71", f"{P}/os-services", version=LATEST),
            get("by-binary", f"{P}/os-services?binary=cinder-volume"),
            get("by-host", f"{P}/os-services?host=replisim@alpha"),
            put("disable", f"{P}/os-services/disable", {"host": "replisim@alpha", "binary": "cinder-volume"}),
            get("after-disable", f"{P}/os-services?binary=cinder-volume"),
            put("enable", f"{P}/os-services/enable", {"host": "replisim@alpha", "binary": "cinder-volume"}),
            get("after-enable", f"{P}/os-services?binary=cinder-volume"),
            put(
                "enable-unknown-host-404",
                f"{P}/os-services/enable",
                {"host": "nowhere", "binary": "cinder-volume"},
            ),
            put("unknown-action-404", f"{P}/os-services/frobnicate", {"host": "replisim@alpha"}),
            put(
                "enable-member-403",
                f"{P}/os-services/enable",
                {"host": "replisim@alpha", "binary": "cinder-volume"},
                who=MEMBER,
            ),
            put(
                "disable-reason",
                f"{P}/os-services/disable-log-reason",
                {"host": "replisim@alpha", "binary": "cinder-volume", "disabled_reason": "maintenance"},
            ),
            get("after-disable-reason", f"{P}/os-services?binary=cinder-volume"),
        ),
    ),
)


def scenario(name: str) -> Scenario:
    return next(s for s in SCENARIOS if s.name == name)


def request_keys() -> list[str]:
    keys = [key for s in SCENARIOS for key in s.request_keys()]
    duplicates = sorted({k for k in keys if keys.count(k) > 1})
    if duplicates:
        raise ValueError(f"corpus.py: request keys must be unique; repeated: {', '.join(duplicates)}")
    return keys
