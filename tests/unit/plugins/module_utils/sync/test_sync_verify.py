"""Verifying the joins a sync should make, with plain data (rule book §2, §3, §4, §7)."""

import json

import pytest

from ansible_collections.hybrid.identity.plugins.module_utils.common._errors import ConfigurationError
from ansible_collections.hybrid.identity.plugins.module_utils.sync._sync_verify import (
    Difference,
    ExpectedJoin,
    Verification,
    check_join,
    differences,
    expected_from_json,
    failure_message,
    lookup_for,
    verify_joins,
)

ANCHOR = "KtN+mrQKRk2qSC19JzM09g=="
CLOUD_ID = "4c3a1f5e-8d2b-4f6a-9c1e-2b7d5e8f0a13"


def joined_user(**changes) -> dict:
    """A cloud user that shows the join of ALICE as rule book §3 describes it."""
    user = {
        "id": CLOUD_ID,
        "userPrincipalName": "alice@contoso.com",
        "mail": "alice.smith@contoso.com",
        "proxyAddresses": ["SMTP:alice.smith@contoso.com", "smtp:alice@contoso.com",
                           "smtp:alice@contoso.onmicrosoft.com"],
        "onPremisesImmutableId": ANCHOR,
        "onPremisesSyncEnabled": True,
        "onPremisesLastSyncDateTime": "2025-01-31T08:15:00Z",
        "onPremisesProvisioningErrors": [],
    }
    return user | changes


ALICE = ExpectedJoin.from_param({"label": "alice", "source_anchor": ANCHOR, "cloud_id": CLOUD_ID,
                                 "user_principal_name": "alice@contoso.com",
                                 "primary_smtp": "alice.smith@contoso.com",
                                 "proxy_addresses_include": ["alice@contoso.com"]}, 0)


def attributes(found) -> list[str]:
    return [difference.attribute for difference in found]


# --- the expected pairs -------------------------------------------------------------------


def test_a_pair_needs_an_anchor_or_a_cloud_id():
    with pytest.raises(ConfigurationError, match=r"expected\[3\] names neither"):
        ExpectedJoin.from_param({"user_principal_name": "alice@contoso.com"}, 3)


def test_cloud_id_must_be_a_guid_and_is_normalised():
    with pytest.raises(ConfigurationError, match="not a GUID"):
        ExpectedJoin.from_param({"cloud_id": "alice"}, 0)
    assert ExpectedJoin.from_param({"cloud_id": CLOUD_ID.upper()}, 0).cloud_id == CLOUD_ID


def test_label_defaults_to_the_upn_then_the_anchor():
    assert ExpectedJoin.from_param({"source_anchor": ANCHOR, "user_principal_name": "a@contoso.com"}, 0).label \
        == "a@contoso.com"
    assert ExpectedJoin.from_param({"source_anchor": ANCHOR}, 0).label == ANCHOR


def test_primary_smtp_may_carry_its_prefix_and_included_addresses_may_be_bare():
    join = ExpectedJoin.from_param({"source_anchor": ANCHOR, "primary_smtp": "SMTP:a@contoso.com",
                                    "proxy_addresses_include": ["b@contoso.com", "X500:/o=Contoso/cn=a"]}, 0)
    assert join.primary_smtp == "a@contoso.com"
    assert [str(value) for value in join.proxy_addresses_include] == ["smtp:b@contoso.com", "X500:/o=Contoso/cn=a"]


def test_an_included_value_without_type_or_address_is_refused():
    with pytest.raises(ConfigurationError, match="proxy_addresses_include"):
        ExpectedJoin.from_param({"source_anchor": ANCHOR, "proxy_addresses_include": ["nobody"]}, 0)


# --- comparing a pair with a cloud user ---------------------------------------------------


def test_a_user_that_shows_the_join_has_no_difference():
    assert differences(ALICE, joined_user()) == ()


def test_rule_3_the_join_shows_sync_enabled_and_the_anchor():
    found = differences(ALICE, joined_user(onPremisesSyncEnabled=None, onPremisesImmutableId=None))
    assert [d.as_dict() for d in found] == [
        {"attribute": "onPremisesSyncEnabled", "expected": True, "actual": None},
        {"attribute": "onPremisesImmutableId", "expected": ANCHOR, "actual": None},
    ]


def test_rule_3_the_anchor_compares_case_sensitively():
    found = differences(ALICE, joined_user(onPremisesImmutableId=ANCHOR.lower()))
    assert found == (Difference("onPremisesImmutableId", ANCHOR, ANCHOR.lower()),)


def test_rule_2_upn_and_primary_smtp_compare_without_case():
    user = joined_user(userPrincipalName="ALICE@Contoso.com",
                       proxyAddresses=["SMTP:Alice.Smith@CONTOSO.com", "smtp:alice@contoso.com"])
    assert differences(ALICE, user) == ()


def test_rule_5_a_changed_primary_smtp_is_a_difference():
    user = joined_user(proxyAddresses=["SMTP:alice@contoso.com", "smtp:alice.smith@contoso.com"])
    assert differences(ALICE, user) == (Difference("primary_smtp", "alice.smith@contoso.com", "alice@contoso.com"),)


def test_rule_2_the_onmicrosoft_upn_is_a_difference():
    user = joined_user(userPrincipalName="alice@contoso.onmicrosoft.com")
    assert differences(ALICE, user) == (
        Difference("userPrincipalName", "alice@contoso.com", "alice@contoso.onmicrosoft.com"),)


def test_a_dropped_alias_is_a_difference():
    user = joined_user(proxyAddresses=["SMTP:alice.smith@contoso.com"])
    assert differences(ALICE, user) == (Difference("proxyAddresses", "smtp:alice@contoso.com", None),)


def test_rule_4_provisioning_errors_are_a_difference():
    error = {"category": "PropertyConflict", "propertyCausingError": "ProxyAddress", "value": "alice@contoso.com",
             "occurredDateTime": "2025-01-31T08:15:00Z"}
    found = differences(ALICE, joined_user(onPremisesProvisioningErrors=[error]))
    assert found == (Difference("onPremisesProvisioningErrors", [], [error]),)
    assert found[0].describe() == ("onPremisesProvisioningErrors shows PropertyConflict on ProxyAddress "
                                   "alice@contoso.com")


def test_no_cloud_user_is_a_difference_on_what_found_it():
    by_anchor = ExpectedJoin.from_param({"source_anchor": ANCHOR}, 0)
    assert differences(by_anchor, None) == (Difference("onPremisesImmutableId", ANCHOR, None),)
    assert differences(ALICE, None) == (Difference("id", CLOUD_ID, None),)


def test_the_user_is_found_by_id_else_by_the_exact_anchor():
    other = joined_user(id="99999999-0000-0000-0000-000000000000", onPremisesImmutableId=ANCHOR.lower())
    by_anchor = ExpectedJoin.from_param({"source_anchor": ANCHOR}, 0)
    assert check_join(by_anchor, [other, joined_user()]).user["id"] == CLOUD_ID
    assert check_join(by_anchor, [other]).user is None
    assert check_join(ALICE, [other, joined_user()]).ok


def test_one_lookup_asks_by_id_where_known_else_by_anchor():
    by_anchor = ExpectedJoin.from_param({"source_anchor": "AAAAAAAAAAAAAAAAAAAAAA=="}, 1)
    request = lookup_for([ALICE, by_anchor, ALICE])
    assert request.object_id == (CLOUD_ID,)
    assert request.immutable_id == ("AAAAAAAAAAAAAAAAAAAAAA==",)


def test_the_failure_names_each_pair_and_difference():
    failing = check_join(ALICE, [joined_user(proxyAddresses=["SMTP:alice@fabrikam.com"])])
    passing = check_join(ExpectedJoin.from_param({"label": "bob", "cloud_id": CLOUD_ID}, 1), [joined_user()])
    message = failure_message(Verification((failing, passing), polls=4, elapsed=61.2), timeout=60)
    assert message.startswith("1 of 2 expected joins did not show in Microsoft Entra ID after 61 s (4 polls")
    assert 'alice: primary_smtp is "alice@fabrikam.com", expected "alice.smith@contoso.com"; ' \
           'proxyAddresses lacks smtp:alice@contoso.com' in message
    assert "bob" not in message


def test_a_check_reads_as_the_module_returns_it():
    result = check_join(ALICE, [joined_user(onPremisesSyncEnabled=False)]).as_dict()
    assert result == {
        "label": "alice", "source_anchor": ANCHOR, "cloud_id": CLOUD_ID, "ok": False,
        "differences": [{"attribute": "onPremisesSyncEnabled", "expected": True, "actual": False}],
        "provisioning_errors": [], "user_principal_name": "alice@contoso.com",
        "primary_smtp": "alice.smith@contoso.com", "on_premises_sync_enabled": False,
        "on_premises_last_sync": "2025-01-31T08:15:00Z",
    }


# --- polling ------------------------------------------------------------------------------


class FakeTenant:
    """Graph as the poll loop sees it: a list of users per poll, and a clock that sleeping moves."""

    def __init__(self, rounds):
        self.rounds = list(rounds)
        self.requests = []
        self.now = 0.0

    def read(self, request):
        self.requests.append(request)
        self.now += 1.0  # each lookup takes a second
        return self.rounds.pop(0) if len(self.rounds) > 1 else self.rounds[0]

    def clock(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def test_polls_until_every_pair_shows_and_asks_only_for_pending_pairs():
    bob_id = "11111111-2222-3333-4444-555555555555"
    bob = ExpectedJoin.from_param({"label": "bob", "cloud_id": bob_id}, 1)
    bob_joined = joined_user(id=bob_id, onPremisesImmutableId="Ym9i")
    tenant = FakeTenant([[joined_user(onPremisesSyncEnabled=None)],        # nobody joined yet
                         [joined_user(), joined_user(id=bob_id, onPremisesSyncEnabled=None)],
                         [bob_joined]])
    result = verify_joins(tenant.read, [ALICE, bob], timeout=600, poll_interval=15,
                          clock=tenant.clock, sleep=tenant.sleep)
    assert result.ok and result.polls == 3
    assert [request.object_id for request in tenant.requests] == [(CLOUD_ID, bob_id), (CLOUD_ID, bob_id), (bob_id,)]
    assert result.elapsed == 33.0


def test_gives_up_when_the_next_poll_would_start_after_the_timeout():
    tenant = FakeTenant([[joined_user(onPremisesSyncEnabled=None)]])
    result = verify_joins(tenant.read, [ALICE], timeout=40, poll_interval=15, clock=tenant.clock,
                          sleep=tenant.sleep)
    assert not result.ok
    assert result.polls == 3           # at 0, 16 and 32 s; a fourth would start at 48 s
    assert attributes(result.failed[0].differences) == ["onPremisesSyncEnabled"]


def test_once_polls_a_single_time_without_waiting():
    tenant = FakeTenant([[]])
    result = verify_joins(tenant.read, [ALICE], timeout=600, poll_interval=15, once=True, clock=tenant.clock,
                          sleep=tenant.sleep)
    assert result.polls == 1 and tenant.now == 1.0
    assert attributes(result.failed[0].differences) == ["id"]


def test_nothing_expected_reads_nothing():
    tenant = FakeTenant([[]])
    assert verify_joins(tenant.read, [], timeout=60, poll_interval=5).polls == 0
    assert tenant.requests == []


# --- expected_file: the pairs as a JSON file ---------------------------------------------------


def test_a_json_file_of_pairs_reads_as_the_expected_option_does():
    entry = {"label": "alice", "source_anchor": ANCHOR, "cloud_id": CLOUD_ID,
             "user_principal_name": "alice@contoso.com", "primary_smtp": "alice.smith@contoso.com",
             "proxy_addresses_include": ["alice@contoso.com"]}

    bare = expected_from_json(json.dumps([entry]).encode(), "expected_file f.json")
    keyed = expected_from_json(("\ufeff" + json.dumps({"expected": [entry, {"cloud_id": CLOUD_ID}]})).encode(),
                               "expected_file f.json")

    assert bare == [ALICE]
    assert keyed == [ALICE, ExpectedJoin.from_param({"cloud_id": CLOUD_ID}, 1)]


def test_an_empty_list_of_pairs_is_no_pairs():
    assert expected_from_json(b"[]", "expected_file f.json") == []


@pytest.mark.parametrize(("content", "said"), [
    (b"", "expected_file f.json is empty"),
    (b"  \n", "expected_file f.json is empty"),
    (b'[{"cloud_id": "4c3a1f5e-8d2b-4f6a-9c1e-2b7d5e8f0a13"', "is not valid JSON: Expecting"),
    (b"\xff\xfe[]", "is not UTF-8 text (byte 0xff at offset 0)"),
    (b'{"pairs": []}', "holds the key(s) pairs, not expected"),
    (b'{"expected": [], "more": 1}', "holds the key(s) expected, more, not expected"),
    (b'"alice"', "holds a string, not a list of pairs"),
    (b"null", "holds null, not a list of pairs"),
    (b'[["alice"]]', "entry 0 is a list, not a mapping"),
    (b'[{"cloud_id": "4c3a1f5e-8d2b-4f6a-9c1e-2b7d5e8f0a13", "anchor": "x"}]', "entry 0 has the unknown key(s) anchor"),
    (b'[{"source_anchor": 12}]', "entry 0.source_anchor is a number, not a string"),
    (b'[{"source_anchor": true}]', "entry 0.source_anchor is a boolean, not a string"),
    (b'[{"cloud_id": "4c3a1f5e-8d2b-4f6a-9c1e-2b7d5e8f0a13", "proxy_addresses_include": "a@contoso.com"}]',
     "entry 0.proxy_addresses_include is a string, not a list of strings"),
    (b'[{"cloud_id": "4c3a1f5e-8d2b-4f6a-9c1e-2b7d5e8f0a13", "proxy_addresses_include": [1]}]',
     "not a list of strings"),
    (b'[{"label": "nobody"}]', "entry 0 names neither source_anchor nor cloud_id"),
    (b'[{"cloud_id": "4c3a1f5e-8d2b-4f6a-9c1e-2b7d5e8f0a13"}, {"cloud_id": "not-a-guid"}]',
     "entry 1.cloud_id 'not-a-guid' is not a GUID"),
    (b'[{"cloud_id": "4c3a1f5e-8d2b-4f6a-9c1e-2b7d5e8f0a13", "primary_smtp": "X500:/o=Contoso"}]',
     "entry 0.primary_smtp"),
])
def test_a_bad_expected_file_is_refused_naming_what_is_wrong(content, said):
    with pytest.raises(ConfigurationError) as refused:
        expected_from_json(content, "expected_file f.json")

    assert said in str(refused.value)
    assert str(refused.value).startswith("expected_file f.json")
    assert refused.value.hint
