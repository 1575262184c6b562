"""What the readers hand the predictor: AD values as ldap3 returns them, the domains the cloud users show."""

import pytest

from ansible_collections.hybrid.identity.plugins.module_utils.ad._ad import AdUser
from ansible_collections.hybrid.identity.plugins.module_utils.matching._matching import predict
from ansible_collections.hybrid.identity.plugins.module_utils.matching._matching_index import CloudIndex
from ansible_collections.hybrid.identity.plugins.module_utils.matching._matching_model import (
    CloudUser,
    OnPremUser,
    Tenant,
)
from ansible_collections.hybrid.identity.plugins.module_utils.matching._soft_match_inputs import (
    as_values,
    domains_seen,
    merge_tenant,
    onprem_record,
    with_admin_roles,
)

TENANT = {"initial_domain": "contoso.onmicrosoft.com", "verified_domains": ["contoso.com"]}


def ad_user(**extra):
    # Read with get_info=NONE, ldap3 gives every value as a list of strings.
    return AdUser(
        distinguished_name="CN=ann,OU=Staff,DC=contoso,DC=com",
        object_guid="9a7ed32a-0ab4-4d46-aa48-2d7d273334f6",
        sam_account_name="ann",
        user_principal_name="ann@contoso.com",
        mail="ann@contoso.com",
        proxy_addresses=("SMTP:ann@contoso.com",),
        extra=extra,
    )


@pytest.mark.parametrize(
    ("stored", "critical"),
    [(["TRUE"], True), (["FALSE"], False), ([], False), (None, False)],
)
def test_s9_5_only_a_true_is_critical_system_object_excludes(stored, critical):
    extra = {} if stored is None else {"isCriticalSystemObject": stored}
    record = onprem_record(ad_user(**extra))
    assert OnPremUser.from_dict(record).is_critical_system_object is critical
    [result] = predict([record], CloudIndex.build([], []), TENANT)
    assert (result.outcome == "excluded") is critical


def test_single_values_come_out_of_their_lists():
    record = onprem_record(ad_user(displayName=["Ann Example"], employeeID=["E-17"]))
    assert record["displayName"] == "Ann Example"
    assert record["employeeID"] == "E-17"
    assert record["objectGUID"] == "9a7ed32a-0ab4-4d46-aa48-2d7d273334f6"


# --- the tenant's domains, when /domains can't be read ---------------------------------------


def graph_user(upn, *proxy_addresses):
    return {"id": f"id-{upn}", "userPrincipalName": upn, "proxyAddresses": list(proxy_addresses)}


def test_cloud_upn_suffixes_are_the_verified_domains_and_the_moera_names_the_initial_one():
    users = [
        graph_user("ann@contoso.com", "SMTP:ann@contoso.com", "smtp:ann@contoso.onmicrosoft.com"),
        graph_user("Bob@Fabrikam.COM", "SMTP:bob@fabrikam.com", "smtp:bob@contoso.mail.onmicrosoft.com"),
        graph_user("admin@contoso.onmicrosoft.com"),
        # an address in a domain nobody signs in with says nothing about verification
        graph_user("cy@contoso.com", "SMTP:cy@contoso.com", "smtp:cy@northwind.example"),
    ]
    assert domains_seen(users) == ("contoso.onmicrosoft.com", ["contoso.com", "contoso.onmicrosoft.com",
                                                               "fabrikam.com"])


def test_the_mail_routing_domain_is_never_the_initial_domain():
    users = [graph_user("ann@contoso.com", "SMTP:ann@contoso.com", "smtp:ann@contoso.mail.onmicrosoft.com")]
    assert domains_seen(users) == (None, ["contoso.com"])


def test_the_initial_domain_seen_most_often_wins_then_the_first_by_name():
    users = [graph_user("a@contoso.com", "SMTP:a@contoso.com", "smtp:a@contoso.onmicrosoft.com"),
             graph_user("b@contoso.com", "SMTP:b@contoso.com", "smtp:b@contoso.onmicrosoft.com"),
             graph_user("c@contoso.com", "SMTP:c@contoso.com", "smtp:c@second.onmicrosoft.com")]
    assert domains_seen(users)[0] == "contoso.onmicrosoft.com"
    tie = [graph_user("a@zeta.onmicrosoft.com"), graph_user("b@alpha.onmicrosoft.com")]
    assert domains_seen(tie)[0] == "alpha.onmicrosoft.com"


def test_a_tenant_named_by_a_domain_tells_that_domain():
    assert domains_seen([], "Contoso.onmicrosoft.com") == ("contoso.onmicrosoft.com", ["contoso.onmicrosoft.com"])
    assert domains_seen([], "contoso.com") == (None, ["contoso.com"])
    assert domains_seen([], "d7ee3c0b-405d-494b-808a-68a49c2c82c5") == (None, [])


def test_the_derived_domains_make_a_tenant_the_predictor_takes():
    users = [graph_user("ann@contoso.com", "SMTP:ann@contoso.com", "smtp:ann@contoso.onmicrosoft.com")]
    tenant = Tenant.from_dict(merge_tenant({}, domains_seen(users), None))
    assert tenant.initial_domain == "contoso.onmicrosoft.com"
    assert tenant.is_verified("contoso.com") and not tenant.is_verified("fabrikam.com")


def test_admin_roles_are_added_to_copies_or_in_place_with_the_same_result():
    def records():
        return [{"id": "c1", "userPrincipalName": "Boss@contoso.com"},
                {"id": "c2", "userPrincipalName": "b@contoso.com"}]
    roles = {"c2": ["Global Administrator"]}
    given = records()
    copied = with_admin_roles(given, roles, ["boss@contoso.com"])
    assert given == records()  # given data is left as it was
    read = records()
    in_place = with_admin_roles(read, roles, ["boss@contoso.com"], in_place=True)
    assert in_place is read and in_place == copied
    assert [user["admin_roles"] for user in copied] == [["(stated by admin_role_holders)"], ["Global Administrator"]]


def test_records_become_values_in_their_own_list():
    records = [{"id": "c1", "proxyAddresses": ["SMTP:a@contoso.com"]}, {"id": "c2"}]
    expected = [CloudUser.from_dict(record) for record in records]
    values = as_values(records, CloudUser.from_dict)
    assert values is records and values == expected
