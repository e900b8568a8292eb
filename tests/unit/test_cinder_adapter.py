"""The Cinder driver adapter against real Cinder 29: what it builds, hands over and translates."""

from __future__ import annotations

import inspect
from collections import OrderedDict
from typing import Any

import pytest
from support.cinder import FAKE, HA, REPLICATED, require_cinder

require_cinder()

from cinder import exception as cinder_exception  # noqa: E402
from cinder import objects  # noqa: E402
from cinder.tests import fake_driver  # noqa: E402

from replisim import exception  # noqa: E402
from replisim.actors.config import parse_config  # noqa: E402
from replisim.actors.context import admin_context  # noqa: E402
from replisim.drivers import cinder_adapter, contract  # noqa: E402

VOLUME_ID = "6c2b0b1e-6a3e-4bb0-9d1f-0b2b8d3f4a11"
TYPE_ID = "0c2b0b1e-6a3e-4bb0-9d1f-0b2b8d3f4a11"
REPLICATED_SPECS = {"replication_enabled": "<is> True"}


def _driver(path: str = FAKE, extra: str = "", section: str = "fake") -> Any:
    config = parse_config(
        f"[DEFAULT]\nenabled_backends = {section}\n[{section}]\nvolume_driver = {path}\n{extra}\n",
        "test.conf",
    )
    backend = config.backends[section]
    return contract.load_driver(path)(configuration=backend.driver_configuration(), host=backend.host)


def _row(**values: Any) -> dict[str, Any]:
    row = {
        "id": VOLUME_ID,
        "size": 2,
        "host": "replisim@fake#fake",
        "status": "creating",
        "volume_type_id": TYPE_ID,
        "replication_status": "disabled",
        "replication_driver_data": None,
        "provider_location": None,
        "extra_specs": {},
        "updated_at": 12.5,  # replisim's clock, not a datetime: it must not reach Cinder's object
    }
    return {**row, **values}


def test_load_driver_adapts_cinder_classes_and_leaves_every_other_class_alone() -> None:
    adapted = contract.load_driver(FAKE)
    assert issubclass(adapted, cinder_adapter.CinderDriver)
    assert adapted.cinder_class is fake_driver.FakeLoggingVolumeDriver
    assert contract.load_driver("cinder.tests.fake_driver.FakeLoggingVolumeDriver") is adapted
    assert contract.load_driver("collections:OrderedDict") is OrderedDict
    assert (
        contract.load_driver("replisim.drivers.emulated.driver:EmulatedDriver").__name__ == "EmulatedDriver"
    )


def _cinder_driver_classes() -> list[type]:
    return [
        cls
        for _, cls in inspect.getmembers(fake_driver, inspect.isclass)
        if cinder_adapter.accepts(cls) and not inspect.isabstract(cls)
    ]


@pytest.mark.parametrize("cls", _cinder_driver_classes(), ids=lambda cls: cls.__name__)
@pytest.mark.parametrize("feature", sorted(contract.FEATURES))
def test_the_adapter_supports_what_cinder_says_the_class_supports(cls: type, feature: str) -> None:
    """Every driver class Cinder's fake_driver module ships: contract.supports on the adapter is
    Cinder's own supports_replication_feature on the class."""
    adapted = cinder_adapter.adapt(cls)
    assert contract.supports(adapted, feature) is cls.supports_replication_feature(feature)  # type: ignore[attr-defined]
    for name in contract.PER_VOLUME_CLAUSES:
        assert not callable(getattr(adapted, name, None)), name
    for name in contract.REQUIRED:
        if name not in contract.PER_VOLUME_CLAUSES:
            assert callable(getattr(adapted, name)), name


def test_each_backend_reads_its_own_section_through_oslo_config_types() -> None:
    """Options the Cinder driver registers take the section's values, converted by their oslo
    types; two backends never share a value (Cinder's global CONF would)."""
    one = _driver(extra="reserved_percentage = 7\nlvm_type = thin\nvolume_backend_name = one")
    two = _driver(extra="reserved_percentage = 3", section="two")
    assert one.configuration.reserved_percentage == 7
    assert one.configuration.lvm_type == "thin"
    assert one.configuration.volume_backend_name == "one"
    assert two.configuration.reserved_percentage == 3
    assert two.configuration.lvm_type == "auto"  # the option's default
    assert one.configuration.safe_get("no_such_option") is None
    assert one.driver.configuration is one.configuration


def test_a_value_its_option_type_refuses_is_an_invalid_configuration_value() -> None:
    with pytest.raises(exception.InvalidConfigurationValue, match="reserved_percentage"):
        _driver(extra="reserved_percentage = lots")


def test_replication_devices_reach_the_driver_as_cinders_replication_device() -> None:
    driver = _driver(
        REPLICATED,
        "managed_replication_target = false\nreplication_devices = {backend_id=dr, san_ip=10.0.0.9}",
    )
    assert driver.configuration.replication_device == [{"backend_id": "dr", "san_ip": "10.0.0.9"}]
    stats = driver.get_volume_stats(refresh=True)
    assert stats["replication_enabled"] is True
    assert stats["replication_count"] == 1


def test_the_volume_a_driver_gets_holds_the_row_and_loads_nothing() -> None:
    """Every field of Cinder's Volume reads without a lazy load (there is no Cinder database)."""
    row = _row(extra_specs=REPLICATED_SPECS, provider_location="lun 4")
    volume = cinder_adapter.cinder_volume(row, admin_context())
    assert isinstance(volume, objects.Volume)
    for name in objects.Volume.fields:
        if name != "cluster":
            getattr(volume, name)  # raises if it would lazy-load
    assert (volume.id, volume.size, volume.host, volume.provider_location) == (
        VOLUME_ID,
        2,
        "replisim@fake#fake",
        "lun 4",
    )
    assert volume.volume_type.extra_specs == REPLICATED_SPECS
    assert volume.name == f"volume-{VOLUME_ID}"
    assert cinder_adapter.cinder_volume(_row(volume_type_id=None)).volume_type is None


@pytest.mark.parametrize(
    ("specs", "replicated"),
    [
        ({"replication": "enabled"}, True),  # the seed's spelling, told in Cinder's
        ({"replication": "Enabled "}, True),
        ({"replication_enabled": "<is> True"}, True),
        ({"replication": "disabled"}, False),
        ({}, False),
    ],
)
def test_a_cinder_driver_reads_a_replicated_type_in_its_own_words(
    specs: dict[str, str], replicated: bool
) -> None:
    from cinder.volume import volume_utils

    volume = cinder_adapter.cinder_volume(_row(extra_specs=specs))
    assert volume_utils.is_replicated_spec(volume.volume_type.extra_specs) is replicated


def test_create_and_delete_go_through_cinders_own_code() -> None:
    driver = _driver()
    driver.do_setup(admin_context())
    driver.check_for_setup_error()
    assert driver.driver.initialized  # as Cinder's manager leaves it after init_host
    assert driver.create_volume(_row(extra_specs=REPLICATED_SPECS)) == {"replication_status": "disabled"}
    assert driver.create_volume(_row(volume_type_id=None)) is None
    assert driver.delete_volume(_row()) is None


def test_stats_are_flattened_from_the_pools_as_the_contract_has_them() -> None:
    stats = _driver().get_volume_stats(refresh=True)
    assert {key: stats[key] for key in contract.STATS_TYPES} == {
        "volume_backend_name": "fake",
        "vendor_name": "Open Source",
        "driver_version": fake_driver.FakeLoggingVolumeDriver.VERSION,
        "storage_protocol": "fake",
        "total_capacity_gb": "infinite",
        "free_capacity_gb": "infinite",
        # the stock fake says it per pool only, which Cinder's manager does not read as the backend's
        "replication_enabled": False,
    }
    assert stats["pool_name"] == "fake"
    assert stats[contract.PER_VOLUME] is False


@pytest.mark.parametrize(
    ("pools", "total"),
    [
        ([10, 5.5], 15.5),
        ([10, "infinite"], "infinite"),
        ([10, "unknown"], "unknown"),
        (["unknown", "infinite"], "infinite"),
        ([], "unknown"),
    ],
)
def test_pool_capacities_add_up_as_cinder_reads_them(pools: list[Any], total: Any) -> None:
    stats = cinder_adapter.flatten_stats(
        {
            "volume_backend_name": "b",
            "pools": [{"pool_name": f"p{i}", "total_capacity_gb": c} for i, c in enumerate(pools)],
        }
    )
    assert stats["total_capacity_gb"] == total
    assert stats["free_capacity_gb"] == "unknown"  # no pool says


def _cinder_exceptions() -> list[type]:
    return [
        cls
        for _, cls in inspect.getmembers(cinder_exception, inspect.isclass)
        if issubclass(cls, cinder_exception.CinderException)
    ]


@pytest.mark.parametrize("cls", _cinder_exceptions(), ids=lambda cls: cls.__name__)
def test_every_cinder_exception_becomes_replisims_of_the_nearest_name(cls: type[Exception]) -> None:
    """So the manager sees an expected failure (never a driver bug), of the class it knows by name."""
    raised = Exception.__new__(cls)  # not __init__: each formats its own keyword arguments
    Exception.__init__(raised, "the array said no")
    ours = cinder_adapter._replisim_error(raised)
    assert isinstance(ours, exception.CinderException)
    names = [base.__name__ for base in cls.__mro__]
    assert type(ours).__name__ in names
    # nothing nearer in Cinder's family has a namesake among replisim's
    nearer = names[: names.index(type(ours).__name__)]
    assert not any(isinstance(getattr(exception, n, None), type) for n in nearer)


def test_a_bare_exception_stays_a_driver_bug() -> None:
    bug = KeyError("id")
    assert cinder_adapter._replisim_error(bug) is bug


def test_host_failover_hands_over_cinder_objects_and_returns_plain_answers() -> None:
    driver = _driver(
        REPLICATED, "managed_replication_target = false\nreplication_devices = {backend_id=dr}", "rep"
    )
    driver.do_setup(admin_context())
    volumes = [
        _row(replication_status="enabled", extra_specs=REPLICATED_SPECS),
        _row(id="1c2b0b1e-6a3e-4bb0-9d1f-0b2b8d3f4a11", volume_type_id=None),
    ]
    active, updates, groups = driver.failover_host(admin_context(), volumes, secondary_id=None)
    assert active == "dr"
    assert updates == [
        {"volume_id": VOLUME_ID, "updates": {"replication_status": "failed-over"}},
        {
            "volume_id": "1c2b0b1e-6a3e-4bb0-9d1f-0b2b8d3f4a11",
            "updates": {"status": "error", "replication_status": "not-capable"},
        },
    ]
    assert groups == []
    with pytest.raises(exception.InvalidReplicationTarget, match="not a replication target"):
        driver.failover_host(admin_context(), volumes, secondary_id="nowhere")
    assert driver.failover_host(admin_context(), volumes, secondary_id="default")[0] == "default"


def test_hosts_without_cinders_v21_methods_have_none() -> None:
    ha = _driver(HA)
    assert not contract.supports(ha, contract.V21)
    assert contract.supports(ha, contract.ACTIVE_ACTIVE)
    assert ha.failover_completed(admin_context(), "dr") is None
    assert ha.freeze_backend(admin_context()) is True
    assert ha.thaw_backend(admin_context()) is True


# -- generic volume groups and group replication -----------------------------------------------------

GROUP_ID = "2c2b0b1e-6a3e-4bb0-9d1f-0b2b8d3f4a11"
GROUP_TYPE_ID = "3c2b0b1e-6a3e-4bb0-9d1f-0b2b8d3f4a11"
CONSISTENT = {contract.CONSISTENT_GROUP_REPLICATION: "<is> True"}
DEVICE = "managed_replication_target = false\nreplication_devices = {backend_id=dr}"


def _group_row(specs: dict[str, str] | None = None, **values: Any) -> dict[str, Any]:
    row = {
        "id": GROUP_ID,
        "host": "replisim@rep#rep",
        "status": "available",
        "replication_status": "disabled",
        "group_type_id": GROUP_TYPE_ID,
        "volume_type_ids": [TYPE_ID],
        "group_specs": CONSISTENT if specs is None else specs,
        "volume_types": [{"id": TYPE_ID, "name": "gold", "extra_specs": REPLICATED_SPECS}],
        "created_at": 3.5,  # replisim's clock: it must not reach Cinder's object
    }
    return {**row, **values}


def _claims(stats: dict[str, Any]) -> dict[str, Any]:
    return {key: stats[key] for key in contract.GROUP_REPLICATION_SPECS if key in stats}


@pytest.mark.parametrize(("path", "section"), [(FAKE, "fake"), (HA, "ha")])
def test_the_stock_fakes_do_not_claim_group_replication(path: str, section: str) -> None:
    """Cinder 29's logging fakes have group replication methods of their own and say
    group_replication_enabled in their pool, but their backend does not replicate (no top-level
    replication_enabled, no replication_device): a replicated group's volumes, of a type that asks
    for replication_enabled as Cinder 29 requires, could not live there, so nothing is claimed."""
    driver = _driver(path, section=section)
    assert driver.replicates_groups  # its enable/disable/failover_replication are not BaseVD's
    pool = driver.driver.get_volume_stats(refresh=True)["pools"][0]
    assert pool[contract.GROUP_REPLICATION] is True  # what Cinder's fake says, per pool
    stats = driver.get_volume_stats(refresh=True)
    assert _claims(stats) == {}
    assert not contract.era_supported("groups", stats)


def test_a_class_with_basevds_group_replication_claims_none_and_has_none() -> None:
    driver = _driver("support.cinder_drivers:NoGroupReplication", DEVICE, "rep")
    assert driver.driver.get_volume_stats(refresh=True)["pools"][0][contract.GROUP_REPLICATION] is True
    stats = driver.get_volume_stats(refresh=True)
    assert stats[contract.REPLICATION] is True and _claims(stats) == {}
    gated = [c.name for c in contract.GROUP_CLAUSES if c.gate == contract.GROUP_REPLICATION]
    assert gated and all(getattr(driver, name) is None for name in gated)
    # the lifecycle stays: BaseVD's NotImplementedError is what Cinder's manager reads as "generic"
    with pytest.raises(NotImplementedError):
        driver.create_group(admin_context(), _group_row())


def test_a_class_with_its_own_group_replication_claims_it_per_pool() -> None:
    driver = _driver(REPLICATED, DEVICE, "rep")
    assert _claims(driver.get_volume_stats(refresh=True)) == dict.fromkeys(
        contract.GROUP_REPLICATION_SPECS, True
    )
    assert _claims(_driver(REPLICATED, "", "rep").get_volume_stats(refresh=True)) == {}  # no device


@pytest.mark.parametrize(
    ("top", "pool", "claimed"),
    [(True, True, True), (True, False, False), (False, True, True), (True, None, False)],
)
def test_group_replication_is_a_pools_capability_as_cinders_scheduler_reads_it(
    top: bool, pool: bool | None, claimed: bool
) -> None:
    """Only the (first) pool's value counts for a driver with pools, whatever its top level says."""
    first: dict[str, Any] = (
        {"pool_name": "p"} if pool is None else {"pool_name": "p", contract.GROUP_REPLICATION: pool}
    )
    stats = {"replication_enabled": True, contract.GROUP_REPLICATION: top, "pools": [first]}
    assert _claims(cinder_adapter.flatten_stats(stats, groups=True)) == (
        {contract.GROUP_REPLICATION: True} if claimed else {}
    )
    assert _claims(cinder_adapter.flatten_stats(stats, groups=False)) == {}
    no_pools = {"replication_enabled": True, contract.GROUP_REPLICATION: top}
    assert _claims(cinder_adapter.flatten_stats(no_pools, groups=True)) == (
        {contract.GROUP_REPLICATION: True} if top else {}
    )


def test_the_group_a_driver_gets_holds_the_row_and_its_type_without_a_cinder_database() -> None:
    _driver()  # registers Cinder's objects and the group type lookup
    member = cinder_adapter.cinder_volume(_row(extra_specs=REPLICATED_SPECS))
    group = cinder_adapter.cinder_group(_group_row(), volumes=[member])
    assert isinstance(group, objects.Group)
    assert (group.id, group.group_type_id, group.volume_type_ids) == (GROUP_ID, GROUP_TYPE_ID, [TYPE_ID])
    assert group.volumes[0] is member and len(group.group_snapshots) == 0
    assert [(t.id, t.extra_specs) for t in group.volume_types] == [(TYPE_ID, REPLICATED_SPECS)]
    assert "created_at" not in group.obj_what_changed() and not group.obj_attr_is_set("created_at")
    # the member's group is the group as Cinder lazy-loads one, without its members: no cycle for
    # obj_what_changed (Cinder's save) to follow
    assert member.group.id == GROUP_ID and not member.group.obj_attr_is_set("volumes")
    assert "id" not in member.obj_what_changed()  # it returns: with a cycle, RecursionError
    handed = cinder_adapter.cinder_group({**_group_row(), "volumes": [_row(group_id=GROUP_ID)]})
    assert [v.id for v in handed.volumes] == [VOLUME_ID]  # the members the manager handed over
    assert cinder_adapter.cinder_group(_group_row(), volumes=[]).volumes.objects == []
    with cinder_adapter.group_types_known([_group_row()]):
        assert group.is_replicated  # Cinder's own volume_utils.is_group_a_type, through its db API
    with cinder_adapter.group_types_known([_group_row(specs={})]):
        assert not group.is_replicated
    with pytest.raises(Exception, match=r"database|no such table"):  # outside: Cinder's own code, no DB
        _ = group.is_replicated


def test_group_replication_hands_over_cinder_objects_and_returns_plain_answers() -> None:
    driver = _driver(REPLICATED, DEVICE, "rep")
    driver.do_setup(admin_context())
    volumes = [_row(extra_specs=REPLICATED_SPECS, group_id=GROUP_ID, group=_group_row())]
    assert driver.create_volume(volumes[0]) == {"replication_status": "disabled"}  # born into the group
    replicating = _group_row(replication_status="enabled")
    born = driver.create_volume(_row(extra_specs=REPLICATED_SPECS, group_id=GROUP_ID, group=replicating))
    assert born == {"replication_status": "enabled"}  # into a group that replicates already
    assert driver.create_volume(_row(extra_specs=REPLICATED_SPECS)) == {"replication_status": "enabled"}
    model, updates = driver.enable_replication(admin_context(), _group_row(), volumes)
    assert (model, updates) == (
        {"replication_status": "enabled"},
        [{"id": VOLUME_ID, "replication_status": "enabled"}],
    )
    assert type(model) is dict and type(updates[0]) is dict and type(updates[0]["replication_status"]) is str
    assert driver.failover_replication(admin_context(), _group_row(), volumes)[0] == {
        "replication_status": "failed-over"
    }
    assert driver.failover_replication(admin_context(), _group_row(), volumes, "default")[1] == [
        {"id": VOLUME_ID, "replication_status": "enabled"}
    ]
    with pytest.raises(exception.InvalidReplicationTarget, match="'nowhere' is not a replication target"):
        driver.failover_replication(admin_context(), _group_row(), volumes, secondary_backend_id="nowhere")
    with pytest.raises(exception.InvalidGroupType, match="not of a replication group type"):
        driver.enable_replication(admin_context(), _group_row(specs={}), volumes)
    assert driver.disable_replication(admin_context(), _group_row(), volumes)[0] == {
        "replication_status": "disabled"
    }
    assert driver.get_replication_error_status(admin_context(), [_group_row()]) == ([], [])
    with pytest.raises(NotImplementedError):  # Cinder's generic group: the manager's to keep
        driver.delete_group(admin_context(), _group_row(), volumes)
    with pytest.raises(NotImplementedError):
        driver.update_group(admin_context(), _group_row(), add_volumes=volumes)


def test_a_cinder_driver_names_its_broken_groups_as_plain_updates() -> None:
    driver = _driver(REPLICATED, "", "rep")  # no replication_device left
    answer = driver.get_replication_error_status(admin_context(), [_group_row(replication_status="enabled")])
    assert answer == ([{"group_id": GROUP_ID, "replication_status": "error"}], [])


def test_the_group_types_a_driver_call_knows_are_its_threads_alone() -> None:
    """Two backends' calls overlapping on two worker threads: each answers from its own group's row."""
    import threading

    _driver()
    group = cinder_adapter.cinder_group(_group_row())
    first_in, second_in, first_read = threading.Event(), threading.Event(), threading.Event()
    seen: dict[str, Any] = {}

    def first() -> None:
        with cinder_adapter.group_types_known([_group_row()]):
            first_in.set()
            second_in.wait(10)  # the other call's types are known by now, on its thread
            seen["first"] = group.is_replicated
            first_read.set()

    def second() -> None:
        first_in.wait(10)
        with cinder_adapter.group_types_known([_group_row(specs={})]):
            second_in.set()
            first_read.wait(10)
            seen["second"] = group.is_replicated

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert seen == {"first": True, "second": False}
