"""The pure parts of smtp_align's reads, with plain data: what the scope search asks for, the objectGUID filter,
and an AD user as the predictor reads it (rule book §3). The searches themselves need a directory.
"""

import base64
import uuid

import pytest

from ansible_collections.hybrid.identity.plugins.module_utils.ad._ad import USER_ATTRIBUTES, AdUser
from ansible_collections.hybrid.identity.plugins.module_utils.alignment._alignment_io import (
    SCOPE_ATTRIBUTES,
    _guid_filter,
)
from ansible_collections.hybrid.identity.plugins.module_utils.common._anchor import AnchorError
from ansible_collections.hybrid.identity.plugins.module_utils.matching._soft_match_inputs import (
    ONPREM_ATTRIBUTES,
    onprem_record,
    onprem_user,
)

GUID = "2ad37e9a-b40a-4d46-aa48-2d7d273334f6"
ANCHOR_GUID = "9a7ed32a-0ab4-4d46-aa48-2d7d273334f6"
ANCHOR = "KtN+mrQKRk2qSC19JzM09g=="  # rule book §3: base64 of ANCHOR_GUID's bytes as AD stores them
# stored bytes that are the filter syntax's own characters: ( ) * \ and NUL (RFC 4515 §3)
AWKWARD = uuid.UUID(bytes_le=b"()*\\\x00" + bytes(range(0x61, 0x6c)))


def diego(**changes):
    fields = {"distinguished_name": "CN=Diego Siciliani,OU=Staff,DC=contoso,DC=com", "object_guid": GUID,
              "sam_account_name": "diego", "user_principal_name": "diego@contoso.com", "mail": "diego@contoso.com",
              "proxy_addresses": ("SMTP:diego@contoso.com", "smtp:DSiciliani@contoso.com"),
              "consistency_guid": None, "mail_nickname": "diego", "extra": {}}
    return AdUser(**(fields | changes))


def test_the_scope_search_reads_every_attribute_the_plan_and_the_prediction_use_once():
    assert set(USER_ATTRIBUTES) <= set(SCOPE_ATTRIBUTES) and set(ONPREM_ATTRIBUTES) <= set(SCOPE_ATTRIBUTES)
    assert len(SCOPE_ATTRIBUTES) == len(set(SCOPE_ATTRIBUTES))
    # whatever the predictor's record takes from a user must be read; the DN comes with every entry
    read = set(onprem_record(diego())) - {"distinguishedName"}
    assert read <= set(SCOPE_ATTRIBUTES), read - set(SCOPE_ATTRIBUTES)


def test_an_ad_user_becomes_the_predictors_user_with_its_source_anchor():
    """Rule book §3, §9.4: mS-DS-ConsistencyGuid when set, else objectGUID; both as AD stores their bytes."""
    user = onprem_user(diego(consistency_guid=uuid.UUID(ANCHOR_GUID).bytes_le,
                             extra={"isCriticalSystemObject": ["FALSE"], "displayName": ["Diego Siciliani"],
                                    "employeeID": ["E-1042"]}))

    assert (user.distinguished_name, user.sam_account_name, user.user_principal_name, user.mail) == (
        "CN=Diego Siciliani,OU=Staff,DC=contoso,DC=com", "diego", "diego@contoso.com", "diego@contoso.com")
    assert user.proxy_addresses == ("SMTP:diego@contoso.com", "smtp:DSiciliani@contoso.com")  # case as stored
    assert (user.object_guid, user.consistency_guid, user.source_anchor()) == (GUID, ANCHOR, ANCHOR)
    assert (user.mail_nickname, user.display_name, user.employee_id) == ("diego", "Diego Siciliani", "E-1042")
    assert user.is_critical_system_object is False


def test_without_a_consistency_guid_the_anchor_is_the_object_guid():
    user = onprem_user(diego())
    assert user.consistency_guid is None
    assert user.source_anchor() == base64.b64encode(uuid.UUID(GUID).bytes_le).decode() == "mn7TKgq0Rk2qSC19JzM09g=="


@pytest.mark.parametrize(("extra", "critical"), [({"isCriticalSystemObject": ["TRUE"]}, True),
                                                 ({"isCriticalSystemObject": []}, False), ({}, False)])
def test_a_system_object_is_known_from_ldaps_true(extra, critical):
    """Rule book §9.5: well-known system accounts (isCriticalSystemObject among them) are left out, as IdFix does."""
    assert onprem_user(diego(extra=extra)).is_critical_system_object is critical


def test_the_guid_filter_matches_each_objectguid_on_its_stored_bytes():
    assert _guid_filter([GUID]) == "(|(objectGUID=" + "".join(
        f"\\{byte:02x}" for byte in uuid.UUID(GUID).bytes_le) + "))"
    assert _guid_filter([GUID]) == r"(|(objectGUID=\9a\7e\d3\2a\0a\b4\46\4d\aa\48\2d\7d\27\33\34\f6))"


def test_the_guid_filter_escapes_every_byte_so_filter_characters_stay_values():
    guid_filter = _guid_filter([str(AWKWARD)])
    assert guid_filter.startswith(r"(|(objectGUID=\28\29\2a\5c\00\61")
    assert guid_filter.count("(") == 2 and guid_filter.count(")") == 2 and "*" not in guid_filter


def test_the_guid_filter_is_what_ldap3_sends_as_the_stored_bytes():
    """ldap3 compiles the filter to the search request it sends: each value must be the 16 stored bytes."""
    search = pytest.importorskip("ldap3.operation.search")
    guids = [GUID, "{" + ANCHOR_GUID.upper() + "}", str(AWKWARD)]
    parsed = search.parse_filter(_guid_filter(guids), None, auto_escape=False, auto_encode=False, validator=None,
                                 check_names=False)
    compiled = search.compile_filter(parsed.elements[0])

    alternatives = compiled["or"]
    assert len(alternatives) == len(guids)
    sent = [(str(item["equalityMatch"]["attributeDesc"]), bytes(item["equalityMatch"]["assertionValue"]))
            for item in alternatives]
    assert sent == [("objectGUID", uuid.UUID(guid.strip("{}")).bytes_le) for guid in guids]


def test_the_guid_filter_refuses_what_is_not_a_guid():
    with pytest.raises(AnchorError):
        _guid_filter([GUID, "diego@contoso.com"])
