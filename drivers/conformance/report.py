"""A run, written three ways: a terminal summary, JUnit XML for CI, and JSON for dashboards.

All three say the same thing and none shows a credential: every text that leaves the suite goes
through the same redaction of the config's secrets (a leaking driver's answer is quoted masked).
"""

from __future__ import annotations

import hashlib
import json
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from replisim import __version__
from replisim.redaction import Redactor

from .checks import AREAS, CAPABILITIES
from .runner import FAILED, SKIPPED, Outcome, RunReport

_MARK = {"passed": "PASS", "failed": "FAIL", "skipped": "SKIP"}


Redact = Callable[[str], str]


def redactor(report: RunReport) -> Redact:
    """What every text that leaves the suite goes through: the config's secrets masked."""
    return Redactor(report.target.secrets()).text


def _config_digest(path: str) -> str:
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return ""


def _counts(outcomes: Iterable[Outcome]) -> str:
    outcomes = list(outcomes)
    parts = [f"{sum(o.status == s for o in outcomes)} {s}" for s in ("passed", "failed", "skipped")]
    return ", ".join(p for p in parts if not p.startswith("0 ")) or "nothing"


def _capability_line(report: RunReport) -> str:
    shown = []
    for name in CAPABILITIES:
        if name in report.capabilities:
            why = report.capabilities[name]
            shown.append(f"{name}: yes" if why is None else f"{name}: no")
    return "; ".join(shown) or "none evaluated"


def failure_text(outcome: Outcome, redact: Redact) -> list[str]:
    """The lines that explain one failure: clause, call, expected, observed (and what Cinder logged)."""
    check, failure = outcome.check, outcome.failure
    lines = [f"{check.id} [{check.via}] {check.title}", f"  Clause:   {check.clause}"]
    if failure is not None:
        earlier = outcome.calls[:-1] if outcome.calls[-1:] == [failure.call] else []
        if earlier:  # how the check got there (a disable first, for a volume born enabled)
            lines.append(f"  After:    {redact('; '.join(earlier[-4:]))}")
        if failure.call:
            lines.append(f"  Call:     {redact(failure.call)}")
        lines.append(f"  Expected: {redact(failure.expected)}")
        lines.append(f"  Observed: {redact(failure.observed)}")
        if failure.hint:
            lines.append(f"  Hint:     {failure.hint}")
    if outcome.log:
        lines.append("  The control plane logged:")
        lines.extend(f"    {redact(line)}" for line in outcome.log[-5:])
    return lines


def terminal(report: RunReport) -> str:
    """The summary a vendor reads first: the verdict, then each contract area, then the failures."""
    redact = redactor(report)
    target = report.target
    lines = [
        f"replisim conformance: {report.verdict}  ({_counts(report.outcomes)} in {report.seconds:.2f} s)",
        f"  driver   {target.driver_path}",
        f"  backend  [{target.backend.name}] {target.backend.host}   config {target.config.source}",
        f"  capabilities  {_capability_line(report)}",
        f"  volumes  conformance-{report.run_id}-NNN, each deleted when its check ends",
    ]
    if report.exit_code == 3:
        lines.append("  No check of the driver ran: a run that checks nothing is not a pass.")
    for area in AREAS:
        outcomes = [o for o in report.outcomes if o.check.area == area]
        if not outcomes:
            continue
        lines.append("")
        lines.append(f"{area}: {_counts(outcomes)}")
        for o in outcomes:
            line = f"  {_MARK[o.status]}  {o.check.id:<22} {o.check.via:<7} {o.check.title}"
            if o.status == SKIPPED:
                line += f"  ({redact(o.reason)})"
            lines.append(line)
    failed = [o for o in report.outcomes if o.status == FAILED]
    if failed:
        lines.extend(["", "Failures", "--------"])
        for o in failed:
            lines.extend(failure_text(o, redact))
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def _summary(report: RunReport) -> dict[str, Any]:
    target = report.target
    return {
        "suite": "replisim conformance",
        "suite_version": __version__,
        "verdict": report.verdict,
        "exit_code": report.exit_code,
        "driver": target.driver_path,
        "driver_version": str(getattr(target.driver_class, "VERSION", "")),
        "backend": target.backend.name,
        "host": target.backend.host,
        "config": target.config.source,
        "config_sha256": _config_digest(target.config.source),
        "run_id": report.run_id,
        "seconds": round(report.seconds, 3),
    }


def as_json(report: RunReport) -> str:
    """Every check's outcome, with what a dashboard needs to group and explain it."""
    redact = redactor(report)
    checks = []
    for o in report.outcomes:
        failure = o.failure
        checks.append(
            {
                "id": o.check.id,
                "area": o.check.area,
                "via": o.check.via,
                "title": o.check.title,
                "clause": o.check.clause,
                "requires": list(o.check.requires),
                "outcome": o.status,
                "reason": redact(o.reason) or None,
                "call": redact(failure.call) if failure and failure.call else None,
                "calls": [redact(call) for call in o.calls],
                "expected": redact(failure.expected) if failure else None,
                "observed": redact(failure.observed) if failure else None,
                "hint": failure.hint if failure and failure.hint else None,
                "log": [redact(line) for line in o.log],
                "seconds": round(o.seconds, 4),
            }
        )
    document = {
        **_summary(report),
        "counts": {s: report.count(s) for s in ("passed", "failed", "skipped")},
        "executed": report.executed,
        "capabilities": {
            name: {"present": why is None, "reason": why} for name, why in report.capabilities.items()
        },
        "checks": checks,
    }
    return json.dumps(document, indent=2) + "\n"


def junit_xml(report: RunReport) -> str:
    """JUnit XML: one testcase per check, named by its permanent ID."""
    redact = redactor(report)
    total = len(report.outcomes)
    attrs = {
        "name": "replisim-conformance",
        "tests": str(total),
        "failures": str(report.count(FAILED)),
        "errors": "0",
        "skipped": str(report.count(SKIPPED)),
        "time": f"{report.seconds:.3f}",
    }
    root = ET.Element("testsuites", attrs)
    suite = ET.SubElement(root, "testsuite", attrs)
    properties = ET.SubElement(suite, "properties")
    for key, value in _summary(report).items():
        ET.SubElement(properties, "property", name=key, value=str(value))
    for name, why in report.capabilities.items():
        shown = "yes" if why is None else f"no: {why}"
        ET.SubElement(properties, "property", name=f"capability.{name}", value=shown)
    for o in report.outcomes:
        area = o.check.area.lower().replace("-", "")
        case = ET.SubElement(
            suite, "testcase", classname=f"conformance.{area}", name=o.check.id, time=f"{o.seconds:.4f}"
        )
        if o.status == FAILED:
            text = "\n".join(failure_text(o, redact))
            failure = ET.SubElement(case, "failure", message=redact(o.reason), type="ConformanceFailure")
            failure.text = text
        elif o.status == SKIPPED:
            ET.SubElement(case, "skipped", message=redact(o.reason))
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
