"""Cinder's names in one place: replication statuses, what each admin action accepts, the RPC version."""

from __future__ import annotations

from dataclasses import dataclass

RPC_VERSION = "1.27"  # the volume RPC API version that added Replication V2

VOLUME_TOPIC = "cinder-volume"
SCHEDULER_TOPIC = "cinder-scheduler"
API_TOPIC = "cinder-api"
DRIVER_TOPIC = "cinder-driver"

DISABLED = "disabled"
ENABLING = "enabling"
ENABLED = "enabled"
DISABLING = "disabling"
ENABLING_SECONDARY = "enabling_secondary"
FAILED_OVER = "failed-over"
ERROR = "error"
# Host failover (Replication V2.1): a service's statuses, and a volume's after one; failing-over is
# also a group's failover in progress (and its volumes'), as Cinder names it
NOT_CAPABLE = "not-capable"
FAILING_OVER = "failing-over"
FAILOVER_ERROR = "failover-error"

REPLICATION_STATUSES = frozenset(
    {
        DISABLED,
        ENABLING,
        ENABLED,
        DISABLING,
        ENABLING_SECONDARY,
        FAILED_OVER,
        ERROR,
        NOT_CAPABLE,
        FAILING_OVER,
        FAILOVER_ERROR,
    }
)
TRANSITIONAL = frozenset({ENABLING, DISABLING, ENABLING_SECONDARY, FAILING_OVER})

# Volume statuses this project uses (Cinder's names).
CREATING, AVAILABLE, DELETING, VOLUME_ERROR, ERROR_DELETING = (
    "creating",
    "available",
    "deleting",
    "error",
    "error_deleting",
)
TERMINAL_VOLUME_STATUSES = frozenset({AVAILABLE, VOLUME_ERROR, "in-use", "deleted"})
# Every status Cinder 29 knows, in its order (what ``os-reset_status`` accepts and lists).
VOLUME_STATUSES = (
    CREATING,
    AVAILABLE,
    DELETING,
    VOLUME_ERROR,
    ERROR_DELETING,
    "error_managing",
    "managing",
    "attaching",
    "in-use",
    "detaching",
    "maintenance",
    "restoring-backup",
    "error_restoring",
    "reserved",
    "awaiting-transfer",
    "backing-up",
    "error_backing-up",
    "error_extending",
    "downloading",
    "uploading",
    "retyping",
    "extending",
)
ATTACH_STATUSES = ("attached", "detached")  # the two an admin may reset a volume to
MIGRATION_STATUSES = ("migrating", "error", "success", "completing", "none", "starting")


@dataclass(frozen=True)
class AdminAction:
    """What an admin replication action accepts and what it writes before its RPC cast."""

    verb: str  # as the error message says it: "enable replication"
    policy: str  # the policy rule guarding it
    valid: tuple[str, ...]
    transitional: str
    when_absent: str  # the status the seed assumes when a volume has none recorded


ENABLE = AdminAction("enable replication", "volume:enable_replication", (DISABLED,), ENABLING, DISABLED)
DISABLE = AdminAction(
    "disable replication", "volume:disable_replication", (DISABLED, ENABLED), DISABLING, DISABLED
)
# The seed accepts failover only from `enabled`, yet its documentation asks that failover act as a
# toggle (fail over, then back): we also accept `failed-over`, so a second failover switches back.
# And we accept `error`: once replication updates mark a volume whose primary array died as
# `error`, failing it over is the one action that helps; refusing it would strand the volume.
FAILOVER = AdminAction(
    "failover replication",
    "volume:failover_replication",
    (ENABLED, FAILED_OVER, ERROR),
    ENABLING_SECONDARY,
    "na",
)

# Every replication_status change the control plane may make: (from, to). The invariant checker
# and the state-machine tests hold the system to this table.
ALLOWED_TRANSITIONS = frozenset(
    {
        (DISABLED, ENABLING),
        (ENABLING, ENABLED),
        (ENABLING, ERROR),
        (DISABLED, DISABLING),
        (ENABLED, DISABLING),
        (DISABLING, DISABLED),
        (DISABLING, ERROR),
        (ENABLED, ENABLING_SECONDARY),
        (FAILED_OVER, ENABLING_SECONDARY),
        (ERROR, ENABLING_SECONDARY),
        (ENABLING_SECONDARY, FAILED_OVER),
        (ENABLING_SECONDARY, ERROR),
        (ENABLING_SECONDARY, ENABLED),  # a failback, to the backend the volume was created on
        # periodic replication updates from the driver: errors, their end (back to the state the
        # array reports), and repairs of what the database missed (an abandoned handler's outcome)
        (ENABLED, ERROR),
        (FAILED_OVER, ERROR),
        (ERROR, ENABLED),
        (ERROR, FAILED_OVER),
        (ERROR, DISABLED),
        (ENABLED, FAILED_OVER),
        (FAILED_OVER, ENABLED),
        (ENABLED, DISABLED),
        (FAILED_OVER, DISABLED),
        (DISABLED, FAILED_OVER),
        # a create whose driver model update turns replication on
        (DISABLED, ENABLED),
        # a host failover (V2.1) moves every replicated volume of the backend at once, with no
        # transitional volume status: to failed-over (enabled on a failback), or failover-error
        # for one the driver could not move; a volume that does not replicate is not-capable
        (ERROR, FAILOVER_ERROR),
        (ENABLED, FAILOVER_ERROR),
        (FAILED_OVER, FAILOVER_ERROR),
        (FAILOVER_ERROR, FAILED_OVER),
        (FAILOVER_ERROR, ENABLED),
        (FAILOVER_ERROR, FAILOVER_ERROR),
        (DISABLED, NOT_CAPABLE),
        # replisim's admin reset, from failover-error as from error
        (FAILOVER_ERROR, DISABLED),
        # a group's actions, on each of its volumes (GROUP_TRANSITIONS, below, is the whole table)
        (ENABLED, ENABLING),  # a re-enable, which Cinder's group API accepts
        (ERROR, DISABLING),
        (ENABLED, FAILING_OVER),
        (FAILED_OVER, FAILING_OVER),
        (FAILING_OVER, FAILED_OVER),
        (FAILING_OVER, ENABLED),
        (FAILING_OVER, ERROR),
    }
)

# A backend's (service's) replication_status under host failover, as Cinder 29 moves it: the API
# claims enabled / failed-over -> failing-over; the manager ends it failed-over, enabled (a
# failback, or a refused target on a backend that was not failed over) or failover-error; an
# admin's reset_active_backend takes failover-error (or any status of a frozen service) back.
SERVICE_FAILOVER_FROM = (ENABLED, FAILED_OVER)
SERVICE_TRANSITIONS = frozenset(
    {
        ("not-capable", ENABLED),
        ("not-capable", DISABLED),
        (ENABLED, FAILING_OVER),
        (FAILED_OVER, FAILING_OVER),
        (FAILING_OVER, FAILED_OVER),
        (FAILING_OVER, ENABLED),
        (FAILING_OVER, FAILOVER_ERROR),
        # start-up: a service that is not failed over says what its driver's stats say
        (FAILOVER_ERROR, ENABLED),
        (FAILOVER_ERROR, DISABLED),
        (FAILING_OVER, DISABLED),
        (ENABLED, DISABLED),
        (DISABLED, ENABLED),
        # reset_active_backend
        (FAILED_OVER, ENABLED),
        (FAILED_OVER, DISABLED),
    }
)


def backend_host(host: str) -> str:
    """``'host@backend#pool'`` -> ``'host@backend'``: the volume manager that serves it."""
    return host.partition("#")[0]


def is_valid_host(host: object) -> bool:
    """A Cinder host string: ``host@backend`` with an optional ``#pool``, no blanks."""
    if not isinstance(host, str) or any(c.isspace() for c in host):
        return False
    service, _, pool = host.partition("#")
    name, at, backend = service.partition("@")
    return bool(name and at and backend and "@" not in backend and ("#" not in host or pool))


# -- generic volume groups (3.13) and group replication (3.38) --------------------------------------

GROUP_CREATING, GROUP_AVAILABLE, GROUP_UPDATING, GROUP_DELETING, GROUP_ERROR = (
    "creating",
    "available",
    "updating",
    "deleting",
    "error",
)
GROUP_ERROR_DELETING = "error_deleting"
GROUP_STATUSES = frozenset(
    {GROUP_CREATING, GROUP_AVAILABLE, GROUP_UPDATING, GROUP_DELETING, GROUP_ERROR, GROUP_ERROR_DELETING}
)
# A group's replication_status takes the volume statuses' names (Cinder's ReplicationStatus).
GROUP_REPLICATION_STATUSES = frozenset(
    {DISABLED, ENABLING, ENABLED, DISABLING, FAILING_OVER, FAILED_OVER, ERROR, FAILOVER_ERROR}
)
GROUP_TRANSITIONAL = frozenset({ENABLING, DISABLING, FAILING_OVER})  # a subset of TRANSITIONAL


@dataclass(frozen=True)
class GroupAction:
    """What a group replication action accepts (Cinder 29's ``group/api.py``) and writes before its
    cast: the group's status and replication status, each volume's replication status."""

    name: str  # the REST action and the manager's handler
    verb: str  # as Cinder's messages say it: "enable replication"
    policy: str
    group_statuses: tuple[str, ...]
    valid: tuple[str, ...]  # the group's and each volume's replication status
    transitional: str
    volume_statuses: tuple[str, ...] | None  # None: any


GROUP_ENABLE = GroupAction(
    "enable_replication",
    "enable replication",
    "group:enable_replication",
    (GROUP_AVAILABLE,),
    (DISABLED, ENABLED),
    ENABLING,
    (AVAILABLE, "in-use"),
)
GROUP_DISABLE = GroupAction(
    "disable_replication",
    "disable replication",
    "group:disable_replication",
    (GROUP_AVAILABLE, GROUP_ERROR),
    (ENABLED, ERROR),
    DISABLING,
    None,
)
GROUP_FAILOVER = GroupAction(
    "failover_replication",
    "failover replication",
    "group:failover_replication",
    (GROUP_AVAILABLE,),
    (ENABLED, FAILED_OVER),
    FAILING_OVER,
    (AVAILABLE, "in-use"),
)
GROUP_ACTIONS = {action.name: action for action in (GROUP_ENABLE, GROUP_DISABLE, GROUP_FAILOVER)}
# Every replication_status change a group action makes, to a group or to each of its volumes: the
# API's claim, the manager's outcome, or a driver error (Cinder's manager sets error).
GROUP_TRANSITIONS = frozenset(
    {
        (DISABLED, ENABLING),
        (ENABLED, ENABLING),
        (ENABLING, ENABLED),
        (ENABLING, ERROR),
        (ENABLED, DISABLING),
        (ERROR, DISABLING),
        (DISABLING, DISABLED),
        (DISABLING, ERROR),
        (ENABLED, FAILING_OVER),
        (FAILED_OVER, FAILING_OVER),
        (FAILING_OVER, FAILED_OVER),
        (FAILING_OVER, ENABLED),
        (FAILING_OVER, ERROR),
    }
    # a host failover (V2.1) takes every replicated group of the backend with it, whatever its
    # replication status, as Cinder 29's manager does: to the backend's outcome, or failover-error
    | {
        (before, after)
        for before in (DISABLED, ENABLED, FAILED_OVER, ERROR, FAILOVER_ERROR)
        for after in (ENABLED, FAILED_OVER, FAILOVER_ERROR)
    }
)
