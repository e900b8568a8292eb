"""The ``cinder`` command (python-cinderclient's shell, unchanged) against both servers.

Each command runs as an operator runs it against a noauth endpoint (``--os-endpoint URL/v3``, so
the client discovers the microversion from ``GET /``) in the ``cli`` project. What is compared:
the exit code and the output's shape (a property table's property names, a list table's columns),
not its values, which hold ids and times.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from .compare import REQUEST_ID, UUID, Difference, Verdict, judge
from .runner import TRANSITIONAL, dig

PROJECT = hashlib.sha256(b"cli").hexdigest()[:32]
V1, V2, TYPE = "diff-cli-1", "diff-cli-2", "diff-cli-gold"


@dataclass(frozen=True)
class Command:
    """One ``cinder`` command; afterwards wait until the volume named ``settle`` settled (or is
    ``gone``)."""

    label: str
    args: tuple[str, ...]
    user: str = "admin"
    settle: str | None = None
    gone: str | None = None
    same_shape: bool = True  # False: the output is the driver's own (pool capabilities)


def c(label: str, *args: str, **kw: Any) -> Command:
    return Command(label, args, **kw)


COMMANDS: tuple[Command, ...] = (
    c("version-list", "version-list"),
    c("api-version", "api-version"),
    c("list-extensions", "list-extensions"),
    c("type-list", "type-list"),
    c("type-default", "type-default"),
    c("type-create", "type-create", TYPE, "--description", "cli type"),
    c("type-show", "type-show", TYPE),
    c("type-key-set", "type-key", TYPE, "set", "tier=1", "RESKEY:availability_zones=nova"),
    c("extra-specs-list", "extra-specs-list"),
    c("type-key-unset", "type-key", TYPE, "unset", "tier"),
    c("create", "create", "1", "--name", V1, settle=V1),
    c(
        "create-typed",
        "create",
        "1",
        "--name",
        V2,
        "--volume-type",
        TYPE,
        "--description",
        "d",
        "--metadata",
        "k=v",
        settle=V2,
    ),
    c("list", "list"),
    c("list-name", "list", "--name", V1),
    c("list-sort", "list", "--sort", "name:asc"),
    c("list-limit", "list", "--limit", "1"),
    c("list-filters", "list", "--filters", "name~=diff-cli"),
    c("list-with-count", "list", "--with-count"),
    c("list-all-tenants", "list", "--all-tenants"),
    c("list-filters-command", "list-filters"),
    c("show", "show", V1),
    c("rename", "rename", V1, V1, "--description", "renamed"),
    c("metadata-set", "metadata", V1, "set", "a=1"),
    c("metadata-show", "metadata-show", V1),
    c("metadata-update-all", "metadata-update-all", V1, "b=2"),
    c("metadata-unset", "metadata", V1, "unset", "b"),
    c("extend", "extend", V1, "2", settle=V1),
    c("set-bootable", "set-bootable", V1, "true"),
    c("readonly-mode-update", "readonly-mode-update", V1, "true"),
    c("reset-state-error", "reset-state", "--state", "error", V1),
    c("reset-state-available", "reset-state", "--state", "available", V1),
    c("summary", "summary"),
    c("service-list", "service-list"),
    c("service-list-binary", "service-list", "--binary", "cinder-volume"),
    c("service-disable", "service-disable", "replisim@alpha", "cinder-volume"),
    c("service-enable", "service-enable", "replisim@alpha", "cinder-volume"),
    c("service-list-member", "service-list", user="alice"),
    c("quota-show", "quota-show", PROJECT),
    c("quota-defaults", "quota-defaults", PROJECT),
    c("quota-usage", "quota-usage", PROJECT),
    c("quota-update", "quota-update", "--volumes", "20", PROJECT),
    c("quota-class-show", "quota-class-show", "default"),
    c("absolute-limits", "absolute-limits"),
    c("rate-limits", "rate-limits"),
    c("availability-zone-list", "availability-zone-list"),
    c("get-pools", "get-pools"),
    c("get-pools-detail", "get-pools", "--detail", same_shape=False),
    c("delete-typed", "delete", V2, gone=V2),
    c("type-delete", "type-delete", TYPE),
    c("delete", "delete", V1, gone=V1),
)


@dataclass(frozen=True)
class Outcome:
    key: str
    command: str
    code: int
    shape: tuple[str, ...]  # empty where the shape is not compared
    stderr: str


def shape(output: str) -> tuple[str, ...]:
    """What a client's user sees the form of: a property table's names, a list table's columns."""
    rows = [
        [cell.strip() for cell in line.strip().strip("|").split("|")]
        for line in output.splitlines()
        if line.startswith("|")
    ]
    if not rows:
        return ("text",) if output.strip() else ()
    if rows[0][:2] == ["Property", "Value"]:
        return ("properties", *sorted(row[0] for row in rows[1:] if row[0]))
    return ("columns", *rows[0])


def run_all(url: str, home: Path) -> list[Outcome]:
    """Every command, in order, from one child process that imports the client once and forks a
    ``cinder`` for each command (``run``): the client is unchanged and starts fresh each time,
    without fifty interpreter starts."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OS_", "CINDER_"))}
    env["HOME"] = str(home)  # cinderclient keeps a completion cache there
    env["PYTHONPATH"] = os.pathsep.join(
        [str(Path(__file__).resolve().parent.parent), env.get("PYTHONPATH", "")]
    )
    out = home / "cli-outcomes.json"
    subprocess.run(
        [sys.executable, "-m", "differential.cli", url, str(out)], env=env, cwd=home, timeout=900, check=True
    )
    return [Outcome(**{**o, "shape": tuple(o["shape"])}) for o in json.loads(out.read_text())]


def run(url: str, command: Command) -> Outcome:
    """One command: ``cinder ARGS`` in a child forked from this process, with its output and exit
    code. Each command needs a fresh client (run in one interpreter, ``list --filters`` leaks
    into the next ``list``); forking after the import gives one without an interpreter start."""
    from cinderclient import shell

    argv = [
        "cinder",
        "--os-auth-type",
        "noauth",
        "--os-user-id",
        command.user,
        "--os-project-id",
        PROJECT,
        "--os-endpoint",
        f"{url}/v3",
        *command.args,
    ]
    with tempfile.TemporaryFile() as stdout, tempfile.TemporaryFile() as stderr:
        sys.stdout.flush()
        sys.stderr.flush()
        child = os.fork()
        if child == 0:  # pragma: no cover (the child never returns)
            code = 1
            try:
                os.dup2(stdout.fileno(), 1)
                os.dup2(stderr.fileno(), 2)
                sys.argv = argv
                try:
                    shell.main()
                    code = 0
                except SystemExit as exit_:
                    code = exit_.code if isinstance(exit_.code, int) else 0 if exit_.code is None else 1
                sys.stdout.flush()
                sys.stderr.flush()
            finally:
                os._exit(code)
        code = os.waitstatus_to_exitcode(os.waitpid(child, 0)[1])
        stdout.seek(0)
        stderr.seek(0)
        out, err = stdout.read().decode(errors="replace"), stderr.read().decode(errors="replace")
    waited = command.settle or command.gone
    if waited:
        _wait(url, waited, gone=command.gone is not None)
    return Outcome(
        f"cli/{command.label}",
        "cinder " + " ".join(command.args),
        code,
        shape(out) if command.same_shape else (),
        _shown(err),
    )


def _shown(stderr: str) -> str:
    """What the command said on stderr, in a line, its ids and request ids named, not shown."""
    said = UUID.sub("<id>", REQUEST_ID.sub("<request-id>", stderr))
    return re.sub(r"\s+", " ", said).strip()[:300]


def _wait(url: str, name: str, *, gone: bool, timeout: float = 30.0) -> None:
    """Until the volume ``name`` left every transitional status (or, ``gone``, is no more)."""
    headers: Mapping[str, str] = {"X-Auth-Token": f"admin:{PROJECT}", "Accept": "application/json"}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answer = requests.get(
            f"{url}/v3/{PROJECT}/volumes/detail", params={"name": name}, headers=headers, timeout=30
        )
        volumes = dig(answer.json(), "volumes") if answer.ok else None
        if isinstance(volumes, list) and (
            not volumes if gone else all(v.get("status") not in TRANSITIONAL for v in volumes)
        ):
            return
        time.sleep(0.05)


def keys() -> list[str]:
    return [f"cli/{command.label}" for command in COMMANDS]


def compare(cinder: Outcome, replisim: Outcome) -> Verdict:
    """How replisim's outcome differs from Cinder's, judged by the allowlist as answers are: a
    property table's names are the places (``output.NAME``), so a field the allowlist explains in
    an answer is explained in the table that shows it."""
    found = []
    if cinder.code != replisim.code:
        shown = f"{replisim.code} ({replisim.stderr})" if replisim.stderr else replisim.code
        found.append(Difference("exit code", cinder.code, shown, "status"))
    if cinder.shape[:1] == replisim.shape[:1] == ("properties",):
        theirs, ours = set(cinder.shape[1:]), set(replisim.shape[1:])
        found += [Difference(f"output.{name}", name, None, "missing") for name in sorted(theirs - ours)]
        found += [Difference(f"output.{name}", None, name, "extra") for name in sorted(ours - theirs)]
    elif cinder.shape != replisim.shape:
        found.append(
            Difference(
                "output",
                " | ".join(cinder.shape) or "nothing",
                " | ".join(replisim.shape) or "nothing",
                "value",
            )
        )
    request = f"{cinder.command}: exit Cinder {cinder.code}, replisim {replisim.code}"
    return judge(cinder.key, request, found)


def main(argv: list[str]) -> int:
    """``python -m differential.cli URL OUT``: run every command against URL, outcomes to OUT."""
    url, out = argv
    Path(out).write_text(json.dumps([dataclasses.asdict(run(url, command)) for command in COMMANDS]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
