"""Running checks: capability gating, one cleanup stack per check, and the verdict.

The command line runs every selected check in order; the pytest plugin runs them one item at a
time. Both go through ``Suite.run`` so a check means the same thing either way.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field

from .checks import CAPABILITIES, CHECKS, Check
from .harness import DEFAULT_TIMEOUT, Blocked, CheckFailed, Environment, Probe, control_plane_log
from .target import BadInput, Target

PASSED, FAILED, SKIPPED = "passed", "failed", "skipped"
EXIT_PASSED, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_NOTHING_CHECKED = 0, 1, 2, 3


@dataclass
class Outcome:
    """What one check found."""

    check: Check
    status: str
    reason: str = ""  # why it was skipped, or a one-line summary of the failure
    failure: CheckFailed | None = None
    log: list[str] = field(default_factory=list)  # what the control plane logged meanwhile
    calls: list[str] = field(default_factory=list)  # every call the check made, in order
    seconds: float = 0.0


@dataclass
class RunReport:
    """A whole run: what was tested, each outcome, and the verdict."""

    target: Target
    run_id: str
    capabilities: dict[str, str | None]
    outcomes: list[Outcome]
    seconds: float
    volume_ids: list[str] = field(default_factory=list)  # every volume id the run made

    def count(self, status: str) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    @property
    def executed(self) -> int:
        """Checks of the driver that ran (the suite's own hygiene check does not count)."""
        return sum(1 for o in self.outcomes if o.status != SKIPPED and o.check.via != "suite")

    @property
    def exit_code(self) -> int:
        if self.count(FAILED):
            return EXIT_FAILED
        return EXIT_PASSED if self.executed else EXIT_NOTHING_CHECKED

    @property
    def verdict(self) -> str:
        verdicts = {EXIT_PASSED: "PASS", EXIT_FAILED: "FAIL", EXIT_NOTHING_CHECKED: "NOTHING CHECKED"}
        return verdicts[self.exit_code]


def select_checks(prefixes: Iterable[str] = ()) -> list[Check]:
    """The checks whose ID starts with one of ``prefixes`` (all when none); a prefix that matches
    nothing is a mistake worth an error, never a silently empty run."""
    wanted = [p.strip().upper() for p in prefixes if p.strip()]
    if not wanted:
        return list(CHECKS)
    for prefix in wanted:
        if not any(c.id.startswith(prefix) for c in CHECKS):
            raise BadInput(
                f"--check {prefix!r} matches no check ID; IDs start with "
                f"{', '.join(sorted({c.id.split('-')[0] for c in CHECKS}))}"
            )
    return [c for c in CHECKS if any(c.id.startswith(p) for p in wanted)]


def _quoted(line: str, text: str) -> bool:
    """Whether ``text`` already says what a log line says after one of its ``prefix: `` parts."""
    parts = line.split(": ")
    tails = (": ".join(parts[i:]) for i in range(1, len(parts)))
    return any(len(tail) >= 20 and tail in text for tail in tails)


class Suite:
    """One run against one target."""

    def __init__(self, target: Target, require: Collection[str] = (), timeout: float = DEFAULT_TIMEOUT):
        unknown = sorted(set(require) - set(CAPABILITIES))
        if unknown:
            raise BadInput(
                f"--require {', '.join(unknown)}: unknown capability; known: {', '.join(CAPABILITIES)}"
            )
        if not timeout > 0:
            raise BadInput(f"per-call timeout {timeout!r}: it must be above 0 seconds")
        self.env = Environment(target, timeout)
        self.require = frozenset(require)
        self.started = time.perf_counter()

    def run(self, check: Check) -> Outcome:
        start = time.perf_counter()
        probe = Probe(self.env)
        outcome = Outcome(check, PASSED)
        guard = self.env.guard
        hung_before = len(guard.timeouts)
        with control_plane_log() as log:
            try:
                missing = [(need, why) for need in check.requires if (why := self.env.capability(need))]
                if missing:
                    outcome = self._gated(check, *missing[0])
                else:
                    check.run(probe)
            except Blocked as exc:
                outcome = Outcome(check, SKIPPED, f"blocked: {exc}")
            except CheckFailed as exc:
                exc.call = exc.call or (probe.calls[-1] if probe.calls else "")
                outcome = Outcome(check, FAILED, f"expected {exc.expected}", exc)
            except Exception as exc:  # the driver raised where the contract wants an answer
                call = probe.calls[-1] if probe.calls else ""
                failure = CheckFailed("the call to return", f"raised {type(exc).__name__}: {exc}", call)
                outcome = Outcome(check, FAILED, "the driver raised", failure)
            finally:
                if len(guard.timeouts) > hung_before:
                    self.env.fresh_drivers()  # the undo, and the next checks, get new driver objects
                self.env.cleanup_errors.extend(f"{check.id}: {e}" for e in probe.cleanup.run())
        hung = guard.timeouts[hung_before:]
        if hung:  # whatever else the check saw, a call that never answered is its failure
            failure = CheckFailed(
                f"an answer within {guard.timeout:g} s (the per-call timeout)",
                hung[0].observed + (f" ({len(hung)} calls hung)" if len(hung) > 1 else ""),
                hung[0].call,
                hint="--timeout SECONDS sets the per-call timeout",
            )
            outcome = Outcome(check, FAILED, f"a driver call hung for {guard.timeout:g} s", failure)
        if outcome.status == FAILED:  # what the control plane logged, unless the failure quotes it
            observed = outcome.failure.observed if outcome.failure else ""
            lines = [line for line in log if not _quoted(line, observed)]
            outcome.log = [line if n == 1 else f"{line} (x{n})" for line, n in Counter(lines).items()]
        outcome.calls = list(probe.calls)
        outcome.seconds = time.perf_counter() - start
        return outcome

    def _gated(self, check: Check, capability: str, reason: str) -> Outcome:
        if capability in self.require:
            failure = CheckFailed(
                f"capability {capability!r}: {CAPABILITIES[capability]}",
                reason,
                hint=f"--require {capability} makes this skip a failure",
            )
            return Outcome(check, FAILED, f"required capability {capability!r} is missing", failure)
        return Outcome(check, SKIPPED, f"{capability}: {reason}")

    def close(self) -> list[str]:
        """Undo whatever is left (a run cut short never reached HYG-CLEANUP-001)."""
        return [] if self.env.finished else self.env.finish()


def run_suite(
    target: Target,
    require: Collection[str] = (),
    select: Iterable[str] = (),
    timeout: float = DEFAULT_TIMEOUT,
) -> RunReport:
    """Run the selected checks in order and report; nothing is left behind, whatever happens."""
    checks = select_checks(select)
    suite = Suite(target, require, timeout)
    outcomes = []
    try:
        outcomes = [suite.run(check) for check in checks]
    finally:
        suite.close()
    return RunReport(
        target,
        suite.env.run_id,
        suite.env.known_capabilities(),
        outcomes,
        time.perf_counter() - suite.started,
        suite.env.volume_ids(),
    )
