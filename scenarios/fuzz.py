"""Random worlds: one seed draws a whole scenario nobody wrote, in the manner of FoundationDB's
simulation and TigerBeetle's VOPR.

``draw_world(seed)`` gives the same frozen ``Scenario`` a YAML file loads into: a topology (1-20
backends in pairs, chains, rings and fan-outs of up to four, sync and async, managed targets and
unmanaged devices with fake credentials, thin and thick pools, small capacities, random links and
bus), volume types, a workload, an operator (failover, failback, a named secondary, disable and
enable waves, reactive policies) and faults of every registered kind, overlapping and interleaved,
in a safety phase followed by a fault-free heal phase long enough to converge, and the schedule
that orders its same-time events (``sim.schedule``). Every draw comes from the world's own streams,
``random.Random(f"{seed}:world")`` and ``f"{seed}:schedule"``, so a seed names a world for good.
The schema is the judge of validity: every world written with ``scenario_to_yaml`` loads back equal.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from replisim.actors.status import API_TOPIC, DRIVER_TOPIC, SCHEDULER_TOPIC, VOLUME_TOPIC

from .faults import KINDS, Fault, Param
from .schema import (
    SERVICE_TIMES,
    AdminAction,
    AdminPolicy,
    BackendSpec,
    BusSpec,
    CreateLoad,
    DeleteLoad,
    FlipFlopPolicy,
    LinkSpec,
    PoissonPolicy,
    RandomPolicy,
    Scenario,
    Topology,
    Workload,
    WriteLoad,
)
from .workload import WORKLOAD

__all__ = ["PROFILES", "FuzzError", "KindSpec", "Profile", "draw_world", "fault_kinds", "world_source"]

SOURCE_PREFIX = "fuzz:"
# fmt: off
BACKEND_NAMES = ("alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa",
                 "lambda", "mu", "nu", "xi", "omicron", "pi", "rho", "sigma", "tau", "upsilon")
# fmt: on
MAX_FAN_OUT = 4
# Bus address patterns a bus fault may name: every topic the deployment and the workload listen on.
BUS_TOPICS = (API_TOPIC, SCHEDULER_TOPIC, VOLUME_TOPIC, DRIVER_TOPIC, WORKLOAD.topic)
REPORT_INTERVALS = (5.0, 10.0, 15.0, 20.0, 30.0)
# How often each replication shape is drawn for the next group of backends (plain ones less often).
_SHAPE_WEIGHTS: Mapping[str, float] = {
    "none": 0.5,
    "unmanaged": 1.0,
    "pair": 1.0,
    "ring": 1.0,
    "fan-out": 1.0,
    "chain": 1.0,
}


class FuzzError(ValueError):
    """The generator cannot draw a world: an unknown profile, or a fault kind it cannot fill in."""


@dataclass(frozen=True)
class Profile:
    """How big and how long the worlds of one profile are (ranges are inclusive)."""

    name: str
    backends: tuple[int, int]
    duration: tuple[float, float]  # the safety phase, seconds
    heal: tuple[float, float]
    initial_volumes: tuple[int, int]
    creates_per_minute: float  # at most
    faults: tuple[int, int]  # explicit faults (random policies come on top)
    actions: int  # operator actions, at most


HOST_FAILOVER_CHANCE = 0.25  # of a world with a replicating backend getting a host-failover runbook

PROFILES: Mapping[str, Profile] = {
    # small and fast, for CI: about a second a world
    "ci": Profile(
        "ci",
        backends=(1, 8),
        duration=(900.0, 2700.0),
        heal=(600.0, 1200.0),
        initial_volumes=(0, 30),
        creates_per_minute=2.0,
        faults=(2, 12),
        actions=5,
    ),
    # bigger and longer, for a night's sweep
    "deep": Profile(
        "deep",
        backends=(1, 20),
        duration=(1800.0, 10800.0),
        heal=(900.0, 1800.0),
        initial_volumes=(0, 120),
        creates_per_minute=6.0,
        faults=(5, 40),
        actions=10,
    ),
}


def world_source(profile: str) -> str:
    """The sweep source that names a profile's worlds: each seed draws its own (``fuzz:ci``)."""
    return f"{SOURCE_PREFIX}{profile}"


# -- the fault registry, read through one adapter ---------------------------------------------------


@dataclass(frozen=True)
class ParamRange:
    """How to draw one parameter: a number in ``[low, high]`` (log scale if ``log``), one of
    ``choices``, or (``groups``) two or three disjoint groups of bus address patterns."""

    low: float = 0.0
    high: float = 0.0
    log: bool = False
    choices: tuple[str, ...] = ()
    groups: bool = False


# How far past a parameter's default the generator explores where the registry sets no upper bound:
# this many times above it (and below it, but never under the registry's own lower bound).
REACH = 10.0
REACH_FROM_ZERO = 60.0  # a parameter whose default is 0 (a delay, in seconds) is drawn up to this


def _range(param: Param) -> ParamRange:
    """The registry's parameter spec as a range to draw from: within its bounds, and around its
    default where it has no upper bound."""
    if param.type == "choice":
        return ParamRange(choices=param.choices)
    if param.type == "groups":
        return ParamRange(groups=True)
    if param.high < math.inf:
        return ParamRange(param.low, param.high)
    default = float(param.default or 0.0)
    if default <= 0:
        return ParamRange(param.low, REACH_FROM_ZERO)
    low = max(param.low, default / REACH, 1e-3 if param.positive else 0.0)
    return ParamRange(low, default * REACH, log=low > 0)


@dataclass(frozen=True)
class KindSpec:
    """One fault kind as the generator sees it: what it hits and how to draw its parameters."""

    name: str
    target: str  # array | link | backend | bus | db
    params: Mapping[str, ParamRange]
    required: tuple[str, ...]

    @property
    def drawn_by_poisson(self) -> bool:
        """A poisson policy cannot fill in parameters, so it takes only kinds that need none."""
        return not self.required


DRAWABLE = ("number", "duration", "choice", "groups")  # the parameter types the generator draws


def fault_kinds() -> tuple[KindSpec, ...]:
    """Every registered fault kind, in the registry's order; a kind that needs a parameter the
    generator cannot draw is an error, so a new kind never silently goes untested."""
    kinds = []
    for name, kind in KINDS.items():
        params = {}
        for param in kind.params:
            if param.type not in DRAWABLE:
                if param.required:
                    raise FuzzError(
                        f"fault kind {name} needs params.{param.name} of type {param.type!r}, which the "
                        f"world generator cannot draw (it draws {', '.join(DRAWABLE)})"
                    )
                continue
            params[param.name] = _range(param)
        kinds.append(KindSpec(name, kind.target, params, tuple(kind.required)))
    return tuple(kinds)


# -- drawing --------------------------------------------------------------------------------------------


def draw_schedule(seed: int) -> str:
    """The schedule of world ``seed``: a third simpy's own order, a third random, a third PCT of
    depth 2 to 5. Drawn from a stream of its own, so the rest of the world is what it was before
    worlds had schedules (their files, and the regressions kept from them, stay valid)."""
    rng = random.Random(f"{seed}:schedule")
    roll = rng.random()
    if roll < 1 / 3:
        return "fifo"
    if roll < 2 / 3:
        return "random"
    return f"pct:{rng.randint(2, 5)}"


def draw_world(seed: int, profile: str = "ci") -> Scenario:
    """The world ``seed`` names in ``profile``: the same seed always gives an equal ``Scenario``."""
    if profile not in PROFILES:
        raise FuzzError(f"unknown fuzz profile {profile!r}; profiles: {', '.join(PROFILES)}")
    return _World(
        random.Random(f"{seed}:world"), PROFILES[profile], seed, random.Random(f"{seed}:host")
    ).scenario()


class _World:
    """Draws one world, section by section, each from what the sections before it drew."""

    def __init__(self, rng: random.Random, profile: Profile, seed: int, host: random.Random | None = None):
        self.rng = rng
        self.profile = profile
        self.seed = seed
        self.shapes: list[str] = []
        # Host failover (V2.1) draws from a stream of its own: the rest of a world is drawn as it
        # was before host failover existed, and a world without a runbook is the same world.
        self.host = host or random.Random(f"{seed}:host")

    # -- primitive draws

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def pick(self, values: Sequence[Any]) -> Any:
        return values[self.rng.randrange(len(values))]

    def whole(self, low: int, high: int) -> int:
        return self.rng.randint(low, high)

    def log_uniform(self, low: float, high: float) -> float:
        return math.exp(self.rng.uniform(math.log(low), math.log(high)))

    def seconds(self, low: float, high: float) -> float:
        """Whole seconds in ``[low, high]``, so a world's file reads plainly."""
        return float(self.whole(math.ceil(low), max(math.ceil(low), math.floor(high))))

    def number(self, spec: ParamRange) -> float:
        """A number in the range, its two bounds more often than chance: edges are where bugs live."""
        roll = self.rng.random()
        if roll < 0.1:
            return spec.low
        if roll < 0.2:
            return spec.high
        value = (
            self.log_uniform(max(spec.low, 1e-3), spec.high)
            if spec.log
            else self.rng.uniform(spec.low, spec.high)
        )
        return round(value, 3)

    # -- the world

    def scenario(self) -> Scenario:
        p = self.profile
        duration = self.seconds(*p.duration)
        report_interval = self.pick(REPORT_INTERVALS)
        heal = max(self.seconds(*p.heal), 20 * report_interval)
        topology = self.topology()
        types = self.volume_types(topology)
        workload = self.workload(topology, types, duration)
        targets = self.fault_targets(topology)
        faults = self.faults(topology, targets, duration, workload.actions)
        policies = self.random_policies(targets, duration)
        policy_count = f" and {_count(len(policies), 'random fault policy')}" if policies else ""
        summary = (
            f"{_count(len(topology.backends), 'backend')} ({', '.join(sorted(set(self.shapes)))}), "
            f"{_count(workload.initial_volumes, 'initial volume')}, {_count(len(faults), 'fault')}"
            f"{policy_count}"
        )
        return Scenario(
            name=f"fuzz-{p.name}-{self.seed}",
            description=f"Random world {self.seed} of the {p.name} profile: {summary}.",
            seed=self.seed,
            schedule=draw_schedule(self.seed),
            duration=duration,
            heal=heal,
            report_interval=report_interval,
            topology=topology,
            volume_types=types,
            workload=workload,
            faults=faults,
            random_faults=policies,
            source=f"{world_source(p.name)}:{self.seed}",
        )

    # -- topology

    def topology(self) -> Topology:
        low, high = self.profile.backends
        count = low if self.chance(0.1) else self.whole(min(low + 1, high), high)
        names = list(BACKEND_NAMES[:count])
        arrays = {name: f"{name}-array" if self.chance(0.2) else name for name in names}
        targets: dict[str, tuple[str, ...]] = {name: () for name in names}
        devices: dict[str, tuple[dict[str, str], ...]] = {name: () for name in names}
        order = names[:]
        self.rng.shuffle(order)
        while order:
            shapes = self.feasible_shapes(len(order))
            shape = self.rng.choices(shapes, [_SHAPE_WEIGHTS[s] for s in shapes])[0]
            size = self.shape_size(shape, len(order))
            group, order = order[:size], order[size:]
            self.shapes.append(shape)
            if shape == "unmanaged":
                devices[group[0]] = self.devices(group[0], len(self.shapes))
            else:
                targets.update(
                    (source, tuple(peers)) for source, peers in self.shape_edges(shape, group).items()
                )
        backends = {name: self.backend(name, arrays[name], targets[name], devices[name]) for name in names}
        topology = Topology(backends=backends)
        return Topology(backends=backends, links=self.links(topology), bus=self.bus())

    def feasible_shapes(self, left: int) -> list[str]:
        shapes = ["none", "unmanaged"]
        if left >= 2:
            shapes += ["pair", "ring", "fan-out"]
        if left >= 3:
            shapes += ["chain"]
        return shapes

    def shape_size(self, shape: str, left: int) -> int:
        if shape in ("none", "unmanaged"):
            return 1
        if shape == "pair":
            return 2
        if shape == "fan-out":
            return 1 + self.whole(1, min(MAX_FAN_OUT, left - 1))
        return self.whole(2 if shape == "ring" else 3, min(5, left))

    def shape_edges(self, shape: str, group: list[str]) -> dict[str, list[str]]:
        """Replication targets per backend: pairs (one way or both), chains a->b->c, rings, fan-outs."""
        if shape == "none":
            return {}
        if shape == "pair":
            a, b = group
            return {a: [b], b: [a]} if self.chance(0.5) else {a: [b]}
        if shape == "fan-out":
            return {group[0]: group[1:]}
        edges = {source: [target] for source, target in itertools.pairwise(group)}
        if shape == "ring":
            edges[group[-1]] = [group[0]]
        return edges

    def devices(self, backend: str, serial: int) -> tuple[dict[str, str], ...]:
        """Unmanaged devices, each with fake credentials for the secrets check to guard."""
        count = self.whole(1, 2)
        return tuple(
            {
                "backend_id": f"vault-{serial}-{n}",
                "san_ip": f"10.0.{serial}.{n}",
                "san_login": "replication",
                "san_password": f"pw-{backend}-{self.rng.getrandbits(48):012x}",
            }
            for n in range(1, count + 1)
        )

    def backend(
        self, name: str, array: str, targets: tuple[str, ...], devices: tuple[dict[str, str], ...]
    ) -> BackendSpec:
        thin = self.chance(0.6)
        times = dict(SERVICE_TIMES)
        for op in SERVICE_TIMES:
            if self.chance(0.15):
                times[op] = round(SERVICE_TIMES[op] * self.log_uniform(0.2, 8.0), 3)
        return BackendSpec(
            name=name,
            array=array,
            volume_backend_name=name,
            capacity_gb=float(round(self.log_uniform(40.0, 20000.0))),
            provisioning="thin" if thin else "thick",
            max_over_subscription_ratio=float(self.whole(1, 20))
            if thin
            else BackendSpec.max_over_subscription_ratio,
            replication_targets=targets,
            replication_devices=devices,
            replication_mode="sync" if self.chance(0.4) else "async",
            lag_threshold=self.seconds(5, 300),
            service_times=times,
        )

    def links(self, topology: Topology) -> tuple[LinkSpec, ...]:
        links = []
        for name in topology.link_names():
            if self.chance(0.5):
                source, _, target = name.partition("->")
                links.append(
                    LinkSpec(
                        source,
                        target,
                        bandwidth_mbps=round(self.log_uniform(1.0, 1000.0), 1),
                        latency=round(self.log_uniform(0.001, 2.0), 3),
                    )
                )
        return tuple(links)

    def bus(self) -> BusSpec:
        latency = round(self.log_uniform(0.0005, 0.2), 4)
        if not self.chance(0.25):
            return BusSpec(latency=latency)
        return BusSpec(
            latency=latency,
            loss=round(self.rng.uniform(0.0, 0.02), 4),
            duplicate=round(self.rng.uniform(0.0, 0.02), 4),
            reorder=round(self.rng.uniform(0.0, 0.1), 4),
        )

    # -- volume types and workload

    def volume_types(self, topology: Topology) -> dict[str, dict[str, str]]:
        types: dict[str, dict[str, str]] = {}
        replicating = [
            b for b in topology.backends.values() if b.replication_targets or b.replication_devices
        ]
        for backend in replicating:
            types[f"rep-{backend.name}"] = {"replication": "enabled", "volume_backend_name": backend.name}
        if replicating and self.chance(0.5):
            types["rep-any"] = {"replication": "enabled"}
        if self.chance(0.7):
            types["plain"] = {}
        if self.chance(0.3):
            types["plain-pinned"] = {"volume_backend_name": self.pick(sorted(topology.backends))}
        return types

    def workload(
        self, topology: Topology, types: Mapping[str, Mapping[str, str]], duration: float
    ) -> Workload:
        p = self.profile
        create = self.whole(0, round(p.creates_per_minute * 10)) / 600  # per second, in steps of 1/10m
        weights = {name: float(self.whole(1, 5)) for name in sorted(types)} if self.chance(0.6) else {}
        size_high = self.pick((1, 10, 50, 200))
        return Workload(
            tenants=self.whole(1, 5),
            initial_volumes=self.whole(*p.initial_volumes),
            create=CreateLoad(rate=create, size_gb=(1, size_high), types=weights),
            delete=DeleteLoad(rate=create * self.pick((0.0, 0.25, 0.5, 1.0))),
            writes=WriteLoad(
                per_volume_rate=self.pick((0.0, 0.5, 1.0, 2.0, 5.0)), size_kb=self.pick((4, 64, 256))
            ),
            actions=tuple(
                sorted(
                    (*self.actions(topology, types, duration), *self.host_runbook(topology, duration)),
                    key=lambda a: a.at,
                )
            ),
            policies=self.policies(topology),
        )

    def host_runbook(self, topology: Topology, duration: float) -> tuple[AdminAction, ...]:
        """Now and then an operator's V2.1 runbook on one replicating backend: maybe a freeze,
        failover_host (to the driver's choice or a named target, now and then one that is not),
        maybe a thaw, maybe a failback with 'default'."""
        rng = self.host
        replicating = sorted(
            b.name for b in topology.backends.values() if b.replication_targets or b.replication_devices
        )
        if not replicating or rng.random() >= HOST_FAILOVER_CHANCE:
            return ()
        backend = replicating[rng.randrange(len(replicating))]
        targets = [
            *topology.backends[backend].replication_targets,
            *topology.backends[backend].device_arrays(),
        ]
        at = float(rng.randint(round(0.1 * duration), round(0.6 * duration)))
        steps: list[AdminAction] = []
        if rng.random() < 0.7:
            steps.append(AdminAction(at, "freeze_host", backend=backend))
        secondary = targets[rng.randrange(len(targets))] if targets and rng.random() < 0.5 else None
        over = at + rng.randint(0, 120)
        steps.append(AdminAction(over, "failover_host", secondary=secondary, backend=backend))
        if rng.random() < 0.8:
            steps.append(AdminAction(over + rng.randint(30, 600), "thaw_host", backend=backend))
        if rng.random() < 0.6:
            steps.append(
                AdminAction(
                    over + rng.randint(120, 1800), "failover_host", secondary="default", backend=backend
                )
            )
        return tuple(step for step in steps if step.at < duration)

    def secondaries(self, topology: Topology, backend: str | None) -> list[str]:
        """Names a failover may give as its secondary: the backend's own targets, else any."""
        if backend is not None:
            spec = topology.backends[backend]
            return [*spec.replication_targets, *spec.device_arrays()]
        return sorted(
            {*topology.backends, *(a for b in topology.backends.values() for a in b.device_arrays())}
        )

    def secondary(self, topology: Topology, backend: str | None) -> str | None:
        if not self.chance(0.4):
            return None
        names = self.secondaries(topology, backend)
        if backend is None or self.chance(0.1):  # now and then a name that holds no replica
            names = self.secondaries(topology, None)
        return self.pick(names) if names else None

    def actions(
        self, topology: Topology, types: Mapping[str, Mapping[str, str]], duration: float
    ) -> tuple[AdminAction, ...]:
        replicating = sorted(
            b.name for b in topology.backends.values() if b.replication_targets or b.replication_devices
        )
        if not replicating:
            return ()
        replicated_types = sorted(name for name, specs in types.items() if specs.get("replication"))
        actions: list[AdminAction] = []
        for _ in range(self.whole(1, self.profile.actions)):
            at = self.seconds(0.1 * duration, 0.9 * duration)
            roll = self.rng.random()
            backend = self.pick(replicating) if roll < 0.5 else None
            volumes = (
                f"backend:{backend}"
                if backend
                else f"type:{self.pick(replicated_types)}"
                if roll < 0.7 and replicated_types
                else "all"
            )
            wave = self.pick(("failover", "failover", "failback", "disable-enable", "enable"))
            if wave == "enable":
                actions.append(AdminAction(at, "enable_replication", volumes))
            elif wave == "disable-enable":
                actions.append(AdminAction(at, "disable_replication", volumes))
                back = at + self.seconds(30, 900)
                if back < duration:
                    actions.append(AdminAction(back, "enable_replication", volumes))
            else:
                actions.append(
                    AdminAction(at, "failover_replication", volumes, self.secondary(topology, backend))
                )
                back = at + self.seconds(60, 1200)
                if wave == "failback" and back < duration:
                    home = backend if backend and self.chance(0.5) else None
                    actions.append(AdminAction(back, "failover_replication", volumes, home))
        return tuple(sorted(actions, key=lambda a: a.at))

    def policies(self, topology: Topology) -> tuple[AdminPolicy, ...]:
        policies = []
        for backend in sorted(topology.backends.values(), key=lambda b: b.name):
            if (backend.replication_targets or backend.replication_devices) and self.chance(0.4):
                action = "failover_replication" if self.chance(0.9) else "disable_replication"
                policies.append(
                    AdminPolicy(
                        "array_down",
                        backend.name,
                        action,
                        after=self.seconds(0, 180),
                        secondary=self.secondary(topology, backend.name)
                        if action == "failover_replication"
                        else None,
                    )
                )
        return tuple(policies)

    # -- faults

    def fault_targets(self, topology: Topology) -> dict[str, tuple[str, ...]]:
        """What each target type may name here; bus faults name the whole bus or a pair of topics."""
        targets = dict(topology.fault_targets())
        targets["bus"] = ("*", *(f"{a}->{b}" for a in BUS_TOPICS for b in BUS_TOPICS if a != b))
        return targets

    def usable(self, targets: Mapping[str, Sequence[str]]) -> list[KindSpec]:
        """The kinds this world has something to hit with (no links without replication)."""
        kinds = fault_kinds()
        unknown = [kind.name for kind in kinds if kind.target not in targets]
        if unknown:
            raise FuzzError(
                f"fault kind {unknown[0]} hits a target the world generator does not know; "
                f"known targets: {', '.join(targets)}"
            )
        return [kind for kind in kinds if targets[kind.target]]

    def target(self, kind: KindSpec, targets: Mapping[str, Sequence[str]], near: Sequence[str] = ()) -> str:
        """A target of the kind's type; with ``near`` (names of a backend and its array) mostly one
        of theirs, so a fault lands where the operator is about to act."""
        pool = targets[kind.target]
        if kind.target == "bus" and self.chance(0.6):
            return "*"
        close = [
            t
            for t in pool
            if any(t == name or t.startswith(f"{name}->") or t.endswith(f"->{name}") for name in near)
        ]
        return str(self.pick(close if close and self.chance(0.7) else pool))

    def params(self, kind: KindSpec) -> dict[str, Any]:
        params: dict[str, Any] = {}
        for name, spec in kind.params.items():
            if name not in kind.required and self.chance(0.3):
                continue  # the kind's default
            if spec.groups:
                topics = list(BUS_TOPICS)
                self.rng.shuffle(topics)
                cuts = sorted(self.rng.sample(range(1, len(topics)), self.whole(1, 2)))
                params[name] = [topics[a:b] for a, b in zip([0, *cuts], [*cuts, len(topics)], strict=True)]
            elif spec.choices:
                params[name] = self.pick(spec.choices)
            else:
                params[name] = self.number(spec)
        return params

    def span(self, start: float, duration: float) -> float | None:
        """A fault's length: now and then none (it lasts until the heal), else ending by ``duration``."""
        if self.chance(0.1):
            return None
        return self.seconds(1, min(max(1.0, duration - start), self.log_uniform(5.0, duration / 2)))

    def faults(
        self,
        topology: Topology,
        targets: Mapping[str, Sequence[str]],
        duration: float,
        actions: Sequence[AdminAction],
    ) -> tuple[Fault, ...]:
        """Faults of every usable kind: a few from the first second (the world starts broken), many
        just before an operator action and on what it acts on, the rest anywhere; a quarter of them
        overlapped by a second fault of the same kind on the same target."""
        kinds = self.usable(targets)
        faults: list[Fault] = []
        for _ in range(self.whole(*self.profile.faults)):
            kind = self.pick(kinds)
            near: tuple[str, ...] = ()
            roll = self.rng.random()
            if roll < 0.1:
                start = 0.0
            elif actions and roll < 0.5:
                action = self.pick(actions)
                start = max(0.0, action.at - self.seconds(0, 90))
                selector, _, name = action.volumes.partition(":")
                if selector == "backend":
                    near = (name, topology.backends[name].array)
            else:
                start = self.seconds(0, duration - 10)
            fault = Fault(
                kind.name,
                self.target(kind, targets, near),
                start,
                self.span(start, duration),
                self.params(kind),
            )
            faults.append(fault)
            if self.chance(0.25):
                end = min(fault.end, duration - 1)
                again = self.seconds(start, end) if end > start else start
                faults.append(
                    Fault(kind.name, fault.target, again, self.span(again, duration), self.params(kind))
                )
        return tuple(sorted(faults, key=lambda fault: fault.start))

    def random_policies(
        self, targets: Mapping[str, Sequence[str]], duration: float
    ) -> tuple[RandomPolicy, ...]:
        policies: list[RandomPolicy] = []
        kinds = self.usable(targets)
        if self.chance(0.4):
            poisson = [kind.name for kind in kinds if kind.drawn_by_poisson]
            chosen = self.rng.sample(poisson, self.whole(1, min(4, len(poisson))))
            start = self.seconds(0, duration / 2)
            policies.append(
                PoissonPolicy(
                    kinds=tuple(chosen),
                    rate=self.whole(4, 30) / 3600,
                    start=start,
                    end=self.seconds(start + 60, duration),
                    scale=float(self.whole(1, 30)),
                )
            )
        if self.chance(0.25):
            kind = self.pick(kinds)
            start = self.seconds(0, duration / 2)
            policies.append(
                FlipFlopPolicy(
                    kind=kind.name,
                    target=self.target(kind, targets),
                    start=start,
                    end=self.seconds(start + 60, duration),
                    interval=self.seconds(5, 60),
                    params=self.params(kind),
                )
            )
        return tuple(policies)


def _count(n: int, noun: str) -> str:
    plural = noun[:-1] + "ies" if noun.endswith("y") else noun + "s"
    return f"{n} {noun if n == 1 else plural}"
