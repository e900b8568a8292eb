"""The verbs behind the command line that join the layers below it: ``run``, ``chaos`` and
``replay`` (find the scenario, run it, write its outputs and report, tell the verdict first) and
``serve --record`` (a live server whose record becomes a report).

Each function returns the process exit code: 0 every check passed, 1 a check failed (or a replay
diverged), 2 bad input, 3 unknown (a checker raised, so the run could not be judged).
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import sys
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from replisim import scenarios
from replisim.reports.operations import operation_totals, totals_line
from replisim.scenarios.coverage import Coverage
from replisim.scenarios.fuzz import PROFILES, SOURCE_PREFIX, FuzzError, draw_world, fault_kinds, world_source
from replisim.scenarios.history import OutputError, prepare_output_dir, write_atomically
from replisim.scenarios.runner import RunResult, released, run_data, run_scenario, write_run
from replisim.scenarios.schema import Scenario, ScenarioError, load_scenario, parse_scenario, scenario_to_yaml
from replisim.scenarios.shrink import shrink
from replisim.scenarios.sweep import SweepError, SweepResult, check_dask_address, parse_seeds, sweep
from replisim.sim import schedule as schedules

SHIPPED = Path(scenarios.__file__).parent


def shipped() -> dict[str, Path]:
    """Shipped scenarios by name."""
    return {path.stem: path for path in sorted(SHIPPED.glob("*.yaml"))}


def resolve(name_or_path: str) -> Path:
    """A shipped scenario's name, or a path to a scenario file."""
    path = Path(name_or_path)
    if path.is_dir():
        hint = (
            " (a run directory: `replisim replay` or `replisim report` take those)"
            if (path / "verdicts.json").is_file()
            else ""
        )
        raise ScenarioError(name_or_path, 0, "", f"a directory, not a scenario file{hint}")
    if path.suffix in (".yaml", ".yml") or path.exists():
        if not path.is_file():
            raise ScenarioError(name_or_path, 0, "", "no such scenario file")
        return path
    known = shipped()
    if name_or_path not in known:
        from replisim.scenarios.hints import suggest

        hint = suggest(name_or_path, known)
        raise ScenarioError(
            name_or_path, 0, "", f"no shipped scenario of that name{hint}; shipped: {', '.join(known)}"
        )
    return known[name_or_path]


# The levels ``--log-level`` takes, for the control plane's log file (the terminal never gets them).
LOG_LEVELS = ("debug", "info", "warning", "error")
SCENARIO_FILE = "scenario.yaml"  # the run's own copy of its scenario, which `replay` reads


@contextmanager
def _log_to(path: Path, level: str = "info") -> Iterator[None]:
    """The control plane's log lines go to the run's log file, not over the summary."""
    logger = logging.getLogger("replisim")
    handler = logging.FileHandler(path, mode="w", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    saved = logger.propagate, logger.level
    logger.addHandler(handler)
    logger.propagate, logger.level = False, getattr(logging, level.upper())
    try:
        yield
    finally:
        logger.removeHandler(handler)
        handler.close()
        logger.propagate, logger.level = saved


def _run_with_progress(
    scenario: Scenario, seed: int | None, log: Path, progress: bool, log_level: str = "info"
) -> RunResult:
    with _log_to(log, log_level):
        if not progress:
            return run_scenario(scenario, seed)
        bar: Any
        with click.progressbar(length=100, label=f"{scenario.name} (simulated time)", file=sys.stderr) as bar:
            done = [0]

            def advance(now: float, end: float) -> None:
                step = int(100 * now / end) - done[0]
                if step > 0:
                    bar.update(step)
                    done[0] += step

            return run_scenario(scenario, seed, progress=advance)


def _output_dir(out: str | None, default: Path) -> Path:
    """The verb's output directory, created and proven writable before anything runs."""
    try:
        return prepare_output_dir(Path(out) if out else default)
    except OutputError as exc:
        raise SweepError(str(exc)) from None


# A run's exit code and how its verdict is shown, by status: a check failed beats unknown beats pass.
EXIT_CODES = {"pass": 0, "fail": 1, "unknown": 3}
DIVERGED = 4  # `replay`: the trace differs from the recording (the run is not reproducible)
_COLORS = {"pass": "green", "fail": "red", "unknown": "yellow"}
_MARKS = {"pass": "ok  ", "fail": "FAIL", "unknown": "UNKNOWN"}


def print_verdicts(
    result: RunResult, out: Path | None, *, quiet: bool = False, totals: dict[str, Any] | None = None
) -> None:
    """The verdict line, then each check; ``quiet`` keeps the verdict and the checks that did not pass."""
    passed = sum(v.ok is True for v in result.verdicts)
    click.secho(
        f"{result.status.upper()} {result.scenario.name} seed={result.seed}"
        f"{_schedule_note(result.scenario)}: {passed}/{len(result.verdicts)} checks passed",
        fg=_COLORS[result.status],
        bold=True,
    )
    for verdict in result.verdicts:
        if quiet and verdict.ok is True:
            continue
        mark = click.style(_MARKS[verdict.status], fg=_COLORS[verdict.status])
        click.echo(f"  {mark} {verdict.check:<15} {verdict.summary}")
        if verdict.ok is not True and verdict.witness is not None:
            click.echo(f"       witness: {json.dumps(verdict.witness, sort_keys=True, default=str)}")
    if quiet:
        return
    failovers = result.record.fabric.failovers
    lost = sum(r.lost_writes for r in failovers)
    totals = operation_totals(run_data(result)) if totals is None else totals
    click.echo(
        f"  time      {result.simulated_seconds:,.0f} s simulated in {result.wall_seconds:.2f} s wall "
        f"({result.simulated_seconds / max(result.wall_seconds, 1e-9):,.0f}x)"
    )
    click.echo(f"  clients   {totals_line(totals)}")
    own = result.scenario.topology.unemulated()
    unmeasured = f" ({', '.join(own)}: no emulated array, not measured)" if own else ""
    click.echo(
        f"  faults    {len(result.faults)} injected; {len(failovers)} failovers lost {lost:,} writes"
        + unmeasured
    )
    click.echo(f"  trace     sha256 {result.trace_digest[:16]} (same seed, same digest)")
    if out is not None:
        click.echo(
            f"  written   {out}/ (trace.jsonl.gz, history.jsonl.gz, verdicts.json, run.json, run.log, "
            f"{SCENARIO_FILE})"
        )
        click.echo(f"  replay    replisim replay {out}")


def _schedule_note(scenario: Scenario) -> str:
    """Outputs name a schedule other than the default, as they name the seed: both make the trace."""
    return "" if scenario.schedule == schedules.DEFAULT else f" schedule={scenario.schedule}"


def with_schedule(scenario: Scenario, schedule: str | None) -> Scenario:
    """``scenario`` with the schedule a command line asked for (``None``: the scenario's own)."""
    return scenario if schedule is None else replace(scenario, schedule=schedules.parse(schedule))


def run_json(result: RunResult, out: Path | None, report: dict[str, Any] | None = None) -> dict[str, Any]:
    """What ``--json`` prints for one run: the verdicts, where it was written, the figures' totals."""
    summary = result.summary()
    data: dict[str, Any] = {
        "format": 1,
        **{
            key: summary[key]
            for key in ("scenario", "source", "seed", "schedule", "ok", "status", "verdicts", "digest")
        },
        "exit_code": EXIT_CODES[result.status],
        "simulated_seconds": result.simulated_seconds,
        "wall_seconds": summary["wall_seconds"],
        "operations": operation_totals(run_data(result)) if report is None else report["totals"],
        "failovers": len(result.record.fabric.failovers),
        "lost_writes": sum(r.lost_writes for r in result.record.fabric.failovers),
    }
    if out is not None:
        data["out"] = str(out)
        data["replay"] = f"replisim replay {out}"
    if report is not None:
        data["report"] = {"html": str(out / "report.html") if out else None, "capacity": report["capacity"]}
    return data


def run_command(
    scenario_name: str,
    seed: int | None,
    out: str | None,
    progress: bool,
    *,
    quiet: bool = False,
    as_json: bool = False,
    log_level: str = "info",
    schedule: str | None = None,
) -> int:
    """Run, write everything (record, scenario copy, report), and only then print: a reader that closes
    the terminal's pipe early (``| head -n1``) loses lines, never the run."""
    path = resolve(scenario_name)
    scenario = with_schedule(load_scenario(path), schedule)
    seed = scenario.seed if seed is None else seed
    out_dir = _output_dir(out, Path("runs") / f"{scenario.name}-seed{seed}")
    result = _run_with_progress(scenario, seed, out_dir / "run.log", progress and not as_json, log_level)
    write_run(result, out_dir)
    result = released(result)  # the report reads what was written: the record need not stay
    store_scenario(path, scenario, out_dir)
    from replisim.reports.console import print_run_summary
    from replisim.reports.report import write_report

    report = write_report(out_dir)
    if as_json:
        click.echo(json.dumps(run_json(result, out_dir, report), indent=2, sort_keys=True, default=str))
    else:
        print_verdicts(result, out_dir, quiet=quiet, totals=report["totals"])
        if not quiet:
            print_run_summary(out_dir, report)
    return EXIT_CODES[result.status]


def store_scenario(path: Path, scenario: Scenario, out_dir: Path) -> Path:
    """Keep the run's scenario in its directory (``scenario.yaml``, and the cinder.conf it names as
    ``scenario.conf``), so that replay needs neither the original path nor the working directory."""
    stored = scenario
    if scenario.topology.config is not None:
        config = (path.parent / scenario.topology.config).resolve()
        (out_dir / "scenario.conf").write_text(config.read_text(encoding="utf-8"), encoding="utf-8")
        stored = replace(scenario, topology=replace(scenario.topology, config="scenario.conf"))
    target = out_dir / SCENARIO_FILE
    write_atomically(target, scenario_to_yaml(stored, comment=f"Stored by replisim run from {path}."))
    return target


def replay_command(
    target: str, seed: int | None, *, quiet: bool = False, log_level: str = "info", force: bool = False
) -> int:
    """Re-run a recorded run (its directory) and say whether the trace is the same: 0 the same and
    every check passed, the run's own code when the checks say otherwise, DIVERGED when the trace
    differs. A different ``--seed`` than the recording's compares nothing, so it needs ``force``."""
    path = Path(target)
    recorded: dict[str, Any] | None = None
    log = Path(os.devnull)
    if path.is_dir():
        verdicts = path / "verdicts.json"
        if not verdicts.is_file():
            raise ScenarioError(target, 0, "", "not a run directory (no verdicts.json)")
        try:
            recorded = json.loads(verdicts.read_text())
        except ValueError as exc:
            raise ScenarioError(str(verdicts), 0, "", f"not JSON: {exc}") from None
        if not isinstance(recorded, dict) or not {"source", "seed", "digest"} <= recorded.keys():
            raise ScenarioError(str(verdicts), 0, "", "not a replisim run record (source, seed, digest)")
        stored = path / SCENARIO_FILE
        # runs written before the copy existed name their scenario by the path they were given
        scenario = with_schedule(
            load_scenario(stored if stored.is_file() else recorded["source"]), recorded.get("schedule")
        )
        if seed is not None and seed != recorded["seed"] and not force:
            raise SweepError(
                f"--seed {seed}: {target} was recorded with seed {recorded['seed']}, so another seed has "
                "no trace to compare with; drop --seed, or add --force to run it unchecked"
            )
        seed = recorded["seed"] if seed is None else seed
        with contextlib.suppress(OutputError):
            log = prepare_output_dir(path) / "replay.log"
    else:
        scenario = load_scenario(resolve(target))
    with _log_to(log, log_level):
        result = run_scenario(scenario, seed)
    print_verdicts(result, None, quiet=quiet)
    if recorded is not None and seed == recorded["seed"]:
        same = result.trace_digest == recorded["digest"]
        click.secho(
            f"  replay    {'same trace as recorded' if same else 'DIVERGED from the recording'} "
            f"({recorded['digest'][:16]})",
            fg="green" if same else "red",
        )
        if not same:
            return DIVERGED
    elif recorded is not None:
        click.secho(
            f"  replay    seed {seed}, not the recording's {recorded['seed']}: not compared", fg="yellow"
        )
    if log != Path(os.devnull):
        click.echo(f"  log       {log}")
    return EXIT_CODES[result.status]


def run_one(scenario_path: str, seed: int, schedule: str | None = None) -> dict[str, Any]:
    """One seed of a sweep (top level, so worker processes can import it). The control plane's log
    lines stay out of the sweep's terminal: the verdicts and witnesses say what went wrong."""
    with _log_to(Path(os.devnull)):
        return run_scenario(with_schedule(load_scenario(scenario_path), schedule), seed).summary()


def _shrink_to_file(
    scenario: Scenario,
    seed: int,
    check: str,
    minimal: Path,
    *,
    origin: str,
    runner: Callable[[Scenario, int], RunResult],
    say: Callable[[str], None] = click.echo,
) -> None:
    """Shrink ``scenario`` run with ``seed`` while ``check`` still fails; write the result to ``minimal``
    with the command that replays it, and print that command. The caller routes the log."""

    def still_fails(candidate: Scenario) -> bool:
        return runner(replace(candidate, checks=(check,)), seed).ok is False

    say(f"  shrinking seed {seed} while {check} still fails ...")
    shrunk = shrink(scenario, still_fails, seed=seed)
    replay = f"replisim run {minimal} --seed {seed}"
    minimal.write_text(
        scenario_to_yaml(
            shrunk.scenario, comment=f"Shrunk from {origin} seed {seed}: {check} still fails.\nRun: {replay}"
        )
    )
    say(f"  {shrunk.summary()}")
    say(f"  minimal   {replay}")


def chaos_command(
    scenario_name: str,
    seeds: str,
    *,
    jobs: int | None,
    dask: str | None,
    out: str | None,
    shrink_failures: bool,
    progress: bool,
    one_seed: Callable[..., dict[str, Any]] = run_one,
    runner: Callable[[Scenario, int], RunResult] = run_scenario,
    quiet: bool = False,
    as_json: bool = False,
    log_level: str = "info",
    schedule: str | None = None,
) -> int:
    """Sweep ``seeds``; shrink the first failure. ``one_seed`` (importable by worker processes) and
    ``runner`` are the real runner unless a quality test swaps in a broken one. Every input (the
    scenario, the seeds, the Dask address, the output directory) is checked before the sweep runs."""
    path = resolve(scenario_name)
    scenario = with_schedule(load_scenario(path), schedule)
    if schedule is not None:
        one_seed = functools.partial(one_seed, schedule=scenario.schedule)
    seed_list = parse_seeds(seeds)
    dask = _check_workers(jobs, dask)
    out_dir = _output_dir(out, Path("runs") / f"{scenario.name}-chaos")
    with _log_to(out_dir / "chaos.log", log_level):
        result = sweep(
            one_seed,
            os.path.abspath(path),
            seed_list,
            jobs=jobs,
            dask_address=dask,
            progress=progress and not as_json,
        )
    write_atomically(out_dir / "sweep.json", json.dumps(result.to_json(), indent=2, sort_keys=True) + "\n")
    from replisim.reports.sweep import write_sweep_report

    write_sweep_report(out_dir)
    failures = result.failures()
    shrunk: dict[str, str] = {}
    say = _Say(quiet=quiet, silent=as_json)
    say.verdict(result.table())
    say(f"  written   {out_dir / 'sweep.json'}")
    say(f"  report    {out_dir / 'report.html'} (RPO and RTO across the seeds)")
    if failures and shrink_failures:
        check, seeds_failing = sorted(failures.items())[0]
        seed = seeds_failing[0]
        minimal = out_dir / f"minimal-{scenario.name}-seed{seed}.yaml"
        with _log_to(out_dir / "chaos.log", log_level):
            _shrink_to_file(scenario, seed, check, minimal, origin=str(path), runner=runner, say=say)
        shrunk[check] = f"replisim run {minimal} --seed {seed}"
    if as_json:
        click.echo(
            json.dumps(
                {
                    "format": 1,
                    "out": str(out_dir),
                    "exit_code": 0 if result.ok else 1,
                    **{k: v for k, v in result.to_json().items() if k != "runs"},
                    "runs": [
                        {key: run.get(key) for key in ("seed", "ok", "status", "digest")}
                        for run in result.to_json()["runs"]
                    ],
                    "minimal": shrunk,
                },
                indent=2,
                sort_keys=True,
                default=str,
            )
        )
    return 0 if result.ok else 1


class _Say:
    """A verb's terminal lines: with ``quiet`` only the verdict (the first line) is printed."""

    def __init__(self, *, quiet: bool = False, silent: bool = False):
        self.quiet, self.silent = quiet or silent, silent  # silent: stdout is for JSON alone

    def verdict(self, text: str) -> None:
        first, _, rest = text.partition("\n")
        if not self.silent:
            click.echo(first)
        if rest:
            self(rest)

    def __call__(self, line: str) -> None:
        if not self.quiet:
            click.echo(line)


def _check_workers(jobs: int | None, dask: str | None) -> str | None:
    """``--dask`` names a scheduler and comes without ``--jobs`` (its workers decide), else exit 2."""
    if dask is None:
        return None
    address = check_dask_address(dask)
    if jobs is not None:
        raise SweepError("--jobs and --dask: give one (a Dask cluster's workers decide its parallelism)")
    return address


# -- random worlds ----------------------------------------------------------------------------------


def world_for(source: str, seed: int, schedule: str | None = None) -> Scenario:
    """The world a fuzz source (``fuzz:<profile>``) names for ``seed``, as its scenario file loads: the
    schema judges every world, so one it would refuse is a generator bug, never a silent run."""
    world = with_schedule(draw_world(seed, source.removeprefix(SOURCE_PREFIX)), schedule)
    return parse_scenario(scenario_to_yaml(world), world.source)


def run_world(
    source: str,
    seed: int,
    runner: Callable[[Scenario, int], RunResult] = run_scenario,
    schedule: str | None = None,
) -> dict[str, Any]:
    """One world of a fuzz run (top level, for worker processes): its verdicts, a digest of the world
    and what it exercised."""
    world = world_for(source, seed, schedule)
    with _log_to(Path(os.devnull)):
        result = runner(world, seed)
    summary = result.summary()
    drawn = {fault.kind for fault in result.faults}
    return {
        "seed": seed,
        "ok": result.ok,
        "digest": result.trace_digest,
        "verdicts": summary["verdicts"],
        "wall_seconds": summary["wall_seconds"],
        "simulated_seconds": result.simulated_seconds,
        "world": {
            "backends": len(world.topology.backends),
            "initial_volumes": world.workload.initial_volumes,
            "actions": len(world.workload.actions),
            "faults": len(result.faults),
            "kinds": sorted(drawn),
            "schedule": world.schedule,
            "description": world.description,
        },
        "failovers": len(result.record.fabric.failovers),
        "lost_writes": sum(r.lost_writes for r in result.record.fabric.failovers),
        "coverage": Coverage.of(result).to_json(),
    }


def _seed_list(seeds: Sequence[int]) -> str:
    """``1-200`` for a range, else the seeds with commas (the first twenty)."""
    if len(seeds) > 1 and list(seeds) == list(range(seeds[0], seeds[-1] + 1)):
        return f"{seeds[0]}-{seeds[-1]}"
    shown = ", ".join(map(str, seeds[:20]))
    return shown + (f", ... ({len(seeds) - 20} more)" if len(seeds) > 20 else "")


def fuzz_command(
    seeds: str,
    *,
    profile: str,
    jobs: int | None,
    dask: str | None,
    out: str | None,
    shrink_failures: bool,
    progress: bool,
    runner: Callable[[Scenario, int], RunResult] = run_scenario,
    log_level: str = "info",
    schedule: str | None = None,
) -> int:
    """Run the random world of every seed; the verdict first, then the failing seeds by check with the
    command that replays each, the shrunk worlds, and the coverage table; ``fuzz.json`` under ``out``.
    ``runner`` is the real one unless a quality test swaps in a broken control plane (it must be
    importable by worker processes)."""
    if profile not in PROFILES:
        raise SweepError(f"--profile {profile!r} is not a profile; profiles: {', '.join(PROFILES)}")
    try:
        kinds = [kind.name for kind in fault_kinds()]
    except FuzzError as exc:
        raise SweepError(str(exc)) from None
    seed_list = parse_seeds(seeds)
    dask = _check_workers(jobs, dask)
    out_dir = _output_dir(out, Path("runs") / f"fuzz-{seed_list[0]}-{seed_list[-1]}")
    try:
        schedule = None if schedule is None else schedules.parse(schedule)
    except ValueError as exc:
        raise SweepError(f"--schedule: {exc}") from None
    one_world = functools.partial(run_world, runner=runner, schedule=schedule)
    result = sweep(
        one_world, world_source(profile), seed_list, jobs=jobs, dask_address=dask, progress=progress
    )
    rate = len(result.seeds) / max(result.wall_seconds, 1e-9) * 60
    _print_fuzz_verdict(
        result,
        f"({profile} profile, seeds {_seed_list(seed_list)}, "
        f"{'schedule ' + schedule if schedule else 'schedules drawn'}): "
        f"{rate:.1f} worlds/min on {result.workers}",
    )
    drawn = Counter(
        run["world"]["schedule"].partition(":")[0] for run in result.runs.values() if "world" in run
    )
    click.echo("  schedules " + ", ".join(f"{name} {drawn[name]}" for name in schedules.NAMES))
    worlds = _write_failing_worlds(result, profile, out_dir, schedule)
    minimal: dict[str, str] = {}
    if shrink_failures:
        for check, group in sorted(result.failures().items()):
            seed = group[0]
            world, path = worlds[seed], out_dir / f"minimal-{worlds[seed].stem}-{check}.yaml"
            with _log_to(out_dir / "fuzz.log", log_level):
                _shrink_to_file(
                    load_scenario(world), seed, check, path, origin=f"fuzz world {world}", runner=runner
                )
            minimal[check] = f"replisim run {path} --seed {seed}"
    coverage = Coverage.total(Coverage.from_json(run["coverage"]) for run in result.runs.values())
    click.echo("")
    for line in coverage.table(kinds):
        click.echo(line)
    report = {
        "format": 1,
        "profile": profile,
        "schedule": schedule or "drawn",
        "worlds_per_minute": round(rate, 1),
        **result.to_json(),
        "failing_worlds": {str(seed): str(path) for seed, path in worlds.items()},
        "minimal": minimal,
        "coverage": coverage.to_json(),
    }
    report["runs"] = [
        {key: value for key, value in run.items() if key != "coverage"}  # summed above
        for run in report["runs"]
    ]
    (out_dir / "fuzz.json").write_text(json.dumps(report, indent=2, sort_keys=True, default=str) + "\n")
    click.echo(f"  written   {out_dir / 'fuzz.json'}")
    return 0 if result.ok else 1


def _print_fuzz_verdict(result: SweepResult, where: str) -> None:
    """PASS n/n worlds, or FAIL with the failing seeds grouped by check (and the crashes)."""
    failed, count = result.failed_seeds(), len(result.seeds)
    if result.ok:
        click.secho(f"PASS {count}/{count} worlds {where}", fg="green", bold=True)
    else:
        click.secho(f"FAIL {len(failed)} of {count} worlds failed {where}", fg="red", bold=True)
    groups = {**result.failures(), **({"(crashed)": sorted(result.crashes)} if result.crashes else {})}
    width = max((len(name) for name in groups), default=0)
    for name, group in sorted(groups.items()):
        click.echo(f"  {name:<{width}}  {len(group):>4} worlds: {_seed_list(group)}")
    for seed, message in sorted(result.crashes.items())[:5]:
        click.echo(f"  world {seed} crashed: {message}")


def _write_failing_worlds(
    result: SweepResult, profile: str, out_dir: Path, schedule: str | None
) -> dict[int, Path]:
    """Each failing world as a scenario file (its schedule in it), and the command that replays it."""
    failures = result.failures()
    worlds: dict[int, Path] = {}
    for seed in result.failed_seeds():
        world = with_schedule(draw_world(seed, profile), schedule)
        path = worlds[seed] = out_dir / f"{world.name}.yaml"
        checks = ", ".join(check for check, group in sorted(failures.items()) if seed in group) or "crashed"
        path.write_text(
            scenario_to_yaml(
                world,
                comment=f"{world.description}\nFailed: {checks}.\nRun: replisim run {path} --seed {seed}",
            )
        )
    if worlds:
        click.echo("  replay each failing world:")
        for seed, path in list(worlds.items())[:20]:
            click.echo(f"    replisim run {path} --seed {seed}")
        if len(worlds) > 20:
            click.echo(f"    ... and {len(worlds) - 20} more in {out_dir}/")
    return worlds


def serve_command(
    config_path: str,
    *,
    db_url: str | None,
    host: str,
    port: int,
    report_interval: float,
    record: Path | None,
    policy_path: str | None = None,
    cpu: str = "auto",
) -> int:
    """``replisim serve``: the live control plane until a signal; with ``record``, its record and
    then its report are written there."""
    from replisim.actors.serve import serve_forever
    from replisim.scenarios.live_record import LiveRecorder

    recorder = None if record is None else LiveRecorder.into(record, config_path)
    code = serve_forever(
        config_path,
        db_url=db_url,
        host=host,
        port=port,
        report_interval=report_interval,
        record=recorder,
        policy_path=policy_path,
        cpu=cpu,
    )
    if record is not None and code == 0:
        from replisim.reports.report import write_report

        write_report(record)
        click.echo(f"replisim serve: recorded the run and its report in {record}")
    return code


def scenarios_command(as_json: bool) -> int:
    """``replisim scenarios``: each shipped scenario with its seed and the line that says what it is for."""
    rows: list[dict[str, Any]] = []
    for name, path in shipped().items():
        try:
            scenario = load_scenario(path)
        except ScenarioError as err:  # e.g. a Cinder driver's scenario without the cinder extra
            rows.append({"name": name, "seed": None, "description": f"(cannot run here: {err.message})"})
            continue
        rows.append({"name": name, "seed": scenario.seed, "description": scenario.description})
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return 0
    width = max(len(row["name"]) for row in rows)
    for row in rows:
        seed = "-" if row["seed"] is None else row["seed"]
        click.echo(f"{click.style(row['name'].ljust(width), bold=True)}  seed {seed:<4} {row['description']}")
    click.echo("\nRun one: replisim run NAME [--seed N]; each file is in " + str(SHIPPED))
    return 0


def faults_command(as_json: bool) -> int:
    """``replisim faults``: every kind of fault a scenario can name, from the catalog itself."""
    from replisim.scenarios.faults import KINDS

    if as_json:
        click.echo(json.dumps([kind.to_dict() for kind in KINDS.values()], indent=2))
        return 0
    for kind in KINDS.values():
        worlds = "sim, live" if kind.live else "sim"
        click.echo(f"{click.style(kind.name, bold=True)}  target: {kind.target}  ({worlds})")
        click.echo(f"    {kind.doc}")
        for p in kind.params:
            value = f"e.g. {json.dumps(p.example)}" if p.required else f"default {json.dumps(p.default)}"
            click.echo(f"    params.{p.name:<15} {p.type:<9} {value}; {p.bounds()}: {p.doc}")
    return 0


def conformance_command(
    *,
    driver: str | None,
    config_path: str | None,
    backend: str | None,
    junitxml: str | None,
    json_path: str | None,
    require: tuple[str, ...],
    select: tuple[str, ...],
    list_only: bool,
    timeout: float,
) -> int:
    """``replisim conformance``: list the checks, or run them on a driver and write the reports;
    the exit code is the run's (2 for bad input, before any driver code runs)."""
    from replisim.drivers.conformance import BadInput, load_target, run_suite, select_checks
    from replisim.drivers.conformance.report import as_json, junit_xml, terminal
    from replisim.drivers.conformance.target import import_from_cwd

    try:
        checks = select_checks(select)
        if list_only:
            for c in checks:
                gate = f"  (needs {', '.join(c.requires)})" if c.requires else ""
                click.echo(f"{c.id:<22} {c.via:<7} {c.title}{gate}\n{'':<30}{c.clause}")
            return 0
        if not driver or not config_path:
            raise click.UsageError("--driver and --config are required (or --list)")
        for option, path in (("--junitxml", junitxml), ("--json", json_path)):
            if path and (os.path.isdir(path) or not os.path.isdir(os.path.dirname(os.path.abspath(path)))):
                raise BadInput(f"{option} {path}: not a file in an existing directory")
        import_from_cwd()
        report = run_suite(load_target(driver, config_path, backend), require, select, timeout)
    except BadInput as exc:
        click.echo(f"replisim conformance: bad input: {exc}", err=True)
        return 2
    click.echo(terminal(report), nl=False)
    for path, text in ((junitxml, junit_xml(report)), (json_path, as_json(report))):
        if path:
            try:
                with open(path, "w", encoding="utf-8") as handle:
                    handle.write(text)
            except OSError as exc:
                click.echo(f"replisim conformance: cannot write {path}: {exc.strerror or exc}", err=True)
                return 2
    return report.exit_code
