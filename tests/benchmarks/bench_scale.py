"""A whole cloud in the simulator: cost per volume-hour from 1,000 to 100,000 volumes.

Run: ``.venv/bin/python tests/benchmarks/bench_scale.py [SIZES...] [--hours H]`` (``make bench``
runs 1,000 and 10,000 volumes; ``make bench-scale`` 100,000 for 24 simulated hours).

Each size is one scenario run, as ``replisim run`` makes it (trace on, every check applied), in a
fresh process so that peak RSS is its own: backends = volumes / 1000 (at least 2, at most 100),
each replicating asynchronously to the next; every volume is created and replication-enabled
through the API, scheduler, managers and drivers, then written once a second; managers report
stats and replication updates every 10 s; the first backend's array crashes halfway through (an
operator fails its volumes over 30 s after it goes quiet) and one link is cut for 20 minutes.
The run is then written (``write_run``) and reported (``write_report``), as ``replisim run`` does.

Separately, ``creates+enables/s`` times VOLUMES create-then-enable lifecycles alone through the
same control plane, and ``bare simpy`` is a timeout-plus-Store loop (``bench_kernel``) timed in the
same process, so ``cost/vol-h`` can also be read in bare-simpy messages, which is machine-neutral.

``--profile N`` runs N volumes in this process under cProfile and prints the top entries instead.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import json
import logging
import pstats
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Generator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_kernel import bare_simpy  # noqa: E402

from replisim.scenarios import runner  # noqa: E402
from replisim.scenarios.history import HISTORY_NAME  # noqa: E402
from replisim.scenarios.runner import TRACE_NAME, released, run_scenario, write_run  # noqa: E402
from replisim.scenarios.schema import parse_scenario  # noqa: E402

BARE_MESSAGES = 200_000
WRITE_RATE = "1/s"


def backends_for(volumes: int) -> int:
    return min(100, max(2, volumes // 1000))


def scenario_text(volumes: int, hours: float, seed: int = 1) -> str:
    """The scale world as a scenario file (JSON is YAML)."""
    count = backends_for(volumes)
    names = [f"b{i:03d}" for i in range(count)]
    backends = {
        name: {
            "capacity_gb": 2_000_000,
            "replication_targets": [names[(i + 1) % count]],
            "replication_mode": "async",
            "lag_threshold": "60s",
        }
        for i, name in enumerate(names)
    }
    half = hours * 3600 / 2
    return json.dumps(
        {
            "name": f"scale-{volumes}",
            "description": f"{volumes:,} async replicated volumes on {count} backends for {hours:g} h",
            "seed": seed,
            "duration": f"{hours * 3600:.0f}s",
            "heal": "10m",
            "report_interval": "10s",
            "topology": {"backends": backends},
            "volume_types": {"replicated": {"replication": "enabled"}},
            "workload": {
                "tenants": 20,
                "initial_volumes": volumes,
                "writes": {"per_volume_rate": WRITE_RATE, "size_kb": 64},
                "policies": [
                    {
                        "when": "array_down",
                        "backend": names[0],
                        "action": "failover_replication",
                        "after": "30s",
                    }
                ],
            },
            "faults": {
                "schedule": [
                    {"kind": "array.crash", "target": names[0], "start": f"{half:.0f}s", "duration": "30m"},
                    {
                        "kind": "link.down",
                        "target": f"{names[1]}->{names[2 % count]}",
                        "start": f"{half / 2:.0f}s",
                        "duration": "20m",
                    },
                ]
            },
            "checks": ["no_volume_lost", "transitions", "liveness", "data", "split_brain", "secrets"],
        }
    )


def quiet() -> None:
    """The control plane logs the crash at length; that is not what is measured."""
    logger = logging.getLogger("replisim")
    logger.addHandler(logging.NullHandler())
    logger.propagate = False


def bare_rate() -> float:
    """Messages/s of a bare simpy timeout-plus-Store loop (best of three), in this process."""
    best = 0.0
    for _ in range(3):
        started = time.perf_counter()
        bare_simpy(BARE_MESSAGES, False)
        best = max(best, BARE_MESSAGES / (time.perf_counter() - started))
    return best


def throughput(volumes: int) -> tuple[float, float]:
    """Creates+enables per wall second and per CPU second through API, scheduler, managers and
    drivers (sim time), with the collector set as a scenario run sets it (when the tree has that)."""
    from replisim.actors.client import api_call
    from replisim.actors.config import parse_config
    from replisim.actors.context import admin_context
    from replisim.actors.db import MemoryRepository
    from replisim.actors.deployment import deploy
    from replisim.drivers.emulated import emulated_drivers
    from replisim.drivers.emulated.fabric import Fabric
    from replisim.scenarios.runner import cinder_conf
    from replisim.sim import SimRuntime, Sleep

    scenario = parse_scenario(scenario_text(volumes, 1.0))
    runtime = SimRuntime(seed=1)
    fabric = Fabric.for_runtime(runtime)
    config = parse_config(cinder_conf(scenario))
    db = MemoryRepository(clock=lambda: runtime.now)
    deploy(runtime, config, db, drivers=emulated_drivers(config, fabric), report_interval=10.0)
    admin = admin_context()

    def make_type() -> Generator[Any, Any, Any]:
        return (
            yield api_call(
                admin, "create_volume_type", name="replicated", extra_specs={"replication": "enabled"}
            )
        )

    runtime.run(until=30.0)
    runtime.wait(runtime.submit(make_type()))

    def lifecycle(index: int) -> Generator[Any, Any, None]:
        volume = yield api_call(
            admin, "create_volume", 600, size=10, volume_type="replicated", name=f"vol-{index}"
        )
        while True:
            yield Sleep(10.0)
            if (yield api_call(admin, "get_volume", 600, volume_id=volume["id"]))["status"] != "creating":
                break
        yield api_call(admin, "enable_replication", 600, volume_id=volume["id"])

    collector = getattr(runner, "_long_lived_heap", contextlib.nullcontext)
    with collector():
        started, cpu = time.perf_counter(), time.process_time()
        done = [runtime.submit(lifecycle(i)) for i in range(volumes)]
        while not all(p.done for p in done):
            runtime.run(until=runtime.now + 5.0)
        took, cpu = time.perf_counter() - started, time.process_time() - cpu
    enabled = len(db.volume_get_all(replication_statuses=["enabled"]))
    if enabled != volumes:
        raise SystemExit(f"throughput phase: only {enabled} of {volumes} volumes enabled")
    runtime.stop()
    return volumes / took, volumes / cpu


def measure(volumes: int, hours: float, report: bool) -> dict[str, Any]:
    """One size, in this process."""
    from replisim.reports.report import write_report

    quiet()
    bare = bare_rate()
    scenario = parse_scenario(scenario_text(volumes, hours))
    cpu0, wall0 = time.process_time(), time.perf_counter()
    result = run_scenario(scenario)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    enabled = sum(t.new == "enabled" for t in result.record.transitions)
    figures: dict[str, Any] = {
        "volumes": volumes,
        "backends": backends_for(volumes),
        "hours": hours,
        "ok": result.ok,
        "failed": [v.check for v in result.verdicts if not v.ok],
        "enabled": enabled,
        "simulated_s": result.simulated_seconds,
        "wall_s": wall,
        "cpu_s": cpu,
        "rss_mib": rss,
        "bare_per_s": bare,
        "digest": result.trace_digest[:16],
    }
    if report:
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp)
            started = time.perf_counter()
            write_run(result, out)
            figures["write_s"] = time.perf_counter() - started
            # as ``replisim run`` does: the report reads what was written, the record is let go
            result = released(result)
            figures["sizes"] = {path.name: path.stat().st_size for path in out.iterdir()}
            started = time.perf_counter()
            write_report(out)
            figures["report_s"] = time.perf_counter() - started
    figures["rss_mib_total"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    figures["creates_enables_per_s"], figures["creates_enables_per_cpu_s"] = throughput(min(volumes, 10_000))
    return figures


def row(f: dict[str, Any]) -> str:
    volume_hours = f["volumes"] * f["simulated_s"] / 3600
    per_vh_us = f["cpu_s"] / volume_hours * 1e6
    bare_messages = f["cpu_s"] / volume_hours * f["bare_per_s"]
    sizes = f.get("sizes", {})
    files = (
        f"trace {sizes.get(TRACE_NAME, 0) / 1e6:6.1f} MB, "
        f"history {sizes.get(HISTORY_NAME, 0) / 1e6:6.1f} MB, "
        f"run.json {sizes.get('run.json', 0) / 1e6:6.1f} MB, written in {f.get('write_s', 0):5.1f} s, "
        f"report {f.get('report_s', 0):5.1f} s"
        if sizes
        else ""
    )
    verdict = "PASS" if f["ok"] else "FAIL " + ",".join(f["failed"])
    return (
        f"{f['volumes']:>7,} {f['backends']:>4} {f['hours']:>4g}h {verdict:<5} "
        f"{f['wall_s']:8.1f} {f['cpu_s']:8.1f} {f['rss_mib']:7.0f} "
        f"{f['simulated_s'] / f['wall_s']:8,.0f}x {per_vh_us:9.1f} {bare_messages:8.2f} "
        f"{f['creates_enables_per_s']:9,.0f} {f['creates_enables_per_cpu_s']:9,.0f}  {files}"
    )


HEADER = (
    "volumes  bknd  sim  check   wall s    cpu s  RSS MiB  sim/wall  µs/vol-h  bare msg"
    "  cr+en/s  /cpu-s   outputs"
)


def profile(volumes: int, hours: float, top: int = 15) -> None:
    quiet()
    scenario = parse_scenario(scenario_text(volumes, hours))
    profiler = cProfile.Profile()
    profiler.enable()
    result = run_scenario(scenario)
    profiler.disable()
    print(f"{volumes:,} volumes, {hours:g} h: {'PASS' if result.ok else 'FAIL'}")
    stats = pstats.Stats(profiler).strip_dirs()
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sizes", nargs="*", type=int, default=[1000, 10_000])
    parser.add_argument("--hours", type=float, default=24.0, help="simulated hours per run (24)")
    parser.add_argument("--no-report", action="store_true", help="skip writing and reporting the run")
    parser.add_argument("--profile", type=int, metavar="VOLUMES", help="profile one size in-process")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # a child process: one size, JSON out
    args = parser.parse_args()
    if args.profile:
        profile(args.profile, args.hours)
        return
    if args.one:
        print(json.dumps(measure(args.one, args.hours, not args.no_report)))
        return
    print(f"python {sys.version.split()[0]}; each size in its own process; cost per volume-hour is CPU")
    print(HEADER)
    for size in args.sizes:
        command = [sys.executable, __file__, "--one", str(size), "--hours", str(args.hours)]
        if args.no_report:
            command.append("--no-report")
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            print(f"{size:>7,} failed:\n{done.stderr}")
            continue
        print(row(json.loads(done.stdout.strip().splitlines()[-1])), flush=True)


if __name__ == "__main__":
    main()
