"""What the AD reader hands the predictor: values as ldap3 returns them without the schema."""

import pytest

from ansible_collections.hybrid.identity.plugins.module_utils._ad import AdUser
from ansible_collections.hybrid.identity.plugins.module_utils._matching import CloudIndex, OnPremUser, predict
from ansible_collections.hybrid.identity.plugins.module_utils._soft_match_inputs import onprem_record

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
