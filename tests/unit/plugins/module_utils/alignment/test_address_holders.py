"""Addresses and UPNs a change would give a user that another object holds (rule book §4), with plain data."""

from ansible_collections.hybrid.identity.plugins.module_utils.ad._ad import AdUser
from ansible_collections.hybrid.identity.plugins.module_utils.alignment._address_holders import (
    Holdings,
    claimed_values,
    held_values,
)
from ansible_collections.hybrid.identity.plugins.module_utils.alignment._user_plan import UserRequest, plan_user

ALICE = AdUser("CN=alice,OU=Staff,DC=contoso,DC=com", "6f1c7f0e-0000-4000-8000-000000000001",
               user_principal_name="alice@contoso.com", mail="alice.old@contoso.com",
               proxy_addresses=("SMTP:alice.old@contoso.com", "smtp:Alice@contoso.com", "SIP:alice@contoso.com"))
BOB = AdUser("CN=bob,OU=Staff,DC=contoso,DC=com", "6f1c7f0e-0000-4000-8000-000000000002",
             user_principal_name="bob@contoso.com", mail="bob@contoso.com",
             proxy_addresses=("SMTP:bob@contoso.com", "smtp:robert@contoso.com"))
SALES = Holdings.of("CN=Sales,OU=Groups,DC=contoso,DC=com", ["SMTP:sales@contoso.com", "smtp:team@contoso.com"],
                    "sales@contoso.com", None)
FRANK = Holdings.of("CN=Frank,OU=Contacts,DC=contoso,DC=com", ["SMTP:frank@fabrikam.com"], "frank@fabrikam.com",
                    None)


def plan(user, **params):
    return plan_user(user, UserRequest.from_params({"identity": user.user_principal_name} | params))


def holdings(user):
    return Holdings.of(user.distinguished_name, user.proxy_addresses, user.mail, user.user_principal_name)


def test_only_values_the_user_does_not_hold_yet_are_claimed():
    promoted = plan(ALICE, primary_smtp="alice@contoso.com")  # a secondary of hers, and mail follows it
    assert claimed_values(promoted) == []
    added = plan(ALICE, secondary_smtp={"add": ["Sales@Contoso.com", "alice.old@contoso.com"]})
    assert claimed_values(added) == [("proxyAddresses", "smtp:Sales@Contoso.com")]
    renamed = plan(ALICE, user_principal_name="alice.smith@contoso.com", primary_smtp="a.smith@contoso.com")
    assert claimed_values(renamed) == [("proxyAddresses", "SMTP:a.smith@contoso.com"),
                                       ("userPrincipalName", "alice.smith@contoso.com")]


def test_an_address_a_group_or_a_contact_holds_is_found_whatever_its_case():
    plans = [plan(ALICE, secondary_smtp={"add": ["TEAM@contoso.com"]}),
             plan(BOB, primary_smtp="Frank@Fabrikam.com")]
    found = held_values(plans, [SALES, FRANK, holdings(ALICE), holdings(BOB)])
    assert [(held.user, held.value, held.holders, held.upn_taken) for held in found] == [
        (ALICE.distinguished_name, "TEAM@contoso.com", (SALES.distinguished_name,), False),
        (BOB.distinguished_name, "Frank@Fabrikam.com", (FRANK.distinguished_name,), False),
    ]
    assert "rule book §4" in found[0].message and SALES.distinguished_name in found[0].message


def test_an_address_another_users_mail_or_upn_holds_conflicts():
    found = held_values([plan(ALICE, secondary_smtp={"add": ["bob@contoso.com"]})], [holdings(BOB)])
    assert [held.holders for held in found] == [(BOB.distinguished_name,)]


def test_a_upn_another_object_holds_as_upn_is_marked_as_never_allowed():
    [held] = held_values([plan(ALICE, user_principal_name="bob@contoso.com")], [holdings(BOB)])
    assert held.upn_taken and "user_principal_name 'bob@contoso.com' is already held by CN=bob" in held.message
    [held] = held_values([plan(ALICE, user_principal_name="team@contoso.com")], [SALES])
    assert not held.upn_taken  # the group holds it as an address: a duplicate the option may allow


def test_two_users_of_one_task_claiming_one_address_conflict():
    plans = [plan(ALICE, secondary_smtp={"add": ["shared@contoso.com"]}),
             plan(BOB, secondary_smtp={"add": ["shared@contoso.com"]})]
    found = held_values(plans, [])
    assert [(held.user, held.holders) for held in found] == [
        (ALICE.distinguished_name, (BOB.distinguished_name,)),
        (BOB.distinguished_name, (ALICE.distinguished_name,)),
    ]


def test_an_address_moved_between_two_users_of_one_task_is_no_conflict():
    plans = [plan(BOB, secondary_smtp={"remove": ["robert@contoso.com"]}),
             plan(ALICE, secondary_smtp={"add": ["robert@contoso.com"]})]
    assert held_values(plans, [holdings(BOB)]) == []


def test_the_user_itself_is_never_a_holder():
    assert held_values([plan(ALICE, primary_smtp="new@contoso.com")], [holdings(ALICE)]) == []
