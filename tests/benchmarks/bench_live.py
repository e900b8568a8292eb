"""Live overhead: a volume create through the REST API against the same create as a direct driver
call, in one run, on one real storage array process.

Run: ``.venv/bin/python tests/benchmarks/bench_live.py [N]`` (or ``make bench``). Prints median
and p99 of: the REST create (python-cinderclient's POST until its 202), the REST create until the
volume is ``available`` (API, scheduler, manager, driver host, driver, array), and the driver's
``create_volume`` called directly on the same array. The ratio is the control plane's overhead.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: the cinderclient helper

from support.cinderapi import connect

from replisim.actors.config import parse_config
from replisim.actors.serve import start
from replisim.drivers.storage.driver import StorageDriver
from replisim.drivers.storage.process import StorageProcess

PASSWORD = "bench-s3cret"


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered) * 1000, ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))] * 1000


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    with tempfile.TemporaryDirectory() as tmp:
        array = StorageProcess(Path(tmp) / "alpha", "alpha", PASSWORD).start()
        try:
            conf = parse_config(
                "[DEFAULT]\nenabled_backends = alpha\nadmin_users = admin\n\n[alpha]\n"
                "volume_driver = replisim.drivers.storage.StorageDriver\nvolume_backend_name = alpha\n"
                f"san_ip = 127.0.0.1\nsan_port = {array.port}\nsan_login = admin\n"
                f"san_password = {PASSWORD}\n"
            )
            server = start(conf, f"sqlite:///{tmp}/bench.db", report_interval=1.0)
            try:
                server.not_ready(20.0)
                cs = connect(server.url, "admin", "bench")
                posted, available = [], []
                for i in range(count):
                    began = time.perf_counter()
                    volume = cs.volumes.create(1, name=f"bench-{i}")
                    posted.append(time.perf_counter() - began)
                    while cs.volumes.get(volume.id).status == "creating":
                        time.sleep(0.001)
                    available.append(time.perf_counter() - began)
                backend = conf.backend("alpha")
                driver = StorageDriver(backend.driver_configuration(), backend.host)
                driver.do_setup(None)
                direct = []
                for i in range(count):
                    began = time.perf_counter()
                    driver.create_volume({"id": f"direct-{i:05d}", "size": 1})
                    direct.append(time.perf_counter() - began)
            finally:
                server.stop()
        finally:
            array.stop()
    rows = [
        ("REST create (POST to 202)", posted),
        ("REST create to available", available),
        ("driver create_volume, direct", direct),
    ]
    print(f"{count} creates each, one storage array process on 127.0.0.1")
    for label, samples in rows:
        median, p99 = percentiles(samples)
        print(f"  {label:<30} median {median:7.2f} ms   p99 {p99:7.2f} ms")
    ratio = statistics.median(available) / statistics.median(direct)
    print(f"  control-plane overhead: {ratio:.1f}x the direct driver call (median, to available)")


if __name__ == "__main__":
    main()
