"""Source anchor conversions (rule book §3: base64 of the GUID bytes as AD stores them)."""

import uuid

import pytest

from ansible_collections.hybrid.identity.plugins.module_utils.common._anchor import (
    AnchorError,
    anchor_bytes,
    anchor_from_any,
    immutable_id,
    object_guid,
)

PUBLISHED_GUID = "9a7ed32a-0ab4-4d46-aa48-2d7d273334f6"
PUBLISHED_IMMUTABLE_ID = "KtN+mrQKRk2qSC19JzM09g=="


def test_rule_3_published_example_guid_to_immutable_id():
    assert immutable_id(PUBLISHED_GUID) == PUBLISHED_IMMUTABLE_ID


def test_rule_3_published_example_immutable_id_to_guid():
    assert object_guid(PUBLISHED_IMMUTABLE_ID) == PUBLISHED_GUID


def test_rule_3_uses_little_endian_bytes_not_rfc_order():
    guid = uuid.UUID(PUBLISHED_GUID)
    assert anchor_bytes(PUBLISHED_IMMUTABLE_ID) == guid.bytes_le
    assert anchor_bytes(PUBLISHED_IMMUTABLE_ID) != guid.bytes


@pytest.mark.parametrize("written", [PUBLISHED_GUID, "{" + PUBLISHED_GUID.upper() + "}", uuid.UUID(PUBLISHED_GUID)])
def test_guid_spellings_agree(written):
    assert immutable_id(written) == PUBLISHED_IMMUTABLE_ID


def test_raw_bytes_as_ldap_returns_them():
    assert immutable_id(uuid.UUID(PUBLISHED_GUID).bytes_le) == PUBLISHED_IMMUTABLE_ID


@pytest.mark.parametrize("bad", ["not-a-guid", "", "9a7ed32a-0ab4-4d46-aa48"])
def test_bad_guid_is_refused(bad):
    with pytest.raises(AnchorError):
        immutable_id(bad)


@pytest.mark.parametrize("bad", ["!!!", "AAAA", "KtN+mrQKRk2qSC19JzM09g"])
def test_bad_immutable_id_is_refused(bad):
    with pytest.raises(AnchorError):
        object_guid(bad)


def test_anchor_from_either_form():
    assert anchor_from_any(PUBLISHED_GUID) == anchor_from_any(PUBLISHED_IMMUTABLE_ID)
