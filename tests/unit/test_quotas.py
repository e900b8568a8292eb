"""Quotas in Cinder 29's terms: which resources a quota set has, how a client's limits are read,
and which refusal a request beyond them meets (the repositories' tests cover the counting)."""

from __future__ import annotations

from typing import Any

import pytest

from replisim import exception
from replisim.actors import quotas
from replisim.actors.db import MemoryRepository
from replisim.actors.serve import cinder_default_quotas


def test_a_quota_set_has_cinder_s_resources_and_three_per_volume_type() -> None:
    assert quotas.resources(["__DEFAULT__", "gold"]) == [
        "volumes",
        "per_volume_gigabytes",
        "snapshots",
        "gigabytes",
        "backups",
        "backup_gigabytes",
        "volumes___DEFAULT__",
        "gigabytes___DEFAULT__",
        "snapshots___DEFAULT__",
        "volumes_gold",
        "gigabytes_gold",
        "snapshots_gold",
        "groups",
    ]
    assert set(quotas.CINDER_DEFAULTS) == set(quotas.resources([]))  # a type's own are unlimited


def test_a_limit_is_the_project_s_own_then_its_class_s_then_unlimited() -> None:
    limits = quotas.limits(["gold"], {"volumes": 10, "gigabytes": 1000}, {"volumes": 3})
    assert limits["volumes"] == 3 and limits["gigabytes"] == 1000
    assert limits["volumes_gold"] == limits["groups"] == quotas.UNLIMITED


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"volumes": "lots"}, "volumes must be an integer"),
        ({"volumes": True}, "volumes must be an integer"),
        ({"volumes": 1.5}, "volumes must be an integer"),
        ({"volumes": -2}, "volumes must be >= -1"),
        ({"gigabytes": 2**31}, "gigabytes must be <= 2147483647"),
        ({"colour": 1, "volumes": 2}, "Invalid input received: Bad key(s) in quota set: colour"),
        ({}, "names at least one resource"),
        ([], "names at least one resource"),
    ],
)
def test_limits_a_client_sent_are_refused_in_cinder_s_words(values: Any, message: str) -> None:
    with pytest.raises(exception.Invalid) as refused:
        quotas.parse(values, quotas.resources([]), what="quota set")
    assert message in refused.value.msg


def test_limits_may_be_numbers_or_their_text_and_ids_are_ignored() -> None:
    parsed = quotas.parse(
        {"volumes": "20", "gigabytes": -1, "id": "p1"}, quotas.resources([]), what="quota set"
    )
    assert parsed == {"volumes": 20, "gigabytes": -1}


def test_a_limit_below_what_is_used_is_refused_unless_unlimited() -> None:
    used = {"volumes": 2, "per_volume_gigabytes": 0}
    quotas.check_not_below_usage({"volumes": 2, "per_volume_gigabytes": 0}, used)
    quotas.check_not_below_usage({"volumes": -1}, used)
    with pytest.raises(exception.Invalid, match="Current usage is 2 and the requested limit is 1"):
        quotas.check_not_below_usage({"volumes": 1}, used)


def test_the_first_exceeded_resource_by_name_is_the_one_refused() -> None:
    limit = {"volumes": 1, "gigabytes": 1, "per_volume_gigabytes": -1}
    used = {"volumes": 1, "gigabytes": 1}
    with pytest.raises(exception.VolumeSizeExceedsAvailableQuota, match="allowed gigabytes quota"):
        quotas.check_create(limit, used, "__DEFAULT__", 1)  # both over: gigabytes sorts first
    with pytest.raises(exception.VolumeLimitExceeded, match="quota 'volumes'"):
        quotas.check_create({**limit, "gigabytes": -1}, used, "__DEFAULT__", 1)
    with pytest.raises(exception.VolumeSizeExceedsLimit):
        quotas.check_create({**limit, "per_volume_gigabytes": 0}, {}, "__DEFAULT__", 1)
    quotas.check_create({"volumes": 2, "gigabytes": 2}, used, "__DEFAULT__", 1)


def test_an_extend_names_the_project_s_gigabytes_even_when_its_type_s_were_exceeded() -> None:
    limit = {"gigabytes": 100, "gigabytes_gold": 2}
    used = {"gigabytes": 5, "gigabytes_gold": 2}
    with pytest.raises(exception.VolumeSizeExceedsAvailableQuota) as refused:
        quotas.check_extend(limit, used, "gold", 1, 3)
    assert refused.value.msg.endswith("Requested 2G, quota is 100G and 5G has been consumed.")
    quotas.check_extend(limit, used, "silver", 1, 3)


def test_serve_starts_with_cinder_s_defaults_and_keeps_a_database_s_own() -> None:
    db = MemoryRepository(clock=lambda: 0.0)
    db.quota_class_update(quotas.DEFAULT_CLASS, {"volumes": 50})  # an operator's, from an earlier run
    cinder_default_quotas(db)
    cinder_default_quotas(db)
    assert db.quota_class_get(quotas.DEFAULT_CLASS) == {**quotas.CINDER_DEFAULTS, "volumes": 50}
