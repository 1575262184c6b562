"""What smtp_align lists of a run as return_results asks: the pairs a person should read, or all, or none."""

import pytest

from ansible_collections.hybrid.identity.plugins.module_utils.alignment._alignment import (
    pair_needs_attention,
    returned_results,
)


def _pair(guid, status, visible=(), reasons=()):
    return {"onprem": {"object_guid": guid}, "status": status, "visible_changes": list(visible),
            "reasons": list(reasons)}


PAIRS = [
    _pair("g-aligned", "aligned"),
    _pair("g-unchanged", "unchanged"),
    _pair("g-synced", "already_synced"),
    _pair("g-blocked", "blocked", reasons=["holds an admin role"]),
    _pair("g-failed", "failed"),
    _pair("g-visible", "unchanged", visible=[{"code": "primary_smtp_will_change"}]),
]
RECHECKED = [
    {"onprem": {"object_guid": "g-aligned"}, "clean": True},
    {"onprem": {"object_guid": "g-unchanged"}, "clean": True},
    {"onprem": {"object_guid": "g-visible"}, "clean": True},
    # an unchanged pair that no longer joins cleanly (someone changed the cloud user): must be listed
    {"onprem": {"object_guid": "g-unchanged-dirty"}, "clean": False},
]
UNPAIRED = [{"sam_account_name": "lynne"}]


def test_attention_leaves_out_only_the_quiet_unchanged_and_joined_pairs():
    pairs, rechecked, unpaired = returned_results(PAIRS, RECHECKED, UNPAIRED, "attention")
    assert [pair["onprem"]["object_guid"] for pair in pairs] == ["g-aligned", "g-blocked", "g-failed", "g-visible"]
    assert [item["onprem"]["object_guid"] for item in rechecked] == ["g-aligned", "g-visible", "g-unchanged-dirty"]
    assert unpaired == UNPAIRED


def test_all_and_none():
    assert returned_results(PAIRS, RECHECKED, UNPAIRED, "all") == (PAIRS, RECHECKED, UNPAIRED)
    assert returned_results(PAIRS, RECHECKED, UNPAIRED, "none") == ([], [], [])


@pytest.mark.parametrize(("pair", "needs"), [
    (_pair("g", "aligned"), True), (_pair("g", "blocked"), True), (_pair("g", "failed"), True),
    (_pair("g", "unchanged"), False), (_pair("g", "already_synced"), False),
    (_pair("g", "already_synced", reasons=["kept the on-prem primary"]), True),
])
def test_which_pairs_need_a_person(pair, needs):
    assert pair_needs_attention(pair) is needs
