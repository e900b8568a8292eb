"""The conformance suite, checked against a zoo of correct drivers written in every legal style (each
must pass every check, on every profile) and a zoo of broken drivers (each must fail exactly the
checks named for its bug, whichever way its volumes are born), plus its gating, cleanup, reports,
command line and pytest plugin."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from support import TESTS
from support import conformance_zoo as zoo

from replisim.cli import main
from replisim.drivers.conformance import CHECKS, RunReport, load_target, run_suite
from replisim.drivers.conformance.checks import _signature_problem
from replisim.drivers.conformance.harness import CallTimedOut, Cleanup, Guard, inventory_problem, leftovers
from replisim.drivers.conformance.report import as_json, junit_xml, terminal
from replisim.drivers.emulated.fabric import Fabric

CHECK_IDS = [c.id for c in CHECKS]


def failed(report: RunReport) -> set[str]:
    return {o.check.id for o in report.outcomes if o.status == "failed"}


def outcome(report: RunReport, check_id: str) -> tuple[str, str]:
    found = next(o for o in report.outcomes if o.check.id == check_id)
    return found.status, found.reason


def run(tmp_path: Path, driver: str = zoo.REFERENCE, profile: str = "managed", **kwargs: object) -> RunReport:
    """One run on a fabric of its own (named after the test's directory)."""
    return run_suite(load_target(driver, str(zoo.config(tmp_path, profile, fabric=tmp_path.name))), **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def restore_sys_path(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The command line puts the current directory on sys.path; keep that out of other tests."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    yield


# -- positive control and the zoo -----------------------------------------------------------------


def test_the_emulated_driver_passes_every_check(tmp_path: Path) -> None:
    report = run(tmp_path)
    assert [(o.check.id, o.status) for o in report.outcomes] == [(i, "passed") for i in CHECK_IDS]
    assert report.exit_code == 0 and report.verdict == "PASS"
    assert report.capabilities == {
        "array-failure": None,
        "config-secrets": None,
        "groups": None,
        "replication": None,
        "volume-replication": None,
        "host-failover": None,
    }


def test_the_emulated_driver_passes_every_check_with_unmanaged_targets(tmp_path: Path) -> None:
    report = run(tmp_path, profile="unmanaged")
    assert failed(report) == set()


@pytest.mark.parametrize("profile", zoo.CORRECT_PROFILES)
@pytest.mark.parametrize("driver", zoo.CORRECT, ids=lambda cls: cls.__name__)
def test_every_correct_driver_passes_every_check(tmp_path: Path, driver: type, profile: str) -> None:
    """A FAIL must mean the driver is wrong: a driver that differs from the reference only in ways
    the contract allows passes everything, on managed and unmanaged targets, one or several."""
    path = zoo.path_of(driver)
    report = run_suite(load_target(path, str(zoo.config(tmp_path, profile, tmp_path.name, driver=path))))
    v21 = {c.id for c in CHECKS if "host-failover" in c.requires}
    skipped = v21 if driver is zoo.SeedEraOnly else set()  # a seed-era driver: V2.1 does not apply
    assert [(o.check.id, o.status, o.failure) for o in report.outcomes] == [
        (i, "skipped" if i in skipped else "passed", None) for i in CHECK_IDS
    ]


BROKEN = {**zoo.ZOO, **zoo.BORN_ENABLED_ZOO}


@pytest.mark.parametrize("driver", list(BROKEN), ids=lambda cls: cls.__name__)
def test_each_broken_driver_fails_exactly_the_checks_named_for_its_bug(tmp_path: Path, driver: type) -> None:
    report = run(tmp_path, f"support.conformance_zoo:{driver.__name__}")
    assert failed(report) == BROKEN[driver]
    assert report.exit_code == 1 and report.verdict == "FAIL"
    for o in report.outcomes:
        if o.status == "failed":  # every failure explains itself
            assert o.failure is not None and o.failure.expected and o.failure.observed and o.failure.call


def test_a_check_that_needs_a_disabled_volume_disables_one_born_enabled_first(tmp_path: Path) -> None:
    born = run(tmp_path, "support.conformance_zoo:BornEnabledEnableReturnsStatus")
    (enable,) = [o for o in born.outcomes if o.check.id == "REPL-ENABLE-001"]
    assert [call.partition("(")[0] for call in enable.calls] == [
        "create_volume",
        "replication_disable",
        "replication_enable",
    ]
    assert "replication_status='enabled'>" in enable.calls[1]  # it was born enabled
    text = terminal(born)
    assert "  After:    create_volume(volume=<volume conformance-" in text
    assert "; replication_disable(context=<admin context>, volume=<volume conformance-" in text
    plain = run(tmp_path, "support.conformance_zoo:EnableReturnsStatus")  # born disabled: no detour
    (enable,) = [o for o in plain.outcomes if o.check.id == "REPL-ENABLE-001"]
    assert [call.partition("(")[0] for call in enable.calls] == ["create_volume", "replication_enable"]


def test_through_the_api_a_volume_born_enabled_is_disabled_first_where_a_check_needs_it(
    tmp_path: Path,
) -> None:
    report = run(tmp_path, "support.conformance_zoo:BornEnabledBareErrorWhileArrayDown")
    (array,) = [o for o in report.outcomes if o.status == "failed"]
    assert array.check.id == "ERR-ARRAY-004"
    api = [call.partition("(")[0] for call in array.calls if call.startswith("API ")]
    assert api[:4] == [
        "API create_volume",
        "API create_volume",
        "API disable_replication",
        "API failover_replication",
    ]


def test_a_call_that_hangs_fails_its_check_naming_the_call_and_the_time_and_the_run_goes_on(
    tmp_path: Path,
) -> None:
    report = run(tmp_path, "support.conformance_zoo:HangsListingTargets", timeout=0.25)
    assert failed(report) == zoo.HANGS
    assert report.count("passed") == len(CHECK_IDS) - len(zoo.HANGS)  # every other check ran
    for o in report.outcomes:
        if o.status == "failed":
            assert o.failure is not None
            assert o.failure.expected == "an answer within 0.25 s (the per-call timeout)"
            assert "list_replication_targets(" in o.failure.call
            assert o.failure.observed.startswith("no answer within 0.25 s; the call was abandoned")
    through_api = next(o for o in report.outcomes if o.check.id == "REPL-TARGETS-012").failure
    assert through_api is not None and through_api.call.startswith(
        "[control plane] list_replication_targets("
    )


def test_a_hung_method_costs_one_timeout_per_driver_object_not_one_per_call() -> None:
    guard = Guard(0.05)
    release = threading.Event()
    owner = object()
    with pytest.raises(CallTimedOut):
        guard.call(owner, "list", "list()", release.wait)
    with pytest.raises(CallTimedOut, match="an earlier call to the same method of this driver object"):
        guard.call(owner, "list", "list()", lambda: 1)
    assert guard.call(owner, "stats", "stats()", lambda: 2) == 2  # other methods still answer
    assert guard.call(object(), "list", "list()", lambda: 3) == 3  # and other objects
    release.set()
    guard._hung[(id(owner), "list")].join()
    assert guard.call(owner, "list", "list()", lambda: 4) == 4  # once it ends, calls go through
    with pytest.raises(KeyError):  # a driver's exception reaches the caller as it was raised
        guard.call(owner, "list", "list()", lambda: dict[str, int]()["missing"])
    assert [t.call for t in guard.timeouts] == ["list()", "list()"]


def test_a_driver_that_cannot_be_set_up_blocks_the_checks_that_need_it(tmp_path: Path) -> None:
    report = run(tmp_path, "support.conformance_zoo:SetupFails")
    status, reason = outcome(report, "REPL-FAILOVER-003")
    assert status == "skipped" and reason.startswith("blocked: the driver could not be constructed")
    assert outcome(report, "VOL-CREATE-004")[1].startswith("blocked: the volume service did not come up")
    assert outcome(report, "INTF-METHODS-001")[0] == "passed"  # the class is still inspected


# -- capabilities -----------------------------------------------------------------------------------


def test_without_replication_the_replication_checks_are_skipped_saying_why(tmp_path: Path) -> None:
    report = run(tmp_path, profile="plain")
    skipped = {o.check.id: o.reason for o in report.outcomes if o.status == "skipped"}
    assert skipped["REPL-FAILOVER-003"] == "replication: get_volume_stats() reports replication_enabled=False"
    assert skipped["REPL-TARGETS-007"].startswith("config-secrets: ")
    assert "REPL-TARGETS-006" not in skipped  # not gated: every driver must answer for a plain volume
    assert report.exit_code == 0 and not failed(report)


def test_require_replication_turns_those_skips_into_failures(tmp_path: Path) -> None:
    report = run(tmp_path, profile="plain", require=("replication",))
    gated = {c.id for c in CHECKS if "replication" in c.requires}
    assert failed(report) == gated and len(gated) >= 12
    assert outcome(report, "REPL-TARGETS-007")[0] == "skipped"  # gated on another capability
    failure = next(o for o in report.outcomes if o.check.id == "REPL-ENABLE-001").failure
    assert failure is not None and "replication_enabled=False" in failure.observed
    assert report.exit_code == 1


def test_the_array_failure_check_needs_the_hook(tmp_path: Path) -> None:
    conf = tmp_path / "mem.conf"
    conf.write_text(
        zoo.PROFILES["managed"].replace(
            "replisim.drivers.emulated.EmulatedDriver", "support.memdriver.MemoryDriver"
        ),
        encoding="utf-8",
    )
    target = load_target("support.memdriver:MemoryDriver", str(conf))
    report = run_suite(target, select=("ERR-ARRAY",))
    assert outcome(report, "ERR-ARRAY-004") == (
        "skipped",
        "array-failure: the driver exposes no array crash/restart hook (the emulated driver does)",
    )
    assert (report.exit_code, report.verdict, report.executed) == (3, "NOTHING CHECKED", 0)
    required = run_suite(target, require=("array-failure",), select=("ERR-ARRAY",))
    assert failed(required) == {"ERR-ARRAY-004"} and required.exit_code == 1


# -- cleanup ----------------------------------------------------------------------------------------


def test_cleanup_runs_last_in_first_out_and_survives_a_failing_undo() -> None:
    done: list[str] = []
    cleanup = Cleanup()
    cleanup.push("type", lambda: done.append("type"))
    cleanup.push("volume-1", lambda: done.append("volume-1"))
    cleanup.push("volume-2", lambda: 1 / 0)
    cleanup.push("volume-3", lambda: done.append("volume-3"))
    cleanup.forget("volume-1")
    assert cleanup.run() == ["volume-2: ZeroDivisionError: division by zero"]
    assert done == ["volume-3", "type"] and cleanup.run() == []


def test_failing_checks_leave_nothing_behind_and_never_touch_foreign_volumes(tmp_path: Path) -> None:
    fabric = Fabric.named(tmp_path.name)
    fabric.create("alpha", "customer-volume", 10)
    fabric.enable("customer-volume", "alpha", "beta", "async")
    fabric.create("beta", "other-customer", 5)
    report = run(tmp_path, "support.conformance_zoo:LeaksPassword")  # fails checks, with volumes in use
    assert failed(report) and outcome(report, "HYG-CLEANUP-001")[0] == "passed"
    holdings = {name: {v: c.role for v, c in array.copies.items()} for name, array in fabric.arrays.items()}
    assert holdings == {
        "alpha": {"customer-volume": "primary"},
        "beta": {"customer-volume": "secondary", "other-customer": "primary"},
    }


def test_cleanup_failures_are_reported_not_swallowed(tmp_path: Path) -> None:
    report = run(tmp_path, "support.conformance_zoo:SetupFails")  # nothing to clean
    assert outcome(report, "HYG-CLEANUP-001")[0] == "passed"
    report = run(tmp_path, "support.conformance_zoo:UndeletableVolumes")
    hygiene = next(o for o in report.outcomes if o.check.id == "HYG-CLEANUP-001")
    assert hygiene.status == "failed" and hygiene.failure is not None
    assert "VOL-CREATE-001: conformance-" in hygiene.failure.observed
    assert "VolumeBackendAPIException" in hygiene.failure.observed
    assert "is still in the database" in hygiene.failure.observed  # volumes made through the API, too


def test_cleanup_looks_at_every_array_the_driver_reaches(tmp_path: Path) -> None:
    report = run(tmp_path, "support.conformance_zoo:LeavesReplicaOnDelete")
    # every undo "succeeded": only the arrays tell (the hygiene check, and the group delete's own)
    assert failed(report) == {"HYG-CLEANUP-001", "GRP-DELETE-006"}
    hygiene = next(o for o in report.outcomes if o.check.id == "HYG-CLEANUP-001").failure
    assert hygiene is not None and hygiene.call == "get_inventory() before the run and now"
    # the served copies went; the replicas stayed: on beta, and on alpha for the volumes a host
    # failover check left served from beta
    held = dict(part.split(" still holds ") for part in hygiene.observed.split("; "))
    assert set(held) <= {"array alpha", "array beta"} and "array beta" in held
    left = [v for volumes in held.values() for v in volumes.split(", ")]
    assert set(left) <= set(report.volume_ids) and len(left) >= 3
    assert len(left) == len(set(left))  # never both copies of one volume: the served one did go


def test_without_volume_ids_the_inventory_is_compared_by_count_and_usage() -> None:
    before: dict[str, dict[str, Any]] = {"a": {"volumes": 2, "used_gb": 3}, "b": {"volumes": 0, "used_gb": 0}}
    assert leftovers(before, {**before}, ["x"]) == []
    after = {**before, "b": {"volumes": 1, "used_gb": 1}}
    assert leftovers(before, after, ["x"]) == [
        "array b held 0 volume(s), 0 GiB before the run and 1, 1 GiB after"
    ]
    named: dict[str, dict[str, Any]] = {
        **before,
        "a": {"volumes": 3, "used_gb": 4, "volume_ids": ["foreign", "x"]},
    }
    assert leftovers(before, named, ["x", "y"]) == ["array a still holds x"]  # never counts foreign
    assert leftovers(before, {"a": before["a"]}, []) == ["array b is no longer in get_inventory()"]
    shape = "array 'a': expected {'volumes': n, 'used_gb': x, ...}"
    assert inventory_problem({"a": {"volumes": 1}}) == shape
    unknown = {"a": {"volumes": 1, "used_gb": 1, "ids": []}}
    assert inventory_problem(unknown) == "array 'a': unknown keys ['ids']"
    assert inventory_problem([]) is not None and inventory_problem(named) is None


def test_two_runs_in_a_row_share_no_volume_id(tmp_path: Path) -> None:
    """Ids the API hands out came from a fixed seed once: every run met the last one's leftovers."""
    first, second = run(tmp_path), run(tmp_path)
    for report in (first, second):
        api = [i for i in report.volume_ids if not i.startswith("conformance-")]
        assert len(api) >= 8 and len(set(report.volume_ids)) == len(report.volume_ids)
    assert first.run_id != second.run_id
    assert set(first.volume_ids).isdisjoint(second.volume_ids)


# -- the interface check ----------------------------------------------------------------------------


class Shapes:
    def positional(self, context, volume): ...
    def keyword_only(self, *, context, volume): ...
    def flexible(self, *args, **kwargs): ...

    @staticmethod
    def static(context, volume): ...

    @classmethod
    def klass(cls, context, volume): ...

    @property
    def attribute(self) -> int:
        return 1


class StatsWithDefault:
    def get_volume_stats(self, refresh=False): ...


class StatsWithoutDefault:
    def get_volume_stats(self, refresh): ...


def test_signatures_are_bound_both_ways_through_decorators() -> None:
    args = ("context", "volume")
    for name in ("positional", "flexible", "static", "klass"):
        assert _signature_problem(Shapes, name, args) is None, name
    problem = _signature_problem(Shapes, "keyword_only", args)
    assert problem is not None and "cannot be called as keyword_only(..., ...)" in problem
    assert _signature_problem(StatsWithDefault, "get_volume_stats", ("refresh",)) is None
    problem = _signature_problem(StatsWithoutDefault, "get_volume_stats", ("refresh",))
    assert problem is not None and "cannot be called as get_volume_stats()" in problem
    assert _signature_problem(Shapes, "missing", args) is None  # INTF-METHODS-001 reports it
    assert _signature_problem(Shapes, "__init__", ("configuration", "host")) is not None


# -- reports ----------------------------------------------------------------------------------------


def test_reports_say_the_same_and_never_show_a_secret(tmp_path: Path) -> None:
    report = run(tmp_path, "support.conformance_zoo:LeaksPassword")
    text, document, xml = terminal(report), json.loads(as_json(report)), junit_xml(report)
    for written in (text, json.dumps(document), xml):
        assert "alpha-s3cret" not in written and "beta-s3cret" not in written
    assert "'password': '***'" in text  # the leak is quoted, masked

    assert text.startswith(f"replisim conformance: FAIL  ({len(CHECK_IDS) - 2} passed, 2 failed in ")
    areas = [line.split(":")[0] for line in text.splitlines() if line and not line[0].isspace()]
    assert areas[1:9] == [
        "Interface",
        "Set-up",
        "Stats",
        "Volumes",
        "Replication",
        "Errors",
        "Groups",
        "Hygiene",
    ]
    failure = text.split("Failures\n--------\n")[1]
    assert failure.startswith("REPL-TARGETS-007 [driver] no secret from the config in list_replication_")
    for label in (
        "Clause:",
        "Call:     list_replication_targets(context=<admin context>, volume=<volume",
        "Expected: every credential masked",
        "Observed: 1 config secret(s)",
    ):
        assert label in failure

    assert [c["id"] for c in document["checks"]] == CHECK_IDS
    assert (document["verdict"], document["exit_code"], document["counts"]) == (
        "FAIL",
        1,
        {"passed": len(CHECK_IDS) - 2, "failed": 2, "skipped": 0},
    )
    leak = next(c for c in document["checks"] if c["id"] == "REPL-TARGETS-012")
    assert leak["outcome"] == "failed" and leak["call"].startswith("API list_replication_targets(")

    root = ET.fromstring(xml)
    (suite,) = root.findall("testsuite")
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == CHECK_IDS
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped"), suite.get("errors")) == (
        str(len(CHECK_IDS)),
        "2",
        "0",
        "0",
    )
    failures = {c.get("name"): c.find("failure") for c in cases if c.find("failure") is not None}
    assert set(failures) == {"REPL-TARGETS-007", "REPL-TARGETS-012"}
    assert "Observed:" in (failures["REPL-TARGETS-007"].text or "")  # type: ignore[union-attr]
    properties = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert properties["driver"] == "support.conformance_zoo:LeaksPassword"
    assert len(properties["config_sha256"] or "") == 64


def test_a_failure_through_cinder_shows_the_calls_and_what_the_control_plane_logged(tmp_path: Path) -> None:
    report = run(tmp_path, "support.conformance_zoo:BareErrorWhileArrayDown")
    (broken,) = [o for o in report.outcomes if o.status == "failed"]
    assert broken.failure is not None
    assert broken.failure.call.startswith("crash the array; API failover_replication(volume_id=")
    assert "driver bug, unexpected ConnectionError" in broken.failure.observed
    assert any("periodic stats failed" in line and "alpha is not reachable" in line for line in broken.log)
    assert len(set(broken.log)) == len(broken.log)  # repeats are counted, not repeated


def test_skips_appear_as_junit_skipped_with_the_reason(tmp_path: Path) -> None:
    suite = ET.fromstring(junit_xml(run(tmp_path, profile="plain"))).find("testsuite")
    assert suite is not None
    cases = suite.iter("testcase")
    skipped = {c.get("name"): c.find("skipped") for c in cases if c.find("skipped") is not None}
    assert int(suite.get("skipped") or 0) == len(skipped) > 10
    assert skipped["REPL-ENABLE-001"].get("message") == (  # type: ignore[union-attr]
        "replication: get_volume_stats() reports replication_enabled=False"
    )


# -- the command line -------------------------------------------------------------------------------


def cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["conformance", *args])
    return result.exit_code, result.output


def test_cli_exit_codes_and_report_files(tmp_path: Path, restore_sys_path: None) -> None:
    conf = str(zoo.config(tmp_path, fabric=tmp_path.name))
    junit, report = tmp_path / "out.xml", tmp_path / "out.json"
    code, out = cli(
        "--driver", zoo.REFERENCE, "--config", conf, "--junitxml", str(junit), "--json", str(report)
    )
    assert code == 0 and out.startswith("replisim conformance: PASS")
    assert ET.parse(junit).getroot().tag == "testsuites"
    assert json.loads(report.read_text())["verdict"] == "PASS"
    code, out = cli(
        "--driver", "support.conformance_zoo.MalformedFailoverHost", "--config", conf, "--backend", "alpha"
    )
    assert code == 1 and "REPL-FAILOVER-004 [driver]" in out
    plain = str(zoo.config(tmp_path, "plain", fabric=tmp_path.name))
    code, out = cli("--driver", zoo.REFERENCE, "--config", plain, "--check", "ERR-TARGET")
    assert code == 3 and "NOTHING CHECKED" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--driver", "no_such_vendor.driver:Driver"],
            "--driver 'no_such_vendor.driver:Driver': cannot import",
        ),
        (
            ["--driver", "support.conformance_zoo:NoSuchDriver"],
            "module 'support.conformance_zoo' has no attribute 'NoSuch",
        ),
        (["--backend", "gamma"], "--backend 'gamma': "),
        (["--require", "telepathy"], "--require telepathy: unknown capability; known: replication, array-"),
        (["--check", "NOPE"], "--check 'NOPE' matches no check ID; IDs start with ERR, GRP, HYG, INTF"),
        (["--timeout", "0"], "Invalid value for '--timeout': 0.0 is not in the range x>0"),
        (
            ["--json", "no/such/dir/report.json"],
            "--json no/such/dir/report.json: not a file in an existing dir",
        ),
    ],
)
def test_bad_input_exits_2_saying_what_and_where(
    tmp_path: Path, restore_sys_path: None, args: list[str], message: str
) -> None:
    conf = str(zoo.config(tmp_path, fabric=tmp_path.name))
    full = ["--driver", zoo.REFERENCE, "--config", conf, *args]
    code, out = cli(*full)
    assert code == 2 and message in out, out


def test_a_broken_config_names_file_line_and_key(tmp_path: Path, restore_sys_path: None) -> None:
    conf = tmp_path / "bad.conf"
    conf.write_text(
        "[DEFAULT]\nenabled_backends = alpha\n\n[alpha]\nvolume_driver = x.Y\n"
        "managed_replication_target = maybe\n",
        encoding="utf-8",
    )
    code, out = cli("--driver", zoo.REFERENCE, "--config", str(conf))
    assert code == 2
    assert f"{conf}:6: [alpha] managed_replication_target: 'maybe' is not a boolean" in out
    code, out = cli("--driver", zoo.REFERENCE, "--config", str(tmp_path / "missing.conf"))
    assert code == 2 and "missing.conf: cannot read configuration file" in out
    code, out = cli("--driver", zoo.REFERENCE)
    assert code == 2 and "--driver and --config are required" in out


def test_list_names_every_check_with_its_clause_and_gate() -> None:
    code, out = cli("--list")
    assert code == 0
    assert [line.split()[0] for line in out.splitlines() if not line.startswith(" ")] == CHECK_IDS
    assert "ERR-ARRAY-004          actors  an array failure" in out
    assert "(needs replication, volume-replication, array-failure)" in out


# -- the pytest plugin ------------------------------------------------------------------------------


def pytest_run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """pytest in a directory with no tests of its own, as a vendor's CI would call it."""
    env = {**os.environ, "PYTHONPATH": str(TESTS)}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rfs", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_pytest_plugin_runs_each_check_as_an_item_named_by_its_id(tmp_path: Path) -> None:
    conf = str(zoo.config(tmp_path, fabric=tmp_path.name))
    done = pytest_run(
        tmp_path,
        "--driver",
        "support.conformance_zoo:LeaksPassword",
        "--driver-config",
        conf,
        "--junitxml",
        "out.xml",
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"2 failed, {len(CHECK_IDS) - 2} passed" in done.stdout
    assert "FAILED replisim-conformance::REPL-TARGETS-007" in done.stdout
    assert "Observed: 1 config secret(s)" in done.stdout and "alpha-s3cret" not in done.stdout
    cases = ET.parse(tmp_path / "out.xml").getroot().iter("testcase")
    assert [c.get("name") for c in cases] == CHECK_IDS

    done = pytest_run(tmp_path, "--driver", zoo.REFERENCE, "--driver-config", conf, "-k", "REPL-FAILOVER")
    assert done.returncode == 0 and "3 passed" in done.stdout, done.stdout

    done = pytest_run(tmp_path, "--driver", "nowhere:Driver", "--driver-config", conf)
    assert done.returncode == 4 and "--driver 'nowhere:Driver': cannot import module" in done.stderr


def test_the_pytest_plugin_takes_the_per_call_timeout(tmp_path: Path) -> None:
    conf = str(zoo.config(tmp_path, fabric=tmp_path.name))
    args = ("--driver", "support.conformance_zoo:HangsListingTargets", "--driver-config", conf)
    done = pytest_run(tmp_path, *args, "--driver-timeout", "0.25", "-k", "REPL-TARGETS-006 or STATS")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "1 failed, 6 passed" in done.stdout  # the hang in REPL-TARGETS-006; the STATS checks pass
    assert "Observed: no answer within 0.25 s; the call was abandoned" in done.stdout
    done = pytest_run(tmp_path, *args, "--driver-timeout", "-1")
    assert done.returncode == 4 and "--driver-timeout -1: it must be above 0 seconds" in done.stderr
