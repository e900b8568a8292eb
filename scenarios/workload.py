"""The clients of a scenario: tenants creating, writing to and deleting volumes, and an operator
taking replication actions at set times or when a backend goes quiet.

It is an actor like the rest: every operation is its own handler (so operations overlap, as real
clients' do), draws come from the seeded ``workload`` stream, and every call to the API is
recorded in the history with its intended send time. The operator sees the cloud only through the
API, as a real one does, and retries what failed for a reason that passes (the database or the
service was unavailable), so a fault at the wrong moment cannot silently end a policy or drop an
action: the history shows every attempt.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from replisim import exception
from replisim.actors.client import api_call
from replisim.actors.context import RequestContext, admin_context
from replisim.drivers.emulated.fabric import Fabric
from replisim.sim import Actor, Address, Cast, Draw, Message, Now, RemoteError, Sleep

from .history import History
from .names import Names
from .schema import HOST_ACTIONS, WORKLOAD_TOPIC, AdminAction, AdminPolicy, Scenario

Gen = Generator[Any, Any, Any]
WORKLOAD = Address(WORKLOAD_TOPIC, "clients")
STREAM = "workload"
CALL_TIMEOUT = 60.0
# The replication statuses an operator takes each action from.
APPLIES_TO = {
    "enable_replication": ("disabled",),
    "disable_replication": ("enabled",),
    "failover_replication": ("enabled", "failed-over", "error"),
}


class Workload(Actor):
    """Drives one scenario's traffic against the API actor until ``scenario.duration``."""

    def __init__(self, scenario: Scenario, fabric: Fabric, history: History, seed: int):
        self.scenario = scenario
        self.load = scenario.workload
        self.fabric = fabric
        self.history = history
        self.names = Names(seed)
        self.tenants = [RequestContext(f"user-{t}", t) for t in self.names.tenants(max(1, self.load.tenants))]
        self.admin = admin_context()
        self.volumes: dict[str, RequestContext] = {}  # available volumes -> their owner
        self.detections: list[dict[str, Any]] = []  # when a policy noticed a backend down
        # Types drawn by weight; with no weights given, every declared type is as likely.
        self._types = sorted(self.load.create.types.items()) or [
            (name, 1.0) for name in sorted(scenario.volume_types)
        ]
        # Backends that run their own driver have no emulated array, and the driver contract has no
        # data path: their volumes are created, acted on and deleted, never written to.
        self._arrayless = frozenset(scenario.topology.unemulated())
        self._unwritten: set[str] = set()  # available volumes on such backends (looked up, never iterated)

    def _self(self, method: str, **args: Any) -> Cast:
        return Cast(self.address, Message(method, args))

    # -- start-up ---------------------------------------------------------------------------------

    def on_start(self) -> Gen:
        # Clients arrive once every backend has reported its capabilities twice, as after a deploy.
        yield Sleep(2.5 * self.scenario.report_interval)
        for name, specs in sorted(self.scenario.volume_types.items()):
            yield from self._op("admin", self.admin, "create_volume_type", name=name, extra_specs=dict(specs))
        now = yield Now()
        for _ in range(self.load.initial_volumes):
            yield self._self("create", intended=now, enable=True)
        if self.load.create.rate > 0:
            yield self._self("arrivals", kind="create", rate=self.load.create.rate)
        if self.load.delete.rate > 0:
            yield self._self("arrivals", kind="delete", rate=self.load.delete.rate)
        for index in range(len(self.load.actions)):
            yield self._self("scheduled_action", index=index)
        for index in range(len(self.load.policies)):
            yield self._self("watch", index=index)

    # -- operations -------------------------------------------------------------------------------

    def _op(
        self, process: str, context: RequestContext, method: str, intended: float | None = None, **args: Any
    ) -> Gen:
        """Call the API as ``process``, recording invoke and outcome; returns (ok, value), where a
        failure's value is the error (a ``MessagingTimeout`` when the outcome is unknown)."""
        now = yield Now()
        index = self.history.invoke(process, method, dict(args), now, intended)
        try:
            value = yield api_call(context, method, CALL_TIMEOUT, **args)
        except RemoteError as err:
            self.history.complete(index, (yield Now()), error=err.cause)
            return False, err.cause
        except Exception as exc:  # a timeout: the outcome is unknown
            self.history.complete(index, (yield Now()), error=exc)
            return False, exc
        self.history.complete(index, (yield Now()), value=value)
        return True, value

    def _admin(self, method: str, intended: float | None = None, **args: Any) -> Gen:
        """An operator's call, retried every report interval while it fails for a passing reason
        (the database or a service unavailable) and the run lasts; returns (ok, value). A call whose
        outcome is unknown (a timeout) is not repeated: it may have been done."""
        end = self.scenario.duration + self.scenario.heal
        while True:
            ok, value = yield from self._op("admin", self.admin, method, intended, **args)
            now = yield Now()
            if ok or not _passing(value) or now + self.scenario.report_interval >= end:
                return ok, value
            yield Sleep(self.scenario.report_interval)

    def arrivals(self, kind: str, rate: float) -> Gen:
        """A Poisson stream of ``kind`` operations until the workload ends."""
        while True:
            gap = yield Draw(STREAM, "expovariate", (rate,))
            yield Sleep(gap)
            now = yield Now()
            if now >= self.scenario.duration:
                return
            yield self._self(kind, intended=now)

    def _pick(self, values: list[Any]) -> Gen:
        return values[(yield Draw(STREAM, "randint", (0, len(values) - 1)))]

    def create(self, intended: float, enable: bool = False) -> Gen:
        owner = yield from self._pick(self.tenants)
        low, high = self.load.create.size_gb
        size = yield Draw(STREAM, "randint", (low, high))
        volume_type = None
        if self._types:
            total = sum(weight for _, weight in self._types)
            point = (yield Draw(STREAM, "random")) * total
            for volume_type, weight in self._types:  # noqa: B007 - the last one wins on round-off
                point -= weight
                if point < 0:
                    break
        ok, volume = yield from self._op(
            owner.project_id,
            owner,
            "create_volume",
            intended,
            size=size,
            name=self.names.volume(),
            volume_type=volume_type,
        )
        if not ok:
            return
        volume_id = volume["id"]
        while True:  # the create is a cast: the tenant polls until the volume is available (or not)
            yield Sleep(self.scenario.report_interval)
            ok, seen = yield from self._op(owner.project_id, owner, "get_volume", volume_id=volume_id)
            if ok and seen["status"] != "creating":
                status = seen["status"]
                break
        if status != "available":
            return
        self.volumes[volume_id] = owner
        if (
            self._arrayless
            and (seen.get("host") or "").partition("@")[2].partition("#")[0] in self._arrayless
        ):
            self._unwritten.add(volume_id)
        else:
            self.fabric.set_write_rate(volume_id, self.load.writes.per_volume_rate)
        if enable and volume_type and self._replicated(volume_type):
            yield from self._op("admin", self.admin, "enable_replication", volume_id=volume_id)

    def _replicated(self, type_name: str) -> bool:
        specs = self.scenario.volume_types.get(type_name, {})
        return str(specs.get("replication", "")).strip().lower() in ("enabled", "true", "<is> true")

    def delete(self, intended: float) -> Gen:
        if not self.volumes:
            return
        volume_id = yield from self._pick(sorted(self.volumes))
        owner = self.volumes.pop(volume_id)
        if volume_id not in self._unwritten:
            self.fabric.set_write_rate(volume_id, 0.0)
        ok, _ = yield from self._op(owner.project_id, owner, "delete_volume", intended, volume_id=volume_id)
        if not ok:
            self.volumes[volume_id] = owner

    # -- the operator -----------------------------------------------------------------------------

    def scheduled_action(self, index: int) -> Gen:
        action: AdminAction = self.load.actions[index]
        now = yield Now()
        yield Sleep(max(0.0, action.at - now))
        if action.backend is not None:
            yield from self.host_action(action.action, action.backend, action.secondary, action.at)
            return
        for volume_id in (yield from self._select(action.volumes, action.action)):
            yield self._self(
                "admin_action",
                action=action.action,
                volume_id=volume_id,
                secondary=action.secondary,
                intended=action.at,
            )

    def _select(self, which: str, action: str) -> Gen:
        """Available volumes named by ``which`` (all, backend:<name>, type:<name>) that ``action``
        applies to, as the API lists them: an operator does not enable what is enabled, nor fail
        over what is not replicated. Nothing when the API cannot be asked for the whole run."""
        kind, _, name = which.partition(":")
        ok, volumes = yield from self._admin("list_volumes")
        if not ok:
            return []
        if kind == "backend":
            volumes = [v for v in volumes if (v["host"] or "").partition("@")[2].partition("#")[0] == name]
        elif kind == "type":
            ok, types = yield from self._admin("list_volume_types")
            type_ids = {t["id"] for t in types if t["name"] == name} if ok else set()
            volumes = [v for v in volumes if v["volume_type_id"] in type_ids]
        wanted = APPLIES_TO[action]
        return [v["id"] for v in volumes if v["status"] == "available" and v["replication_status"] in wanted]

    def admin_action(self, action: str, volume_id: str, secondary: str | None, intended: float) -> Gen:
        args: dict[str, Any] = {"volume_id": volume_id}
        if action == "failover_replication" and secondary:
            args["secondary"] = secondary
        yield from self._admin(action, intended, **args)

    def host_action(self, action: str, backend: str, secondary: str | None, intended: float) -> Gen:
        """A host action (Replication V2.1) on ``backend``'s volume service, found as an operator
        finds it: in the API's service list."""
        ok, services = yield from self._admin("list_services", intended)
        host = next(
            (
                s["host"]
                for s in services or ()
                if ok and s["binary"] == "cinder-volume" and s["host"].partition("@")[2] == backend
            ),
            None,
        )
        if host is None:
            return
        args: dict[str, Any] = {"host": host}
        if action == "failover_host":
            args["backend_id"] = secondary
        yield from self._admin(action, intended, **args)

    def watch(self, index: int) -> Gen:
        """A policy: when a backend stops reporting (its array is down), act on its volumes.

        It watches during the safety phase only. The heal phase is the world's chance to settle:
        a policy that still watched would act on any late false alarm (a lossy bus can delay a
        stats report by a driver timeout), and a failover it began seconds before the end would
        leave volumes transitional for ``liveness`` to blame on the control plane."""
        policy: AdminPolicy = self.load.policies[index]
        fired = False
        while True:
            yield Sleep(self.scenario.report_interval)
            now = yield Now()
            if now >= self.scenario.duration:
                return
            down = yield from self._backend_down(policy.backend)
            if down is None:
                continue  # the API did not answer: look again next interval
            if down and not fired:
                fired = True
                now = yield Now()
                self.detections.append({"backend": policy.backend, "time": now})
                yield Sleep(policy.after)
                if policy.action in HOST_ACTIONS:
                    yield from self.host_action(
                        policy.action, policy.backend, policy.secondary, now + policy.after
                    )
                    continue
                for volume_id in (yield from self._select(f"backend:{policy.backend}", policy.action)):
                    yield self._self(
                        "admin_action",
                        action=policy.action,
                        volume_id=volume_id,
                        secondary=policy.secondary,
                        intended=now + policy.after,
                    )
            elif not down:
                fired = False

    def _backend_down(self, backend: str) -> Gen:
        """Down when its manager has not managed a stats report for three intervals, as the API's
        service list shows (the service itself still beats while its array is down); None when
        the API could not say."""
        ok, services = yield from self._op("admin", self.admin, "list_services")
        if not ok:
            return None
        now = yield Now()
        for service in services:
            if service["host"].partition("@")[2] == backend:
                seen = service.get("stats_at")
                return (
                    now - float(service["updated_at"] if seen is None else seen)
                    > 3 * self.scenario.report_interval
                )
        return False


def _passing(error: Any) -> bool:
    """A failure worth repeating: the database was unavailable (not a refusal, and not an unknown
    outcome, which may have happened)."""
    return isinstance(error, exception.DBUnavailable)
