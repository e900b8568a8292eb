"""A random-world sweep on Dask: worlds per minute on 1 and on 2 local workers, and the speed-up.

Run: ``.venv/bin/python tests/benchmarks/bench_sweep.py [--seeds 1-80] [--workers 1 2]``.

Each worker count gets a fresh ``LocalCluster`` (one process per worker, one thread each, bound to
127.0.0.1), and the same seeds are swept through it exactly as ``replisim fuzz --dask ADDRESS``
sweeps them (``sweep.sweep`` with ``console.run_world``). The cluster is started and warmed (every
worker imports replisim) before the clock starts, so the figure is the sweep, not the start-up.
A run's digests must be the same on every worker count: the figures are of the same work.

The same sweep on local processes (``--jobs``) is printed beside it, since a cluster is only
worth its scheduler if it is as fast. On a shared machine the speed-up is bounded by the cores
that are actually free: the load average is printed with each row.
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Any

from replisim.console import run_world
from replisim.scenarios.fuzz import world_source
from replisim.scenarios.sweep import parse_seeds, sweep


def _warm() -> bool:
    import replisim.console  # noqa: F401  (the import a world's first run would otherwise pay)

    return True


def on_dask(seeds: list[int], workers: int) -> tuple[float, dict[int, str]]:
    from dask.distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster,
        Client(cluster) as client,
    ):
        client.run(_warm)
        result = sweep(
            run_world, world_source("ci"), seeds, dask_address=cluster.scheduler_address, progress=False
        )
    return result.wall_seconds, _digests(result.runs)


def on_processes(seeds: list[int], jobs: int) -> tuple[float, dict[int, str]]:
    result = sweep(run_world, world_source("ci"), seeds, jobs=jobs, progress=False)
    return result.wall_seconds, _digests(result.runs)


def _digests(runs: Any) -> dict[int, str]:
    return {seed: run["digest"] for seed, run in runs.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", default="1-80", help="the worlds to sweep (1-80)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    seeds = parse_seeds(args.seeds)
    print(f"{len(seeds)} random worlds (ci profile), seeds {args.seeds}; {os.cpu_count()} cores")
    print("where               workers   wall s  worlds/min  speed-up  load avg")
    for name, runner in (("dask LocalCluster", on_dask), ("local processes", on_processes)):
        base = None
        digests = None
        for workers in args.workers:
            wall, seen = runner(seeds, workers)
            if digests is not None and seen != digests:
                raise SystemExit(f"{name}: {workers} workers gave other digests than {args.workers[0]}")
            digests = seen
            base = base or wall
            load = os.getloadavg()[0]
            print(
                f"{name:<20}{workers:>7} {wall:8.1f} {len(seeds) / wall * 60:11.1f} "
                f"{base / wall:8.2f}x {load:9.2f}",
                flush=True,
            )
        time.sleep(1)


if __name__ == "__main__":
    main()
