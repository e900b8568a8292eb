"""Invariant checkers: each judges a finished run and, when it fails, names a minimal witness.

They read what the run recorded (the database's status changes, the clients' history, the
fabric's failover records and final state), never the code that produced them; in particular the
transition table below is the checkers' own, so a control plane that wanders off it is caught.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from replisim.actors.filters import wants_replication
from replisim.drivers.contract import FAILBACK
from replisim.drivers.emulated.fabric import Fabric

from .history import History, LogLine, ServiceChange, Transition
from .units import format_duration

# The replication_status moves the seed allows (plus failing back, which its docs ask for, and
# failing over a volume whose primary died, which is the point of replication), as a checker sees
# them: a change to the DB, whoever made it. None is a volume's first status.
LEGAL = frozenset(
    {
        (None, "disabled"),
        (None, "enabled"),
        ("disabled", "enabling"),
        ("enabling", "enabled"),
        ("enabling", "error"),
        ("disabled", "disabling"),
        ("enabled", "disabling"),
        ("disabling", "disabled"),
        ("disabling", "error"),
        ("enabled", "enabling_secondary"),
        ("failed-over", "enabling_secondary"),
        ("error", "enabling_secondary"),
        ("enabling_secondary", "failed-over"),
        ("enabling_secondary", "error"),
        # a failback: the failover returned the volume to the array it was created on
        ("enabling_secondary", "enabled"),
        ("enabled", "error"),
        ("failed-over", "error"),
        ("disabled", "enabled"),
        # an error resolved, back to the state the arrays report (a transient error of a failed-over
        # volume; an action whose outcome the manager learned only later)
        ("error", "enabled"),
        ("error", "failed-over"),
        ("error", "disabled"),
        # the database learning what the arrays did after a handler was abandoned (a restart)
        ("enabled", "failed-over"),
        ("failed-over", "enabled"),
        ("enabled", "disabled"),
        ("failed-over", "disabled"),
        ("disabled", "failed-over"),
        # a host failover (Cinder's V2.1): the whole backend at once, with no transitional volume
        # status; a volume the driver could not move is failover-error, one that does not
        # replicate is not-capable
        ("error", "failover-error"),
        ("enabled", "failover-error"),
        ("failed-over", "failover-error"),
        ("failover-error", "failed-over"),
        ("failover-error", "enabled"),
        ("failover-error", "disabled"),
        ("disabled", "not-capable"),
        # a generic volume group's actions, on each of its volumes (Cinder 29's group API): a
        # re-enable, a disable out of error, and its failover's own transitional status
        ("enabled", "enabling"),
        ("error", "disabling"),
        ("enabled", "failing-over"),
        ("failed-over", "failing-over"),
        ("failing-over", "failed-over"),
        ("failing-over", "enabled"),
        ("failing-over", "error"),
    }
)
TRANSITIONAL = ("enabling", "disabling", "enabling_secondary", "failing-over")
# What these statuses claim about where the volume is served from: its home array, or a replica.
SERVED_AWAY = {"enabled": False, "failed-over": True}


STATUSES = {True: "pass", False: "fail", None: "unknown"}


def status_of(ok: bool | None) -> str:
    """``pass``, ``fail`` or ``unknown`` (a checker that raised, or nothing checked)."""
    return STATUSES[ok]


def merge(oks: Iterable[bool | None]) -> bool | None:
    """A run's verdict from its checks', as Jepsen merges validities: a failure beats an unknown,
    an unknown beats a pass, and nothing checked is unknown."""
    seen = list(oks)
    if False in seen:
        return False
    return None if None in seen or not seen else True


@dataclass(frozen=True)
class Verdict:
    """One check's judgement of a run; ``ok`` None is unknown (the checker raised: ``witness``
    holds the error)."""

    check: str
    ok: bool | None
    summary: str
    witness: Any = None

    @property
    def status(self) -> str:
        return status_of(self.ok)

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "status": self.status, "summary": self.summary, "witness": self.witness}


@dataclass(frozen=True)
class Finding:
    """What a checker function returns: whether the run passes (None: there was nothing it could
    judge), a one-line summary, and on a failure a minimal witness."""

    ok: bool | None
    summary: str
    witness: Any = None


@dataclass(frozen=True)
class HostAction:
    """A host action (Replication V2.1) a scenario scheduled: ``action`` on ``backend`` at ``at``
    seconds, failover_host's ``secondary`` (None: the driver's choice; 'default': fail back)."""

    at: float
    action: str
    backend: str
    secondary: str | None = None


@dataclass
class RunRecord:
    """Everything the checkers look at."""

    history: History
    transitions: list[Transition]
    status_changes: list[Transition]
    volumes: list[dict[str, Any]]  # the DB's volumes after the heal phase (deleted ones excluded)
    fabric: Fabric
    owners: Mapping[str, str]  # array -> backend
    secrets: tuple[str, ...]
    healed: list[str] | None = None  # what the faults left behind when the heal began (None: unknown)
    types: Mapping[str, Mapping[str, str]] = field(default_factory=dict)  # type id -> extra specs
    # Backends that run their own driver (a Cinder driver, say) with no emulated array behind it,
    # by name -> their volume_driver: the arrays say nothing of their volumes, so the checkers
    # judge those from the database (and the services' rows) alone, and say so.
    unemulated: Mapping[str, str] = field(default_factory=dict)
    services: list[dict[str, Any]] = field(default_factory=list)  # the volume services' rows at the end
    # Every change of a service's replication state (replication_status, active_backend_id, frozen,
    # disabled and why), as the database saw it, and the host actions the scenario scheduled.
    service_changes: list[ServiceChange] = field(default_factory=list)
    host_actions: tuple[HostAction, ...] = ()
    manager_log: list[LogLine] = field(default_factory=list)  # what the volume managers warned of

    def backend_of(self, volume: Mapping[str, Any]) -> str:
        """The backend (cinder.conf section) a volume row's host names."""
        return str(volume.get("host") or "").partition("@")[2].partition("#")[0]

    def arrayless(self, volume: Mapping[str, Any]) -> bool:
        """Whether the volume lives on a backend with no emulated array (its own driver's)."""
        return bool(self.unemulated) and self.backend_of(volume) in self.unemulated

    def without_arrays(self) -> str:
        """The backends with no emulated array, as a summary names them."""
        names = sorted(self.unemulated)
        if len(names) == 1:
            return f"{names[0]}, which runs its own driver with no emulated array"
        return f"{', '.join(names)}, which run their own drivers with no emulated arrays"


@dataclass(frozen=True)
class Checker:
    """A registered check: its name (what scenarios list under ``checks``), a line of doc, the
    keys of the witness it gives when it fails, and the function that judges a run."""

    name: str
    doc: str
    witness: str
    judge: Callable[[RunRecord], Finding]
    arrays_only: bool = False  # it judges only what emulated arrays record (nothing without them)
    # Among the checks a scenario that lists none gets (and random worlds are run with). A check
    # that is not judges what faults may legitimately prevent: a scenario asks for it by name.
    default: bool = True

    def __call__(self, run: RunRecord) -> Verdict:
        """The verdict on ``run``; a checker that raises gives an unknown verdict carrying the error,
        never a crashed run (as Jepsen's checkers do)."""
        try:
            found = self.judge(run)
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            return Verdict(self.name, None, f"unknown: the checker raised {error}", {"error": error})
        return Verdict(self.name, found.ok, found.summary, found.witness)


CHECKERS: dict[str, Checker] = {}


def checker(
    name: str, doc: str, witness: str, *, arrays_only: bool = False, default: bool = True
) -> Callable[[Callable[[RunRecord], Finding]], Callable[[RunRecord], Finding]]:
    """Register a checker function under ``name``; ``arrays_only``: it judges nothing but what the
    emulated arrays record, so a world without one gives it nothing to judge; ``default`` False:
    only a scenario that names it runs it."""

    def register(judge: Callable[[RunRecord], Finding]) -> Callable[[RunRecord], Finding]:
        assert name not in CHECKERS, name
        CHECKERS[name] = Checker(name, doc, witness, judge, arrays_only, default)
        return judge

    return register


def arrays_only() -> tuple[str, ...]:
    """The checks that judge only what emulated arrays record."""
    return tuple(name for name, c in CHECKERS.items() if c.arrays_only)


def defaults() -> tuple[str, ...]:
    """The checks a scenario that lists none is judged by, in registry order."""
    return tuple(name for name, c in CHECKERS.items() if c.default)


def _unjudged(run: RunRecord, what: str) -> str:
    """What a summary adds when some backends have no emulated array: ``what`` was not judged there."""
    if not run.unemulated:
        return ""
    count = sum(run.arrayless(v) for v in run.volumes)
    return f"; {what} not judged for the {count} volumes on {run.without_arrays()}"


def _nothing_to_judge(run: RunRecord, check: str) -> Finding | None:
    """An unknown finding when no backend has an emulated array for ``check`` to read."""
    if run.unemulated and not run.owners:
        return Finding(
            None,
            f"nothing to judge: {check} reads the emulated arrays, and every backend "
            f"({run.without_arrays()}) has none",
        )
    return None


@checker(
    "no_volume_lost",
    "every acknowledged volume is on exactly one array and the database's host says which",
    "volume; and primaries, or array, host and provider_location",
)
def no_volume_lost(run: RunRecord) -> Finding:
    """Every volume that became available and was not deleted is served by exactly one array,
    and the database's host (and provider location) name that array: at the end, and at the
    moment each failover's outcome was written."""
    ever_available = {t.volume_id for t in run.status_changes if t.new == "available"}
    deleted = {t.volume_id for t in run.status_changes if t.new == "deleted"}
    rows = {v["id"]: v for v in run.volumes}
    arrayless = 0
    for volume_id in sorted(ever_available - deleted):
        row = rows.get(volume_id)
        if row is None:
            return Finding(False, f"volume {volume_id} vanished from the database", {"volume": volume_id})
        if run.unemulated and run.backend_of(row) not in (*run.unemulated, *run.owners.values()):
            return Finding(
                False,
                f"volume {volume_id} is on host {row.get('host')!r}, which no backend of this world serves",
                {"volume": volume_id, "host": row.get("host")},
            )
        if run.arrayless(row):
            arrayless += 1  # no array to ask: the database still has it, on its backend
            continue
        primaries = [c.array for c in run.fabric.copies(volume_id) if c.role == "primary"]
        if not primaries and row["status"] in ("deleting", "error_deleting"):
            continue  # its owner asked for it to go: gone from the arrays is not lost
        if volume_id in run.fabric.split:  # two primaries: the split_brain check's business
            primaries = [a for a in primaries if run.fabric.arrays[a].copies[volume_id].split_from is None]
        if len(primaries) != 1:
            return Finding(
                False,
                f"volume {volume_id} has {len(primaries)} primary copies ({primaries})",
                {"volume": volume_id, "primaries": primaries},
            )
        wrong = _misnamed(
            run,
            primaries[0],
            row.get("host"),
            row.get("provider_location"),
            run.fabric.served_by.get(volume_id),
        )
        if wrong:
            return Finding(
                False,
                f"volume {volume_id} is served by array {primaries[0]} but the database says {wrong}",
                {
                    "volume": volume_id,
                    "array": primaries[0],
                    "host": row["host"],
                    "provider_location": row.get("provider_location"),
                },
            )
    served = _served_from(run.fabric)
    serving = _serving_at(run.fabric)
    for t in run.transitions:
        if t.old == "enabling_secondary" and t.new in SERVED_AWAY:
            array, _ = served(t.volume_id, t.time)
            # The volume's own failover: the backend serving it then (a later host failover's, the
            # end's served_by, did not yet), the array's owner unless its driver kept the volume.
            at = serving(t.volume_id, t.time)
            wrong = None if array is None else _misnamed(run, array, t.host, t.location, at)
            if wrong:
                return Finding(
                    False,
                    f"failover of volume {t.volume_id} completed at {t.time:.3f} s on array "
                    f"{array} but the database says {wrong}",
                    {
                        "volume": t.volume_id,
                        "array": array,
                        "time": t.time,
                        "host": t.host,
                        "provider_location": t.location,
                    },
                )
    arrayed = len(ever_available - deleted) - arrayless
    if not arrayless:
        return Finding(True, f"{arrayed} volumes, each on one array")
    return Finding(
        True,
        (f"{arrayed} volumes, each on one array; " if arrayed else "")
        + f"{arrayless} volumes on {run.without_arrays()}, judged by the database alone: each "
        "still there, on its backend",
    )


def _misnamed(
    run: RunRecord, array: str, host: str | None, location: str | None, served_by: str | None
) -> str | None:
    """How a host and location fail to name ``array`` (None: they name it). After a host failover
    the volume keeps its host: the backend that failed over (``served_by``) serves it from the
    target's array, as does a backend whose per-volume failover kept the volume (the contract lets a
    failover answer without a host); otherwise the array's owner does. A volume with no location is
    named by its host alone: a driver may store nothing (create_volume's model update may be None)
    and keep where its volumes are to itself."""
    backend = (host or "").partition("@")[2].partition("#")[0]
    located = (location or "").removeprefix("emulated://").partition("/")[0]
    owner = served_by or run.owners.get(array)
    if (location is not None and located != array) or (owner is not None and owner != backend):
        return f"host {host!r}, location {location!r}"
    return None


def _serving_at(fabric: Fabric) -> Callable[[str, float], str | None]:
    """The backend serving a volume from another's array at a time (``Fabric.serve``'s log), if any."""
    changes: dict[str, list[tuple[float, str | None]]] = {}
    for time, volume_id, backend in fabric.serving:
        changes.setdefault(volume_id, []).append((time, backend))

    def serving(volume_id: str, when: float) -> str | None:
        backend = None
        for time, value in changes.get(volume_id, ()):
            if time > when:
                break
            backend = value
        return backend

    return serving


def _served_from(fabric: Fabric) -> Callable[[str, float], tuple[str | None, str | None]]:
    """(the array serving a volume at a time, its home array), from the fabric's failover records."""
    moves: dict[str, list[tuple[float, str]]] = {}
    for record in fabric.failovers:
        moves.setdefault(record.volume_id, []).append((record.time, record.target))

    def served(volume_id: str, when: float) -> tuple[str | None, str | None]:
        home = fabric.home.get(volume_id)
        array = home
        for time, target in moves.get(volume_id, ()):
            if time > when:
                break
            array = target
        return array, home

    return served


@checker(
    "transitions",
    "only the replication_status moves the seed allows (the checker owns the table), "
    "and enabled / failed-over only while the arrays serve the volume from its home / a replica",
    "volume, from, to, time; and served_from, home",
)
def transitions(run: RunRecord) -> Finding:
    served = _served_from(run.fabric)
    for t in run.transitions:
        if (t.old, t.new) not in LEGAL:
            return Finding(
                False,
                f"volume {t.volume_id} moved {t.old!r} -> {t.new!r} at {t.time:.3f} s",
                {"volume": t.volume_id, "from": t.old, "to": t.new, "time": t.time},
            )
        away = SERVED_AWAY.get(t.new)
        if away is not None and t.old is not None:
            array, home = served(t.volume_id, t.time)
            if array is not None and (array != home) != away:
                where = f"from array {array}, " + (
                    "not where it was created" if away is False else f"where it was created ({home})"
                )
                return Finding(
                    False,
                    f"volume {t.volume_id} moved {t.old!r} -> {t.new!r} at {t.time:.3f} s while "
                    f"the arrays served it {where}",
                    {
                        "volume": t.volume_id,
                        "from": t.old,
                        "to": t.new,
                        "time": t.time,
                        "served_from": array,
                        "home": home,
                    },
                )
    return Finding(
        True,
        f"{len(run.transitions)} status changes, all legal"
        + _unjudged(run, "where the arrays served the volume"),
    )


@checker("liveness", "nothing is transitional after the heal phase", "volume, status, replication_status")
def liveness(run: RunRecord) -> Finding:
    stuck = [
        v
        for v in run.volumes
        if v["replication_status"] in TRANSITIONAL or v["status"] in ("creating", "deleting")
    ]
    if stuck:
        first = stuck[0]
        return Finding(
            False,
            f"{len(stuck)} volumes still transitional after the heal phase, e.g. {first['id']} "
            f"({first['status']}, {first['replication_status']})",
            {
                "volume": first["id"],
                "status": first["status"],
                "replication_status": first["replication_status"],
            },
        )
    return Finding(True, f"all {len(run.volumes)} volumes settled")


@checker(
    "data",
    "sync pairs in sync lose nothing; other failovers lose no more than their lag window; "
    "the reported loss is the measured one",
    "the failover record (volume_id, mode, in_sync, lost_writes, lag, ...), and reported",
    arrays_only=True,
)
def data(run: RunRecord) -> Finding:
    """Sync pairs in sync lose nothing; every other failover loses no more than its lag window
    (a sync pair not in sync is as stale as the writes it never received); and the loss the
    driver reported is the loss the arrays measured (summed over every primary one failover demoted)."""
    nothing = _nothing_to_judge(run, "data")
    if nothing is not None:
        return nothing
    reported = _reported_losses(run)
    measured: dict[tuple[str, float], int] = {}
    for record in run.fabric.failovers:
        key = (record.volume_id, round(record.time, 6))
        measured[key] = measured.get(key, 0) + record.lost_writes
    for record in run.fabric.failovers:
        if record.mode == "sync" and record.in_sync and record.lost_writes and not record.split:
            return Finding(
                False,
                f"sync failover of {record.volume_id} lost {record.lost_writes} "
                "acknowledged writes while its pair was in sync",
                record.to_dict(),
            )
        window = record.rate * record.lag + 1
        if record.lost_writes > window:
            lost = record.lost_writes
            return Finding(
                False,
                f"{record.mode} failover of {record.volume_id} lost {lost} "
                f"writes, more than its {record.lag:.1f} s lag window allows ({window:.0f})",
                record.to_dict(),
            )
        key = (record.volume_id, round(record.time, 6))
        said = reported.get(key)
        if said is not None and said != measured[key]:
            return Finding(
                False,
                f"failover of {record.volume_id} reported {said} lost writes, "
                f"the arrays lost {measured[key]}",
                {**record.to_dict(), "reported": said},
            )
    lost = sum(r.lost_writes for r in run.fabric.failovers)
    return Finding(
        True,
        f"{len(run.fabric.failovers)} failovers, {lost} writes lost, all within their pairs' guarantees"
        + _unjudged(run, "writes and their loss"),
    )


def _reported_losses(run: RunRecord) -> dict[tuple[str, float], int]:
    out = {}
    for v in run.volumes:
        try:
            driver_data = json.loads(v.get("replication_driver_data") or "{}")
        except (TypeError, ValueError):
            continue
        if isinstance(driver_data, dict) and "lost_writes" in driver_data:
            when = round(float(driver_data.get("failed_over_at", -1)), 6)
            out[(v["id"], when)] = int(driver_data["lost_writes"])
    return out


@checker("split_brain", "no split brain survives unreported", "volume, replication_status", arrays_only=True)
def split_brain(run: RunRecord) -> Finding:
    nothing = _nothing_to_judge(run, "split_brain")
    if nothing is not None:
        return nothing
    rows = {v["id"]: v for v in run.volumes}
    for volume_id in run.fabric.split:
        row = rows.get(volume_id)
        said = (row or {}).get("replication_extended_status") or ""
        if row is None or row["replication_status"] != "error" or "split_brain" not in said:
            status = (row or {}).get("replication_status")
            return Finding(
                False,
                f"volume {volume_id} has two primaries and the control plane does not say so",
                {"volume": volume_id, "replication_status": status},
            )
    return Finding(
        True, f"{len(run.fabric.split)} split volumes, all reported" + _unjudged(run, "two primaries")
    )


@checker("secrets", "no configured credential in any API answer", "op, f, secret_length")
def secrets(run: RunRecord) -> Finding:
    for op in run.history.ops:
        if op.type != "ok" or op.value is None:
            continue
        text = op.answer_text
        leaked = [s for s in run.secrets if s and s in text]
        if leaked:
            return Finding(
                False,
                f"a secret appeared in the answer to {op.f} (op {op.index})",
                {"op": op.index, "f": op.f, "secret_length": len(leaked[0])},
            )
    return Finding(True, f"no secret in {sum(o.type == 'ok' for o in run.history.ops)} answers")


@checker(
    "heal",
    "when the heal phase starts every fault is over and every setting a fault changed "
    "(bus, links, arrays, drivers, managers, database) is back to its value before the faults",
    "leftovers",
)
def heal(run: RunRecord) -> Finding:
    if run.healed is None:
        raise ValueError("the run recorded no proof of its heal phase")
    if run.healed:
        return Finding(
            False,
            f"the heal phase began with {len(run.healed)} fault effect(s) left: {run.healed[0]}",
            {"leftovers": run.healed},
        )
    return Finding(True, "every fault was over and every setting restored when the heal began")


@checker(
    "no_orphans",
    "every copy on an array belongs to a live volume the database knows",
    "volume, array, size_gb, leaked_gb, copies",
    arrays_only=True,
)
def no_orphans(run: RunRecord) -> Finding:
    nothing = _nothing_to_judge(run, "no_orphans")
    if nothing is not None:
        return nothing
    known = {v["id"] for v in run.volumes}
    orphans = sorted(
        (copy.volume_id, name, copy.size_gb)
        for name, array in run.fabric.arrays.items()
        for copy in array.copies.values()
        if copy.volume_id not in known
    )
    if orphans:
        volume, array, size = orphans[0]
        leaked = sum(o[2] for o in orphans)
        return Finding(
            False,
            f"{len(orphans)} copies on the arrays belong to no volume the database "
            f"knows ({leaked} GiB leaked), e.g. {volume} on {array}",
            {"volume": volume, "array": array, "size_gb": size, "leaked_gb": leaked, "copies": len(orphans)},
        )
    copies = sum(len(a.copies) for a in run.fabric.arrays.values())
    return Finding(
        True,
        f"{copies} copies on the arrays, each of a live volume"
        + _unjudged(run, "what the driver keeps for each volume"),
    )


@checker(
    "converges",
    "after the heal, each replicated volume is replicating as its status says "
    "(enabled from its home array, failed-over from a replica), disabled with no pair in force, "
    "or in error with a reason",
    "volume, replication_status, arrays (what the arrays show) or service (a backend without arrays)",
)
def converges(run: RunRecord) -> Finding:
    fabric = run.fabric
    checked = 0
    for volume in run.volumes:
        if volume["status"] != "available" or volume["replication_status"] in TRANSITIONAL:
            continue  # not settled: liveness's business
        status = volume["replication_status"]
        specs = run.types.get(volume.get("volume_type_id") or "", {})
        if status in ("disabled", "not-capable", None) and not wants_replication(specs):
            continue
        checked += 1
        if run.arrayless(volume):
            wrong = _unlike_service(run, volume)
            if wrong is not None:
                return wrong
            continue
        copies = list(fabric.copies(volume["id"]))
        primary = next((c for c in copies if c.role == "primary" and c.split_from is None), None)
        pairs = [c for c in copies if c.role == "secondary" and primary is not None and c.source is primary]
        replicating = [c for c in pairs if fabric.pair_state(c) == "replicating"]
        home = fabric.home.get(volume["id"])
        shows = {
            "primary": primary.array if primary else None,
            "home": home,
            "pairs": {c.array: fabric.pair_state(c) for c in pairs},
        }
        if status in ("error", "failover-error"):
            fine = bool(volume.get("replication_extended_status"))
        elif status in ("disabled", "not-capable"):
            fine = all(c.paused for c in pairs)
        elif status in SERVED_AWAY:
            away = primary is not None and primary.array != home
            fine = bool(replicating) and away == SERVED_AWAY[status]
        else:
            fine = False
        if not fine:
            return Finding(
                False,
                f"volume {volume['id']} is {status!r} after the heal but the arrays show {shows}",
                {"volume": volume["id"], "replication_status": status, "arrays": shows},
            )
    if not run.unemulated:
        return Finding(True, f"{checked} replicated volumes settled as their status says")
    return Finding(
        True,
        f"{checked} replicated volumes settled as their status says (those on "
        f"{run.without_arrays()}: as their volume service says)",
    )


# What a host-failed-over service's replication_status says of its replicated volumes'.
SERVICE_SAYS = {"enabled": "enabled", "failed-over": "failed-over"}


def _unlike_service(run: RunRecord, volume: Mapping[str, Any]) -> Finding | None:
    """For a volume on a backend with no emulated array: its status must be what its volume
    service's says (enabled with the backend on its own storage, failed-over with it on a target),
    disabled or not replicating, or an error with a reason; None when it is."""
    status = volume["replication_status"]
    host = str(volume.get("host") or "").partition("#")[0]
    service = next((s for s in run.services if s["host"] == host), None)
    said = None if service is None else service["replication_status"]
    active = None if service is None else (service.get("active_backend_id") or None)
    if status in ("error", "failover-error"):
        fine = bool(volume.get("replication_extended_status") or volume.get("status_reason"))
    elif status in ("disabled", "not-capable"):
        fine = True
    elif status in SERVED_AWAY:
        fine = SERVICE_SAYS.get(said or "") == status and (active is not None) == SERVED_AWAY[status]
    else:
        fine = False
    if fine:
        return None
    return Finding(
        False,
        f"volume {volume['id']} is {status!r} after the heal but its volume service {host} is "
        f"{said!r} (active backend {active!r})",
        {
            "volume": volume["id"],
            "replication_status": status,
            "service": {"host": host, "replication_status": said, "active_backend_id": active},
        },
    )


# -- host actions: did each of the operator's runbook steps reach what it asked? ------------------

HOST_ACTIONS = ("freeze_host", "thaw_host", "failover_host")
# A step is judged by the service's state just before the next step that could change what it asks
# for: a freeze or thaw (a call, answered once the manager has disabled or enabled the service)
# by the next host action on its backend, since a failover disables the service too; a failover
# (a cast, under way after its call returned) by the next failover_host on its backend, since a
# freeze or thaw sent while it runs leaves its outcome alone; and the last by the end of the run,
# heal included.
_UNTIL = {
    "freeze_host": HOST_ACTIONS,
    "thaw_host": HOST_ACTIONS,
    "failover_host": ("failover_host",),
}
_VOLUME_BINARY = "cinder-volume"
# What a manager's error about each action says (its other errors, a failed stats report, are not it).
_TOLD = {"freeze_host": "freeze", "thaw_host": "thaw", "failover_host": "failover"}


@dataclass
class _Step:
    """One host action the operator took (every attempt of it), or was scheduled to take."""

    action: str
    backend: str
    secondary: str | None
    at: float  # when it was meant to happen
    host: str | None = None
    sent: float | None = None  # its first attempt (None: never sent)
    outcome: Any = None  # its last attempt's completion (an Op), None while unanswered

    def name(self) -> str:
        choice = self.secondary or "the driver's choice"
        target = f" -> {choice}" if self.action == "failover_host" else ""
        return f"{self.action} {self.backend}{target} at {_when(self.at)}"


def _when(seconds: float) -> str:
    shown = format_duration(seconds)
    return shown if isinstance(shown, str) else f"{seconds:.3f} s"


def _asks(step: _Step, state: ServiceChange) -> bool:
    """Whether the service's state is what ``step`` asked for."""
    if step.action == "freeze_host":  # the API refuses changes, the scheduler skips it
        return state.frozen and state.disabled
    if step.action == "thaw_host":
        return not state.frozen and not state.disabled
    if step.secondary == FAILBACK:
        return state.replication_status == "enabled" and not state.active_backend_id
    active = state.active_backend_id
    return state.replication_status == "failed-over" and bool(active) and step.secondary in (None, active)


def _shows(state: ServiceChange | None) -> str:
    if state is None:
        return "no service row"
    text = str(state.replication_status)
    if state.active_backend_id:
        text += f" (active {state.active_backend_id})"
    if state.frozen:
        text += ", frozen"
    if state.disabled:
        text += f", disabled ({state.disabled_reason})" if state.disabled_reason else ", disabled"
    return text


def _state(state: ServiceChange | None) -> dict[str, Any] | None:
    if state is None:
        return None
    return {
        "replication_status": state.replication_status,
        "active_backend_id": state.active_backend_id,
        "frozen": state.frozen,
        "disabled": state.disabled,
        "disabled_reason": state.disabled_reason,
    }


def _steps(run: RunRecord) -> tuple[list[_Step], list[_Step]]:
    """(the host actions the history shows the operator sending, scheduled or a policy's, in the
    order they were first sent; the scheduled ones it never sent)."""
    sent: dict[tuple[Any, ...], _Step] = {}
    keys: dict[int, tuple[Any, ...]] = {}
    for op in run.history.ops:
        if op.process != "admin" or op.f not in HOST_ACTIONS:
            continue
        if op.type == "invoke":
            args = op.answer if isinstance(op.value, Mapping) else {}
            host = str(args.get("host") or "")
            backend = host.partition("@")[2].partition("#")[0]
            secondary = args.get("backend_id") if op.f == "failover_host" else None
            at = op.intended if op.intended is not None else op.time
            key = (op.f, backend, secondary, at)
            keys[op.index] = key
            if key not in sent:
                sent[key] = _Step(op.f, backend, secondary, at, host, op.time)
        elif op.index in keys:
            sent[keys[op.index]].outcome = op
    unsent = [
        _Step(a.action, a.backend, a.secondary if a.action == "failover_host" else None, a.at)
        for a in run.host_actions
        if (a.action, a.backend, a.secondary if a.action == "failover_host" else None, a.at) not in sent
    ]
    return sorted(sent.values(), key=lambda s: (s.sent or 0.0, s.at)), unsent


def _never_sent(run: RunRecord, step: _Step) -> Finding:
    """A scheduled host action that never reached the API: the operator finds the backend's service
    in the API's service list, so either that list failed or it named no such service."""
    listed = [
        op
        for op in run.history.ops
        if op.process == "admin" and op.f == "list_services" and op.type != "invoke"
        if op.intended == step.at
    ]
    last = max(listed, key=lambda op: op.index, default=None)
    if last is not None and last.type != "ok":
        why = f"the API's service list, where the operator looks for its service, failed: {last.error}"
    else:
        why = f"the API's service list named no volume service of {step.backend}"
    return Finding(
        False,
        f"{step.name()}: never sent: {why}",
        {
            "action": step.action,
            "backend": step.backend,
            "secondary": step.secondary,
            "at": step.at,
            "sent": False,
        },
    )


@checker(
    "host_actions",
    "every host action the operator took reached what it asked: freeze_host a frozen, disabled "
    "service, thaw_host one neither, failover_host failed-over on its target (or enabled on its own "
    "array for 'default'), before the next action that could change it on that backend or the end",
    "action, backend, secondary, at, host, api, service (its state when judged), reached, until, logged",
    default=False,
)
def host_actions(run: RunRecord) -> Finding:
    steps, unsent = _steps(run)
    if unsent:
        return _never_sent(run, min(unsent, key=lambda s: s.at))
    if not steps:
        return Finding(True, "no host action scheduled or taken")
    changes: dict[str, list[ServiceChange]] = {}
    for change in run.service_changes:
        if change.binary == _VOLUME_BINARY:
            changes.setdefault(change.host, []).append(change)
    if not changes:
        return Finding(None, f"{len(steps)} host actions, but the run recorded no volume service's state")
    for index, step in enumerate(steps):
        assert step.sent is not None and step.host is not None
        ends = _UNTIL[step.action]
        following = next((s for s in steps[index + 1 :] if s.host == step.host and s.action in ends), None)
        until = None if following is None else following.sent
        seen = changes.get(step.host, [])
        before = [c for c in seen if c.time < step.sent]
        during = [c for c in seen if step.sent <= c.time and (until is None or c.time < until)]
        first = before[-1] if before else None
        last = during[-1] if during else first
        if last is not None and _asks(step, last):
            continue
        reached = next((c.time for c in during if _asks(step, c)), None)
        deadline = "at the end of the run" if following is None else f"when {following.name()} was sent"
        if reached is not None:
            what = f"the service reached it at {_when(reached)} but showed {_shows(last)} {deadline}"
        elif not during or _state(first) == _state(last):
            what = f"the service stayed {_shows(last)}"
        else:
            what = f"the service showed {_shows(last)} {deadline}"
        api: dict[str, Any] = {"outcome": None if step.outcome is None else step.outcome.type}
        if step.outcome is None:
            said = "the API never answered; "
        elif step.outcome.type == "fail":
            said = f"the API refused it ({step.outcome.error}); "
            api["error"] = step.outcome.error
        elif step.outcome.type == "info":
            said = f"its outcome is unknown (the call {step.outcome.error}); "
            api["error"] = step.outcome.error
        elif isinstance(answer := step.outcome.answer, str) and answer:
            said = f"the API answered {answer!r}; "
            api["answer"] = answer
        else:
            said = ""
        logged = [
            line.message.removeprefix(f"{step.host}: ")
            for line in run.manager_log
            if line.level in ("ERROR", "CRITICAL")
            and line.message.startswith(f"{step.host}: ")
            and _TOLD[step.action] in line.message
            and step.sent <= line.time
            and (until is None or line.time < until)
        ]
        told = f"; the manager logged: {logged[0]}" if logged else ""
        return Finding(
            False,
            f"{step.name()}: {said}{what}{told}",
            {
                "action": step.action,
                "backend": step.backend,
                "secondary": step.secondary,
                "at": step.at,
                "host": step.host,
                "api": api,
                "service": _state(last),
                "reached": reached,
                "until": until,
                "logged": logged[:1],
            },
        )
    counts = {name: sum(s.action == name for s in steps) for name in HOST_ACTIONS}
    tally = ", ".join(f"{count} {name}" for name, count in counts.items() if count)
    return Finding(True, f"{len(steps)} host actions ({tally}), each reached what it asked")


def check(run: RunRecord, names: tuple[str, ...]) -> list[Verdict]:
    """The named checks' verdicts on ``run``, in order."""
    return [CHECKERS[name](run) for name in names]
