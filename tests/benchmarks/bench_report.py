"""Report generation for a 10,000-volume run: must take under 15 s.

Run: ``.venv/bin/python tests/benchmarks/bench_report.py [VOLUMES]`` (or ``make bench``).
Simulates a scenario like the shipped ``primary-dies-async`` scaled to VOLUMES replicated volumes
(every one created, enabled, written to, failed over when its array crashes), writes the run's
record as ``replisim run`` does, then times ``write_report`` on it: figures, seven plots, the HTML
page and report.json. Prints the run's size and the report's wall time; exits 1 over the budget.
"""

from __future__ import annotations

import json
import logging
import sys
import tempfile
import time
from pathlib import Path

from replisim.reports.report import write_report
from replisim.scenarios.runner import run_scenario, write_run
from replisim.scenarios.schema import load_scenario

BUDGET_S = 15.0
PAIRS = 10  # each primary backend holds VOLUMES / PAIRS volumes and replicates to its own secondary


def scenario(volumes: int) -> str:
    """primary-dies-async at scale: PAIRS async pairs, two primaries crash, the operator fails them over."""
    backends = {}
    for i in range(PAIRS):
        backends[f"p{i}"] = {"capacity_gb": 500000, "replication_targets": [f"s{i}"]}
        backends[f"s{i}"] = {"capacity_gb": 500000, "replication_targets": [f"p{i}"]}
    return json.dumps(
        {
            "name": "report-benchmark",
            "seed": 7,
            "duration": "2h",
            "heal": "15m",
            "topology": {
                "backends": backends,
                "links": [
                    {"from": f"{a}{i}", "to": f"{b}{i}", "bandwidth_mbps": 100000, "latency": "5s"}
                    for i in range(PAIRS)
                    for a, b in (("p", "s"), ("s", "p"))
                ],
            },
            "volume_types": {
                f"t{i}": {"replication": "enabled", "volume_backend_name": f"p{i}"} for i in range(PAIRS)
            },
            "workload": {
                "tenants": 20,
                "initial_volumes": volumes,
                "create": {"rate": "1/m", "size_gb": [10, 100], "types": {f"t{i}": 1 for i in range(PAIRS)}},
                "writes": {"per_volume_rate": "1/s", "size_kb": 64},
                "policies": [
                    {
                        "when": "array_down",
                        "backend": f"p{i}",
                        "action": "failover_replication",
                        "after": "30s",
                    }
                    for i in (0, 1)
                ],
            },
            "faults": {
                "schedule": [
                    {"kind": "array.crash", "target": f"p{i}", "start": "1h", "duration": "50m"}
                    for i in (0, 1)
                ]
            },
        }
    )


def main(volumes: int = 10_000) -> int:
    quiet = logging.getLogger("replisim")  # the control plane's log of the crash is not the point here
    quiet.addHandler(logging.NullHandler())
    quiet.propagate = False
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "report-benchmark.yaml"
        path.write_text(scenario(volumes))
        started = time.perf_counter()
        result = run_scenario(load_scenario(path))
        simulated = time.perf_counter() - started
        out = Path(tmp) / "run"
        write_run(result, out)
        size = (out / "run.json").stat().st_size
        started = time.perf_counter()
        data = write_report(out)
        took = time.perf_counter() - started
    ops = sum(op["count"] for op in data["operations"].values())
    print(
        f"run: {volumes:,} initial volumes, {ops:,} operations, {data['failovers']['summary']['count']:,} "
        f"failovers, {len(data['capacity']['p0']['series']['time']):,} samples; "
        f"run.json {size / 1e6:.1f} MB; simulated in {simulated:.1f} s wall"
    )
    print(f"report: {took:.2f} s wall (budget {BUDGET_S:.0f} s)")
    return 0 if took < BUDGET_S else 1


if __name__ == "__main__":
    raise SystemExit(main(*(int(arg) for arg in sys.argv[1:])))
