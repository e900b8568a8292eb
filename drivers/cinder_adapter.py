"""Run an unmodified Cinder 29 volume driver as a replisim driver (the ``replisim[cinder]`` extra).

A Cinder driver (a subclass of ``cinder.volume.driver.BaseVD``) meets Cinder's interface, not the
driver contract: it is built with the arguments Cinder's volume manager passes, reads an oslo.config
section, takes ``cinder.objects.Volume`` objects, raises Cinder's own exceptions and reports its
capacity per pool. ``CinderDriver.for_class`` wraps such a class in a class that meets the contract,
translating each call both ways; ``contract.load_driver`` picks it for any Cinder driver class, so
``volume_driver = cinder.tests.fake_driver.FakeLoggingVolumeDriver`` and ``replisim conformance
--driver cinder.tests.fake_driver:FakeLoggingVolumeDriver`` just work. The driver host runs each
call as one blocking effect, as it does any driver's.

Cinder 29 drivers replicate through host failover (V2.1) and by group (Tiramisu), never per
volume: the adapter has ``failover_host`` (and ``failover``, ``failover_completed``) where the
Cinder class implements them, ``freeze_backend`` and ``thaw_backend`` always, Cinder's group
lifecycle (``create_group``, ``delete_group``, ``update_group``: Cinder's ``NotImplementedError``
reaches the manager, which then runs a generic group as Cinder's does), the group replication
methods only where the Cinder class has its own (not ``BaseVD``'s), and none of the per-volume V2
clauses; its stats say so (``contract.PER_VOLUME`` False, group replication only where it is
carried).
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import math
import os
import warnings
from collections.abc import Iterator, Mapping, Sequence
from types import MappingProxyType
from typing import Any, ClassVar

from replisim import exception, redaction

from . import contract

# Cinder patches the whole process for eventlet on import unless told not to (its test modules call
# cinder.monkey_patch.patch()); replisim runs drivers on threads, so it must stay unpatched.
NO_EVENTLET = "OS_CINDER_DISABLE_EVENTLET_PATCHING"
SHARED_GROUP = "backend_defaults"  # Cinder's section of defaults shared by every backend
CAPACITY_KEYS = ("total_capacity_gb", "free_capacity_gb")
DEVICE = "replication_device"  # Cinder's option (a list of dicts); replisim's is replication_devices
UNIQUE = "replication_targets"  # the stats key in which Cinder drivers name their targets' backend_ids
# The group methods whose BaseVD default raises NotImplementedError: a class that leaves them so has
# no group replication, whatever its stats say. (BaseVD's get_replication_error_status answers
# ([], []), a fair answer for any driver, so it says nothing.)
GROUP_REPLICATION_METHODS = ("enable_replication", "disable_replication", "failover_replication")


@contextlib.contextmanager
def importing() -> Iterator[None]:
    """Where any driver module is imported (``contract.load_driver``): Cinder must not patch the
    process for eventlet, whichever module imports it (replisim runs drivers on threads), and its
    import noise (eventlet's and oslo's deprecation warnings, the log line that says it runs on
    native threads) stays off the user's terminal."""
    chosen = os.environ.setdefault(NO_EVENTLET, "1")
    if chosen.strip().lower() not in ("1", "true", "yes"):
        raise ValueError(
            f"{NO_EVENTLET}={chosen!r} asks Cinder to monkey-patch the process for eventlet, which "
            "replisim's threads cannot run under; unset it"
        )
    noisy = logging.getLogger("cinder.monkey_patch")
    level = noisy.level
    noisy.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        noisy.setLevel(level)


def accepts(cls: type) -> bool:
    """Whether ``cls`` derives from Cinder's ``BaseVD`` (seen by name: nothing is imported)."""
    return any(
        base.__module__ == "cinder.volume.driver" and base.__name__ == "BaseVD" for base in cls.__mro__
    )


# -- configuration ---------------------------------------------------------------------------------


class SectionConfiguration:
    """What a Cinder driver gets as ``configuration``: the interface of Cinder's
    ``cinder.volume.configuration.Configuration`` over a private oslo.config ``ConfigOpts``.

    Each option a driver registers (``append_config_values``) takes its value from the backend's
    section as replisim parsed it, converted by the option's own type, or else its default, as
    oslo.config reads a ``cinder.conf``. Private, so two backends (or two runs) never share values
    through Cinder's global ``CONF``.
    """

    def __init__(self, section: str, source: Any):
        from oslo_config import cfg

        self._cfg = cfg
        self.config_group = section
        self._source = source
        self._conf = cfg.ConfigOpts()
        self._conf([], project="cinder", default_config_files=[], default_config_dirs=[])

    def append_config_values(self, volume_opts: Sequence[Any]) -> None:
        for opt in volume_opts:
            for group in (SHARED_GROUP, self.config_group):
                with contextlib.suppress(self._cfg.DuplicateOptError):
                    self._conf.register_opt(opt, group=group)
            raw = self._source.safe_get(opt.dest)
            if raw is None and opt.name != opt.dest:
                raw = self._source.safe_get(opt.name)
            if raw is None and opt.dest == DEVICE:
                raw = _cinder_devices(self._source.safe_get("replication_devices"))
            if raw is None:
                continue
            value = [raw] if opt.multi and isinstance(raw, str) else raw
            try:
                self._conf.set_override(opt.dest, value, group=self.config_group)
            except (ValueError, TypeError) as exc:
                raise exception.InvalidConfigurationValue(value=raw, option=opt.dest) from exc

    def set_default(self, opt_name: str, default: Any) -> None:
        self._conf.set_default(opt_name, default, group=self.config_group)

    def get(self, key: str, default: Any = None) -> Any:
        return getattr(self, key, default)

    def safe_get(self, name: str) -> Any:
        try:
            return getattr(self, name)
        except (self._cfg.NoSuchOptError, AttributeError):
            return None

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._conf[self.config_group], name)


def _cinder_devices(devices: Any) -> list[dict[str, str]] | None:
    """replisim's ``replication_devices`` as Cinder's ``replication_device`` entries: an unmanaged
    device's keys as they are (``backend_id`` first among them), a managed target by name as
    ``{'backend_id': name}``."""
    if not devices:
        return None
    return [
        dict(device) if isinstance(device, Mapping) else {"backend_id": str(device)} for device in devices
    ]


# -- objects ---------------------------------------------------------------------------------------


def cinder_context(context: Any) -> Any:
    """Cinder's ``RequestContext`` for replisim's (or None for none)."""
    if context is None:
        return None
    from cinder import context as cinder_context_module

    return cinder_context_module.RequestContext(
        user_id=context.user_id,
        project_id=context.project_id,
        is_admin=bool(context.is_admin),
        request_id=context.request_id,
        roles=list(getattr(context, "roles", ())),
    )


def cinder_volume(volume: Mapping[str, Any], context: Any = None) -> Any:
    """A ``cinder.objects.Volume`` holding replisim's row: every field the row has, every other
    plain field at its default, and the related objects a driver reads (type with its extra specs,
    its group when the row carries one, no attachments, snapshots or metadata) set, so nothing
    lazy-loads from a Cinder database that is not there."""
    from cinder import objects
    from oslo_versionedobjects import fields as ovo_fields

    ctx = cinder_context(context)
    obj = objects.Volume(context=ctx)
    for name, field in objects.Volume.fields.items():
        if isinstance(field, ovo_fields.ObjectField) or name == "cluster":
            continue
        if name in volume and not isinstance(volume[name], float | dict):  # timestamps, mappings
            setattr(obj, name, volume[name])
        elif field.default is not ovo_fields.UnspecifiedDefault:
            setattr(obj, name, field.default)
        elif field.nullable:
            setattr(obj, name, None)
    obj._name_id = None
    type_id = volume.get("volume_type_id")
    obj.volume_type = (
        objects.VolumeType(
            context=ctx,
            id=type_id,
            name=volume.get("volume_type_name"),
            extra_specs=cinder_specs(volume.get("extra_specs") or {}),
            is_public=True,
        )
        if type_id
        else None
    )
    obj.volume_attachment = objects.VolumeAttachmentList(objects=[])
    obj.snapshots = objects.SnapshotList(objects=[])
    obj.metadata = {}
    obj.admin_metadata = {}
    obj.glance_metadata = {}
    obj.consistencygroup = None
    group = volume.get("group")
    obj.group = _group_alone(group, context) if isinstance(group, Mapping) else None
    obj.obj_reset_changes()
    return obj


def cinder_specs(specs: Mapping[str, str]) -> dict[str, str]:
    """A type's extra specs in Cinder's words: the seed's ``replication: enabled`` says what Cinder
    reads from ``replication_enabled: '<is> True'`` (``volume_utils.is_replicated_spec``), so a
    Cinder driver is told that too."""
    found = dict(specs)
    if str(found.get("replication", "")).strip().lower() == "enabled":
        found.setdefault("replication_enabled", "<is> True")
    return found


def cinder_group(group: Mapping[str, Any], context: Any = None, volumes: Sequence[Any] | None = None) -> Any:
    """The ``cinder.objects.Group`` a driver's group method (or ``failover_host``) is handed:
    ``_group_alone``'s, with the ``volumes`` Cinder's manager would lazy-load from its database set
    from what replisim has: the ``cinder.objects.Volume`` list given, else the row's ``volumes``
    (as the manager hands them over), else none. Each member's ``group`` is the group without its
    members, as Cinder's lazy load gives one: a group and a member holding each other would be a
    cycle, which Cinder's ``obj_what_changed`` (so ``save``) follows until the stack runs out."""
    from cinder import objects

    if volumes is None:
        volumes = [cinder_volume(v, context) for v in group.get("volumes") or ()]
    obj = _group_alone(group, context, volumes)
    obj.volumes = objects.VolumeList(objects=list(volumes))
    alone = _group_alone(group, context)
    for member in volumes:
        member.group = alone
        member.obj_reset_changes(["group"])
    obj.obj_reset_changes()
    return obj


def _group_alone(group: Mapping[str, Any], context: Any = None, volumes: Sequence[Any] | None = None) -> Any:
    """A ``cinder.objects.Group`` holding replisim's group row (its plain fields), and, of what
    would lazy-load from Cinder's database, ``volume_types`` (each with its extra specs, from the
    row's ``volume_types`` or else from the volumes given) and no group snapshots; not its volumes
    (a volume's ``group``). The group type is not a field of Cinder's group: ``group_types`` reads
    it from Cinder's database by id, which ``group_types_known`` answers from the row's
    ``group_specs`` while the driver runs."""
    from cinder import objects
    from oslo_versionedobjects import fields as ovo_fields

    ctx = cinder_context(context)
    obj = objects.Group(context=ctx)
    for name, field in objects.Group.fields.items():
        plain = not isinstance(field, ovo_fields.ObjectField)
        if plain and name in group and not isinstance(group[name], float | dict):  # not timestamps
            setattr(obj, name, group[name])
    types: dict[str, Any] = {}
    for volume in volumes or ():
        if volume.volume_type is not None:
            types.setdefault(volume.volume_type.id, volume.volume_type)
    for known in group.get("volume_types") or ():
        types[known["id"]] = objects.VolumeType(
            context=ctx,
            id=known["id"],
            name=known.get("name"),
            extra_specs=cinder_specs(known.get("extra_specs") or {}),
            is_public=True,
        )
    if "volume_types" in group or volumes is not None:
        wanted = list(group.get("volume_type_ids") or types)
        obj.volume_types = objects.VolumeTypeList(objects=[types[i] for i in wanted if i in types])
    obj.group_snapshots = objects.GroupSnapshotList(objects=[])
    obj.obj_reset_changes()
    return obj


# The group types the driver running on this thread may look up (Cinder reads a group's type from
# its database by id: volume_utils.is_group_a_type, Group.is_replicated, group_types.*), by id.
_GROUP_TYPES: contextvars.ContextVar[Mapping[str, Mapping[str, Any]]] = contextvars.ContextVar(
    "replisim_cinder_group_types", default=MappingProxyType({})
)


def _group_type_row(group: Mapping[str, Any]) -> dict[str, Any] | None:
    """The group's type as Cinder's database API returns one (a dict), or None without a type."""
    type_id = group.get("group_type_id")
    if not type_id:
        return None
    return {
        "id": type_id,
        "name": group.get("group_type_name"),
        "description": None,
        "is_public": True,
        "deleted": False,
        "group_specs": dict(group.get("group_specs") or {}),
    }


@contextlib.contextmanager
def group_types_known(groups: Sequence[Mapping[str, Any]]) -> Iterator[None]:
    """While the block runs on this thread, Cinder's ``db.group_type_get`` answers for the types of
    ``groups`` from their rows, a later group's over an earlier's (an id it was not given still
    goes to Cinder's own code, which has no database here and says so). Per thread and per call,
    so two backends, or two clusters in one process, never see each other's types."""
    rows = {row["id"]: row for group in groups if (row := _group_type_row(group)) is not None}
    token = _GROUP_TYPES.set(MappingProxyType({**_GROUP_TYPES.get(), **rows}))
    try:
        yield
    finally:
        _GROUP_TYPES.reset(token)


def _answer_group_types_from_rows() -> None:
    """Put the lookup ``group_types_known`` feeds in front of Cinder's ``db.group_type_get`` (once
    per process): the one read of Cinder's database a driver's group helpers cannot avoid."""
    from cinder.db import api as cinder_db

    cinders = cinder_db.group_type_get
    if getattr(cinders, "replisim_rows", False):
        return

    def group_type_get(context: Any, id: Any, inactive: bool = False, expected_fields: Any = None) -> Any:
        row = _GROUP_TYPES.get().get(id)
        if row is None:
            return cinders(context, id, inactive=inactive, expected_fields=expected_fields)
        found = {**row, "group_specs": dict(row["group_specs"])}
        if expected_fields and "projects" in expected_fields:
            found["projects"] = []
        return found

    group_type_get.replisim_rows = True  # type: ignore[attr-defined]
    cinder_db.group_type_get = group_type_get


def _replisim_error(exc: BaseException) -> BaseException:
    """replisim's exception for one of Cinder's: the nearest class of the same name (so
    ``InvalidReplicationTarget`` stays one), else ``VolumeDriverException``; an exception that is
    not Cinder's is a driver bug and stays what it is."""
    from cinder import exception as cinder_exception

    if not isinstance(exc, cinder_exception.CinderException):
        return exc
    for base in type(exc).__mro__:
        ours = getattr(exception, base.__name__, None)
        if isinstance(ours, type) and issubclass(ours, exception.CinderException):
            break
    else:
        ours = exception.VolumeDriverException
    return ours(message=f"{type(exc).__name__}: {exc}")


@contextlib.contextmanager
def _translated() -> Iterator[None]:
    try:
        yield
    except Exception as exc:
        translated = _replisim_error(exc)
        if translated is exc:
            raise
        raise translated from exc


def _capacity_total(values: Sequence[Any]) -> Any:
    """Pools' capacities as one: ``'infinite'`` if any is, ``'unknown'`` if any is (or none is
    given), else the sum."""
    words = [v for v in values if isinstance(v, str)]
    if "infinite" in words or any(isinstance(v, float) and math.isinf(v) for v in values):
        return "infinite"
    if words or not values:
        return "unknown"
    return sum(values)


def flatten_stats(stats: Mapping[str, Any], per_volume: bool = False, groups: bool = False) -> dict[str, Any]:
    """Cinder's stats as the contract has them: a driver that reports pools gets its capacity as
    their sum and its other capabilities from its first pool (replisim schedules a backend as one
    pool, ``pool_name``); ``replication_enabled`` is the top-level key alone, as Cinder's volume
    manager reads it to decide whether the backend can fail over. The group replication keys are
    a pool's capabilities, as Cinder's scheduler reads them (a driver with pools: the first pool's
    value, whatever the top level says; without pools: the top level's), and are kept only for a
    driver whose group replication methods the adapter carries (``groups``) on a backend that
    replicates: Cinder 29 replicates a group only of volume types that ask for
    ``replication_enabled``, which only a replicating backend takes. Otherwise they are dropped, so
    the scheduler and the group checks pass the driver by."""
    top = {key: value for key, value in stats.items() if key != "pools"}
    pools = [pool for pool in stats.get("pools") or () if isinstance(pool, Mapping)]
    for key, value in pools[0].items() if pools else ():
        if key not in top and key != contract.REPLICATION:
            top[key] = value
    capabilities = pools[0] if pools else stats
    for key in CAPACITY_KEYS if "pools" in stats else ():
        if key not in stats:
            top[key] = _capacity_total([pool.get(key, "unknown") for pool in pools])
    top[contract.REPLICATION] = stats.get(contract.REPLICATION) is True
    if top[contract.REPLICATION]:
        targets = stats.get(UNIQUE) or []
        top.setdefault("replication_count", len(targets) if isinstance(targets, list) else 1)
        top.setdefault("replication_type", ["async"])
    top[contract.PER_VOLUME] = per_volume
    for key in contract.GROUP_REPLICATION_SPECS:
        top.pop(key, None)
        if groups and top[contract.REPLICATION] and capabilities.get(key) is True:
            top[key] = True
    return top


def replicates_groups(cinder_class: type) -> bool:
    """Whether a Cinder driver class has group replication of its own: each of
    ``GROUP_REPLICATION_METHODS`` is not ``BaseVD``'s default (which raises ``NotImplementedError``)."""
    from cinder.volume import driver as cinder_driver

    return all(
        getattr(cinder_class, name, None) is not getattr(cinder_driver.BaseVD, name)
        for name in GROUP_REPLICATION_METHODS
    )


# -- the adapter -----------------------------------------------------------------------------------


class CinderDriver:
    """A Cinder volume driver behind the driver contract (build one with ``for_class``)."""

    cinder_class: ClassVar[type]
    VERSION: ClassVar[str] = ""
    replicates_groups: ClassVar[bool] = False  # the Cinder class's own group replication methods

    _classes: ClassVar[dict[type, type[CinderDriver]]] = {}

    @classmethod
    def for_class(cls, cinder_class: type) -> type[CinderDriver]:
        """The adapter class for one Cinder driver class: the contract's methods, with V2.1 host
        failover only where the Cinder class implements it (Cinder's
        ``supports_replication_feature``) and group replication only where the class has its own
        (``replicates_groups``)."""
        if cinder_class not in cls._classes:
            attributes: dict[str, Any] = {
                "cinder_class": cinder_class,
                "VERSION": str(getattr(cinder_class, "VERSION", "")),
                "__module__": __name__,
                "__doc__": f"{cinder_class.__module__}.{cinder_class.__qualname__}, adapted to the contract",
            }
            supported = getattr(cinder_class, "supports_replication_feature", lambda _: False)
            for feature, method in contract.FEATURES.items():
                if not supported(feature):
                    attributes[method] = None  # absent: contract.supports says no
            if not supported(contract.V21):
                attributes["failover"] = None
            attributes["replicates_groups"] = replicates_groups(cinder_class)
            if not attributes["replicates_groups"]:  # absent: the driver host answers NotImplementedError
                for clause in contract.GROUP_CLAUSES:
                    if clause.gate == contract.GROUP_REPLICATION:
                        attributes[clause.name] = None
            cls._classes[cinder_class] = type(f"Cinder{cinder_class.__name__}", (cls,), attributes)
        return cls._classes[cinder_class]

    def __init__(
        self,
        configuration: Any,
        host: str,
        active_backend_id: str | None = None,
        is_vol_db_empty: bool = False,
    ):
        section = getattr(configuration, "backend_name", None) or host.partition("@")[2]
        self.configuration = SectionConfiguration(section, configuration)
        self.host = host
        self._replication_error = False
        self._claims_groups = False  # the last stats claimed group replication
        # the arguments Cinder's volume manager passes (cinder/volume/manager.py), in its words
        with _translated():
            self.driver = self.cinder_class(
                configuration=self.configuration,
                host=host,
                cluster_name=None,
                is_vol_db_empty=is_vol_db_empty,
                active_backend_id=active_backend_id,
            )

    def __repr__(self) -> str:
        return f"<{type(self).__name__} on {self.host}>"

    # -- the seed era's required clauses

    def do_setup(self, context: Any) -> None:
        with _translated():
            self.driver.do_setup(cinder_context(context))

    def check_for_setup_error(self) -> None:
        """Cinder's manager checks, then gathers capabilities and marks the driver initialized."""
        with _translated():
            self.driver.check_for_setup_error()
            self.driver.init_capabilities()
            self.driver.set_initialized()

    def get_volume_stats(self, refresh: bool = False) -> dict[str, Any]:
        with _translated():
            stats = self.driver.get_volume_stats(refresh=refresh)
        self._replication_error = isinstance(stats, Mapping) and stats.get("replication_status") == "error"
        flat = flatten_stats(stats or {}, groups=self.replicates_groups)
        self._claims_groups = contract.era_supported("groups", flat)
        return flat

    def get_replication_updates(self, context: Any) -> list[dict[str, Any]]:
        """Cinder 29's nearest call, as its volume manager makes it: only when the last stats said
        ``replication_status: 'error'``, the volumes ``get_replication_error_status`` names. A class
        that replicates groups is asked by the control plane itself, with its groups (the group
        era's clause), so not here as well."""
        if not self._replication_error or self._claims_groups:
            return []
        with _translated():
            _, volume_updates = self.driver.get_replication_error_status(cinder_context(context), [])
        return [
            {
                **{k: v for k, v in update.items() if k != "volume_id"},
                "volid": update["volume_id"],
                "status": "error",
            }
            for update in volume_updates or ()
            if isinstance(update, Mapping) and "volume_id" in update
        ]

    def create_volume(self, volume: Mapping[str, Any]) -> dict[str, Any] | None:
        with _translated(), group_types_known(_groups_of([volume])):
            update = self.driver.create_volume(cinder_volume(volume))
        return dict(update) if update else None

    def delete_volume(self, volume: Mapping[str, Any]) -> None:
        with _translated(), group_types_known(_groups_of([volume])):
            self.driver.delete_volume(cinder_volume(volume))

    def list_replication_targets(self, context: Any, volume: Mapping[str, Any]) -> dict[str, Any]:
        """Cinder 29 has no such call: a replicated volume's targets are the backend's
        ``replication_device`` entries, unmanaged, with every secret masked."""
        targets: list[dict[str, Any]] = []
        if volume.get("replication_status") in ("enabled", "failed-over"):
            for device in self.configuration.safe_get("replication_device") or ():
                entry = {"type": "unmanaged", **{str(k): v for k, v in dict(device).items()}}
                targets.append(
                    {k: redaction.MASK if redaction.is_secret_option(k) else v for k, v in entry.items()}
                )
        return {"volume_id": volume["id"], "targets": targets}

    # -- V2.1: host failover, freeze and thaw

    def failover_host(
        self,
        context: Any,
        volumes: Sequence[Mapping[str, Any]],
        secondary_id: str | None = None,
        groups: Sequence[Mapping[str, Any]] | None = None,
    ) -> tuple[Any, list[Any], list[Any]]:
        return self._failover("failover_host", context, volumes, secondary_id, groups)

    def failover(
        self,
        context: Any,
        volumes: Sequence[Mapping[str, Any]],
        secondary_id: str | None = None,
        groups: Sequence[Mapping[str, Any]] | None = None,
    ) -> tuple[Any, list[Any], list[Any]]:
        return self._failover("failover", context, volumes, secondary_id, groups)

    def _failover(
        self,
        method: str,
        context: Any,
        volumes: Sequence[Mapping[str, Any]],
        secondary_id: str | None,
        groups: Sequence[Mapping[str, Any]] | None,
    ) -> Any:
        with _translated(), group_types_known([*_groups_of(volumes), *(groups or ())]):
            answer = getattr(self.driver, method)(
                cinder_context(context),
                [cinder_volume(v, context) for v in volumes],
                secondary_id=secondary_id,
                groups=[cinder_group(g, context) for g in groups or ()],
            )
        if not isinstance(answer, tuple | list) or len(answer) != 3:
            return answer  # the shape is the control plane's to judge, and the suite's
        active, volume_updates, group_updates = answer
        return active, _plain(volume_updates), _plain(group_updates)

    def failover_completed(self, context: Any, active_backend_id: str | None = None) -> None:
        with _translated():
            self.driver.failover_completed(cinder_context(context), active_backend_id)

    def freeze_backend(self, context: Any) -> Any:
        with _translated():
            return self.driver.freeze_backend(cinder_context(context))

    def thaw_backend(self, context: Any) -> Any:
        with _translated():
            return self.driver.thaw_backend(cinder_context(context))

    # -- generic volume groups and group replication (Tiramisu)

    def create_group(self, context: Any, group: Mapping[str, Any]) -> dict[str, Any] | None:
        """Cinder's ``create_group``; ``BaseVD``'s ``NotImplementedError`` reaches the manager,
        which then makes a generic group, as Cinder 29's does."""
        with _translated(), group_types_known([group]):
            model = self.driver.create_group(cinder_context(context), cinder_group(group, context))
        return _model(model)

    def delete_group(
        self, context: Any, group: Mapping[str, Any], volumes: Sequence[Mapping[str, Any]]
    ) -> Any:
        """Cinder's ``delete_group``; ``NotImplementedError``: the manager deletes the volumes one by
        one, as Cinder 29's generic group does."""
        return self._group_call("delete_group", context, group, volumes)

    def update_group(
        self,
        context: Any,
        group: Mapping[str, Any],
        add_volumes: Sequence[Mapping[str, Any]] | None = None,
        remove_volumes: Sequence[Mapping[str, Any]] | None = None,
    ) -> Any:
        """Cinder's ``update_group``; ``NotImplementedError``: membership is the database's alone,
        as Cinder 29's generic group update has it."""
        moved = [*(add_volumes or ()), *(remove_volumes or ())]
        with _translated(), group_types_known([*_groups_of(moved), group]):
            answer = self.driver.update_group(
                cinder_context(context),
                cinder_group(group, context),
                add_volumes=[cinder_volume(v, context) for v in add_volumes or ()],
                remove_volumes=[cinder_volume(v, context) for v in remove_volumes or ()],
            )
        if not isinstance(answer, tuple | list) or len(answer) != 3:
            return answer  # the shape is the manager's to judge
        model, added, removed = answer
        return _model(model), _plain(added), _plain(removed)

    def enable_replication(
        self, context: Any, group: Mapping[str, Any], volumes: Sequence[Mapping[str, Any]]
    ) -> Any:
        return self._group_call("enable_replication", context, group, volumes)

    def disable_replication(
        self, context: Any, group: Mapping[str, Any], volumes: Sequence[Mapping[str, Any]]
    ) -> Any:
        return self._group_call("disable_replication", context, group, volumes)

    def failover_replication(
        self,
        context: Any,
        group: Mapping[str, Any],
        volumes: Sequence[Mapping[str, Any]],
        secondary_backend_id: str | None = None,
    ) -> Any:
        return self._group_call(
            "failover_replication", context, group, volumes, secondary_backend_id=secondary_backend_id
        )

    def get_replication_error_status(self, context: Any, groups: Sequence[Mapping[str, Any]]) -> Any:
        with _translated(), group_types_known(groups):
            answer = self.driver.get_replication_error_status(
                cinder_context(context), [cinder_group(g, context) for g in groups]
            )
        if not isinstance(answer, tuple | list) or len(answer) != 2:
            return answer
        group_updates, volume_updates = answer
        return _plain(group_updates), _plain(volume_updates)

    def _group_call(
        self,
        method: str,
        context: Any,
        group: Mapping[str, Any],
        volumes: Sequence[Mapping[str, Any]],
        **args: Any,
    ) -> Any:
        """One of Cinder's ``(context, group, volumes, ...)`` methods: the group holds the volumes
        handed over (as Cinder's ``group.volumes``), each volume knows its group; the answer
        ``(model_update, volume_updates)`` comes back as plain data."""
        with _translated(), group_types_known([*_groups_of(volumes), group]):
            members = [cinder_volume(v, context) for v in volumes]
            obj = cinder_group(group, context, members)
            answer = getattr(self.driver, method)(cinder_context(context), obj, members, **args)
        if not isinstance(answer, tuple | list) or len(answer) != 2:
            return answer  # the shape is the manager's, and the suite's, to judge
        model, updates = answer
        return _model(model), _plain(updates)


def _groups_of(volumes: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The groups the volumes' mappings carry (a group's volume: Cinder's ``volume.group``)."""
    return [v["group"] for v in volumes if isinstance(v.get("group"), Mapping)]


def _model(model: Any) -> Any:
    """A model update as a plain dict (Cinder's enum values are strings already)."""
    return dict(model) if isinstance(model, Mapping) else model


def _plain(updates: Any) -> Any:
    """A driver's update list with Cinder's objects and enum values as plain data."""
    if not isinstance(updates, list | tuple):
        return updates
    return [
        {**update, "updates": dict(update["updates"])}
        if isinstance(update, Mapping) and isinstance(update.get("updates"), Mapping)
        else dict(update)
        if isinstance(update, Mapping)
        else update
        for update in updates
    ]


def adapt(cinder_class: type) -> type:
    """The class ``contract.load_driver`` builds for a Cinder driver class (Cinder's objects
    registered first: drivers take ``cinder.objects.Volume``)."""
    with importing():
        from cinder import objects

        objects.register_all()
        _answer_group_types_from_rows()
    # replisim's own ids need not be UUIDs (the conformance suite's are not); Cinder's objects warn
    warnings.filterwarnings("ignore", ".* is an invalid UUID", FutureWarning, "oslo_versionedobjects")
    return CinderDriver.for_class(cinder_class)
