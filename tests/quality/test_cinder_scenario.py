"""The shipped cinder-host-failover scenario's checks catch a broken Cinder driver: the same
scenario, its backend's volume_driver swapped for examples/cinder_replicated.py's driver with one
bug (tests/support/cinder_drivers.py), fails the check whose business the bug is."""

from __future__ import annotations

from pathlib import Path

from support.cinder import require_cinder
from support.shipped import scenario, verdict

require_cinder()

from replisim.console import shipped  # noqa: E402
from replisim.scenarios.checkers import CHECKERS, arrays_only  # noqa: E402
from replisim.scenarios.runner import RunResult, run_scenario  # noqa: E402
from replisim.scenarios.schema import load_scenario  # noqa: E402

NAME = "cinder-host-failover"
DRIVER = "examples.cinder_replicated.ReplicatedFakeDriver"


def _run_with(driver: str, tmp_path: Path) -> RunResult:
    """The shipped scenario, next to a copy of its config whose backend runs ``driver``."""
    source = shipped()[NAME]
    conf = (source.parent / f"{NAME}.conf").read_text(encoding="utf-8")
    assert DRIVER in conf
    (tmp_path / f"{NAME}.conf").write_text(conf.replace(DRIVER, driver), encoding="utf-8")
    copy = tmp_path / f"{NAME}.yaml"
    copy.write_text(source.read_text(encoding="utf-8"), encoding="utf-8")
    spec = load_scenario(copy)
    assert spec.topology.unemulated() == {"replicated": driver}
    return run_scenario(spec)


def test_the_correct_driver_passes_and_the_array_checks_would_not_pass_on_nothing() -> None:
    result = run_scenario(scenario(NAME))
    assert result.ok is True, [v for v in result.verdicts if not v.ok]
    assert verdict(result, "host_actions")[0] is True  # the runbook's four steps did what they asked
    # the scenario leaves them out (the schema refuses them here); run anyway, they say unknown
    for check in arrays_only():
        found = CHECKERS[check](result.record)
        assert found.ok is None and found.summary.startswith("nothing to judge"), found


def test_a_driver_that_switches_then_raises_fails_converges(tmp_path: Path) -> None:
    """It believes itself failed over while its service ends in failover-error (so the failback is
    refused) and its volumes, never told, still say enabled: not what their service says."""
    result = _run_with("support.cinder_drivers.FailsOverThenRaises", tmp_path)
    ok, witness = verdict(result, "converges")
    assert ok is False, witness
    assert witness["replication_status"] == "enabled"
    assert witness["service"]["replication_status"] == "failover-error"
    assert result.ok is False


def test_a_driver_that_moves_its_volumes_to_its_target_fails_no_volume_lost(tmp_path: Path) -> None:
    result = _run_with("support.cinder_drivers.MovesVolumesToItsTarget", tmp_path)
    ok, witness = verdict(result, "no_volume_lost")
    assert ok is False, witness
    assert witness["host"] == "replisim@secondary#secondary"
    assert result.ok is False


def test_a_driver_that_refuses_the_failback_fails_host_actions(tmp_path: Path) -> None:
    """The backend stays failed over to 'secondary' after the operator's failback."""
    result = _run_with("support.cinder_drivers.RefusesFailback", tmp_path)
    ok, witness = verdict(result, "host_actions")
    assert ok is False, witness
    assert (witness["action"], witness["secondary"]) == ("failover_host", "default")
    assert witness["service"]["replication_status"] == "failed-over"
    assert witness["service"]["active_backend_id"] == "secondary"
    summary = next(v.summary for v in result.verdicts if v.check == "host_actions")
    assert summary.startswith(
        "failover_host replicated -> default at 30m: the service stayed failed-over (active secondary)"
    )
    assert "InvalidReplicationTarget" in summary
    assert result.ok is False


def test_a_driver_that_refuses_the_thaw_fails_host_actions(tmp_path: Path) -> None:
    result = _run_with("support.cinder_drivers.RefusesThaw", tmp_path)
    ok, witness = verdict(result, "host_actions")
    assert ok is False and witness["action"] == "thaw_host", witness
    assert witness["service"]["disabled"] is True
    assert [v.check for v in result.verdicts if not v.ok] == ["host_actions"]


def test_a_driver_that_switches_then_raises_fails_host_actions_too(tmp_path: Path) -> None:
    result = _run_with("support.cinder_drivers.FailsOverThenRaises", tmp_path)
    ok, witness = verdict(result, "host_actions")
    assert ok is False and (witness["action"], witness["secondary"]) == ("failover_host", "secondary")
    assert witness["service"]["replication_status"] == "failover-error"
