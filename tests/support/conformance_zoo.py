"""Deliberately broken drivers: the emulated driver with exactly one violation each.

``ZOO`` maps each to the check IDs it must fail, and no others: the conformance suite is only
trustworthy if it fails the check named for a bug (and not merely something). ``config`` writes
the profiles the suite runs under, each on its own emulated fabric so runs never share arrays.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from replisim import exception
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


def config(directory: Path, profile: str = "managed", fabric: str = "zoo") -> Path:
    path = directory / f"{profile}.conf"
    path.write_text(PROFILES[profile].replace("FABRIC", fabric), encoding="utf-8")
    return path


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


# the checks through the control plane that need a volume: a driver Cinder cannot create one on fails all
THROUGH_CINDER = frozenset(
    {
        "VOL-CREATE-004",
        "VOL-DELETE-005",
        "REPL-ENABLE-009",
        "REPL-DISABLE-010",
        "REPL-FAILOVER-011",
        "REPL-TARGETS-012",
        "ERR-TARGET-002",
        "ERR-ARRAY-004",
    }
)

# driver -> the check IDs it must fail, exactly
ZOO: dict[type, frozenset[str]] = {
    NoVendorName: frozenset({"STATS-KEYS-001"}),
    ReportsAnotherBackendName: THROUGH_CINDER | {"STATS-NAME-004"},
    CreateReturnsList: THROUGH_CINDER | {"VOL-CREATE-001"},
    UndeletableVolumes: frozenset(
        {"VOL-DELETE-002", "VOL-DELETE-MISSING-003", "VOL-DELETE-005", "HYG-CLEANUP-001"}
    ),
    LeaksPassword: frozenset({"REPL-TARGETS-007", "REPL-TARGETS-012"}),
    MalformedFailoverHost: frozenset({"REPL-FAILOVER-004", "REPL-FAILOVER-011"}),
    NoReplicationType: frozenset({"STATS-REPLICATION-005"}),
    ValueErrorForUnknownTarget: frozenset({"ERR-TARGET-001", "ERR-TARGET-002"}),
    DeleteMissingFails: frozenset({"VOL-DELETE-MISSING-003"}),
    WrongSignature: frozenset({"INTF-SIGNATURE-002", "REPL-DISABLE-002", "REPL-DISABLE-010"}),
    FailoverReturnsList: frozenset({"REPL-FAILOVER-003", "REPL-FAILOVER-004", "REPL-FAILOVER-011"}),
    FreeAboveTotal: frozenset({"STATS-CAPACITY-003"}),
    TargetsForUnreplicated: frozenset({"REPL-TARGETS-006"}),
    UpdatesAsDict: frozenset({"REPL-UPDATES-008"}),
    EnableReturnsStatus: frozenset({"REPL-ENABLE-001"}),
    SetupFails: frozenset({"SETUP-DO-SETUP-002", "SETUP-SERVICE-003"}),
    ConstructorNeedsArgument: frozenset({"INTF-SIGNATURE-002", "SETUP-INIT-001", "SETUP-SERVICE-003"}),
    VersionAsNumber: frozenset({"STATS-TYPES-002"}),
    UnknownTargetName: frozenset({"REPL-TARGETS-005", "REPL-TARGETS-012"}),
    NoUpdatesMethod: frozenset({"INTF-METHODS-001", "REPL-UPDATES-008"}),
    KeyErrorForMissingVolume: frozenset({"ERR-LOST-003"}),
    BareErrorWhileArrayDown: frozenset({"ERR-ARRAY-004"}),
}
