"""Invariant checkers: each judges a finished run and, when it fails, names a minimal witness.

They read what the run recorded (the database's status changes, the clients' history, the
fabric's failover records and final state), never the code that produced them; in particular the
transition table below is the checkers' own, so a control plane that wanders off it is caught.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from replisim.drivers.emulated.fabric import Fabric

from .history import History, Transition

# The replication_status moves the seed allows (plus failing back, which its docs ask for, and
# failing over a volume whose primary died, which is the point of replication), as a checker sees
# them: a change to the DB, whoever made it. None is a volume's first status.
LEGAL = frozenset({
    (None, "disabled"), (None, "enabled"),
    ("disabled", "enabling"), ("enabling", "enabled"), ("enabling", "error"),
    ("disabled", "disabling"), ("enabled", "disabling"), ("disabling", "disabled"), ("disabling", "error"),
    ("enabled", "enabling_secondary"), ("failed-over", "enabling_secondary"), ("error", "enabling_secondary"),
    ("enabling_secondary", "failed-over"), ("enabling_secondary", "error"),
    ("enabled", "error"), ("error", "enabled"), ("failed-over", "error"), ("disabled", "enabled"),
})
TRANSITIONAL = ("enabling", "disabling", "enabling_secondary")


@dataclass(frozen=True)
class Verdict:
    check: str
    ok: bool
    summary: str
    witness: Any = None

    def to_dict(self) -> dict[str, Any]:
        return {"check": self.check, "ok": self.ok, "summary": self.summary, "witness": self.witness}


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


def no_volume_lost(run: RunRecord) -> Verdict:
    """Every volume that became available and was not deleted is served by exactly one array,
    and the database's host (and provider location) name that array."""
    ever_available = {t.volume_id for t in run.status_changes if t.new == "available"}
    deleted = {t.volume_id for t in run.status_changes if t.new == "deleted"}
    rows = {v["id"]: v for v in run.volumes}
    for volume_id in sorted(ever_available - deleted):
        row = rows.get(volume_id)
        if row is None:
            return Verdict("no_volume_lost", False, f"volume {volume_id} vanished from the database",
                           {"volume": volume_id})
        primaries = [c.array for c in run.fabric.copies(volume_id) if c.role == "primary"]
        if not primaries and row["status"] in ("deleting", "error_deleting"):
            continue  # its owner asked for it to go: gone from the arrays is not lost
        if volume_id in run.fabric.split:  # two primaries: the split_brain check's business
            primaries = [a for a in primaries if run.fabric.arrays[a].copies[volume_id].split_from is None]
        if len(primaries) != 1:
            return Verdict("no_volume_lost", False,
                           f"volume {volume_id} has {len(primaries)} primary copies ({primaries})",
                           {"volume": volume_id, "primaries": primaries})
        backend = (row["host"] or "").partition("@")[2].partition("#")[0]
        location = row.get("provider_location") or ""
        served_by = location.removeprefix("emulated://").partition("/")[0]
        owner = run.owners.get(primaries[0])
        if served_by != primaries[0] or (owner is not None and owner != backend and served_by == primaries[0]
                                         and run.owners.get(served_by) == owner):
            return Verdict("no_volume_lost", False,
                           f"volume {volume_id} is served by array {primaries[0]} but the database says "
                           f"host {row['host']!r}, location {location!r}",
                           {"volume": volume_id, "array": primaries[0], "host": row["host"],
                            "provider_location": location})
    return Verdict("no_volume_lost", True, f"{len(ever_available - deleted)} volumes, each on one array")


def transitions(run: RunRecord) -> Verdict:
    for t in run.transitions:
        if (t.old, t.new) not in LEGAL:
            return Verdict("transitions", False,
                           f"volume {t.volume_id} moved {t.old!r} -> {t.new!r} at {t.time:.3f} s",
                           {"volume": t.volume_id, "from": t.old, "to": t.new, "time": t.time})
    return Verdict("transitions", True, f"{len(run.transitions)} status changes, all legal")


def liveness(run: RunRecord) -> Verdict:
    stuck = [v for v in run.volumes if v["replication_status"] in TRANSITIONAL
             or v["status"] in ("creating", "deleting")]
    if stuck:
        first = stuck[0]
        return Verdict("liveness", False,
                       f"{len(stuck)} volumes still transitional after the heal phase, e.g. {first['id']} "
                       f"({first['status']}, {first['replication_status']})",
                       {"volume": first["id"], "status": first["status"],
                        "replication_status": first["replication_status"]})
    return Verdict("liveness", True, f"all {len(run.volumes)} volumes settled")


def data(run: RunRecord) -> Verdict:
    """Sync pairs lose nothing; async pairs lose no more than their lag window; and the loss the
    driver reported is the loss the model measured."""
    reported = _reported_losses(run)
    for record in run.fabric.failovers:
        if record.mode == "sync" and record.lost_writes and not record.split:
            return Verdict("data", False, f"sync failover of {record.volume_id} lost {record.lost_writes} "
                           "acknowledged writes", record.to_dict())
        window = record.rate * record.lag + 1
        if (record.mode == "async" or record.split) and record.lost_writes > window:
            lost = record.lost_writes
            return Verdict("data", False, f"{record.mode} failover of {record.volume_id} lost {lost} "
                           f"writes, more than its {record.lag:.1f} s lag window allows ({window:.0f})",
                           record.to_dict())
        said = reported.get((record.volume_id, round(record.time, 6)))
        if said is not None and said != record.lost_writes:
            return Verdict("data", False, f"failover of {record.volume_id} reported {said} lost writes, "
                           f"the array lost {record.lost_writes}", {**record.to_dict(), "reported": said})
    lost = sum(r.lost_writes for r in run.fabric.failovers)
    return Verdict("data", True, f"{len(run.fabric.failovers)} failovers, {lost} writes lost, all within "
                   "their pairs' guarantees")


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


def split_brain(run: RunRecord) -> Verdict:
    rows = {v["id"]: v for v in run.volumes}
    for volume_id in run.fabric.split:
        row = rows.get(volume_id)
        said = (row or {}).get("replication_extended_status") or ""
        if row is None or row["replication_status"] != "error" or "split_brain" not in said:
            status = (row or {}).get("replication_status")
            return Verdict("split_brain", False,
                           f"volume {volume_id} has two primaries and the control plane does not say so",
                           {"volume": volume_id, "replication_status": status})
    return Verdict("split_brain", True, f"{len(run.fabric.split)} split volumes, all reported")


def secrets(run: RunRecord) -> Verdict:
    for op in run.history.ops:
        if op.type != "ok" or op.value is None:
            continue
        text = json.dumps(op.value, default=str)
        leaked = [s for s in run.secrets if s and s in text]
        if leaked:
            return Verdict("secrets", False, f"a secret appeared in the answer to {op.f} (op {op.index})",
                           {"op": op.index, "f": op.f, "secret_length": len(leaked[0])})
    return Verdict("secrets", True, f"no secret in {sum(o.type == 'ok' for o in run.history.ops)} answers")


CHECKERS: Mapping[str, Callable[[RunRecord], Verdict]] = {
    "no_volume_lost": no_volume_lost, "transitions": transitions, "liveness": liveness, "data": data,
    "split_brain": split_brain, "secrets": secrets,
}


def check(run: RunRecord, names: tuple[str, ...]) -> list[Verdict]:
    return [CHECKERS[name](run) for name in names]
