"""A value changed by someone else between read and write is not lost (docs/architecture.md: exact delete+add)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ansible_collections.hybrid.identity.plugins.module_utils.ad._ad import AdSession, AdSettings, ConcurrentChange
from ansible_collections.hybrid.identity.plugins.module_utils.alignment._ad_apply import plan_requests, write_plan
from ansible_collections.hybrid.identity.plugins.module_utils.alignment._user_plan import UserRequest
from tests.integration._ldif import ldapmodify, user

SCENARIO = Path(__file__).with_name("files") / "ad_user_smtp.yml"
X500 = "X500:/o=Contoso/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn=alice"


@pytest.fixture
def settings(lab, lab_vars):
    lab.load(SCENARIO)
    params = {key: value for key, value in lab_vars.items() if key.startswith("ad_")}
    return AdSettings.from_params({"ad_tls": "ldaps", "ad_auth": "simple", "ad_validate_certs": True} | params)


def other_writer_replaces_the_secondary(lab_vars, dn):
    """Between our read and our write, a helpdesk script removes the value we promote and adds an alias."""
    ldapmodify(
        lab_vars,
        f"dn: {dn}\nchangetype: modify\ndelete: proxyAddresses\nproxyAddresses: smtp:Alice@contoso.com\n-\n"
        "add: proxyAddresses\nproxyAddresses: smtp:helpdesk.alias@contoso.com\n-\n",
    )


def test_stale_plan_is_refused_by_the_directory_then_replanned_keeping_the_other_change(settings, lab_vars):
    request = UserRequest.from_params({"identity": "alice", "primary_smtp": "alice@contoso.com"})
    with AdSession(settings) as ad:
        [(alice, _request, stale_plan)] = plan_requests(ad, [request])
        other_writer_replaces_the_secondary(lab_vars, alice.distinguished_name)

        final_plan = write_plan(ad, alice, request, stale_plan)

    assert final_plan is not stale_plan
    values = sorted(user(lab_vars, "alice", "proxyAddresses")["proxyAddresses"])
    assert values == sorted(
        [
            "SMTP:alice@contoso.com",
            "smtp:alice.old@contoso.com",
            "smtp:helpdesk.alias@contoso.com",  # the other writer's value survives
            X500,
            "SIP:alice@contoso.com",
        ]
    )


def test_without_retries_the_conflict_fails_clearly_and_writes_nothing(settings, lab_vars):
    request = UserRequest.from_params({"identity": "alice", "primary_smtp": "alice@contoso.com"})
    with AdSession(settings) as ad:
        [(alice, _request, stale_plan)] = plan_requests(ad, [request])
        other_writer_replaces_the_secondary(lab_vars, alice.distinguished_name)
        after_other_writer = sorted(user(lab_vars, "alice", "proxyAddresses")["proxyAddresses"])

        with pytest.raises(ConcurrentChange, match="kept changing") as raised:
            write_plan(ad, alice, request, stale_plan, attempts=1)

    assert raised.value.hint
    assert sorted(user(lab_vars, "alice", "proxyAddresses")["proxyAddresses"]) == after_other_writer


def test_a_value_added_meanwhile_is_kept_by_the_write(settings, lab_vars):
    request = UserRequest.from_params({"identity": "bob", "primary_smtp": "robert@contoso.com"})
    with AdSession(settings) as ad:
        [(bob, _request, plan)] = plan_requests(ad, [request])
        ldapmodify(
            lab_vars,
            f"dn: {bob.distinguished_name}\nchangetype: modify\nadd: proxyAddresses\n"
            "proxyAddresses: smtp:added.meanwhile@contoso.com\n-\n",
        )
        write_plan(ad, bob, request, plan)

    values = sorted(user(lab_vars, "bob", "proxyAddresses")["proxyAddresses"])
    assert values == ["SMTP:robert@contoso.com", "smtp:added.meanwhile@contoso.com", "smtp:bob@contoso.com"]


def another_writer_fills(lab_vars, dn, **values):
    ldapmodify(lab_vars, f"dn: {dn}\nchangetype: modify\n" + "".join(
        f"add: {name}\n{name}: {value}\n-\n" for name, value in values.items()))


@pytest.fixture
def unaddressed(lab, settings):
    """A user with no mail and no UPN yet: the plan adds them without deleting anything."""
    lab.load({"ad": {"users": [{"sAMAccountName": "dora", "ou": "OU=Staff"}]}})
    return UserRequest.from_params(
        {"identity": "dora", "primary_smtp": "dora@contoso.com", "user_principal_name": "dora@contoso.com"}
    )


def test_mail_and_upn_filled_meanwhile_make_samba_refuse_the_add_and_the_write_is_replanned(
    settings, lab_vars, unaddressed
):
    with AdSession(settings) as ad:
        [(dora, _request, stale_plan)] = plan_requests(ad, [unaddressed])
        assert ("mail", (), ("dora@contoso.com",)) in stale_plan.changes  # a bare add: nothing to delete yet
        another_writer_fills(lab_vars, dora.distinguished_name, mail="helpdesk@contoso.com",
                             userPrincipalName="dora.h@contoso.com")

        final_plan = write_plan(ad, dora, unaddressed, stale_plan)

    # Re-planned from what the other writer left: its values are the ones replaced, and reported as before.
    assert final_plan.before["mail"] == "helpdesk@contoso.com"
    assert final_plan.before["userPrincipalName"] == "dora.h@contoso.com"
    entry = user(lab_vars, "dora", "mail", "userPrincipalName", "proxyAddresses")
    assert entry["mail"] == ["dora@contoso.com"] and entry["userPrincipalName"] == ["dora@contoso.com"]
    assert entry["proxyAddresses"] == ["SMTP:dora@contoso.com"]


def test_a_single_valued_attribute_filled_meanwhile_fails_clearly_without_retries(settings, lab_vars, unaddressed):
    with AdSession(settings) as ad:
        [(dora, _request, stale_plan)] = plan_requests(ad, [unaddressed])
        another_writer_fills(lab_vars, dora.distinguished_name, mail="helpdesk@contoso.com")

        with pytest.raises(ConcurrentChange) as raised:
            write_plan(ad, dora, unaddressed, stale_plan, attempts=1)

    # What Samba answers to an add on a single-valued attribute that now holds a value.
    assert "changed since it was read (attributeOrValueExists: " in str(raised.value)
    assert "SINGLE-VALUE attribute mail" in str(raised.value)
    assert raised.value.hint
    entry = user(lab_vars, "dora", "mail", "userPrincipalName", "proxyAddresses")
    assert entry["mail"] == ["helpdesk@contoso.com"]  # the whole modify was refused: nothing of ours landed
    assert "userPrincipalName" not in entry and "proxyAddresses" not in entry
