"""Run one scenario in simulated time: build the world, drive the workload, inject the faults,
heal, check, and keep everything a report needs.

The same scenario and seed give the same trace, history and verdicts, byte for byte.
"""

from __future__ import annotations

import gc
import json
import math
import platform
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TextIO

from replisim import __version__
from replisim.actors.config import parse_config
from replisim.actors.db import MemoryRepository
from replisim.actors.deployment import deploy
from replisim.actors.manager import VolumeManager
from replisim.actors.status import VOLUME_TOPIC
from replisim.drivers.emulated import EmulatedDriver, emulated_drivers
from replisim.drivers.emulated.fabric import Fabric
from replisim.sim import Constant, Link, SimRuntime, Trace

from .checkers import HostAction, RunRecord, Verdict, check, merge, status_of
from .faults import Fault
from .history import HISTORY_NAME, History, RecordingRepository, for_report, logged
from .injector import FaultEvent, FaultInjector
from .schema import BackendSpec, Scenario, config_backend, draw_faults
from .workload import WORKLOAD, Workload

EMULATED = "replisim.drivers.emulated.EmulatedDriver"
MAX_SAMPLES = 2000
TRACE_NAME = "trace.jsonl.gz"  # a long run's trace is millions of lines: gzip keeps it a tenth the size


def cinder_conf(scenario: Scenario) -> str:
    """The scenario's topology as the cinder.conf its backends are deployed from."""
    backends = scenario.topology.backends
    lines = ["[DEFAULT]", f"enabled_backends = {', '.join(backends)}", ""]
    for name, spec in backends.items():
        lines += [f"[{name}]", *(f"{key} = {value}" for key, value in _options(spec, scenario)), ""]
    return "\n".join(lines)


def _options(spec: BackendSpec, scenario: Scenario) -> list[tuple[str, Any]]:
    """A backend's section: from ``topology.config`` as written and the inline entry's keys over
    it, key by key; or, with no file, everything from the inline entry. A section naming the
    emulated driver keeps it (with the run's write size); one naming another driver (a Cinder
    driver) runs that driver, with its section as written and only the inline entry's
    replication over it (the schema refuses array options for it: it has no emulated array)."""
    if spec.config is not None and spec.driver is not None:
        own: dict[str, Any] = dict(spec.config.options)
        in_file = config_backend(spec.config, spec.driver)
        if (spec.replication_targets, spec.replication_devices) != (
            in_file.replication_targets,
            in_file.replication_devices,
        ):
            own.update(_replication_options(spec))
        return list(own.items())
    if spec.config is not None:
        written = dict(spec.config.options)
        written["volume_driver"] = EMULATED
        written.setdefault("write_size_kb", str(scenario.workload.writes.size_kb))
        inline = dict(_inline_options(spec, scenario))
        base = dict(_inline_options(config_backend(spec.config), scenario))
        written.update({key: value for key, value in inline.items() if base.get(key) != value})
        return list(written.items())
    return _inline_options(spec, scenario)


def _inline_options(spec: BackendSpec, scenario: Scenario) -> list[tuple[str, Any]]:
    options: list[tuple[str, Any]] = [
        ("volume_driver", EMULATED),
        ("volume_backend_name", spec.volume_backend_name),
        ("emulated_array", spec.array),
        ("total_capacity_gb", spec.capacity_gb),
        ("provisioning", spec.provisioning),
        ("max_over_subscription_ratio", spec.max_over_subscription_ratio),
        ("replication_mode", spec.replication_mode),
        ("replication_lag_threshold", spec.lag_threshold),
        ("write_size_kb", scenario.workload.writes.size_kb),
    ]
    options += [(f"service_time_{op}", seconds) for op, seconds in sorted(spec.service_times.items())]
    return options + _replication_options(spec)


def _replication_options(spec: BackendSpec) -> list[tuple[str, Any]]:
    if spec.replication_targets:
        return [("replication_devices", ", ".join(spec.replication_targets))]
    if spec.replication_devices:
        entries = ", ".join(
            "{" + " ".join(f"'{k}'='{v}'" for k, v in device.items()) + "}"
            for device in spec.replication_devices
        )
        return [("managed_replication_target", "false"), ("replication_devices", entries)]
    return []


@dataclass
class RunResult:
    """One finished run: verdicts first, then everything the report draws on."""

    scenario: Scenario
    seed: int
    verdicts: list[Verdict]
    record: RunRecord
    faults: list[Fault]
    fault_events: list[FaultEvent]
    samples: list[dict[str, Any]]
    detections: list[dict[str, Any]]
    simulated_seconds: float
    wall_seconds: float
    trace_digest: str
    trace: Trace = field(repr=False, default_factory=Trace)

    @property
    def ok(self) -> bool | None:
        """True when every check passed, False when one failed, None when unknown (a checker raised)."""
        return merge(v.ok for v in self.verdicts)

    @property
    def status(self) -> str:
        return status_of(self.ok)

    def summary(self) -> dict[str, Any]:
        """The JSON-able digest a sweep keeps per seed."""
        own = self.scenario.topology.unemulated()
        return {
            "scenario": self.scenario.name,
            "source": self.scenario.source,
            "seed": self.seed,
            "schedule": self.scenario.schedule,
            "ok": self.ok,
            "status": self.status,
            "verdicts": {v.check: v.to_dict() for v in self.verdicts},
            "digest": self.trace_digest,
            "simulated_seconds": self.simulated_seconds,
            "wall_seconds": round(self.wall_seconds, 3),
            "failovers": [r.to_dict() for r in self.record.fabric.failovers],
            # what RTO is measured from: the faults, who detected them, which backend drives which array
            "faults": [f.to_dict() for f in self.faults],
            "duration": self.scenario.duration,
            "detections": self.detections,
            "arrays": dict(sorted(self.record.owners.items())),
            # backends that run their own driver, with no array to measure their failovers
            **({"unemulated": dict(sorted(own.items()))} if own else {}),
        }


def run_scenario(
    scenario: Scenario,
    seed: int | None = None,
    *,
    progress: Callable[[float, float], None] | None = None,
    manager_class: type[VolumeManager] = VolumeManager,
    driver_class: type[EmulatedDriver] = EmulatedDriver,
) -> RunResult:
    """Run ``scenario`` with ``seed`` (default: the scenario's); ``progress(now, end)`` is called
    as simulated time passes. ``manager_class`` and ``driver_class`` let quality tests run a
    deliberately broken manager or driver, to prove the checkers catch it."""
    seed = scenario.seed if seed is None else seed
    started = time.perf_counter()
    bus = scenario.topology.bus
    runtime = SimRuntime(
        seed=seed,
        link=Link(Constant(bus.latency), bus.loss, bus.duplicate, bus.reorder),
        schedule=scenario.schedule,
    )
    clock = lambda: runtime.now  # noqa: E731
    fabric = Fabric.for_runtime(runtime)
    config = parse_config(cinder_conf(scenario), scenario.source)
    db = RecordingRepository(MemoryRepository(clock=clock), clock)
    deployment = deploy(
        runtime,
        config,
        db,
        report_interval=scenario.report_interval,
        drivers=emulated_drivers(config, fabric, driver_class),
        manager_class=manager_class,
    )
    for link in scenario.topology.links:
        fabric.configure_link(
            link.source, link.target, bandwidth_mbps=link.bandwidth_mbps, latency=link.latency
        )
    history = History()
    workload = Workload(scenario, fabric, history, seed)
    runtime.spawn(workload, WORKLOAD, concurrency=None)
    faults = draw_faults(scenario, seed)
    injector = FaultInjector(deployment, fabric)
    injector.schedule(faults, heal_at=scenario.duration)
    samples: list[dict[str, Any]] = []
    _sample_every(runtime, fabric, sample_interval(scenario), samples)

    end = scenario.duration + scenario.heal
    steps = 100
    with _long_lived_heap(), logged("replisim.manager", clock) as manager_log:
        for step in range(1, steps + 1):
            runtime.run(until=end * step / steps)
            if progress is not None:
                progress(runtime.now, end)
    volumes = db.volume_get_all()
    record = RunRecord(
        history,
        db.transitions,
        db.status_changes,
        volumes,
        fabric,
        dict(fabric.owners),
        config.secrets(),
        injector.healed,
        {t["id"]: dict(t["extra_specs"]) for t in db.volume_type_get_all()},
        scenario.topology.unemulated(),
        db.service_get_all(binary=VOLUME_TOPIC) if scenario.topology.unemulated() else [],
        db.service_changes,
        tuple(
            HostAction(a.at, a.action, a.backend, a.secondary)
            for a in scenario.workload.actions
            if a.backend is not None
        ),
        manager_log,
    )
    verdicts = check(record, scenario.checks)
    runtime.stop()
    return RunResult(
        scenario,
        seed,
        verdicts,
        record,
        faults,
        injector.events,
        samples,
        workload.detections,
        runtime.now,
        time.perf_counter() - started,
        runtime.trace.digest(),
        runtime.trace,
    )


@contextmanager
def _long_lived_heap() -> Iterator[None]:
    """A simulated world is a large heap of long-lived objects (volumes, copies, rows, histories)
    and a stream of short-lived ones (messages, effects). The collector's default thresholds
    re-scan the long-lived heap so often that collection took a fifth of a large run's CPU:
    while the world runs, young garbage is collected every 100,000 allocations and the old
    generations rarely. The thresholds are restored once the run is over."""
    saved = gc.get_threshold()
    gc.set_threshold(100_000, 50, 100)
    try:
        yield
    finally:
        gc.set_threshold(*saved)


def sample_interval(scenario: Scenario) -> float:
    """Pools and links are sampled every report interval, or every few intervals when that would
    give more than MAX_SAMPLES samples (a day at 10 s is 8,640 of each of 100 pools and links;
    no plot can show them, and run.json would grow a line of them every ten seconds)."""
    span = scenario.duration + scenario.heal
    return scenario.report_interval * max(1, math.ceil(span / (MAX_SAMPLES * scenario.report_interval)))


def _sample_every(
    runtime: SimRuntime, fabric: Fabric, interval: float, samples: list[dict[str, Any]]
) -> None:
    """Capacity per pool, lag per link and replication statuses, every ``interval`` simulated s."""

    def sample() -> None:
        now = runtime.now
        pools = {
            name: {
                "total_gb": a.capacity_gb,
                "free_gb": round(a.free_gb(now), 3),
                "provisioned_gb": a.provisioned_gb(),
                "volumes": len(a.copies),
                "up": a.up,
            }
            for name, a in sorted(fabric.arrays.items())
        }
        links = {
            name: {
                "lag_s": round(link.lag(now), 6),
                "up": link.up,
                "backlog_kib": round(link.backlog(now), 3),
            }
            for name, link in sorted(fabric.links.items())
        }
        samples.append({"time": now, "pools": pools, "links": links})
        runtime.at(interval, sample)

    runtime.at(0.0, sample)


def write_run(result: RunResult, out: Path) -> list[Path]:
    """Write the trace, the history, the verdicts and the run's figures under ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    trace = out / TRACE_NAME
    result.trace.write(trace)
    history = out / HISTORY_NAME
    result.record.history.write(history)
    verdicts = out / "verdicts.json"
    verdicts.write_text(json.dumps(result.summary(), indent=2, sort_keys=True, default=str) + "\n")
    run = out / "run.json"
    with run.open("w", encoding="utf-8") as stream:
        dump_in_batches(run_data(result), stream)
        stream.write("\n")
    written += [trace, history, verdicts, run]
    return written


def dump_in_batches(data: dict[str, Any], stream: TextIO, batch: int = 2048) -> None:
    """``json.dump(data, stream, sort_keys=True, default=str)``, byte for byte, through the C
    encoder a batch of list items at a time. ``json.dump`` streams through the pure-Python encoder
    (2.1 s against 0.8 s for a 10,000-volume day's record), and ``json.dumps`` would hold the whole
    text, hundreds of MB for a large run, at once."""
    encode = json.JSONEncoder(sort_keys=True, default=str).encode
    stream.write("{")
    for number, key in enumerate(sorted(data)):
        stream.write(f"{', ' if number else ''}{encode(key)}: ")
        value = data[key]
        if not isinstance(value, list) or len(value) <= batch:
            stream.write(encode(value))
            continue
        stream.write("[")
        for start in range(0, len(value), batch):
            stream.write(f"{', ' if start else ''}{encode(value[start : start + batch])[1:-1]}")
        stream.write("]")
    stream.write("}")


def released(result: RunResult) -> RunResult:
    """``result`` without what ``write_run`` has written and only the record's readers need (the
    history, the transitions, the volumes' rows, the samples, the trace): what is left prints the
    verdicts and the summary. A report reads the written run; the run's record alive beside it
    made the report step the run's peak (2.56 GiB for 100,000 volumes)."""
    record = replace(
        result.record,
        history=History(),
        transitions=[],
        status_changes=[],
        volumes=[],
        services=[],
        service_changes=[],
        manager_log=[],
    )
    return replace(result, record=record, samples=[], trace=Trace(enabled=False))


def run_data(result: RunResult) -> dict[str, Any]:
    """Everything a report is made from, as plain data."""
    return {
        **result.summary(),
        "description": result.scenario.description,
        "heal": result.scenario.heal,
        "report_interval": result.scenario.report_interval,
        "mode": "sim",
        "versions": {
            "replisim": __version__,
            "python": platform.python_version(),
            "machine": f"{platform.system()} {platform.machine()}",
        },
        "fault_events": [
            {"time": e.time, "phase": e.phase, **e.fault.to_dict()} for e in result.fault_events
        ],
        "samples": result.samples,
        "transitions": [
            {"time": t.time, "volume": t.volume_id, "from": t.old, "to": t.new}
            for t in result.record.transitions
        ],
        "status_changes": [
            {"time": t.time, "volume": t.volume_id, "from": t.old, "to": t.new}
            for t in result.record.status_changes
        ],
        "ops": [for_report(op) for op in result.record.history.ops],
        # where each volume left at the end lives ('host@backend#pool'), to tie latency to a pool's fill
        "hosts": {v["id"]: v["host"] for v in result.record.volumes if v.get("host")},
    }
