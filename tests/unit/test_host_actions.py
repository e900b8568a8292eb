"""The host_actions check on hand-built records: a runbook whose every step reached what it asked
passes, and each way a step can fall short fails with its own message (the action, its time, the
backend and what the service showed instead); and the registry keeps it out of the default checks."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from replisim import exception
from replisim.drivers.emulated.fabric import Fabric
from replisim.scenarios.checkers import CHECKERS, HostAction, RunRecord, defaults
from replisim.scenarios.fuzz import draw_world
from replisim.scenarios.history import History, LogLine, ServiceChange
from replisim.scenarios.schema import ScenarioError, parse_scenario
from replisim.sim.errors import MessagingTimeout

HOST = "replisim@alpha"
# The runbook: freeze at 1m, fail over to beta at 2m, thaw at 5m, fail back at 10m.
RUNBOOK = (
    HostAction(60.0, "freeze_host", "alpha"),
    HostAction(120.0, "failover_host", "alpha", "beta"),
    HostAction(300.0, "thaw_host", "alpha"),
    HostAction(600.0, "failover_host", "alpha", "default"),
)


def state(
    time: float,
    replication_status: str = "enabled",
    active: str | None = None,
    *,
    frozen: bool = False,
    disabled: bool = False,
    reason: str | None = None,
    host: str = HOST,
) -> ServiceChange:
    return ServiceChange(time, host, "cinder-volume", replication_status, active, frozen, disabled, reason)


def dataclass_with(change: ServiceChange, **values: Any) -> ServiceChange:
    """``change`` with some of its state replaced (``active``: its active_backend_id)."""
    names = {"active": "active_backend_id"}
    return dataclasses.replace(change, **{names.get(k, k): v for k, v in values.items()})


# What a correct control plane and driver leave in the database for RUNBOOK.
GOOD = [
    state(0.5),
    state(60.01, frozen=True),
    state(60.08, frozen=True, disabled=True, reason="frozen"),
    state(120.01, "failing-over", frozen=True, disabled=True, reason="frozen"),
    state(123.0, "failed-over", "beta", frozen=True, disabled=True, reason="failed-over"),
    state(300.01, "failed-over", "beta", disabled=True, reason="failed-over"),
    state(300.1, "failed-over", "beta", reason=""),
    state(600.01, "failing-over", "beta", reason=""),
    state(605.0, "enabled", "", reason=""),
]


def sent(
    history: History,
    action: HostAction,
    *,
    error: BaseException | None = None,
    answer: Any = None,
    host: str = HOST,
) -> None:
    """The operator's calls for ``action``, as the workload makes them: the service list, then the action."""
    listed = history.invoke("admin", "list_services", {}, action.at, action.at)
    history.complete(listed, action.at + 0.002, value=[{"host": host, "binary": "cinder-volume"}])
    args: dict[str, Any] = {"host": host}
    if action.action == "failover_host":
        args["backend_id"] = action.secondary
    index = history.invoke("admin", action.action, args, action.at + 0.002, action.at)
    history.complete(index, action.at + 0.2, value=answer, error=error)


def record(
    changes: list[ServiceChange],
    *,
    actions: tuple[HostAction, ...] = RUNBOOK,
    history: History | None = None,
    log: list[LogLine] | None = None,
) -> RunRecord:
    if history is None:
        history = History()
        for action in actions:
            sent(history, action)
    return RunRecord(
        history,
        [],
        [],
        [],
        Fabric(clock=lambda: 0.0),
        {},
        (),
        service_changes=changes,
        host_actions=actions,
        manager_log=log or [],
    )


def judge(run: RunRecord) -> tuple[bool | None, str, Any]:
    verdict = CHECKERS["host_actions"](run)
    return verdict.ok, verdict.summary, verdict.witness


def test_a_runbook_whose_every_step_did_what_it_asked_passes() -> None:
    ok, summary, _ = judge(record(GOOD))
    assert ok is True, summary
    assert (
        summary == "4 host actions (1 freeze_host, 1 thaw_host, 2 failover_host), each reached what it asked"
    )


def test_a_failback_the_driver_refused_fails_naming_what_the_service_showed_and_the_reason() -> None:
    refused = [
        *GOOD[:-2],
        state(600.01, "failing-over", "beta", reason=""),
        state(601.0, "failed-over", "beta", reason=""),  # InvalidReplicationTarget: as it was
    ]
    said = (
        "replisim@alpha: error encountered during failover to default: InvalidReplicationTarget: no way back"
    )
    log = [
        LogLine(400.0, "ERROR", "replisim@alpha: periodic stats failed: not this one"),
        LogLine(601.0, "ERROR", said),
    ]
    ok, summary, witness = judge(record(refused, log=log))
    assert ok is False
    assert summary == (
        "failover_host alpha -> default at 10m: the service stayed failed-over (active beta); the "
        "manager logged: error encountered during failover to default: InvalidReplicationTarget: no way back"
    )
    assert witness["action"] == "failover_host" and witness["secondary"] == "default"
    assert witness["service"]["replication_status"] == "failed-over"
    assert witness["service"]["active_backend_id"] == "beta"
    assert witness["until"] is None and witness["reached"] is None and witness["api"] == {"outcome": "ok"}


def test_a_failover_that_landed_on_another_target_fails() -> None:
    elsewhere = [*GOOD[:4], *(dataclass_with(c, active="gamma") for c in GOOD[4:7])]
    ok, summary, witness = judge(record(elsewhere, actions=RUNBOOK[:3]))
    assert ok is False
    assert summary == (
        "failover_host alpha -> beta at 2m: the service showed failed-over (active gamma) at the end "
        "of the run"
    )
    assert witness["service"]["active_backend_id"] == "gamma"


def test_a_failover_to_the_drivers_choice_takes_any_target() -> None:
    choice = (RUNBOOK[0], HostAction(120.0, "failover_host", "alpha", None), *RUNBOOK[2:])
    elsewhere = [*GOOD[:4], *(dataclass_with(c, active="gamma") for c in GOOD[4:7]), *GOOD[7:]]
    assert judge(record(elsewhere, actions=choice))[0] is True


def test_a_failover_reached_then_lost_before_the_next_one_fails() -> None:
    lost = [*GOOD[:7], state(400.0, "failover-error", "beta", disabled=True, reason="")]
    ok, summary, witness = judge(record(lost, actions=RUNBOOK[:3]))
    assert ok is False
    assert summary == (
        "failover_host alpha -> beta at 2m: the service reached it at 123s but showed "
        "failover-error (active beta), disabled at the end of the run"
    )
    assert witness["reached"] == 123.0


def test_a_freeze_the_api_refused_says_so() -> None:
    history = History()
    sent(history, RUNBOOK[0], error=exception.VolumeBackendAPIException(data="freeze refused"))
    for action in RUNBOOK[1:]:
        sent(history, action)
    not_disabled = [GOOD[0], state(60.01, frozen=True), *(dataclass_with(c, frozen=True) for c in GOOD[3:5])]
    ok, summary, witness = judge(record(not_disabled, history=history, actions=RUNBOOK[:2]))
    assert ok is False
    assert summary.startswith("freeze_host alpha at 1m: the API refused it (VolumeBackendAPIException: ")
    assert summary.endswith(
        "freeze refused); the service showed enabled, frozen when failover_host alpha -> beta at 2m was sent"
    )
    assert witness["api"]["outcome"] == "fail" and "freeze refused" in witness["api"]["error"]
    assert witness["until"] == 120.002


def test_a_thaw_the_driver_refused_leaves_the_service_disabled_and_fails() -> None:
    history = History()
    for action in RUNBOOK:
        answer = (
            "Backend reported error during thaw_host operation." if action.action == "thaw_host" else None
        )
        sent(history, action, answer=answer)
    still_disabled = [*GOOD[:6], state(600.01, "failing-over", "beta", disabled=True, reason="failed-over")]
    log = [
        LogLine(300.05, "ERROR", "replisim@alpha: the driver failed to thaw, the service remains frozen: no")
    ]
    ok, summary, _ = judge(record(still_disabled, history=history, log=log))
    assert ok is False
    assert summary == (
        "thaw_host alpha at 5m: the API answered 'Backend reported error during thaw_host operation.'; "
        "the service showed failed-over (active beta), disabled (failed-over) when failover_host alpha "
        "-> default at 10m was sent; the manager logged: the driver failed to thaw, the service remains "
        "frozen: no"
    )


def test_a_call_that_timed_out_is_judged_by_the_service_and_says_its_outcome_was_unknown() -> None:
    history = History()
    sent(history, RUNBOOK[0], error=MessagingTimeout("no reply in 60 s"))
    ok, summary, witness = judge(record([GOOD[0]], history=history, actions=RUNBOOK[:1]))
    assert ok is False
    assert summary == (
        "freeze_host alpha at 1m: its outcome is unknown (the call MessagingTimeout: no reply in 60 s); "
        "the service stayed enabled"
    )
    assert witness["api"]["outcome"] == "info"
    # the same timeout, but the freeze happened: it passes
    assert judge(record(GOOD[:3], history=history, actions=RUNBOOK[:1]))[0] is True


def test_a_scheduled_action_never_sent_fails_saying_why() -> None:
    history = History()
    listed = history.invoke("admin", "list_services", {}, 60.0, 60.0)
    history.complete(listed, 60.1, error=exception.DBUnavailable(reason="database down"))
    ok, summary, witness = judge(record(GOOD, history=history, actions=RUNBOOK[:1]))
    assert ok is False
    assert summary.startswith(
        "freeze_host alpha at 1m: never sent: the API's service list, where the operator looks for its "
        "service, failed: DBUnavailable: "
    )
    assert witness == {
        "action": "freeze_host",
        "backend": "alpha",
        "secondary": None,
        "at": 60.0,
        "sent": False,
    }
    # listed, but without the backend's service
    history = History()
    listed = history.invoke("admin", "list_services", {}, 60.0, 60.0)
    history.complete(listed, 60.1, value=[])
    ok, summary, _ = judge(record(GOOD, history=history, actions=RUNBOOK[:1]))
    assert (ok, summary) == (
        False,
        "freeze_host alpha at 1m: never sent: the API's service list named no volume service of alpha",
    )


def test_a_policys_host_action_is_judged_too() -> None:
    history = History()
    reaction = HostAction(130.0, "failover_host", "alpha", "beta")
    sent(history, reaction)  # not scheduled: a policy took it
    ok, summary, _ = judge(record([GOOD[0]], history=history, actions=()))
    assert ok is False
    assert summary == "failover_host alpha -> beta at 130s: the service stayed enabled"


def test_nothing_to_do_passes_and_no_service_record_is_unknown() -> None:
    assert judge(record([], actions=())) == (True, "no host action scheduled or taken", None)
    ok, summary, _ = judge(record([], actions=RUNBOOK[:1]))
    assert ok is None and summary == "1 host actions, but the run recorded no volume service's state"


def test_another_backends_service_is_not_this_ones() -> None:
    other = [dataclasses.replace(c, host="replisim@beta") for c in GOOD]
    ok, summary, _ = judge(record([GOOD[0], *other], actions=RUNBOOK[:1]))
    assert ok is False and summary == "freeze_host alpha at 1m: the service stayed enabled"


# -- the registry: a check a scenario asks for by name ----------------------------------------------


def test_host_actions_is_registered_but_not_a_default_check() -> None:
    assert "host_actions" in CHECKERS and "host_actions" not in defaults()
    assert defaults() == tuple(name for name in CHECKERS if name != "host_actions")


def test_a_scenario_gets_it_only_by_naming_it(tmp_path: Path) -> None:
    base = "name: t\nduration: 1h\ntopology: {backends: {alpha: {}}}\n"
    assert "host_actions" not in parse_scenario(base, "t.yaml").checks
    assert parse_scenario(base + "checks: [liveness, host_actions]\n", "t.yaml").checks == (
        "liveness",
        "host_actions",
    )
    with pytest.raises(ScenarioError, match="host_actions"):  # the unknown-check error lists it
        parse_scenario(base + "checks: [host_action]\n", "t.yaml")


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_random_worlds_are_not_judged_by_it(seed: int) -> None:
    """Faults may legitimately defeat a runbook (its target array down), so no random world runs it."""
    assert "host_actions" not in draw_world(seed).checks
