"""sync_candidates: which predicted users a careful onboarding syncs, and what it verifies for them."""

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.hybrid.identity.plugins.filter.sync_candidates import FilterModule

CLOUD_ID = "5b2677d5-4c20-447d-9c6b-613dee99d4a3"


def row(sam, outcome, findings=(), cloud=True, **predicted):
    return {
        "onprem": {"distinguished_name": f"CN={sam},OU=Staff,DC=contoso,DC=com", "sam_account_name": sam,
                   "user_principal_name": f"{sam}@contoso.com", "source_anchor": f"{sam}-anchor=="},
        "cloud": {"id": CLOUD_ID, "user_principal_name": f"{sam}@contoso.com"} if cloud else None,
        "outcome": outcome,
        "findings": [{"code": code, "severity": severity} for code, severity in findings],
        "predicted": {"user_principal_name": f"{sam}@contoso.com", "primary_smtp": f"{sam}.x@contoso.com",
                      "proxy_addresses": [f"SMTP:{sam}.x@contoso.com", f"smtp:{sam}@contoso.com",
                                          "X500:/o=Org/cn=x", f"smtp:{sam}@contoso.onmicrosoft.com"]} | predicted,
    }


def candidates(results, **options):
    return FilterModule().filters()["sync_candidates"](results, **options)


def test_a_clean_soft_match_carries_everything_verification_needs():
    (chosen,) = candidates([row("alice", "soft_match_smtp")])

    assert chosen["distinguished_name"] == "CN=alice,OU=Staff,DC=contoso,DC=com"
    assert chosen["outcome"] == "soft_match_smtp"
    assert chosen["expected"] == {
        "label": "alice", "source_anchor": "alice-anchor==", "cloud_id": CLOUD_ID,
        "user_principal_name": "alice@contoso.com", "primary_smtp": "alice.x@contoso.com",
        # SMTP values only, bare; the X500 is not the cloud's to show
        "proxy_addresses_include": ["alice.x@contoso.com", "alice@contoso.com", "alice@contoso.onmicrosoft.com"],
    }


def test_refused_already_synced_and_erroneous_users_are_left_out():
    results = [row("blocked", "blocked", [("admin_role", "error")]),
               row("conflict", "conflict", [("duplicate_proxy_address", "error")]),
               row("invalid", "invalid", [("multiple_primary_smtp", "error")]),
               row("excluded", "excluded"),
               row("synced", "already_synced"),
               # §4: a join that loses a value to quarantine is not clean either
               row("kim", "soft_match_smtp", [("duplicate_proxy_address", "error")]),
               # a new user whose address another on-prem user carries
               row("nina", "new_user", [("duplicate_in_directory", "error")], cloud=False)]

    assert candidates(results) == []


def test_visible_changes_are_left_out_unless_accepted():
    results = [row("adele", "soft_match_smtp", [("primary_smtp_will_change", "warning")]),
               row("megan", "soft_match_smtp", [("cloud_addresses_will_be_dropped", "warning")]),
               row("erin", "soft_match_upn", [("upn_will_change", "warning")]),
               row("ok", "hard_match", [("no_mailbox", "warning")])]

    assert [c["sam_account_name"] for c in candidates(results)] == ["ok"]
    assert [c["sam_account_name"] for c in candidates(results, accept=["primary_smtp_will_change"])] == [
        "adele", "ok"]


def test_new_users_are_verified_by_anchor_alone_and_can_be_left_out():
    results = [row("carol", "new_user", cloud=False)]

    (chosen,) = candidates(results)
    assert "cloud_id" not in chosen["expected"]
    assert chosen["expected"]["source_anchor"] == "carol-anchor=="
    assert candidates(results, new_users=False) == []


def test_accepting_something_that_is_not_a_visible_change_is_refused():
    with pytest.raises(AnsibleFilterError, match=r"admin_role.*not visible changes"):
        candidates([row("alice", "soft_match_smtp")], accept=["admin_role"])


def test_something_other_than_prediction_results_is_refused():
    with pytest.raises(AnsibleFilterError, match=r"results\[0\] is not a soft_match_check result"):
        candidates([{"distinguished_name": "CN=alice"}])


@pytest.mark.parametrize("given", ["false", "no", "False"])
def test_new_users_given_as_a_string_false_are_left_out(given):
    assert candidates([row("carol", "new_user", cloud=False)], new_users=given) == []


def test_new_users_that_is_not_a_boolean_is_refused_naming_it():
    with pytest.raises(AnsibleFilterError, match="new_users must be a boolean, not 'perhaps'"):
        candidates([row("carol", "new_user", cloud=False)], new_users="perhaps")
