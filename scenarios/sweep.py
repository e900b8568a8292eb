"""Seed sweeps: one scenario run under many seeds, in parallel, and which seeds failed which checks.

Each seed is an independent simulated run, so seeds spread over local worker processes (fresh
interpreters with ``PYTHONHASHSEED`` pinned, so nothing depends on str hashing) or over a Dask
cluster's workers. The runner is passed in as ``run_one(source, seed) -> dict``: a picklable
top-level function returning ``{"seed", "verdicts": {check: {"ok", "witness"}}, "digest"}``; the source
is whatever it understands (a scenario file's absolute path, or ``fuzz:ci``: the seed draws the world).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import re
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Any, Protocol

import click

RunOne = Callable[[str, int], dict[str, Any]]
MAX_SEEDS = 100_000  # one sweep's seeds (each one's summary is kept in memory)
DASK_CONNECT_TIMEOUT = "10s"  # how long to keep trying a scheduler that does not answer

__all__ = ["RunOne", "SweepError", "SweepResult", "check_dask_address", "parse_seeds", "sweep"]

# What a Dask scheduler address may look like: an optional protocol, a host (or [IPv6]) and a port.
_DASK_ADDRESS = re.compile(
    r"(?:(?P<scheme>[a-z]+)://)?(?P<host>\[[0-9A-Fa-f:.]+\]|[^\s:/\[\]]+):(?P<port>\d+)/?"
)
_DASK_SCHEMES = ("tcp", "tls", "ws", "wss", "ucx")


class SweepError(ValueError):
    """The sweep cannot start: bad seeds, or no Dask scheduler at the address."""


def check_dask_address(address: str) -> str:
    """``address`` if it names a Dask scheduler (``tcp://host:8786``), else a SweepError that says why,
    before anything runs (Dask's own parser raises a bare ValueError, or an empty one runs locally)."""
    example = "give the scheduler's address as tcp://HOST:PORT, e.g. tcp://127.0.0.1:8786"
    if not address.strip():
        raise SweepError(f"--dask: the address is empty; {example}")
    match = _DASK_ADDRESS.fullmatch(address.strip())
    if match is None:
        reason = "no port" if ":" not in address.rsplit("://", maxsplit=1)[-1] else "not an address"
        raise SweepError(f"--dask {address!r}: {reason}; {example}")
    scheme, port = match["scheme"], int(match["port"])
    if scheme is not None and scheme not in _DASK_SCHEMES:
        raise SweepError(
            f"--dask {address!r}: unknown protocol {scheme!r}; one of {', '.join(_DASK_SCHEMES)}"
        )
    if not 0 < port < 65536:
        raise SweepError(f"--dask {address!r}: port {port} is out of range 1-65535")
    return address.strip()


class _Outcome(Protocol):
    """What both ``concurrent.futures.Future`` and ``dask.distributed.Future`` offer."""

    def result(self) -> Any: ...


@dataclass(frozen=True)
class SweepResult:
    """Every seed's run, and the seeds whose run raised instead of returning verdicts."""

    scenario: str
    seeds: tuple[int, ...]
    runs: Mapping[int, Mapping[str, Any]]  # seed -> what run_one returned
    crashes: Mapping[int, str]  # seed -> "ExceptionType: message"
    wall_seconds: float
    workers: str  # "2 local processes" or the Dask scheduler's address

    def failures(self) -> dict[str, list[int]]:
        """Each check that failed on some seed, with those seeds in order (a verdict passes only if ok
        is true)."""
        failed: dict[str, list[int]] = {}
        for seed in sorted(self.runs):
            for check, verdict in self.runs[seed].get("verdicts", {}).items():
                if verdict.get("ok") is not True:
                    failed.setdefault(check, []).append(seed)
        return failed

    def failed_seeds(self) -> list[int]:
        """Seeds with a failed check or a crash, in order."""
        return sorted({*self.crashes, *(seed for seeds in self.failures().values() for seed in seeds)})

    @property
    def ok(self) -> bool:
        return not self.failed_seeds()

    def summary(self) -> str:
        bad = self.failed_seeds()
        name = os.path.basename(self.scenario)
        return (
            f"{name}: {len(self.seeds)} seeds, {len(self.seeds) - len(bad)} passed, "
            f"{len(bad) - len(self.crashes)} failed checks, {len(self.crashes)} crashed "
            f"in {self.wall_seconds:.1f} s on {self.workers}"
        )

    def table(self) -> str:
        """The verdict first, then a row per check seen (failed or not) and one for crashes."""
        checks = sorted({check for run in self.runs.values() for check in run.get("verdicts", {})})
        failures = self.failures()
        rows = [(check, failures.get(check, [])) for check in checks]
        if self.crashes:
            rows.append(("(crashed)", sorted(self.crashes)))
        width = max([len("check"), *(len(name) for name, _ in rows)])
        lines = [("PASS " if self.ok else "FAIL ") + self.summary(), f"{'check':<{width}}  failed  seeds"]
        for name, seeds in rows:
            more = f", ... ({len(seeds) - 20} more)" if len(seeds) > 20 else ""
            shown = ", ".join(map(str, seeds[:20])) + more
            lines.append(f"{name:<{width}}  {len(seeds):>6}  {shown}".rstrip())
        for seed, message in sorted(self.crashes.items())[:5]:
            lines.append(f"seed {seed} crashed: {message}")
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "ok": self.ok,
            "seeds": list(self.seeds),
            "wall_seconds": round(self.wall_seconds, 3),
            "workers": self.workers,
            "failures": self.failures(),
            "crashes": {str(seed): message for seed, message in sorted(self.crashes.items())},
            "runs": [dict(self.runs[seed]) for seed in sorted(self.runs)],
        }


def parse_seeds(text: str) -> list[int]:
    """Seeds from ``"1-500"``, ``"7"`` or ``"1-10,42,100-120"``, in the order given, without repeats."""
    seeds: dict[int, None] = {}
    for part in text.split(","):
        low, dash, high = part.strip().partition("-")
        try:
            first = int(low)
            last = int(high) if dash else first
        except ValueError:
            raise SweepError(
                f"seeds {text!r}: {part.strip()!r} is not a seed or a range such as 1-500"
            ) from None
        if last < first:
            raise SweepError(f"seeds {text!r}: the range {part.strip()!r} runs backwards")
        if len(seeds) + last - first + 1 > MAX_SEEDS:
            raise SweepError(f"seeds {text!r}: more than {MAX_SEEDS:,} seeds; sweep in batches")
        seeds.update(dict.fromkeys(range(first, last + 1)))
    return list(seeds)


@contextlib.contextmanager
def _pinned_hash_seed() -> Iterator[None]:
    """Worker interpreters started inside inherit ``PYTHONHASHSEED=0``: str hashing alike in each."""
    before = os.environ.get("PYTHONHASHSEED")
    os.environ["PYTHONHASHSEED"] = "0"
    try:
        yield
    finally:
        if before is None:
            del os.environ["PYTHONHASHSEED"]
        else:
            os.environ["PYTHONHASHSEED"] = before


def _run_local(
    run_one: RunOne, source: str, seeds: Sequence[int], jobs: int, done: Callable[[int, _Outcome], None]
) -> None:
    # spawn, not fork: each worker is a fresh interpreter that sees the pinned hash seed
    context = multiprocessing.get_context("spawn")
    with _pinned_hash_seed():
        pool = ProcessPoolExecutor(max_workers=jobs, mp_context=context)
        try:
            futures: dict[Future[dict[str, Any]], int] = {
                pool.submit(run_one, source, seed): seed for seed in seeds
            }
            for future in as_completed(futures):
                done(futures[future], future)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)


def _run_dask(
    run_one: RunOne, source: str, seeds: Sequence[int], address: str, done: Callable[[int, _Outcome], None]
) -> None:
    from dask.distributed import Client
    from dask.distributed import as_completed as dask_completed

    try:
        client = Client(address, timeout=DASK_CONNECT_TIMEOUT)
    except (OSError, TimeoutError) as exc:
        raise SweepError(f"cannot reach the Dask scheduler at {address}: {exc}") from None
    with client:
        futures = client.map(run_one, [source] * len(seeds), list(seeds), pure=False)
        seed_of = {future.key: seed for future, seed in zip(futures, seeds, strict=True)}
        for future in dask_completed(futures):
            done(seed_of[future.key], future)


def sweep(
    run_one: RunOne,
    source: str,
    seeds: Sequence[int],
    *,
    jobs: int | None = None,
    dask_address: str | None = None,
    progress: bool = True,
) -> SweepResult:
    """Run ``run_one(source, seed)`` for every seed, on ``jobs`` local processes (default: one per
    core) or on the Dask cluster at ``dask_address``; a run that raises is recorded as a crash.

    Workers run elsewhere: a scenario path should be absolute, and Dask workers must see it (a shared
    file system, or the same checkout).
    """
    seeds = list(dict.fromkeys(seeds))
    if not seeds:
        raise SweepError("no seeds to run")
    if dask_address is not None:
        dask_address = check_dask_address(dask_address)
        if jobs is not None:
            raise SweepError("--jobs and --dask: give one (a Dask cluster's workers decide its parallelism)")
    workers = max(1, min(jobs or os.cpu_count() or 1, len(seeds)))
    runs: dict[int, Mapping[str, Any]] = {}
    crashes: dict[int, str] = {}
    bar_context = (
        click.progressbar(
            length=len(seeds),
            label=os.path.basename(source),
            file=sys.stderr,
            show_pos=True,
            item_show_func=lambda status: status,
        )
        if progress
        else contextlib.nullcontext()
    )

    failing = 0

    with bar_context as bar:

        def done(seed: int, outcome: _Outcome) -> None:
            nonlocal failing
            try:
                runs[seed] = run = outcome.result()
                failing += any(v.get("ok") is not True for v in run.get("verdicts", {}).values())
            except Exception as exc:  # a crashed run is a finding, not the end of the sweep
                crashes[seed] = f"{type(exc).__name__}: {exc}"
            if bar is not None:
                bar.update(1, f"{failing} failed, {len(crashes)} crashed")

        started = time.perf_counter()
        if dask_address is not None:
            _run_dask(run_one, source, seeds, dask_address, done)
        else:
            _run_local(run_one, source, seeds, workers, done)
        wall = time.perf_counter() - started
    where = dask_address or f"{workers} local process{'es' if workers > 1 else ''}"
    return SweepResult(
        scenario=source, seeds=tuple(seeds), runs=runs, crashes=crashes, wall_seconds=wall, workers=where
    )
