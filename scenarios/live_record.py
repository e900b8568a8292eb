"""What a live server observed, kept as a simulated run keeps it, so one report builder serves both.

``replisim serve --record DIR`` records every call a REST request makes to the API actor as a
Jepsen-style history, every status change through ``RecordingRepository``, and a capacity sample
per backend every report interval; on shutdown it writes ``run.json`` and ``history.jsonl.gz``, and
the command line builds the report from them. Times are seconds since the server started, as a
run's are since time zero. Everything written passes the server's redactor first: no configured
secret gets out.
"""

from __future__ import annotations

import json
import logging
import platform
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from replisim import __version__, exception
from replisim.actors.db import Repository
from replisim.actors.deployment import Deployment
from replisim.actors.status import ENABLED, ENABLING_SECONDARY, FAILED_OVER, VOLUME_TOPIC
from replisim.redaction import Redactor

from .history import (
    HISTORY_NAME,
    History,
    Op,
    OutputError,
    RecordingRepository,
    Transition,
    for_report,
    prepare_output_dir,
    write_atomically,
)

LOG = logging.getLogger("replisim.record")
RUN_NAME = "run.json"


class LiveRecorder:
    """The record of one ``replisim serve``: a ``CallRecorder`` for the REST layer, a repository
    wrapper for the status changes, and a sampler of the backends' pools."""

    @classmethod
    def into(cls, out: Path, source: str) -> Callable[[Callable[[], float], Redactor], LiveRecorder]:
        """What ``replisim.actors.serve.start(record=...)`` takes: a recorder writing into ``out``,
        built once the server's clock and redactor exist, with ``out`` checked writable then
        rather than at shutdown."""

        def build(clock: Callable[[], float], redactor: Redactor) -> LiveRecorder:
            try:
                prepare_output_dir(out, "--record")
            except OutputError as exc:
                raise exception.ConfigError(str(exc)) from None
            return cls(out, clock, redactor, source)

        return build

    def __init__(self, out: Path, clock: Callable[[], float], redactor: Redactor, source: str):
        self.out = out
        self.source = source
        self._clock = clock
        self._started = clock()
        self._redactor = redactor
        self._lock = threading.Lock()  # the HTTP server answers requests on many threads
        self.history = History()
        self.samples: list[dict[str, Any]] = []
        self.failovers: list[dict[str, Any]] = []
        self.db: RecordingRepository | None = None
        self._stop = threading.Event()
        self._sampler: threading.Thread | None = None

    def now(self) -> float:
        """Seconds since the server started."""
        return self._clock() - self._started

    def repository(self, inner: Repository) -> RecordingRepository:
        """``inner``, recording every volume and replication status change from here on, and
        each failover's loss as its driver counted it."""
        self.db = FailoverRecordingRepository(inner, self.now, self.failovers)
        return self.db

    def __call__(
        self, process: str, f: str, args: Mapping[str, Any], arrived: float, call: Callable[[], Any]
    ) -> Any:
        with self._lock:
            index = self.history.invoke(process, f, dict(args), self.now(), arrived - self._started)
        try:
            result = call()
        except Exception as exc:
            with self._lock:
                self.history.complete(index, self.now(), error=exc)
            raise
        # Only the id of what the call made or read: enough to follow it through the status
        # changes, while a listing's whole answer would swell the history of a long-running server.
        value = {"id": result["id"]} if isinstance(result, Mapping) and "id" in result else None
        with self._lock:
            self.history.complete(index, self.now(), value=value)
        return result

    # -- capacity samples ---------------------------------------------------------------------------

    def watch(self, deployment: Deployment, interval: float) -> None:
        """Sample every backend's pool now and every ``interval`` seconds until ``stop_watching``."""

        def loop() -> None:
            while True:
                try:
                    self.sample(deployment)
                except exception.CinderException as exc:  # the database is out: a gap, not the end
                    LOG.warning("no capacity sample at %.1f s: %s", self.now(), exc)
                if self._stop.wait(interval):
                    return

        self._sampler = threading.Thread(target=loop, name="replisim-record", daemon=True)
        self._sampler.start()

    def stop_watching(self, deployment: Deployment) -> None:
        """Stop sampling, taking one last sample so the report ends where the server did."""
        self._stop.set()
        if self._sampler is not None:
            self._sampler.join()
            self.sample(deployment)

    def sample(self, deployment: Deployment) -> None:
        """Each backend's pool as its manager last reported it, in the shape of a sim run's samples."""
        volumes: dict[str, int] = {}
        for volume in deployment.db.volume_get_all():
            host = str(volume.get("host") or "").partition("#")[0]
            volumes[host] = volumes.get(host, 0) + 1
        pools = {}
        for host, manager in sorted(deployment.managers.items()):
            stats = manager.last_stats
            if not stats:
                continue  # not reported yet
            total, free = float(stats["total_capacity_gb"]), float(stats["free_capacity_gb"])
            pools[host.partition("@")[2]] = {
                "total_gb": total,
                "free_gb": free,
                "provisioned_gb": float(stats.get("provisioned_capacity_gb", total - free)),
                "volumes": volumes.get(host, 0),
                "up": _serving(deployment.db, host),
            }
        self.samples.append({"time": self.now(), "pools": pools, "links": {}})

    # -- on shutdown --------------------------------------------------------------------------------

    def write(self, deployment: Deployment) -> None:
        """Write ``run.json`` and ``history.jsonl.gz`` (while the database is still open)."""
        self.out.mkdir(parents=True, exist_ok=True)
        hosts = {v["id"]: v["host"] for v in deployment.db.volume_get_all() if v.get("host")}
        with self._lock:
            ops = [Op(**self._redactor.data(op.to_dict())) for op in self.history.ops]
        History(ops).write(self.out / HISTORY_NAME)
        write_atomically(
            self.out / RUN_NAME,
            json.dumps(self._redactor.data(self.run_data(ops, hosts)), sort_keys=True, default=str) + "\n",
        )

    def run_data(self, ops: list[Op], hosts: Mapping[str, str]) -> dict[str, Any]:
        """What the report builder reads from a run, for a live server: no seed, no trace digest, no
        checks, no injected faults; failovers with what each lost, as its driver counted it."""
        elapsed = self.now()
        transitions = self.db.transitions if self.db else []
        status_changes = self.db.status_changes if self.db else []
        return {
            "scenario": "serve",
            "source": self.source,
            "mode": "live",
            "seed": None,
            "digest": None,
            "description": "Recorded from a live replisim serve.",
            "duration": elapsed,
            "heal": 0.0,
            "simulated_seconds": elapsed,
            "wall_seconds": elapsed,
            "versions": {
                "replisim": __version__,
                "python": platform.python_version(),
                "machine": f"{platform.system()} {platform.machine()}",
            },
            "verdicts": {},
            "faults": [],
            "fault_events": [],
            "detections": [],
            "failovers": list(self.failovers),
            "samples": self.samples,
            "transitions": _changes(transitions),
            "status_changes": _changes(status_changes),
            "ops": [for_report(op) for op in ops],
            "hosts": dict(hosts),
        }


class FailoverRecordingRepository(RecordingRepository):
    """Also keeps, for each failover the database records, what its driver says it lost (the
    ``failover`` entry of ``replication_driver_data``), in the shape of a simulated run's failover
    records, so the report states a live run's RPO as it does a simulated one's."""

    def __init__(self, inner: Repository, clock: Callable[[], float], failovers: list[dict[str, Any]]):
        super().__init__(inner, clock)
        self.failovers = failovers

    def volume_conditional_update(
        self,
        volume_id: str,
        expected: Mapping[str, Any],
        values: Mapping[str, Any],
        *,
        within_quota: bool = False,
    ) -> dict[str, Any] | None:
        row = super().volume_conditional_update(volume_id, expected, values, within_quota=within_quota)
        if row is not None and expected.get("replication_status") == ENABLING_SECONDARY:
            record = failover_record(row, self._clock())
            if record is not None:
                self.failovers.append(record)
        return row


def failover_record(row: Mapping[str, Any], now: float) -> dict[str, Any] | None:
    """A completed failover's record from the volume row it left; None if it says nothing of one
    (a driver that does not count its losses, or a failover that failed)."""
    if row.get("replication_status") not in (FAILED_OVER, ENABLED):
        return None
    try:
        data = json.loads(row.get("replication_driver_data") or "{}")
    except ValueError:
        return None
    figures = data.get("failover") if isinstance(data, dict) else None
    if not isinstance(figures, dict):
        return None
    if figures.get("planned"):
        cause = "planned"
    elif figures.get("exact"):
        cause = "unplanned: the old array was fenced with writes it could not ship"
    else:
        cause = "unplanned: the old array did not answer"
    return {
        "volume_id": row["id"],
        "time": now,
        "source": figures.get("source"),
        "target": figures.get("target"),
        "mode": figures.get("mode"),
        "lost_writes": figures.get("lost_writes"),
        "lag": figures.get("lost_seconds"),
        "cause": cause,
        "note": row.get("replication_extended_status"),
    }


def _serving(db: Repository, host: str) -> bool:
    """False once the backend's service is marked disabled (its set-up or its driver failed)."""
    try:
        return not db.service_get(host, VOLUME_TOPIC)["disabled"]
    except exception.ServiceNotFound:  # reported its stats, not yet its service row
        return True


def _changes(changes: list[Transition]) -> list[dict[str, Any]]:
    return [{"time": t.time, "volume": t.volume_id, "from": t.old, "to": t.new} for t in list(changes)]
