"""The alignment planner: one test per rule, plain data, checked by the real predictor."""

import dataclasses
import uuid

import pytest

from ansible_collections.hybrid.identity.plugins.module_utils.alignment._alignment import (
    AlignmentOptions,
    alignment_request,
    apply_request,
    plan_alignment,
    recheck,
)
from ansible_collections.hybrid.identity.plugins.module_utils.common._anchor import immutable_id
from ansible_collections.hybrid.identity.plugins.module_utils.common._errors import ConfigurationError
from ansible_collections.hybrid.identity.plugins.module_utils.matching._matching_index import CloudIndex
from ansible_collections.hybrid.identity.plugins.module_utils.matching._matching_model import OnPremUser
from ansible_collections.hybrid.identity.plugins.module_utils.matching._pairing import pair_users

GUID_NAMESPACE = uuid.UUID("2a4e0b7d-6f1c-4f51-9a39-1c5e8a902d7b")
TENANT = {"initial_domain": "contoso.onmicrosoft.com", "verified_domains": ["contoso.com"]}
X500 = "X500:/o=ExchangeLabs/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn=diego"


def guid_of(sam):
    return str(uuid.uuid5(GUID_NAMESPACE, sam))


def onprem(sam, *proxy_addresses, mail=None, consistency_guid=None):
    primary = next((value[5:] for value in proxy_addresses if value.startswith("SMTP:")), None)
    return OnPremUser.from_dict({
        "distinguishedName": f"CN={sam},OU=Staff,DC=contoso,DC=com",
        "sAMAccountName": sam,
        "userPrincipalName": f"{sam}@contoso.com",
        "mail": mail or primary,
        "proxyAddresses": list(proxy_addresses),
        "objectGUID": guid_of(sam),
        "mS-DS-ConsistencyGuid": consistency_guid,
    })


def cloud(sam, *proxy_addresses, roles=(), immutable=None, synced=None):
    primary = next((value[5:] for value in proxy_addresses if value.startswith("SMTP:")), None)
    return {
        "id": f"id-{sam}",
        "userPrincipalName": f"{sam}@contoso.com",
        "mail": primary,
        "proxyAddresses": list(proxy_addresses),
        "onPremisesImmutableId": immutable,
        "onPremisesSyncEnabled": synced,
        "admin_roles": list(roles),
    }


def plan(onprem_users, cloud_users, **options):
    pairing = pair_users(onprem_users, cloud_users)
    alignments = plan_alignment(pairing.pairs, onprem_users, CloudIndex.build(cloud_users), TENANT,
                                AlignmentOptions(**options))
    return {alignment.pair.onprem.sam_account_name: alignment for alignment in alignments}


def test_primary_cloud_carries_the_cloud_primary_and_every_secondary_and_keeps_x500():
    diego = onprem("diego", "SMTP:diego@contoso.com", "smtp:dsiciliani@contoso.com", X500)
    cloud_diego = cloud("diego", "SMTP:diego.siciliani@contoso.com", "smtp:diego@contoso.com",
                        "smtp:dsiciliani@contoso.com", "smtp:d.s@contoso.com")

    [alignment] = plan([diego], [cloud_diego]).values()

    assert alignment.status == "aligned"
    assert alignment.request == {"identity": guid_of("diego"), "sync_mail": True,
                                 "primary_smtp": "diego.siciliani@contoso.com",
                                 "secondary_smtp": {"add": ["diego@contoso.com", "dsiciliani@contoso.com",
                                                            "d.s@contoso.com"]}}
    assert alignment.after.proxy_addresses == ("SMTP:diego.siciliani@contoso.com", "smtp:dsiciliani@contoso.com",
                                               "smtp:diego@contoso.com", "smtp:d.s@contoso.com", X500)
    assert alignment.after.mail == "diego.siciliani@contoso.com"  # mail follows the primary
    assert alignment.outcome == "soft_match_smtp"
    assert alignment.visible_changes == []


def test_the_cloud_moera_is_left_out():
    adele = onprem("adele", "SMTP:adele@contoso.com")
    cloud_adele = cloud("adele", "SMTP:Adele.Vance@contoso.com", "smtp:adele@contoso.com",
                        "smtp:adele@contoso.onmicrosoft.com")

    [alignment] = plan([adele], [cloud_adele]).values()

    assert "adele@contoso.onmicrosoft.com" not in alignment.request["secondary_smtp"]["add"]
    assert alignment.status == "aligned" and alignment.visible_changes == []


def test_the_mail_nickname_keeps_the_cloud_moera_through_the_sync():
    """§2: the cloud MOERA is <mailNickname>@<initial domain>; after aligning, the on-prem primary's prefix
    (Adele.Vance) would give another one, and the cloud's adele@contoso.onmicrosoft.com would be dropped."""
    adele = onprem("adele", "SMTP:adele@contoso.com")
    cloud_adele = cloud("adele", "SMTP:Adele.Vance@contoso.com", "smtp:adele@contoso.com",
                        "smtp:adele@contoso.onmicrosoft.com")

    [alignment] = plan([adele], [cloud_adele]).values()

    assert alignment.request["mail_nickname"] == "adele"
    assert alignment.after.mail_nickname == "adele"
    assert alignment.visible_changes == []


def test_an_onprem_mail_nickname_that_names_the_moera_already_is_left_alone():
    nestor = onprem("nestor", "SMTP:nestor.wilke@contoso.com")
    nestor = dataclasses.replace(nestor, mail_nickname="Nestor")
    cloud_nestor = cloud("nestor", "SMTP:nestor.wilke@contoso.com", "smtp:nestor@contoso.onmicrosoft.com")

    [alignment] = plan([nestor], [cloud_nestor]).values()

    assert "mail_nickname" not in (alignment.request or {})  # case aside, it names the MOERA already
    assert alignment.status == "unchanged" and alignment.visible_changes == []


def test_only_one_initial_domain_address_can_be_kept_and_the_other_is_reported():
    lee = onprem("lee", "SMTP:lee@contoso.com")
    cloud_lee = cloud("lee", "SMTP:lee@contoso.com", "smtp:lee@contoso.onmicrosoft.com",
                      "smtp:lgu@contoso.onmicrosoft.com")

    [alignment] = plan([lee], [cloud_lee]).values()

    assert "mail_nickname" not in (alignment.request or {})  # lee: the first one is the MOERA already
    [finding] = alignment.visible_changes
    assert finding.code == "cloud_addresses_will_be_dropped" and "lgu@contoso.onmicrosoft.com" in finding.message


def test_primary_onprem_keeps_the_onprem_primary_and_reports_the_visible_change():
    alex = onprem("alex", "SMTP:alex@contoso.com")
    cloud_alex = cloud("alex", "SMTP:alex.wilber@contoso.com", "smtp:alex@contoso.com", "smtp:awilber@contoso.com")

    [alignment] = plan([alex], [cloud_alex], primary="onprem").values()

    assert "primary_smtp" not in alignment.request
    assert alignment.request["secondary_smtp"]["add"] == ["alex.wilber@contoso.com", "awilber@contoso.com"]
    assert alignment.after.proxy_addresses[0] == "SMTP:alex@contoso.com"
    assert [finding.code for finding in alignment.visible_changes] == ["primary_smtp_will_change"]
    assert alignment.status == "aligned"


def test_a_user_already_aligned_is_unchanged():
    megan = onprem("megan", "SMTP:megan@contoso.com", "smtp:megan.bowen@contoso.com")
    cloud_megan = cloud("megan", "SMTP:Megan@contoso.com", "smtp:megan.bowen@contoso.com")

    [alignment] = plan([megan], [cloud_megan]).values()

    assert alignment.status == "unchanged" and alignment.request is None


def test_rule_3_admin_role_pairs_are_reported_and_not_aligned():
    patti = onprem("patti", "SMTP:patti@contoso.com")
    cloud_patti = cloud("patti", "SMTP:patti.fernandez@contoso.com", "smtp:patti@contoso.com",
                        roles=["Global Administrator"])

    [alignment] = plan([patti], [cloud_patti]).values()

    assert alignment.status == "blocked" and alignment.request is None
    assert any("Global Administrator" in reason for reason in alignment.reasons)


def test_rule_3_immutable_id_mismatch_is_blocked_unless_the_fix_is_asked_for():
    other_anchor = immutable_id(guid_of("somebody-else"))
    grady = onprem("grady", "SMTP:grady@contoso.com")
    cloud_grady = cloud("grady", "SMTP:grady.archie@contoso.com", "smtp:grady@contoso.com", immutable=other_anchor)

    [blocked] = plan([grady], [cloud_grady]).values()
    [fixed] = plan([grady], [cloud_grady], fix_immutable_id_mismatch=True).values()

    assert blocked.status == "blocked" and any("InvalidSoftMatch" in reason for reason in blocked.reasons)
    assert fixed.status == "aligned"
    assert fixed.request["consistency_guid"] == other_anchor
    assert fixed.outcome == "hard_match"


def test_the_anchor_fix_is_not_applied_to_a_cloud_user_synced_from_elsewhere():
    lynne = onprem("lynne", "SMTP:lynne@contoso.com")
    cloud_lynne = cloud("lynne", "SMTP:lynne@contoso.com", immutable=immutable_id(guid_of("old-lynne")), synced=True)

    [alignment] = plan([lynne], [cloud_lynne], fix_immutable_id_mismatch=True).values()

    assert alignment.status == "blocked"
    assert "consistency_guid" not in alignment_request(alignment.pair, AlignmentOptions(fix_immutable_id_mismatch=True))


def test_the_anchor_fix_never_detaches_the_cloud_user_that_carries_the_current_anchor():
    grady = onprem("grady", "SMTP:grady@contoso.com")
    cloud_grady = cloud("grady", "SMTP:grady.archie@contoso.com", "smtp:grady@contoso.com",
                        immutable=immutable_id(guid_of("somebody-else")))
    holder = cloud("old-grady", "SMTP:g.old@contoso.com", immutable=immutable_id(guid_of("grady")))
    [pair] = pair_users([grady], [cloud_grady, holder], rules=["smtp"]).pairs

    [alignment] = plan_alignment([pair], [grady], CloudIndex.build([cloud_grady, holder]), TENANT,
                                 AlignmentOptions(fix_immutable_id_mismatch=True))

    assert alignment.status == "blocked" and "would detach it" in alignment.reasons[0]


def test_a_pair_joined_already_is_left_alone():
    nestor = onprem("nestor", "SMTP:nestor@contoso.com")
    cloud_nestor = cloud("nestor", "SMTP:nestor@contoso.com", "smtp:nw@contoso.com",
                         immutable=immutable_id(guid_of("nestor")), synced=True)

    [alignment] = plan([nestor], [cloud_nestor]).values()

    assert alignment.status == "already_synced" and alignment.request is None


def test_a_cloud_primary_in_the_reserved_domain_is_refused():
    joni = onprem("joni", "SMTP:joni@contoso.com")
    cloud_joni = cloud("joni", "SMTP:joni@contoso.onmicrosoft.com", "smtp:joni@contoso.com")

    [alignment] = plan([joni], [cloud_joni]).values()

    assert alignment.status == "blocked" and "onmicrosoft.com" in alignment.reasons[0]


def test_rule_4_a_secondary_another_onprem_user_holds_blocks_the_pair():
    alex = onprem("alex", "SMTP:alex@contoso.com")
    holder = onprem("team", "SMTP:team@contoso.com", "smtp:awilber@contoso.com")
    cloud_alex = cloud("alex", "SMTP:alex.wilber@contoso.com", "smtp:alex@contoso.com", "smtp:awilber@contoso.com")
    index = CloudIndex.build([cloud_alex])
    [pair] = pair_users([alex], [cloud_alex]).pairs

    [alignment] = plan_alignment([pair], [alex, holder], index, TENANT)

    assert alignment.status == "blocked"
    assert any("awilber@contoso.com" in reason for reason in alignment.reasons)


def test_a_cloud_address_the_onprem_rules_refuse_blocks_only_that_pair():
    megan = onprem("megan", "SMTP:megan@contoso.com")
    grady = onprem("grady", "SMTP:grady@contoso.com")
    cloud_megan = cloud("megan", "SMTP:megan@contoso.com", "smtp:megan bowen@contoso.com")
    cloud_grady = cloud("grady", "SMTP:grady.archie@contoso.com", "smtp:grady@contoso.com")

    alignments = plan([megan, grady], [cloud_megan, cloud_grady])

    assert alignments["megan"].status == "blocked" and "whitespace" in alignments["megan"].reasons[0]
    assert alignments["grady"].status == "aligned"


def test_recheck_is_clean_after_the_alignment_and_not_before():
    alex = onprem("alex", "SMTP:alex@contoso.com")
    cloud_alex = cloud("alex", "SMTP:alex.wilber@contoso.com", "smtp:alex@contoso.com", "smtp:awilber@contoso.com")
    index = CloudIndex.build([cloud_alex])
    [pair] = pair_users([alex], [cloud_alex]).pairs
    [alignment] = plan_alignment([pair], [alex], index, TENANT)
    aligned_pair = type(pair)(alignment.after, pair.cloud, pair.rule, pair.value)

    [before] = recheck([pair], [alex], index, TENANT)
    [after] = recheck([aligned_pair], [alignment.after], index, TENANT)

    assert before["clean"] is False
    assert set(before["findings"]) >= {"primary_smtp_will_change", "cloud_addresses_will_be_dropped"}
    assert after == after | {"clean": True, "outcome": "soft_match_smtp", "reasons": []}


def test_apply_request_is_what_ad_user_smtp_would_write():
    user = onprem("bob", "SMTP:bob@contoso.com", "smtp:Robert@contoso.com")

    after, changed = apply_request(user, {"identity": "bob", "primary_smtp": "robert@contoso.com"})

    assert changed
    assert after.proxy_addresses == ("SMTP:robert@contoso.com", "smtp:bob@contoso.com")  # promoted as asked
    assert after.mail == "robert@contoso.com"


def test_an_unknown_policy_is_refused():
    with pytest.raises(ConfigurationError):
        AlignmentOptions(primary="newest")


@pytest.mark.parametrize("nickname", ["adele@contoso.com", ".adele", "ad ele", "a" * 65])
def test_a_mail_nickname_that_is_no_alias_is_refused_before_anything_is_planned(nickname):
    from ansible_collections.hybrid.identity.plugins.module_utils.common._addresses import AddressError

    with pytest.raises(AddressError, match="mail_nickname"):
        apply_request(onprem("adele", "SMTP:adele@contoso.com"), {"identity": "adele", "mail_nickname": nickname})


def test_a_mail_nickname_is_planned_as_an_exact_replace():
    after, changed = apply_request(onprem("adele", "SMTP:adele@contoso.com"),
                                   {"identity": "adele", "mail_nickname": "adele.v"})

    assert changed and after.mail_nickname == "adele.v"
