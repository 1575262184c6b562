"""Pairing on-prem users with cloud users: one test per rule, plain data."""

import uuid

import pytest

from ansible_collections.hybrid.identity.plugins.module_utils.common._anchor import immutable_id
from ansible_collections.hybrid.identity.plugins.module_utils.matching._pairing import (
    PairingError,
    PairRow,
    pair_users,
    rows_from_csv,
    rows_from_records,
)

GUID_NAMESPACE = uuid.UUID("0b7d6f1c-2a4e-4f51-9a39-8a901c5e2d7b")


def guid_of(sam):
    return str(uuid.uuid5(GUID_NAMESPACE, sam))


def onprem(sam, *proxy_addresses, upn=None, mail=None, employee_id=None):
    return {
        "distinguishedName": f"CN={sam},OU=Staff,DC=contoso,DC=com",
        "sAMAccountName": sam,
        "userPrincipalName": upn if upn is not None else f"{sam}@contoso.com",
        "mail": mail,
        "proxyAddresses": list(proxy_addresses),
        "objectGUID": guid_of(sam),
        "employeeID": employee_id,
    }


def cloud(upn, *proxy_addresses, employee_id=None, immutable=None, object_id=None):
    return {
        "id": object_id or f"id-{upn}",
        "userPrincipalName": upn,
        "proxyAddresses": list(proxy_addresses),
        "employeeId": employee_id,
        "onPremisesImmutableId": immutable,
    }


def pairs_of(pairing):
    return sorted((pair.onprem.sam_account_name, pair.cloud.user_principal_name, pair.rule) for pair in pairing.pairs)


def test_shared_primary_smtp_pairs_with_a_cloud_secondary():
    pairing = pair_users([onprem("adele", "SMTP:adele@contoso.com", upn="a1@contoso.local")],
                         [cloud("adele.vance@contoso.com", "SMTP:Adele.Vance@contoso.com", "smtp:ADELE@contoso.com")])

    assert pairs_of(pairing) == [("adele", "adele.vance@contoso.com", "primary_smtp")]
    assert pairing.pairs[0].value == "smtp:adele@contoso.com"


def test_primary_smtp_is_mail_when_there_is_no_smtp_value():
    pairing = pair_users([onprem("grady", mail="grady@contoso.com", upn="g@contoso.local")],
                         [cloud("ga@contoso.com", "SMTP:grady@contoso.com")])

    assert pairs_of(pairing) == [("grady", "ga@contoso.com", "primary_smtp")]


def test_an_onprem_secondary_pairs_with_the_cloud_primary_after_the_primary_rule():
    pairing = pair_users([onprem("diego", "SMTP:diego@fabrikam.com", "smtp:Diego.Siciliani@contoso.com",
                                 upn="d@contoso.local")],
                         [cloud("ds@contoso.com", "SMTP:diego.siciliani@contoso.com", "smtp:dsiciliani@contoso.com")])

    assert pairs_of(pairing) == [("diego", "ds@contoso.com", "smtp")]


def test_a_secondary_on_both_sides_pairs_nobody():
    """A team alias that lou carries on-prem and leo in the cloud says nothing about who lou is."""
    pairing = pair_users([onprem("lou", "SMTP:lou@contoso.com", "smtp:support.desk@contoso.com",
                                 upn="lou@contoso.com")],
                         [cloud("leo@contoso.com", "SMTP:leo@contoso.com", "smtp:support.desk@contoso.com")])

    assert pairs_of(pairing) == []


def test_the_primary_wins_over_a_secondary_that_points_elsewhere():
    pairing = pair_users([onprem("alex", "SMTP:alex@contoso.com", "smtp:shared@contoso.com", upn="x@contoso.local")],
                         [cloud("alex@contoso.com", "SMTP:alex@contoso.com"),
                          cloud("other@contoso.com", "SMTP:shared@contoso.com")])

    assert pairs_of(pairing) == [("alex", "alex@contoso.com", "primary_smtp")]
    assert not pairing.ambiguous


def test_equal_upn_pairs_case_insensitively():
    pairing = pair_users([onprem("megan", upn="Megan@Contoso.com")], [cloud("megan@contoso.com")])

    assert pairs_of(pairing) == [("megan", "megan@contoso.com", "upn")]


def test_upn_prefix_pairs_through_the_domain_map_only():
    users = [onprem("nestor", upn="nestor@contoso.local"), onprem("patti", upn="patti@elsewhere.local")]
    clouds = [cloud("nestor@contoso.com"), cloud("patti@contoso.com")]

    without = pair_users(users, clouds)
    mapped = pair_users(users, clouds, domain_map={"Contoso.local": "contoso.com"})

    assert pairs_of(without) == []
    assert pairs_of(mapped) == [("nestor", "nestor@contoso.com", "upn_prefix")]
    assert [user.sam_account_name for user in mapped.unpaired_onprem] == ["patti"]


def test_domain_map_may_name_several_cloud_domains():
    pairing = pair_users([onprem("lynne", upn="lynne@contoso.local")], [cloud("lynne@contoso.onmicrosoft.com")],
                         domain_map={"contoso.local": ["contoso.com", "contoso.onmicrosoft.com"]})

    assert pairs_of(pairing) == [("lynne", "lynne@contoso.onmicrosoft.com", "upn_prefix")]


def test_employee_id_pairs_last():
    pairing = pair_users([onprem("joni", upn="joni@contoso.local", employee_id=" E-1042 ")],
                         [cloud("joni.sherman@contoso.com", employee_id="e-1042")])

    assert pairs_of(pairing) == [("joni", "joni.sherman@contoso.com", "employee_id")]


def test_source_anchor_pairs_first():
    anchor = immutable_id(guid_of("isaiah"))
    pairing = pair_users([onprem("isaiah", "SMTP:isaiah@contoso.com")],
                         [cloud("isaiah@contoso.com", "SMTP:isaiah@contoso.com"),
                          cloud("ilanger@contoso.com", immutable=anchor)])

    assert pairs_of(pairing) == [("isaiah", "ilanger@contoso.com", "source_anchor")]


def test_rules_run_in_the_order_given_and_only_those():
    user = onprem("alex", "SMTP:alex@contoso.com", employee_id="7")
    clouds = [cloud("alex@contoso.com", "SMTP:a.w@contoso.com"),
              cloud("aw@contoso.com", "SMTP:alex@contoso.com", employee_id="7")]

    assert pairs_of(pair_users([user], clouds, rules=["upn"])) == [("alex", "alex@contoso.com", "upn")]
    assert pairs_of(pair_users([user], clouds, rules=["employee_id", "upn"])) == [
        ("alex", "aw@contoso.com", "employee_id")]
    assert pairs_of(pair_users([user], clouds, rules=[])) == []


def test_one_onprem_user_matching_two_cloud_users_is_ambiguous_not_guessed():
    pairing = pair_users([onprem("alex", "SMTP:alex@contoso.com")],
                         [cloud("a1@contoso.com", "SMTP:alex@contoso.com"),
                          cloud("a2@contoso.com", "SMTP:a2@contoso.com", "smtp:alex@contoso.com")])

    assert pairing.pairs == ()
    [ambiguity] = pairing.ambiguous
    assert (ambiguity.side, ambiguity.rule) == ("onprem", "primary_smtp")
    assert sorted(c["user_principal_name"] for c in ambiguity.as_dict()["candidates"]) == [
        "a1@contoso.com", "a2@contoso.com"]


def test_one_cloud_user_claimed_by_two_onprem_users_is_ambiguous():
    pairing = pair_users([onprem("a", "SMTP:a@contoso.com", "smtp:team@contoso.com", upn="a@contoso.local"),
                          onprem("b", "SMTP:b@contoso.com", "smtp:team@contoso.com", upn="b@contoso.local")],
                         [cloud("team@contoso.com", "SMTP:team@contoso.com")])

    assert pairing.pairs == ()
    [ambiguity] = pairing.ambiguous
    assert ambiguity.side == "cloud" and ambiguity.rule == "smtp"
    assert sorted(c["sam_account_name"] for c in ambiguity.as_dict()["candidates"]) == ["a", "b"]


def test_ambiguous_users_are_held_out_of_weaker_rules():
    pairing = pair_users([onprem("alex", "SMTP:alex@contoso.com", upn="a1@contoso.com")],
                         [cloud("a1@contoso.com", "SMTP:alex@contoso.com"),
                          cloud("a2@contoso.com", "SMTP:alex2@contoso.com", "smtp:alex@contoso.com")])

    assert pairing.pairs == ()  # the UPN would pick a1, but SMTP found two: reported, not settled by UPN
    assert len(pairing.ambiguous) == 1


def test_paired_users_are_not_candidates_of_later_rules():
    pairing = pair_users([onprem("alex", "SMTP:alex@contoso.com"), onprem("alex2", upn="alex@contoso.com")],
                         [cloud("alex@contoso.com", "SMTP:alex@contoso.com")])

    assert pairs_of(pairing) == [("alex", "alex@contoso.com", "primary_smtp")]
    assert [user.sam_account_name for user in pairing.unpaired_onprem] == ["alex2"]


def test_explicit_rows_pair_by_any_identity_and_win_over_rules():
    users = [onprem("adele", "SMTP:adele@contoso.com"), onprem("alex", "SMTP:alex@contoso.com")]
    clouds = [cloud("adele@contoso.com", "SMTP:adele@contoso.com", object_id="5b1f4a4e-1c0b-4c5e-9a3f-0d1e2c3b4a59"),
              cloud("other@contoso.com", "SMTP:other@contoso.com", "smtp:Alex.W@contoso.com")]
    rows = [PairRow("adele@contoso.com", "other@contoso.com"),
            PairRow(f"{{{guid_of('alex').upper()}}}", "5B1F4A4E-1C0B-4C5E-9A3F-0D1E2C3B4A59")]

    pairing = pair_users(users, clouds, rows=rows)

    assert pairs_of(pairing) == [("adele", "other@contoso.com", "explicit"), ("alex", "adele@contoso.com", "explicit")]


def test_explicit_cloud_identity_may_be_any_smtp_address():
    pairing = pair_users([onprem("alex")], [cloud("aw@contoso.com", "SMTP:alex.wilber@contoso.com",
                                                  "smtp:alex@contoso.com")],
                         rows=[PairRow("CN=alex,OU=Staff,DC=contoso,DC=com", "smtp:ALEX@contoso.com")])

    assert pairs_of(pairing) == [("alex", "aw@contoso.com", "explicit")]


def test_explicit_row_naming_nobody_is_reported_and_its_other_user_is_not_paired_by_rules():
    pairing = pair_users([onprem("adele", "SMTP:adele@contoso.com")], [cloud("adele@contoso.com",
                                                                             "SMTP:adele@contoso.com")],
                         rows=[PairRow("adele", "nobody@contoso.com", line=2)])

    assert pairing.pairs == ()
    [unresolved] = pairing.unresolved
    assert unresolved.side == "cloud" and "nobody@contoso.com" in unresolved.message and "row 2" in unresolved.message
    assert [user.sam_account_name for user in pairing.unpaired_onprem] == ["adele"]


def test_explicit_identity_naming_two_users_is_ambiguous():
    pairing = pair_users([onprem("a", mail="shared@contoso.com"), onprem("b", mail="shared@contoso.com")],
                         [cloud("c@contoso.com")], rows=[PairRow("shared@contoso.com", "c@contoso.com")], rules=[])

    [ambiguity] = pairing.ambiguous
    assert ambiguity.rule == "explicit" and ambiguity.side == "onprem"
    assert ambiguity.as_dict()["user"] == {"identity": "shared@contoso.com"}
    assert len(ambiguity.candidates) == 2


def test_two_rows_naming_the_same_user_pair_neither():
    pairing = pair_users([onprem("a"), onprem("b")], [cloud("c@contoso.com")],
                         rows=[PairRow("a", "c@contoso.com"), PairRow("b", "c@contoso.com")], rules=[])

    assert pairing.pairs == ()
    [ambiguity] = pairing.ambiguous
    assert ambiguity.side == "cloud" and len(ambiguity.candidates) == 2


def test_rows_from_csv_use_the_header_and_skip_blank_lines():
    rows = rows_from_csv("Cloud, OnPrem ,note\nadele@contoso.com,adele,x\n\n , ,\nalex@contoso.com,alex,\n")

    assert [(row.onprem, row.cloud, row.line) for row in rows] == [
        ("adele", "adele@contoso.com", 2), ("alex", "alex@contoso.com", 5)]


@pytest.mark.parametrize("text", ["user,target\nadele,adele@contoso.com\n", "onprem,cloud\nadele,\n"])
def test_bad_csv_is_refused_with_a_hint(text):
    with pytest.raises(PairingError) as caught:
        rows_from_csv(text)
    assert caught.value.hint


def test_rows_from_records_need_both_identities():
    assert rows_from_records([{"onprem": "a", "cloud": "a@contoso.com"}]) == [PairRow("a", "a@contoso.com", 1)]
    with pytest.raises(PairingError):
        rows_from_records([{"onprem": "a"}])
    with pytest.raises(PairingError):
        rows_from_records(["a,a@contoso.com"])


def test_unknown_rule_is_refused():
    with pytest.raises(PairingError):
        pair_users([], [], rules=["display_name"])


def test_results_are_independent_of_input_order():
    users = [onprem("a", "SMTP:a@contoso.com", "smtp:team@contoso.com", upn="a@contoso.local"),
             onprem("b", "SMTP:b@contoso.com", "smtp:team@contoso.com", upn="b@contoso.local"),
             onprem("c", upn="team@contoso.com")]
    clouds = [cloud("team@contoso.com", "SMTP:team@contoso.com")]

    forward = pair_users(users, clouds)
    backward = pair_users(list(reversed(users)), clouds)

    assert pairs_of(forward) == pairs_of(backward) == []  # the team mailbox is contested: c's UPN doesn't settle it
    assert len(forward.ambiguous) == len(backward.ambiguous) == 1


def test_a_cloud_user_an_ambiguous_user_matches_is_not_paired_with_another_claimant():
    """a carries the primaries of c1 and c2 as aliases; b's primary is c1's: who c1 is, the data doesn't say."""
    users = [onprem("a", "SMTP:a@contoso.com", "smtp:c1@contoso.com", "smtp:c2@contoso.com", upn="a@contoso.local"),
             onprem("b", "SMTP:b@contoso.com", "smtp:c1@contoso.com", upn="b@contoso.local")]
    clouds = [cloud("c1@contoso.com", "SMTP:c1@contoso.com"), cloud("c2@contoso.com", "SMTP:c2@contoso.com")]

    for order in (users, list(reversed(users))):
        pairing = pair_users(order, clouds)

        assert pairs_of(pairing) == []
        found = sorted((item.side, item.rule, item.as_dict()["user"].get("sam_account_name")
                        or item.as_dict()["user"]["user_principal_name"],
                        sorted(c.get("sam_account_name") or c["user_principal_name"]
                               for c in item.as_dict()["candidates"])) for item in pairing.ambiguous)
        assert found == [("cloud", "smtp", "c1@contoso.com", ["a", "b"]),
                         ("onprem", "smtp", "a", ["c1@contoso.com", "c2@contoso.com"])]
        assert sorted(user.sam_account_name for user in pairing.unpaired_onprem) == ["a", "b"]


def test_a_contested_claimant_is_held_out_of_weaker_rules():
    users = [onprem("a", "SMTP:a@contoso.com", "smtp:c1@contoso.com", "smtp:c2@contoso.com", upn="a@contoso.local"),
             onprem("b", "SMTP:b@contoso.com", "smtp:c1@contoso.com", upn="b@contoso.local", employee_id="7")]
    clouds = [cloud("c1@contoso.com", "SMTP:c1@contoso.com"), cloud("c2@contoso.com", "SMTP:c2@contoso.com"),
              cloud("c3@contoso.com", "SMTP:c3@contoso.com", employee_id="7")]

    pairing = pair_users(users, clouds)

    assert pairs_of(pairing) == []  # b's employee ID would pick c3, but b is part of c1's contest
