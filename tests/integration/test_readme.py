"""The README works as written: every code block in it is run here (or compared with what it shows),
each bounded and on 127.0.0.1; a block this file does not know fails the first test, so a new
example cannot go unchecked. The command-line summary must match each verb's ``--help``."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from support import ROOT

README = ROOT / "README.md"
EXAMPLES = ROOT / "examples"
BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class Block:
    line: int
    lang: str
    text: str


def blocks() -> list[Block]:
    found, lines = [], README.read_text(encoding="utf-8").split("\n")
    i = 0
    while i < len(lines):
        fence = re.match(r"^```(\w*)$", lines[i])
        if fence:
            end = lines.index("```", i + 1)
            found.append(Block(i + 1, fence[1], "\n".join(lines[i + 1 : end]) + "\n"))
            i = end
        i += 1
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def workdir(tmp_path: Path) -> Path:
    """A directory laid out as the repository root is for a reader: examples/ and .venv/bin."""
    shutil.copytree(EXAMPLES, tmp_path / "examples")
    (tmp_path / ".venv").mkdir()
    (tmp_path / ".venv" / "bin").symlink_to(BIN)
    return tmp_path


def bash(script: str, cwd: Path, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    """Run ``script`` as a reader's shell would, killing whatever it left in the background."""
    wrapped = f"set -e\ntrap 'kill $(jobs -p) 2>/dev/null || true' EXIT\n{script}"
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.run(
        ["bash", "-c", wrapped],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
    )


def python(code: str, cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )


def ok(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    assert "Traceback" not in done.stderr, done.stderr
    return done.stdout


# -- one check per block, found by a fragment only that block holds ---------------------------------


def quick_start(block: Block, tmp_path: Path) -> None:
    """``make run`` runs the shipped scenario with its own seed (``make test`` is this suite itself)."""
    assert "make run" in block.text and "make test" in block.text
    plain = subprocess.run(
        ["make", "--no-print-directory", "-n", "run"], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert plain.stdout.split()[-2:] == ["run", "primary-dies-async"]
    other = subprocess.run(
        ["make", "--no-print-directory", "-n", "run", "SCENARIO=double-failover"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "--seed" not in other.stdout and "run double-failover" in other.stdout
    seeded = subprocess.run(
        ["make", "--no-print-directory", "-n", "run", "SEED=8"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert seeded.stdout.split()[-2:] == ["--seed", "8"]
    out = ok(bash(".venv/bin/replisim run primary-dies-async --no-progress", workdir(tmp_path)))
    assert out.startswith("PASS primary-dies-async seed=7: 9/9 checks passed")


def command_line(block: Block, tmp_path: Path) -> None:
    """Each line names a verb and options its ``--help`` has; every verb is on a line."""
    from click.testing import CliRunner

    from replisim.cli import main

    documented = set()
    for line in block.text.splitlines():
        words = line.partition("#")[0].split()
        verb = words[1:3] if words[1:3] == ["array", "serve"] else words[1:2]
        documented.add(" ".join(verb))
        helptext = CliRunner().invoke(main, [*verb, "--help"]).output
        for option in re.findall(r"(--[a-z][a-z-]*)", line.partition("#")[0]):
            assert option in helptext, (
                f"README line {line!r}: `replisim {' '.join(verb)} --help` has no {option}"
            )
    listed = set(main.commands) - {"array"} | {"array serve"}
    assert documented == listed


def writing_an_actor(block: Block, tmp_path: Path) -> None:
    """As written, and with LiveRuntime swapped in: both print the answer and end."""
    assert ok(python(block.text, tmp_path)) == "enabled\n"
    assert ok(python(block.text.replace("SimRuntime", "LiveRuntime"), tmp_path, timeout=30)) == "enabled\n"


def control_plane(block: Block, tmp_path: Path) -> None:
    """Twice on the same database: the second run draws no id the first one wrote."""
    cwd = workdir(tmp_path)
    assert ok(python(block.text, cwd)) == "enabled\n"
    assert ok(python(block.text, cwd)) == "enabled\n"


def group_replication(block: Block, tmp_path: Path) -> None:
    """As written: a group enabled, failed over and failed back, as the text after it says."""
    out = ok(python(block.text, workdir(tmp_path)))
    assert out == "enable enabled\nfailover failed-over\nfailover enabled\n"


def conformance(block: Block, tmp_path: Path) -> None:
    """Bounded variant: the emulated driver (the reference) in acme's place."""
    command = " ".join(block.text.replace("\\\n", " ").split())
    command = re.sub(r"\[[^]]*\]", "", command).replace(
        "--driver acme.driver:AcmeDriver --config acme.conf",
        "--driver replisim.drivers.emulated:EmulatedDriver --config examples/cinder.conf",
    )
    out = ok(bash(command, workdir(tmp_path)))
    assert "PASS" in out.splitlines()[0]


def conformance_pytest(block: Block, tmp_path: Path) -> None:
    command = re.sub(r"\[[^]]*\]", "", block.text.strip()).replace(
        "--driver acme.driver:AcmeDriver --driver-config=acme.conf",
        "--driver replisim.drivers.emulated:EmulatedDriver --driver-config=examples/cinder.conf "
        "-q -p no:cacheprovider",
    )
    out = ok(bash(command.replace("pytest", f"{sys.executable} -m pytest", 1), workdir(tmp_path)))
    assert " passed" in out


def cinder_driver(block: Block, tmp_path: Path) -> None:
    """The install line is what ``make test`` did (the test needs Cinder); both conformance runs
    pass as written, and serve comes up (bounded: on a free port, stopped once it reports ready)."""
    from support.cinder import require_cinder

    require_cinder()
    install, *conformance_runs, serve = [
        line.partition("#")[0].strip() for line in block.text.strip().splitlines()
    ]
    assert install.endswith("pip install -q -e '.[cinder]'")
    cwd = workdir(tmp_path)
    for line in conformance_runs:
        assert ok(bash(line, cwd)).startswith("replisim conformance: PASS"), line
    environment, command = serve.split(" ", 1)  # PYTHONPATH=. before the command, as a shell reads it
    done = bash(f"{environment} timeout 90 {command.replace('--port 8776', '--port 0')} | head -n1", cwd)
    assert "listening on http://127.0.0.1:" in done.stdout, done.stderr


def cinder_scenario(block: Block, tmp_path: Path) -> None:
    """The scenario on a Cinder driver runs from a root-like directory with no PYTHONPATH, and
    prints what the block's comment says."""
    from support.cinder import require_cinder

    require_cinder()
    command, _, said = block.text.strip().partition("#")
    out = ok(bash(command.strip() + " --no-progress", workdir(tmp_path)))
    assert out.startswith(said.strip()), out[:500]


def serve_lines(block: Block, tmp_path: Path) -> None:
    """The first serves (bounded: on a free port, stopped after it reports ready); the second has no
    PostgreSQL driver here, so it must say which extra to install."""
    cwd = workdir(tmp_path)
    first, second = [line.partition("#")[0].strip() for line in block.text.strip().splitlines()]
    done = bash(f"timeout 20 {first} --port 0 | head -n1", cwd)
    assert "listening on http://127.0.0.1:" in done.stdout, done.stderr
    done = bash(second, cwd)
    assert done.returncode == 2 and "replisim[postgres]" in done.stderr, done.stderr


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    cwd = workdir(tmp_path)
    process = subprocess.Popen(
        [
            str(BIN / "replisim"),
            "serve",
            "--config",
            "examples/cinder.conf",
            "--port",
            "0",
            "--report-interval",
            "1",
        ],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        url = re.search(r"(http://127\.0\.0\.1:\d+)", process.stdout.readline())
        assert url, "serve printed no URL"
        yield url[1], cwd
    finally:
        process.terminate()
        process.wait(timeout=15)


def cinder_commands(block: Block, tmp_path: Path, url: str, cwd: Path) -> None:
    options = (
        block.text.splitlines()[0].removesuffix("\\").split("cinder", 1)[1]
        + block.text.splitlines()[1].split("type-create")[0]
    )
    script = block.text.replace("\\\n", " ").replace("cinder ...", "cinder" + options)
    script = script.replace("http://127.0.0.1:8776", url)
    out = ok(bash(script, cwd))
    assert "db1" in out and "alpha" in out


def host_failover_commands(block: Block, tmp_path: Path, url: str, cwd: Path) -> None:
    lines = block.text.splitlines()
    options = lines[0].removesuffix("\\").split("cinder", 1)[1] + lines[1].split("freeze-host")[0]
    script = block.text.replace("\\\n", " ").replace("cinder ...", "cinder" + options)
    out = ok(bash(script.replace("http://127.0.0.1:8776", url), cwd))
    assert "failed-over" in out and "beta" in out, out


def cinderclient_actions(block: Block, tmp_path: Path, url: str, cwd: Path) -> None:
    code = block.text.replace("http://127.0.0.1:8776", url)
    ok(python(code + "print(cs.volumes.get(volume_id).status)\n", cwd))


def arrays(block: Block, tmp_path: Path) -> None:
    """On free ports, in this test's directory; the last answer is the promotion."""
    script = block.text.replace("/tmp/arrays", str(tmp_path / "arrays"))
    for port in ("8701", "8702"):
        script = script.replace(port, str(free_port()))
    out = ok(bash(script, workdir(tmp_path / "w")))
    assert '"role"' in out or "primary" in out, out


def storage_config(block: Block, tmp_path: Path) -> None:
    """The shipped file, byte for byte, and it loads complete (tests/live/test_example_configs.py
    serves it on four real arrays, and fails a volume over and back)."""
    assert block.text == (EXAMPLES / "storage-arrays.conf").read_text(encoding="utf-8")
    from replisim.actors.config import load_config

    config = load_config(EXAMPLES / "storage-arrays.conf")
    assert list(config.backends) == ["alpha", "beta", "dr"]
    assert config.backends["beta"].replication_targets == ("alpha",)


def fuzz_lines(block: Block, tmp_path: Path) -> None:
    """Bounded: two worlds, one deep world, and the Dask line on a local cluster."""
    from distributed import LocalCluster

    lines = [line.partition("#")[0].strip() for line in block.text.strip().splitlines()]
    cwd = workdir(tmp_path)
    assert ok(bash(lines[0].replace("1-200", "1-2") + " --no-progress", cwd)).startswith("PASS 2/2 worlds")
    assert ok(bash(lines[1].replace("1-50", "1") + " --no-progress", cwd)).startswith("PASS 1/1 worlds")
    with LocalCluster(n_workers=1, threads_per_worker=1, host="127.0.0.1", dashboard_address=None) as cluster:
        dask_line = lines[2].replace("1-1000", "1").replace("tcp://scheduler:8786", cluster.scheduler_address)
        assert ok(bash(dask_line + " --no-progress", cwd)).startswith("PASS 1/1 worlds")


def sample_output(block: Block, tmp_path: Path) -> None:
    """Output shown as an example: its first line has the form the verb prints."""
    first = block.text.splitlines()[0]
    assert re.match(r"(PASS|FAIL) \d+ (of \d+ )?worlds|coverage over \d+ runs", first), first


def scenario_yaml(block: Block, tmp_path: Path) -> None:
    from replisim.scenarios.runner import run_scenario
    from replisim.scenarios.schema import parse_scenario

    result = run_scenario(parse_scenario(block.text, "README.md"))
    assert result.ok is True, [v.summary for v in result.verdicts if v.ok is not True]


def reports(block: Block, tmp_path: Path) -> None:
    """Bounded: two seeds for the sweep; the compare line compares two runs made here."""
    cwd = workdir(tmp_path)
    script = block.text.replace("--seeds 1-20", "--seeds 1-2 --no-progress")
    prelude = (
        ".venv/bin/replisim run double-failover --out runs/a -q --no-progress\n"
        ".venv/bin/replisim run double-failover --seed 6 --out runs/b -q --no-progress\n"
    )
    script = script.replace("replisim run capacity-weeks", "replisim run capacity-weeks --no-progress -q")
    out = ok(bash(prelude + script, cwd, timeout=400))
    assert "PASS capacity-weeks" in out and "PASS primary-dies-async.yaml: 2 seeds" in out


def bench(block: Block, tmp_path: Path) -> None:
    """Bounded: the recipe names scripts that exist (running them is `make bench`, for figures)."""
    recipe = subprocess.run(
        ["make", "--no-print-directory", "-n", "bench"], cwd=ROOT, capture_output=True, text=True, check=True
    )
    for script in re.findall(r"tests/benchmarks/\S+\.py", recipe.stdout):
        assert (ROOT / script).is_file(), script


Check = Callable[..., None]
CHECKS: dict[str, tuple[Check, bool]] = {  # fragment -> (check, needs a running server)
    "make run      #": (quick_start, False),
    "replisim scenarios [--json]": (command_line, False),
    "class Manager(Actor)": (writing_an_actor, False),
    'load_config("examples/cinder.conf")': (control_plane, False),
    "create_group_type": (group_replication, False),
    "replisim conformance --driver acme": (conformance, False),
    "pytest --driver acme": (conformance_pytest, False),
    "examples/cinder-fake.conf --backend fake": (cinder_driver, False),
    "run cinder-host-failover": (cinder_scenario, False),
    "serve --config examples/cinder.conf   #": (serve_lines, False),
    "type-create gold": (cinder_commands, True),
    "os-enable_replication": (cinderclient_actions, True),
    "freeze-host replisim@alpha": (host_failover_commands, True),
    "mkdir -p /tmp/arrays": (arrays, False),
    "[dr]": (storage_config, False),
    "fuzz --seeds 1-200 --jobs 2": (fuzz_lines, False),
    "FAIL 26 of 300 worlds": (sample_output, False),
    "coverage over 300 runs": (sample_output, False),
    "name: primary-dies-async": (scenario_yaml, False),
    "replisim run capacity-weeks": (reports, False),
    "make bench": (bench, False),
}


def check_of(block: Block) -> tuple[Check, bool]:
    matching = [fragment for fragment in CHECKS if fragment in block.text]
    assert len(matching) == 1, (
        f"README.md:{block.line}: a {block.lang or 'plain'} block {matching or 'no check'} knows"
    )
    return CHECKS[matching[0]]


def test_every_readme_block_has_exactly_one_check() -> None:
    found = blocks()
    assert len(found) >= 15
    used = {check_of(block) for block in found}
    assert len(used) == len(set(CHECKS.values()))  # and no check is left without its block


@pytest.mark.parametrize("block", [b for b in blocks() if not check_of(b)[1]], ids=lambda b: f"line{b.line}")
def test_the_readme_block_works_as_written(block: Block, tmp_path: Path) -> None:
    check_of(block)[0](block, tmp_path)


@pytest.mark.live
def test_the_cinder_blocks_work_against_a_served_control_plane(
    server: tuple[str, Path], tmp_path: Path
) -> None:
    url, cwd = server
    for block in blocks():
        check, needs_server = check_of(block)
        if needs_server:
            check(block, tmp_path, url, cwd)
