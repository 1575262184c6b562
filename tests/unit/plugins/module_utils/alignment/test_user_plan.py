"""The plan of one AD user's change (rule book §1, §3): exact delete+add values, what is shown is what is written."""

import dataclasses
import itertools
import uuid

import pytest

from ansible_collections.hybrid.identity.plugins.module_utils.ad._ad import AdUser
from ansible_collections.hybrid.identity.plugins.module_utils.alignment._user_plan import UserRequest, plan_user
from ansible_collections.hybrid.identity.plugins.module_utils.common._addresses import AddressError
from ansible_collections.hybrid.identity.plugins.module_utils.common._anchor import AnchorError, anchor_bytes

GUID = "2ad37e9a-b40a-4d46-aa48-2d7d273334f6"
ANCHOR_GUID = "9a7ed32a-0ab4-4d46-aa48-2d7d273334f6"
ANCHOR = "KtN+mrQKRk2qSC19JzM09g=="  # the ImmutableId of ANCHOR_GUID (rule book §3: base64 of its bytes_le)
DN = "CN=Adele Vance,OU=Staff,DC=contoso,DC=com"
X500 = "X500:/o=ExchangeLabs/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn=adele"
FIELDS = {"proxyAddresses": "proxy_addresses", "mail": "mail", "userPrincipalName": "user_principal_name",
          "mS-DS-ConsistencyGuid": "consistency_guid", "mailNickname": "mail_nickname"}


def adele(*proxy_addresses, mail="adele@contoso.com", upn="adele@contoso.com", guid=None, nickname="adele"):
    return AdUser(distinguished_name=DN, object_guid=GUID, sam_account_name="adele", user_principal_name=upn,
                  mail=mail, proxy_addresses=proxy_addresses or ("SMTP:adele@contoso.com", X500),
                  consistency_guid=guid, mail_nickname=nickname)


def plan(user, **params):
    return plan_user(user, UserRequest.from_params({"identity": "adele"} | params))


def written(user, user_plan):
    """The user as a directory holds it after the plan's modify: each delete must name a stored value exactly."""
    values = {attribute: _values(getattr(user, name)) for attribute, name in FIELDS.items()}
    for attribute, delete, add in user_plan.changes:
        for value in delete:
            assert value in values[attribute], f"{attribute}: {value!r} is not stored, the modify would fail"
            values[attribute].remove(value)
        for value in add:
            # rule book §1: AD compares proxyAddresses case-insensitively, so adding a value it holds fails the modify
            if attribute == "proxyAddresses":
                assert value.lower() not in [held.lower() for held in values[attribute]], value
            values[attribute].append(value)
    return dataclasses.replace(user, proxy_addresses=tuple(values["proxyAddresses"]),
                               **{name: _single(values[attribute]) for attribute, name in FIELDS.items()
                                  if attribute != "proxyAddresses"})


def _values(value):
    if isinstance(value, tuple):
        return list(value)
    return [] if value is None else [value]


def _single(values):
    assert len(values) <= 1, f"a single-valued attribute would hold {values}"
    return values[0] if values else None


def test_a_new_primary_demotes_the_old_one_and_mail_follows():
    """Rule book §1: promotion deletes the exact stored values and adds the new ones in one modify."""
    user = adele("SMTP:adele@contoso.com", "smtp:Adele.Vance@contoso.com", X500)

    user_plan = plan(user, primary_smtp="adele.vance@contoso.com")

    assert user_plan.changes == (
        ("proxyAddresses", ("SMTP:adele@contoso.com", "smtp:Adele.Vance@contoso.com"),
         ("SMTP:adele.vance@contoso.com", "smtp:adele@contoso.com")),
        ("mail", ("adele@contoso.com",), ("adele.vance@contoso.com",)),
    )
    assert user_plan.after["proxyAddresses"] == ["SMTP:adele.vance@contoso.com", "smtp:adele@contoso.com", X500]
    assert user_plan.after["mail"] == "adele.vance@contoso.com"
    assert user_plan.changed


def test_the_old_primary_goes_when_it_is_not_to_be_kept():
    user_plan = plan(adele(), primary_smtp="adele.vance@contoso.com", keep_old_primary=False)

    assert user_plan.changes[0] == ("proxyAddresses", ("SMTP:adele@contoso.com",),
                                    ("SMTP:adele.vance@contoso.com",))
    assert user_plan.after["proxyAddresses"] == ["SMTP:adele.vance@contoso.com", X500]


def test_secondaries_added_removed_and_set_touch_only_what_they_name():
    user = adele("SMTP:adele@contoso.com", "smtp:a.vance@contoso.com", "smtp:av@contoso.com", X500)

    added = plan(user, secondary_smtp={"add": ["Adele.V@contoso.com", "AV@contoso.com"]})
    removed = plan(user, secondary_smtp={"remove": ["A.Vance@Contoso.com"]})
    replaced = plan(user, secondary_smtp={"set": ["av@contoso.com", "new@contoso.com"]})

    # av@ is held already in another case: AD would refuse the twin (rule book §1), so it is not added
    assert added.changes == (("proxyAddresses", (), ("smtp:Adele.V@contoso.com",)),)
    # the removal names the value in any case; the delete names it as stored
    assert removed.changes == (("proxyAddresses", ("smtp:a.vance@contoso.com",), ()),)
    assert replaced.changes == (("proxyAddresses", ("smtp:a.vance@contoso.com",), ("smtp:new@contoso.com",)),)
    assert X500 in replaced.after["proxyAddresses"]  # set on SMTP secondaries keeps the other types


def test_other_addresses_are_planned_beside_the_smtp_ones():
    user_plan = plan(adele(), other_addresses={"add": ["SIP:adele@contoso.com"], "remove": [X500.lower()]})

    assert user_plan.changes == (("proxyAddresses", (X500,), ("SIP:adele@contoso.com",)),)
    assert user_plan.after["proxyAddresses"] == ["SMTP:adele@contoso.com", "SIP:adele@contoso.com"]


def test_mail_follows_a_re_cased_primary_but_not_when_told_not_to():
    """Rule book §1: mail holds the primary SMTP address without prefix, by convention."""
    user = adele("SMTP:Adele@Contoso.com", X500, mail="adele@contoso.com")

    assert plan(user).changes == (("mail", ("adele@contoso.com",), ("Adele@Contoso.com",)),)
    assert plan(user, sync_mail=False).changes == ()
    assert plan(adele(mail=None)).changes == (("mail", (), ("adele@contoso.com",)),)
    # without a primary there is nothing for mail to follow
    assert plan(adele("smtp:adele@contoso.com", mail="adele@contoso.com")).changes == ()


def test_upn_is_replaced_exactly_and_a_missing_one_is_only_added():
    assert plan(adele(), user_principal_name="Adele.Vance@contoso.com").changes == (
        ("userPrincipalName", ("adele@contoso.com",), ("Adele.Vance@contoso.com",)),)
    assert plan(adele(upn=None), user_principal_name="adele@contoso.com").changes == (
        ("userPrincipalName", (), ("adele@contoso.com",)),)
    assert plan(adele(), user_principal_name="adele@contoso.com").changes == ()


@pytest.mark.parametrize("given", [ANCHOR_GUID, "{" + ANCHOR_GUID.upper() + "}", ANCHOR])
def test_consistency_guid_is_written_as_the_sixteen_bytes_of_its_immutable_id(given):
    """Rule book §3: the source anchor is base64 of the GUID bytes as AD stores them (bytes_le)."""
    user_plan = plan(adele(), consistency_guid=given)

    assert user_plan.changes == (("mS-DS-ConsistencyGuid", (), (uuid.UUID(ANCHOR_GUID).bytes_le,)),)
    assert user_plan.before["consistency_guid"] is None
    assert user_plan.after["consistency_guid"] == ANCHOR


def test_a_different_consistency_guid_replaces_the_stored_bytes():
    stored = anchor_bytes(ANCHOR)
    user_plan = plan(adele(guid=stored), consistency_guid=GUID)

    [(attribute, delete, add)] = user_plan.changes
    assert (attribute, delete) == ("mS-DS-ConsistencyGuid", (stored,))
    assert add == (uuid.UUID(GUID).bytes_le,)
    assert user_plan.before["consistency_guid"] == ANCHOR
    assert plan(adele(guid=stored), consistency_guid=ANCHOR).changes == ()


def test_mail_nickname_is_replaced_exactly():
    """Rule book §2: the MOERA is <mailNickname>@<initial domain>, so the alias is planned like the rest."""
    assert plan(adele(), mail_nickname="adele.vance").changes == (("mailNickname", ("adele",), ("adele.vance",)),)
    assert plan(adele(nickname=None), mail_nickname="adele").changes == (("mailNickname", (), ("adele",)),)
    assert plan(adele(), mail_nickname="adele").changes == ()


@pytest.mark.parametrize(("params", "rule"), [
    ({"user_principal_name": "adele vance@contoso.com"}, "whitespace"),
    ({"user_principal_name": "adele"}, "missing_at"),
    ({"user_principal_name": "adele.@contoso.com"}, "prefix_ends_with_dot"),
    ({"mail_nickname": "adele@contoso.com"}, "mail_nickname"),
    ({"mail_nickname": ""}, "mail_nickname"),
    ({"primary_smtp": "adele@contoso.local"}, "unroutable_domain"),
    ({"primary_smtp": "adele@contoso.com", "secondary_smtp": {"remove": ["adele@contoso.com"]}}, "remove_primary"),
    ({"secondary_smtp": {"add": ["SMTP:other@contoso.com"]}}, "two_primaries"),
    ({"secondary_smtp": {"add": ["a@contoso.com"], "remove": ["A@contoso.com"]}}, "conflicting_request"),
    ({"other_addresses": {"add": ["smtp:a@contoso.com"]}}, "smtp_in_other_addresses"),
])
def test_bad_input_raises_before_anything_is_planned(params, rule):
    """Rule book §1: every requested value is checked when the request is built, not when it is written."""
    with pytest.raises(AddressError) as refused:
        UserRequest.from_params({"identity": "adele"} | params)
    assert refused.value.rule == rule
    assert refused.value.hint


@pytest.mark.parametrize("guid", ["not-a-guid", "AAAA", "  "])
def test_a_consistency_guid_that_is_neither_guid_nor_immutable_id_raises(guid):
    with pytest.raises(AnchorError) as refused:
        UserRequest.from_params({"identity": "adele", "consistency_guid": guid})
    assert refused.value.hint


REQUESTS = [
    {"primary_smtp": "adele.vance@contoso.com"},
    {"primary_smtp": "Adele.Vance@contoso.com", "keep_old_primary": False,
     "secondary_smtp": {"add": ["av@contoso.com"], "remove": ["a.vance@contoso.com"]}},
    {"secondary_smtp": {"set": ["adele.v@contoso.com", "ADELE.VANCE@contoso.com"]},
     "other_addresses": {"set": ["SIP:adele@contoso.com"]}},
    {"other_addresses": {"add": ["sip:adele@contoso.com", X500.lower()]}},  # X500 in another case: already held
    {"user_principal_name": "Adele.Vance@contoso.com", "consistency_guid": GUID, "mail_nickname": "avance"},
    {"primary_smtp": "SMTP:a.vance@contoso.com", "sync_mail": False},
]


@pytest.mark.parametrize("params", REQUESTS)
def test_a_second_plan_of_the_same_request_against_the_result_is_empty(params):
    user = adele("SMTP:adele@contoso.com", "smtp:a.vance@contoso.com", "SIP:Adele@Contoso.com", X500)

    first = plan(user, **params)
    result = written(user, first)
    second = plan(result, **params)

    assert first.changed
    assert second.changes == () and not second.changed
    assert second.before == second.after == first.after | {"proxyAddresses": list(result.proxy_addresses)}


@pytest.mark.parametrize("params", REQUESTS)
def test_the_after_shown_is_what_the_changes_write(params):
    user = adele("SMTP:adele@contoso.com", "smtp:a.vance@contoso.com", "SIP:Adele@Contoso.com", X500)

    user_plan = plan(user, **params)
    result = written(user, user_plan)

    # the directory does not keep the order of proxyAddresses values
    assert sorted(result.proxy_addresses) == sorted(user_plan.after["proxyAddresses"])
    assert (result.mail, result.user_principal_name, result.mail_nickname) == (
        user_plan.after["mail"], user_plan.after["userPrincipalName"], user_plan.after["mailNickname"])
    assert user_plan.diff["before"] == user_plan.before and user_plan.diff["after"] == user_plan.after


def test_an_empty_request_changes_nothing_and_still_reports_old_problems():
    user = adele("SMTP:adele@contoso.com", "smtp:old@contoso.local", X500)

    user_plan = plan(user)

    assert user_plan.changes == () and not user_plan.changed
    assert user_plan.before == user_plan.after
    assert user_plan.result["changed"] is False
    assert user_plan.result["added"] == [] and user_plan.result["removed"] == []
    [warning] = user_plan.result["warnings"]
    assert "contoso.local" in warning and "not routable" in warning  # kept as it is, but said


def test_diff_and_result_name_the_user_and_the_exact_values():
    user_plan = plan(adele(), primary_smtp="adele.vance@contoso.com", user_principal_name="Adele.Vance@contoso.com")

    assert user_plan.diff == {"before_header": DN, "after_header": DN,
                              "before": user_plan.before, "after": user_plan.after}
    assert user_plan.before == {"proxyAddresses": ["SMTP:adele@contoso.com", X500], "mail": "adele@contoso.com",
                                "userPrincipalName": "adele@contoso.com", "consistency_guid": None,
                                "mailNickname": "adele"}
    assert user_plan.result == {
        "identity": "adele", "distinguished_name": DN, "changed": True,
        "before": user_plan.before, "after": user_plan.after,
        "added": ["SMTP:adele.vance@contoso.com", "smtp:adele@contoso.com"],
        "removed": ["SMTP:adele@contoso.com"],
        "warnings": [],
    }


def test_the_request_keeps_what_it_was_given():
    request = UserRequest.from_params({"identity": GUID, "primary_smtp": "SMTP:Adele.Vance@contoso.com",
                                       "consistency_guid": ANCHOR, "sync_mail": False,
                                       "user_principal_name": "adele@contoso.com", "mail_nickname": "adele"})

    assert request.identity == GUID
    assert request.addresses.primary_smtp == "Adele.Vance@contoso.com"  # bare, case as given
    assert request.consistency_guid == anchor_bytes(ANCHOR)
    assert request.sync_mail is False
    assert (request.user_principal_name, request.mail_nickname) == ("adele@contoso.com", "adele")
    assert UserRequest.from_params({"identity": "adele"}).sync_mail is True


SWEEP_STORED = [(), ("smtp:a@contoso.com",), ("SMTP:a@contoso.com", "smtp:B@contoso.com"),
                ("SMTP:A@contoso.com", "SMTP:b@contoso.com"), ("SMTP:a@contoso.com", "sip:a@contoso.com", X500),
                ("SMTP:a@contoso.com", "smtp:old@contoso.local", "junk")]
SWEEP_PRIMARY = [None, "A@Contoso.com", "b@contoso.com"]
SWEEP_SECONDARY = [None, {"add": ["B@contoso.com", "c@contoso.com"]},
                   {"remove": ["b@contoso.com", "old@contoso.local"]},
                   {"set": ["a@contoso.com", "c@contoso.com"]}, {"set": []}]
SWEEP_OTHERS = [None, {"add": ["SIP:a@contoso.com"]}, {"set": [X500.lower()]}]


def test_every_combination_of_a_small_sweep_writes_what_it_shows_and_settles_in_one_plan():
    """Rule book §1 over stored values and requests together: each plan is a valid modify, and the next is empty."""
    planned = 0
    for stored, primary, secondary, others, keep, mail in itertools.product(
            SWEEP_STORED, SWEEP_PRIMARY, SWEEP_SECONDARY, SWEEP_OTHERS, [True, False], [None, "a@contoso.com"]):
        params = {"primary_smtp": primary, "secondary_smtp": secondary, "other_addresses": others,
                  "keep_old_primary": keep}
        case = (stored, params, mail)
        user = dataclasses.replace(adele(mail=mail), proxy_addresses=stored)
        try:
            first = plan(user, **params)
        except AddressError:
            continue  # refused before anything is planned; the cases above say which
        result = written(user, first)
        assert sorted(result.proxy_addresses) == sorted(first.after["proxyAddresses"]), case
        assert result.mail == first.after["mail"], case
        assert plan(result, **params).changes == (), case
        planned += 1
    assert planned > 200  # most of the sweep is plannable: the loop above really ran
