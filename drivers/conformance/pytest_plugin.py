"""The pytest face of the suite: ``pytest --driver pkg.mod:Class --driver-config FILE``.

Registered under the ``pytest11`` entry point, so it loads wherever replisim is installed, and it
does nothing unless ``--driver`` is given. Then every check becomes one item named by its ID
(select with ``-k REPL-FAILOVER``), next to whatever tests the session collects anyway; pytest's
own ``--junitxml`` reports them, with the clause as a property.
"""

from __future__ import annotations

from typing import Any

import pytest

from replisim.redaction import Redactor

from .checks import CAPABILITIES, CHECKS, Check
from .harness import DEFAULT_TIMEOUT
from .report import failure_text
from .runner import FAILED, SKIPPED, Outcome, Suite
from .target import BadInput, import_from_cwd, load_target

NODE = "replisim-conformance"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("replisim-conformance", "replisim driver conformance suite")
    group.addoption(
        "--driver",
        default=None,
        metavar="PKG.MOD:CLASS",
        help="Run the conformance checks against this driver class.",
    )
    group.addoption(
        "--driver-config",
        default=None,
        metavar="FILE",
        help="The cinder.conf holding the backend's section (needed with --driver).",
    )
    group.addoption(
        "--driver-backend",
        default=None,
        metavar="NAME",
        help="The backend section to test (default: the first enabled backend).",
    )
    group.addoption(
        "--driver-timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help=f"Fail a check whose driver call gives no answer within this (default {DEFAULT_TIMEOUT:g}).",
    )
    group.addoption(
        "--require",
        action="append",
        default=[],
        metavar="CAPABILITY",
        help=f"Fail instead of skip the checks that need it: {', '.join(CAPABILITIES)}.",
    )


def pytest_configure(config: pytest.Config) -> None:
    driver = config.getoption("driver", None)
    if driver is None:
        return
    path = config.getoption("driver_config")
    if not path:
        raise pytest.UsageError("--driver needs --driver-config FILE (the cinder.conf with its backend)")
    timeout = config.getoption("driver_timeout")
    if not timeout > 0:
        raise pytest.UsageError(f"--driver-timeout {timeout:g}: it must be above 0 seconds")
    import_from_cwd()
    try:
        target = load_target(driver, path, config.getoption("driver_backend"))
        suite = Suite(target, config.getoption("require"), timeout)
    except BadInput as exc:
        raise pytest.UsageError(str(exc)) from None
    config.pluginmanager.register(ConformanceSession(suite), f"{NODE}-session")


class ConformanceFailure(Exception):
    """Carries a failed outcome to ``repr_failure``."""

    def __init__(self, outcome: Outcome):
        super().__init__(outcome.reason)
        self.outcome = outcome


class CheckItem(pytest.Item):
    """One check, run through the session's ``Suite``."""

    def __init__(self, *, check: Check, suite: Suite, **kwargs: Any):
        super().__init__(**kwargs)
        self.check = check
        self.suite = suite
        self.user_properties.extend([("clause", check.clause), ("via", check.via)])

    def runtest(self) -> None:
        outcome = self.suite.run(self.check)
        if outcome.status == SKIPPED:
            pytest.skip(outcome.reason)
        if outcome.status == FAILED:
            raise ConformanceFailure(outcome)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, ConformanceFailure):
            lines = failure_text(excinfo.value.outcome, Redactor(self.suite.env.target.secrets()).text)
            return "\n".join(lines[1:])  # pytest's header already names the check
        return super().repr_failure(excinfo)

    def reportinfo(self) -> tuple[Any, int | None, str]:
        return self.path, None, f"{self.check.id} [{self.check.via}] {self.check.title}"


class ChecksCollector(pytest.Collector):
    def __init__(self, *, suite: Suite, **kwargs: Any):
        super().__init__(**kwargs)
        self.suite = suite

    def collect(self) -> list[pytest.Item]:
        return [CheckItem.from_parent(self, name=check.id, check=check, suite=self.suite) for check in CHECKS]


class ConformanceSession:
    """Adds the checks to the collected items, and leaves nothing behind at the end."""

    def __init__(self, suite: Suite):
        self.suite = suite
        self.leftovers: list[str] = []

    @pytest.hookimpl(tryfirst=True)  # before -k and -m deselect, so they select checks too
    def pytest_collection_modifyitems(self, session: pytest.Session, items: list[pytest.Item]) -> None:
        items.extend(ChecksCollector.from_parent(session, name=NODE, nodeid=NODE, suite=self.suite).collect())

    def pytest_sessionfinish(self) -> None:
        self.leftovers = self.suite.close()

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        target = self.suite.env.target
        terminalreporter.write_sep(
            "-", f"replisim conformance: {target.name}, volumes conformance-{self.suite.env.run_id}-*"
        )
        redact = Redactor(target.secrets()).text
        for line in self.leftovers:
            terminalreporter.write_line(f"cleanup failed: {redact(line)}", red=True)
