"""The predictor: one test (or parametrized group) per rule of the rule book, named after its section."""

import re
import uuid

import pytest

from ansible_collections.hybrid.identity.plugins.module_utils.common._anchor import immutable_id
from ansible_collections.hybrid.identity.plugins.module_utils.matching._matching import predict
from ansible_collections.hybrid.identity.plugins.module_utils.matching._matching_index import CloudIndex
from ansible_collections.hybrid.identity.plugins.module_utils.matching._matching_model import (
    ANCHOR_OBJECT_GUID,
    CloudObject,
    CloudUser,
    MatchingInputError,
    OnPremUser,
    Tenant,
)
from ansible_collections.hybrid.identity.plugins.module_utils.matching._matching_result import SEVERITIES, summarize

INITIAL = "contoso.onmicrosoft.com"
GUID_NAMESPACE = uuid.UUID("6f1c2a4e-0b7d-4f51-9a39-1c5e2d7b8a90")


def guid_of(sam):
    return str(uuid.uuid5(GUID_NAMESPACE, sam))


def anchor_of(sam):
    """The ImmutableId of the objectGUID `onprem(sam)` gets."""
    return immutable_id(guid_of(sam))


def onprem(sam, *proxy_addresses, upn=None, mail=None, **attributes):
    """An on-prem user as the AD reader returns it (AD attribute names)."""
    return {
        "distinguishedName": f"CN={sam},OU=Staff,DC=contoso,DC=com",
        "sAMAccountName": sam,
        "userPrincipalName": upn if upn is not None else f"{sam}@contoso.com",
        "mail": mail,
        "proxyAddresses": list(proxy_addresses),
        "objectGUID": guid_of(sam),
        **attributes,
    }


def cloud(upn, *proxy_addresses, object_id=None, immutable_id=None, synced=None, roles=(), **attributes):
    """A cloud user as Graph returns it with $select, plus admin_roles as cloud_user_lookup adds them."""
    primary = next((value[5:] for value in proxy_addresses if value.startswith("SMTP:")), None)
    return {
        "id": object_id or f"id-{upn}",
        "userPrincipalName": upn,
        "mail": primary,
        "proxyAddresses": list(proxy_addresses),
        "onPremisesImmutableId": immutable_id,
        "onPremisesSyncEnabled": synced,
        "admin_roles": list(roles),
        **attributes,
    }


# Graph assignedPlan of Exchange Online (Plan 2): what makes a user an Exchange user (KB 3190357)
EXCHANGE_PLAN = {"assignedDateTime": "2024-01-01T00:00:00Z", "capabilityStatus": "Enabled", "service": "exchange",
                 "servicePlanId": "efb87545-963c-4e0d-99df-69c6916d9eb0"}


def licensed(upn, *proxy_addresses, **attributes):
    """A cloud user with an Exchange licence (assignedPlans read from Graph)."""
    return cloud(upn, *proxy_addresses, assignedPlans=[EXCHANGE_PLAN], **attributes)


def tenant(**features):
    return Tenant.from_dict({"initial_domain": INITIAL, "verified_domains": ["contoso.com", "fabrikam.com"],
                             "features": features})


def run(onprem_users, cloud_users=(), cloud_objects=(), features=None, **options):
    index = CloudIndex.build(cloud_users, cloud_objects)
    return predict(onprem_users, index, tenant(**(features or {})), **options)


def only(user, *cloud_users, cloud_objects=(), features=None, **options):
    [result] = run([user], cloud_users, cloud_objects, features, **options)
    return result


def codes(result):
    return sorted(result.codes())


def finding(result, code):
    [found] = [f for f in result.findings if f.code == code]
    return found


def group(mail, *proxy_addresses, name="Sales Team"):
    return {"id": f"group-{mail}", "displayName": name, "mail": mail, "proxyAddresses": list(proxy_addresses),
            "@odata.type": "#microsoft.graph.group"}


def contact(mail, name="Partner Frank"):
    return {"id": f"contact-{mail}", "displayName": name, "mail": mail, "proxyAddresses": [f"SMTP:{mail}"],
            "kind": "contact"}


# --- §3.2 and §9.1: soft match on SMTP ------------------------------------------------------


def test_s3_2_clean_smtp_match_changes_nothing_visible():
    user = onprem("alice", "SMTP:alice@contoso.com", "smtp:a.smith@contoso.com")
    candidate = cloud("alice@contoso.com", "SMTP:alice@contoso.com", "smtp:a.smith@contoso.com",
                      "smtp:alice@contoso.onmicrosoft.com")
    result = only(user, candidate)
    assert result.outcome == "soft_match_smtp"
    assert result.findings == ()
    assert result.cloud == {"id": "id-alice@contoso.com", "user_principal_name": "alice@contoso.com",
                            "primary_smtp": "alice@contoso.com", "on_premises_immutable_id": None,
                            "on_premises_sync_enabled": None}
    assert result.predicted == {
        "primary_smtp": "alice@contoso.com",
        "user_principal_name": "alice@contoso.com",
        "proxy_addresses": ["SMTP:alice@contoso.com", "smtp:a.smith@contoso.com", "smtp:alice@contoso.onmicrosoft.com"],
        "quarantined": [],
        "mailbox_user": True,
        "mailbox_user_from": "proxyAddresses",
    }


def test_s9_1_smtp_candidate_holds_the_address_as_a_secondary():
    user = onprem("bob", "SMTP:bob@contoso.com", upn="bob.jones@contoso.com")
    candidate = cloud("bob.jones@contoso.com", "SMTP:bob.jones@contoso.com", "smtp:bob@contoso.com")
    result = only(user, candidate)
    assert result.outcome == "soft_match_smtp"
    assert result.cloud["id"] == "id-bob.jones@contoso.com"


def test_s5_dirsync_primary_change_example():
    user = onprem("user", "SMTP:user@contoso.com", upn="user.lastname@contoso.com")
    candidate = cloud("user.lastname@contoso.com", "SMTP:user.lastname@contoso.com", "smtp:user@contoso.com")
    result = only(user, candidate)
    assert result.outcome == "soft_match_smtp"
    change = finding(result, "primary_smtp_will_change")
    assert change.severity == "warning"
    assert change.attribute == "proxyAddresses"
    assert change.value == "user.lastname@contoso.com -> user@contoso.com"
    assert "Set the on-prem primary to user.lastname@contoso.com, or accept the change" in change.message
    assert result.predicted["primary_smtp"] == "user@contoso.com"
    # rule book §2: a mailbox user gets its UPN back as a secondary, so the old primary is not lost
    assert "smtp:user.lastname@contoso.com" in result.predicted["proxy_addresses"]
    assert "cloud_addresses_will_be_dropped" not in codes(result)


def test_s5_old_primary_is_dropped_when_nothing_adds_it_back():
    user = onprem("user", "SMTP:user@contoso.com", upn="user@contoso.com")
    candidate = cloud("user@contoso.com", "SMTP:user.lastname@contoso.com", "smtp:user@contoso.com")
    result = only(user, candidate)
    assert finding(result, "primary_smtp_will_change").value == "user.lastname@contoso.com -> user@contoso.com"
    assert finding(result, "cloud_addresses_will_be_dropped").values == ("user.lastname@contoso.com",)


def test_s5_cloud_aliases_are_dropped_but_the_moera_is_kept():
    user = onprem("carol", "SMTP:carol@contoso.com")
    candidate = cloud("carol@contoso.com", "SMTP:carol@contoso.com", "smtp:sales.desk@contoso.com",
                      "smtp:c.white@fabrikam.com", "smtp:carol@contoso.onmicrosoft.com")
    result = only(user, candidate)
    assert result.outcome == "soft_match_smtp"
    dropped = finding(result, "cloud_addresses_will_be_dropped")
    assert dropped.values == ("sales.desk@contoso.com", "c.white@fabrikam.com")
    assert dropped.value == "sales.desk@contoso.com, c.white@fabrikam.com"
    assert "smtp:carol@contoso.onmicrosoft.com" in result.predicted["proxy_addresses"]
    assert "primary_smtp_will_change" not in codes(result)


# --- §3.3: soft match on UPN ----------------------------------------------------------------


def test_s3_3_upn_match_when_no_address_matches():
    user = onprem("dave", upn="dave@contoso.com")
    candidate = cloud("dave@contoso.com")
    result = only(user, candidate)
    assert result.outcome == "soft_match_upn"
    assert result.cloud["id"] == "id-dave@contoso.com"
    assert result.findings == ()


def test_s3_3_upn_match_switched_off_is_a_conflict_on_the_upn():
    user = onprem("dave", upn="dave@contoso.com")
    result = only(user, cloud("dave@contoso.com"), features={"softMatchOnUpnEnabled": False})
    assert result.outcome == "conflict"
    assert result.cloud is None
    duplicate = finding(result, "duplicate_upn")
    assert duplicate.severity == "error"
    assert duplicate.value == "dave@contoso.com"
    assert "dave<4 digits>@contoso.onmicrosoft.com" in duplicate.message
    assert "id-dave@contoso.com" in duplicate.message
    assert result.predicted["user_principal_name"] is None
    assert result.predicted["quarantined"] == [{"property": "UserPrincipalName", "value": "dave@contoso.com"}]


def test_s3_smtp_match_wins_over_a_upn_match_and_the_upn_then_collides():
    user = onprem("erin", "SMTP:erin@contoso.com", upn="erin.b@contoso.com")
    by_smtp = cloud("erin@contoso.com", "SMTP:erin@contoso.com")
    by_upn = cloud("erin.b@contoso.com", "SMTP:erin.b@contoso.com")
    result = only(user, by_smtp, by_upn)
    assert result.outcome == "soft_match_smtp"
    assert result.cloud["id"] == "id-erin@contoso.com"
    assert "id-erin.b@contoso.com" in finding(result, "duplicate_upn").message
    assert "upn_will_change" not in codes(result)


def test_s9_1_a_proxy_address_holder_beats_a_mail_only_holder():
    user = onprem("olga", "SMTP:olga@contoso.com", upn="olga.k@contoso.com")
    mail_only = cloud("o.old@contoso.com", mail="olga@contoso.com")
    holder = cloud("olga.k2@contoso.com", "SMTP:olga.k2@contoso.com", "smtp:olga@contoso.com")
    result = only(user, mail_only, holder)
    assert result.outcome == "soft_match_smtp"
    assert result.cloud["id"] == "id-olga.k2@contoso.com"


def test_s9_1_two_cloud_users_holding_the_primary_make_the_match_unpredictable():
    user = onprem("olga", "SMTP:olga@contoso.com")
    result = only(user, cloud("a@contoso.com", "SMTP:a@contoso.com", "smtp:olga@contoso.com"),
                  cloud("b@contoso.com", "SMTP:b@contoso.com", "smtp:olga@contoso.com"))
    assert result.outcome == "blocked"
    assert codes(result) == ["ambiguous_candidate"]


# --- §3: refusals ---------------------------------------------------------------------------


def test_s3_soft_match_refused_for_admin_role():
    user = onprem("frank", "SMTP:frank@contoso.com")
    admin = cloud("frank@contoso.com", "SMTP:frank@contoso.com", roles=["Global Administrator"])
    result = only(user, admin)
    assert result.outcome == "blocked"
    assert result.cloud["id"] == "id-frank@contoso.com"
    refusal = finding(result, "admin_role")
    assert refusal.value == "Global Administrator"
    assert "frank<4 digits>@contoso.onmicrosoft.com" in refusal.message
    # §9.7: the duplicate the sync creates, its shared values quarantined; unlicensed, it gets no MOERA (§9.6)
    assert codes(result) == ["admin_role"]
    assert result.predicted == {
        "primary_smtp": None,
        "user_principal_name": None,
        "proxy_addresses": [],
        "quarantined": [{"property": "UserPrincipalName", "value": "frank@contoso.com"},
                        {"property": "ProxyAddress", "value": "frank@contoso.com"}],
        "mailbox_user": False,
        "mailbox_user_from": "new_user",
    }


def test_s6_tenant_blocks_soft_match():
    user = onprem("gina", "SMTP:gina@contoso.com")
    result = only(user, cloud("gina@contoso.com", "SMTP:gina@contoso.com"),
                  features={"blockSoftMatchEnabled": True})
    assert result.outcome == "blocked"
    assert codes(result) == ["soft_match_blocked"]
    assert anchor_of("gina") in finding(result, "soft_match_blocked").message


def test_s6_tenant_blocks_soft_match_on_upn_too():
    result = only(onprem("gina"), cloud("gina@contoso.com"), features={"blockSoftMatchEnabled": True})
    assert result.outcome == "blocked"
    assert "by UPN" in finding(result, "soft_match_blocked").message


def test_s3_soft_match_refused_for_immutable_id_mismatch():
    other_anchor = immutable_id("0b5d2a39-49a5-4c61-8f73-6e3c1d0a9b27")
    user = onprem("hank", "SMTP:hank@contoso.com")
    result = only(user, cloud("hank@contoso.com", "SMTP:hank@contoso.com", immutable_id=other_anchor))
    assert result.outcome == "blocked"
    mismatch = finding(result, "immutable_id_mismatch")
    assert mismatch.value == other_anchor
    assert f"Write {other_anchor} into this user's mS-DS-ConsistencyGuid" in mismatch.message
    assert "clear onPremisesImmutableId of the cloud user" in mismatch.message


def test_s3_soft_match_refused_when_the_candidate_syncs_from_another_object():
    other_anchor = immutable_id("0b5d2a39-49a5-4c61-8f73-6e3c1d0a9b27")
    user = onprem("hank", "SMTP:hank@contoso.com")
    result = only(user, cloud("hank@contoso.com", "SMTP:hank@contoso.com", immutable_id=other_anchor, synced=True))
    assert result.outcome == "blocked"
    assert "already synchronized from another on-prem object" in finding(result, "immutable_id_mismatch").message


def test_s3_all_refusals_are_reported_together():
    user = onprem("ivy", "SMTP:ivy@contoso.com")
    candidate = cloud("ivy@contoso.com", "SMTP:ivy@contoso.com", immutable_id=anchor_of("someone-else"),
                      roles=["User Administrator"])
    result = only(user, candidate, features={"blockSoftMatchEnabled": True})
    assert result.outcome == "blocked"
    assert codes(result) == ["admin_role", "immutable_id_mismatch", "soft_match_blocked"]


def test_s3_a_refused_smtp_candidate_does_not_fall_back_to_upn():
    user = onprem("ivy", "SMTP:ivy@contoso.com", upn="ivy.b@contoso.com")
    result = only(user, cloud("ivy@contoso.com", "SMTP:ivy@contoso.com", roles=["Global Administrator"]),
                  cloud("ivy.b@contoso.com"))
    assert result.outcome == "blocked"
    assert result.cloud["id"] == "id-ivy@contoso.com"


# --- §3.1: hard match -----------------------------------------------------------------------


def test_s3_1_hard_match_on_a_cloud_only_user():
    user = onprem("jack", "SMTP:jack@contoso.com")
    candidate = cloud("jack.old@contoso.com", "SMTP:jack.old@contoso.com", immutable_id=anchor_of("jack"))
    result = only(user, candidate)
    assert result.outcome == "hard_match"
    assert result.cloud["on_premises_immutable_id"] == anchor_of("jack")
    assert codes(result) == ["cloud_addresses_will_be_dropped", "primary_smtp_will_change", "upn_will_change"]


def test_s3_hard_match_takeover_blocked():
    user = onprem("jack", "SMTP:jack@contoso.com")
    candidate = cloud("jack@contoso.com", "SMTP:jack@contoso.com", immutable_id=anchor_of("jack"))
    result = only(user, candidate, features={"blockCloudObjectTakeoverThroughHardMatchEnabled": True})
    assert result.outcome == "blocked"
    assert codes(result) == ["hard_match_takeover_blocked"]
    assert finding(result, "hard_match_takeover_blocked").value == anchor_of("jack")


def test_s9_3_admin_role_blocks_hard_match_too():
    user = onprem("jack", "SMTP:jack@contoso.com")
    candidate = cloud("jack@contoso.com", "SMTP:jack@contoso.com", immutable_id=anchor_of("jack"),
                      roles=["Exchange Administrator"])
    result = only(user, candidate)
    assert result.outcome == "blocked"
    assert codes(result) == ["admin_role"]


def test_s3_already_synced():
    user = onprem("kate", "SMTP:kate@contoso.com")
    candidate = cloud("kate@contoso.com", "SMTP:kate@contoso.com", immutable_id=anchor_of("kate"), synced=True)
    result = only(user, candidate)
    assert result.outcome == "already_synced"
    assert result.findings == ()
    assert result.cloud["on_premises_sync_enabled"] is True


def test_s3_already_synced_user_with_a_pending_change_is_predicted():
    user = onprem("kate", "SMTP:kate.new@contoso.com", "smtp:kate@contoso.com")
    candidate = cloud("kate@contoso.com", "SMTP:kate@contoso.com", immutable_id=anchor_of("kate"), synced=True,
                      roles=["Global Administrator"])
    result = only(user, candidate)
    assert result.outcome == "already_synced"
    assert codes(result) == ["primary_smtp_will_change"]


# --- §3.4: new users ------------------------------------------------------------------------


def test_s3_4_new_user():
    user = onprem("liam", "SMTP:liam@contoso.com", "smtp:l.ross@contoso.com", mailNickname="liam.r")
    result = only(user, cloud("someone@contoso.com", "SMTP:someone@contoso.com"))
    assert result.outcome == "new_user"
    assert result.cloud is None
    assert result.findings == ()
    assert result.predicted == {
        "primary_smtp": "liam@contoso.com",
        "user_principal_name": "liam@contoso.com",
        "proxy_addresses": ["SMTP:liam@contoso.com", "smtp:l.ross@contoso.com"],
        "quarantined": [],
        "mailbox_user": False,
        "mailbox_user_from": "new_user",
    }


# --- §4: values other cloud objects hold ----------------------------------------------------


def test_s4_address_held_by_another_cloud_user_makes_a_new_user_a_conflict():
    user = onprem("mia", "SMTP:mia@contoso.com", "smtp:support@contoso.com")
    holder = cloud("helpdesk@contoso.com", "SMTP:helpdesk@contoso.com", "smtp:support@contoso.com")
    result = only(user, holder)
    assert result.outcome == "conflict"
    duplicate = finding(result, "duplicate_proxy_address")
    assert duplicate.value == "support@contoso.com"
    assert "cloud user helpdesk@contoso.com (id-helpdesk@contoso.com)" in duplicate.message
    assert "smtp:support@contoso.com" not in result.predicted["proxy_addresses"]
    assert result.predicted["quarantined"] == [{"property": "ProxyAddress", "value": "support@contoso.com"}]


def test_s4_address_held_by_a_third_cloud_user_is_dropped_from_a_join():
    user = onprem("nina", "SMTP:nina@contoso.com", "smtp:support@contoso.com")
    candidate = cloud("nina@contoso.com", "SMTP:nina@contoso.com")
    holder = cloud("helpdesk@contoso.com", "SMTP:helpdesk@contoso.com", "smtp:support@contoso.com")
    result = only(user, candidate, holder)
    assert result.outcome == "soft_match_smtp"
    assert result.cloud["id"] == "id-nina@contoso.com"
    assert codes(result) == ["duplicate_proxy_address"]
    assert "smtp:support@contoso.com" not in result.predicted["proxy_addresses"]


def test_s9_1_primary_held_by_a_mail_enabled_group_is_an_object_type_mismatch():
    user = onprem("oscar", "SMTP:sales@contoso.com")
    result = only(user, cloud_objects=[group("sales@contoso.com", "SMTP:sales@contoso.com")])
    assert result.outcome == "blocked"
    assert result.cloud is None
    mismatch = finding(result, "object_type_mismatch")
    assert mismatch.value == "sales@contoso.com"
    assert "mail-enabled group Sales Team" in mismatch.message


def test_s4_secondary_held_by_a_contact_is_a_conflict():
    user = onprem("oscar", "SMTP:oscar@contoso.com", "smtp:frank@fabrikam.com")
    result = only(user, cloud_objects=[contact("frank@fabrikam.com")])
    assert result.outcome == "conflict"
    assert "contact Partner Frank" in finding(result, "duplicate_proxy_address").message


def test_s9_8_quarantine_switched_off_makes_the_export_of_a_new_user_fail():
    user = onprem("mia", "SMTP:mia@contoso.com", "smtp:support@contoso.com")
    holder = cloud("helpdesk@contoso.com", "SMTP:helpdesk@contoso.com", "smtp:support@contoso.com")
    result = only(user, holder, features={"quarantineUponProxyAddressesConflictEnabled": False})
    assert result.outcome == "conflict"
    assert "AttributeValueMustBeUnique" in finding(result, "duplicate_proxy_address").message
    assert result.predicted is None


def test_s9_8_quarantine_switched_off_refuses_a_join_holding_a_conflicting_address():
    user = onprem("kim", "SMTP:kim@contoso.com", "smtp:desk@contoso.com", upn="kim.k@contoso.com")
    candidate = cloud("kim@contoso.com", "SMTP:kim@contoso.com", "smtp:kim.alias@contoso.com")
    holder = cloud("leo@contoso.com", "SMTP:leo@contoso.com", "smtp:desk@contoso.com")
    result = only(user, candidate, holder, features={"quarantineUponProxyAddressesConflictEnabled": False})
    assert result.outcome == "blocked"
    assert result.cloud["id"] == "id-kim@contoso.com"
    assert codes(result) == ["duplicate_proxy_address"]  # nothing changes: no UPN change, no alias dropped
    assert "fails with AttributeValueMustBeUnique" in finding(result, "duplicate_proxy_address").message
    assert result.predicted is None
    # with the switch on (its default) the same join goes ahead and the address is quarantined
    quarantined = only(user, candidate, holder)
    assert quarantined.outcome == "soft_match_smtp"
    assert quarantined.predicted["quarantined"] == [{"property": "ProxyAddress", "value": "desk@contoso.com"}]


def test_s9_8_upn_quarantine_switched_off_refuses_a_join_whose_upn_is_taken():
    user = onprem("erin", "SMTP:erin@contoso.com", upn="erin.b@contoso.com")
    result = only(user, cloud("erin@contoso.com", "SMTP:erin@contoso.com"),
                  cloud("erin.b@contoso.com", "SMTP:erin.b@contoso.com"),
                  features={"quarantineUponUpnConflictEnabled": False})
    assert result.outcome == "blocked"
    assert "fails with AttributeValueMustBeUnique" in finding(result, "duplicate_upn").message
    assert result.predicted is None


def test_s9_8_quarantine_switched_off_fails_the_second_onprem_claimant():
    anna = onprem("anna", "SMTP:anna@contoso.com", "smtp:office@contoso.com")
    ben = onprem("ben", "SMTP:ben@contoso.com", "smtp:office@contoso.com")
    anna_result, ben_result = run([anna, ben], [cloud("anna@contoso.com", "SMTP:anna@contoso.com"),
                                                cloud("ben@contoso.com", "SMTP:ben@contoso.com")],
                                  features={"quarantineUponProxyAddressesConflictEnabled": False})
    assert anna_result.outcome == "soft_match_smtp"
    assert "smtp:office@contoso.com" in anna_result.predicted["proxy_addresses"]
    assert ben_result.outcome == "blocked"
    assert ben_result.predicted is None
    assert "export fails with AttributeValueMustBeUnique" in finding(ben_result, "duplicate_in_directory").message


def test_s4_the_upn_a_mailbox_user_gets_as_an_address_must_be_unique():
    user = onprem("alice", "SMTP:alice@contoso.com", upn="alice.smith@contoso.com")
    mailbox = cloud("alice@contoso.com", "SMTP:alice@contoso.com")
    holder = cloud("as@contoso.com", "SMTP:as@contoso.com", "smtp:alice.smith@contoso.com")
    result = only(user, mailbox, holder)
    assert result.outcome == "soft_match_smtp"
    duplicate = finding(result, "duplicate_proxy_address")
    assert duplicate.value == "alice.smith@contoso.com"
    assert duplicate.message.startswith("The UPN alice.smith@contoso.com, which a mailbox user gets as a secondary")
    assert result.predicted["user_principal_name"] == "alice.smith@contoso.com"
    assert result.predicted["proxy_addresses"] == ["SMTP:alice@contoso.com", "smtp:alice@contoso.onmicrosoft.com"]
    assert result.predicted["quarantined"] == [{"property": "ProxyAddress", "value": "alice.smith@contoso.com"}]
    # a new user gets no UPN address (§9.6), so nothing collides
    assert only(onprem("alice", "SMTP:alice.new@contoso.com", upn="alice.smith@contoso.com"), holder).findings == ()


def test_s4_a_quarantined_upn_is_not_added_as_an_address():
    user = onprem("erin", "SMTP:erin@contoso.com", upn="erin.b@contoso.com")
    result = only(user, cloud("erin@contoso.com", "SMTP:erin@contoso.com"),
                  cloud("erin.b@contoso.com", "SMTP:erin.b@contoso.com"))
    assert result.predicted["user_principal_name"] is None
    assert result.predicted["proxy_addresses"] == ["SMTP:erin@contoso.com", "smtp:erin@contoso.onmicrosoft.com"]
    assert result.predicted["quarantined"] == [{"property": "UserPrincipalName", "value": "erin.b@contoso.com"}]


# --- §4: values claimed twice in the on-prem scope ------------------------------------------


def test_s4_two_onprem_users_with_one_address():
    anna = onprem("anna", "SMTP:anna@contoso.com", "smtp:office@contoso.com")
    ben = onprem("ben", "SMTP:ben@contoso.com", "smtp:Office@contoso.com")
    ben_result, anna_result = run([ben, anna])
    assert anna_result.outcome == "new_user"
    assert ben_result.outcome == "conflict"
    assert finding(anna_result, "duplicate_in_directory").value == "office@contoso.com"
    assert "CN=ben,OU=Staff" in finding(anna_result, "duplicate_in_directory").message
    assert finding(ben_result, "duplicate_in_directory").value == "Office@contoso.com"
    assert "CN=anna,OU=Staff" in finding(ben_result, "duplicate_in_directory").message
    assert "smtp:office@contoso.com" in anna_result.predicted["proxy_addresses"]
    assert "smtp:Office@contoso.com" not in ben_result.predicted["proxy_addresses"]
    assert ben_result.predicted["quarantined"] == [{"property": "ProxyAddress", "value": "Office@contoso.com"}]


def test_s4_the_user_whose_cloud_user_holds_the_value_keeps_it():
    anna = onprem("anna", "SMTP:anna@contoso.com", "smtp:office@contoso.com")
    ben = onprem("ben", "SMTP:ben@contoso.com", "smtp:office@contoso.com")
    ben_cloud = cloud("ben@contoso.com", "SMTP:ben@contoso.com", "smtp:office@contoso.com")
    anna_result, ben_result = run([anna, ben], [ben_cloud])
    assert ben_result.outcome == "soft_match_smtp"
    assert "duplicate_in_directory" in codes(ben_result)
    assert anna_result.outcome == "conflict"
    assert "duplicate_in_directory" in codes(anna_result)


def test_s4_a_joined_user_keeps_its_join_when_its_copy_is_quarantined():
    anna = onprem("anna", "SMTP:anna@contoso.com", "smtp:office@contoso.com")
    ben = onprem("ben", "SMTP:ben@contoso.com", "smtp:office@contoso.com")
    anna_result, ben_result = run([anna, ben], [cloud("anna@contoso.com", "SMTP:anna@contoso.com"),
                                                cloud("ben@contoso.com", "SMTP:ben@contoso.com")])
    assert (anna_result.outcome, ben_result.outcome) == ("soft_match_smtp", "soft_match_smtp")
    assert "smtp:office@contoso.com" in anna_result.predicted["proxy_addresses"]
    assert "smtp:office@contoso.com" not in ben_result.predicted["proxy_addresses"]


def test_s4_two_onprem_users_with_one_upn():
    anna = onprem("anna", upn="shared@contoso.com")
    ben = onprem("ben", upn="SHARED@contoso.com")
    anna_result, ben_result = run([anna, ben])
    assert anna_result.outcome == "new_user"
    assert ben_result.outcome == "conflict"
    assert finding(ben_result, "duplicate_in_directory").attribute == "userPrincipalName"
    assert ben_result.predicted["user_principal_name"] is None


def test_s4_two_onprem_users_joining_one_cloud_user():
    anna = onprem("anna", "SMTP:team@contoso.com")
    ben = onprem("ben", "SMTP:team@contoso.com")
    anna_result, ben_result = run([anna, ben], [cloud("team@contoso.com", "SMTP:team@contoso.com")])
    assert anna_result.outcome == "soft_match_smtp"
    assert ben_result.outcome == "conflict"
    assert ben_result.cloud is None
    assert "CN=anna,OU=Staff" in finding(ben_result, "duplicate_candidate").message
    assert {"duplicate_candidate", "duplicate_proxy_address", "duplicate_in_directory"} <= set(codes(ben_result))


def test_s4_two_onprem_users_with_one_source_anchor():
    copied = "9a7ed32a-0ab4-4d46-aa48-2d7d273334f6"
    anna = onprem("anna", "SMTP:anna@contoso.com", **{"mS-DS-ConsistencyGuid": copied})
    ben = onprem("ben", "SMTP:ben@contoso.com", **{"mS-DS-ConsistencyGuid": copied})
    anna_result, ben_result = run([anna, ben])
    assert anna_result.outcome == "new_user"
    assert ben_result.outcome == "invalid"
    assert finding(ben_result, "duplicate_in_directory").attribute == "mS-DS-ConsistencyGuid"
    assert finding(anna_result, "duplicate_in_directory").value == immutable_id(copied)


# --- §9.2 and §1: invalid objects -----------------------------------------------------------


def test_s9_2_two_primaries_make_the_user_invalid():
    user = onprem("paul", "SMTP:paul@contoso.com", "SMTP:p.smith@contoso.com")
    result = only(user, cloud("paul@contoso.com", "SMTP:paul@contoso.com"))
    assert result.outcome == "invalid"
    assert codes(result) == ["multiple_primary_smtp"]
    assert result.cloud is None
    assert result.onprem["primary_smtp"] is None


def test_s9_2_mail_stands_in_for_a_missing_primary():
    user = onprem("quinn", "smtp:q@contoso.com", mail="quinn@contoso.com", upn="q.x@contoso.com")
    result = only(user, cloud("quinn@contoso.com", "SMTP:quinn@contoso.com"))
    assert result.outcome == "soft_match_smtp"
    assert result.onprem["primary_smtp"] == "quinn@contoso.com"


def test_s1_invalid_upn_makes_the_user_invalid():
    result = only(onprem("rita", "SMTP:rita@contoso.com", upn="rita maria@contoso.com"))
    assert result.outcome == "invalid"
    assert codes(result) == ["invalid_upn"]
    assert finding(result, "invalid_upn").value == "rita maria@contoso.com"


def test_s1_missing_upn_makes_the_user_invalid():
    result = only(onprem("rita", "SMTP:rita@contoso.com", upn=""))
    assert result.outcome == "invalid"
    assert codes(result) == ["invalid_upn"]


def test_s9_10_an_unroutable_primary_is_dropped_and_the_moera_takes_its_place():
    result = only(onprem("sam", "SMTP:sam@contoso.local", "smtp:sam.s@contoso.com"), licensed("sam@contoso.com"))
    assert result.outcome == "soft_match_upn"
    assert codes(result) == ["invalid_primary_smtp"]
    assert finding(result, "invalid_primary_smtp").severity == "warning"
    assert result.onprem["primary_smtp"] is None
    # the prefix of the dropped primary is a valid alias, so it still names the MOERA (§2 order)
    assert result.predicted["proxy_addresses"] == ["SMTP:sam@contoso.onmicrosoft.com", "smtp:sam.s@contoso.com",
                                                   "smtp:sam@contoso.com"]


def test_s9_10_an_unroutable_primary_of_a_new_user_gives_way_to_the_first_value_kept():
    result = only(onprem("sam", "SMTP:sam@contoso.local", "smtp:sam.s@contoso.com"))
    assert result.outcome == "new_user"
    assert result.predicted["proxy_addresses"] == ["SMTP:sam.s@contoso.com"]


def test_s9_10_a_dropped_primary_does_not_soft_match():
    holder = cloud("sam@contoso.com", "SMTP:sam.old@contoso.com", "smtp:sam@contoso.local")
    result = only(onprem("sam", "SMTP:sam@contoso.local", upn="sam.x@contoso.com"), holder)
    assert result.outcome == "new_user"
    assert result.cloud is None


def test_s9_10_a_non_ascii_primary_lends_no_alias_to_the_moera():
    user = onprem("jurgen", "SMTP:jürgen@contoso.com", upn="jurgen@contoso.com")
    result = only(user, licensed("jurgen@contoso.com"))
    assert result.outcome == "soft_match_upn"
    assert codes(result) == ["invalid_primary_smtp"]
    # mailNickname order: the primary's prefix is not a valid alias, there is no mail, so the UPN prefix
    assert result.predicted["proxy_addresses"] == ["SMTP:jurgen@contoso.onmicrosoft.com", "smtp:jurgen@contoso.com"]


def test_s9_10_invalid_mail_standing_in_for_the_primary_is_dropped():
    result = only(onprem("sam", mail="sam(at)contoso.com"), licensed("sam@contoso.com"))
    assert result.outcome == "soft_match_upn"
    assert {(f.code, f.attribute) for f in result.findings} == {("invalid_primary_smtp", "mail")}
    assert result.predicted["primary_smtp"] == "sam@contoso.onmicrosoft.com"


def test_s1_too_many_addresses_make_the_user_invalid():
    addresses = ["SMTP:sam@contoso.com"] + [f"smtp:sam{n}@contoso.com" for n in range(300)]
    result = only(onprem("sam", *addresses))
    assert result.outcome == "invalid"
    assert codes(result) == ["too_many_addresses"]


def test_s2_a_malformed_secondary_is_a_warning_and_left_out():
    user = onprem("tom", "SMTP:tom@contoso.com", "smtp:tom smith@contoso.com", "X500:/o=Contoso/cn=tom")
    result = only(user)
    assert result.outcome == "new_user"
    warning = finding(result, "invalid_proxy_address")
    assert warning.severity == "warning"
    assert warning.value == "smtp:tom smith@contoso.com"
    assert result.predicted["proxy_addresses"] == ["SMTP:tom@contoso.com"]


def test_s3_1_an_unreadable_source_anchor_makes_the_user_invalid():
    user = onprem("uma", "SMTP:uma@contoso.com", objectGUID=None)
    result = only(user)
    assert result.outcome == "invalid"
    assert codes(result) == ["invalid_source_anchor"]
    assert result.onprem["source_anchor"] is None


# --- §2: the UPN the cloud user gets --------------------------------------------------------


def test_s2_unverified_upn_suffix_gets_the_moera_upn():
    user = onprem("erin", upn="erin@contoso.local", mailNickname="erin.w")
    result = only(user)
    assert result.outcome == "new_user"
    unverified = finding(result, "upn_suffix_unverified")
    assert unverified.value == "erin@contoso.local -> erin.w@contoso.onmicrosoft.com"
    assert result.predicted["user_principal_name"] == "erin.w@contoso.onmicrosoft.com"


def test_s2_mail_nickname_falls_back_to_the_primary_smtp_prefix():
    result = only(onprem("erin", "SMTP:erin.walsh@contoso.com", upn="erin@contoso.local"))
    assert result.predicted["user_principal_name"] == "erin.walsh@contoso.onmicrosoft.com"


def test_s2_unverified_upn_suffix_on_a_join_changes_the_cloud_upn():
    user = onprem("erin", "SMTP:erin@contoso.com", upn="erin@contoso.local")
    result = only(user, cloud("erin@contoso.com", "SMTP:erin@contoso.com"))
    assert result.outcome == "soft_match_smtp"
    assert codes(result) == ["upn_suffix_unverified", "upn_will_change"]
    assert finding(result, "upn_will_change").value == "erin@contoso.com -> erin@contoso.onmicrosoft.com"


def test_s2_upn_will_change_on_a_join():
    user = onprem("alice", "SMTP:alice@contoso.com", upn="alice.smith@contoso.com")
    result = only(user, cloud("alice@contoso.com", "SMTP:alice@contoso.com"))
    change = finding(result, "upn_will_change")
    assert change.value == "alice@contoso.com -> alice.smith@contoso.com"
    assert "Set the on-prem UPN to alice@contoso.com" in change.message
    assert result.predicted["user_principal_name"] == "alice.smith@contoso.com"


def test_s6_synchronize_upn_switched_off_keeps_the_cloud_upn():
    user = onprem("alice", "SMTP:alice@contoso.com", upn="alice.smith@contoso.com")
    result = only(user, cloud("alice@contoso.com", "SMTP:alice@contoso.com"),
                  features={"synchronizeUpnForManagedUsersEnabled": False})
    assert codes(result) == ["upn_change_blocked"]
    assert finding(result, "upn_change_blocked").severity == "info"
    assert result.predicted["user_principal_name"] == "alice@contoso.com"


def test_s2_addresses_in_reserved_or_unverified_domains_are_left_out():
    user = onprem("vera", "SMTP:vera@contoso.com", "smtp:vera@contoso.mail.onmicrosoft.com",
                  "smtp:vera@northwind.example.org")
    mailbox = cloud("vera@contoso.com", "SMTP:vera@contoso.com")
    result = only(user, mailbox)
    assert [f.value for f in result.findings if f.code == "address_not_synced"] == [
        "vera@contoso.mail.onmicrosoft.com", "vera@northwind.example.org"]
    assert result.predicted["proxy_addresses"] == ["SMTP:vera@contoso.com", "smtp:vera@contoso.onmicrosoft.com"]


# --- §9.6: the proxy calculation where §2 leaves it open ----------------------------------


def test_s9_6_every_reserved_value_is_left_out_the_initial_domain_too_and_the_moera_comes_back():
    user = onprem("vera", "SMTP:vera@contoso.com", "smtp:vera.x@contoso.onmicrosoft.com",
                  "smtp:vera@contoso.onmicrosoft.com", "smtp:vera@fabrikam.microsoftonline.com")
    result = only(user, licensed("vera@contoso.com"))
    # the on-prem copy of the MOERA changes nothing, so it is not reported
    assert [f.value for f in result.findings if f.code == "address_not_synced"] == [
        "vera.x@contoso.onmicrosoft.com", "vera@fabrikam.microsoftonline.com"]
    assert result.predicted["proxy_addresses"] == ["SMTP:vera@contoso.com", "smtp:vera@contoso.onmicrosoft.com"]
    # without Exchange the MOERA does not come back, so the on-prem copy is lost like the others
    new = only(user)
    assert [f.value for f in new.findings if f.code == "address_not_synced"] == [
        "vera.x@contoso.onmicrosoft.com", "vera@contoso.onmicrosoft.com", "vera@fabrikam.microsoftonline.com"]
    assert new.predicted["proxy_addresses"] == ["SMTP:vera@contoso.com"]


def test_s9_6_a_new_user_keeps_unverified_addresses_and_gets_no_moera_and_no_upn_address():
    # KB 3190357, scenario 2: provisioned without an Exchange licence, only the on-prem values
    user = onprem("walt", "SMTP:walt@contoso.com", "smtp:walt@northwind.example.org", upn="w.smith@contoso.com")
    result = only(user)
    assert result.outcome == "new_user"
    assert result.findings == ()
    assert result.predicted["proxy_addresses"] == ["SMTP:walt@contoso.com", "smtp:walt@northwind.example.org"]
    assert (result.predicted["mailbox_user"], result.predicted["mailbox_user_from"]) == (False, "new_user")


def test_s9_6_a_join_to_a_user_without_a_mailbox_keeps_unverified_addresses_and_adds_no_upn():
    user = onprem("walt", "SMTP:walt.new@contoso.com", "smtp:walt@northwind.example.org", upn="walt@contoso.com")
    result = only(user, cloud("walt@contoso.com"))
    assert result.outcome == "soft_match_upn"
    assert result.predicted["proxy_addresses"] == ["SMTP:walt.new@contoso.com", "smtp:walt@northwind.example.org"]


def test_s9_6_an_exchange_licence_in_assigned_plans_makes_a_mailbox_user_without_a_primary():
    # KB 3190357: the MOERA and the UPN address come with the licence; assignedPlans shows it
    user = onprem("walt", "SMTP:walt.new@contoso.com", "smtp:walt@northwind.example.org", upn="walt@contoso.com")
    result = only(user, licensed("walt@contoso.com"))
    assert result.predicted["proxy_addresses"] == ["SMTP:walt.new@contoso.com", "smtp:walt.new@contoso.onmicrosoft.com",
                                                   "smtp:walt@contoso.com"]
    assert finding(result, "address_not_synced").value == "walt@northwind.example.org"
    assert (result.predicted["mailbox_user"], result.predicted["mailbox_user_from"]) == (True, "assignedPlans")


def test_s9_6_a_suspended_exchange_plan_and_no_primary_is_no_mailbox_user():
    user = onprem("walt", "SMTP:walt.new@contoso.com", upn="walt@contoso.com")
    suspended = cloud("walt@contoso.com", assignedPlans=[EXCHANGE_PLAN | {"capabilityStatus": "Suspended"}])
    result = only(user, suspended)
    assert result.predicted["proxy_addresses"] == ["SMTP:walt.new@contoso.com"]
    assert (result.predicted["mailbox_user"], result.predicted["mailbox_user_from"]) == (False, "assignedPlans")


def test_s9_6_a_mailbox_without_a_licence_is_still_a_mailbox_user():
    # KB 3190357, scenario 1's note: an Exchange Online recipient (a shared mailbox) gets the UPN address too
    user = onprem("desk", "SMTP:desk@contoso.com", upn="desk.upn@contoso.com")
    shared = cloud("desk.upn@contoso.com", "SMTP:desk@contoso.com", assignedPlans=[])
    result = only(user, shared)
    assert "smtp:desk.upn@contoso.com" in result.predicted["proxy_addresses"]
    assert result.predicted["mailbox_user_from"] == "proxyAddresses"


def test_s9_6_a_mailbox_user_gets_the_upn_it_keeps_as_a_secondary():
    user = onprem("alice", "SMTP:alice@contoso.com", upn="alice.smith@contoso.com")
    mailbox = cloud("alice@contoso.com", "SMTP:alice@contoso.com")
    follows = only(user, mailbox)
    assert "smtp:alice.smith@contoso.com" in follows.predicted["proxy_addresses"]
    kept = only(user, mailbox, features={"synchronizeUpnForManagedUsersEnabled": False})
    assert kept.predicted["user_principal_name"] == "alice@contoso.com"
    assert kept.predicted["proxy_addresses"] == ["SMTP:alice@contoso.com", "smtp:alice@contoso.onmicrosoft.com"]


def test_s9_6_a_quarantined_primary_of_a_new_user_is_replaced_by_the_first_value_kept():
    user = onprem("sam", "SMTP:sam@contoso.com", "smtp:sam.o@contoso.com", upn="sam.o@contoso.com")
    result = only(user, cloud("sam@contoso.com", mail="sam@contoso.com"))
    assert result.outcome == "conflict"
    assert result.predicted["primary_smtp"] == "sam.o@contoso.com"
    assert result.predicted["proxy_addresses"] == ["SMTP:sam.o@contoso.com"]


def test_s9_6_a_quarantined_primary_of_a_mailbox_user_is_replaced_by_the_moera():
    user = onprem("sam", "SMTP:sam@contoso.com", "smtp:sam.o@contoso.com", upn="sam.o@contoso.com")
    mailbox = cloud("sam.o@contoso.com", "SMTP:sam.old@contoso.com")
    result = only(user, mailbox, cloud("sam@contoso.com", mail="sam@contoso.com"))
    assert result.outcome == "soft_match_upn"
    assert result.predicted["primary_smtp"] == "sam@contoso.onmicrosoft.com"
    assert result.predicted["proxy_addresses"] == ["SMTP:sam@contoso.onmicrosoft.com", "smtp:sam.o@contoso.com"]


def test_s9_6_a_primary_in_a_reserved_domain_gives_way_to_the_moera():
    mailbox = licensed("tom@contoso.com")
    user = onprem("tom", "SMTP:tom@contoso.onmicrosoft.com", "smtp:tom@contoso.com")
    assert only(user, mailbox).predicted["proxy_addresses"] == ["SMTP:tom@contoso.onmicrosoft.com",
                                                                "smtp:tom@contoso.com"]
    user = onprem("tom", "SMTP:tom.t@fabrikam.onmicrosoft.com", "smtp:tom@contoso.com")
    assert only(user, mailbox).predicted["proxy_addresses"] == ["SMTP:tom.t@contoso.onmicrosoft.com",
                                                                "smtp:tom@contoso.com"]
    # a new user has no MOERA yet: the first value kept becomes the primary
    assert only(user).predicted["proxy_addresses"] == ["SMTP:tom@contoso.com"]


def test_s9_6_only_secondaries_make_the_moera_the_primary():
    result = only(onprem("uma", "smtp:uma@contoso.com", mailNickname="uma", upn="uma.u@contoso.com"),
                  licensed("uma.u@contoso.com"))
    assert result.predicted["primary_smtp"] == "uma@contoso.onmicrosoft.com"
    assert result.predicted["proxy_addresses"] == ["SMTP:uma@contoso.onmicrosoft.com", "smtp:uma@contoso.com",
                                                   "smtp:uma.u@contoso.com"]


def test_s9_6_no_smtp_value_and_no_mail_gives_no_addresses_unless_a_mailbox_is_joined():
    user = onprem("dave", upn="dave@contoso.com")
    assert only(user).predicted["proxy_addresses"] == []
    assert only(user).predicted["primary_smtp"] is None
    joined = only(user, cloud("dave@contoso.com", "SMTP:dave@contoso.com"))
    assert joined.outcome == "soft_match_upn"
    assert joined.predicted["proxy_addresses"] == ["SMTP:dave@contoso.com", "smtp:dave@contoso.onmicrosoft.com"]
    assert joined.findings == ()


def test_s9_7_a_soft_match_blocked_by_the_tenant_creates_a_duplicate():
    user = onprem("grace", "SMTP:grace@contoso.com", "smtp:g@contoso.com")
    result = only(user, cloud("grace@contoso.com", "SMTP:grace@contoso.com"),
                  features={"blockSoftMatchEnabled": True})
    assert result.outcome == "blocked"
    assert codes(result) == ["soft_match_blocked"]
    assert "creates it as a duplicate" in finding(result, "soft_match_blocked").message
    assert result.predicted["user_principal_name"] is None
    assert result.predicted["proxy_addresses"] == ["SMTP:g@contoso.com"]


def test_s9_9_a_moera_upn_another_user_holds_is_quarantined():
    user = onprem("rita", "SMTP:rita@contoso.com", upn="rita@contoso.local", mailNickname="rita")
    result = only(user, cloud("rita@contoso.onmicrosoft.com", "SMTP:rita.c@contoso.com"))
    assert result.outcome == "conflict"
    assert codes(result) == ["duplicate_upn", "upn_suffix_unverified"]
    assert finding(result, "duplicate_upn").value == "rita@contoso.onmicrosoft.com"
    assert result.predicted["user_principal_name"] is None
    assert result.predicted["quarantined"] == [{"property": "UserPrincipalName",
                                                "value": "rita@contoso.onmicrosoft.com"}]


def test_s9_9_a_moera_another_object_holds_gets_digits_and_no_error():
    user = onprem("nora", "SMTP:nora.n@contoso.com", mailNickname="nora", upn="nora.n@contoso.com")
    holder = cloud("nora.old@contoso.com", "SMTP:nora.old@contoso.com", "smtp:nora@contoso.onmicrosoft.com")
    result = only(user, holder, licensed("nora.n@contoso.com"))
    assert result.outcome == "soft_match_upn"
    assert codes(result) == ["moera_in_use"]
    assert finding(result, "moera_in_use").severity == "warning"
    assert finding(result, "moera_in_use").value == "nora@contoso.onmicrosoft.com"
    assert result.predicted["proxy_addresses"] == ["SMTP:nora.n@contoso.com",
                                                   "smtp:nora<4 digits>@contoso.onmicrosoft.com"]
    assert result.predicted["quarantined"] == []


def test_s9_9_two_users_with_one_mail_nickname_the_second_moera_gets_digits():
    # KB 3190357, scenario 6
    first = onprem("user6a", upn="user6a@contoso.com", mail="user6a@contoso.com", mailNickname="user6mnn")
    second = onprem("user6b", upn="user6b@contoso.com", mail="user6b@contoso.com", mailNickname="user6mnn")
    kept, digits = run([first, second], [licensed("user6a@contoso.com"), licensed("user6b@contoso.com")])
    assert (kept.outcome, digits.outcome) == ("soft_match_upn", "soft_match_upn")
    assert codes(kept) == []
    assert codes(digits) == ["moera_in_use"]
    assert kept.predicted["proxy_addresses"] == ["SMTP:user6a@contoso.com", "smtp:user6mnn@contoso.onmicrosoft.com"]
    assert digits.predicted["proxy_addresses"] == ["SMTP:user6b@contoso.com",
                                                   "smtp:user6mnn<4 digits>@contoso.onmicrosoft.com"]


def test_s9_9_two_users_with_one_moera_upn_the_second_is_quarantined():
    first = onprem("rita", upn="rita@contoso.local", mailNickname="rita", mail="rita@contoso.com")
    second = onprem("rita2", upn="rita@fabrikam.local", mailNickname="rita", mail="rita2@contoso.com")
    kept, quarantined = run([first, second])
    assert kept.predicted["user_principal_name"] == "rita@contoso.onmicrosoft.com"
    assert quarantined.outcome == "conflict"
    assert quarantined.predicted["user_principal_name"] is None
    assert codes(quarantined) == ["duplicate_in_directory", "upn_suffix_unverified"]


def test_s9_12_a_soft_deleted_user_with_the_source_anchor_is_restored():
    # "Enable AD recycle bin": the recovered object's sync restores the soft-deleted cloud user
    deleted = cloud("dora@contoso.com", "SMTP:dora@contoso.com", immutable_id=anchor_of("dora"), synced=False,
                    deletedDateTime="2026-11-30T10:00:00Z")
    result = only(onprem("dora", "SMTP:dora@contoso.com"), deleted)
    assert result.outcome == "hard_match"
    assert result.cloud["id"] == "id-dora@contoso.com"
    assert codes(result) == ["deleted_user_restored"]
    assert finding(result, "deleted_user_restored").severity == "warning"
    assert result.predicted["proxy_addresses"] == ["SMTP:dora@contoso.com", "smtp:dora@contoso.onmicrosoft.com"]


def test_s9_12_restoring_a_soft_deleted_user_is_refused_when_takeover_is_blocked():
    # "Troubleshoot errors during synchronization", InvalidHardMatch, its example case
    deleted = cloud("dora@contoso.com", "SMTP:dora@contoso.com", immutable_id=anchor_of("dora"), synced=False,
                    deletedDateTime="2026-11-30T10:00:00Z")
    result = only(onprem("dora", "SMTP:dora@contoso.com"), deleted,
                  features={"blockCloudObjectTakeoverThroughHardMatchEnabled": True})
    assert result.outcome == "blocked"
    assert codes(result) == ["hard_match_takeover_blocked"]
    assert "soft-deleted" in finding(result, "hard_match_takeover_blocked").message
    assert result.predicted is None


def test_s9_12_a_soft_deleted_user_is_no_candidate_and_holds_nothing():
    deleted = cloud("dora@contoso.com", "SMTP:dora@contoso.com", immutable_id=anchor_of("someone"), synced=False,
                    deletedDateTime="2026-11-30T10:00:00Z")
    result = only(onprem("dora", "SMTP:dora@contoso.com"), deleted)
    assert result.outcome == "new_user"
    assert result.findings == ()
    assert result.predicted["user_principal_name"] == "dora@contoso.com"


def test_s9_7_an_immutable_id_mismatch_creates_a_duplicate_with_resiliency_on():
    # "Troubleshoot errors during synchronization": with resiliency, no InvalidSoftMatch for new objects
    other_anchor = immutable_id("0b5d2a39-49a5-4c61-8f73-6e3c1d0a9b27")
    user = onprem("hank", "SMTP:hank@contoso.com")
    result = only(user, cloud("hank@contoso.com", "SMTP:hank@contoso.com", immutable_id=other_anchor))
    assert result.outcome == "blocked"
    assert codes(result) == ["immutable_id_mismatch"]
    assert "creates this user as a duplicate" in finding(result, "immutable_id_mismatch").message
    assert result.predicted["user_principal_name"] is None
    assert result.predicted["proxy_addresses"] == []
    assert result.predicted["quarantined"] == [{"property": "UserPrincipalName", "value": "hank@contoso.com"},
                                               {"property": "ProxyAddress", "value": "hank@contoso.com"}]


def test_s9_7_an_immutable_id_mismatch_fails_the_export_with_its_quarantine_switch_off():
    other_anchor = immutable_id("0b5d2a39-49a5-4c61-8f73-6e3c1d0a9b27")
    user = onprem("hank", "SMTP:hank@contoso.com")
    result = only(user, cloud("hank@contoso.com", "SMTP:hank@contoso.com", immutable_id=other_anchor),
                  features={"quarantineUponProxyAddressesConflictEnabled": False})
    assert result.outcome == "blocked"
    assert "fails with InvalidSoftMatch" in finding(result, "immutable_id_mismatch").message
    assert result.predicted is None


def test_s9_7_object_type_mismatch_fails_the_export():
    user = onprem("hank", "SMTP:hank@contoso.com")
    group_holds = only(user, cloud_objects=[group("hank@contoso.com", "SMTP:hank@contoso.com")])
    assert group_holds.predicted is None


# --- §9.5: excluded system accounts ---------------------------------------------------------


@pytest.mark.parametrize("sam", ["krbtgt", "Guest", "Administrator", "AdminIT", "HealthMailbox0a1b2c3",
                                 "MSOL_0123456789ab", "WORKSTATION01$"])
def test_s9_5_excluded_system_accounts_by_sam_account_name(sam):
    result = only(onprem(sam, "SMTP:x@contoso.com") | {"sAMAccountName": sam})
    assert result.outcome == "excluded"
    assert finding(result, "excluded_system_account").value == sam


@pytest.mark.parametrize("name", ["SystemMailbox{1f05a927-3be2-4fb9-aa03-b59fe3b56f4c}",
                                  "DiscoverySearchMailbox {D919BA05-46A6-415f-80AD-7E09334BB852}",
                                  "FederatedEmail.4c1f4d8b-8179-4148-93bf-00a95fa1e042"])
def test_s9_5_excluded_exchange_system_mailboxes_by_name(name):
    user = onprem("SM_1a2b3c4d5e6f4a7b8", "SMTP:x@contoso.com")
    user["distinguishedName"] = f"CN={name},CN=Users,DC=contoso,DC=com"
    result = only(user)
    assert result.outcome == "excluded"
    assert finding(result, "excluded_system_account").attribute == "name"


def test_s9_5_critical_system_objects_are_excluded():
    result = only(onprem("svc", "SMTP:svc@contoso.com", isCriticalSystemObject=["TRUE"]))
    assert result.outcome == "excluded"
    assert finding(result, "excluded_system_account").attribute == "isCriticalSystemObject"


def test_s9_5_excluded_accounts_claim_no_values():
    user = onprem("pat", "SMTP:pat@contoso.com")
    system = onprem("HealthMailbox1a2b", "SMTP:pat@contoso.com")
    user_result, system_result = run([user, system])
    assert (user_result.outcome, system_result.outcome) == ("new_user", "excluded")
    assert user_result.findings == ()


@pytest.mark.parametrize("sam", ["guesthouse", "msolomon", "krbtgtfan"])
def test_s9_5_similar_names_are_not_excluded(sam):
    assert only(onprem(sam, f"SMTP:{sam}@contoso.com")).outcome == "new_user"


# --- KB 2641663: SMTP matching needs a cloud mailbox ----------------------------------------


def test_kb2641663_cloud_user_without_a_mailbox_is_no_smtp_match():
    user = onprem("walt", "SMTP:walt@contoso.com", upn="walt.w@contoso.com")
    no_mailbox = cloud("walt@contoso.com", mail="walt@contoso.com")
    result = only(user, no_mailbox)
    assert result.outcome == "conflict"
    assert finding(result, "no_mailbox").severity == "warning"
    assert "duplicate_proxy_address" in codes(result)


def test_kb2641663_without_a_mailbox_matching_goes_on_to_the_upn():
    user = onprem("walt", "SMTP:walt@contoso.com", upn="walt@contoso.com")
    no_mailbox = cloud("walt@contoso.com", mail="walt@contoso.com")
    result = only(user, no_mailbox)
    assert result.outcome == "soft_match_upn"
    assert codes(result) == ["no_mailbox"]


def test_kb2641663_unknown_mailbox_is_assumed_present():
    user = onprem("walt", "SMTP:walt@contoso.com", upn="walt.w@contoso.com")
    unknown = {"id": "c-walt", "userPrincipalName": "walt@contoso.com", "mail": "walt@contoso.com"}
    assert CloudUser.from_dict(unknown).has_mailbox is None
    assert only(user, unknown).outcome == "soft_match_smtp"


# --- §3.1 and §9.4: the source anchor -------------------------------------------------------


def test_s9_4_consistency_guid_is_the_anchor_when_set():
    consistency = "9a7ed32a-0ab4-4d46-aa48-2d7d273334f6"
    user = onprem("xena", "SMTP:xena@contoso.com", **{"mS-DS-ConsistencyGuid": consistency})
    by_consistency = cloud("xena@contoso.com", "SMTP:xena@contoso.com", immutable_id=immutable_id(consistency))
    assert only(user, by_consistency).outcome == "hard_match"
    assert only(user, by_consistency).onprem["source_anchor"] == "KtN+mrQKRk2qSC19JzM09g=="


def test_s9_4_objectguid_anchor_ignores_the_consistency_guid():
    consistency = "9a7ed32a-0ab4-4d46-aa48-2d7d273334f6"
    user = onprem("xena", "SMTP:xena@contoso.com", **{"mS-DS-ConsistencyGuid": consistency})
    by_consistency = cloud("xena@contoso.com", "SMTP:xena@contoso.com", immutable_id=immutable_id(consistency))
    result = only(user, by_consistency, anchor_mode=ANCHOR_OBJECT_GUID)
    assert result.onprem["source_anchor"] == anchor_of("xena")
    assert result.outcome == "blocked"
    assert "use mS-DS-ConsistencyGuid as the source anchor" in finding(result, "immutable_id_mismatch").message


def test_s9_4_objectguid_is_the_anchor_without_a_consistency_guid():
    user = onprem("yann", "SMTP:yann@contoso.com")
    assert only(user).onprem["source_anchor"] == anchor_of("yann")


def test_s9_4_unknown_anchor_mode_is_refused():
    with pytest.raises(MatchingInputError):
        run([onprem("yann")], anchor_mode="employeeID")


# --- §1 and §3.1: what is compared with case and without ------------------------------------


def test_s1_smtp_and_upn_are_compared_case_insensitively():
    by_smtp = only(onprem("zoe", "SMTP:Zoe.Adams@Contoso.com", upn="z@contoso.com"),
                   cloud("za@contoso.com", "SMTP:zoe.adams@contoso.com"))
    assert by_smtp.outcome == "soft_match_smtp"
    assert by_smtp.findings[0].code == "upn_will_change"
    by_upn = only(onprem("zoe", upn="ZOE@CONTOSO.COM"), cloud("zoe@contoso.com"))
    assert by_upn.outcome == "soft_match_upn"
    assert "upn_will_change" not in codes(by_upn)


def test_s3_1_immutable_id_is_compared_case_sensitively():
    anchor = anchor_of("zack")
    assert anchor != anchor.swapcase()
    user = onprem("zack", "SMTP:zack@contoso.com", upn="zack@contoso.com")
    other_case = cloud("zack.old@contoso.com", "SMTP:zack.old@contoso.com", immutable_id=anchor.swapcase())
    result = only(user, other_case)
    assert result.outcome == "new_user"


# --- reading plain dicts --------------------------------------------------------------------


def test_onprem_user_from_an_ldap3_shaped_dict():
    raw_guid = uuid.UUID("9a7ed32a-0ab4-4d46-aa48-2d7d273334f6").bytes_le
    user = OnPremUser.from_dict({
        "distinguishedName": "CN=Alice,OU=Staff,DC=contoso,DC=com",
        "sAMAccountName": ["alice"],
        "userPrincipalName": ["alice@contoso.com"],
        "proxyAddresses": ["SMTP:alice@contoso.com", "smtp:a@contoso.com"],
        "objectGUID": [raw_guid],
        "mS-DS-ConsistencyGuid": [raw_guid],
        "isCriticalSystemObject": ["FALSE"],
        "objectClass": ["top", "person", "organizationalPerson", "user"],
        "employeeID": "1001",
    })
    assert user.object_guid == "9a7ed32a-0ab4-4d46-aa48-2d7d273334f6"
    assert user.consistency_guid == "KtN+mrQKRk2qSC19JzM09g=="
    assert user.is_critical_system_object is False
    assert user.object_class == "user"
    assert user.employee_id == "1001"
    assert user.source_anchor() == "KtN+mrQKRk2qSC19JzM09g=="


def test_onprem_user_from_snake_case_keys():
    user = OnPremUser.from_dict({"distinguished_name": "CN=B,DC=c,DC=com", "sam_account_name": "b",
                                 "user_principal_name": "b@contoso.com", "proxy_addresses": ["SMTP:b@contoso.com"],
                                 "object_guid": "{9A7ED32A-0AB4-4D46-AA48-2D7D273334F6}",
                                 "consistency_guid": "KtN+mrQKRk2qSC19JzM09g=="})
    assert user.proxy_addresses == ("SMTP:b@contoso.com",)
    assert user.object_guid == "9a7ed32a-0ab4-4d46-aa48-2d7d273334f6"
    assert user.source_anchor(ANCHOR_OBJECT_GUID) == user.source_anchor()


def test_onprem_user_needs_a_name():
    with pytest.raises(MatchingInputError):
        OnPremUser.from_dict({"mail": "x@contoso.com"})


def test_cloud_user_from_graph_with_roles_as_objects():
    user = CloudUser.from_dict({"id": "c1", "userPrincipalName": "a@contoso.com", "proxyAddresses": [],
                                "onPremisesSyncEnabled": None,
                                "roles": [{"displayName": "Global Administrator"}]})
    assert user.admin_roles == ("Global Administrator",)
    assert user.has_mailbox is False
    assert CloudUser.from_dict({"id": "c2", "has_mailbox": True}).has_mailbox is True


def test_kb2641663_mailbox_told_from_the_addresses_it_lists():
    """A primary SMTP: value in proxyAddresses is a mailbox; mail alone is not; an explicit flag wins."""
    listed = ["smtp:b@contoso.com", "SMTP:a@contoso.com"]
    mailbox = CloudUser.from_dict({"id": "c1", "mail": "a@contoso.com", "proxyAddresses": listed})
    mail_only = CloudUser.from_dict({"id": "c2", "mail": "a@contoso.com", "proxyAddresses": ["smtp:a@contoso.com"]})
    stated = CloudUser.from_dict({"id": "c3", "has_mailbox": False, "proxyAddresses": ["SMTP:a@contoso.com"]})
    assert (mailbox.has_mailbox, mail_only.has_mailbox, stated.has_mailbox) == (True, False, False)
    # mail stands in as the primary when no value is marked, without making a mailbox
    assert [str(proxy) for proxy in mail_only.smtp_addresses()] == ["smtp:a@contoso.com"]
    assert mail_only.primary_smtp is None
    assert CloudUser("c4", proxy_addresses=("SMTP:a@contoso.com",)).has_mailbox is None


def test_cloud_object_kind_from_odata_type_or_argument():
    assert CloudObject.from_dict(group("sales@contoso.com")).kind == "group"
    assert CloudObject.from_dict({"id": "o1", "mail": "x@contoso.com"}, kind="contact").kind == "contact"
    with pytest.raises(MatchingInputError):
        CloudObject.from_dict({"id": "o1", "mail": "x@contoso.com"})


def test_s6_tenant_from_graph_domains_and_feature_defaults():
    graph = Tenant.from_dict({"domains": [{"id": "contoso.com", "isVerified": True},
                                          {"id": "pending.com", "isVerified": False},
                                          {"id": "contoso.onmicrosoft.com", "isVerified": True, "isInitial": True}],
                              "features": {"features": {"blockSoftMatchEnabled": True}}})
    assert graph.initial_domain == "contoso.onmicrosoft.com"
    assert graph.is_verified("Contoso.com") and not graph.is_verified("pending.com")
    assert graph.feature("blockSoftMatchEnabled") is True
    assert graph.feature("softMatchOnUpnEnabled") is True
    assert graph.feature("blockCloudObjectTakeoverThroughHardMatchEnabled") is False
    with pytest.raises(MatchingInputError):
        Tenant.from_dict({"verified_domains": ["contoso.com"]})


# --- the result shape -----------------------------------------------------------------------


def test_result_as_dict_has_the_documented_shape():
    result = only(onprem("user", "SMTP:user@contoso.com", upn="user.lastname@contoso.com"),
                  cloud("user.lastname@contoso.com", "SMTP:user.lastname@contoso.com", "smtp:user@contoso.com"))
    shape = result.as_dict()
    assert set(shape) == {"onprem", "cloud", "outcome", "findings", "predicted"}
    assert set(shape["onprem"]) == {"distinguished_name", "sam_account_name", "user_principal_name", "primary_smtp",
                                    "source_anchor"}
    assert set(shape["cloud"]) == {"id", "user_principal_name", "primary_smtp", "on_premises_immutable_id",
                                   "on_premises_sync_enabled"}
    finding_keys = {"code", "severity", "message", "attribute", "value", "value_list"}
    assert set(shape["findings"][0]) == finding_keys
    assert set(shape["predicted"]) == {"primary_smtp", "user_principal_name", "proxy_addresses", "quarantined",
                                       "mailbox_user", "mailbox_user_from"}


# What a message must offer the person reading it: an action (or the word to leave it), as a sentence of its own.
REMEDY = re.compile(r"(?:^|[.;:] |, |, or )(?:set|remove|give|turn|write|add|verify|make|change|keep|rename|"
                    r"leave|use|clear)\b", re.IGNORECASE)


def every_finding():
    """Findings of every code, from two tenants (one with the blocking switches on), by code."""
    many = [f"smtp:m{n}@contoso.com" for n in range(300)]
    users = [
        onprem("admin", "SMTP:admin@contoso.com"),
        onprem("hank", "SMTP:hank@contoso.com"),
        onprem("mike", "SMTP:sales@contoso.com"),
        onprem("erin", "SMTP:erin@contoso.com", upn="erin.b@contoso.com"),
        onprem("kim", "SMTP:kim@contoso.com", "smtp:desk@contoso.com"),
        onprem("nina", "SMTP:nina@contoso.com", "smtp:team@contoso.com"),
        onprem("oscar", "SMTP:oscar@contoso.com", "smtp:team@contoso.com"),
        onprem("pat", "SMTP:pat@contoso.com", "SMTP:patricia@contoso.com"),
        onprem("quinn", "SMTP:quinn@contoso.com", upn="quinn q@contoso.com"),
        onprem("user", "SMTP:user@contoso.com", upn="user.x@contoso.com"),
        onprem("rita", "SMTP:rita@contoso.com", upn="rita@contoso.local"),
        onprem("sam", "SMTP:sam@contoso.com", upn="sam.o@contoso.com"),
        onprem("tom", "SMTP:tom@contoso.com", "smtp:tom t@contoso.com", "smtp:tom@x.onmicrosoft.com"),
        onprem("uma", "SMTP:uma u@contoso.com"),
        onprem("vic", "SMTP:vic@contoso.com", *many),
        onprem("walt", "SMTP:walt@contoso.com", **{"mS-DS-ConsistencyGuid": "not-a-guid"}),
        onprem("team1", "SMTP:shared@contoso.com"),
        onprem("team2", "SMTP:shared@contoso.com"),
        onprem("mona", "SMTP:mona@contoso.com", mailNickname="desk.m"),
        onprem("dora", "SMTP:dora@contoso.com"),
        onprem("olga", "SMTP:olga@contoso.com"),
        onprem("krbtgt", "SMTP:krbtgt@contoso.com"),
        onprem("svc", "SMTP:svc@contoso.com", isCriticalSystemObject="TRUE"),
    ]
    cloud_users = [
        cloud("admin@contoso.com", "SMTP:admin@contoso.com", roles=["Global Administrator"]),
        cloud("hank@contoso.com", "SMTP:hank@contoso.com", immutable_id=anchor_of("someone")),
        cloud("erin@contoso.com", "SMTP:erin@contoso.com"),
        cloud("erin.b@contoso.com", "SMTP:erin.b@contoso.com"),
        cloud("kim@contoso.com", "SMTP:kim@contoso.com"),
        cloud("leo@contoso.com", "SMTP:leo@contoso.com", "smtp:desk@contoso.com"),
        cloud("user.lastname@contoso.com", "SMTP:user.lastname@contoso.com", "smtp:user@contoso.com",
              "smtp:u.alias@contoso.com"),
        cloud("samc@contoso.com", mail="sam@contoso.com"),
        cloud("shared@contoso.com", "SMTP:shared@contoso.com"),
        licensed("mona@contoso.com", "SMTP:mona@contoso.com"),
        cloud("dora@contoso.com", "SMTP:dora@contoso.com", immutable_id=anchor_of("dora"),
              deletedDateTime="2026-11-30T10:00:00Z"),
        cloud("desk@contoso.com", "SMTP:desk.x@contoso.com", "smtp:desk.m@contoso.onmicrosoft.com"),
        cloud("o1@contoso.com", "SMTP:o1@contoso.com", "smtp:olga@contoso.com"),
        cloud("o2@contoso.com", "SMTP:o2@contoso.com", "smtp:olga@contoso.com"),
    ]
    results = run(users, cloud_users, [group("sales@contoso.com", "SMTP:sales@contoso.com")])
    blocking = {"blockSoftMatchEnabled": True, "blockCloudObjectTakeoverThroughHardMatchEnabled": True,
                "synchronizeUpnForManagedUsersEnabled": False}
    results += run([onprem("grace", "SMTP:grace@contoso.com"), onprem("gina", "SMTP:gina@contoso.com"),
                    onprem("ivan", "SMTP:ivan@contoso.com", upn="ivan.new@contoso.com")],
                   [cloud("grace@contoso.com", "SMTP:grace@contoso.com"),
                    cloud("gina@contoso.com", "SMTP:gina@contoso.com", immutable_id=anchor_of("gina")),
                    cloud("ivan@contoso.com", "SMTP:ivan@contoso.com", immutable_id=anchor_of("ivan"), synced=True)],
                   features=blocking)
    found: dict[str, list] = {}
    for result in results:
        for item in result.findings:
            found.setdefault(item.code, []).append(item)
    return found


def test_every_finding_code_names_attribute_and_value_and_says_what_to_do():
    found = every_finding()
    assert set(found) == set(SEVERITIES)
    for code, findings in found.items():
        for item in findings:
            assert item.severity == SEVERITIES[code]
            assert item.attribute, item
            assert item.value, item
            assert item.message.endswith("."), item.message
            assert REMEDY.search(item.message), item.message


def test_summarize_counts_outcomes_and_findings():
    results = run([onprem("a", "SMTP:a@contoso.com"), onprem("b", "SMTP:b@contoso.com"),
                   onprem("c", "SMTP:c@contoso.com", "SMTP:c2@contoso.com")],
                  [cloud("b.x@contoso.com", "SMTP:b.x@contoso.com", "smtp:b@contoso.com")])
    assert summarize(results) == {
        "outcomes": {"invalid": 1, "new_user": 1, "soft_match_smtp": 1},
        "findings": {"cloud_addresses_will_be_dropped": 1, "multiple_primary_smtp": 1, "primary_smtp_will_change": 1,
                     "upn_will_change": 1},
    }


# --- scale ----------------------------------------------------------------------------------


def test_twenty_thousand_users_against_twenty_thousand_cloud_users():
    """A plain run: with hash lookups it takes seconds; anything quadratic would take many minutes."""
    count = 20_000
    users = [onprem(f"u{n}", f"SMTP:u{n}@contoso.com", f"smtp:u{n}.alias@contoso.com") for n in range(count)]
    cloud_users = [cloud(f"u{n}@contoso.com", f"SMTP:u{n}@contoso.com", object_id=f"c{n}")
                   for n in range(0, count, 2)]
    cloud_users += [cloud(f"other{n}@contoso.com", f"SMTP:other{n}@contoso.com") for n in range(count // 2)]
    results = predict(users, CloudIndex.build(cloud_users), tenant())
    assert summarize(results)["outcomes"] == {"new_user": count // 2, "soft_match_smtp": count // 2}
