"""The conformance suite against its two zoos: the pass table of the correct drivers (driver x
profile) and, for each broken driver, the checks that caught it against the checks named for it.

Run: ``.venv/bin/python tests/benchmarks/bench_conformance_zoo.py``. Exit 1 if a correct driver
fails anything or a broken one is caught by other checks than its own (the quality tests assert
the same; this prints the figures).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/, for support.*

from support import conformance_zoo as zoo

from replisim.drivers.conformance import load_target, run_suite


def main() -> int:
    wrong = 0
    started = time.perf_counter()
    width = max(len(d.__name__) for d in zoo.CORRECT)
    print(
        f"Correct drivers: checks passed/run per profile\n{'driver':<{width}}  "
        + "  ".join(f"{p:>12}" for p in zoo.CORRECT_PROFILES)
    )
    for driver in zoo.CORRECT:
        cells = []
        for profile in zoo.CORRECT_PROFILES:
            with tempfile.TemporaryDirectory() as tmp:
                path = zoo.path_of(driver)
                report = run_suite(load_target(path, str(zoo.config(Path(tmp), profile, tmp, driver=path))))
            passed, ran = report.count("passed"), len(report.outcomes)
            wrong += passed != ran
            cells.append(f"{passed:>5}/{ran:<3}" + (" PASS" if passed == ran else " FAIL"))
        print(f"{driver.__name__:<{width}}  " + "  ".join(f"{c:>12}" for c in cells))
    broken = {**zoo.ZOO, **zoo.BORN_ENABLED_ZOO}
    print(f"\nBroken drivers ({len(broken)}, managed profile): the checks that failed")
    for driver, named in broken.items():
        with tempfile.TemporaryDirectory() as tmp:
            path = f"support.conformance_zoo:{driver.__name__}"
            report = run_suite(load_target(path, str(zoo.config(Path(tmp), "managed", tmp))))
        caught = {o.check.id for o in report.outcomes if o.status == "failed"}
        verdict = "exact" if caught == named else f"EXPECTED {', '.join(sorted(named))}"
        wrong += caught != named
        print(f"  {driver.__name__:<44} {', '.join(sorted(caught))}  [{verdict}]")
    print(f"\n{time.perf_counter() - started:.1f} s; {'all as expected' if not wrong else f'{wrong} WRONG'}")
    return 1 if wrong else 0


if __name__ == "__main__":
    raise SystemExit(main())
