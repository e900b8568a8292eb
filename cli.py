"""The ``replisim`` command line: one verb per job, exit codes 0 ok, 1 checks failed, 2 bad input,
3 unknown (a checker raised, or a conformance run checked nothing). The verbs' bodies are in
``console`` and the layers below; this module only declares them."""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from replisim import __version__
from replisim.drivers.contract import CALL_TIMEOUT

SCENARIOS = Path(__file__).parent / "scenarios"


def _shipped_names() -> str:
    """The shipped scenarios' names, for help texts (read from the folder: no scenario is parsed)."""
    return "\n    ".join(f"  {path.stem}" for path in sorted(SCENARIOS.glob("*.yaml")))


class _PipeSafeWriter(io.RawIOBase):
    """Standard output that a closed reader (``replisim run X | head -n1``) cannot break: once the
    pipe is gone, further output is dropped, so the verb still finishes its work and exits with its
    own code instead of a BrokenPipeError traceback and exit 1."""

    def __init__(self, fd: int):
        super().__init__()
        self._fd = fd
        self.broken = False

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self._fd

    def isatty(self) -> bool:
        return os.isatty(self._fd)

    def write(self, data: Any) -> int:
        size = len(memoryview(data).cast("B"))
        if not self.broken:
            try:
                return os.write(self._fd, data)
            except BrokenPipeError:
                self.broken = True
        return size


def _pipe_safe_stdout() -> None:
    """Swap in ``_PipeSafeWriter`` when stdout is the process's own (not a test runner's capture)."""
    stream = sys.__stdout__
    if stream is None or sys.stdout is not stream:  # already swapped, or captured by a test
        return
    try:
        fd = stream.fileno()
    except (OSError, ValueError):
        return
    stream.flush()
    sys.stdout = io.TextIOWrapper(
        io.BufferedWriter(_PipeSafeWriter(fd)),
        encoding=stream.encoding,
        errors=stream.errors,
        line_buffering=True,
    )


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="replisim")
def main() -> None:
    """Simulate and test the replication control plane of block storage (Cinder Replication V2)."""
    _pipe_safe_stdout()


def _scenario_errors(fn: Callable[[], int]) -> None:
    """Run a scenario verb; a user's mistake is exit 2 with the message, not a traceback. A
    scenario's ``topology.config`` may name a driver module of the current directory (such as
    ``examples.cinder_replicated`` from the repository root), as ``conformance --driver`` may."""
    from replisim.drivers.conformance.target import import_from_cwd
    from replisim.scenarios.schema import ScenarioError
    from replisim.scenarios.sweep import SweepError

    import_from_cwd()
    try:
        code = fn()
    except (ScenarioError, SweepError) as err:
        click.secho(f"error: {err}", fg="red", err=True)
        raise SystemExit(2) from None
    raise SystemExit(code)


def _schedule(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    from replisim.sim.schedule import parse

    try:
        return None if value is None else parse(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


schedule_option = click.option(
    "--schedule",
    default=None,
    metavar="NAME",
    callback=_schedule,
    help="How events due at one simulated instant are ordered: fifo, random, pct or pct:DEPTH "
    "(default: the scenario's own, else fifo; each fuzz world draws one).",
)


def _quiet_options(fn: Callable[..., None]) -> Callable[..., None]:
    """``--quiet`` and ``--log-level``: what the terminal shows, and what the log file keeps."""
    fn = click.option(
        "--log-level",
        type=click.Choice(["debug", "info", "warning", "error"], case_sensitive=False),
        default="info",
        show_default=True,
        help="What the control plane's log file in the output directory keeps (never the terminal).",
    )(fn)
    return click.option(
        "--quiet", "-q", is_flag=True, help="Print the verdict only (and the checks that did not pass)."
    )(fn)


@main.command(
    help=f"""Run one SCENARIO (a shipped name or a YAML file) in simulated time and check it.

    \b
    Shipped scenarios (`replisim scenarios` says what each is for):
    {_shipped_names()}

    Prints the verdict first, then the numbers; the control plane's log goes to run.log in the output
    directory. Exit 0 if every check passed, 1 if one failed, 2 on bad input, 3 if a checker raised (the
    verdict is unknown, its error is in the output).
    """
)
@click.argument("scenario")
@click.option("--seed", type=int, default=None, help="Master seed (default: the scenario's).")
@click.option(
    "--out",
    type=click.Path(file_okay=False),
    default=None,
    help="Directory for the trace, history, verdicts and report (default runs/NAME-seedN).",
)
@schedule_option
@click.option("--progress/--no-progress", default=True, help="Show a progress bar on stderr.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON on stdout (nothing else).")
@_quiet_options
def run(
    scenario: str,
    seed: int | None,
    out: str | None,
    progress: bool,
    schedule: str | None,
    *,
    as_json: bool,
    quiet: bool,
    log_level: str,
) -> None:
    from replisim.console import run_command

    _scenario_errors(
        lambda: run_command(
            scenario,
            seed,
            out,
            progress and not quiet,
            quiet=quiet,
            as_json=as_json,
            log_level=log_level,
            schedule=schedule,
        )
    )


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print the list as JSON.")
def scenarios(as_json: bool) -> None:
    """List the shipped scenarios, each with what it is for; `replisim run NAME` runs one."""
    from replisim.console import scenarios_command

    _scenario_errors(lambda: scenarios_command(as_json))


@main.command()
@click.argument("scenario")
@click.option("--seeds", required=True, help="Seeds to run: 1-500, or 1-10,42.")
@click.option(
    "--jobs", type=click.IntRange(min=1), default=None, help="Local worker processes (default: cores)."
)
@click.option(
    "--dask",
    "dask_address",
    default=None,
    metavar="ADDRESS",
    help="Run on the Dask cluster at this scheduler address (tcp://host:port) instead; not with --jobs.",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False),
    default=None,
    help="Where sweep.json, the report and chaos.log go (default runs/NAME-chaos).",
)
@click.option(
    "--shrink/--no-shrink", default=True, help="Shrink the first failing seed to a minimal scenario."
)
@schedule_option
@click.option("--progress/--no-progress", default=True, help="Show a progress bar on stderr.")
@click.option("--json", "as_json", is_flag=True, help="Print the sweep as JSON on stdout (nothing else).")
@_quiet_options
def chaos(
    scenario: str,
    seeds: str,
    *,
    jobs: int | None,
    dask_address: str | None,
    out: str | None,
    shrink: bool,
    schedule: str | None,
    progress: bool,
    as_json: bool,
    quiet: bool,
    log_level: str,
) -> None:
    """Run SCENARIO over many seeds and report which seeds failed which checks.

    Exit 0 if every seed passed, 1 if one did not, 2 on bad input (checked before the sweep runs:
    the scenario, the seeds, the Dask address, the output directory).
    """
    from replisim.console import chaos_command

    _scenario_errors(
        lambda: chaos_command(
            scenario,
            seeds,
            jobs=jobs,
            dask=dask_address,
            out=out,
            shrink_failures=shrink,
            progress=progress and not quiet,
            as_json=as_json,
            quiet=quiet,
            log_level=log_level,
            schedule=schedule,
        )
    )


@main.command()
@click.option("--seeds", required=True, help="Worlds to run, by seed: 1-200, or 1-10,42.")
@click.option(
    "--profile",
    default="ci",
    show_default=True,
    metavar="NAME",
    help="How big and long the worlds are: ci (small, fast) or deep (bigger, longer).",
)
@click.option(
    "--jobs", type=click.IntRange(min=1), default=None, help="Local worker processes (default: cores)."
)
@click.option(
    "--dask",
    "dask_address",
    default=None,
    metavar="ADDRESS",
    help="Run on the Dask cluster at this scheduler address (tcp://host:port) instead; not with --jobs.",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False),
    default=None,
    help="Where fuzz.json and the failing worlds go (default runs/fuzz-FIRST-LAST).",
)
@click.option(
    "--shrink/--no-shrink",
    default=True,
    help="Shrink the first failing world of each failed check to a minimal scenario.",
)
@schedule_option
@click.option("--progress/--no-progress", default=True, help="Show a progress bar on stderr.")
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"], case_sensitive=False),
    default="info",
    show_default=True,
    help="What fuzz.log in the output directory keeps of shrinking's control-plane log.",
)
def fuzz(
    *,
    seeds: str,
    profile: str,
    jobs: int | None,
    dask_address: str | None,
    out: str | None,
    shrink: bool,
    schedule: str | None,
    progress: bool,
    log_level: str,
) -> None:
    """Run random worlds nobody wrote: each seed draws a topology, workload, operator and faults.

    Prints the verdict first, the failing seeds by check with the command that replays each world,
    then a coverage table (which fault kinds met which operations and statuses, which transitions
    were taken). Exit 0 if every world passed, 1 if one failed, 2 on bad input.
    """
    from replisim.console import fuzz_command

    _scenario_errors(
        lambda: fuzz_command(
            seeds,
            profile=profile,
            jobs=jobs,
            dask=dask_address,
            out=out,
            shrink_failures=shrink,
            progress=progress,
            schedule=schedule,
            log_level=log_level,
        )
    )


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print the catalog as JSON.")
def faults(as_json: bool) -> None:
    """List every kind of fault a scenario can name: its target, parameters and where it applies.

    Each kind runs in simulated time (sim); those marked live also apply to real storage arrays.
    """
    from replisim.console import faults_command

    raise SystemExit(faults_command(as_json))


@main.command()
@click.argument("target")
@click.option("--seed", type=int, default=None, help="Seed (default: the recorded run's, or the scenario's).")
@click.option(
    "--force", is_flag=True, help="Run a recorded run with another --seed anyway (nothing is compared)."
)
@_quiet_options
def replay(target: str, seed: int | None, *, force: bool, quiet: bool, log_level: str) -> None:
    """Re-run a recorded run (its output directory) or a scenario, and compare the trace.

    A run directory is replayed from the scenario stored in it (scenario.yaml), with its seed; its
    log goes to replay.log there. Exit 0 same trace and every check passed, 1 a check failed,
    2 bad input (also: --seed differs from the recording's, without --force), 3 a checker raised,
    4 the trace DIVERGED from the recording.
    """
    from replisim.console import replay_command

    _scenario_errors(lambda: replay_command(target, seed, quiet=quiet, log_level=log_level, force=force))


@main.command()
@click.option("--driver", metavar="PKG.MOD:CLASS", help="The driver class under test (also pkg.mod.Class).")
@click.option("--config", "config_path", metavar="FILE", help="The cinder.conf with the backend's section.")
@click.option(
    "--backend",
    default=None,
    metavar="NAME",
    help="The backend section to test (default: the first enabled backend).",
)
@click.option("--junitxml", type=click.Path(dir_okay=False), default=None, help="Write JUnit XML here.")
@click.option(
    "--json", "json_path", type=click.Path(dir_okay=False), default=None, help="Write the JSON report here."
)
@click.option(
    "--require",
    multiple=True,
    metavar="CAPABILITY",
    help="Fail instead of skip the checks that need it (replication, groups, array-failure, "
    "config-secrets); repeatable.",
)
@click.option(
    "--check",
    "select",
    multiple=True,
    metavar="ID-PREFIX",
    help="Run only the checks whose ID starts with this (e.g. REPL-FAILOVER); repeatable.",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=CALL_TIMEOUT,
    show_default=True,
    metavar="SECONDS",
    help="Fail a check whose driver call gives no answer within this many seconds (the call is "
    "abandoned and the run goes on).",
)
@click.option("--list", "list_only", is_flag=True, help="List the checks (ID, path, title, clause) and exit.")
def conformance(
    *,
    driver: str | None,
    config_path: str | None,
    backend: str | None,
    junitxml: str | None,
    json_path: str | None,
    require: tuple[str, ...],
    select: tuple[str, ...],
    timeout: float,
    list_only: bool,
) -> None:
    """Hold a volume driver to the driver contract, directly and through the control plane.

    Exit codes: 0 every applicable check passed, 1 a check failed, 2 bad input (driver not
    importable, config invalid), 3 nothing was checked.
    """
    from replisim.console import conformance_command

    raise SystemExit(
        conformance_command(
            driver=driver,
            config_path=config_path,
            backend=backend,
            junitxml=junitxml,
            json_path=json_path,
            require=require,
            select=select,
            list_only=list_only,
            timeout=timeout,
        )
    )


@main.command()
@click.option(
    "--config",
    "config_path",
    required=True,
    type=click.Path(dir_okay=False),
    help="The cinder.conf to deploy (enabled_backends, one section per backend).",
)
@click.option(
    "--db",
    "db_url",
    default=None,
    metavar="URL",
    help="SQLAlchemy database URL (default: SQLite next to the config, cinder.conf -> cinder.db).",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8776,
    show_default=True,
    help="Port to listen on (0: any free port; the URL is printed).",
)
@click.option(
    "--report-interval",
    type=click.FloatRange(min=0.01),
    default=10.0,
    show_default=True,
    metavar="SECONDS",
    help="How often each volume manager reports stats and replication updates.",
)
@click.option(
    "--record",
    type=click.Path(file_okay=False),
    default=None,
    metavar="DIR",
    help="Record every API call, status change and pool sample; on shutdown write run.json, "
    "history.jsonl.gz and the report (report.html, report.json) into DIR.",
)
@click.option(
    "--policy",
    "policy_path",
    type=click.Path(dir_okay=False),
    default=None,
    metavar="FILE",
    help="A policy.json of rule -> check string over the defaults (Cinder's rule names, e.g. "
    "volume_extension:volume_actions:failover_replication).",
)
@click.option(
    "--cpu",
    default="auto",
    show_default=True,
    metavar="auto|N|all",
    help="The one CPU the server's threads run on: the one it starts on (auto), CPU N, or all (the "
    "kernel places them). They share one interpreter lock, so they run Python on one CPU at a time anyway; "
    "spread over several, they spent twice the CPU per request.",
)
def serve(
    *,
    config_path: str,
    db_url: str | None,
    host: str,
    port: int,
    report_interval: float,
    record: str | None,
    policy_path: str | None,
    cpu: str,
) -> None:
    """Serve Cinder's Block Storage v3 API (the replication subset) over a live control plane.

    API, scheduler, one volume manager and driver per enabled backend run on threads in this
    process; python-cinderclient works against it with noauth (`X-Auth-Token: user:project`;
    admins are the users in `[DEFAULT] admin_users`, default `admin`, or callers with `X-Roles: admin`).
    Stops cleanly on Ctrl-C or SIGTERM.
    """
    from pathlib import Path

    from replisim.console import serve_command

    raise SystemExit(
        serve_command(
            config_path,
            db_url=db_url,
            host=host,
            port=port,
            report_interval=report_interval,
            record=Path(record) if record else None,
            policy_path=policy_path,
            cpu=cpu,
        )
    )


@main.group()
def array() -> None:
    """Real storage array processes for live mode (volumes on disk, replication over TCP)."""


@array.command("serve")
@click.option(
    "--root",
    required=True,
    type=click.Path(exists=True, file_okay=False, writable=True),
    help="Existing directory that holds this array's volumes.",
)
@click.option(
    "--port",
    required=True,
    type=click.IntRange(0, 65535),
    help="Port of the management API (0 picks a free one; the first output line names it).",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--name", required=True, help="The array's name, shown in /health, /stats and its log.")
@click.option("--login", default="admin", show_default=True, help="Login for HTTP basic auth.")
@click.option(
    "--password-file",
    type=click.Path(exists=True, dir_okay=False),
    help="File holding the password (else the REPLISIM_ARRAY_PASSWORD environment variable).",
)
@click.option(
    "--capacity-gb",
    type=click.IntRange(min=1),
    default=1000,
    show_default=True,
    help="Capacity the array offers for volumes.",
)
@click.option(
    "--peer-timeout",
    type=click.FloatRange(min=0.05),
    default=5.0,
    show_default=True,
    help="Seconds to wait for a peer array before a replication request fails.",
)
def array_serve(
    *,
    root: str,
    port: int,
    host: str,
    name: str,
    login: str,
    password_file: str | None,
    capacity_gb: int,
    peer_timeout: float,
) -> None:
    """Serve one storage array on HOST:PORT until SIGTERM or Ctrl-C."""
    from pathlib import Path

    from replisim.drivers.storage.server import SetupError, serve

    if password_file:
        with open(password_file, encoding="utf-8") as handle:
            password = handle.read().strip()
        source = f"--password-file {password_file}"
    else:
        password = os.environ.get("REPLISIM_ARRAY_PASSWORD", "")
        source = "REPLISIM_ARRAY_PASSWORD"
    if not password:
        raise click.UsageError(
            f"no password: {source} is empty or unset; give --password-file FILE or "
            "set REPLISIM_ARRAY_PASSWORD"
        )
    if not name.strip():
        raise click.BadParameter("must not be empty", param_hint="--name")
    try:
        serve(
            Path(root),
            host,
            port,
            name=name,
            login=login,
            password=password,
            capacity_gb=capacity_gb,
            peer_timeout=peer_timeout,
        )
    except SetupError as exc:
        raise click.UsageError(str(exc)) from None


@main.command()
@click.argument("run_dir", required=False)
@click.option(
    "--compare",
    nargs=2,
    metavar="A B",
    default=None,
    help="Compare two run directories: each figure in A and B, the change and the change in %.",
)
def report(run_dir: str | None, compare: tuple[str, str] | None) -> None:
    """Write RUN_DIR's report (report.html, report.json) and print its summary, verdict first.

    RUN_DIR is what `replisim run` wrote (the report is also written at the end of every run), or
    what `replisim chaos` wrote: then the report shows RPO and RTO across the sweep's seeds.
    """
    from replisim.reports.console import compare_command, report_command
    from replisim.reports.figures import ReportError

    if (run_dir is None) == (compare is None):
        raise click.UsageError("give either RUN_DIR or --compare A B")
    try:
        code = compare_command(*compare) if compare else report_command(str(run_dir))
    except ReportError as err:
        click.secho(f"error: {err}", fg="red", err=True)
        raise SystemExit(2) from None
    raise SystemExit(code)
