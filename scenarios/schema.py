"""Scenario files: what a chaos run sets up, does and breaks, read from YAML into frozen values.

The loader checks everything it can before a run starts, so a mistake costs a second instead of a
run: each error names the file, the line and the key path, and suggests the nearest valid key.
The values are plain data, so a shrunk scenario can be written back as a file the user can run
(``scenario_to_yaml``) and random fault policies can be expanded into explicit faults
(``draw_faults``) from the run's seed.
"""

from __future__ import annotations

import math
import os
import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import yaml

from replisim.actors.config import BackendConfig, load_config
from replisim.actors.status import API_TOPIC, DRIVER_TOPIC, SCHEDULER_TOPIC, VOLUME_TOPIC
from replisim.drivers.contract import FAILBACK, live_only, load_driver
from replisim.drivers.emulated import EmulatedDriver
from replisim.exception import ConfigError
from replisim.scenarios._yaml import LocatedDict, LocatedList, YamlError, child, load_located
from replisim.scenarios.units import UnitError, format_duration, format_rate, parse_duration, parse_rate
from replisim.sim import schedule as schedules

from .checkers import CHECKERS, arrays_only, defaults
from .fault_policies import flip_flop_schedule, poisson_schedule
from .faults import KINDS, Fault, FaultSpecError, check_targets, parse_fault
from .hints import suggest

__all__ = [
    "ACTIONS",
    "HOST_ACTIONS",
    "POLICY_EVENTS",
    "SERVICE_TIMES",
    "AdminAction",
    "AdminPolicy",
    "BackendSpec",
    "BusSpec",
    "CreateLoad",
    "DeleteLoad",
    "FlipFlopPolicy",
    "LinkSpec",
    "PoissonPolicy",
    "RandomPolicy",
    "Scenario",
    "ScenarioError",
    "Topology",
    "Workload",
    "WriteLoad",
    "draw_faults",
    "load_scenario",
    "parse_scenario",
    "scenario_to_dict",
    "scenario_to_yaml",
]

ACTIONS = ("enable_replication", "disable_replication", "failover_replication")
# An operator's actions on a whole backend (Replication V2.1): its runbook is freeze, failover_host
# (secondary 'default' fails back), thaw.
HOST_ACTIONS = ("freeze_host", "failover_host", "thaw_host")
POLICY_EVENTS = ("array_down",)
# Median service time (seconds) of each array operation, unless a backend says otherwise.
WORKLOAD_TOPIC = "replisim-workload"  # where the clients' actor listens (bus faults may name it)
DAY = 86400.0
# Bounds that keep a run finite in time and bounded in memory; a value beyond one is refused before
# anything runs, naming the bound (the README lists them).
LIMITS: Mapping[str, float] = {
    "duration": 732 * DAY,  # two simulated years
    "heal": 30 * DAY,
    "report_interval": 1.0,  # at least a second, and the run lasts 2.5 intervals (clients wait two reports)
    "tenants": 10_000,
    "initial_volumes": 200_000,
    "rate": 100.0,  # creates or deletes per second
    "volumes": 1_000_000,  # initial volumes plus the creates the rate makes over the run
    "faults": 10_000,  # scheduled, or expected from a random policy
}
SERVICE_TIMES: Mapping[str, float] = {
    "create": 2.0,
    "delete": 1.0,
    "enable": 0.5,
    "disable": 0.5,
    "failover": 3.0,
    "stats": 0.05,
    "list": 0.1,
}
_NAME = re.compile(r"[a-z0-9-]+")
_BACKEND_NAME_FORBIDDEN = frozenset(" \t{}=,'\"@#")
_DEFAULT_REPORT: Mapping[str, bool] = {"plots": True, "html": True}


class ScenarioError(ValueError):
    """A scenario file is wrong: ``file:line: key.path: message``."""

    def __init__(self, file: str, line: int, key_path: str, message: str):
        self.file = file
        self.line = line
        self.key_path = key_path
        self.message = message
        where = f"{file}:{line}" if line > 0 else file
        super().__init__(f"{where}: {key_path}: {message}" if key_path else f"{where}: {message}")


# -- the values a scenario is made of -------------------------------------------------------------


@dataclass(frozen=True)
class BackendSpec:
    """One backend (a cinder.conf section) and the emulated array behind it; or, when ``driver`` is
    set (its ``topology.config`` section names a driver other than the emulated one, such as a
    Cinder driver), that driver with no emulated array behind it: the array fields then mean
    nothing, and the schema refuses array faults, links and array options aimed at it."""

    name: str
    array: str
    volume_backend_name: str
    capacity_gb: float = 10000.0
    provisioning: str = "thin"
    max_over_subscription_ratio: float = 20.0
    replication_targets: tuple[str, ...] = ()
    # unmanaged devices hold credentials: kept out of repr so they never reach a log
    replication_devices: tuple[Mapping[str, str], ...] = field(default=(), repr=False)
    replication_mode: str = "async"
    lag_threshold: float = 60.0
    service_times: Mapping[str, float] = field(default_factory=lambda: dict(SERVICE_TIMES))
    config: BackendConfig | None = None  # the cinder.conf section, when topology.config names one
    driver: str | None = None  # the section's own volume_driver, when it is not the emulated one

    @property
    def emulated(self) -> bool:
        """Whether an emulated array is behind it (the emulated driver runs it)."""
        return self.driver is None

    def device_arrays(self) -> tuple[str, ...]:
        """Unmanaged devices are emulated as arrays named by their ``backend_id``."""
        return tuple(device["backend_id"] for device in self.replication_devices)


@dataclass(frozen=True)
class LinkSpec:
    """A replication link from one array to another."""

    source: str
    target: str
    bandwidth_mbps: float = 100.0
    latency: float = 0.005

    @property
    def name(self) -> str:
        return f"{self.source}->{self.target}"


@dataclass(frozen=True)
class BusSpec:
    """The simulated message bus's latency and its background loss, duplication and reordering."""

    latency: float = 0.001
    loss: float = 0.0
    duplicate: float = 0.0
    reorder: float = 0.0


@dataclass(frozen=True)
class Topology:
    """Backends and the arrays, links and bus between them; ``config`` is the cinder.conf used."""

    backends: Mapping[str, BackendSpec]
    config: str | None = None
    links: tuple[LinkSpec, ...] = ()
    bus: BusSpec = field(default_factory=BusSpec)

    def arrays(self) -> tuple[str, ...]:
        """The emulated arrays: each emulated backend's, and its unmanaged devices'."""
        emulated = [b for b in self.backends.values() if b.emulated]
        names = {b.array for b in emulated}
        names.update(a for b in emulated for a in b.device_arrays())
        return tuple(sorted(names))

    def unemulated(self) -> dict[str, str]:
        """The backends that run their own driver, with no emulated array: name -> volume_driver."""
        return {name: b.driver for name, b in self.backends.items() if b.driver is not None}

    def arrayless(self, name: str) -> str | None:
        """Why ``name`` is no emulated array while a backend of this topology goes by it (the
        backend runs its own driver; or the name is such a backend's replication device), else None."""
        if name in self.arrays():
            return None
        for backend, spec in self.backends.items():
            if spec.driver is not None and name in (spec.array, *spec.device_arrays()):
                what = (
                    f"backend {backend!r}"
                    if name == spec.array
                    else f"{name!r}, a device of backend {backend!r},"
                )
                return (
                    f"{what} has no emulated array: {backend} runs its own driver ({spec.driver}, as "
                    "topology.config names it), and only emulated backends have arrays and links"
                )
        return None

    def link_names(self) -> tuple[str, ...]:
        """Declared links, plus both directions of every replication pair (failback ships back)."""
        names = {link.name for link in self.links}
        for backend in self.backends.values():
            if not backend.emulated:
                continue
            peers = [self.backends[t].array for t in backend.replication_targets if t in self.backends]
            for peer in [*peers, *backend.device_arrays()]:
                names.update((f"{backend.array}->{peer}", f"{peer}->{backend.array}"))
        return tuple(sorted(names))

    def fault_targets(self) -> dict[str, tuple[str, ...]]:
        """What a fault may hit, by target type (``FaultKind.target``); a bus fault's own patterns
        (``src->dst`` sides, partition groups) name ``actor`` entries."""
        return {
            "array": self.arrays(),
            "link": self.link_names(),
            "backend": tuple(sorted(self.backends)),
            "bus": ("*",),
            "db": ("db",),
            "actor": self.bus_patterns(),
        }

    def bus_patterns(self) -> tuple[str, ...]:
        """The address patterns a bus fault may name: every topic, and every actor as topic.server."""
        hosts = [
            b.config.host if b.config is not None and b.config.host else f"replisim@{name}"
            for name, b in sorted(self.backends.items())
        ]
        per_host = [f"{topic}.{host}" for topic in (VOLUME_TOPIC, DRIVER_TOPIC) for host in hosts]
        return (
            API_TOPIC,
            f"{API_TOPIC}.api",
            SCHEDULER_TOPIC,
            f"{SCHEDULER_TOPIC}.scheduler",
            VOLUME_TOPIC,
            DRIVER_TOPIC,
            *per_host,
            WORKLOAD_TOPIC,
            f"{WORKLOAD_TOPIC}.clients",
        )


@dataclass(frozen=True)
class CreateLoad:
    """Volume creations: Poisson arrivals, uniform sizes, types drawn by weight (none: untyped)."""

    rate: float = 0.0
    size_gb: tuple[int, int] = (1, 10)
    types: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class DeleteLoad:
    rate: float = 0.0


@dataclass(frozen=True)
class WriteLoad:
    """Write traffic on every available volume."""

    per_volume_rate: float = 0.0
    size_kb: int = 64


@dataclass(frozen=True)
class AdminAction:
    """An operator's replication action at a fixed time on a set of volumes, or (a host action) on
    one ``backend``."""

    at: float
    action: str
    volumes: str = "all"  # all | backend:<name> | type:<name>
    secondary: str | None = None
    backend: str | None = None  # host actions only


@dataclass(frozen=True)
class AdminPolicy:
    """An operator's reaction: ``action`` on ``backend``'s volumes ``after`` seconds past ``when``."""

    when: str
    backend: str
    action: str
    after: float = 0.0
    secondary: str | None = None


@dataclass(frozen=True)
class Workload:
    tenants: int = 1
    initial_volumes: int = 0
    create: CreateLoad = field(default_factory=CreateLoad)
    delete: DeleteLoad = field(default_factory=DeleteLoad)
    writes: WriteLoad = field(default_factory=WriteLoad)
    actions: tuple[AdminAction, ...] = ()
    policies: tuple[AdminPolicy, ...] = ()


@dataclass(frozen=True)
class PoissonPolicy:
    """Faults of ``kinds`` arriving at ``rate`` per second in ``[start, end)``, on random targets."""

    kinds: tuple[str, ...]
    rate: float
    start: float
    end: float
    scale: float = 10.0

    def draw(self, rng: random.Random, targets: Mapping[str, Sequence[str]]) -> list[Fault]:
        return poisson_schedule(
            rng,
            rate=self.rate,
            kinds=self.kinds,
            targets=targets,
            start=self.start,
            end=self.end,
            scale=self.scale,
        )


@dataclass(frozen=True)
class FlipFlopPolicy:
    """One fault switched on and off every ``interval`` seconds in ``[start, end)``."""

    kind: str
    target: str
    start: float
    end: float
    interval: float = 10.0
    params: Mapping[str, Any] = field(default_factory=dict)

    def draw(self, rng: random.Random, targets: Mapping[str, Sequence[str]]) -> list[Fault]:
        return flip_flop_schedule(
            self.kind, self.target, interval=self.interval, start=self.start, end=self.end, params=self.params
        )


RandomPolicy = PoissonPolicy | FlipFlopPolicy


@dataclass(frozen=True)
class Scenario:
    """A whole chaos run: topology, types, workload, faults in ``[0, duration)``, heal, checks."""

    name: str
    duration: float
    topology: Topology
    description: str = ""
    seed: int = 1
    schedule: str = schedules.DEFAULT  # how same-time events are ordered (``sim.schedule``)
    heal: float = 300.0
    report_interval: float = 10.0
    volume_types: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    workload: Workload = field(default_factory=Workload)
    faults: tuple[Fault, ...] = ()
    random_faults: tuple[RandomPolicy, ...] = ()
    checks: tuple[str, ...] = defaults()  # default: every registered check a scenario need not name
    report: Mapping[str, bool] = field(default_factory=lambda: dict(_DEFAULT_REPORT))
    source: str = "<scenario>"


def draw_faults(scenario: Scenario, seed: int) -> list[Fault]:
    """The explicit schedule plus the random policies drawn for ``seed``, sorted by start.

    Drawn from the run's ``faults`` stream alone, so the same seed gives the same list whatever the
    workload draws.
    """
    rng = random.Random(f"{seed}:faults")
    targets = scenario.topology.fault_targets()
    drawn = [fault for policy in scenario.random_faults for fault in policy.draw(rng, targets)]
    return sorted([*scenario.faults, *drawn], key=lambda fault: fault.start)


# -- reading ----------------------------------------------------------------------------------------


def _describe(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return f"the boolean {value}"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return f"the string {value!r}"
    return f"{type(value).__name__} {value!r}"


class _Reader:
    """Reads one file's data; each accessor takes the mapping, the key and the mapping's key path."""

    def __init__(self, source: str):
        self.source = source

    def fail(self, line: int, path: str, message: str) -> ScenarioError:
        return ScenarioError(self.source, line, path, message)

    def at(self, m: LocatedDict, key: str) -> int:
        return m.value_lines.get(key, m.key_lines.get(key, m.line))

    # -- structure

    def mapping(
        self,
        value: Any,
        line: int,
        path: str,
        allowed: Sequence[str] | None = None,
        required: Sequence[str] = (),
    ) -> LocatedDict:
        """``value`` as a mapping (nothing counts as empty), with unknown and missing keys reported."""
        if value is None:
            value = LocatedDict()
            value.line, value.key_lines, value.value_lines = line, {}, {}
        if not isinstance(value, LocatedDict):
            raise self.fail(line, path, f"must be a mapping of keys to values, got {_describe(value)}")
        if allowed is not None:
            for key in value:
                if key not in allowed:
                    raise self.fail(
                        value.key_lines[key],
                        child(path, key),
                        f"unknown key; valid keys here: {', '.join(allowed)}{suggest(key, allowed)}",
                    )
        for key in required:
            if value.get(key) is None:
                raise self.fail(value.key_lines.get(key, value.line), child(path, key), "is required")
        return value

    def sub(
        self,
        m: LocatedDict,
        key: str,
        path: str,
        allowed: Sequence[str] | None = None,
        required: Sequence[str] = (),
    ) -> LocatedDict:
        return self.mapping(m.get(key), self.at(m, key), child(path, key), allowed, required)

    def items(self, m: LocatedDict, key: str, path: str) -> list[tuple[Any, int, str]]:
        """The list under ``key`` as (item, line, key path); nothing counts as empty."""
        value = m.get(key)
        if value is None:
            return []
        if not isinstance(value, LocatedList):
            raise self.fail(self.at(m, key), child(path, key), f"must be a list, got {_describe(value)}")
        return [
            (item, line, child(child(path, key), index))
            for index, (item, line) in enumerate(zip(value, value.item_lines, strict=True))
        ]

    def entries(self, m: LocatedDict, key: str, path: str) -> list[tuple[Any, int, str]]:
        """The list under ``key``, each item a mapping, as (mapping, line, key path)."""
        return [
            (self.mapping(item, line, item_path), line, item_path)
            for item, line, item_path in self.items(m, key, path)
        ]

    # -- scalars

    def text(
        self,
        m: LocatedDict,
        key: str,
        path: str,
        default: str | None = None,
        choices: Sequence[str] | None = None,
    ) -> str:
        value = m.get(key)
        if value is None:
            if default is None:
                raise self.fail(m.key_lines.get(key, m.line), child(path, key), "is required")
            return default
        if not isinstance(value, str) or not value:
            raise self.fail(
                self.at(m, key), child(path, key), f"must be a non-empty string, got {_describe(value)}"
            )
        if choices is not None and value not in choices:
            raise self.fail(
                self.at(m, key),
                child(path, key),
                f"{value!r} is not one of {', '.join(choices)}{suggest(value, choices)}",
            )
        return value

    def number(
        self,
        m: LocatedDict,
        key: str,
        path: str,
        default: float,
        *,
        minimum: float = 0.0,
        maximum: float = math.inf,
        positive: bool = False,
    ) -> float:
        value = m.get(key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise self.fail(self.at(m, key), child(path, key), f"must be a number, got {_describe(value)}")
        if value < minimum or value > maximum or (positive and value <= 0):
            bound = (
                "greater than 0"
                if positive
                else (
                    f"between {minimum:g} and {maximum:g}" if maximum < math.inf else f"at least {minimum:g}"
                )
            )
            raise self.fail(self.at(m, key), child(path, key), f"must be {bound}, got {value!r}")
        return float(value)

    def integer(
        self,
        m: LocatedDict,
        key: str,
        path: str,
        default: int,
        *,
        minimum: int = 0,
        maximum: float = math.inf,
    ) -> int:
        value = m.get(key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(
                self.at(m, key), child(path, key), f"must be a whole number, got {_describe(value)}"
            )
        if value < minimum:
            raise self.fail(self.at(m, key), child(path, key), f"must be at least {minimum}, got {value}")
        if value > maximum:
            raise self.fail(
                self.at(m, key), child(path, key), f"must be at most {maximum:,.0f}, got {value:,}"
            )
        return value

    def boolean(self, m: LocatedDict, key: str, path: str, default: bool) -> bool:
        value = m.get(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise self.fail(
                self.at(m, key), child(path, key), f"must be true or false, got {_describe(value)}"
            )
        return value

    def duration(
        self,
        m: LocatedDict,
        key: str,
        path: str,
        default: float | None = None,
        *,
        positive: bool = False,
        minimum: float = 0.0,
        maximum: float = math.inf,
    ) -> float:
        value = m.get(key)
        if value is None:
            if default is None:
                raise self.fail(
                    m.key_lines.get(key, m.line), child(path, key), "is required (e.g. 90s, 15m, 1h)"
                )
            return default
        try:
            seconds = parse_duration(value)
        except UnitError as exc:
            raise self.fail(self.at(m, key), child(path, key), str(exc)) from None
        if positive and seconds <= 0:
            raise self.fail(self.at(m, key), child(path, key), f"must be longer than 0, got {value!r}")
        if seconds < minimum or seconds > maximum:
            bound = (
                f"at least {format_duration(minimum)}"
                if seconds < minimum
                else f"at most {format_duration(maximum)}"
            )
            raise self.fail(self.at(m, key), child(path, key), f"must be {bound}, got {value!r}")
        return seconds

    def rate(
        self,
        m: LocatedDict,
        key: str,
        path: str,
        default: float = 0.0,
        *,
        positive: bool = False,
        maximum: float = math.inf,
    ) -> float:
        value = m.get(key)
        if value is None:
            if positive:
                raise self.fail(m.key_lines.get(key, m.line), child(path, key), "is required (e.g. 1/10m)")
            return default
        try:
            per_second = parse_rate(value)
        except UnitError as exc:
            raise self.fail(self.at(m, key), child(path, key), str(exc)) from None
        if positive and per_second <= 0:
            raise self.fail(self.at(m, key), child(path, key), f"must be greater than 0, got {value!r}")
        if per_second > maximum:
            raise self.fail(
                self.at(m, key), child(path, key), f"must be at most {format_rate(maximum)}, got {value!r}"
            )
        return per_second

    def reference(self, m: LocatedDict, key: str, path: str, known: Sequence[str], what: str) -> str:
        """A name that must be one of ``known`` (a backend, a volume type...)."""
        name = self.text(m, key, path)
        if name not in known:
            raise self.fail(self.at(m, key), child(path, key), _unknown(what, name, known))
        return name


def _unknown(what: str, name: str, known: Sequence[str]) -> str:
    valid = ", ".join(sorted(known)) or "none"
    return f"unknown {what} {name!r}; known {what}s: {valid}{suggest(name, known)}"


_TOP = (
    "name",
    "description",
    "seed",
    "schedule",
    "duration",
    "heal",
    "report_interval",
    "topology",
    "volume_types",
    "workload",
    "faults",
    "checks",
    "report",
)
_BACKEND = (
    "array",
    "capacity_gb",
    "provisioning",
    "max_over_subscription_ratio",
    "replication_targets",
    "replication_devices",
    "replication_mode",
    "lag_threshold",
    "service_times",
)
# The inline keys that set a backend's emulated array (a backend running its own driver has none).
ARRAY_KEYS = tuple(key for key in _BACKEND if key not in ("replication_targets", "replication_devices"))
_FAULT = ("kind", "target", "start", "duration", "params")
_POISSON = ("policy", "rate", "kinds", "scale", "start", "end")
_FLIP_FLOP = ("policy", "kind", "target", "interval", "params", "start", "end")
_TIME_PARAMS = tuple(sorted({p.name for kind in KINDS.values() for p in kind.params if p.type == "duration"}))


class _ScenarioReader(_Reader):
    """Reads the sections in the file's order of meaning: topology first, since the rest refers to it."""

    def scenario(self, data: Any) -> Scenario:
        if data is None:
            raise self.fail(1, "", "the file is empty; a scenario needs at least name, duration and topology")
        top = self.mapping(data, 1, "", _TOP, required=("name", "duration", "topology"))
        name = self.text(top, "name", "")
        if not _NAME.fullmatch(name):
            raise self.fail(
                self.at(top, "name"), "name", f"{name!r} must be lower-case letters, digits and '-' only"
            )
        seed = top.get("seed", 1)
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise self.fail(self.at(top, "seed"), "seed", f"must be a whole number, got {_describe(seed)}")
        try:
            schedule = schedules.parse(top.get("schedule", schedules.DEFAULT))
        except ValueError as exc:
            raise self.fail(self.at(top, "schedule"), "schedule", str(exc)) from None
        duration = self.duration(top, "duration", "", positive=True, maximum=LIMITS["duration"])
        topology = self.topology(self.sub(top, "topology", "", ("config", "backends", "links", "bus")))
        volume_types = self.volume_types(top, topology)
        faults, random_faults = self.faults(top, topology, duration)
        return Scenario(
            name=name,
            description=self.text(top, "description", "", default=""),
            seed=seed,
            schedule=schedule,
            duration=duration,
            heal=self.duration(top, "heal", "", 300.0, maximum=LIMITS["heal"]),
            report_interval=self.report_interval(top, duration),
            topology=topology,
            volume_types=volume_types,
            workload=self.workload(top, topology, volume_types, duration),
            faults=faults,
            random_faults=random_faults,
            checks=self.checks(top, topology),
            report=self.report(top),
            source=self.source,
        )

    def report_interval(self, top: LocatedDict, duration: float) -> float:
        interval = self.duration(top, "report_interval", "", 10.0, minimum=LIMITS["report_interval"])
        if 2.5 * interval >= duration:
            raise self.fail(
                self.at(top, "report_interval"),
                "report_interval",
                f"{format_duration(interval)} leaves the run ({format_duration(duration)}) no "
                "time: clients start after two reports, so the duration must exceed 2.5 "
                "intervals",
            )
        return interval

    # -- topology

    def topology(self, t: LocatedDict) -> Topology:
        path = "topology"
        if t.get("config") is None and t.get("backends") is None:
            raise self.fail(t.line, path, "needs config (a cinder.conf path) or backends (inline), or both")
        backends: dict[str, BackendSpec] = {}
        config_path = None
        if t.get("config") is not None:
            config_path, backends = self.config_file(t)
        inline = self.sub(t, "backends", path)
        names = [*backends, *(name for name in inline if name not in backends)]
        for name in inline:
            if not name or any(ch in _BACKEND_NAME_FORBIDDEN for ch in name):
                raise self.fail(
                    inline.key_lines[name],
                    child("topology.backends", name),
                    "a backend name must be non-empty without spaces, quotes, braces, '=', ',', '@' or '#'",
                )
            base = backends.get(name) or BackendSpec(name=name, array=name, volume_backend_name=name)
            backends[name] = self.backend(self.sub(inline, name, "topology.backends", _BACKEND), base, names)
        driven: dict[str, str] = {}
        for name, spec in backends.items():
            if spec.array in driven:
                line = inline.key_lines.get(name, t.line)
                raise self.fail(
                    line,
                    child("topology.backends", name),
                    f"array {spec.array!r} is already driven by backend {driven[spec.array]!r}; "
                    "each backend drives an array of its own",
                )
            driven[spec.array] = name
        self.arrayless_targets(t, backends)
        topology = Topology(backends=backends, config=config_path)
        links = self.links(t, topology)
        bus_map = self.sub(t, "bus", path, ("latency", "loss", "duplicate", "reorder"))
        bus_path = "topology.bus"
        bus = BusSpec(
            latency=self.duration(bus_map, "latency", bus_path, BusSpec.latency),
            loss=self.number(bus_map, "loss", bus_path, 0.0, maximum=1.0),
            duplicate=self.number(bus_map, "duplicate", bus_path, 0.0, maximum=1.0),
            reorder=self.number(bus_map, "reorder", bus_path, 0.0, maximum=1.0),
        )
        return replace(topology, links=links, bus=bus)

    def config_file(self, t: LocatedDict) -> tuple[str, dict[str, BackendSpec]]:
        relative = self.text(t, "config", "topology")
        path = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(self.source)), relative))
        try:
            config = load_config(path)
            return path, {b.name: config_backend(b, own_driver(b)) for b in config.backends.values()}
        except ConfigError as exc:
            raise self.fail(self.at(t, "config"), "topology.config", str(exc)) from None
        except ValueError as exc:
            raise self.fail(self.at(t, "config"), "topology.config", f"{path}: {exc}") from None

    def backend(self, b: LocatedDict, base: BackendSpec, names: Sequence[str]) -> BackendSpec:
        path = child("topology.backends", base.name)
        if base.driver is not None:
            for key in ARRAY_KEYS:
                if key in b:
                    raise self.fail(
                        b.key_lines[key],
                        child(path, key),
                        f"{key} sets the emulated array, and backend {base.name!r} has none: it "
                        f"runs its own driver ({base.driver}, as topology.config names it); set "
                        "that driver's options in its section of the config file",
                    )
        targets: tuple[str, ...] = base.replication_targets
        devices: tuple[Mapping[str, str], ...] = base.replication_devices
        if "replication_targets" in b or "replication_devices" in b:  # inline replication replaces the file's
            targets = self.targets(b, path, base.name, names)
            devices = self.devices(b, path)
            if targets and devices:
                raise self.fail(
                    b.key_lines["replication_devices"],
                    child(path, "replication_devices"),
                    "give replication_targets (managed) or replication_devices (unmanaged), not "
                    "both: the Replication V2 seed forbids mixing them",
                )
        times = self.sub(b, "service_times", path, tuple(SERVICE_TIMES))
        times_path = child(path, "service_times")
        provisioning = self.text(b, "provisioning", path, base.provisioning, ("thin", "thick"))
        if provisioning == "thick" and "max_over_subscription_ratio" in b:
            key = "max_over_subscription_ratio"
            raise self.fail(b.key_lines[key], child(path, key), "only applies to thin provisioning")
        return replace(
            base,
            array=self.text(b, "array", path, base.array),
            capacity_gb=self.number(b, "capacity_gb", path, base.capacity_gb, positive=True),
            provisioning=provisioning,
            max_over_subscription_ratio=self.number(
                b, "max_over_subscription_ratio", path, base.max_over_subscription_ratio, minimum=1.0
            ),
            replication_targets=targets,
            replication_devices=devices,
            replication_mode=self.text(b, "replication_mode", path, base.replication_mode, ("async", "sync")),
            lag_threshold=self.duration(b, "lag_threshold", path, base.lag_threshold),
            service_times={
                op: self.duration(times, op, times_path, base.service_times[op]) for op in SERVICE_TIMES
            },
        )

    def targets(self, b: LocatedDict, path: str, name: str, names: Sequence[str]) -> tuple[str, ...]:
        found: list[str] = []
        for target, line, item_path in self.items(b, "replication_targets", path):
            if not isinstance(target, str):
                raise self.fail(line, item_path, f"must be a backend name, got {_describe(target)}")
            others = [other for other in names if other != name]
            if target == name:
                raise self.fail(line, item_path, f"backend {name!r} cannot replicate to itself")
            if target not in others:
                raise self.fail(line, item_path, _unknown("backend", target, others))
            if target in found:
                raise self.fail(line, item_path, f"{target!r} is listed twice")
            found.append(target)
        return tuple(found)

    def arrayless_targets(self, t: LocatedDict, backends: Mapping[str, BackendSpec]) -> None:
        """An emulated backend replicates array to array: a target with no emulated array (a
        backend running its own driver) cannot be one."""
        inline = t.get("backends")
        for name, spec in backends.items():
            for index, target in enumerate(spec.replication_targets):
                peer = backends.get(target)
                if not spec.emulated or peer is None or peer.emulated:
                    continue
                entry = inline.get(name) if isinstance(inline, LocatedDict) else None
                if isinstance(entry, LocatedDict) and "replication_targets" in entry:
                    items = entry["replication_targets"]
                    line = items.item_lines[index] if isinstance(items, LocatedList) else entry.line
                    key = child(child(child("topology.backends", name), "replication_targets"), index)
                else:
                    line, key = self.at(t, "config"), "topology.config"
                raise self.fail(
                    line,
                    key,
                    f"emulated backend {name!r} cannot replicate to {target!r}: {target} runs its own "
                    f"driver ({peer.driver}) and has no emulated array to hold the replicas",
                )

    def devices(self, b: LocatedDict, path: str) -> tuple[Mapping[str, str], ...]:
        devices: list[dict[str, str]] = []
        for device, _line, item_path in self.entries(b, "replication_devices", path):
            for key, value in device.items():
                if isinstance(value, bool | dict | list) or value is None:
                    raise self.fail(
                        self.at(device, key),
                        child(item_path, key),
                        f"must be a string or number, got {_describe(value)}",
                    )
            self.text(device, "backend_id", item_path)
            entry = {key: str(value) for key, value in device.items()}
            if any(entry["backend_id"] == other["backend_id"] for other in devices):
                raise self.fail(
                    self.at(device, "backend_id"),
                    child(item_path, "backend_id"),
                    f"backend_id {entry['backend_id']!r} is used by another device",
                )
            devices.append(entry)
        return tuple(devices)

    def links(self, t: LocatedDict, topology: Topology) -> tuple[LinkSpec, ...]:
        arrays = topology.arrays()
        links: list[LinkSpec] = []
        for link, line, item_path in self.entries(t, "links", "topology"):
            self.mapping(link, line, item_path, ("from", "to", "bandwidth_mbps", "latency"), ("from", "to"))
            for end in ("from", "to"):
                why = topology.arrayless(str(link.get(end)))
                if why is not None:
                    raise self.fail(
                        self.at(link, end), child(item_path, end), f"a link joins two arrays, and {why}"
                    )
            spec = LinkSpec(
                source=self.reference(link, "from", item_path, arrays, "array"),
                target=self.reference(link, "to", item_path, arrays, "array"),
                bandwidth_mbps=self.number(
                    link, "bandwidth_mbps", item_path, LinkSpec.bandwidth_mbps, positive=True
                ),
                latency=self.duration(link, "latency", item_path, LinkSpec.latency),
            )
            if spec.source == spec.target:
                raise self.fail(line, item_path, f"a link joins two different arrays, got {spec.name}")
            if any(spec.name == other.name for other in links):
                raise self.fail(line, item_path, f"link {spec.name} is declared twice")
            links.append(spec)
        return tuple(links)

    # -- volume types

    def volume_types(self, top: LocatedDict, topology: Topology) -> dict[str, dict[str, str]]:
        types = self.sub(top, "volume_types", "")
        backend_names = sorted({b.volume_backend_name for b in topology.backends.values()})
        out: dict[str, dict[str, str]] = {}
        for name in types:
            path = child("volume_types", name)
            specs = self.sub(types, name, "volume_types")
            out[name] = {}
            for key, value in specs.items():
                if isinstance(value, dict | list) or value is None:
                    raise self.fail(
                        self.at(specs, key),
                        child(path, key),
                        f"an extra spec is a string, got {_describe(value)}",
                    )
                out[name][key] = str(value)
            if "volume_backend_name" in out[name]:
                self.reference(specs, "volume_backend_name", path, backend_names, "volume_backend_name")
        return out

    # -- workload

    def workload(
        self, top: LocatedDict, topology: Topology, types: Mapping[str, Any], duration: float
    ) -> Workload:
        path = "workload"
        w = self.sub(
            top,
            "workload",
            "",
            ("tenants", "initial_volumes", "create", "delete", "writes", "actions", "policies"),
        )
        create = self.sub(w, "create", path, ("rate", "size_gb", "types"))
        delete = self.sub(w, "delete", path, ("rate",))
        writes = self.sub(w, "writes", path, ("per_volume_rate", "size_kb"))
        workload = Workload(
            tenants=self.integer(w, "tenants", path, 1, minimum=1, maximum=LIMITS["tenants"]),
            initial_volumes=self.integer(w, "initial_volumes", path, 0, maximum=LIMITS["initial_volumes"]),
            create=CreateLoad(
                rate=self.rate(create, "rate", "workload.create", maximum=LIMITS["rate"]),
                size_gb=self.size_range(create, "workload.create"),
                types=self.type_weights(create, tuple(types)),
            ),
            delete=DeleteLoad(rate=self.rate(delete, "rate", "workload.delete", maximum=LIMITS["rate"])),
            writes=WriteLoad(
                per_volume_rate=self.rate(writes, "per_volume_rate", "workload.writes"),
                size_kb=self.integer(writes, "size_kb", "workload.writes", WriteLoad.size_kb, minimum=1),
            ),
            actions=self.actions(w, topology, tuple(types), duration),
            policies=self.policies(w, topology),
        )
        volumes = workload.initial_volumes + workload.create.rate * duration
        if volumes > LIMITS["volumes"]:
            raise self.fail(
                self.at(create, "rate") if "rate" in create else w.line,
                "workload.create.rate",
                f"the run would create about {volumes:,.0f} volumes; at most "
                f"{LIMITS['volumes']:,.0f} (initial_volumes plus rate x duration)",
            )
        return workload

    def size_range(self, create: LocatedDict, path: str) -> tuple[int, int]:
        value = create.get("size_gb")
        line, key_path = self.at(create, "size_gb"), child(path, "size_gb")
        if value is None:
            return CreateLoad.size_gb
        bounds = [value] if isinstance(value, int) else value
        if (
            not isinstance(bounds, list)
            or len(bounds) not in (1, 2)
            or any(isinstance(v, bool) or not isinstance(v, int) for v in bounds)
        ):
            raise self.fail(
                line, key_path, f"must be a size in GiB or [smallest, largest], got {_describe(value)}"
            )
        low, high = bounds[0], bounds[-1]
        if low < 1 or high < low:
            raise self.fail(line, key_path, f"needs 1 <= smallest <= largest, got {value!r}")
        return (low, high)

    def type_weights(self, create: LocatedDict, known: Sequence[str]) -> dict[str, float]:
        path = "workload.create"
        weights = self.sub(create, "types", path)
        for name in weights:
            if name not in known:
                raise self.fail(
                    weights.key_lines[name],
                    child(child(path, "types"), name),
                    _unknown("volume type", name, known),
                )
        return {
            name: self.number(weights, name, child(path, "types"), 0.0, positive=True) for name in weights
        }

    def secondary(
        self, m: LocatedDict, path: str, action: str, topology: Topology, backend: str | None = None
    ) -> str | None:
        if m.get("secondary") is None:
            return None
        if action not in ("failover_replication", "failover_host"):
            raise self.fail(
                m.key_lines["secondary"],
                child(path, "secondary"),
                "only failover_replication and failover_host take a secondary",
            )
        if action == "failover_host" and backend is not None:
            spec = topology.backends[backend]
            targets = sorted({*spec.replication_targets, *spec.device_arrays()})
            name = self.text(m, "secondary", path)
            if name not in (*targets, FAILBACK):
                raise self.fail(
                    self.at(m, "secondary"),
                    child(path, "secondary"),
                    f"{name!r} is not a replication target of {backend}; its targets: "
                    f"{', '.join(targets) or 'none'}, or {FAILBACK!r} to fail back"
                    f"{suggest(name, (*targets, FAILBACK))}",
                )
            return name
        devices = [array for backend in topology.backends.values() for array in backend.device_arrays()]
        known = sorted({*topology.backends, *devices})
        return self.reference(m, "secondary", path, known, "replication target")

    def host_backend(self, m: LocatedDict, path: str, action: str, topology: Topology) -> str | None:
        """The backend a host action names (required), or None for a volume action (refused)."""
        if action not in HOST_ACTIONS:
            if "backend" in m:
                raise self.fail(
                    m.key_lines["backend"],
                    child(path, "backend"),
                    f"only the host actions ({', '.join(HOST_ACTIONS)}) take a backend; "
                    "a volume action takes volumes: backend:<name>",
                )
            return None
        if "volumes" in m:
            raise self.fail(
                m.key_lines["volumes"],
                child(path, "volumes"),
                f"{action} acts on a whole backend: give backend, not volumes",
            )
        return self.reference(m, "backend", path, tuple(topology.backends), "backend")

    def actions(
        self, w: LocatedDict, topology: Topology, types: Sequence[str], duration: float
    ) -> tuple[AdminAction, ...]:
        actions: list[AdminAction] = []
        for a, line, path in self.entries(w, "actions", "workload"):
            self.mapping(a, line, path, ("at", "action", "volumes", "secondary", "backend"), ("at", "action"))
            at = self.duration(a, "at", path)
            if at >= duration:
                raise self.fail(
                    self.at(a, "at"),
                    child(path, "at"),
                    f"must be before the end of the run's duration ({format_duration(duration)})",
                )
            action = self.text(a, "action", path, choices=(*ACTIONS, *HOST_ACTIONS))
            backend = self.host_backend(a, path, action, topology)
            actions.append(
                AdminAction(
                    at=at,
                    action=action,
                    volumes="all" if backend else self.selector(a, path, topology, types),
                    secondary=self.secondary(a, path, action, topology, backend),
                    backend=backend,
                )
            )
        return tuple(actions)

    def selector(self, a: LocatedDict, path: str, topology: Topology, types: Sequence[str]) -> str:
        value = self.text(a, "volumes", path, "all")
        kind, _, name = value.partition(":")
        line, key_path = self.at(a, "volumes"), child(path, "volumes")
        if value == "all":
            return value
        if kind == "backend" and name in topology.backends:
            return value
        if kind == "type" and name in types:
            return value
        if kind == "backend":
            raise self.fail(line, key_path, _unknown("backend", name, tuple(topology.backends)))
        if kind == "type":
            raise self.fail(line, key_path, _unknown("volume type", name, types))
        raise self.fail(line, key_path, f"{value!r} must be all, backend:<name> or type:<name>")

    def policies(self, w: LocatedDict, topology: Topology) -> tuple[AdminPolicy, ...]:
        policies: list[AdminPolicy] = []
        for p, line, path in self.entries(w, "policies", "workload"):
            self.mapping(
                p,
                line,
                path,
                ("when", "backend", "action", "after", "secondary"),
                ("when", "backend", "action"),
            )
            action = self.text(p, "action", path, choices=(*ACTIONS, *HOST_ACTIONS))
            backend = self.reference(p, "backend", path, tuple(topology.backends), "backend")
            policies.append(
                AdminPolicy(
                    when=self.text(p, "when", path, choices=POLICY_EVENTS),
                    backend=backend,
                    action=action,
                    after=self.duration(p, "after", path, 0.0),
                    secondary=self.secondary(p, path, action, topology, backend),
                )
            )
        return tuple(policies)

    # -- faults

    def faults(
        self, top: LocatedDict, topology: Topology, duration: float
    ) -> tuple[tuple[Fault, ...], tuple[RandomPolicy, ...]]:
        f = self.sub(top, "faults", "", ("schedule", "random"))
        targets = topology.fault_targets()
        entries = self.entries(f, "schedule", "faults")
        if len(entries) > LIMITS["faults"]:
            raise self.fail(
                self.at(f, "schedule"),
                "faults.schedule",
                f"{len(entries):,} faults; at most {LIMITS['faults']:,.0f}",
            )
        schedule = tuple(
            self.fault(entry, line, path, targets, duration, topology=topology)
            for entry, line, path in entries
        )
        policies = tuple(
            self.random_policy(entry, line, path, targets, duration, topology=topology)
            for entry, line, path in self.entries(f, "random", "faults")
        )
        return schedule, policies

    def fault(
        self,
        entry: LocatedDict,
        line: int,
        path: str,
        targets: Mapping[str, Sequence[str]],
        duration: float,
        *,
        topology: Topology,
    ) -> Fault:
        self.mapping(entry, line, path, _FAULT, ("kind",))
        spec: dict[str, Any] = dict(entry)
        spec["start"] = self.duration(entry, "start", path, 0.0)
        if entry.get("duration") is not None:
            spec["duration"] = self.duration(entry, "duration", path)
        spec["params"] = self.params(entry, path)
        fault = self.checked_fault(spec, entry, path, targets, topology)
        if fault.start >= duration or (fault.duration is not None and fault.end > duration):
            raise self.fail(
                line,
                path,
                f"{fault.describe()} must start and end within the run's duration "
                f"({format_duration(duration)}); the heal phase is fault-free",
            )
        return fault

    def params(self, entry: LocatedDict, path: str) -> dict[str, Any]:
        params = self.sub(entry, "params", path)
        out = {key: _plain(value) for key, value in params.items()}
        for key in _TIME_PARAMS:
            if isinstance(params.get(key), str):
                out[key] = self.duration(params, key, child(path, "params"))
        return out

    def checked_fault(
        self,
        spec: Mapping[str, Any],
        entry: LocatedDict,
        path: str,
        targets: Mapping[str, Sequence[str]],
        topology: Topology,
    ) -> Fault:
        """``parse_fault`` and ``check_targets``, their errors moved to the offending key's line."""
        try:
            fault = parse_fault(spec, where=path)
            kind = KINDS[fault.kind].target
            if kind in ("array", "link"):
                ends = fault.target.split("->") if kind == "link" else [fault.target]
                why = next((w for end in ends if (w := topology.arrayless(end.strip())) is not None), None)
                if why is not None:
                    raise FaultSpecError(f"{path}: {fault.kind} hits an emulated {kind}, and {why}", "target")
            check_targets([fault], targets)
        except FaultSpecError as exc:
            message = str(exc).split(": ", 1)[-1]
            key = exc.key or "params"
            line = entry.line
            params = entry.get("params")
            if key.startswith("params.") and isinstance(params, LocatedDict):
                line = self.at(params, key.removeprefix("params."))
            elif key in entry:
                line = self.at(entry, key)
            raise self.fail(line, child(path, key), message) from None
        return fault

    def random_policy(
        self,
        entry: LocatedDict,
        line: int,
        path: str,
        targets: Mapping[str, Sequence[str]],
        duration: float,
        *,
        topology: Topology,
    ) -> RandomPolicy:
        self.mapping(entry, line, path, None, ("policy",))
        policy = self.text(entry, "policy", path, choices=("poisson", "flip_flop"))
        self.mapping(entry, line, path, _POISSON if policy == "poisson" else _FLIP_FLOP)
        start = self.duration(entry, "start", path, 0.0)
        end = self.duration(entry, "end", path, duration)
        if not start < end <= duration:
            raise self.fail(
                line,
                path,
                f"needs 0 <= start < end <= duration ({format_duration(duration)}), "
                f"got start {format_duration(start)} and end {format_duration(end)}",
            )
        if policy == "flip_flop":
            spec = {"kind": entry.get("kind"), "start": start, "params": self.params(entry, path)}
            if entry.get("target") is not None:
                spec["target"] = entry["target"]
            fault = self.checked_fault(spec, entry, path, targets, topology)
            interval = self.duration(entry, "interval", path, 10.0, minimum=1.0)
            self.expected_faults(entry, "interval", path, (end - start) / (2 * interval))
            return FlipFlopPolicy(
                kind=fault.kind,
                target=fault.target,
                start=start,
                end=end,
                interval=interval,
                params=fault.params,
            )
        rate = self.rate(entry, "rate", path, positive=True)
        self.expected_faults(entry, "rate", path, rate * (end - start))
        return PoissonPolicy(
            kinds=self.poisson_kinds(entry, path, targets, topology),
            rate=rate,
            start=start,
            end=end,
            scale=self.number(entry, "scale", path, 10.0, positive=True),
        )

    def expected_faults(self, entry: LocatedDict, key: str, path: str, count: float) -> None:
        if count > LIMITS["faults"]:
            raise self.fail(
                self.at(entry, key),
                child(path, key),
                f"would draw about {count:,.0f} faults; at most {LIMITS['faults']:,.0f}",
            )

    def poisson_kinds(
        self, entry: LocatedDict, path: str, targets: Mapping[str, Sequence[str]], topology: Topology
    ) -> tuple[str, ...]:
        items = self.items(entry, "kinds", path)
        if not items:
            raise self.fail(
                self.at(entry, "kinds"), child(path, "kinds"), "needs a list of at least one fault kind"
            )
        kinds: list[str] = []
        for kind, line, item_path in items:
            if not isinstance(kind, str) or kind not in KINDS:
                raise self.fail(line, item_path, _unknown("fault kind", str(kind), tuple(KINDS)))
            spec = KINDS[kind]
            if spec.required:
                raise self.fail(
                    line,
                    item_path,
                    f"{kind} needs params.{spec.required[0]}, which a poisson policy cannot "
                    "draw; put it in faults.schedule or a flip_flop policy",
                )
            if spec.target in ("array", "link", "backend") and not targets.get(spec.target):
                own = topology.unemulated() if spec.target != "backend" else {}
                why = (
                    f" (only emulated backends have them; {', '.join(own)} run their own drivers)"
                    if own
                    else ""
                )
                raise self.fail(
                    line, item_path, f"{kind} hits a {spec.target}, and the topology has none{why}"
                )
            kinds.append(kind)
        return tuple(kinds)

    # -- checks and report

    def checks(self, top: LocatedDict, topology: Topology) -> tuple[str, ...]:
        # A world with no emulated array gives the checks that read only arrays nothing to judge.
        blind = arrays_only() if not topology.arrays() and topology.unemulated() else ()
        if top.get("checks") is None:
            return tuple(name for name in defaults() if name not in blind)
        checks: list[str] = []
        if not self.items(top, "checks", ""):
            raise self.fail(
                self.at(top, "checks"),
                "checks",
                f"needs at least one check (leave it out for the default ones: {', '.join(defaults())})",
            )
        for name, line, path in self.items(top, "checks", ""):
            if not isinstance(name, str) or name not in CHECKERS:
                raise self.fail(line, path, _unknown("check", str(name), tuple(CHECKERS)))
            if name in checks:
                raise self.fail(line, path, f"check {name!r} is listed twice")
            if name in blind:
                raise self.fail(
                    line,
                    path,
                    f"check {name!r} judges what the emulated arrays record, and this world has "
                    f"none: every backend runs its own driver ({', '.join(topology.unemulated())}); "
                    "leave it out",
                )
            checks.append(name)
        return tuple(checks)

    def report(self, top: LocatedDict) -> dict[str, bool]:
        r = self.sub(top, "report", "", tuple(_DEFAULT_REPORT))
        return {key: self.boolean(r, key, "report", default) for key, default in _DEFAULT_REPORT.items()}


# BackendSpec field -> the emulated driver's cinder.conf option that sets it.
CONF_OPTIONS: Mapping[str, str] = {
    "array": "emulated_array",
    "capacity_gb": "total_capacity_gb",
    "provisioning": "provisioning",
    "max_over_subscription_ratio": "max_over_subscription_ratio",
    "replication_mode": "replication_mode",
    "lag_threshold": "replication_lag_threshold",
}


def own_driver(config: BackendConfig) -> str | None:
    """The section's ``volume_driver`` when it is not the emulated driver (a backend that runs it
    has no emulated array), else None. The class is loaded as the run will load it
    (``contract.load_driver``), so a driver that cannot be (a Cinder driver without the
    ``replisim[cinder]`` extra) is a ``ValueError`` saying why, before anything runs."""
    try:
        cls = load_driver(config.volume_driver)
    except ValueError as exc:
        raise ValueError(f"[{config.name}] volume_driver = {config.volume_driver}: {exc}") from None
    if live_only(cls):
        raise ValueError(
            f"[{config.name}] volume_driver = {config.volume_driver}: this driver reaches real storage "
            "(processes, sockets, wall-clock time), so a simulated run could not replay from its seed; "
            "run it live (replisim serve, replisim conformance)"
        )
    return None if issubclass(cls, EmulatedDriver) else config.volume_driver


def config_backend(config: BackendConfig, driver: str | None = None) -> BackendSpec:
    """A backend as its cinder.conf section defines it (the emulated array's options as written,
    its defaults elsewhere); ``ValueError`` names the option whose value is not valid. With its own
    ``driver`` (see ``own_driver``) it has no emulated array: its options are that driver's, read
    by nothing here."""
    spec = BackendSpec(
        name=config.name,
        array=config.name,
        volume_backend_name=config.volume_backend_name,
        replication_targets=config.replication_targets,
        replication_devices=config.replication_devices,
        config=config,
        driver=driver,
    )
    if driver is not None:
        return spec
    options = config.options
    values: dict[str, Any] = {}
    for key, option in CONF_OPTIONS.items():
        text = options.get(option)
        if text in (None, ""):
            continue
        default = getattr(spec, key)
        if isinstance(default, str):
            choices = {"provisioning": ("thin", "thick"), "replication_mode": ("async", "sync")}.get(key)
            if choices and text.lower() not in choices:
                raise ValueError(f"[{config.name}] {option} = {text!r}: must be one of {', '.join(choices)}")
            values[key] = text.lower() if choices else text
        else:
            values[key] = _conf_number(config.name, option, text)
    times = dict(spec.service_times)
    for op in SERVICE_TIMES:
        text = options.get(f"service_time_{op}")
        if text not in (None, ""):
            times[op] = _conf_number(config.name, f"service_time_{op}", text)
    return replace(spec, **values, service_times=times)


def _conf_number(section: str, option: str, text: str) -> float:
    try:
        number = float(text)
    except ValueError:
        number = math.nan
    if not math.isfinite(number) or number < 0:
        raise ValueError(f"[{section}] {option} = {text!r}: must be a number of at least 0")
    return number


def parse_scenario(text: str, source: str = "<scenario>") -> Scenario:
    """Read a scenario from YAML text; ``source`` names it in errors and anchors ``topology.config``."""
    try:
        data = load_located(text)
    except YamlError as exc:
        raise ScenarioError(source, exc.line, exc.path, exc.message) from None
    return _ScenarioReader(source).scenario(data)


def load_scenario(path: str | os.PathLike[str]) -> Scenario:
    """Read and check a scenario file; every mistake is a ``ScenarioError`` naming file, line and key."""
    source = os.fspath(path)
    try:
        with open(source, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as exc:
        raise ScenarioError(source, 0, "", f"cannot read the scenario file: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise ScenarioError(source, 0, "", f"not UTF-8 text: {exc}") from None
    return parse_scenario(text, source)


# -- writing back --------------------------------------------------------------------------------


def _backend_to_dict(spec: BackendSpec) -> dict[str, Any]:
    """Only what differs from what the backend would be without an inline entry (defaults or the file)."""
    base = (
        config_backend(spec.config, spec.driver)
        if spec.config is not None
        else BackendSpec(name=spec.name, array=spec.name, volume_backend_name=spec.name)
    )
    out: dict[str, Any] = {}
    for key in ("array", "capacity_gb", "provisioning", "max_over_subscription_ratio", "replication_mode"):
        if getattr(spec, key) != getattr(base, key):
            out[key] = getattr(spec, key)
    replication = (spec.replication_targets, spec.replication_devices)
    if replication != (base.replication_targets, base.replication_devices):
        if spec.replication_devices:
            out["replication_devices"] = [dict(device) for device in spec.replication_devices]
        else:
            out["replication_targets"] = list(spec.replication_targets)
    if spec.lag_threshold != base.lag_threshold:
        out["lag_threshold"] = format_duration(spec.lag_threshold)
    times = {op: format_duration(t) for op, t in spec.service_times.items() if t != base.service_times[op]}
    if times:
        out["service_times"] = times
    return out


def _plain(value: Any) -> Any:
    """A fault parameter as plain YAML data: any mapping a dict, any sequence but text a list, so a
    parameter of any type (``bus.partition``'s groups of patterns, a loaded file's located lists) can be
    written back."""
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, str):
        return [_plain(item) for item in value]
    return value


def _fault_to_dict(fault: Fault) -> dict[str, Any]:
    out = fault.to_dict()
    if fault.params:
        out["params"] = _plain(fault.params)
    out["start"] = format_duration(fault.start)
    if fault.duration is not None:
        out["duration"] = format_duration(fault.duration)
    return out


def _policy_to_dict(policy: RandomPolicy) -> dict[str, Any]:
    window = {"start": format_duration(policy.start), "end": format_duration(policy.end)}
    if isinstance(policy, PoissonPolicy):
        return {
            "policy": "poisson",
            "rate": format_rate(policy.rate),
            "kinds": list(policy.kinds),
            "scale": policy.scale,
            **window,
        }
    out: dict[str, Any] = {
        "policy": "flip_flop",
        "kind": policy.kind,
        "target": policy.target,
        "interval": format_duration(policy.interval),
        **window,
    }
    if policy.params:
        out["params"] = _plain(policy.params)
    return out


def _workload_to_dict(w: Workload) -> dict[str, Any]:
    out: dict[str, Any] = {"tenants": w.tenants, "initial_volumes": w.initial_volumes}
    out["create"] = {"rate": format_rate(w.create.rate), "size_gb": list(w.create.size_gb)}
    if w.create.types:
        out["create"]["types"] = dict(w.create.types)
    out["delete"] = {"rate": format_rate(w.delete.rate)}
    out["writes"] = {"per_volume_rate": format_rate(w.writes.per_volume_rate), "size_kb": w.writes.size_kb}
    if w.actions:
        out["actions"] = [
            {
                "at": format_duration(a.at),
                "action": a.action,
                **({"backend": a.backend} if a.backend else {"volumes": a.volumes}),
                **({"secondary": a.secondary} if a.secondary else {}),
            }
            for a in w.actions
        ]
    if w.policies:
        out["policies"] = [
            {
                "when": p.when,
                "backend": p.backend,
                "action": p.action,
                "after": format_duration(p.after),
                **({"secondary": p.secondary} if p.secondary else {}),
            }
            for p in w.policies
        ]
    return out


def scenario_to_dict(scenario: Scenario) -> dict[str, Any]:
    """The scenario as the plain data of a file that loads back to an equal scenario."""
    topology = scenario.topology
    topo: dict[str, Any] = {}
    if topology.config is not None:
        topo["config"] = topology.config
    topo["backends"] = {name: _backend_to_dict(spec) for name, spec in topology.backends.items()}
    if topology.links:
        topo["links"] = [
            {
                "from": link.source,
                "to": link.target,
                "bandwidth_mbps": link.bandwidth_mbps,
                "latency": format_duration(link.latency),
            }
            for link in topology.links
        ]
    bus = topology.bus
    topo["bus"] = {
        "latency": format_duration(bus.latency),
        "loss": bus.loss,
        "duplicate": bus.duplicate,
        "reorder": bus.reorder,
    }
    out: dict[str, Any] = {"name": scenario.name}
    if scenario.description:
        out["description"] = scenario.description
    out.update(
        {
            "seed": scenario.seed,
            **({"schedule": scenario.schedule} if scenario.schedule != schedules.DEFAULT else {}),
            "duration": format_duration(scenario.duration),
            "heal": format_duration(scenario.heal),
            "report_interval": format_duration(scenario.report_interval),
            "topology": topo,
            "volume_types": {name: dict(specs) for name, specs in scenario.volume_types.items()},
            "workload": _workload_to_dict(scenario.workload),
        }
    )
    faults: dict[str, Any] = {}
    if scenario.faults:
        faults["schedule"] = [_fault_to_dict(fault) for fault in scenario.faults]
    if scenario.random_faults:
        faults["random"] = [_policy_to_dict(policy) for policy in scenario.random_faults]
    if faults:
        out["faults"] = faults
    out["checks"] = list(scenario.checks)
    out["report"] = dict(scenario.report)
    return out


class _Dumper(yaml.SafeDumper):
    """Double-quotes text holding Unicode line breaks: PyYAML's plain and single-quoted forms fold them."""


def _represent_text(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    style = '"' if any(ch in text for ch in "\x85\u2028\u2029") else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


_Dumper.add_representer(str, _represent_text)


def scenario_to_yaml(scenario: Scenario, comment: str = "") -> str:
    """A scenario file (``comment`` on top, as ``#`` lines) that loads back to an equal scenario."""
    header = "".join(f"# {line}".rstrip() + "\n" for line in comment.splitlines())
    return header + yaml.dump(
        scenario_to_dict(scenario),
        Dumper=_Dumper,
        sort_keys=False,
        allow_unicode=True,
        width=110,
        default_flow_style=None,
    )
