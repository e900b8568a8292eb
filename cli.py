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


@main.group()
def array() -> None:
    """Real storage array processes for live mode (volumes on disk, replication over TCP)."""


@array.command("serve")
@click.option("--root", required=True, type=click.Path(exists=True, file_okay=False, writable=True),
              help="Existing directory that holds this array's volumes.")
@click.option("--port", required=True, type=click.IntRange(0, 65535),
              help="Port of the management API (0 picks a free one; the first output line names it).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--name", required=True, help="The array's name, shown in /health, /stats and its log.")
@click.option("--login", default="admin", show_default=True, help="Login for HTTP basic auth.")
@click.option("--password-file", type=click.Path(exists=True, dir_okay=False),
              help="File holding the password (else the REPLISIM_ARRAY_PASSWORD environment variable).")
@click.option("--capacity-gb", type=click.IntRange(min=1), default=1000, show_default=True,
              help="Capacity the array offers for volumes.")
@click.option("--peer-timeout", type=click.FloatRange(min=0.05), default=5.0, show_default=True,
              help="Seconds to wait for a peer array before a replication request fails.")
def array_serve(*, root: str, port: int, host: str, name: str, login: str, password_file: str | None,
                capacity_gb: int, peer_timeout: float) -> None:
    """Serve one storage array on HOST:PORT until SIGTERM or Ctrl-C."""
    import os
    from pathlib import Path

    from replisim.drivers.storage_server import SetupError, serve

    if password_file:
        with open(password_file, encoding="utf-8") as handle:
            password = handle.read().strip()
        source = f"--password-file {password_file}"
    else:
        password = os.environ.get("REPLISIM_ARRAY_PASSWORD", "")
        source = "REPLISIM_ARRAY_PASSWORD"
    if not password:
        raise click.UsageError(f"no password: {source} is empty or unset; give --password-file FILE or "
                               "set REPLISIM_ARRAY_PASSWORD")
    if not name.strip():
        raise click.BadParameter("must not be empty", param_hint="--name")
    try:
        serve(Path(root), host, port, name=name, login=login, password=password, capacity_gb=capacity_gb,
              peer_timeout=peer_timeout)
    except SetupError as exc:
        raise click.UsageError(str(exc)) from None
