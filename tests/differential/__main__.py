"""``python -m differential`` (from tests/): run the differential suite and print its report.

--update-known       rewrite known_differences.yaml from this run (reasons kept)
--backends a,b       the backends both servers get (default: alpha)
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from . import suite
from .servers import BACKENDS, NotInstalled


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m differential", description=__doc__.splitlines()[0])
    parser.add_argument("--update-known", action="store_true", help="rewrite known_differences.yaml")
    parser.add_argument("--backends", default=",".join(BACKENDS), help="comma-separated backend names")
    args = parser.parse_args(argv)
    backends = tuple(b.strip() for b in args.backends.split(",") if b.strip())
    try:
        known = suite.load_known()
        with tempfile.TemporaryDirectory(prefix="differential-") as workdir:
            run = suite.run(Path(workdir), backends)
    except (NotInstalled, ValueError) as exc:
        print(f"differential: {exc}", file=sys.stderr)
        return 2
    if args.update_known:
        known = suite.write_known(run)
    print(suite.report(run, known))
    unexplained = [k for k, r in run.results.items() if r.outcome == "differs" and k not in known]
    fixed = [k for k in known if run.results[k].outcome != "differs"]
    if fixed:
        print(f"\nknown differences that no longer differ (remove them): {', '.join(fixed)}")
    return 1 if unexplained or fixed else 0


if __name__ == "__main__":
    sys.exit(main())
