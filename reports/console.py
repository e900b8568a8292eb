"""The ``replisim report`` verb: a run's (or a sweep's) report written beside it, or two runs compared.

Each function returns the exit code: 0 done, 2 bad input (raised as ReportError for the CLI).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from .compare import compare, table
from .figures import ReportError, load_run, run_figures
from .report import HTML_NAME, JSON_NAME, write_report
from .sweep import is_sweep, sweep_lines, write_sweep_report
from .terminal import summary_lines


def report_command(target: str) -> int:
    """Write the report of the run or sweep in ``target`` and print its summary, verdict first."""
    directory = Path(target)
    if is_sweep(directory):
        data = write_sweep_report(directory)
        lines = sweep_lines(data)
        ok = data["ok"]
    else:
        data = write_report(directory)
        lines = summary_lines(data)
        ok = data["verdict"]["ok"]
    click.secho(lines[0], fg={True: "green", False: "red", None: "yellow"}[ok], bold=True)
    for line in lines[1:]:
        click.echo(line)
    click.echo(f"  report    {directory / HTML_NAME} ({JSON_NAME} beside it)")
    return 0


def print_run_summary(out_dir: Path, data: dict[str, Any]) -> None:
    """At the end of ``replisim run``: the written report's figures (the verdict was printed)."""
    for line in summary_lines(data, verdict=False, totals=False):
        click.echo(line)
    click.echo(f"  report    {out_dir / HTML_NAME} ({JSON_NAME} beside it)")


def compare_command(a: str, b: str) -> int:
    """Print each figure of run A, of run B, and the change."""
    reports = []
    for target in (a, b):
        directory = Path(target)
        if is_sweep(directory):
            raise ReportError(f"{target}: a sweep; --compare takes two run directories")
        reports.append(run_figures(load_run(directory)).data)
    first, second = reports
    click.echo(f"A: {a} ({first['header']['scenario']} seed {first['header']['seed']})")
    click.echo(f"B: {b} ({second['header']['scenario']} seed {second['header']['seed']})")
    for line in table(compare(first, second)):
        click.echo(line)
    return 0
