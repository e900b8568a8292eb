"""10,000 replicated volumes on 10 emulated arrays, async writes, one simulated hour.

Run: ``.venv/bin/python tests/benchmarks/bench_arrays.py [VOLUMES] [ARRAYS]`` (or ``make bench``).
Every volume is created, typed and replication-enabled through the full control plane (API,
scheduler, managers, driver hosts over the simulated bus); each array replicates to the next over
a 10 Gbit/s link; every volume is written twice a second for the hour while managers report stats
and replication updates every 10 s. Prints wall time, simulated-to-wall ratio and peak memory.
"""

from __future__ import annotations

import gc
import resource
import sys
import time
from collections.abc import Generator
from typing import Any

from replisim.actors.client import api_call
from replisim.actors.config import parse_config
from replisim.actors.context import admin_context
from replisim.actors.db import MemoryRepository
from replisim.actors.deployment import deploy
from replisim.drivers.emulated import emulated_drivers
from replisim.drivers.emulated.fabric import Fabric
from replisim.sim import SimRuntime

HOUR = 3600.0
WRITES_PER_SECOND = 2.0


def config(arrays: int) -> str:
    names = [f"array{i:02d}" for i in range(arrays)]
    sections = [f"[DEFAULT]\nenabled_backends = {', '.join(names)}\n"]
    for i, name in enumerate(names):
        sections.append(
            f"[{name}]\nvolume_driver = replisim.drivers.emulated.EmulatedDriver\n"
            f"volume_backend_name = {name}\nreplication_devices = {names[(i + 1) % arrays]}\n"
            f"total_capacity_gb = 1000000\nreplication_bandwidth_mbps = 10000\n"
        )
    return "\n".join(sections)


def run(volumes: int, arrays: int, seed: int = 1) -> dict[str, Any]:
    gc.freeze()  # long-lived model objects need no cyclic collection; spare the young generation
    gc.set_threshold(50_000, 20, 100)
    started, cpu_started = time.perf_counter(), time.process_time()
    runtime = SimRuntime(seed=seed, trace=False)
    fabric = Fabric.for_runtime(runtime)
    conf = parse_config(config(arrays))
    db = MemoryRepository(clock=lambda: runtime.now)
    deploy(runtime, conf, db, drivers=emulated_drivers(conf, fabric), report_interval=10.0)
    admin = admin_context()
    runtime.run(until=30.0)
    runtime.wait(
        runtime.submit(
            one_call(admin, "create_volume_type", name="replicated", extra_specs={"replication": "enabled"})
        )
    )

    def lifecycle(index: int) -> Generator[Any, Any, None]:
        volume = yield api_call(
            admin, "create_volume", timeout=600, size=10, volume_type="replicated", name=f"vol-{index}"
        )
        yield from sleep(60.0)
        while (yield api_call(admin, "get_volume", volume_id=volume["id"]))["status"] != "available":
            yield from sleep(30.0)
        yield api_call(admin, "enable_replication", volume_id=volume["id"])
        fabric.set_write_rate(volume["id"], WRITES_PER_SECOND)

    setup = [runtime.submit(lifecycle(i)) for i in range(volumes)]
    runtime.run(until=runtime.now + 600.0)
    set_up = sum(p.done and p.error is None for p in setup)
    setup_wall = time.perf_counter() - started
    start = runtime.now
    runtime.run(until=start + HOUR)
    wall = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    enabled = len(db.volume_get_all(replication_statuses=["enabled"]))
    lags = [
        fabric.lag(copy)
        for array in fabric.arrays.values()
        for copy in array.copies.values()
        if copy.role == "secondary"
    ]
    return {
        "volumes": volumes,
        "arrays": arrays,
        "set_up": set_up,
        "enabled": enabled,
        "simulated_s": runtime.now,
        "wall_s": wall,
        "cpu_s": cpu,
        "setup_wall_s": setup_wall,
        "ratio": runtime.now / wall,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "writes": sum(
            copy.history.count_at(runtime.now)
            for array in fabric.arrays.values()
            for copy in array.copies.values()
            if copy.history is not None
        ),
        "max_lag_s": max(lags, default=0.0),
    }


def one_call(context: Any, method: str, **args: Any) -> Generator[Any, Any, Any]:
    return (yield api_call(context, method, **args))


def sleep(seconds: float) -> Generator[Any, Any, None]:
    from replisim.sim import Sleep

    yield Sleep(seconds)


def main() -> None:
    volumes = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    arrays = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    result = run(volumes, arrays)
    print(
        f"{result['volumes']} volumes on {result['arrays']} arrays, {result['set_up']} set up, "
        f"{result['enabled']} replicating at the end"
    )
    print(
        f"simulated {result['simulated_s']:.0f} s in {result['wall_s']:.2f} s wall "
        f"({result['cpu_s']:.2f} s CPU; set-up {result['setup_wall_s']:.2f} s wall); "
        f"ratio {result['ratio']:.0f}x; peak RSS {result['peak_rss_mib']:.0f} MiB"
    )
    print(f"writes made: {result['writes']:,}; worst replication lag at the end: {result['max_lag_s']:.3f} s")


if __name__ == "__main__":
    main()
