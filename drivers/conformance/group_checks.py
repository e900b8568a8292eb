"""The group checks (contract era "groups"): generic volume groups and their replication.

They run only for a driver that reports group replication (``groups``), as Cinder calls the group
replication methods only on such a backend; each names the clause it holds the driver to.
Registered into ``checks.CHECKS`` before the hygiene checks, which look at what every check left.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from replisim.drivers import contract

from .checks import _clause, _raised, _signature_problem, check
from .harness import VOLUME_PREFIX, Probe


def _group_specs(probe: Probe) -> dict[str, str]:
    """The group type specs that ask for the kind of group replication the driver reports."""
    stats = probe.driver.get_volume_stats(refresh=True)
    kinds = [key for key in contract.GROUP_REPLICATION_SPECS if stats.get(key) is True]
    return {kinds[0]: "<is> True"} if kinds else {}


def _group(probe: Probe, volumes: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """A replicated group as the manager hands it to a driver (of the volumes' types)."""
    backend = probe.target.backend
    return {
        "id": probe.env.new_volume_id(),
        "host": f"{backend.host}#{backend.volume_backend_name}",
        "status": "available",
        "replication_status": "disabled",
        "group_type_id": f"{VOLUME_PREFIX}-group-type",
        "volume_type_ids": sorted({v["volume_type_id"] for v in volumes}),
        "group_specs": _group_specs(probe),
        "project_id": volumes[0]["project_id"] if volumes else None,
    }


def _pair_problem(result: Any, ids: set[str], refused: str) -> str | None:
    """What is wrong with a ``(model_update, volume_updates)`` answer, or None; ``refused`` is the
    replication status that says the driver failed (Cinder then fails the whole group)."""
    if not isinstance(result, Sequence) or isinstance(result, str) or len(result) != 2:
        return f"a {type(result).__name__}, not (model_update, volume_updates): {result!r}"
    model, updates = result
    if model is not None and not isinstance(model, Mapping):
        return f"model_update {model!r} is not a dict"
    if model and set(model) - contract.GROUP_MODEL_KEYS:
        extra = sorted(set(model) - contract.GROUP_MODEL_KEYS)
        return f"model_update keys {extra} (allowed: status, replication_status)"
    if model and model.get("replication_status") == refused:
        return f"model_update {model!r}"
    if updates is None:
        return None
    if isinstance(updates, str | Mapping) or not all(isinstance(u, Mapping) for u in updates):
        return f"volume_updates {updates!r} is not a list of dicts"
    for update in updates:
        if update.get("id") not in ids:
            return f"volume update {update!r} names no volume of the group ({', '.join(sorted(ids))})"
        if update.get("replication_status") == refused:
            return f"volume update {update!r}"
    return None


def _members(probe: Probe, group: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Two created volumes of a replicated type, born into the group, replication off where the
    driver takes the per-volume actions (Cinder enables a group whose volumes are either)."""
    volumes = [probe.create(replicated=True, group=group) for _ in range(2)]
    stats = probe.driver.get_volume_stats(refresh=True)
    for volume in volumes:
        if volume["replication_status"] == "enabled" and contract.replicates_per_volume(stats):
            probe.disable(volume)
    return volumes


def _replicating_group(probe: Probe) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Two created volumes of a replicated type (``_members``) in a group whose replication the
    driver has enabled (the calls show in the check's sequence)."""
    group = _group(probe, [probe.volume(replicated=True)])
    volumes = _members(probe, group)
    result = probe.call(
        "enable_replication", context=probe.context, group=group, volumes=[dict(v) for v in volumes]
    )
    problem = _pair_problem(result, {v["id"] for v in volumes}, "error")
    probe.expect(problem is None, "(model_update, volume_updates) from enable_replication", problem)
    _apply(volumes, result, "enabled")
    group["replication_status"] = "enabled"
    return group, volumes


def _apply(volumes: list[dict[str, Any]], result: Any, status: str) -> None:
    """What the manager stores from a group method's volume updates (and the final status)."""
    updates = {u["id"]: u for u in (result[1] or ()) if isinstance(u, Mapping) and "id" in u}
    for volume in volumes:
        update = updates.get(volume["id"], {})
        for key in ("provider_location", "replication_driver_data", "host"):
            if update.get(key) is not None:
                volume[key] = update[key] if isinstance(update[key], str) else str(update[key])
        volume["replication_status"] = status


@check(
    "GRP-METHODS-001",
    "Groups",
    "class",
    "a driver reporting group replication has every group method, callable as Cinder calls it",
    f"Contract: {', '.join(c.signature for c in contract.GROUP_CLAUSES)}, for a driver whose stats "
    f"report {' or '.join(contract.GROUP_REPLICATION_SPECS)}",
    requires="groups",
)
def group_methods(probe: Probe) -> None:
    cls = probe.target.driver_class
    probe.calls.append(f"callable(getattr({cls.__name__}, name)) and its signature, for each group method")
    missing = [c.name for c in contract.GROUP_CLAUSES if not callable(getattr(cls, c.name, None))]
    probe.expect(not missing, "every group method on the class", f"missing: {', '.join(missing)}")
    problems = [p for c in contract.GROUP_CLAUSES if (p := _signature_problem(cls, c.name, c.params))]
    probe.expect(not problems, "every signature binds the contract's arguments", "; ".join(problems))


@check(
    "GRP-CREATE-002",
    "Groups",
    "driver",
    "create_group returns the group's model update or None",
    _clause("create_group"),
    requires="groups",
)
def group_create(probe: Probe) -> None:
    group = _group(probe, [probe.volume(replicated=True)])
    try:
        model = probe.call("create_group", context=probe.context, group=group)
    except NotImplementedError:
        probe.calls.append("NotImplementedError: Cinder's generic group, the control plane's alone")
        return
    probe.expect(
        model is None or (isinstance(model, Mapping) and set(model) <= contract.GROUP_MODEL_KEYS),
        "None or a dict of status and replication_status",
        model,
    )
    if isinstance(model, Mapping):
        probe.expect(model.get("status") != "error", "a group that is not in error", model)


@check(
    "GRP-ENABLE-003",
    "Groups",
    "driver",
    "enable_replication replicates every volume of the group",
    _clause("enable_replication"),
    requires="groups",
)
def group_enable(probe: Probe) -> None:
    _, volumes = _replicating_group(probe)
    for volume in volumes:
        answer = probe.call("list_replication_targets", context=probe.context, volume=dict(volume))
        targets = answer.get("targets") if isinstance(answer, Mapping) else None
        probe.expect(bool(targets), f"targets for volume {volume['id']}, whose group replicates", answer)


@check(
    "GRP-FAILOVER-004",
    "Groups",
    "driver",
    "failover_replication fails every volume over, and 'default' fails them back",
    _clause("failover_replication"),
    requires="groups",
)
def group_failover(probe: Probe) -> None:
    group, volumes = _replicating_group(probe)
    ids = {v["id"] for v in volumes}
    for secondary, status in ((None, "failed-over"), ("default", "enabled")):
        try:
            result = probe.call(
                "failover_replication",
                context=probe.context,
                group=dict(group),
                volumes=[dict(v) for v in volumes],
                secondary_backend_id=secondary,
            )
        except Exception as exc:
            raise probe.fail("(model_update, volume_updates)", _raised(exc)) from None
        problem = _pair_problem(result, ids, "error")
        probe.expect(problem is None, "(model_update, volume_updates) naming the group's volumes", problem)
        wrong = [u for u in result[1] or () if u.get("replication_status") not in (None, status)]
        probe.expect(not wrong, f"each volume update's replication_status {status!r} (or none)", wrong)
        _apply(volumes, result, status)
        group["replication_status"] = status


@check(
    "GRP-DISABLE-005",
    "Groups",
    "driver",
    "disable_replication stops replicating every volume of the group",
    _clause("disable_replication"),
    requires="groups",
)
def group_disable(probe: Probe) -> None:
    group, volumes = _replicating_group(probe)
    result = probe.call(
        "disable_replication", context=probe.context, group=group, volumes=[dict(v) for v in volumes]
    )
    problem = _pair_problem(result, {v["id"] for v in volumes}, "error")
    probe.expect(problem is None, "(model_update, volume_updates) from disable_replication", problem)
    _apply(volumes, result, "disabled")
    for volume in volumes:
        answer = probe.call("list_replication_targets", context=probe.context, volume=dict(volume))
        targets = answer.get("targets") if isinstance(answer, Mapping) else None
        probe.expect(targets == [], f"no targets for volume {volume['id']} once its group stopped", answer)


@check(
    "GRP-DELETE-006",
    "Groups",
    "driver",
    "delete_group deletes every volume of the group, replicas too",
    _clause("delete_group"),
    requires="groups",
)
def group_delete(probe: Probe) -> None:
    group, volumes = _replicating_group(probe)
    try:
        result = probe.call(
            "delete_group", context=probe.context, group=group, volumes=[dict(v) for v in volumes]
        )
    except NotImplementedError:  # Cinder's generic group: the manager deletes its volumes one by one
        for volume in volumes:
            probe.delete(volume)
    else:
        problem = _pair_problem(result, {v["id"] for v in volumes}, "error")
        probe.expect(problem is None, "(model_update, volume_updates) from delete_group", problem)
    for volume in volumes:
        probe.cleanup.forget(volume["id"])
    inventory = probe.env.inventory()
    if isinstance(inventory, Mapping):
        left = sorted(
            f"{v['id']} on {array}"
            for v in volumes
            for array, held in inventory.items()
            if v["id"] in (held.get("volume_ids") or ())
        )
        probe.expect(not left, "no copy of the group's volumes on any array", ", ".join(left))


@check(
    "GRP-CINDER-007",
    "Groups",
    "actors",
    "a replicated group through the API: enable, failover, failback, disable, delete",
    "Cinder 29's group API and manager: the group and each volume go enabling -> enabled, "
    "failing-over -> failed-over, failing-over -> enabled (to 'default'), disabling -> disabled; "
    "delete-volumes deletes the group and its volumes",
    requires="groups",
)
def group_through_cinder(probe: Probe) -> None:
    bench = probe.cinder
    volume_type = bench.volume_type(replicated=True)
    group_type = probe.api(
        "create_group_type", name=f"{VOLUME_PREFIX}-{bench.run_id}-group", group_specs=_group_specs(probe)
    )
    probe.cleanup.push("group type", lambda: bench.admin("delete_group_type", type_id=group_type["id"]))
    group = probe.api("create_group", group_type=group_type["id"], volume_types=[volume_type])
    group_id = group["id"]
    probe.cleanup.push("group", lambda: _delete_group(bench, group_id))
    probe.expect(
        bench.wait(lambda: bench.db.group_get(group_id)["status"] != "creating", "the group to be created")
        and bench.db.group_get(group_id)["status"] == "available",
        "group status 'available'",
        bench.db.group_get(group_id),
    )
    ids = []
    for _ in range(2):
        created = probe.api(
            "create_volume",
            size=1,
            name=probe.env.new_volume_id(),
            volume_type=volume_type,
            group_id=group_id,
        )
        bench.created.append(created["id"])
        ids.append(created["id"])
    for volume_id in ids:
        bench.final(volume_id)

    def outcome(action: str, wanted: str, **args: Any) -> None:
        probe.api(action, group_id=group_id, **args)

        def done() -> dict[str, Any] | None:
            row = bench.db.group_get(group_id)
            return None if row["replication_status"] in ("enabling", "disabling", "failing-over") else row

        row = bench.wait(done, f"group {group_id} to finish {action}")
        volumes = [bench.final(v) for v in ids]
        probe.expect(
            row["replication_status"] == wanted and all(v["replication_status"] == wanted for v in volumes),
            f"group and volumes {wanted!r}",
            f"group {row['status']}/{row['replication_status']} ({row.get('status_reason')}), volumes "
            + ", ".join(f"{v['status']}/{v['replication_status']}" for v in volumes),
        )

    outcome("enable_group_replication", "enabled")
    outcome("failover_group_replication", "failed-over")
    outcome("failover_group_replication", "enabled", secondary_backend_id="default")
    outcome("disable_group_replication", "disabled")
    _delete_group(bench, group_id)
    probe.cleanup.forget("group")
    left = [v for v in ids if bench.get(v) is not None]
    probe.expect(not left, "the group's volumes deleted with it", left)


def _delete_group(bench: Any, group_id: str) -> None:
    try:
        bench.db.group_get(group_id)
    except Exception:
        return
    bench.admin("delete_group", group_id=group_id, delete_volumes=True)

    def gone() -> bool:
        try:
            row = bench.db.group_get(group_id)
        except Exception:
            return True
        return row["status"] == "error"

    bench.wait(gone, f"group {group_id} to be deleted")
