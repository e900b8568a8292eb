"""Drivers to hold the conformance suite to: broken ones that it must fail, correct ones that it
must pass.

``ZOO`` maps each broken driver (the emulated one with exactly one violation) to the check IDs it
must fail, and no others: the suite is only trustworthy if it fails the check named for a bug (and
not merely something). ``CORRECT`` lists drivers that differ from the emulated one only in ways
the contract allows; each must pass every applicable check on every profile, or a vendor reads a
FAIL that is the suite's fault. ``config`` writes the profiles the suite runs under, each on its
own emulated fabric so runs never share arrays.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from replisim import exception
from replisim.drivers import contract
from replisim.drivers.emulated import EmulatedDriver

REFERENCE = "replisim.drivers.emulated:EmulatedDriver"

PROFILES = {
    # two emulated backends replicating to each other (managed targets), with a password each
    "managed": """
[DEFAULT]
enabled_backends = alpha, beta

[alpha]
volume_driver = replisim.drivers.emulated.EmulatedDriver
volume_backend_name = alpha
replication_devices = beta
san_password = alpha-s3cret
emulated_fabric = FABRIC

[beta]
volume_driver = replisim.drivers.emulated.EmulatedDriver
volume_backend_name = beta
replication_devices = alpha
san_password = beta-s3cret
emulated_fabric = FABRIC
""",
    # one backend replicating to a device Cinder does not manage, credentials in the device entry
    "unmanaged": """
[DEFAULT]
enabled_backends = alpha

[alpha]
volume_driver = replisim.drivers.emulated.EmulatedDriver
volume_backend_name = alpha
managed_replication_target = false
replication_devices = {'backend_id'='dr-site' 'san_ip'='10.0.0.9' 'san_login'='admin'
    'san_password'='dr-s3cret'}
emulated_fabric = FABRIC
""",
    # one backend replicating to two managed targets, one of them named apart from its section
    "two-targets": """
[DEFAULT]
enabled_backends = alpha, beta, gamma

[alpha]
volume_driver = replisim.drivers.emulated.EmulatedDriver
volume_backend_name = alpha
replication_devices = beta, gamma
san_password = alpha-s3cret
emulated_fabric = FABRIC

[beta]
volume_driver = replisim.drivers.emulated.EmulatedDriver
volume_backend_name = beta
replication_devices = alpha
san_password = beta-s3cret
emulated_fabric = FABRIC

[gamma]
volume_driver = replisim.drivers.emulated.EmulatedDriver
volume_backend_name = gamma-pool
replication_devices = alpha
san_password = gamma-s3cret
emulated_fabric = FABRIC
""",
    # one backend without replication
    "plain": """
[DEFAULT]
enabled_backends = alpha

[alpha]
volume_driver = replisim.drivers.emulated.EmulatedDriver
volume_backend_name = alpha
emulated_fabric = FABRIC
""",
}


def config(directory: Path, profile: str = "managed", fabric: str = "zoo", driver: str | None = None) -> Path:
    """A profile on its own fabric; with ``driver`` (an import path) every backend runs that class,
    so a driver whose instances keep state of their own meets itself on its targets."""
    text = PROFILES[profile].replace("FABRIC", fabric)
    if driver is not None:
        text = text.replace("replisim.drivers.emulated.EmulatedDriver", driver.replace(":", "."))
    path = directory / f"{profile}.conf"
    path.write_text(text, encoding="utf-8")
    return path


def wants_replication(volume: Mapping[str, Any]) -> bool:
    """Whether the volume's type asks for replication (the seed's extra spec)."""
    return (volume.get("extra_specs") or {}).get("replication") == "enabled"


class LeaksPassword(EmulatedDriver):
    """Shows the array password in every target it lists."""

    def list_replication_targets(self, context: Any, volume: Any) -> dict[str, Any]:
        answer = super().list_replication_targets(context, volume)
        for target in answer["targets"]:
            target["password"] = self.configuration.safe_get("san_password")
        return answer


class NoVendorName(EmulatedDriver):
    """Leaves vendor_name out of its stats."""

    def get_volume_stats(self, refresh: bool = False) -> dict[str, Any]:
        stats = super().get_volume_stats(refresh)
        stats.pop("vendor_name")
        return stats


class ReportsAnotherBackendName(EmulatedDriver):
    """Reports a volume_backend_name of its own, not the configured one: no type finds it."""

    def get_volume_stats(self, refresh: bool = False) -> dict[str, Any]:
        return {**super().get_volume_stats(refresh), "volume_backend_name": "acme-pool-1"}


class CreateReturnsList(EmulatedDriver):
    """Wraps its create_volume model update in a list."""

    def create_volume(self, volume: Any) -> Any:
        return [super().create_volume(volume)]


class UndeletableVolumes(EmulatedDriver):
    """Its array refuses every delete."""

    def delete_volume(self, volume: Any) -> None:
        raise exception.VolumeBackendAPIException(data="volume is busy")


class MalformedFailoverHost(EmulatedDriver):
    """Returns 'backend#pool' as the failover host, without the 'host@' part."""

    def replication_failover(self, context: Any, volume: Any, secondary: Any) -> dict[str, Any]:
        result = super().replication_failover(context, volume, secondary)
        result["host"] = result["host"].partition("@")[2]
        return result


class NoReplicationType(EmulatedDriver):
    """Reports replication_enabled without replication_type."""

    def get_volume_stats(self, refresh: bool = False) -> dict[str, Any]:
        stats = super().get_volume_stats(refresh)
        stats.pop("replication_type")
        return stats


class ValueErrorForUnknownTarget(EmulatedDriver):
    """Raises ValueError, not a CinderException, for a target it does not know."""

    def replication_failover(self, context: Any, volume: Any, secondary: Any) -> dict[str, Any]:
        try:
            return super().replication_failover(context, volume, secondary)
        except exception.InvalidReplicationTarget as exc:
            raise ValueError(str(exc)) from None


class DeleteMissingFails(EmulatedDriver):
    """Refuses to delete a volume the array does not have."""

    def delete_volume(self, volume: Any) -> None:
        if not any(self.fabric.copies(volume["id"])):
            raise exception.VolumeNotFound(volume_id=volume["id"])
        super().delete_volume(volume)


class WrongSignature(EmulatedDriver):
    """Names replication_disable's parameters its own way."""

    def replication_disable(self, ctxt: Any, vol: Any) -> dict[str, Any]:
        return super().replication_disable(ctxt, vol)


class FailoverReturnsList(EmulatedDriver):
    """Wraps its failover answer in a list."""

    def replication_failover(self, context: Any, volume: Any, secondary: Any) -> Any:
        return [super().replication_failover(context, volume, secondary)]


class FreeAboveTotal(EmulatedDriver):
    """Reports more free than total capacity."""

    def get_volume_stats(self, refresh: bool = False) -> dict[str, Any]:
        stats = super().get_volume_stats(refresh)
        stats["free_capacity_gb"] = stats["total_capacity_gb"] + 1
        return stats


class TargetsForUnreplicated(EmulatedDriver):
    """Lists its configured target even for a volume that does not replicate."""

    def list_replication_targets(self, context: Any, volume: Any) -> dict[str, Any]:
        answer = super().list_replication_targets(context, volume)
        if not answer["targets"]:
            answer["targets"] = [{"type": "managed", "backend_name": self.devices[0]}]
        return answer


class UpdatesAsDict(EmulatedDriver):
    """Returns its replication updates wrapped in a dict, not as a list."""

    def get_replication_updates(self, context: Any) -> Any:
        return {"updates": super().get_replication_updates(context)}


class EnableReturnsStatus(EmulatedDriver):
    """Returns a replication_status of its own from replication_enable."""

    def replication_enable(self, context: Any, volume: Any) -> dict[str, Any]:
        return {**super().replication_enable(context, volume), "replication_status": "enabled"}


class SetupFails(EmulatedDriver):
    """Cannot set up (a bare exception, as a driver bug would)."""

    def do_setup(self, context: Any) -> None:
        raise RuntimeError("cannot reach the array")


class ConstructorNeedsArgument(EmulatedDriver):
    """Needs more than its config section to be built."""

    def __init__(self, configuration: Any, host: str, array_client: Any):
        super().__init__(configuration, host)
        self.array_client = array_client


class VersionAsNumber(EmulatedDriver):
    """Reports driver_version as a number, not a string."""

    def get_volume_stats(self, refresh: bool = False) -> dict[str, Any]:
        return {**super().get_volume_stats(refresh), "driver_version": 1.0}


class UnknownTargetName(EmulatedDriver):
    """Names its managed targets by something no backend is called."""

    def list_replication_targets(self, context: Any, volume: Any) -> dict[str, Any]:
        answer = super().list_replication_targets(context, volume)
        answer["targets"] = [{**t, "backend_name": "array-7"} for t in answer["targets"]]
        return answer


class NoUpdatesMethod(EmulatedDriver):
    """Has no get_replication_updates."""

    get_replication_updates = None  # type: ignore[assignment]


class KeyErrorForMissingVolume(EmulatedDriver):
    """Lets a KeyError escape when asked to replicate a volume its array does not have."""

    def replication_enable(self, context: Any, volume: Any) -> dict[str, Any]:
        if not any(self.fabric.copies(volume["id"])):
            raise KeyError(volume["id"])
        return super().replication_enable(context, volume)


class BareErrorWhileArrayDown(EmulatedDriver):
    """Lets a connection error escape when the array is unreachable."""

    def replication_enable(self, context: Any, volume: Any) -> dict[str, Any]:
        if not self.array.up:
            raise ConnectionError(f"array {self.array_name} does not answer")
        return super().replication_enable(context, volume)


class ClaimsReplicationForPlainVolumes(EmulatedDriver):
    """Says replication_status 'enabled' for a new volume whose type asks for no replication."""

    def create_volume(self, volume: Any) -> dict[str, Any]:
        update = super().create_volume(volume)
        return update if wants_replication(volume) else {**update, "replication_status": "enabled"}


class LeavesReplicaOnDelete(EmulatedDriver):
    """Deletes only the copy it serves: the replica stays on the target array, readable there."""

    def delete_volume(self, volume: Any) -> None:
        array = self._array_for(volume) or self.array_name
        if any(copy.array == array for copy in self.fabric.copies(volume["id"])):
            self.fabric._discard(self.fabric.array(array), volume["id"])


class HangsListingTargets(EmulatedDriver):
    """Never answers list_replication_targets (an array that accepts the request and goes quiet).
    Not in ``ZOO``: it is run with a short per-call timeout."""

    def list_replication_targets(self, context: Any, volume: Any) -> dict[str, Any]:
        threading.Event().wait()  # forever
        raise AssertionError("unreachable")


HANGS = frozenset(
    {
        "REPL-TARGETS-005",
        "REPL-TARGETS-006",
        "REPL-TARGETS-007",
        "REPL-TARGETS-012",
        "GRP-ENABLE-003",  # the group checks ask for each volume's targets too
        "GRP-DISABLE-005",
    }
)


# the checks through the control plane that need a volume: a driver Cinder cannot create one on fails all
# -- broken group drivers: each reports group replication and breaks one group clause -------------


class NoGroupFailover(EmulatedDriver):
    """Reports group replication but has no failover_replication."""

    failover_replication = None  # type: ignore[assignment]


class GroupFailoverWrongSignature(EmulatedDriver):
    """Calls the failover target 'secondary', as the per-volume failover does, not secondary_backend_id."""

    def failover_replication(self, context: Any, group: Any, volumes: Any, secondary: Any = None) -> Any:
        return super().failover_replication(context, group, volumes, secondary)


class GroupFailoverReturnsDict(EmulatedDriver):
    """Answers a group failover with a dict, as a per-volume failover answers."""

    def failover_replication(
        self, context: Any, group: Any, volumes: Any, secondary_backend_id: Any = None
    ) -> Any:
        model, _ = super().failover_replication(context, group, volumes, secondary_backend_id)
        return model


class GroupEnableReplicatesNothing(EmulatedDriver):
    """Says a group's replication is enabled without enabling any of its volumes."""

    def enable_replication(self, context: Any, group: Any, volumes: Any) -> Any:
        return {"replication_status": "enabled"}, []


class GroupCreateSaysError(EmulatedDriver):
    """Answers every create_group with status 'error'."""

    def create_group(self, context: Any, group: Any) -> Any:
        return {"status": "error"}


class GroupDeleteKeepsVolumes(EmulatedDriver):
    """Says a group is deleted and leaves its volumes (and their replicas) on the arrays."""

    def delete_group(self, context: Any, group: Any, volumes: Any) -> Any:
        return {"status": "deleted"}, [{"id": v["id"], "status": "deleted"} for v in volumes]


class GroupDisableKeepsReplicating(EmulatedDriver):
    """Says a group's replication is disabled and keeps every volume replicating."""

    def disable_replication(self, context: Any, group: Any, volumes: Any) -> Any:
        return {"replication_status": "disabled"}, [
            {"id": v["id"], "replication_status": "disabled"} for v in volumes
        ]


THROUGH_CINDER = frozenset(
    {
        "VOL-CREATE-004",
        "VOL-DELETE-005",
        "REPL-ENABLE-009",
        "REPL-DISABLE-010",
        "REPL-FAILOVER-011",
        "REPL-TARGETS-012",
        "REPL-HOST-017",
        "ERR-TARGET-002",
        "ERR-ARRAY-004",
        "GRP-CINDER-007",
    }
)


# driver -> the check IDs it must fail, exactly
class FailoverHostTwoTuple(EmulatedDriver):
    """Answers failover_host with the old 2-tuple (active_backend_id, volume_updates), as the
    replication devref still documents it: Cinder 29's manager ends that in failover-error."""

    def failover_host(self, context: Any, volumes: Any, secondary_id: Any = None, groups: Any = None) -> Any:
        active, updates, _groups = super().failover_host(context, volumes, secondary_id, groups)
        return active, updates


class FailoverHostForeignUpdate(EmulatedDriver):
    """Keys its volume updates by 'id', not 'volume_id'."""

    def failover_host(self, context: Any, volumes: Any, secondary_id: Any = None, groups: Any = None) -> Any:
        active, updates, groups_out = super().failover_host(context, volumes, secondary_id, groups)
        return active, [{"id": u["volume_id"], "updates": u["updates"]} for u in updates], groups_out


class FailoverHostAnyTarget(EmulatedDriver):
    """Fails over to its first target whatever secondary_id names (a bad target is not refused)."""

    def failover_host(self, context: Any, volumes: Any, secondary_id: Any = None, groups: Any = None) -> Any:
        if secondary_id not in (None, "default"):
            secondary_id = None
        return super().failover_host(context, volumes, secondary_id, groups)


class FailbackCrashes(EmulatedDriver):
    """Lets a bare RuntimeError escape a failback (a driver bug, not a refusal)."""

    def failover_host(self, context: Any, volumes: Any, secondary_id: Any = None, groups: Any = None) -> Any:
        if secondary_id == "default":
            raise RuntimeError("failback not implemented")
        return super().failover_host(context, volumes, secondary_id, groups)


class FreezeRaises(EmulatedDriver):
    """Cannot freeze: its freeze_backend raises."""

    def freeze_backend(self, context: Any) -> bool:
        raise exception.VolumeBackendAPIException(data="freeze refused")


ZOO: dict[type, frozenset[str]] = {
    FailoverHostTwoTuple: frozenset({"REPL-HOST-013", "REPL-HOST-015", "REPL-HOST-017"}),
    FailoverHostForeignUpdate: frozenset({"REPL-HOST-013", "REPL-HOST-015", "REPL-HOST-017"}),
    FailoverHostAnyTarget: frozenset({"REPL-HOST-014"}),
    # its failback cannot be undone either: the suite says so (an undo failed)
    FailbackCrashes: frozenset({"REPL-HOST-015", "REPL-HOST-017", "HYG-CLEANUP-001"}),
    FreezeRaises: frozenset({"REPL-FREEZE-016"}),
    NoVendorName: frozenset({"STATS-KEYS-001"}),
    ReportsAnotherBackendName: THROUGH_CINDER | {"STATS-NAME-004"},
    CreateReturnsList: THROUGH_CINDER | {"VOL-CREATE-001"},
    UndeletableVolumes: frozenset(
        {
            "VOL-DELETE-002",
            "VOL-DELETE-MISSING-003",
            "VOL-DELETE-005",
            "HYG-CLEANUP-001",
            # a group's delete deletes its volumes
            "GRP-DELETE-006",
            "GRP-CINDER-007",
        }
    ),
    LeaksPassword: frozenset({"REPL-TARGETS-007", "REPL-TARGETS-012"}),
    MalformedFailoverHost: frozenset({"REPL-FAILOVER-004", "REPL-FAILOVER-011"}),
    NoReplicationType: frozenset({"STATS-REPLICATION-005"}),
    ValueErrorForUnknownTarget: frozenset({"ERR-TARGET-001", "ERR-TARGET-002"}),
    DeleteMissingFails: frozenset({"VOL-DELETE-MISSING-003"}),
    WrongSignature: frozenset({"INTF-SIGNATURE-002", "REPL-DISABLE-002", "REPL-DISABLE-010"}),
    FailoverReturnsList: frozenset({"REPL-FAILOVER-003", "REPL-FAILOVER-004", "REPL-FAILOVER-011"}),
    FreeAboveTotal: frozenset({"STATS-CAPACITY-003"}),
    TargetsForUnreplicated: frozenset({"REPL-TARGETS-006", "GRP-DISABLE-005"}),  # a stopped group's too
    UpdatesAsDict: frozenset({"REPL-UPDATES-008"}),
    EnableReturnsStatus: frozenset({"REPL-ENABLE-001"}),
    SetupFails: frozenset({"SETUP-DO-SETUP-002", "SETUP-SERVICE-003"}),
    ConstructorNeedsArgument: frozenset({"INTF-SIGNATURE-002", "SETUP-INIT-001", "SETUP-SERVICE-003"}),
    VersionAsNumber: frozenset({"STATS-TYPES-002"}),
    UnknownTargetName: frozenset({"REPL-TARGETS-005", "REPL-TARGETS-012"}),
    NoUpdatesMethod: frozenset({"INTF-METHODS-001", "REPL-UPDATES-008"}),
    KeyErrorForMissingVolume: frozenset({"ERR-LOST-003"}),
    BareErrorWhileArrayDown: frozenset({"ERR-ARRAY-004"}),
    ClaimsReplicationForPlainVolumes: frozenset({"VOL-CREATE-001", "VOL-CREATE-004"}),
    LeavesReplicaOnDelete: frozenset({"HYG-CLEANUP-001", "GRP-DELETE-006"}),  # a group's delete too
    NoGroupFailover: frozenset({"GRP-METHODS-001", "GRP-FAILOVER-004", "GRP-CINDER-007"}),
    GroupFailoverWrongSignature: frozenset(
        {"INTF-SIGNATURE-002", "GRP-METHODS-001", "GRP-FAILOVER-004", "GRP-CINDER-007"}
    ),
    GroupFailoverReturnsDict: frozenset({"GRP-FAILOVER-004", "GRP-CINDER-007"}),
    GroupEnableReplicatesNothing: frozenset({"GRP-ENABLE-003", "GRP-FAILOVER-004", "GRP-CINDER-007"}),
    GroupCreateSaysError: frozenset({"GRP-CREATE-002", "GRP-CINDER-007"}),
    GroupDeleteKeepsVolumes: frozenset({"GRP-DELETE-006", "HYG-CLEANUP-001"}),
    GroupDisableKeepsReplicating: frozenset({"GRP-DISABLE-005"}),
}


# -- correct drivers: each differs from the emulated driver only in a way the contract allows ------


class BornEnabled(EmulatedDriver):
    """Replicates a volume of a replicated type from birth, and says so in create's model update."""

    def create_volume(self, volume: Any) -> dict[str, Any]:
        update = super().create_volume(volume)
        if wants_replication(volume) and self._target_arrays():
            enabled = self.replication_enable(None, {**volume, **update})
            update.update(enabled, replication_status="enabled")
        return update


class BornDisabledSaysSo(EmulatedDriver):
    """Says replication_status 'disabled' in every create's model update."""

    def create_volume(self, volume: Any) -> dict[str, Any]:
        return {**super().create_volume(volume), "replication_status": "disabled"}


class StatusLandsLater(EmulatedDriver):
    """Replicates a volume of a replicated type from birth but says nothing in create: the status
    lands through get_replication_updates (which report every changed volume's state)."""

    def create_volume(self, volume: Any) -> dict[str, Any]:
        update = super().create_volume(volume)
        if wants_replication(volume) and self._target_arrays():
            self.replication_enable(None, {**volume, **update})
        return update


class NoneFromEnableDisable(EmulatedDriver):
    """Returns None from replication_enable and replication_disable (no driver data to keep)."""

    def replication_enable(self, context: Any, volume: Any) -> Any:  # None: nothing to store
        super().replication_enable(context, volume)

    def replication_disable(self, context: Any, volume: Any) -> Any:  # None: nothing to store
        super().replication_disable(context, volume)


class DriverDataAsText(EmulatedDriver):
    """Returns replication_driver_data as JSON text, not as a JSON-able value."""

    def replication_enable(self, context: Any, volume: Any) -> dict[str, Any]:
        return _as_text(super().replication_enable(context, volume))

    def replication_disable(self, context: Any, volume: Any) -> dict[str, Any]:
        return _as_text(super().replication_disable(context, volume))

    def replication_failover(self, context: Any, volume: Any, secondary: Any) -> dict[str, Any]:
        return _as_text(super().replication_failover(context, volume, secondary))


def _as_text(answer: dict[str, Any]) -> dict[str, Any]:
    data = answer["replication_driver_data"]
    return {**answer, "replication_driver_data": json.dumps(data, sort_keys=True)}


class FailoverModelUpdateOnly(EmulatedDriver):
    """Answers a failover with only a model_update: no host, so the volume stays on this backend,
    whose driver serves it from wherever the replica is (the seed's "let the driver route")."""

    def replication_failover(self, context: Any, volume: Any, secondary: Any) -> dict[str, Any]:
        result = super().replication_failover(context, volume, secondary)
        promoted = self.fabric.primary(volume["id"])
        if promoted is not None and promoted.array != self.array_name:
            # this backend keeps serving and reporting the volume; the promoted array's backend does not
            self.fabric.changed.get(promoted.array, {}).pop(volume["id"], None)
            self.fabric.serve(volume["id"], self.backend)
        return {"model_update": result["model_update"]}

    def _truth(self, volume_id: str) -> dict[str, Any]:
        truth = super()._truth(volume_id)
        truth.pop("host", None)  # served from here, wherever the primary copy is
        return truth


class PerBackendState(EmulatedDriver):
    """Keeps state per instance and serves only volumes whose primary copy is on its own array (or
    an unmanaged device of its): after a managed failover the target backend's instance serves the
    volume, and a failover from there brings it back. A delete sent to the wrong instance deletes
    nothing (that array does not have the volume), so a suite that routes wrongly leaks."""

    def __init__(self, configuration: Any, host: str, **kwargs: Any):
        super().__init__(configuration, host, **kwargs)
        self.served: set[str] = set()  # the volumes this instance knows it serves

    def _mine(self) -> set[str]:
        """Its own array (or, failed over as a host, the one it fails over to) and, unmanaged,
        its targets."""
        own = self.active_array or self.array_name
        return {own} | (set() if self.managed else set(self._target_arrays()))

    def _serves(self, volume: Mapping[str, Any]) -> bool:
        primary = self.fabric.primary(volume["id"])
        if primary is None:
            return False
        if primary.array in self._mine():
            self.served.add(volume["id"])
            return True
        self.served.discard(volume["id"])
        return False

    def _require(self, volume: Mapping[str, Any]) -> None:
        if not self._serves(volume) and self.fabric.primary(volume["id"]) is not None:
            owner = self.fabric.owners.get(self.fabric.primary(volume["id"]).array)  # type: ignore[union-attr]
            raise exception.VolumeBackendAPIException(
                data=f"volume {volume['id']} is served by backend {owner}, not {self.backend}"
            )

    def create_volume(self, volume: Any) -> dict[str, Any]:
        update = super().create_volume(volume)
        self.served.add(volume["id"])
        return update

    def delete_volume(self, volume: Any) -> None:
        if self._serves(volume):
            super().delete_volume(volume)
        self.served.discard(volume["id"])

    def replication_enable(self, context: Any, volume: Any) -> dict[str, Any]:
        self._require(volume)
        return super().replication_enable(context, volume)

    def replication_disable(self, context: Any, volume: Any) -> dict[str, Any]:
        self._require(volume)
        return super().replication_disable(context, volume)

    def replication_failover(self, context: Any, volume: Any, secondary: Any) -> dict[str, Any]:
        self._require(volume)
        result = super().replication_failover(context, volume, secondary)
        if "host" in result:
            self.served.discard(volume["id"])
        return result

    def list_replication_targets(self, context: Any, volume: Any) -> dict[str, Any]:
        self._require(volume)
        return super().list_replication_targets(context, volume)


REQUIRED_STATS = (
    "volume_backend_name",
    "vendor_name",
    "driver_version",
    "storage_protocol",
    "total_capacity_gb",
    "free_capacity_gb",
    "replication_enabled",
    "replication_type",
    "replication_count",
    *contract.GROUP_REPLICATION_SPECS,  # what the contract asks of a driver taking part in groups
)


class MinimalStats(EmulatedDriver):
    """Reports only the keys the contract asks for (no pool, provisioning or usage figures)."""

    def get_volume_stats(self, refresh: bool = False) -> dict[str, Any]:
        stats = super().get_volume_stats(refresh)
        return {key: stats[key] for key in REQUIRED_STATS if key in stats}


class RichStats(EmulatedDriver):
    """Reports optional keys beyond the contract's, as many real drivers do."""

    def get_volume_stats(self, refresh: bool = False) -> dict[str, Any]:
        return {
            **super().get_volume_stats(refresh),
            "reserved_percentage": 0,
            "QoS_support": False,
            "multiattach": True,
            "location_info": f"replisim:{self.array_name}",
            "sampled_at": time.time(),
        }


class SparseAnswers(EmulatedDriver):
    """Answers as tersely as allowed: no model update from create, None from enable and disable, and
    a failover answer with no replication_driver_data."""

    def create_volume(self, volume: Any) -> Any:  # None: nothing to store
        super().create_volume(volume)

    def replication_enable(self, context: Any, volume: Any) -> Any:  # None: nothing to store
        super().replication_enable(context, volume)

    def replication_disable(self, context: Any, volume: Any) -> Any:  # None: nothing to store
        super().replication_disable(context, volume)

    def replication_failover(self, context: Any, volume: Any, secondary: Any) -> dict[str, Any]:
        result = super().replication_failover(context, volume, secondary)
        result.pop("replication_driver_data")
        return result


class SeedEraOnly(EmulatedDriver):
    """A Replication V2 driver written before host failover: no V2.1 method at all (its checks
    are skipped, saying why; the seed's must all pass)."""

    failover_host = failover = failover_completed = freeze_backend = thaw_backend = None  # type: ignore[assignment]


# every correct driver, the reference first
CORRECT: tuple[type, ...] = (
    EmulatedDriver,
    BornEnabled,
    BornDisabledSaysSo,
    StatusLandsLater,
    NoneFromEnableDisable,
    DriverDataAsText,
    FailoverModelUpdateOnly,
    PerBackendState,
    MinimalStats,
    RichStats,
    SparseAnswers,
    SeedEraOnly,
)
CORRECT_PROFILES = ("managed", "unmanaged", "two-targets")


def path_of(driver: type) -> str:
    """The import path of a zoo driver (the reference is the emulated driver itself)."""
    return REFERENCE if driver is EmulatedDriver else f"support.conformance_zoo:{driver.__name__}"


def _born_enabled_variant(broken: type) -> type:
    """``broken`` with its volumes born enabled: its bug must be caught the same way."""
    variant = type(f"BornEnabled{broken.__name__}", (broken, BornEnabled), {"__doc__": broken.__doc__})
    globals()[variant.__name__] = variant  # importable by path, as the suite loads drivers
    return variant


# the broken zoo again, every driver's replicated volumes born enabled: the same checks must catch
# each bug, plus those that meet it while getting a disabled volume ready (disable comes first)
BORN_ENABLED_EXTRA: dict[type, frozenset[str]] = {
    WrongSignature: frozenset(
        {
            "REPL-ENABLE-001",
            "ERR-ARRAY-004",
            "GRP-ENABLE-003",
            "GRP-FAILOVER-004",
            "GRP-DISABLE-005",
            "GRP-DELETE-006",
        }
    )
}
# ... less the checks a bug cannot meet when volumes are born replicating: a group enable that
# replicates nothing leaves volumes born enabled replicating, so the control plane's failover works
BORN_ENABLED_MOOT: dict[type, frozenset[str]] = {GroupEnableReplicatesNothing: frozenset({"GRP-CINDER-007"})}
BORN_ENABLED_ZOO: dict[type, frozenset[str]] = {
    _born_enabled_variant(broken): (checks | BORN_ENABLED_EXTRA.get(broken, frozenset()))
    - BORN_ENABLED_MOOT.get(broken, frozenset())
    for broken, checks in ZOO.items()
}
