"""The checks: permanent IDs, each naming the clause of the driver contract it holds a driver to.

IDs never change meaning once published, so skip lists and dashboards survive renames; a new
check gets a new number. ``via`` says how a check reaches the driver: ``class`` inspects it
without constructing it, ``driver`` calls the object directly, ``actors`` goes through the API,
volume manager and driver host in simulated time (what Cinder does with what the driver returns),
and ``suite`` checks the suite's own hygiene. Checks run in the order they are listed here.
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from replisim.actors.context import admin_context
from replisim.actors.status import (
    ERROR,
    FAILED_OVER,
    REPLICATION_STATUSES,
    TRANSITIONAL,
    backend_host,
    is_valid_host,
)
from replisim.drivers import contract
from replisim.exception import CinderException

from .harness import VOLUME_PREFIX, Blocked, Probe, leftovers, replication_outcome

FINAL_REPLICATION_STATUSES = REPLICATION_STATUSES - TRANSITIONAL
AREAS = ("Interface", "Set-up", "Stats", "Volumes", "Replication", "Errors", "Hygiene")

# capability -> what it takes; a check that requires a missing capability is skipped, saying why
CAPABILITIES = {
    "replication": "get_volume_stats() reports replication_enabled=True",
    "array-failure": "the driver exposes a hook to crash and restart its array (the emulated driver does)",
    "config-secrets": "the config holds a password, secret, token or key the suite can look for",
    "host-failover": "the driver has failover_host (Replication V2.1) and reports replication_enabled",
    "volume-replication": f"get_volume_stats() does not report {contract.PER_VOLUME}=False: the driver "
    f"takes the per-volume actions ({', '.join(contract.PER_VOLUME_CLAUSES)}); a Cinder 29 driver "
    "replicates by failover_host only",
}
PER_VOLUME = ("replication", "volume-replication")  # what a check of the per-volume actions needs


@dataclass(frozen=True)
class Check:
    id: str
    area: str
    via: str
    title: str
    clause: str
    requires: tuple[str, ...]  # capabilities the check needs; without one it is skipped, saying why
    run: Callable[[Probe], None]


CHECKS: list[Check] = []


CheckFunction = Callable[[Probe], None]


def check(
    check_id: str, area: str, via: str, title: str, clause: str, *, requires: str | tuple[str, ...] = ()
) -> Callable[[CheckFunction], CheckFunction]:
    needs = (requires,) if isinstance(requires, str) else requires
    assert area in AREAS and via in ("class", "driver", "actors", "suite"), (area, via)
    assert all(need in CAPABILITIES for need in needs), needs
    assert all(c.id != check_id for c in CHECKS), f"duplicate check id {check_id}"

    def register(fn: CheckFunction) -> CheckFunction:
        CHECKS.append(Check(check_id, area, via, title, clause, needs, fn))
        return fn

    return register


# -- helpers --------------------------------------------------------------------------------------


def _clause(method: str, more: str = "") -> str:
    """A check's clause, as the contract states the method (and what the check adds)."""
    clause = contract.METHODS[method]
    return f"Contract: {clause}" + (f", {more}" if more else f": {clause.doc}")


def _raised(exc: BaseException) -> str:
    return f"raised {type(exc).__name__}: {exc}"


def _configured_targets(probe: Probe) -> tuple[int, set[str], set[str]]:
    """How many targets the backend names, the names a managed target may go by, and their hosts."""
    backend, config = probe.target.backend, probe.target.config
    peers = [config.backends[name] for name in backend.replication_targets]
    names = {p.name for p in peers} | {p.volume_backend_name for p in peers}
    count = len(backend.replication_targets) or len(backend.replication_devices)
    return count, names, {p.host for p in peers}


def _stats(probe: Probe) -> Mapping[str, Any]:
    stats = probe.call("get_volume_stats", refresh=True)
    probe.expect(isinstance(stats, Mapping), "a dict", f"a {type(stats).__name__}: {stats!r}")
    return stats


def _capacity(value: Any) -> float | None:
    """A capacity as a number (``'infinite'`` is infinity, ``'unknown'`` None); ValueError if neither."""
    if isinstance(value, bool) or value is None:
        raise ValueError(value)
    if isinstance(value, int | float):
        return float(value)
    if value == "infinite":
        return float("inf")
    if value == "unknown":
        return None
    raise ValueError(value)


def _targets_problem(answer: Any, volume_id: str, probe: Probe, replicating: bool) -> str | None:
    """What is wrong with a ``list_replication_targets`` answer, or None."""
    if not isinstance(answer, Mapping):
        return f"a {type(answer).__name__}: {answer!r}"
    if answer.get("volume_id") != volume_id:
        return f"volume_id={answer.get('volume_id')!r} for volume {volume_id}"
    targets = answer.get("targets")
    if not isinstance(targets, list):
        return f"targets={targets!r} (not a list)"
    if not replicating:
        return None if targets == [] else f"targets={targets!r} for a volume that is not replicated"
    if not targets:
        return "targets=[] for a volume whose replication is enabled"
    _, names, _ = _configured_targets(probe)
    for target in targets:
        if not isinstance(target, Mapping) or target.get("type") not in contract.TARGET_TYPES:
            return f"target {target!r}: 'type' must be 'managed' or 'unmanaged'"
        if target["type"] == "managed" and target.get("backend_name") not in names:
            return (
                f"managed target {target!r}: 'backend_name' names no configured target "
                f"(configured: {', '.join(sorted(names)) or 'none'})"
            )
    return None


def _leaks(answer: Any, secrets: Iterable[str]) -> list[str]:
    """The config secrets that appear anywhere in ``answer`` (keys, values, nested)."""
    texts: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, Mapping):
            for key, item in value.items():
                walk(key)
                walk(item)
        elif isinstance(value, list | tuple | set | frozenset):
            for item in value:
                walk(item)
        else:
            texts.append(value if isinstance(value, str) else repr(value))

    walk(answer)
    return [secret for secret in secrets if any(secret in text for text in texts)]


# -- Interface ------------------------------------------------------------------------------------


@check(
    "INTF-METHODS-001",
    "Interface",
    "class",
    "every method of the contract is present",
    f"Contract: a driver implements {', '.join((contract.CONSTRUCTOR.name, *contract.REQUIRED))} "
    f"({', '.join(contract.PER_VOLUME_CLAUSES)} all or none)",
)
def methods_present(probe: Probe) -> None:
    cls = probe.target.driver_class
    probe.calls.append(f"callable(getattr({cls.__name__}, name)) for each contract method")
    missing = [name for name in contract.REQUIRED if not callable(getattr(cls, name, None))]
    if set(contract.PER_VOLUME_CLAUSES) <= set(missing):  # replicates by host failover only, if at all
        missing = [name for name in missing if name not in contract.PER_VOLUME_CLAUSES]
    probe.expect(not missing, "every contract method on the class", f"missing: {', '.join(missing)}")


def _signature_problem(cls: type, name: str, args: tuple[str, ...]) -> str | None:
    lead: tuple[Any, ...] = ()
    clause = contract.METHODS.get(name)
    defaults = clause.defaults if clause is not None else {}
    target: Any
    if name == "__init__":
        target = cls
    else:
        raw = inspect.getattr_static(cls, name, None)
        if isinstance(raw, staticmethod):
            target = raw.__func__
        elif isinstance(raw, classmethod):
            target, lead = raw.__func__, (cls,)
        elif callable(raw):
            target = getattr(cls, name)
            lead = (None,) if inspect.isfunction(target) else ()
        else:
            return None  # absent: INTF-METHODS-001 reports it
    try:
        signature = inspect.signature(target)  # follows __wrapped__, so decorators are seen through
    except (TypeError, ValueError) as exc:
        return f"{name}: its signature cannot be inspected ({exc})"
    values = [f"<{arg}>" for arg in args]
    keywords = dict(zip(args, values, strict=True))
    attempts: list[tuple[str, Callable[[], Any]]] = [
        (f"{name}({', '.join(f'{a}=...' for a in args)})", lambda: signature.bind(*lead, **keywords)),
        (f"{name}({', '.join('...' for _ in args)})", lambda: signature.bind(*lead, *values)),
    ]
    if defaults:
        required = [value for arg, value in zip(args, values, strict=True) if arg not in defaults]
        attempts.append(
            (f"{name}({', '.join('...' for _ in required)})", lambda: signature.bind(*lead, *required))
        )
    for call, bind in attempts:
        try:
            bind()
        except TypeError as exc:
            shown = str(signature) if name == "__init__" else f"{name}{signature}"
            return f"{shown} cannot be called as {call}: {exc}"
    return None


@check(
    "INTF-SIGNATURE-002",
    "Interface",
    "class",
    "every method accepts the control plane's call, by keyword and by position",
    f"Contract: {', '.join(c.signature for c in (contract.CONSTRUCTOR, *contract.METHODS.values()))}; "
    "the driver host passes them by keyword, Cinder by position (a V2.1 method only where present)",
)
def signatures(probe: Probe) -> None:
    cls = probe.target.driver_class
    probe.calls.append(f"inspect.signature(...).bind(...) for {cls.__name__} and each contract method")
    problems = [
        p
        for c in (contract.CONSTRUCTOR, *contract.METHODS.values())
        if (p := _signature_problem(cls, c.name, c.params))
    ]
    probe.expect(not problems, "every signature binds the contract's arguments", "; ".join(problems))


# -- Set-up ---------------------------------------------------------------------------------------


@check(
    "SETUP-INIT-001",
    "Set-up",
    "driver",
    "the driver is built from its config section alone",
    "Contract: __init__(self, configuration, host): configuration gives attribute access and "
    "safe_get(name) over the backend's section, host is 'host@backend'",
)
def construct(probe: Probe) -> None:
    bench = probe.env.drivers
    assert bench.constructed is not None
    call, exc = bench.constructed
    probe.calls.append(call)
    probe.expect(exc is None, "the driver object", _raised(exc) if exc else "")


@check(
    "SETUP-DO-SETUP-002",
    "Set-up",
    "driver",
    "do_setup and check_for_setup_error succeed",
    "Contract: do_setup(context) then check_for_setup_error() prepare the driver, as Cinder calls "
    "them at service start",
)
def set_up(probe: Probe) -> None:
    bench = probe.env.drivers
    if bench.set_up is None:
        raise Blocked("the driver could not be constructed (see SETUP-INIT-001)")
    call, exc = bench.set_up
    probe.calls.append(call)
    probe.expect(exc is None, "both return without raising", _raised(exc) if exc else "")


@check(
    "SETUP-SERVICE-003",
    "Set-up",
    "actors",
    "the volume manager starts the driver and reports its stats",
    "The volume manager runs do_setup and check_for_setup_error on start, then reports "
    "get_volume_stats(refresh=True) to the scheduler every report interval",
)
def service_up(probe: Probe) -> None:
    bench = probe.env.cinder
    if bench.failure:
        call, observed = bench.failure
        probe.calls.append(call)
        raise probe.fail("the service enabled, with the driver's stats in its capabilities", observed)
    service = bench.db.service_get(bench.host, "cinder-volume")
    probe.calls.append(f"services table: cinder-volume on {bench.host}")
    probe.expect(
        bool(service["capabilities"]) and not service["disabled"],
        "an enabled service with capabilities",
        service,
    )


# -- Stats ----------------------------------------------------------------------------------------


@check(
    "STATS-KEYS-001",
    "Stats",
    "driver",
    "get_volume_stats reports every required key",
    f"Contract: {contract.METHODS['get_volume_stats']} with {', '.join(contract.STATS_TYPES)}",
)
def stats_keys(probe: Probe) -> None:
    stats = _stats(probe)
    missing = [key for key in contract.STATS_TYPES if key not in stats]
    probe.expect(not missing, f"keys {', '.join(contract.STATS_TYPES)}", f"missing {', '.join(missing)}")


@check(
    "STATS-TYPES-002",
    "Stats",
    "driver",
    "every stats value has the contract's type",
    "Contract: names are strings, capacities numbers (or 'infinite' / 'unknown'), replication_enabled a bool",
)
def stats_types(probe: Probe) -> None:
    stats = _stats(probe)
    wrong = []
    for key, types in contract.STATS_TYPES.items():
        value = stats.get(key)
        if key not in stats:
            continue  # STATS-KEYS-001 reports it
        ok = isinstance(value, types) and not (bool not in types and isinstance(value, bool))
        if ok and isinstance(value, str) and key.endswith("_capacity_gb"):
            ok = value in contract.CAPACITY_WORDS
        if not ok:
            wrong.append(f"{key}={value!r}")
    probe.expect(not wrong, "strings, numbers or 'infinite'/'unknown', and a bool", ", ".join(wrong))


@check(
    "STATS-CAPACITY-003",
    "Stats",
    "driver",
    "free capacity is between 0 and total capacity",
    "Cinder's scheduler compares free_capacity_gb with total_capacity_gb: 0 <= free <= total",
)
def stats_capacity(probe: Probe) -> None:
    stats = _stats(probe)
    total, free = stats.get("total_capacity_gb"), stats.get("free_capacity_gb")
    shown = f"total_capacity_gb={total!r}, free_capacity_gb={free!r}"
    try:
        total_gb, free_gb = _capacity(total), _capacity(free)
    except ValueError:
        raise probe.fail("two capacities to compare", shown) from None
    if total_gb is not None and free_gb is not None:
        probe.expect(0 <= free_gb <= total_gb, "0 <= free_capacity_gb <= total_capacity_gb", shown)


@check(
    "STATS-NAME-004",
    "Stats",
    "driver",
    "volume_backend_name is the configured one",
    "The scheduler matches a type's volume_backend_name against the stats; the driver reports the "
    "name its config section sets",
)
def stats_name(probe: Probe) -> None:
    stats = _stats(probe)
    wanted = probe.target.backend.volume_backend_name
    probe.expect(
        stats.get("volume_backend_name") == wanted,
        f"volume_backend_name={wanted!r}",
        f"volume_backend_name={stats.get('volume_backend_name')!r}",
    )


@check(
    "STATS-REPLICATION-005",
    "Stats",
    "driver",
    "replication keys are present and typed when enabled",
    "Contract: when replication_enabled, replication_type is a list such as ['async', 'sync'] and "
    "replication_count an int; replication needs configured replication_devices",
    requires="replication",
)
def stats_replication(probe: Probe) -> None:
    stats = _stats(probe)
    configured, _, _ = _configured_targets(probe)
    kinds, count = stats.get("replication_type"), stats.get("replication_count")
    probe.expect(
        configured > 0,
        f"replication_devices in [{probe.target.backend.name}]",
        "replication_enabled=True with no replication target configured",
    )
    typed = isinstance(kinds, list) and bool(kinds) and all(k in contract.REPLICATION_TYPES for k in kinds)
    probe.expect(
        typed,
        "replication_type: a non-empty list of 'async' and/or 'sync'",
        f"replication_type={kinds!r}" if "replication_type" in stats else "no replication_type",
    )
    probe.expect(
        isinstance(count, int) and not isinstance(count, bool) and 1 <= count <= configured,
        f"replication_count: an int from 1 to {configured} (the configured targets)",
        f"replication_count={count!r}" if "replication_count" in stats else "no replication_count",
    )


@check(
    "STATS-PER-VOLUME-006",
    "Stats",
    "driver",
    f"{contract.PER_VOLUME} says whether the per-volume actions are there",
    f"Contract: a driver without {', '.join(contract.PER_VOLUME_CLAUSES)} (one that replicates by "
    f"failover_host only) reports {contract.PER_VOLUME}=False, so the API refuses those actions; one "
    "with them leaves the key out or reports True",
    requires="replication",
)
def stats_per_volume(probe: Probe) -> None:
    stats = _stats(probe)
    value = stats.get(contract.PER_VOLUME, True)
    probe.expect(
        isinstance(value, bool), f"{contract.PER_VOLUME}: a bool", f"{contract.PER_VOLUME}={value!r}"
    )
    cls = probe.target.driver_class
    has = [name for name in contract.PER_VOLUME_CLAUSES if callable(getattr(cls, name, None))]
    probe.expect(
        bool(has) == value,
        f"{contract.PER_VOLUME}={bool(has)} for a class with "
        + (", ".join(has) if has else f"none of {', '.join(contract.PER_VOLUME_CLAUSES)}"),
        f"{contract.PER_VOLUME}={value!r}",
    )


# -- Volumes --------------------------------------------------------------------------------------


@check(
    "VOL-CREATE-001",
    "Volumes",
    "driver",
    "create_volume returns a model update or None",
    _clause("create_volume"),
)
def create_returns_update(probe: Probe) -> None:
    volume = probe.volume(replicated=False)
    update = probe.call("create_volume", volume=volume)
    probe.track(volume)
    probe.expect(
        update is None or (isinstance(update, Mapping) and all(isinstance(k, str) for k in update)),
        "None or a dict keyed by volume field names",
        update,
    )
    born = update.get("replication_status", "disabled") if isinstance(update, Mapping) else "disabled"
    probe.expect(
        born == "disabled",
        "no replication_status, or 'disabled', for a volume whose type asks for no replication",
        f"replication_status={born!r}",
    )


@check(
    "VOL-DELETE-002",
    "Volumes",
    "driver",
    "delete_volume deletes a volume the driver created",
    "Contract: delete_volume(volume) removes the volume from the array",
)
def delete_created(probe: Probe) -> None:
    probe.delete(probe.create())


@check(
    "VOL-DELETE-MISSING-003",
    "Volumes",
    "driver",
    "deleting a volume the array does not have succeeds",
    "Contract: deleting a volume the array does not have succeeds (so a retried delete is safe)",
)
def delete_missing(probe: Probe) -> None:
    probe.call("delete_volume", volume=probe.volume(replicated=False))
    volume = probe.create()
    probe.delete(volume)
    probe.call("delete_volume", volume=dict(volume))


@check(
    "VOL-CREATE-004",
    "Volumes",
    "actors",
    "a volume created through the API becomes available",
    "The scheduler places the volume on this backend by its stats, the manager calls create_volume "
    "and stores the model update: status 'available'",
)
def create_through_cinder(probe: Probe) -> None:
    volume = probe.cinder_volume(replicated=False)
    probe.expect(
        volume["replication_status"] == "disabled",
        "replication_status 'disabled'",
        replication_outcome(volume),
    )


@check(
    "VOL-DELETE-005",
    "Volumes",
    "actors",
    "a volume deleted through the API is gone",
    "The manager calls delete_volume and destroys the row; a driver error leaves 'error_deleting'",
)
def delete_through_cinder(probe: Probe) -> None:
    probe.cinder_delete(probe.cinder_volume(replicated=False)["id"])


# -- Replication ----------------------------------------------------------------------------------


def _update_problem(update: Any) -> bool:
    return update is not None and not (isinstance(update, Mapping) and set(update) <= contract.ENABLE_KEYS)


@check(
    "REPL-ENABLE-001",
    "Replication",
    "driver",
    "replication_enable returns driver data or None",
    _clause("replication_enable"),
    requires=PER_VOLUME,
)
def enable_returns(probe: Probe) -> None:
    update = probe.enable(probe.replicable())
    probe.expect(not _update_problem(update), "None or {'replication_driver_data': ...}", update)


@check(
    "REPL-DISABLE-002",
    "Replication",
    "driver",
    "replication_disable returns driver data or None",
    _clause("replication_disable"),
    requires=PER_VOLUME,
)
def disable_returns(probe: Probe) -> None:
    volume = probe.replicated()
    update = probe.call("replication_disable", context=probe.context, volume=dict(volume))
    probe.expect(not _update_problem(update), "None or {'replication_driver_data': ...}", update)


@check(
    "REPL-FAILOVER-003",
    "Replication",
    "driver",
    "replication_failover returns a dict of known keys",
    _clause("replication_failover"),
    requires=PER_VOLUME,
)
def failover_shape(probe: Probe) -> None:
    result = probe.failover(probe.replicated())
    probe.expect(isinstance(result, Mapping), "a dict", result)
    extra = sorted(set(result) - contract.FAILOVER_KEYS, key=str)
    probe.expect(
        not extra,
        "only the keys host, model_update, replication_driver_data",
        f"also {', '.join(map(repr, extra))}",
    )
    model = result.get("model_update")
    probe.expect(
        model is None or isinstance(model, Mapping), "model_update: a dict", f"model_update={model!r}"
    )


@check(
    "REPL-FAILOVER-004",
    "Replication",
    "driver",
    "failover's host, if any, is a valid host on a configured target",
    "Contract: 'host' is optional; when given it is a valid 'host@backend#pool' string, and for "
    "managed replication it names a configured target backend, whose volume manager then serves "
    "the volume (without it the volume stays on its backend)",
    requires=PER_VOLUME,
)
def failover_host(probe: Probe) -> None:
    result = probe.failover(probe.replicated())
    host = result.get("host") if isinstance(result, Mapping) else None
    shown = f"host={host!r}" if isinstance(result, Mapping) else f"a {type(result).__name__}: {result!r}"
    _, _, hosts = _configured_targets(probe)
    if hosts and probe.target.backend.managed_replication_target and host is not None:
        on_target = isinstance(host, str) and is_valid_host(host) and backend_host(host) in hosts
        probe.expect(
            on_target,
            f"host: a 'host@backend#pool' string on a configured target ({', '.join(sorted(hosts))})",
            shown,
        )
    else:
        probe.expect(
            isinstance(result, Mapping) and (host is None or is_valid_host(host)),
            "no host, or a valid 'host@backend#pool' string",
            shown,
        )


@check(
    "REPL-TARGETS-005",
    "Replication",
    "driver",
    "list_replication_targets names the targets of a replica",
    _clause("list_replication_targets"),
    requires=PER_VOLUME,
)
def targets_shape(probe: Probe) -> None:
    volume = probe.replicated()
    answer = probe.call("list_replication_targets", context=probe.context, volume=dict(volume))
    problem = _targets_problem(answer, volume["id"], probe, replicating=True)
    probe.expect(
        problem is None, "{'volume_id': <id>, 'targets': [<managed or unmanaged target>, ...]}", problem
    )


@check(
    "REPL-TARGETS-006",
    "Replication",
    "driver",
    "a volume that is not replicated has no targets",
    "Contract: a volume that is not replicated gives an empty targets list (not an error)",
)
def targets_empty(probe: Probe) -> None:
    volume = probe.create()
    answer = probe.call("list_replication_targets", context=probe.context, volume=dict(volume))
    problem = _targets_problem(answer, volume["id"], probe, replicating=False)
    probe.expect(problem is None, "{'volume_id': <id>, 'targets': []}", problem)


@check(
    "REPL-TARGETS-007",
    "Replication",
    "driver",
    "no secret from the config in list_replication_targets",
    "Contract: every secret (password, secret, token, key material) is masked in the targets",
    requires="config-secrets",
)
def targets_secret(probe: Probe) -> None:
    volumes = [probe.create()]
    if not any(probe.env.capability(need) for need in PER_VOLUME):
        volumes.append(probe.replicated())
    for volume in volumes:
        answer = probe.call("list_replication_targets", context=probe.context, volume=dict(volume))
        leaked = _leaks(answer, probe.env.secrets())
        probe.expect(
            not leaked, "every credential masked", f"{len(leaked)} config secret(s) in the answer: {answer!r}"
        )


@check(
    "REPL-UPDATES-008",
    "Replication",
    "driver",
    "get_replication_updates returns a list of reports",
    _clause("get_replication_updates"),
)
def updates_shape(probe: Probe) -> None:
    if not any(probe.env.capability(need) for need in PER_VOLUME):
        probe.replicated()  # something that could be reported on
    updates = probe.call("get_replication_updates", context=probe.context)
    probe.expect(isinstance(updates, list), "a list", updates)
    bad = [
        u
        for u in updates
        if not (
            isinstance(u, Mapping)
            and isinstance(u.get("volid"), str)
            and u.get("status") in contract.UPDATE_STATUSES
        )
    ]
    probe.expect(not bad, "each {'volid': <id>, 'status': 'ok' | 'error', ...}", bad)


@check(
    "REPL-ENABLE-009",
    "Replication",
    "actors",
    "enable through the API ends 'enabled'",
    "The manager calls replication_enable, stores replication_driver_data and sets 'enabled'",
    requires=PER_VOLUME,
)
def enable_through_cinder(probe: Probe) -> None:
    probe.cinder_replicated()


@check(
    "REPL-DISABLE-010",
    "Replication",
    "actors",
    "disable through the API ends 'disabled'",
    "The manager calls replication_disable, stores replication_driver_data and sets 'disabled'",
    requires=PER_VOLUME,
)
def disable_through_cinder(probe: Probe) -> None:
    volume = probe.cinder_replicated()
    after = probe.cinder_action(volume, "disable_replication")
    probe.expect(
        after["replication_status"] == "disabled", "replication_status 'disabled'", replication_outcome(after)
    )


@check(
    "REPL-FAILOVER-011",
    "Replication",
    "actors",
    "failover through the API ends 'failed-over'",
    "The manager calls replication_failover, applies host and model_update and sets 'failed-over'; "
    "the volume is on a target backend or, when the driver named no host, where it was; a malformed "
    "answer ends in 'error'",
    requires=PER_VOLUME,
)
def failover_through_cinder(probe: Probe) -> None:
    volume = probe.cinder_replicated()
    after = probe.cinder_action(volume, "failover_replication")
    probe.expect(
        after["replication_status"] == FAILED_OVER,
        "replication_status 'failed-over'",
        replication_outcome(after),
    )
    _, _, hosts = _configured_targets(probe)
    if hosts and probe.target.backend.managed_replication_target:
        probe.expect(
            backend_host(after["host"]) in hosts or after["host"] == volume["host"],
            f"host on a target ({', '.join(sorted(hosts))}), or still {volume['host']!r}",
            f"host={after['host']!r}",
        )


@check(
    "REPL-TARGETS-012",
    "Replication",
    "actors",
    "the API lists the targets, with no secret in them",
    "The API returns the driver's list_replication_targets answer verbatim, so it must be well formed "
    "and hold no credential",
    requires=PER_VOLUME,
)
def targets_through_cinder(probe: Probe) -> None:
    volume = probe.cinder_replicated()
    answer = probe.api("list_replication_targets", volume_id=volume["id"])
    problem = _targets_problem(answer, volume["id"], probe, replicating=True)
    probe.expect(problem is None, "{'volume_id': <id>, 'targets': [...]}", problem)
    leaked = _leaks(answer, probe.env.secrets())
    probe.expect(not leaked, "every credential masked", f"{len(leaked)} config secret(s) in {answer!r}")


# -- Replication V2.1: host failover, freeze and thaw ---------------------------------------------


def _failover_host_problem(answer: Any, volumes: Sequence[Mapping[str, Any]]) -> str | None:
    """What is wrong with a failover_host answer for ``volumes``, or None."""
    if not isinstance(answer, tuple | list) or len(answer) != 3:
        count = f" of {len(answer)}" if isinstance(answer, tuple | list) else ""
        return f"a {type(answer).__name__}{count}: {answer!r}"
    _active, updates, groups = answer
    if not isinstance(updates, list) or not isinstance(groups, list):
        return f"volume_updates={updates!r}, group_updates={groups!r} (each must be a list)"
    given = {v["id"] for v in volumes}
    for item in updates:
        if not isinstance(item, Mapping) or set(item) != contract.VOLUME_UPDATE_KEYS:
            return f"volume update {item!r} is not {{'volume_id': id, 'updates': {{...}}}}"
        if item["volume_id"] not in given:
            return f"an update for volume {item['volume_id']!r}, which it was not given"
        if not isinstance(item["updates"], Mapping):
            return f"updates={item['updates']!r} for {item['volume_id']} (not a dict)"
        extra = sorted(set(item["updates"]) - contract.HOST_UPDATE_KEYS, key=str)
        if extra:
            return f"update keys {', '.join(map(repr, extra))} for {item['volume_id']}"
        status = item["updates"].get("replication_status")
        if status is not None and status not in FINAL_REPLICATION_STATUSES:
            return f"replication_status={status!r} for {item['volume_id']}"
    return None


_SHAPE = contract.METHODS["failover_host"].returns


def _refused_target(exc: BaseException) -> bool:
    """An InvalidReplicationTarget, replisim's or (through an adapter) Cinder's own."""
    return any(c.__name__ == "InvalidReplicationTarget" for c in type(exc).__mro__)


@check(
    "REPL-HOST-013",
    "Replication",
    "driver",
    "failover_host answers (active_backend_id, volume_updates, group_updates) for the volumes given",
    _clause("failover_host"),
    requires="host-failover",
)
def failover_host_shape(probe: Probe) -> None:
    volumes = [probe.replicated(), probe.replicated()]
    answer = probe.failover_host(volumes)
    problem = _failover_host_problem(answer, volumes)
    probe.expect(problem is None, _SHAPE + ", updates only for the volumes given, of known keys", problem)


@check(
    "REPL-HOST-014",
    "Replication",
    "driver",
    "a failover_host to a target that is not configured raises InvalidReplicationTarget",
    "Contract: InvalidReplicationTarget (a bad target, a refused failback) leaves the backend as it "
    "was, so the manager reverts; any other exception is failover-error",
    requires="host-failover",
)
def failover_host_bad_target(probe: Probe) -> None:
    volume = probe.replicated()
    bogus = f"{VOLUME_PREFIX}-no-such-target"
    try:
        answer = probe.failover_host([volume], bogus)
    except CinderException as exc:
        probe.expect(_refused_target(exc), "InvalidReplicationTarget", _raised(exc))
        return
    raise probe.fail("InvalidReplicationTarget", f"an answer: {answer!r}")


@check(
    "REPL-HOST-015",
    "Replication",
    "driver",
    "a failback ('default') after failover_host answers for the volumes, or refuses it",
    _clause(
        "failover_host",
        "secondary_id 'default' fails back; a driver may refuse with InvalidReplicationTarget",
    ),
    requires="host-failover",
)
def failover_host_failback(probe: Probe) -> None:
    volumes = [probe.replicated()]
    first = probe.failover_host(volumes)
    probe.expect(_failover_host_problem(first, volumes) is None, _SHAPE, first)
    try:
        back = probe.failover_host(volumes, contract.FAILBACK)
    except CinderException as exc:
        probe.expect(
            _refused_target(exc), "an answer, or InvalidReplicationTarget (failback refused)", _raised(exc)
        )
        return
    problem = _failover_host_problem(back, volumes)
    probe.expect(problem is None, _SHAPE + " for the failback", problem)


@check(
    "REPL-FREEZE-016",
    "Replication",
    "driver",
    "freeze_backend and thaw_backend succeed",
    f"Contract: {contract.METHODS['freeze_backend']} and {contract.METHODS['thaw_backend']}: "
    "the control plane refuses modifications in between",
    requires="host-failover",
)
def freeze_thaw(probe: Probe) -> None:
    for method in ("freeze_backend", "thaw_backend"):
        try:
            result = probe.call(method, context=probe.context)
        except Exception as exc:
            raise probe.fail(f"{method} answers True", _raised(exc)) from None
        probe.expect(result is not False, f"{method} answers True", f"{result!r}")


@check(
    "REPL-HOST-017",
    "Replication",
    "actors",
    "a host failover through the API ends failed-over, and a failback enabled",
    "The manager (Cinder 29's) calls failover_host with the backend's replicated volumes: the "
    "service ends failed-over with the driver's active_backend_id, each volume failed-over; a "
    "failback ('default') ends enabled; a malformed answer or an unexpected exception ends in "
    "failover-error",
    requires="host-failover",
)
def failover_host_through_cinder(probe: Probe) -> None:
    bench = probe.cinder
    volume = probe.cinder_replicated()
    host = bench.host

    def settled() -> Any:
        row = bench.db.service_get(host, "cinder-volume")
        return row if row["replication_status"] != "failing-over" else None

    probe.cleanup.push("failback", lambda: _cinder_failback(bench, host))
    probe.api("failover_host", host=host)
    row = bench.wait(settled, f"{host} to finish failing over")
    probe.expect(
        row["replication_status"] == FAILED_OVER,
        "the service 'failed-over'",
        f"replication_status={row['replication_status']!r}",
    )
    after = bench.final(volume["id"])
    probe.expect(
        after["replication_status"] in (FAILED_OVER, ERROR),
        "the volume 'failed-over' (or 'error' if a replication report finds its link down)",
        replication_outcome(after),
    )
    probe.api("failover_host", host=host, backend_id=contract.FAILBACK)
    row = bench.wait(settled, f"{host} to finish failing back")
    probe.expect(
        row["replication_status"] in ("enabled", FAILED_OVER),
        "the service 'enabled' (or still 'failed-over' if the driver refused the failback)",
        f"replication_status={row['replication_status']!r}",
    )


def _cinder_failback(bench: Any, host: str) -> None:
    """Put the backend back as the next checks need it, whatever the check left: fail back through
    the API; if that cannot (failover-error, a failback the driver refused), the admin's way out
    (freeze, reset_active_backend, thaw), and the driver told directly, as an operator would."""

    def status() -> str:
        return str(bench.db.service_get(host, "cinder-volume")["replication_status"])

    if status() == FAILED_OVER:
        with contextlib.suppress(Exception):
            bench.admin("failover_host", host=host, backend_id=contract.FAILBACK)
            bench.wait(lambda: status() != "failing-over", f"{host} to finish failing back")
    if status() != "enabled":
        with contextlib.suppress(Exception):
            bench.driver.failover_host(admin_context(), [], secondary_id=contract.FAILBACK)
        if not bench.db.service_get(host, "cinder-volume")["frozen"]:
            bench.admin("freeze_host", host=host)
        bench.admin("reset_active_backend", host=host)
        bench.admin("thaw_host", host=host)
    bench.settle(3)


# -- Errors ---------------------------------------------------------------------------------------

NO_SUCH_TARGET = f"{VOLUME_PREFIX}-no-such-target"


@check(
    "ERR-TARGET-001",
    "Errors",
    "driver",
    "failover to an unknown target raises a CinderException",
    "Contract: expected failures raise subclasses of replisim.exception.CinderException "
    "(InvalidReplicationTarget for a target that is not configured); anything else is a driver bug",
    requires=PER_VOLUME,
)
def unknown_target(probe: Probe) -> None:
    volume = probe.replicated()
    try:
        result = probe.failover(volume, secondary=NO_SUCH_TARGET)
    except CinderException:
        return
    except Exception as exc:
        raise probe.fail(
            "a CinderException subclass",
            _raised(exc),
            hint="raise replisim.exception.InvalidReplicationTarget",
        ) from None
    raise probe.fail("a CinderException subclass", f"returned {result!r}")


@check(
    "ERR-TARGET-002",
    "Errors",
    "actors",
    "a failed failover ends in 'error' with the driver's reason",
    "The manager records a CinderException's message as the reason; any other exception is logged as "
    "a driver bug. The volume stays on its host",
    requires=PER_VOLUME,
)
def unknown_target_through_cinder(probe: Probe) -> None:
    volume = probe.cinder_replicated()
    after = probe.cinder_action(volume, "failover_replication", secondary=NO_SUCH_TARGET)
    reason = after.get("replication_extended_status") or ""
    # "driver bug" is how the manager words an exception that is not a CinderException
    probe.expect(
        after["replication_status"] == ERROR and bool(reason) and "driver bug" not in reason,
        "replication_status 'error' with the reason a CinderException gave",
        replication_outcome(after),
    )
    probe.expect(after["host"] == volume["host"], f"host still {volume['host']!r}", f"host={after['host']!r}")


@check(
    "ERR-LOST-003",
    "Errors",
    "driver",
    "enabling a volume the array lacks raises a CinderException",
    "Contract: expected failures raise CinderException subclasses; a volume the array does not have "
    "(never created, or lost with the array) is one",
    requires=PER_VOLUME,
)
def lost_volume(probe: Probe) -> None:
    volume = {**probe.volume(replicated=True), "status": "available"}  # never created
    try:
        result = probe.call("replication_enable", context=probe.context, volume=dict(volume))
    except CinderException:
        return
    except Exception as exc:
        hint = "raise replisim.exception.VolumeBackendAPIException (or VolumeNotFound)"
        raise probe.fail("a CinderException subclass", _raised(exc), hint) from None
    probe.track(volume)  # whatever the driver made of it goes too
    raise probe.fail("a CinderException subclass", f"returned {result!r} for a volume it does not have")


@check(
    "ERR-ARRAY-004",
    "Errors",
    "actors",
    "an array failure leaves every volume in a final status",
    "While the array is down the driver fails with CinderExceptions, so each operation ends in a final "
    "replication_status ('error' with the driver's reason); once it is back the backend serves again",
    requires=(*PER_VOLUME, "array-failure"),
)
def array_failure(probe: Probe) -> None:
    bench = probe.cinder
    hook = probe.env.array_hook()
    assert hook is not None  # the capability gate saw it
    crash, restart = hook
    moving = probe.cinder_replicated()
    enabling = probe.cinder_replicable()
    first, since = len(probe.calls), bench.mark()
    probe.calls.append("crash the array")
    crash()
    probe.cleanup.push("restart the array", restart)
    probe.api("failover_replication", volume_id=moving["id"])
    probe.api("enable_replication", volume_id=enabling["id"])
    bench.settle(3)
    probe.calls.append("restart the array")
    restart()
    bench.settle(3)
    probe.calls.append("; ".join(probe.calls[first:]))  # the failure shows the whole sequence
    for volume_id in (moving["id"], enabling["id"]):
        after = bench.outcome(volume_id, since)  # not what later reports repaired it to
        status, reason = after["replication_status"], after.get("replication_extended_status") or ""
        probe.expect(
            status in FINAL_REPLICATION_STATUSES
            and (status != ERROR or (bool(reason) and "driver bug" not in reason)),
            "a final replication_status; with 'error', the reason a CinderException gave",
            replication_outcome(after),
        )
    probe.cinder_replicated()  # the manager still serves


# -- Hygiene --------------------------------------------------------------------------------------


@check(
    "HYG-CLEANUP-001",
    "Hygiene",
    "suite",
    "everything the suite created is gone, from the database and every array",
    "The suite deletes what it created, last first, even when checks fail, and nothing else; "
    f"where the driver has the optional {contract.OPTIONAL['get_inventory']}, the arrays hold "
    "after the run what they held before it (replicas on peers included)",
)
def cleanup(probe: Probe) -> None:
    env = probe.env
    probe.calls.append("undo every check's resources, then the run's")
    errors = env.finish()
    probe.expect(not errors, "every undo succeeded", "; ".join(errors))
    before = env.inventory_before
    if before is None or isinstance(before, str):
        return  # no inventory to compare (the report's clause says what that needs)
    probe.calls.append("get_inventory() before the run and now")
    after = env.inventory()
    probe.expect(not isinstance(after, str), "the arrays' holdings after the run", after)
    assert not isinstance(after, str)
    left = leftovers(before, after, env.volume_ids())
    probe.expect(not left, "every array as it was before the run", "; ".join(left))
