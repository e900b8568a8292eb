"""Coverage: which fault kinds met which operations and statuses, counted from what the injector really
did, added up over runs, kept as plain data, and shown with the gaps visible."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from replisim.scenarios.coverage import Coverage
from replisim.scenarios.faults import Fault
from replisim.scenarios.history import History, Transition
from replisim.scenarios.injector import FaultEvent

LOSS, CRASH, LOSS_AGAIN = (
    Fault("bus.loss", "*", 10, 10),
    Fault("array.crash", "a", 15, 15),
    Fault("bus.loss", "*", 40),
)


def fake_run() -> Any:
    """bus.loss in [10, 20) and again from 40 to the end (100), array.crash in [15, 30)."""
    history = History()
    for time, f in [
        (5, "create_volume"),
        (12, "create_volume"),
        (16, "failover_replication"),
        (25, "get_volume"),
        (50, "get_volume"),
    ]:
        history.complete(history.invoke("p", f, {}, time), time + 1)
    events = [
        FaultEvent(10, "begin", LOSS),
        FaultEvent(15, "begin", CRASH),
        FaultEvent(20, "end", LOSS),
        FaultEvent(30, "end", CRASH),
        FaultEvent(40, "begin", LOSS_AGAIN),
    ]
    transitions = [
        Transition(16, "v", "enabled", "enabling_secondary"),
        Transition(17, "v", "enabling_secondary", "failed-over"),
        Transition(60, "w", None, "disabled"),
    ]
    record = SimpleNamespace(history=history, transitions=transitions)
    return SimpleNamespace(fault_events=events, record=record, simulated_seconds=100.0)


def test_one_run_counts_what_each_kind_met_while_it_was_active() -> None:
    coverage = Coverage.of(fake_run())
    assert coverage.runs == 1 and dict(coverage.kinds) == {"bus.loss": 1, "array.crash": 1}
    assert dict(coverage.ops) == {"create_volume": 2, "failover_replication": 1, "get_volume": 2}
    assert dict(coverage.met_ops) == {
        ("bus.loss", "create_volume"): 1,
        ("bus.loss", "failover_replication"): 1,
        ("array.crash", "failover_replication"): 1,
        ("array.crash", "get_volume"): 1,
        ("bus.loss", "get_volume"): 1,
    }
    assert dict(coverage.met_statuses) == {
        ("bus.loss", "enabling_secondary"): 1,
        ("array.crash", "enabling_secondary"): 1,
        ("bus.loss", "failed-over"): 1,
        ("array.crash", "failed-over"): 1,
        ("bus.loss", "disabled"): 1,
    }
    assert dict(coverage.transitions) == {
        ("enabled", "enabling_secondary"): 1,
        ("enabling_secondary", "failed-over"): 1,
        ("(new)", "disabled"): 1,
    }


def test_runs_add_up_and_survive_json() -> None:
    one = Coverage.of(fake_run())
    two = Coverage.total([one, one])
    assert two.runs == 2 and two.kinds["bus.loss"] == 2 and two.met_ops[("bus.loss", "get_volume")] == 2
    assert Coverage.from_json(two.to_json()) == two


def test_table_shows_kinds_never_met_and_legal_moves_never_taken() -> None:
    lines = Coverage.of(fake_run()).table(["array.crash", "bus.loss", "db.unavailable"])
    assert lines[1].split() == ["fault", "kind", "runs", "create", "failover", "get"]
    assert lines[2].split() == ["array.crash", "1", ".", "1", "1"]
    assert lines[3].split() == ["bus.loss", "1", "1", "1", "1"]
    assert lines[4].split() == ["db.unavailable", "0", ".", ".", "."]
    assert ["enabled", "->", "enabling_secondary", "1"] in [line.split() for line in lines]
    never = next(line for line in lines if "legal, never taken:" in line)
    assert "disabled -> enabling" in never and "enabled -> enabling_secondary" not in never
