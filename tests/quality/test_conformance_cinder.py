"""The conformance suite on unmodified Cinder 29 drivers (through replisim[cinder]): Cinder's own
fakes pass every check that applies, the per-volume V2 checks are skipped saying why (a Cinder
driver replicates by host failover and by group only), the group checks run where the Cinder class
replicates groups, and a Cinder driver's real bug is caught."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.cinder import EXAMPLE, FAKE, HA, REPLICATED, require_cinder

require_cinder()

from replisim.drivers import contract  # noqa: E402
from replisim.drivers.conformance import CHECKS, RunReport, load_target, run_suite  # noqa: E402
from replisim.drivers.conformance.checks import PER_VOLUME  # noqa: E402


def statuses(report: RunReport) -> dict[str, str]:
    return {o.check.id: o.status for o in report.outcomes}


@pytest.mark.parametrize(("driver", "backend"), [(FAKE, "fake"), (HA, "ha"), (REPLICATED, "replicated")])
def test_cinders_fake_drivers_pass_every_check_that_applies(driver: str, backend: str) -> None:
    report = run_suite(load_target(driver, str(EXAMPLE), backend))
    assert report.exit_code == 0, [(o.check.id, o.reason) for o in report.outcomes if o.status == "failed"]
    seen = statuses(report)
    per_volume = [c.id for c in CHECKS if set(PER_VOLUME) <= set(c.requires)]
    assert per_volume and all(seen[i] == "skipped" for i in per_volume)
    # everything that needs no per-volume action ran: interface, set-up, stats, volumes, hygiene
    ran = [c.id for c in CHECKS if not set(c.requires) & {"volume-replication", "config-secrets"}]
    groups = [c.id for c in CHECKS if "groups" in c.requires]
    assert groups
    if backend != "replicated":  # the stock fakes report replication per pool only (not the
        # backend's, for Cinder's manager) and have no failover_host; their group replication
        # methods are Cinder's own, but a group of replicated volumes has nowhere to live there
        gated = {"replication", "host-failover", "groups"}
        assert all(seen[i] == "skipped" for i in groups)
        ran = [i for i in ran if not gated & set(next(c for c in CHECKS if c.id == i).requires)]
    else:
        assert all(seen[c.id] == "passed" for c in CHECKS if "host-failover" in c.requires)
        assert {i: seen[i] for i in groups} == dict.fromkeys(groups, "passed")
    assert {i: seen[i] for i in ran} == dict.fromkeys(ran, "passed")


def test_a_cinder_driver_with_group_replication_runs_the_group_checks_through_the_adapter() -> None:
    """examples/cinder_replicated.py's group replication (Cinder's objects, Cinder's helpers)
    passes every group check; the same class with BaseVD's group methods claims none, so they skip
    saying what its stats report."""
    report = run_suite(load_target(REPLICATED, str(EXAMPLE), "replicated"), select=["GRP-"])
    assert report.exit_code == 0, [(o.check.id, o.reason) for o in report.outcomes if o.status == "failed"]
    assert statuses(report) == {c.id: "passed" for c in CHECKS if c.id.startswith("GRP-")}
    calls = "\n".join(c for o in report.outcomes if o.check.id == "GRP-FAILOVER-004" for c in o.calls)
    assert "failover_replication" in calls
    without = run_suite(load_target("support.cinder_drivers:NoGroupReplication", str(EXAMPLE), "replicated"))
    reasons = {o.check.id: (o.status, o.reason) for o in without.outcomes if o.check.id.startswith("GRP-")}
    assert reasons and all(
        s == "skipped" and "group_replication_enabled': None" in r for s, r in reasons.values()
    )


def test_a_replicating_cinder_driver_is_skipped_for_the_per_volume_actions_saying_why() -> None:
    report = run_suite(load_target(REPLICATED, str(EXAMPLE), "replicated"))
    reasons = {o.check.id: o.reason for o in report.outcomes}
    assert f"{contract.PER_VOLUME}=False" in reasons["REPL-FAILOVER-011"]
    assert statuses(report)["STATS-REPLICATION-005"] == "passed"
    assert statuses(report)["STATS-PER-VOLUME-006"] == "passed"
    required = run_suite(load_target(REPLICATED, str(EXAMPLE), "replicated"), require=["volume-replication"])
    assert required.exit_code == 1
    assert {o.check.id for o in required.outcomes if o.status == "failed"} == {
        c.id for c in CHECKS if "volume-replication" in c.requires
    }


def test_a_cinder_driver_born_disabled_cannot_be_failed_over_and_the_suite_says_why() -> None:
    report = run_suite(load_target("support.cinder_drivers:BornDisabled", str(EXAMPLE), "replicated"))
    host_checks = [c.id for c in CHECKS if "host-failover" in c.requires and c.id != "REPL-FREEZE-016"]
    assert host_checks
    for check_id in host_checks:
        outcome = next(o for o in report.outcomes if o.check.id == check_id)
        assert outcome.status == "skipped", (check_id, outcome.reason)
        assert "born replication_status='disabled' and the driver cannot enable it" in outcome.reason


def test_the_stock_fakes_fixed_backend_name_is_caught(tmp_path: Path) -> None:
    """Cinder's FakeLoggingVolumeDriver reports volume_backend_name 'fake' whatever its section
    says, so a type asking for the configured name finds no backend: the suite says exactly that."""
    config = tmp_path / "cinder.conf"
    config.write_text(
        f"[DEFAULT]\nenabled_backends = lvm\n[lvm]\nvolume_driver = {FAKE.replace(':', '.')}\n"
        "volume_backend_name = lvm\n"
    )
    report = run_suite(load_target(FAKE, str(config)))
    assert {i for i, s in statuses(report).items() if s == "failed"} == {
        "STATS-NAME-004",
        "VOL-CREATE-004",
        "VOL-DELETE-005",
    }
