"""The ``replisim`` command line: one verb per job, exit codes 0 ok, 1 checks failed, 2 bad input."""

from __future__ import annotations

import click

from replisim import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="replisim")
def main() -> None:
    """Simulate and test the replication control plane of block storage (Cinder Replication V2)."""


@main.command()
@click.argument("scenario")
@click.option("--seed", type=int, default=None, help="Master seed (default: the scenario's, else 1).")
@click.option("--trace", "trace_path", type=click.Path(dir_okay=False, writable=True), default=None,
              help="Write the kernel trace here, one JSON object per line.")
def run(scenario: str, seed: int | None, trace_path: str | None) -> None:
    """Run one SCENARIO in simulated time and print what happened.

    SCENARIO is a shipped scenario name; `demo` is a small gossiping cluster on a lossy bus.
    """
    if scenario != "demo":
        raise click.UsageError(f"unknown scenario {scenario!r}; shipped scenarios: demo")
    from replisim.scenarios.demo import run_demo

    result = run_demo(seed if seed is not None else 1)
    click.echo(f"replisim demo  seed={result.seed}")
    click.echo(f"  polls: {dict(sorted(result.outcomes.items()))}")
    click.echo(f"  bus:   {dict(sorted(result.events.items()))}")
    click.echo(f"  time:  {result.simulated_seconds:.1f} s simulated in {result.wall_seconds:.2f} s wall"
               f" ({result.simulated_seconds / result.wall_seconds:.0f}x)")
    click.echo(f"  trace sha256: {result.trace.digest()[:16]}  (same seed, same digest)")
    if trace_path:
        result.trace.write(trace_path)
        click.echo(f"  trace written to {trace_path} ({len(result.trace.records)} records)")
