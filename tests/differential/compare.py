"""Normalise two answers to the same request and list how they differ; the allowlist says which
differences are intended.

What is compared: the status; the headers clients use (``OpenStack-API-Version`` and the form of
``x-openstack-request-id`` always, ``Content-Type`` when there is a body); the body's key sets,
value types and values. Normalising first makes equal what differs between any two deployments:
ids (each becomes ``<id STEP:PATH>``, after where it first appeared in the scenario, so the same
object made by the same step has the same name on both servers), request ids, timestamps
(reduced to their format), and the server's own URL. ``FREE_VALUES`` are deployment-specific
values compared by type alone, and so is a fault's message, unless its step says clients read it
(``Step.exact_message``).
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .corpus import Scenario
from .runner import Exchange

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
NIL_UUID = "00000000-0000-0000-0000-000000000000"  # named by the corpus itself: kept as is
REQUEST_ID = re.compile(r"req-" + UUID.pattern)
TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:?\d\d)?")
BASE_URL = re.compile(r"http://127\.0\.0\.1:\d+")

# Values that any two deployments differ in (their driver and array, not the API): type only.
FREE_VALUES = frozenset(
    {
        "vendor_name",
        "driver_version",
        "storage_protocol",
        "total_capacity_gb",
        "free_capacity_gb",
        "allocated_capacity_gb",
        "provisioned_capacity_gb",
        "reserved_percentage",
        "max_over_subscription_ratio",
        "thin_provisioning_support",
        "thick_provisioning_support",
        "filter_function",
        "goodness_function",
        "QoS_support",
        "timestamp",
        "location_info",
        "backend_state",
    }
)
# Capacities, which drivers report as a number of GiB or as text ('infinite', 'unknown', '1000'):
# either is a capacity.
CAPACITIES = frozenset(
    {"total_capacity_gb", "free_capacity_gb", "provisioned_capacity_gb", "allocated_capacity_gb"}
)
# A pool's capabilities are whatever its driver reports: only these keys must be there in both.
DRIVER_DEFINED = re.compile(r"^body\.pools\[\d+\]\.capabilities$")
CONTRACT_CAPABILITIES = frozenset(
    {
        "volume_backend_name",
        "vendor_name",
        "driver_version",
        "storage_protocol",
        "total_capacity_gb",
        "free_capacity_gb",
        "pool_name",
    }
)


@dataclass(frozen=True)
class Difference:
    where: str  # "status", "header content-type", "body.volume.size", ...
    cinder: Any
    replisim: Any
    what: str  # status | header | missing | extra | type | value | length | error

    def __str__(self) -> str:
        if self.what == "missing":
            return f"{self.where}: only Cinder has it: {_show(self.cinder)}"
        if self.what == "extra":
            return f"{self.where}: only replisim has it: {_show(self.replisim)}"
        return f"{self.where}: Cinder {_show(self.cinder)}, replisim {_show(self.replisim)}"


def _show(value: Any) -> str:
    shown_as_is = isinstance(value, str) and value.startswith("<") and "\n" not in value  # <id ...>, <url>
    text = value if shown_as_is else json.dumps(value)
    return text if len(text) <= 160 else text[:157] + "..."


@dataclass(frozen=True)
class Allowed:
    """An intended difference: requests matching ``keys`` (a regex over ``scenario/label``) may
    differ where ``where`` (a glob over the difference's place) says, in the way ``what`` says."""

    keys: str
    where: str
    why: str
    what: tuple[str, ...] = ()  # empty: any kind

    def covers(self, key: str, difference: Difference) -> bool:
        return (
            re.fullmatch(self.keys, key) is not None
            and fnmatch.fnmatchcase(difference.where, self.where)
            and (not self.what or difference.what in self.what)
        )


ALLOWLIST: tuple[Allowed, ...] = (
    Allowed(
        r"faults/no-body",
        "*",
        "Cinder 29 fails a create without a body with 500 (KeyError 'body' in its controller); a "
        "client's error is a 400, as replisim answers",
    ),
    Allowed(
        r"faults/no-token",
        "*",
        "without X-Auth-Token Cinder's noauth middleware hands out a token (204), a test "
        "convenience; a deployment's Keystone refuses the request with 401, as replisim does",
    ),
    Allowed(
        r"replication-actions/(enable|disable|failover|list-targets|enable-member)",
        "*",
        "the seed's four per-volume replication actions are replisim's own (DESIGN.md, REST "
        "contract); Cinder removed them in 8.0.0 and answers 400 'There is no such action'",
    ),
    Allowed(
        r".*",
        "body.volume*.replication_status",
        "replisim's volumes start at replication status 'disabled', where the seed's state machine "
        "starts (actors/status.py); Cinder 29 computes 'disabled' or 'enabled' in its create flow but "
        "drops it before the row is written (EntryCreateTask does not take it), so its volumes show null",
        ("value", "type"),
    ),
    Allowed(
        r"zones-pools-extensions/extensions(-member)?",
        "body.extensions*",
        "replisim lists the extensions it serves (actors/views.py EXTENSIONS), each as Cinder 29 names "
        "it; Cinder also lists backups, snapshots, groups, transfers, QoS and more, which replisim does "
        "not have, and a client that reads the list must not be told it has them",
        ("length", "value"),
    ),
    Allowed(
        r"zones-pools-extensions/resource-filters",
        "body.resource_filters*",
        "replisim lists the filters its listings apply (views.RESOURCE_FILTERS: volumes and pools, "
        "which it has); Cinder also lists backups, snapshots, groups, attachments and messages, and "
        "volume filters (size, dates, groups) replisim does not apply",
        ("length", "value"),
    ),
    Allowed(
        r".*",
        "*os-volume-replication:extended_status",
        "the seed's replication extended status, shown to admins in volume views (and so in the "
        "tables of `cinder show` and `cinder create`), is replisim's own (README, serve); Cinder 29 "
        "has no such field",
        ("extra",),
    ),
)


class Normaliser:
    """Rewrites one server's answers in a scenario into comparable form (one per server and scenario).

    An id is named after where it first appeared (``<id create:volume.id>``): the same object
    made by the same step has the same name on both servers, whatever else either server made.
    """

    def __init__(self) -> None:
        self.ids: dict[str, str] = {}

    def text(self, value: str, where: str = "") -> str:
        stamp = TIMESTAMP.fullmatch(value)
        if stamp:
            fraction, zone = stamp.groups()
            shown_zone = "" if not zone else " Z" if zone == "Z" else " +zone"
            return f"<timestamp{'.us' if fraction else ''}{shown_zone}>"
        value = REQUEST_ID.sub("<request-id>", value)
        value = BASE_URL.sub("<url>", value)

        def name(match: re.Match[str]) -> str:
            if match[0] == NIL_UUID:
                return match[0]
            return self.ids.setdefault(match[0], f"<id {where}>")

        return UUID.sub(name, value)

    def value(self, value: Any, where: str) -> Any:
        if isinstance(value, str):
            return self.text(value, where)
        if isinstance(value, dict):
            dot = "" if where.endswith(":") else "."
            return {self.text(k, where): self.value(v, f"{where}{dot}{k}") for k, v in value.items()}
        if isinstance(value, list):
            return [self.value(v, f"{where}[{i}]") for i, v in enumerate(value)]
        return value

    def exchange(self, exchange: Exchange) -> dict[str, Any]:
        label = exchange.key.partition("/")[2]
        return {
            "status": exchange.status,
            "error": exchange.error,
            "request": f"{exchange.method} {self.text(exchange.path, label + ':path')}",
            "headers": {k: self.text(v) for k, v in exchange.headers.items()},
            "body": self.value(exchange.body, label + ":"),
        }


def fault_name(body: Any) -> str | None:
    """The fault's name if ``body`` is Cinder's fault shape ``{"<name>": {"code", "message"}}``."""
    if isinstance(body, dict) and len(body) == 1:
        ((name, inner),) = body.items()
        if isinstance(inner, dict) and {"code", "message"} <= set(inner):
            return str(name)
    return None


def differences(
    cinder: Mapping[str, Any], replisim: Mapping[str, Any], *, exact_message: bool = False
) -> list[Difference]:
    """How replisim's normalised answer differs from Cinder's. A fault's message is compared by
    type only, unless ``exact_message`` (the step says clients read it)."""
    if cinder["error"] or replisim["error"]:
        return [Difference("request", cinder["error"] or "sent", replisim["error"] or "sent", "error")]
    found = []
    if cinder["status"] != replisim["status"]:
        found.append(Difference("status", cinder["status"], replisim["status"], "status"))
    has_body = cinder["body"] is not None or replisim["body"] is not None
    for header in ("openstack-api-version", "x-openstack-request-id", "content-type"):
        if header == "content-type" and not has_body:
            continue
        c, r = cinder["headers"].get(header), replisim["headers"].get(header)
        if c != r:
            found.append(Difference(f"header {header}", c, r, "header"))
    c_body, r_body = cinder["body"], replisim["body"]
    name = fault_name(c_body)
    if name and not exact_message and fault_name(r_body) == name:
        if not isinstance(r_body[name]["message"], str):
            found.append(
                Difference(f"body.{name}.message", c_body[name]["message"], r_body[name]["message"], "type")
            )
        c_body = {name: {**c_body[name], "message": "<message>"}}
        r_body = {name: {**r_body[name], "message": "<message>"}}
    found.extend(_tree("body", c_body, r_body))
    return found


def _tree(where: str, c: Any, r: Any) -> Iterable[Difference]:
    if isinstance(c, dict) and isinstance(r, dict):
        loose = DRIVER_DEFINED.match(where) is not None
        for key in sorted(set(c) | set(r), key=str):
            place = f"{where}.{key}"
            if key not in r:
                if not loose or key in CONTRACT_CAPABILITIES:
                    yield Difference(place, c[key], None, "missing")
            elif key not in c:
                if not loose:
                    yield Difference(place, None, r[key], "extra")
            elif not loose or key in CONTRACT_CAPABILITIES:
                yield from (
                    _tree(place, c[key], r[key]) if key not in FREE_VALUES else _types(place, c[key], r[key])
                )
        return
    if isinstance(c, list) and isinstance(r, list):
        if len(c) != len(r):
            yield Difference(f"{where}[]", f"{len(c)} items", f"{len(r)} items", "length")
        for i, (ci, ri) in enumerate(zip(c, r, strict=False)):
            yield from _tree(f"{where}[{i}]", ci, ri)
        return
    if _kind(c) != _kind(r):
        yield Difference(where, c, r, "type")
    elif c != r:
        yield Difference(where, c, r, "value")


def _types(where: str, c: Any, r: Any) -> Iterable[Difference]:
    kind = _capacity_kind if where.rpartition(".")[2] in CAPACITIES else _kind
    if kind(c) != kind(r):
        yield Difference(where, c, r, "type")


def _capacity_kind(value: Any) -> str:
    return "capacity" if _kind(value) in ("number", "string") else _kind(value)


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return {str: "string", dict: "object", list: "array", type(None): "null"}.get(
        type(value), type(value).__name__
    )


@dataclass(frozen=True)
class Verdict:
    """One request compared: its differences, split into intended (with why) and not."""

    key: str
    request: str
    unexplained: tuple[Difference, ...]
    allowed: tuple[tuple[Difference, Allowed], ...]

    @property
    def outcome(self) -> str:
        return "differs" if self.unexplained else "allowlisted" if self.allowed else "matches"

    def summary(self, limit: int = 220) -> str:
        """The unexplained differences in one sentence, for ``known_differences.yaml``."""
        return summarise(self.unexplained, limit)

    def report(self) -> str:
        lines = [f"{self.key}  ({self.request})"]
        lines += [f"  - {d}" for d in self.unexplained]
        lines += [f"  ~ {d}  [allowed: {rule.why}]" for d, rule in self.allowed]
        return "\n".join(lines)


def _place(where: str) -> str:
    return re.sub(r"\[\d+\]", "[]", where.removeprefix("body.").removeprefix("body"))


def summarise(found: Iterable[Difference], limit: int = 220) -> str:
    """``found`` as "replisim ...": what it answers, lacks, adds and shows otherwise."""
    found = list(found)
    if not found:
        return ""
    failed = [d for d in found if d.what == "error"]
    if failed:
        return f"replisim could not be sent this request ({failed[0].replisim})"
    status = next((d for d in found if d.what == "status"), None)
    if status:
        return f"replisim answers {status.replisim} where Cinder answers {status.cinder}"

    def names(kinds: tuple[str, ...]) -> list[str]:
        return list(dict.fromkeys(_place(d.where) for d in found if d.what in kinds))

    parts = []
    if lacks := names(("missing",)):
        parts.append("lacks " + ", ".join(lacks))
    if adds := names(("extra",)):
        parts.append("adds " + ", ".join(adds))
    if shows := names(("value", "type", "length")):
        parts.append("shows other " + ", ".join(shows))
    if headers := names(("header",)):
        parts.append("sends other " + ", ".join(h.removeprefix("header ") for h in headers))
    text = "replisim " + "; ".join(parts)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def judge(
    key: str, request: str, found: Iterable[Difference], allowlist: Iterable[Allowed] = ALLOWLIST
) -> Verdict:
    rules = tuple(allowlist)
    unexplained, allowed = [], []
    for difference in found:
        rule = next((a for a in rules if a.covers(key, difference)), None)
        if rule is None:
            unexplained.append(difference)
        else:
            allowed.append((difference, rule))
    return Verdict(key, request, tuple(unexplained), tuple(allowed))


def compare_runs(scenario: Scenario, cinder: list[Exchange], replisim: list[Exchange]) -> list[Verdict]:
    """Verdicts for one scenario's exchanges, as run on each server (same steps, same order)."""
    left, right = Normaliser(), Normaliser()
    verdicts = []
    for step, c, r in zip(scenario.steps, cinder, replisim, strict=True):
        shown = left.exchange(c)
        found = differences(shown, right.exchange(r), exact_message=step.exact_message)
        verdicts.append(judge(c.key, shown["request"], found))
    return verdicts
