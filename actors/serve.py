"""``replisim serve``: the control plane live, on a SQL database, behind the REST API, in one process.

``start`` wires a ``LiveRuntime``, a ``SqlRepository``, ``deploy()`` and the HTTP server and returns
a handle (``.url``, ``.stop()``), for the command line and for tests alike. Restarting on the same
database file is recovery: each volume manager's start-up ``reconcile`` moves whatever a crash left
mid-operation to ``error``, saying why.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TextIO

import sqlalchemy as sa

from replisim import exception
from replisim.redaction import Redactor
from replisim.sim import LiveRuntime

from . import quotas
from .config import CinderConfig, load_config
from .db import Repository, SqlRepository
from .deployment import Deployment, deploy
from .policy import Policy
from .rest import BlockStorageApi
from .status import VOLUME_TOPIC
from .wsgi import ApiServer

LOG = logging.getLogger("replisim.serve")
DEFAULT_ADMIN_USERS = "admin"


class Recorder(Protocol):
    """What a server records while it runs (``replisim.scenarios.live_record.LiveRecorder`` is one):
    every call a REST request makes (it is the REST layer's ``CallRecorder``), every status change
    (through the repository it wraps), and samples of the backends while it ``watch``es."""

    def __call__(
        self, process: str, f: str, args: Mapping[str, Any], arrived: float, call: Callable[[], Any]
    ) -> Any: ...

    def repository(self, inner: Repository) -> Repository: ...

    def watch(self, deployment: Deployment, interval: float) -> None: ...

    def stop_watching(self, deployment: Deployment) -> None: ...

    def write(self, deployment: Deployment) -> None: ...


# Builds the recorder of one server from its clock and its redactor; raises ConfigError if it cannot.
RecorderFactory = Callable[[Callable[[], float], Redactor], Recorder]


class WallClockRuntime(LiveRuntime):
    """A ``LiveRuntime`` for a server whose database outlives it.

    ``now`` is Unix time (still monotonic within a run), because the database keeps timestamps
    across restarts and shows them to users. The seed is fresh each run, because ids are drawn
    from it: a restart on the same database must not draw the ids of the last run again. No
    trace: a server runs for days, and the trace would grow without bound.
    """

    def __init__(self, seed: int | None = None):
        self._epoch = time.time() - time.monotonic()
        super().__init__(int.from_bytes(os.urandom(8)) if seed is None else seed, trace=False)

    @property
    def now(self) -> float:
        return self._epoch + time.monotonic()


def default_db_url(config_path: str | os.PathLike[str]) -> str:
    """SQLite in a file next to the configuration, named after it: ``cinder.conf`` -> ``cinder.db``."""
    return f"sqlite:///{Path(config_path).resolve().with_suffix('.db')}"


# A database driver module SQLAlchemy may import -> the replisim extra that installs it (pyproject.toml).
DRIVER_EXTRAS = {"psycopg": "postgres", "psycopg2": "postgres"}


def shown_url(db_url: str) -> str:
    """A database URL fit to print: the password hidden."""
    return sa.make_url(db_url).render_as_string(hide_password=True)


def open_database(db_url: str, clock: Callable[[], float]) -> SqlRepository:
    """The repository at ``db_url``; a ``ConfigError`` that names it (password hidden) if unusable."""
    try:
        shown = shown_url(db_url)
    except sa.exc.ArgumentError:
        raise exception.ConfigError(
            "--db is not an SQLAlchemy database URL; use one such as "
            "sqlite:////absolute/path.db or postgresql://user@host/name"
        ) from None
    try:
        return SqlRepository(db_url, clock=clock)
    except ModuleNotFoundError as exc:
        extra = DRIVER_EXTRAS.get(str(exc.name).partition(".")[0])
        how = f"pip install 'replisim[{extra}]'" if extra else f"install the Python module {exc.name!r}"
        raise exception.ConfigError(
            f"cannot use the database {shown}: its driver module {exc.name!r} is not installed; {how}"
        ) from None
    except (sa.exc.SQLAlchemyError, ImportError, exception.CinderException) as exc:
        reason = getattr(exc, "orig", None) or exc
        raise exception.ConfigError(f"cannot use the database {shown}: {reason}") from None


def cinder_default_quotas(db: Repository) -> None:
    """A fresh deployment's quotas are Cinder's (10 volumes, 1000 GiB...); a database that
    already has its own default class keeps what it has."""
    stored = db.quota_class_get(quotas.DEFAULT_CLASS)
    missing = {k: v for k, v in quotas.CINDER_DEFAULTS.items() if k not in stored}
    if missing:
        db.quota_class_update(quotas.DEFAULT_CLASS, missing)


def secrets(config: CinderConfig, db_url: str) -> tuple[str, ...]:
    """What must never be shown: the configuration's credentials and the database password."""
    try:
        password = sa.make_url(db_url).password
    except sa.exc.ArgumentError:
        password = None
    return (*config.secrets(), *([str(password)] if password else []))


def admin_users(config: CinderConfig) -> frozenset[str]:
    """``[DEFAULT] admin_users`` (comma-separated; default ``admin``): the users noauth treats as admins."""
    text = config.defaults.get("admin_users", DEFAULT_ADMIN_USERS)
    return frozenset(name.strip() for name in text.split(",") if name.strip())


@dataclass
class Server:
    """A running ``replisim serve``."""

    url: str
    deployment: Deployment
    httpd: ApiServer
    thread: threading.Thread
    started_at: float
    recorder: Recorder | None = None
    stopped: bool = field(default=False)

    def not_ready(self, timeout: float) -> dict[str, str]:
        """Wait until every backend's stats have reached the scheduler, or its set-up failed; return
        the ones that did not report (``host@backend`` -> why), after ``timeout`` seconds at most."""
        deadline = time.monotonic() + timeout
        while True:
            # Ready means the scheduler has heard from the backend, not only that it reported.
            known = self.deployment.scheduler.hosts
            silent = [
                host
                for host, manager in self.deployment.managers.items()
                if not manager.reports or host not in known
            ]
            failed = {host: why for host in silent if (why := self._setup_failure(host))}
            if len(failed) == len(silent) or time.monotonic() >= deadline:
                return {host: failed.get(host, f"no stats reported within {timeout:g} s") for host in silent}
            time.sleep(0.02)

    def _setup_failure(self, host: str) -> str | None:
        try:
            row = self.deployment.db.service_get(host, VOLUME_TOPIC)
        except exception.CinderException:
            return None
        failed = row["disabled"] and row["updated_at"] >= self.started_at and row["disabled_reason"]
        return str(row["disabled_reason"]) if failed else None

    def stop(self) -> None:
        """Stop serving, then the actors, then close the database; safe to call twice. When
        recording, write the record before the database closes."""
        if self.stopped:
            return
        self.stopped = True
        try:
            self.httpd.shutdown()
            self.thread.join()
        finally:  # whatever the server did, the actors' threads must end, or the process never exits
            if self.recorder is not None:
                self.recorder.stop_watching(self.deployment)
            self.deployment.runtime.stop()
            try:
                if self.recorder is not None:
                    self.recorder.write(self.deployment)
            finally:
                self.deployment.db.close()


def start(
    config: CinderConfig,
    db_url: str = "sqlite://",
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    report_interval: float = 10.0,
    record: RecorderFactory | None = None,
    policy: Policy | None = None,
) -> Server:
    """Deploy ``config`` live on ``db_url`` and serve the API on ``host:port`` (0: a free port);
    with ``record``, keep a record of what happens (the recorder it builds) and write it on ``stop``.

    Returns as soon as the socket is bound; ``Server.not_ready`` waits for the backends. Answers
    never carry a configured secret; log lines are the log handler's business (``serve_forever``
    gives its handler ``Redactor.log_filter()``; an embedding program should do the same).
    """
    runtime = WallClockRuntime()
    db: SqlRepository | None = None
    try:
        redactor = Redactor(secrets(config, db_url))
        recorder = None if record is None else record(lambda: runtime.now, redactor)
        db = open_database(db_url, clock=lambda: runtime.now)
        cinder_default_quotas(db)
        started_at = runtime.now
        deployment = deploy(
            runtime,
            config,
            db if recorder is None else recorder.repository(db),
            policy,
            report_interval=report_interval,
        )
        api = BlockStorageApi(
            runtime,
            admin_users=admin_users(config),
            redactor=redactor,
            recorder=recorder,
            reads=deployment.api,
        )
        httpd = ApiServer((host, port), api, inline_polls=db.reads_never_wait)
    except BaseException:
        runtime.stop()
        if db is not None:
            db.close()
        raise
    thread = threading.Thread(target=httpd.serve_forever, name="replisim-rest", daemon=True)
    thread.start()
    if recorder is not None:
        recorder.watch(deployment, report_interval)
    return Server(httpd.url, deployment, httpd, thread, started_at, recorder)


def keep_on_one_cpu(choice: str) -> int | None:
    """Run every thread of this process on one CPU: ``choice`` is ``auto`` (the CPU it runs on
    now), a CPU number, or ``all`` (leave them where the kernel puts them); the CPU, or None when
    placement is left to the kernel (``all``, or a system without CPU affinity).

    The threads share one interpreter lock, so however many CPUs they have, they run Python on one
    at a time; spread over two, they hand the lock from CPU to CPU on every request, and on the
    two-core machine this was measured on that cost the server half its CPU per volume create
    (docs/design.md). A ``ConfigError`` names a choice that is not a CPU this process may use."""
    if choice == "all" or not hasattr(os, "sched_setaffinity"):
        return None
    allowed = os.sched_getaffinity(0)
    if choice == "auto":
        cpu = _current_cpu()
        if cpu is None:
            return None
    else:
        try:
            cpu = int(choice)
        except ValueError:
            raise exception.ConfigError(f"--cpu {choice!r}: give auto, all or a CPU number") from None
        if cpu not in allowed:
            raise exception.ConfigError(
                f"--cpu {cpu}: not a CPU this process may run on (it may use {sorted(allowed)})"
            )
    # every thread there is, the native ones (numpy's, say) too; those started later inherit it
    for task in _tasks():
        with contextlib.suppress(ProcessLookupError):  # a thread that has ended meanwhile
            os.sched_setaffinity(task, {cpu})
    return cpu


def _tasks() -> list[int]:
    """This process's thread ids (Linux: ``/proc/self/task``), else the Python threads'."""
    try:
        return [int(name) for name in os.listdir("/proc/self/task")]
    except OSError:
        return [t.native_id for t in threading.enumerate() if t.native_id is not None]


def _current_cpu() -> int | None:
    """The CPU this thread runs on (Linux: field 39 of ``/proc/thread-self/stat``), or None."""
    try:
        fields = Path("/proc/thread-self/stat").read_text().rpartition(")")[2].split()
        return int(fields[36])
    except (OSError, IndexError, ValueError):
        return None


def serve_forever(
    config_path: str,
    *,
    db_url: str | None,
    host: str,
    port: int,
    report_interval: float,
    record: RecorderFactory | None = None,
    policy_path: str | None = None,
    cpu: str = "auto",
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
) -> int:
    """The ``replisim serve`` command: run until SIGINT or SIGTERM; the exit code (2: bad input).
    ``policy_path``: a policy.json of rules over the defaults (Cinder's rule names); ``cpu``: where
    its threads run (``keep_on_one_cpu``)."""

    def fail(message: str) -> int:
        print(f"replisim serve: {message}", file=err, flush=True)
        return 2

    try:
        config = load_config(config_path)
        policy = None if policy_path is None else Policy.from_file(policy_path)
        placed = keep_on_one_cpu(cpu)  # before start(): every thread it starts inherits this
    except exception.ConfigError as exc:
        return fail(str(exc))
    url = db_url or default_db_url(config_path)
    redactor = Redactor(secrets(config, url))
    handler = logging.StreamHandler(err)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(redactor.log_filter())
    logging.basicConfig(level=logging.INFO, handlers=[handler], force=True)
    try:
        server = start(
            config, url, host=host, port=port, report_interval=report_interval, record=record, policy=policy
        )
    except exception.ConfigError as exc:
        return fail(redactor.text(str(exc)))
    except OSError as exc:
        return fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}")
    except Exception as exc:  # a driver that cannot even be built is a configuration problem
        return fail(
            redactor.text(f"cannot start the control plane from {config_path}: {type(exc).__name__}: {exc}")
        )
    if placed is not None:
        LOG.info("this process's threads run on CPU %d (--cpu all leaves them to the kernel)", placed)
    stop = threading.Event()
    previous = {sig: signal.signal(sig, _setter(stop)) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        for backend, why in server.not_ready(timeout=max(30.0, 3 * report_interval)).items():
            LOG.warning("backend %s is not serving: %s", backend, why)
        # What start-up built (modules, SQLAlchemy's tables, the actors) lives as long as the
        # process: out of the collector's sight, a full collection looks only at what came since,
        # rather than stalling every thread for tens of milliseconds over all of it.
        gc.freeze()
        print(
            f"replisim serve: listening on {server.url} (database {shown_url(url)}); Ctrl-C stops",
            file=out,
            flush=True,
        )
        while not stop.wait(1.0):  # a timed wait, so the signal handler always gets to run
            pass
    finally:
        server.stop()
        for sig, old in previous.items():
            signal.signal(sig, old)
    print("replisim serve: stopped", file=out, flush=True)
    return 0


def _setter(event: threading.Event) -> Callable[[int, Any], None]:
    return lambda _signum, _frame: event.set()
