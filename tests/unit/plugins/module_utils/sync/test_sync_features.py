"""Planning a change of the tenant's synchronization switches, with plain data (rule book §3, §6)."""

import pytest

from ansible_collections.hybrid.identity.plugins.module_utils.common._errors import ConfigurationError
from ansible_collections.hybrid.identity.plugins.module_utils.sync._sync_features import (
    FEATURE_NAMES,
    plan_features,
    requested_features,
)

TENANT = {
    "blockSoftMatchEnabled": True,
    "blockCloudObjectTakeoverThroughHardMatchEnabled": True,
    "softMatchOnUpnEnabled": True,
    "passwordWritebackEnabled": False,
    "quarantineUponProxyAddressesConflictEnabled": True,
}


def test_every_rule_book_switch_is_a_valid_name():
    rule_book = {"blockSoftMatchEnabled", "blockCloudObjectTakeoverThroughHardMatchEnabled", "softMatchOnUpnEnabled",
                 "quarantineUponProxyAddressesConflictEnabled", "quarantineUponUpnConflictEnabled",
                 "synchronizeUpnForManagedUsersEnabled"}
    assert rule_book <= set(FEATURE_NAMES)


def test_an_unknown_name_is_refused_listing_the_valid_ones():
    with pytest.raises(ConfigurationError, match="unknown switch 'blockSoftMatch'") as refused:
        requested_features({"blockSoftMatch": False})
    assert "blockSoftMatchEnabled" in refused.value.hint
    assert all(name in refused.value.hint for name in FEATURE_NAMES)


def test_names_are_matched_without_case_and_written_as_graph_writes_them():
    assert requested_features({"BLOCKSOFTMATCHENABLED": "no"}) == {"blockSoftMatchEnabled": False}


def test_a_value_must_be_true_or_false():
    with pytest.raises(ConfigurationError, match="not true or false"):
        requested_features({"blockSoftMatchEnabled": "maybe"})


def test_nothing_asked_is_a_read():
    plan = plan_features(TENANT, requested_features(None))
    assert not plan.changed
    assert plan.after == TENANT


def test_only_the_switches_that_differ_are_sent():
    plan = plan_features(TENANT, {"blockSoftMatchEnabled": False, "softMatchOnUpnEnabled": True})
    assert plan.changes == {"blockSoftMatchEnabled": False}
    assert plan.after == TENANT | {"blockSoftMatchEnabled": False}
    assert plan.before == TENANT


def test_asking_again_for_what_the_tenant_has_changes_nothing():
    opened = plan_features(TENANT, {"blockSoftMatchEnabled": False}).after
    assert not plan_features(opened, {"blockSoftMatchEnabled": False}).changed


def test_rule_3_upn_soft_match_can_not_be_turned_off():
    with pytest.raises(ConfigurationError, match="softMatchOnUpnEnabled is on"):
        plan_features(TENANT, {"softMatchOnUpnEnabled": False})
    assert plan_features(TENANT | {"softMatchOnUpnEnabled": False}, {"softMatchOnUpnEnabled": True}).changed


def test_password_writeback_can_not_be_changed_through_graph():
    with pytest.raises(ConfigurationError, match="passwordWritebackEnabled can't be changed"):
        plan_features(TENANT, {"passwordWritebackEnabled": True})
    assert not plan_features(TENANT, {"passwordWritebackEnabled": False}).changed
