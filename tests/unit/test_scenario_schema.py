"""Scenario files: good files load to the right values, bad ones say file:line: key.path: what and
the nearest valid key, random faults expand deterministically, and a scenario written back loads equal."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support import DATA

from replisim.scenarios.checkers import CHECKERS, defaults
from replisim.scenarios.faults import Fault
from replisim.scenarios.schema import (
    LIMITS,
    AdminAction,
    BackendSpec,
    CreateLoad,
    FlipFlopPolicy,
    LinkSpec,
    PoissonPolicy,
    Scenario,
    ScenarioError,
    Topology,
    Workload,
    draw_faults,
    load_scenario,
    parse_scenario,
    scenario_to_yaml,
)
from replisim.scenarios.units import UnitError, format_duration, format_rate, parse_duration, parse_rate

# Each error case below edits one line of this file, so the expected line numbers stay put.
BASE = """\
name: t
duration: 1h
topology:
  backends:
    alpha: {replication_targets: [beta], capacity_gb: 100}
    beta: {}
volume_types:
  gold: {volume_backend_name: alpha}
workload:
  create: {rate: 1/m, types: {gold: 1}}
  actions:
    - {at: 10m, action: failover_replication, volumes: backend:alpha, secondary: beta}
faults:
  schedule:
    - {kind: array.crash, target: alpha, start: 20m, duration: 5m}
    - {kind: link.flap, target: alpha->beta, start: 25m, duration: 5m, params: {period: 20s}}
  random:
    - {policy: poisson, rate: 1/10m, kinds: [bus.loss]}
"""

CINDER_CONF = """\
[DEFAULT]
enabled_backends = backend-a, backend-b

[backend-a]
volume_driver = replisim.drivers.emulated.EmulatedDriver
volume_backend_name = gold
replication_devices = backend-b

[backend-b]
volume_driver = replisim.drivers.emulated.EmulatedDriver
"""


def write(tmp_path: Path, text: str, name: str = "scenario.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def edited(old: str, new: str) -> str:
    assert BASE.count(old) == 1, old
    return BASE.replace(old, new)


def expect_error(tmp_path: Path, text: str, line: int, key_path: str, *parts: str) -> ScenarioError:
    path = write(tmp_path, text)
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    error = info.value
    assert (error.file, error.line, error.key_path) == (str(path), line, key_path), str(error)
    assert str(error).startswith(f"{path}:{line}: {key_path}: " if key_path else f"{path}:{line}: ")
    for part in parts:
        assert part in error.message, (part, error.message)
    return error


# -- good files --------------------------------------------------------------------------------------


def test_full_example_loads_to_seconds_rates_and_references() -> None:
    scenario = load_scenario(DATA / "full.yaml")
    assert (scenario.name, scenario.seed) == ("primary-dies-async", 7)
    assert (scenario.duration, scenario.heal, scenario.report_interval) == (3600, 600, 10)
    alpha, beta, gamma = (scenario.topology.backends[name] for name in ("alpha", "beta", "gamma"))
    assert alpha.replication_targets == ("beta",)
    assert alpha.service_times["create"] == 2.0 and alpha.service_times["failover"] == 3.0
    assert alpha.service_times["list"] == 0.1  # not given: the default
    assert (beta.array, beta.provisioning, beta.capacity_gb) == ("beta-array", "thick", 10000.0)
    assert gamma.replication_devices == (
        {"backend_id": "dr1", "san_ip": "10.0.0.9", "san_login": "admin", "san_password": "hunter2-dr1"},
    )
    assert scenario.topology.links == (LinkSpec("alpha", "beta-array", 100.0, 0.005),)
    assert scenario.topology.bus.loss == 0.01 and scenario.topology.bus.latency == 0.001
    assert scenario.topology.arrays() == ("alpha", "beta-array", "dr1", "gamma")
    assert scenario.volume_types["replicated"] == {"replication": "enabled", "volume_backend_name": "alpha"}
    work = scenario.workload
    assert work.create == CreateLoad(rate=0.5, size_gb=(1, 100), types={"replicated": 3.0, "plain": 1.0})
    assert work.delete.rate == pytest.approx(0.1) and work.writes.per_volume_rate == 2.0
    assert work.actions[1] == AdminAction(1800.0, "failover_replication", "backend:alpha", "beta")
    assert work.policies[0].after == 30.0 and work.policies[0].backend == "alpha"
    assert scenario.faults[0] == Fault("array.crash", "alpha", 1200.0, 900.0)
    assert scenario.faults[1].params == {"period": 20}
    assert scenario.faults[2].target == "db"
    assert scenario.random_faults == (
        PoissonPolicy(kinds=("link.down", "bus.loss"), rate=1 / 600, start=0.0, end=3600.0, scale=10.0),
        FlipFlopPolicy(kind="link.down", target="alpha->beta-array", start=600.0, end=1200.0, interval=30.0),
    )
    assert scenario.checks == defaults()
    assert scenario.report == {"plots": True, "html": False}
    assert "hunter2" not in repr(scenario)


def test_minimal_file_gets_the_defaults(tmp_path: Path) -> None:
    scenario = load_scenario(write(tmp_path, "name: tiny\nduration: 90s\ntopology: {backends: {a: {}}}\n"))
    assert scenario == Scenario(
        name="tiny",
        duration=90.0,
        source=str(tmp_path / "scenario.yaml"),
        topology=Topology({"a": BackendSpec("a", "a", "a")}),
    )
    assert (scenario.seed, scenario.heal, scenario.report_interval) == (1, 300, 10)
    assert scenario.workload == Workload() and scenario.checks == defaults()


def test_config_file_backends_resolved_next_to_the_scenario_and_overridden_inline(tmp_path: Path) -> None:
    write(tmp_path, CINDER_CONF, "cinder.conf")
    (tmp_path / "scn").mkdir()
    path = write(
        tmp_path / "scn",
        """\
name: from-conf
duration: 10m
topology:
  config: ../cinder.conf
  backends:
    backend-a: {capacity_gb: 500, replication_mode: sync}
    extra: {replication_targets: [backend-a]}
volume_types:
  gold: {volume_backend_name: gold}
""",
    )
    scenario = load_scenario(path)
    backends = scenario.topology.backends
    assert scenario.topology.config == str(tmp_path / "cinder.conf")
    assert list(backends) == ["backend-a", "backend-b", "extra"]
    a = backends["backend-a"]
    assert (a.volume_backend_name, a.replication_targets, a.capacity_gb, a.replication_mode) == (
        "gold",
        ("backend-b",),
        500.0,
        "sync",
    )
    assert a.config is not None and a.config.host == "replisim@backend-a"
    assert backends["backend-b"].config is not None and backends["backend-b"].capacity_gb == 10000.0
    assert backends["extra"].config is None and backends["extra"].replication_targets == ("backend-a",)
    assert parse_scenario(scenario_to_yaml(scenario), str(path)) == scenario


def test_config_file_errors_keep_the_config_location(tmp_path: Path) -> None:
    write(
        tmp_path,
        CINDER_CONF.replace("replication_devices = backend-b", "replication_devices = backend-c"),
        "cinder.conf",
    )
    error = expect_error(
        tmp_path,
        "name: c\nduration: 1h\ntopology:\n  config: cinder.conf\n",
        4,
        "topology.config",
        "replication target 'backend-c' is not a configured backend",
    )
    assert f"{tmp_path / 'cinder.conf'}:7: [backend-a] replication_devices" in error.message


def test_missing_config_file(tmp_path: Path) -> None:
    expect_error(
        tmp_path,
        "name: c\nduration: 1h\ntopology: {config: nowhere.conf}\n",
        3,
        "topology.config",
        "nowhere.conf: cannot read configuration file",
    )


# -- every kind of mistake: file, line, key path, message ------------------------------------------

ERRORS: list[tuple[Any, ...]] = [
    # typos: the nearest valid key is suggested
    ("durration", ("duration: 1h", "durration: 1h"), 2, "durration", "did you mean 'duration'?"),
    (
        "nested typo",
        ("capacity_gb: 100", "capacity_gbb: 100"),
        5,
        "topology.backends.alpha.capacity_gbb",
        "valid keys here: array, capacity_gb",
        "(did you mean 'capacity_gb'?)",
    ),
    (
        "fault key typo",
        ("start: 20m, duration: 5m}", "start: 20m, duraton: 5m}"),
        15,
        "faults.schedule[0].duraton",
        "did you mean 'duration'?",
    ),
    (
        "policy key typo",
        ("kinds: [bus.loss]", "kinds: [bus.loss], ends: 1h"),
        18,
        "faults.random[0].ends",
        "did you mean 'end'?",
    ),
    # wrong types
    (
        "not a mapping",
        ("gold: {volume_backend_name: alpha}", "gold: [volume_backend_name]"),
        8,
        "volume_types.gold",
        "must be a mapping of keys to values, got a list",
    ),
    (
        "not a number",
        ("capacity_gb: 100", "capacity_gb: lots"),
        5,
        "topology.backends.alpha.capacity_gb",
        "must be a number, got the string 'lots'",
    ),
    (
        "not a list",
        ("kinds: [bus.loss]", "kinds: bus.loss"),
        18,
        "faults.random[0].kinds",
        "must be a list, got the string 'bus.loss'",
    ),
    ("bad name", ("name: t", "name: My Scenario"), 1, "name", "lower-case letters, digits and '-'"),
    # units
    (
        "bad duration unit",
        ("duration: 1h", "duration: 10 minutes"),
        2,
        "duration",
        "'10 minutes' is not a duration",
        "ms, s, m, h, d, w",
    ),
    (
        "bad rate unit",
        ("rate: 1/m,", "rate: 1 per minute,"),
        10,
        "workload.create.rate",
        "'1 per minute' is not a rate",
        "0.5/s, 30/m, 1/10m",
    ),
    (
        "bad param duration",
        ("period: 20s", "period: 20 secs"),
        16,
        "faults.schedule[1].params.period",
        "is not a duration",
    ),
    # negative values
    (
        "negative duration",
        ("start: 20m, duration: 5m", "start: 20m, duration: -5m"),
        15,
        "faults.schedule[0].duration",
        "cannot be negative",
    ),
    ("negative rate", ("rate: 1/m,", "rate: -1/m,"), 10, "workload.create.rate", "cannot be negative"),
    ("zero duration", ("duration: 1h", "duration: 0s"), 2, "duration", "must be longer than 0"),
    (
        "negative number",
        ("capacity_gb: 100", "capacity_gb: -1"),
        5,
        "topology.backends.alpha.capacity_gb",
        "must be greater than 0",
    ),
    # references
    (
        "unknown target backend",
        ("[beta]", "[betta]"),
        5,
        "topology.backends.alpha.replication_targets[0]",
        "unknown backend 'betta'; known backends: beta",
        "(did you mean 'beta'?)",
    ),
    (
        "self target",
        ("[beta]", "[alpha]"),
        5,
        "topology.backends.alpha.replication_targets[0]",
        "cannot replicate to itself",
    ),
    (
        "unknown volume_backend_name",
        ("volume_backend_name: alpha}", "volume_backend_name: alfa}"),
        8,
        "volume_types.gold.volume_backend_name",
        "unknown volume_backend_name 'alfa'",
        "did you mean 'alpha'?",
    ),
    (
        "unknown type weight",
        ("types: {gold: 1}", "types: {golld: 1}"),
        10,
        "workload.create.types.golld",
        "unknown volume type 'golld'",
        "did you mean 'gold'?",
    ),
    (
        "unknown selector backend",
        ("volumes: backend:alpha", "volumes: backend:alpah"),
        12,
        "workload.actions[0].volumes",
        "unknown backend 'alpah'",
        "did you mean 'alpha'?",
    ),
    (
        "unknown secondary",
        ("secondary: beta}", "secondary: bet}"),
        12,
        "workload.actions[0].secondary",
        "unknown replication target 'bet'",
    ),
    (
        "secondary on enable",
        ("action: failover_replication", "action: enable_replication"),
        12,
        "workload.actions[0].secondary",
        "only failover_replication and failover_host take a secondary",
    ),
    (
        "host action on volumes",
        ("action: failover_replication", "action: failover_host"),
        12,
        "workload.actions[0].volumes",
        "failover_host acts on a whole backend: give backend, not volumes",
    ),
    (
        "host action without a backend",
        ("action: failover_replication, volumes: backend:alpha,", "action: freeze_host,"),
        12,
        "workload.actions[0].backend",
        "is required",
    ),
    (
        "host failover to a backend that is not a target",
        (
            "action: failover_replication, volumes: backend:alpha, secondary: beta",
            "action: failover_host, backend: beta, secondary: alpha",
        ),
        12,
        "workload.actions[0].secondary",
        "'alpha' is not a replication target of beta; its targets: none, or 'default' to fail back",
    ),
    (
        "unknown host backend",
        (
            "action: failover_replication, volumes: backend:alpha, secondary: beta",
            "action: thaw_host, backend: alfa",
        ),
        12,
        "workload.actions[0].backend",
        "unknown backend 'alfa'",
        "did you mean 'alpha'?",
    ),
    (
        "backend on a volume action",
        ("volumes: backend:alpha, secondary: beta", "backend: alpha"),
        12,
        "workload.actions[0].backend",
        "only the host actions (freeze_host, failover_host, thaw_host) take a backend",
    ),
    (
        "unknown action",
        ("action: failover_replication", "action: failover_replicaton"),
        12,
        "workload.actions[0].action",
        "'failover_replicaton' is not one of enable_replication",
        "did you mean 'failover_replication'?",
    ),
    ("action after the end", ("at: 10m", "at: 2h"), 12, "workload.actions[0].at", "before the end"),
    # faults
    (
        "unknown fault kind",
        ("kind: array.crash", "kind: array.crsh"),
        15,
        "faults.schedule[0].kind",
        "unknown fault kind 'array.crsh'",
        "did you mean 'array.crash'?",
    ),
    (
        "unknown fault target",
        ("target: alpha, start: 20m", "target: alpah, start: 20m"),
        15,
        "faults.schedule[0].target",
        "unknown array 'alpah'",
        "did you mean 'alpha'?",
    ),
    (
        "unknown link",
        ("target: alpha->beta, start: 25m", "target: beta->gamma, start: 25m"),
        16,
        "faults.schedule[1].target",
        "unknown link 'beta->gamma'",
        "known links: alpha->beta, beta->alpha",
    ),
    (
        "unknown fault param",
        ("{period: 20s}", "{perod: 20s}"),
        16,
        "faults.schedule[1].params.perod",
        "link.flap has no parameter 'perod'",
        "did you mean 'period'?",
    ),
    (
        "fault after the end",
        ("start: 20m, duration: 5m", "start: 58m, duration: 5m"),
        15,
        "faults.schedule[0]",
        "within the run's duration (1h)",
    ),
    (
        "unknown policy",
        ("policy: poisson", "policy: poison"),
        18,
        "faults.random[0].policy",
        "did you mean 'poisson'?",
    ),
    (
        "poisson kind needing params",
        ("kinds: [bus.loss]", "kinds: [driver.raise]"),
        18,
        "faults.random[0].kinds[0]",
        "driver.raise needs params.method",
    ),
    (
        "policy window",
        ("kinds: [bus.loss]", "kinds: [bus.loss], start: 30m, end: 10m"),
        18,
        "faults.random[0]",
        "start < end",
    ),
    # checks, structure, YAML itself
    (
        "unknown check",
        ("name: t\n", "name: t\nchecks: [liveness, split_brian]\n"),
        2,
        "checks[1]",
        "unknown check 'split_brian'",
        "did you mean 'split_brain'?",
    ),
    ("no checks", ("name: t\n", "name: t\nchecks: []\n"), 2, "checks", "needs at least one check"),
    (
        "duplicate key",
        ("    beta: {}\n", "    beta: {}\n    alpha: {}\n"),
        7,
        "topology.backends.alpha",
        "duplicate key (first given at line 5)",
    ),
    ("missing required", ("duration: 1h\n", ""), 1, "duration", "is required"),
    ("boolean key", ("name: t\n", "name: t\non: 1\n"), 2, "", "key True is not a string", "quote it"),
    ("invalid yaml", ("beta: {}", "beta: {"), 8, "", "not valid YAML", "(from line 6)"),
]


@pytest.mark.parametrize(
    ("change", "line", "key_path", "parts"),
    [(case[1], case[2], case[3], case[4:]) for case in ERRORS],
    ids=[case[0] for case in ERRORS],
)
def test_error_names_file_line_key_and_what_is_valid(
    tmp_path: Path, change: tuple[str, str], line: int, key_path: str, parts: tuple[str, ...]
) -> None:
    expect_error(tmp_path, edited(*change), line, key_path, *parts)


def test_base_file_is_valid(tmp_path: Path) -> None:
    scenario = load_scenario(write(tmp_path, BASE))
    assert [f.kind for f in scenario.faults] == ["array.crash", "link.flap"]
    assert scenario.faults[1].params == {"period": 20.0}


def test_empty_and_unreadable_files(tmp_path: Path) -> None:
    expect_error(tmp_path, "", 1, "", "the file is empty")
    with pytest.raises(ScenarioError) as info:
        load_scenario(tmp_path / "missing.yaml")
    missing = tmp_path / "missing.yaml"
    assert str(info.value) == f"{missing}: cannot read the scenario file: No such file or directory"


# -- random faults ------------------------------------------------------------------------------------


def test_draw_faults_is_deterministic_per_seed_and_sorted() -> None:
    scenario = load_scenario(DATA / "full.yaml")
    first = draw_faults(scenario, 3)
    assert first == draw_faults(scenario, 3)
    assert first != draw_faults(scenario, 4)
    assert [f.start for f in first] == sorted(f.start for f in first)
    assert all(fault in first for fault in scenario.faults)
    flips = [f for f in first if f.kind == "link.down" and f.duration == 30.0]
    assert [f.start for f in flips] == [600.0 + 60 * i for i in range(10)]
    drawn = [f for f in first if f not in scenario.faults and f not in flips]
    assert drawn, "a 1/10m Poisson policy over an hour draws something for seed 3"
    targets = scenario.topology.fault_targets()
    for fault in drawn:
        assert fault.kind in ("link.down", "bus.loss")
        assert 0 <= fault.start < fault.end <= 3600
        assert fault.target in (targets["link"] if fault.kind == "link.down" else ("*",))


# -- writing back, and properties ----------------------------------------------------------------------


def test_full_example_round_trips_through_yaml(tmp_path: Path) -> None:
    scenario = load_scenario(DATA / "full.yaml")
    text = scenario_to_yaml(scenario, comment="shrunk from seed 7\nrun it with replisim run")
    assert text.startswith("# shrunk from seed 7\n# run it with replisim run\nname: primary-dies-async\n")
    again = load_scenario(write(tmp_path, text))
    assert dataclasses.replace(again, source=scenario.source) == scenario


NESTED_PARAMS = """\
name: nested
duration: 1h
topology:
  backends:
    alpha: {}
faults:
  schedule:
    - {kind: bus.partition, start: 1m, duration: 5m, target: "*",
       params: {groups: [[cinder-api, replisim-workload], [cinder-volume]]}}
  random:
    - {policy: flip_flop, kind: bus.partition, target: "*", interval: 30s, start: 10m, end: 20m,
       params: {groups: [[cinder-volume], [cinder-driver]]}}
"""


def test_nested_fault_parameters_load_as_plain_data_and_write_back() -> None:
    # A partition's groups are lists of lists: the file's own (located) lists once could not be written,
    # so shrinking a failure that needed a partition crashed.
    scenario = parse_scenario(NESTED_PARAMS, "nested.yaml")
    groups = scenario.faults[0].params["groups"]
    assert type(groups) is list and all(type(group) is list for group in groups)
    assert parse_scenario(scenario_to_yaml(scenario), "nested.yaml") == scenario
    as_tuples = dataclasses.replace(
        scenario,
        faults=(
            dataclasses.replace(
                scenario.faults[0],
                params={"groups": (("cinder-api", "replisim-workload"), ("cinder-volume",))},
            ),
        ),
    )
    assert parse_scenario(scenario_to_yaml(as_tuples), "nested.yaml") == scenario


UNIT_STRINGS = st.sampled_from(["ms", "s", "m", "h", "d", "w"])


@settings(database=None, max_examples=200)
@given(st.floats(min_value=0, max_value=1e9, allow_nan=False))
def test_duration_formatting_round_trips(seconds: float) -> None:
    assert parse_duration(format_duration(seconds)) == seconds


@settings(database=None, max_examples=200)
@given(st.floats(min_value=0, max_value=1e6, allow_nan=False))
def test_rate_formatting_round_trips(per_second: float) -> None:
    assert parse_rate(format_rate(per_second)) == per_second


@settings(database=None)
@given(st.integers(min_value=0, max_value=10**6))
def test_units_agree_with_each_other(count: int) -> None:
    assert parse_duration(f"{count}m") == parse_duration(f"{count * 60}s") == parse_duration(count * 60)
    assert parse_duration(f"{count}h") == parse_duration(f"{count * 60}m")
    assert parse_duration(f"{count}w") == parse_duration(f"{count * 7}d")
    assert parse_duration(f"{count * 1000}ms") == pytest.approx(parse_duration(count))
    assert parse_rate(f"{count}/m") == pytest.approx(parse_rate(f"{count}/60s"))
    assert parse_rate(f"{count}/h") == pytest.approx(parse_rate(f"{count}/60m"))


@settings(database=None, max_examples=300)
@given(st.one_of(st.text(max_size=12), st.text(st.sampled_from("0123456789.-+/ emshdw"), max_size=10)))
def test_any_text_is_a_non_negative_value_or_a_unit_error(text: str) -> None:
    for parse in (parse_duration, parse_rate):
        try:
            value = parse(text)
        except UnitError as exc:
            assert repr(text) in str(exc)
        else:
            assert value >= 0 and math.isfinite(value)


# A generator of valid scenarios (inline topologies): written out and read back, each is unchanged.
NAMES = ("alpha", "beta", "gamma")
DURATIONS = st.one_of(st.integers(1, 10**6).map(float), st.floats(0.001, 1e6, allow_nan=False))


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    count = draw(st.integers(1, 3))
    names = NAMES[:count]
    backends = {}
    for name in names:
        others = [other for other in names if other != name]
        backends[name] = BackendSpec(
            name=name,
            array=draw(st.sampled_from([name, f"{name}-array"])),
            volume_backend_name=name,
            capacity_gb=draw(st.floats(1, 1e6)),
            replication_targets=tuple(
                draw(st.lists(st.sampled_from(others), unique=True, max_size=len(others)))
            )
            if others
            else (),
            replication_mode=draw(st.sampled_from(["async", "sync"])),
            lag_threshold=draw(DURATIONS),
            service_times={**BackendSpec("x", "x", "x").service_times, "create": draw(DURATIONS)},
        )
    topology = Topology(backends)
    duration = draw(st.floats(60, 1e5))
    types = {
        f"t{i}": ({"volume_backend_name": draw(st.sampled_from(names))} if draw(st.booleans()) else {})
        for i in range(draw(st.integers(0, 2)))
    }
    targets = topology.fault_targets()
    faults = []
    for _ in range(draw(st.integers(0, 4))):
        kind, target_type = draw(
            st.sampled_from(
                [
                    ("array.crash", "array"),
                    ("link.down", "link"),
                    ("bus.loss", "bus"),
                    ("manager.restart", "backend"),
                    ("db.unavailable", "db"),
                ]
            )
        )
        start = draw(st.floats(0, duration * 0.9))
        length = draw(st.one_of(st.none(), st.floats(0, duration - start)))
        if length is not None and start + length > duration:  # rounding
            length = None
        if targets[target_type]:
            faults.append(Fault(kind, draw(st.sampled_from(targets[target_type])), start, length))
    policies = []
    if draw(st.booleans()):
        rate = draw(st.floats(1e-4, LIMITS["faults"] / duration))  # within the bound on drawn faults
        policies.append(
            PoissonPolicy(
                kinds=("bus.loss",),
                rate=min(rate, 1.0),
                start=0.0,
                end=duration,
                scale=draw(st.floats(0.1, 100)),
            )
        )
    return Scenario(
        name=draw(st.from_regex(r"[a-z0-9-]{1,12}", fullmatch=True)),
        description=draw(st.text(max_size=20)),
        seed=draw(st.integers(0, 2**32)),
        duration=duration,
        heal=draw(DURATIONS),
        topology=topology,
        volume_types=types,
        workload=Workload(
            tenants=draw(st.integers(1, 50)),
            initial_volumes=draw(st.integers(0, 500)),
            create=CreateLoad(
                rate=draw(st.floats(0, 10)),
                size_gb=(1, draw(st.integers(1, 100))),
                types={name: draw(st.floats(0.1, 10)) for name in types},
            ),
            actions=tuple(
                AdminAction(
                    at=draw(st.floats(0, duration * 0.99)),
                    action="enable_replication",
                    volumes=draw(st.sampled_from(["all", *(f"backend:{n}" for n in names)])),
                )
                for _ in range(draw(st.integers(0, 2)))
            ),
        ),
        faults=tuple(faults),
        random_faults=tuple(policies),
        checks=tuple(draw(st.lists(st.sampled_from(list(CHECKERS)), unique=True, min_size=1))),
        report={"plots": draw(st.booleans()), "html": draw(st.booleans())},
    )


@settings(database=None, max_examples=60, deadline=None)
@given(scenarios())
def test_any_scenario_round_trips_through_yaml(scenario: Scenario) -> None:
    again = parse_scenario(scenario_to_yaml(scenario), scenario.source)
    assert again == scenario


BOUNDED = """\
name: bounded
duration: {duration}
report_interval: {interval}
topology:
  backends:
    alpha: {{replication_targets: [beta]{alpha_array}}}
    beta: {{}}
workload:
  initial_volumes: {initial}
  create: {{rate: {rate}}}
faults:
  schedule:
    - {{kind: {kind}, target: "{target}", start: 1m{params}}}
  random:
    - {{policy: poisson, rate: {poisson}, kinds: [bus.loss]}}
"""
FINE = {
    "duration": "1h",
    "interval": "10s",
    "alpha_array": "",
    "initial": 10,
    "rate": "1/m",
    "kind": "bus.loss",
    "target": "*",
    "params": "",
    "poisson": "1/10m",
}


def test_the_bounded_scenario_is_valid_as_written() -> None:
    assert parse_scenario(BOUNDED.format(**FINE)).workload.initial_volumes == 10


# Each: what changes, the key path the error names, and what it says. Before these bounds each was
# accepted and then crashed (exit 1, a traceback), ran for ever, or exhausted memory.
@pytest.mark.parametrize(
    ("change", "key", "says"),
    [
        ({"target": "cinder-volme->*"}, "faults.schedule[0].target", "matches no actor"),
        (
            {
                "kind": "bus.partition",
                "target": "*",
                "params": ", params: {groups: [[cinder-api], [nobody]]}",
            },
            "faults.schedule[0].params.groups",
            "'nobody' matches no actor",
        ),
        ({"target": "cinder-api"}, "faults.schedule[0].target", "'source->destination'"),
        ({"alpha_array": ", array: beta"}, "topology.backends.beta", "already driven by backend 'alpha'"),
        ({"interval": "30m"}, "report_interval", "no time"),
        ({"interval": "100ms"}, "report_interval", "at least 1s"),
        ({"duration": "3000d"}, "duration", "at most"),
        ({"initial": 10**9}, "workload.initial_volumes", "at most 200,000"),
        ({"rate": "1000/s"}, "workload.create.rate", "at most"),
        (
            {"duration": "700d", "rate": "50/s", "poisson": "1/d"},
            "workload.create.rate",
            "volumes; at most 1,000,000",
        ),
        ({"poisson": "10/s"}, "faults.random[0].rate", "faults; at most 10,000"),
        (
            {"kind": "link.flap", "target": "alpha->beta", "params": ", params: {period: 1ms}"},
            "faults.schedule[0].params.period",
            ">= 1",
        ),
    ],
)
def test_a_scenario_beyond_a_bound_is_refused_naming_the_key(
    change: dict[str, object], key: str, says: str
) -> None:
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(BOUNDED.format(**{**FINE, **change}), "bounded.yaml")
    assert caught.value.key_path == key and says in caught.value.message, str(caught.value)
    assert caught.value.line > 0


def test_a_sweep_of_too_many_seeds_is_refused() -> None:
    from replisim.scenarios.sweep import SweepError, parse_seeds

    with pytest.raises(SweepError, match="more than 100,000 seeds"):
        parse_seeds("1-1000000000")


# -- a backend that runs its own driver: no emulated array behind it -------------------------------

OWN_DRIVER_CONF = """\
[DEFAULT]
enabled_backends = alpha, mem

[alpha]
volume_driver = replisim.drivers.emulated.EmulatedDriver

[mem]
volume_driver = support.memdriver.MemoryDriver
managed_replication_target = false
replication_devices = {backend_id=far}
"""


def own_driver(tmp_path: Path, body: str, conf: str = OWN_DRIVER_CONF) -> str:
    write(tmp_path, conf, "cinder.conf")
    return "name: c\nduration: 1h\ntopology:\n  config: cinder.conf\n" + body


def test_a_config_backend_naming_another_driver_runs_it_with_no_array(tmp_path: Path) -> None:
    scenario = load_scenario(write(tmp_path, own_driver(tmp_path, "")))
    backends = scenario.topology.backends
    assert backends["alpha"].emulated and backends["alpha"].driver is None
    assert backends["mem"].driver == "support.memdriver.MemoryDriver" and not backends["mem"].emulated
    assert scenario.topology.unemulated() == {"mem": "support.memdriver.MemoryDriver"}
    assert scenario.topology.arrays() == ("alpha",)  # neither mem nor its device 'far'
    assert scenario.topology.link_names() == ()
    assert scenario.checks == defaults()  # alpha has an array: every default check has something to judge
    assert parse_scenario(scenario_to_yaml(scenario), scenario.source) == scenario


def test_an_emulated_array_option_for_a_backend_with_its_own_driver(tmp_path: Path) -> None:
    expect_error(
        tmp_path,
        own_driver(tmp_path, "  backends:\n    mem: {replication_mode: sync}\n"),
        6,
        "topology.backends.mem.replication_mode",
        "sets the emulated array, and backend 'mem' has none",
        "support.memdriver.MemoryDriver",
    )


def test_an_array_fault_on_a_backend_with_its_own_driver(tmp_path: Path) -> None:
    expect_error(
        tmp_path,
        own_driver(tmp_path, "faults:\n  schedule:\n    - {kind: array.crash, target: mem, start: 1m}\n"),
        7,
        "faults.schedule[0].target",
        "array.crash hits an emulated array, and backend 'mem' has no emulated array",
    )


def test_a_link_fault_to_the_device_of_a_backend_with_its_own_driver(tmp_path: Path) -> None:
    expect_error(
        tmp_path,
        own_driver(
            tmp_path, "faults:\n  random:\n    - {policy: flip_flop, kind: link.down, target: alpha->far}\n"
        ),
        7,
        "faults.random[0].target",
        "link.down hits an emulated link, and 'far', a device of backend 'mem', has no emulated array",
    )


def test_a_link_to_a_backend_with_its_own_driver(tmp_path: Path) -> None:
    expect_error(
        tmp_path,
        own_driver(tmp_path, "  links:\n    - {from: alpha, to: mem}\n"),
        6,
        "topology.links[0].to",
        "a link joins two arrays, and backend 'mem' has no emulated array",
    )


def test_an_emulated_backend_replicating_to_a_backend_with_its_own_driver(tmp_path: Path) -> None:
    expect_error(
        tmp_path,
        own_driver(tmp_path, "  backends:\n    alpha:\n      replication_targets: [mem]\n"),
        7,
        "topology.backends.alpha.replication_targets[0]",
        "emulated backend 'alpha' cannot replicate to 'mem'",
        "no emulated array to hold the replicas",
    )


def test_a_check_of_arrays_in_a_world_without_one(tmp_path: Path) -> None:
    conf = "[DEFAULT]\nenabled_backends = mem\n[mem]\nvolume_driver = support.memdriver.MemoryDriver\n"
    expect_error(
        tmp_path,
        own_driver(tmp_path, "checks: [liveness, no_orphans]\n", conf),
        5,
        "checks[1]",
        "check 'no_orphans' judges what the emulated arrays record, and this world has none",
    )
    expect_error(
        tmp_path,
        own_driver(
            tmp_path, "faults:\n  random:\n    - {policy: poisson, rate: 1/m, kinds: [array.pause]}\n", conf
        ),
        7,
        "faults.random[0].kinds[0]",
        "array.pause hits a array, and the topology has none (only emulated backends have them; "
        "mem run their own drivers)",
    )
    # left out, the checks are those that can judge something here
    scenario = load_scenario(write(tmp_path, own_driver(tmp_path, "", conf)))
    assert scenario.checks == tuple(c for c in defaults() if c not in ("data", "split_brain", "no_orphans"))


def test_a_driver_that_cannot_be_loaded_is_named_with_its_section(tmp_path: Path) -> None:
    conf = OWN_DRIVER_CONF.replace("support.memdriver.MemoryDriver", "support.nowhere.Driver")
    expect_error(
        tmp_path,
        own_driver(tmp_path, "", conf),
        4,
        "topology.config",
        "cinder.conf:8: [mem] volume_driver: unknown driver 'support.nowhere.Driver': "
        "cannot import module 'support.nowhere'",
    )
