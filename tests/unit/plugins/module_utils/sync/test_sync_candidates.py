"""Which predicted users to sync and what to verify, called directly (rule book §2, §3, §4, §5), with plain data.

The filter's test covers the common cases through the filter; these cover the rest of the function.
"""

import pytest

from ansible_collections.hybrid.identity.plugins.module_utils.common._errors import ConfigurationError
from ansible_collections.hybrid.identity.plugins.module_utils.matching._matching_result import OUTCOMES, SEVERITIES
from ansible_collections.hybrid.identity.plugins.module_utils.sync._sync_candidates import (
    JOINS,
    NEW_USER,
    VISIBLE_CHANGES,
    sync_candidates,
)

CLOUD_ID = "0e2f6a55-3b6d-4b1e-9c1a-6f3f2f0f4d21"
DN = "CN=Diego,OU=Staff,DC=contoso,DC=com"


def result(outcome="soft_match_smtp", findings=(), onprem=None, cloud=None, predicted=None):
    return {
        "onprem": {"distinguished_name": DN, "sam_account_name": "diego", "user_principal_name": "diego@contoso.com",
                   "source_anchor": "diego-anchor=="} if onprem is None else onprem,
        "cloud": {"id": CLOUD_ID} if cloud is None else cloud,
        "outcome": outcome,
        "findings": [{"code": code, "severity": SEVERITIES[code]} for code in findings],
        "predicted": {} if predicted is None else predicted,
    }


def test_the_outcomes_taken_are_the_first_joins_and_new_users():
    """Rule book §3: matching happens at the first export only, so already_synced has nothing to force."""
    chosen = {row["outcome"] for row in sync_candidates([result(outcome) for outcome in OUTCOMES])}
    assert chosen == {"hard_match", "soft_match_smtp", "soft_match_upn", "new_user"}
    assert set(JOINS) | {NEW_USER} <= set(OUTCOMES)


def test_visible_changes_are_warning_codes_of_the_prediction():
    """Rule book §5: what the user would notice is a warning of the prediction, never an error."""
    assert {SEVERITIES[code] for code in VISIBLE_CHANGES} == {"warning"}


def test_every_visible_change_accepted_together_lets_each_through():
    rows = [result(findings=[code]) for code in VISIBLE_CHANGES]
    assert sync_candidates(rows) == []
    assert len(sync_candidates(rows, accept=VISIBLE_CHANGES)) == len(VISIBLE_CHANGES)
    # accepting one lets only the users with that change alone through
    both = result(findings=["primary_smtp_will_change", "upn_will_change"])
    assert sync_candidates([both], accept=["primary_smtp_will_change"]) == []


def test_an_accepted_visible_change_never_lets_an_error_through():
    """Rule book §4: a value quarantined at the join is an error, whatever is accepted."""
    row = result(findings=["primary_smtp_will_change", "duplicate_proxy_address"])
    assert sync_candidates([row], accept=VISIBLE_CHANGES) == []


def test_an_error_severity_leaves_a_user_out_whatever_its_code():
    row = result()
    row["findings"] = [{"code": "a_code_added_later", "severity": "error"}]
    assert sync_candidates([row]) == []
    row["findings"] = [{"code": "a_code_added_later", "severity": "info"}]
    assert len(sync_candidates([row])) == 1


def test_the_label_falls_back_from_sam_account_name_to_upn_to_dn():
    named = [
        {"distinguished_name": DN, "sam_account_name": "diego", "user_principal_name": "d@contoso.com"},
        {"distinguished_name": DN, "sam_account_name": None, "user_principal_name": "d@contoso.com"},
        {"distinguished_name": DN, "sam_account_name": "", "user_principal_name": ""},
    ]
    chosen = sync_candidates([result(onprem=onprem) for onprem in named])
    assert [row["expected"]["label"] for row in chosen] == ["diego", "d@contoso.com", DN]


def test_expected_holds_only_what_the_prediction_knows():
    (chosen,) = sync_candidates([result(cloud={}, predicted={"primary_smtp": None, "proxy_addresses": []})])
    assert chosen == {"distinguished_name": DN, "sam_account_name": "diego", "outcome": "soft_match_smtp",
                      "expected": {"label": "diego", "source_anchor": "diego-anchor=="}}


def test_a_join_names_its_cloud_user_and_a_new_user_never_does():
    """Rule book §3: a new user gets a new object id, so only the source anchor can find it."""
    join, new = sync_candidates([result("hard_match"), result("new_user", cloud={"id": CLOUD_ID})])
    assert join["expected"]["cloud_id"] == CLOUD_ID
    assert "cloud_id" not in new["expected"]
    no_cloud = result("soft_match_upn")
    no_cloud["cloud"] = None
    (chosen,) = sync_candidates([no_cloud])
    assert "cloud_id" not in chosen["expected"]


def test_only_smtp_values_are_verified_bare_and_whole():
    """Rule book §2: the cloud shows the on-prem SMTP values; other types are not the cloud's to show."""
    predicted = {"proxy_addresses": ["SMTP:Diego.S@contoso.com", "Smtp:d@contoso.com", "smtp:d:x@contoso.com",
                                     "SIP:diego@contoso.com", "X500:/o=Org/cn=smtp:diego", "smtpx:d@contoso.com"]}
    (chosen,) = sync_candidates([result(predicted=predicted)])
    assert chosen["expected"]["proxy_addresses_include"] == ["Diego.S@contoso.com", "d@contoso.com",
                                                             "d:x@contoso.com"]


def test_the_order_of_the_results_is_kept():
    rows = [result(onprem={"distinguished_name": f"CN={name}", "sam_account_name": name})
            for name in ("zoe", "adam", "mia")]
    assert [row["sam_account_name"] for row in sync_candidates(rows)] == ["zoe", "adam", "mia"]


def test_any_iterable_of_results_is_read_and_nothing_gives_nothing():
    assert len(sync_candidates(row for row in [result(), result("new_user")])) == 2
    assert sync_candidates(None) == [] and sync_candidates([]) == []
    assert len(sync_candidates([result()], accept=None)) == 1


def test_new_users_can_be_left_out_while_joins_stay():
    rows = [result("new_user"), result("soft_match_upn")]
    assert [row["outcome"] for row in sync_candidates(rows, new_users=False)] == ["soft_match_upn"]


def test_findings_may_be_missing_or_empty():
    row = result()
    row["findings"] = None
    assert len(sync_candidates([row])) == 1
    del row["findings"]
    assert len(sync_candidates([row])) == 1


@pytest.mark.parametrize("bad", [None, "CN=diego", ["onprem"], {"onprem": None}, {"onprem": "CN=diego"}])
def test_a_row_that_is_not_a_result_is_refused_with_its_position(bad):
    with pytest.raises(ConfigurationError) as refused:
        sync_candidates([result(), bad])
    assert "results[1] is not a soft_match_check result" in str(refused.value)
    assert "soft_match_check returns" in refused.value.hint


def test_an_unknown_accept_is_refused_before_any_row_is_read():
    with pytest.raises(ConfigurationError) as refused:
        sync_candidates(["not a result"], accept=["upn_will_change", "admin_role", "duplicate_upn"])
    assert str(refused.value).startswith("accept names admin_role, duplicate_upn, which are not visible changes")
    assert all(code in refused.value.hint for code in VISIBLE_CHANGES)


def test_one_code_given_as_a_string_is_taken_whole():
    row = result("soft_match_upn", findings=["upn_will_change"])
    try:
        chosen = sync_candidates([row], accept="upn_will_change")
    except ConfigurationError as refused:
        assert "upn_will_change" in str(refused) and "list" in str(refused) + refused.hint
    else:
        assert len(chosen) == 1
