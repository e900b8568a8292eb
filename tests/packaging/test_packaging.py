"""The wheel installs under the one import root `replisim`, with its console script."""

from __future__ import annotations

import gzip
import hashlib
import json
import subprocess
import sys
import zipfile
from pathlib import Path

from support import ROOT, build_wheel


def test_wheel_has_a_single_import_root_and_the_console_script(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path)
    names = zipfile.ZipFile(wheel).namelist()
    tops = {name.split("/")[0] for name in names}
    assert tops == {"replisim", next(t for t in tops if t.endswith(".dist-info"))}
    assert "replisim/sim/simruntime.py" in names and "replisim/actors/manager.py" in names
    # every module and shipped scenario of the tree, so a package missing from pyproject is caught
    packages = [top for top in ROOT.iterdir() if (top / "__init__.py").exists() and top.name != "build"]
    sources = [
        *ROOT.glob("*.py"),
        *(p for top in packages for p in top.rglob("*.py")),
        *(ROOT / "scenarios").glob("*.yaml"),
    ]
    missing = sorted({f"replisim/{p.relative_to(ROOT)}" for p in sources} - set(names))
    assert not missing, missing
    assert not any(n.startswith("replisim/tests/") for n in names)
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "replisim = replisim.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()


def test_cli_version_and_help_on_every_verb() -> None:
    exe = Path(sys.executable).with_name("replisim")
    assert (
        "replisim, version"
        in subprocess.run([exe, "--version"], capture_output=True, text=True, check=True).stdout
    )
    help_text = subprocess.run([exe, "--help"], capture_output=True, text=True, check=True).stdout
    verbs = [line.split()[0] for line in help_text.split("Commands:")[1].splitlines() if line.strip()]
    assert verbs
    for verb in verbs:
        out = subprocess.run([exe, verb, "--help"], capture_output=True, text=True, check=True).stdout
        assert f"Usage: replisim {verb}" in out


def test_unknown_scenario_is_bad_input_with_exit_2() -> None:
    exe = Path(sys.executable).with_name("replisim")
    done = subprocess.run([exe, "run", "no-such-scenario"], capture_output=True, text=True, check=False)
    assert done.returncode == 2 and "no-such-scenario: no shipped scenario of that name" in done.stderr


def test_run_writes_the_same_trace_for_the_same_seed(tmp_path: Path) -> None:
    exe = Path(sys.executable).with_name("replisim")
    traces = []
    for name in ("a", "b"):
        out = subprocess.run(
            [exe, "run", "primary-dies-async", "--seed", "5", "--no-progress", "--out", str(tmp_path / name)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert out.startswith("PASS primary-dies-async seed=5")
        traces.append(gzip.decompress((tmp_path / name / "trace.jsonl.gz").read_bytes()))
    assert traces[0] == traces[1] and traces[0].count(b"\n") > 1000
    recorded = json.loads((tmp_path / "a" / "verdicts.json").read_text())["digest"]
    assert hashlib.sha256(traces[0]).hexdigest() == recorded  # the file is the trace the digest names
