"""A user's mistakes on the command line end in exit 2 and a message naming what was wrong, never a
traceback, and they are caught before any work runs; a closed stdout loses lines, never the run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from replisim import console
from replisim.cli import main

REPLISIM = Path(sys.executable).with_name("replisim")


def invoke(*args: str) -> tuple[int, str]:
    """Run the CLI in-process; (exit code, stdout + stderr). An exception other than SystemExit is a
    traceback a user would have seen."""
    result = CliRunner().invoke(main, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exc_info
    return result.exit_code, result.output


@pytest.fixture
def a_file(tmp_path: Path) -> Path:
    path = tmp_path / "afile"
    path.write_text("not a directory\n")
    return path


@pytest.fixture
def no_sweep(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any sweep started is a failure: the mistake must be caught before the work."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the sweep ran before its inputs were checked")

    monkeypatch.setattr(console, "sweep", refuse)
    monkeypatch.setattr(console, "run_scenario", refuse)


@pytest.mark.usefixtures("no_sweep")
@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["run", "double-failover", "--out", "{file}/run"], "--out {file}/run: cannot write there"),
        (["run", "double-failover", "--out", "/proc/replisim-run"], "--out /proc/replisim-run: cannot write"),
        (["run", "double-failover", "--out", "{file}"], "Invalid value for '--out': Directory"),
        (["chaos", "double-failover", "--seeds", "1-3", "--out", "{file}/s"], "--out {file}/s: cannot write"),
        (["fuzz", "--seeds", "1-3", "--out", "/proc/replisim-fuzz"], "--out /proc/replisim-fuzz: cannot"),
        (["chaos", "double-failover", "--seeds", "1", "--dask", "notanaddress"], "'notanaddress': no port"),
        (["chaos", "double-failover", "--seeds", "1", "--dask", "tcp://127.0.0.1"], "127.0.0.1': no port"),
        (["chaos", "double-failover", "--seeds", "1", "--dask", ""], "--dask: the address is empty"),
        (["chaos", "double-failover", "--seeds", "1", "--dask", "  "], "--dask: the address is empty"),
        (["chaos", "double-failover", "--seeds", "1", "--dask", "tcp://h:99999"], "port 99999 is out of"),
        (["chaos", "double-failover", "--seeds", "1", "--dask", "http://h:8786"], "unknown protocol 'http'"),
        (
            ["chaos", "double-failover", "--seeds", "1", "--dask", "tcp://127.0.0.1:8786", "--jobs", "2"],
            "--jobs and --dask: give one",
        ),
        (["fuzz", "--seeds", "1", "--dask", "tcp://127.0.0.1:8786", "--jobs", "2"], "--jobs and --dask"),
        (["run", "{dir}"], "a directory, not a scenario file"),
        (["chaos", "{dir}", "--seeds", "1"], "a directory, not a scenario file"),
        (["report", "{file}"], "a file, not a run directory"),
        (["replay", "{file}"], "afile:1: must be a mapping"),
    ],
)
def test_a_mistake_is_exit_2_naming_it_before_anything_runs(
    args: list[str], says: str, a_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    fill = {"file": str(a_file), "dir": str(tmp_path)}
    code, output = invoke(*(arg.format(**fill) for arg in args))
    assert code == 2, output
    assert says.format(**fill) in output
    assert "Traceback" not in output
    assert not (tmp_path / "runs").exists()  # nothing half-written


def test_a_run_directory_given_as_a_scenario_says_which_verbs_take_one(tmp_path: Path) -> None:
    (tmp_path / "verdicts.json").write_text("{}")
    code, output = invoke("run", str(tmp_path))
    assert code == 2 and "`replisim replay` or `replisim report` take those" in output


def test_the_dask_address_check_accepts_what_dask_accepts() -> None:
    from replisim.scenarios.sweep import check_dask_address

    for address in ("tcp://127.0.0.1:8786", "127.0.0.1:8786", "tls://sched.example:8786", "tcp://[::1]:8786"):
        assert check_dask_address(address) == address


def test_a_closed_stdout_loses_lines_never_the_run_nor_its_exit_code(tmp_path: Path) -> None:
    """The reader is gone before the first line (the worst ``| head -n1``): the run still writes its
    record and report, exits with its verdict's code, and prints no traceback."""
    read, write = os.pipe()
    os.close(read)
    try:
        done = subprocess.run(
            [str(REPLISIM), "run", "double-failover", "--no-progress", "--out", "out"],
            stdout=write,
            stderr=subprocess.PIPE,
            text=True,
            cwd=tmp_path,
            check=False,
        )
    finally:
        os.close(write)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr
    for name in ("run.json", "verdicts.json", "report.html", "report.json", "scenario.yaml"):
        assert (tmp_path / "out" / name).is_file(), name


def test_head_n1_shows_the_verdict_and_the_pipeline_exits_with_the_runs_code(tmp_path: Path) -> None:
    done = subprocess.run(
        ["bash", "-c", f"set -o pipefail; {REPLISIM} run double-failover --no-progress | head -n1"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("PASS double-failover seed=5") and done.stdout.count("\n") == 1
    assert (tmp_path / "runs" / "double-failover-seed5" / "report.html").is_file()


def test_a_json_reader_gets_json_alone(tmp_path: Path) -> None:
    code, output = invoke("run", "double-failover", "--json", "--out", str(tmp_path / "r"))
    data = json.loads(output)
    assert code == 0 and data["status"] == "pass" and data["exit_code"] == 0
    assert data["seed"] == 5 and set(data["verdicts"]) >= {"no_volume_lost", "data"}
    assert data["out"] == str(tmp_path / "r") and data["replay"] == f"replisim replay {tmp_path / 'r'}"
    assert (
        data["operations"]["count"]
        == data["operations"]["ok"] + data["operations"]["fail"] + (data["operations"]["info"])
    )


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A recorded run of a scenario whose control plane logs (lost casts are reaped), written from one
    directory by its relative path."""
    where = tmp_path_factory.mktemp("recorded")
    done = subprocess.run(
        [str(REPLISIM), "run", "rpc-loss-on-casts", "--no-progress", "--out", "run", "--quiet"],
        capture_output=True,
        text=True,
        cwd=where,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "PASS rpc-loss-on-casts seed=9: 9/9 checks passed\n"  # --quiet: the verdict only
    assert (where / "run" / "run.log").stat().st_size > 0
    return where / "run"


def test_replay_reads_the_scenario_stored_in_the_run_from_any_directory(
    recorded: Path, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    done = subprocess.run(
        [str(REPLISIM), "replay", str(recorded)], capture_output=True, text=True, cwd=elsewhere, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "same trace as recorded" in done.stdout
    # the control plane's log went to the run directory, not over the verdict
    assert len(done.stdout.splitlines()) < 25 and (recorded / "replay.log").stat().st_size > 0
    assert "INFO" not in done.stdout + done.stderr


def test_replay_refuses_another_seed_unless_forced(recorded: Path) -> None:
    code, output = invoke("replay", str(recorded), "--seed", "6")
    assert code == 2 and "recorded with seed 9" in output and "--force" in output
    code, output = invoke("replay", str(recorded), "--seed", "6", "--force", "--quiet")
    assert code in (0, 1) and "not the recording's 9: not compared" in output


def test_a_diverged_replay_and_a_failed_check_have_distinct_codes(recorded: Path, tmp_path: Path) -> None:
    tampered = tmp_path / "tampered"
    tampered.mkdir()
    for path in recorded.iterdir():
        (tampered / path.name).write_bytes(path.read_bytes())
    verdicts = json.loads((tampered / "verdicts.json").read_text())
    verdicts["digest"] = "0" * 64
    (tampered / "verdicts.json").write_text(json.dumps(verdicts))
    code, output = invoke("replay", str(tampered), "--quiet")
    assert code == console.DIVERGED == 4 and "DIVERGED from the recording" in output
    assert console.DIVERGED not in console.EXIT_CODES.values()


@pytest.mark.parametrize(
    ("verb", "args"),
    [
        ("conformance", ["--driver", "cinder.tests.fake_driver:FakeLoggingVolumeDriver"]),
        ("serve", ["--port", "0"]),
    ],
)
def test_a_cinder_driver_without_the_cinder_extra_names_the_extra(
    tmp_path: Path, verb: str, args: list[str]
) -> None:
    """In a process where Cinder cannot be imported (as without replisim[cinder]), a Cinder driver
    named on the command line or in a config's volume_driver is bad input that says what to install."""
    config = tmp_path / "cinder.conf"
    config.write_text(
        "[DEFAULT]\nenabled_backends = fake\n[fake]\n"
        "volume_driver = cinder.tests.fake_driver.FakeLoggingVolumeDriver\n"
    )
    hide = "import sys; sys.modules['cinder'] = None; from replisim.cli import main; main()"
    done = subprocess.run(
        [sys.executable, "-c", hide, verb, "--config", str(config), *args],
        capture_output=True,
        check=False,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done
    assert "pip install 'replisim[cinder]'" in done.stderr + done.stdout
    assert "Traceback" not in done.stderr


def test_a_scenario_on_a_cinder_driver_without_the_cinder_extra_names_the_extra(tmp_path: Path) -> None:
    """A scenario's topology.config naming a Cinder driver runs that driver: without Cinder it is
    bad input before anything runs, at the config's line, saying what to install."""
    (tmp_path / "cinder.conf").write_text(
        "[DEFAULT]\nenabled_backends = fake\n[fake]\n"
        "volume_driver = cinder.tests.fake_driver.FakeLoggingVolumeDriver\n"
    )
    scenario = tmp_path / "on-cinder.yaml"
    scenario.write_text("name: on-cinder\nduration: 10m\ntopology:\n  config: cinder.conf\n")
    hide = "import sys; sys.modules['cinder'] = None; from replisim.cli import main; main()"
    done = subprocess.run(
        [sys.executable, "-c", hide, "run", str(scenario), "--out", str(tmp_path / "run")],
        capture_output=True,
        check=False,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done
    assert f"{scenario}:4: topology.config: " in done.stderr
    assert "[fake] volume_driver" in done.stderr and "pip install 'replisim[cinder]'" in done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "run").exists()


def test_a_scenario_on_a_live_only_driver_is_refused_before_it_runs(tmp_path: Path) -> None:
    """The storage driver speaks HTTP to array processes in wall-clock time: a simulated run on it
    could not replay from its seed, so its config in a scenario is bad input, not a silent swap."""
    (tmp_path / "cinder.conf").write_text(
        "[DEFAULT]\nenabled_backends = site\n[site]\n"
        "volume_driver = replisim.drivers.storage.StorageDriver\nsan_ip = 127.0.0.1\nsan_port = 9\n"
    )
    scenario = tmp_path / "on-storage.yaml"
    scenario.write_text("name: on-storage\nduration: 10m\ntopology:\n  config: cinder.conf\n")
    done = subprocess.run(
        [sys.executable, "-m", "replisim", "run", str(scenario), "--out", str(tmp_path / "run")],
        capture_output=True,
        check=False,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done
    assert f"{scenario}:4: topology.config: " in done.stderr
    assert "[site] volume_driver" in done.stderr and "could not replay from its seed" in done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "run").exists()
