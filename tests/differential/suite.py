"""The whole differential run: both servers up, every scenario and ``cinder`` command sent to
each, every answer judged; and the checked-in list of known differences."""

from __future__ import annotations

import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from . import cli, compare, corpus
from .runner import Exchange, Runner
from .servers import BACKENDS, HERE, CinderStack, start_replisim

KNOWN = HERE / "known_differences.yaml"
KNOWN_HEADER = """\
# Requests to which replisim does not yet answer as Cinder 29 does, each with the reason. Every
# entry is a strict xfail in test_differential.py: fixing the difference makes the test fail until
# its entry is removed here. Rewritten (reasons kept) by `make differential ARGS=--update-known`.
"""


@dataclass(frozen=True)
class Result:
    """One request (or ``cinder`` command) judged."""

    key: str
    outcome: str  # matches | allowlisted | differs
    report: str  # what was sent and every difference, readable
    summary: str = ""  # the unexplained differences in a line, for known_differences.yaml


@dataclass
class Run:
    results: dict[str, Result]
    timings: dict[str, float]
    allowlist_used: set[int] = field(default_factory=set)  # indexes into compare.ALLOWLIST
    cli: list[tuple[cli.Outcome, cli.Outcome]] = field(default_factory=list)
    cinder_status: dict[str, int | None] = field(default_factory=dict)  # each request's, by key

    def tally(self) -> Counter[str]:
        return Counter(r.outcome for r in self.results.values())


def all_keys() -> list[str]:
    return corpus.request_keys() + cli.keys()


def _against(url: str, home: Path) -> tuple[dict[str, list[Exchange]], list[cli.Outcome], float, float]:
    """Everything, sent to one server: the ``cinder`` commands first, then the scenarios, whose
    last steps may leave the backend unusable (see ``corpus``)."""
    started = time.monotonic()
    outcomes = cli.run_all(url, home)
    commands_done = time.monotonic()
    runner = Runner(url)
    exchanges = {s.name: runner.run(s) for s in corpus.SCENARIOS}
    return exchanges, outcomes, time.monotonic() - commands_done, commands_done - started


def run(workdir: Path, backends: tuple[str, ...] = BACKENDS) -> Run:
    """Start both servers, send everything to each (concurrently: they share nothing), judge."""
    timings: dict[str, float] = {}
    started = time.monotonic()
    cinder = CinderStack.start(workdir / "cinder-stack.log", backends)
    timings["cinder start"] = time.monotonic() - started
    try:
        started = time.monotonic()
        replisim = start_replisim(backends)
        timings["replisim start"] = time.monotonic() - started
        try:
            homes = workdir / "home-cinder", workdir / "home-replisim"
            for home in homes:
                home.mkdir(exist_ok=True)
            with ThreadPoolExecutor(2) as pool:
                on_cinder = pool.submit(_against, cinder.url, homes[0])
                on_replisim = pool.submit(_against, replisim.url, homes[1])
                c_ex, c_cli, timings["cinder requests"], timings["cinder cli"] = on_cinder.result()
                r_ex, r_cli, timings["replisim requests"], timings["replisim cli"] = on_replisim.result()
        finally:
            replisim.stop()
    finally:
        cinder.stop()
    return judge(c_ex, r_ex, list(zip(c_cli, r_cli, strict=True)), timings)


def judge(
    cinder: dict[str, list[Exchange]],
    replisim: dict[str, list[Exchange]],
    commands: list[tuple[cli.Outcome, cli.Outcome]],
    timings: dict[str, float],
) -> Run:
    result = Run({}, timings, cli=commands)
    result.cinder_status = {e.key: e.status for exchanges in cinder.values() for e in exchanges}
    for scenario in corpus.SCENARIOS:
        for verdict in compare.compare_runs(scenario, cinder[scenario.name], replisim[scenario.name]):
            result.allowlist_used.update(compare.ALLOWLIST.index(rule) for _, rule in verdict.allowed)
            result.results[verdict.key] = Result(
                verdict.key, verdict.outcome, verdict.report(), verdict.summary()
            )
    for c, r in commands:
        verdict = cli.compare(c, r)
        result.allowlist_used.update(compare.ALLOWLIST.index(rule) for _, rule in verdict.allowed)
        why = (
            f"replisim exits {r.code} where Cinder exits {c.code} ({r.stderr[:120]})"
            if c.code != r.code
            else "replisim prints another table"
            if verdict.unexplained
            else ""
        )
        result.results[c.key] = Result(c.key, verdict.outcome, verdict.report(), why)
    return result


def load_known(path: Path = KNOWN) -> dict[str, str]:
    """The known differences: request key -> why; a ``ValueError`` naming the file and entry if
    the file is malformed or names a request the corpus does not have."""
    data: Any = yaml.safe_load(path.read_text()) if path.exists() else {}
    data = data or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: must map request keys (scenario/label) to reasons")
    keys = set(all_keys())
    for key, why in data.items():
        if key not in keys:
            raise ValueError(f"{path}: {key!r} is not a request in corpus.py or cli.py; remove it")
        if not isinstance(why, str) or not why.strip():
            raise ValueError(
                f"{path}: {key!r} needs a reason (a sentence saying what replisim does not yet do)"
            )
    return {str(k): str(v) for k, v in data.items()}


def write_known(run: Run, path: Path = KNOWN) -> dict[str, str]:
    """Rewrite the file from ``run``: differing requests keep their reason, new ones get one
    made from their differences, matching ones leave."""
    previous = load_known(path) if path.exists() else {}
    known = {
        r.key: previous.get(r.key) or r.summary
        for key in all_keys()
        if (r := run.results.get(key)) and r.outcome == "differs"
    }
    path.write_text(KNOWN_HEADER + (yaml.safe_dump(known, sort_keys=False, width=200) if known else "{}\n"))
    return known


def report(run: Run, known: dict[str, str]) -> str:
    """The tally, then each differing request's diff, then the ``cinder`` commands' exit codes."""
    tally = run.tally()
    lines = [
        f"differential: {tally['matches']} matching, {tally['allowlisted']} allowlisted, "
        f"{tally['differs']} differing ({sum(1 for k in known if run.results[k].outcome == 'differs')} "
        f"of them known) of {len(run.results)} requests",
        "timings: " + ", ".join(f"{k} {v:.1f} s" for k, v in run.timings.items()),
        "",
    ]
    for key in all_keys():
        result = run.results[key]
        if result.outcome != "matches":
            lines += [("" if key in known or result.outcome != "differs" else "NEW ") + result.report, ""]
    lines.append("cinder commands (exit code against Cinder, replisim):")
    lines += [f"  {c.code} {r.code}  {c.command}" for c, r in run.cli]
    return "\n".join(lines)
