"""Source-of-authority transfer (KB 2641663): one test per rule, plain data, checked by the real predictor."""

import pytest

from ansible_collections.hybrid.identity.plugins.module_utils.alignment._authority_transfer import (
    TransferError,
    TransferOptions,
    choose,
    escape_rdn_value,
    plan_transfer,
    sam_account_name,
)
from ansible_collections.hybrid.identity.plugins.module_utils.matching._matching_index import CloudIndex
from ansible_collections.hybrid.identity.plugins.module_utils.matching._matching_model import OnPremUser

TENANT = {"initial_domain": "contoso.onmicrosoft.com", "verified_domains": ["contoso.com"]}
OU = "OU=Staff,DC=contoso,DC=com"


def cloud(prefix, *proxy_addresses, roles=(), immutable=None, synced=None, **properties):
    primary = next((value[5:] for value in proxy_addresses if value.startswith("SMTP:")), None)
    return {"id": f"id-{prefix}", "userPrincipalName": f"{prefix}@contoso.com", "mail": primary,
            "proxyAddresses": list(proxy_addresses), "onPremisesImmutableId": immutable,
            "onPremisesSyncEnabled": synced, "admin_roles": list(roles), **properties}


def existing(sam, *proxy_addresses, upn=None, mail=None):
    return OnPremUser(f"CN={sam},{OU}", sam, upn or f"{sam}.old@contoso.local", mail, tuple(proxy_addresses))


def transfer(records, holders=(), **options):
    planned, skipped = plan_transfer(records, holders, CloudIndex.build(records), TENANT,
                                     TransferOptions(OU, **options))
    return ({user.cloud.user_principal_name: user for user in planned},
            {item.cloud.user_principal_name: item.reason for item in skipped})


PRADEEP = cloud("pradeep", "SMTP:Pradeep.Gupta@contoso.com", "smtp:pradeep@contoso.com",
                "smtp:pradeep@contoso.onmicrosoft.com", displayName="Pradeep Gupta", givenName="Pradeep",
                surname="Gupta", mailNickname="pradeep")


def test_the_new_user_carries_the_upn_names_and_every_address_with_the_same_primary():
    planned, skipped = transfer([PRADEEP])

    new_user = planned["pradeep@contoso.com"]
    assert skipped == {}
    assert new_user.distinguished_name == f"CN=Pradeep Gupta,{OU}"
    assert new_user.attributes == {
        "objectClass": ["top", "person", "organizationalPerson", "user"],
        "sAMAccountName": "pradeep",
        "userPrincipalName": "pradeep@contoso.com",
        "displayName": "Pradeep Gupta",
        "givenName": "Pradeep",
        "sn": "Gupta",
        "mailNickname": "pradeep",
        "mail": "Pradeep.Gupta@contoso.com",
        "proxyAddresses": ["SMTP:Pradeep.Gupta@contoso.com", "smtp:pradeep@contoso.com"],  # rule book §2: no MOERA
        "userAccountControl": "514",  # disabled without a password
    }


def test_with_a_password_the_user_is_enabled():
    planned, _skipped = transfer([PRADEEP], enabled=True)

    assert planned["pradeep@contoso.com"].attributes["userAccountControl"] == "512"


@pytest.mark.parametrize("holder", [
    existing("pg", "SMTP:pradeep@contoso.com"),
    existing("pg", mail="Pradeep.Gupta@contoso.com"),
    existing("pg", "smtp:PRADEEP.GUPTA@contoso.com"),
    existing("pg", upn="Pradeep@Contoso.com"),
], ids=["address", "mail", "address-any-case", "upn"])
def test_rule_4_never_creates_when_an_onprem_user_holds_a_value(holder):
    planned, skipped = transfer([PRADEEP], [holder])

    assert planned == {}
    assert f"CN=pg,{OU}" in skipped["pradeep@contoso.com"]


def test_rule_3_an_admin_is_not_created_the_sync_would_refuse_it():
    planned, skipped = transfer([cloud("patti", "SMTP:patti@contoso.com", roles=["Global Administrator"])])

    assert planned == {} and "Global Administrator" in skipped["patti@contoso.com"]


def test_rule_3_another_immutable_id_is_refused():
    planned, skipped = transfer([cloud("isaiah", "SMTP:isaiah@contoso.com", immutable="Wk0Ee7zS1kGt2Xz3bn4xSg==")])

    assert planned == {} and "InvalidSoftMatch" in skipped["isaiah@contoso.com"]


def test_a_synchronized_user_is_left_alone():
    planned, skipped = transfer([cloud("megan", "SMTP:megan@contoso.com", immutable="Wk0Ee7zS1kGt2Xz3bn4xSg==",
                                       synced=True)])

    assert planned == {} and "synchronized" in skipped["megan@contoso.com"]


def test_kb_2641663_a_user_without_a_mailbox_is_left_alone():
    planned, skipped = transfer([cloud("nomail")])

    assert planned == {} and "mailbox" in skipped["nomail@contoso.com"]


def test_sam_account_name_template_drops_forbidden_characters_and_cuts_to_20():
    record = {"userPrincipalName": "j.o'neil@contoso.com", "givenName": "Jo Ann",
              "surname": "O'Neil-Smithsonian-Longname"}

    assert sam_account_name(record, "{upn_prefix}") == "j.o'neil"
    assert sam_account_name(record, "{given_initial}{surname}") == "JO'Neil-Smithsonian-"
    assert sam_account_name(record, "{given_name}.{surname}")[:7] == "JoAnn.O"


def test_an_unknown_template_field_is_refused():
    with pytest.raises(TransferError):
        TransferOptions(OU, "{first_name}")


def test_rdn_values_are_escaped():
    assert escape_rdn_value("Smith, John") == "Smith\\, John"
    assert escape_rdn_value(" #lead") == "\\ #lead"


def test_choose_by_upn_address_or_id_and_refuse_what_names_none_or_several():
    records = [PRADEEP, cloud("megan", "SMTP:megan@contoso.com")]

    chosen, problems = choose(records, ["PRADEEP.GUPTA@contoso.com", "id-megan", "nobody@contoso.com"])

    assert [record["id"] for record in chosen] == ["id-pradeep", "id-megan"]
    assert problems == ["'nobody@contoso.com' names no cloud user(s)"]


def in_scope(sam, *proxy_addresses, upn=None, employee_id=None):
    return OnPremUser(f"CN={sam},{OU}", sam, upn or f"{sam}@contoso.local", None, tuple(proxy_addresses),
                      employee_id=employee_id, object_guid=f"00000000-0000-0000-0000-{len(sam):012d}")


def transfer_in(records, scope, domain_map=None):
    planned, skipped = plan_transfer(records, (), CloudIndex.build(records), TENANT,
                                     TransferOptions(OU, domain_map=domain_map or {}), scope=scope)
    return ({user.cloud.user_principal_name: user for user in planned},
            {item.cloud.user_principal_name: item.reason for item in skipped})


def test_never_creates_for_a_cloud_user_an_onprem_user_pairs_with_by_employee_id():
    """No value in common, but the same employee ID: the person has an account on-prem already."""
    planned, skipped = transfer_in([PRADEEP | {"employeeId": "E-77"}],
                                   [in_scope("pgupta", "SMTP:pg@fabrikam.com", employee_id="e-77")])

    assert planned == {}
    assert f"CN=pgupta,{OU} pairs with it by employee_id" in skipped["pradeep@contoso.com"]


def test_never_creates_for_a_cloud_user_whose_upn_prefix_the_domain_map_pairs():
    scope = [in_scope("pradeep", upn="pradeep@contoso.local")]

    planned, skipped = transfer_in([PRADEEP], scope, domain_map={"contoso.local": "contoso.com"})
    unmapped, _skipped = transfer_in([PRADEEP], scope)

    assert planned == {} and "by upn_prefix (pradeep@contoso.com)" in skipped["pradeep@contoso.com"]
    assert list(unmapped) == ["pradeep@contoso.com"]  # without the map the same prefix is no evidence


def test_never_creates_when_the_pairing_finds_the_cloud_user_ambiguous():
    scope = [in_scope("pg1", employee_id="E-77"), in_scope("pg22", employee_id="E-77")]

    planned, skipped = transfer_in([PRADEEP | {"employeeId": "E-77"}], scope)

    assert planned == {}
    assert f"CN=pg1,{OU}; CN=pg22,{OU} match it by employee_id" in skipped["pradeep@contoso.com"]


def test_users_in_scope_that_pair_with_nobody_chosen_do_not_stop_the_transfer():
    planned, skipped = transfer_in([PRADEEP | {"employeeId": "E-77"}],
                                   [in_scope("lynne", "SMTP:lynne@contoso.com", employee_id="E-78")])

    assert list(planned) == ["pradeep@contoso.com"] and skipped == {}
