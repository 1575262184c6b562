"""smtp_align's planned writes and what each came to, with plain data and a real journal file.

The writing itself (write_journaled, write_restore) needs a directory and is left to the integration tests.
"""

import uuid

import pytest

from ansible_collections.hybrid.identity.plugins.module_utils.ad._ad import AdConnectionError, AdUser
from ansible_collections.hybrid.identity.plugins.module_utils.alignment._journal import read_journal
from ansible_collections.hybrid.identity.plugins.module_utils.alignment._journaled_writes import (
    NOT_TRIED_HINT,
    WriteReport,
    current_states,
    planned_writes,
    settle,
)
from ansible_collections.hybrid.identity.plugins.module_utils.common._addresses import AddressError
from ansible_collections.hybrid.identity.plugins.module_utils.common._errors import HybridIdentityError

NAMESPACE = uuid.UUID("6c1f3f59-0d0a-4a9e-8f57-3b8f2b1c4e11")
KEY = "a key kept in a vault"


def guid_of(sam):
    return str(uuid.uuid5(NAMESPACE, sam))


def ad_user(sam, *proxy_addresses, mail=None):
    primary = next((value[5:] for value in proxy_addresses if value.startswith("SMTP:")), None)
    return AdUser(distinguished_name=f"CN={sam},OU=Staff,DC=contoso,DC=com", object_guid=guid_of(sam),
                  sam_account_name=sam, user_principal_name=f"{sam}@contoso.com", mail=mail or primary,
                  proxy_addresses=proxy_addresses, mail_nickname=sam)


USERS = {user.object_guid: user for user in [
    ad_user("adele", "SMTP:adele@contoso.com"),
    ad_user("diego", "SMTP:diego@contoso.com", "smtp:ds@contoso.com"),
    ad_user("megan", "SMTP:megan.bowen@contoso.com", "smtp:megan@contoso.com"),
    ad_user("nina", "SMTP:nina@contoso.com"),
]}


def request(sam, **params):
    return {"identity": guid_of(sam), "sync_mail": True} | params


REQUESTS = [request("adele", primary_smtp="adele.vance@contoso.com"),
            request("diego", secondary_smtp={"add": ["diego.s@contoso.com"]}),
            request("megan", primary_smtp="megan.bowen@contoso.com"),   # aligned already
            request("nina", primary_smtp="nina.smith@contoso.com")]


def writes():
    return {write.user.sam_account_name: write for write in planned_writes(USERS, REQUESTS)}


def report_for(tmp_path, key=None):
    return WriteReport(str(tmp_path / "journal" / "align.jsonl"), "run-1", key)


# --- planning ---------------------------------------------------------------------------------


def test_each_request_is_planned_against_the_user_it_names_by_object_guid():
    planned = planned_writes(USERS, REQUESTS)

    assert [write.user.sam_account_name for write in planned] == ["adele", "diego", "megan", "nina"]
    adele, diego, megan, _nina = planned
    assert adele.request.addresses.primary_smtp == "adele.vance@contoso.com"
    assert adele.plan.changes == (
        ("proxyAddresses", ("SMTP:adele@contoso.com",), ("SMTP:adele.vance@contoso.com", "smtp:adele@contoso.com")),
        ("mail", ("adele@contoso.com",), ("adele.vance@contoso.com",)))
    assert diego.plan.changes == (("proxyAddresses", (), ("smtp:diego.s@contoso.com",)),)
    assert megan.plan.changes == () and not megan.plan.changed
    assert adele.plan.distinguished_name == "CN=adele,OU=Staff,DC=contoso,DC=com"


def test_users_no_request_names_are_not_planned():
    planned = planned_writes(USERS, [request("diego", secondary_smtp={"add": ["d@contoso.com"]})])
    assert [write.user.object_guid for write in planned] == [guid_of("diego")]


def test_one_bad_request_refuses_the_whole_plan():
    """Rule book §1: every requested value is checked before anything is planned for writing."""
    bad = request("nina", primary_smtp="nina@contoso.local")
    with pytest.raises(AddressError) as refused:
        planned_writes(USERS, [*REQUESTS[:2], bad])
    assert refused.value.rule == "unroutable_domain"


# --- what each write came to ------------------------------------------------------------------


def broken_report(tmp_path, key=None):
    """A run whose connection broke while writing nina: adele written, diego refused, megan never tried."""
    planned = writes()
    report = report_for(tmp_path, key)
    report.written.append((guid_of("adele"), planned["adele"].plan))
    report.failed.append((guid_of("diego"), planned["diego"].plan,
                          HybridIdentityError("the directory refused the change", hint="ask the AD team")))
    report.uncertain = (guid_of("nina"), planned["nina"].plan, AdConnectionError("connection reset"))
    report.not_tried.append((guid_of("megan"), planned["megan"].plan))
    return report


def test_each_user_has_one_outcome_and_one_not_planned_has_none(tmp_path):
    report = broken_report(tmp_path)

    assert {sam: report.outcome(guid_of(sam)) for sam in ("adele", "diego", "megan", "nina", "zoe")} == {
        "adele": "written", "diego": "failed", "megan": "not_tried", "nina": "uncertain", "zoe": None}
    assert str(report.broken) == "connection reset"
    assert report_for(tmp_path).broken is None


def test_failures_say_what_was_not_written_and_what_is_not_known(tmp_path):
    report = broken_report(tmp_path)
    report.done_already.append((guid_of("zoe"), writes()["diego"].plan))  # nothing to say about it

    rows = report.failures()

    assert [(row["distinguished_name"], row["written"]) for row in rows] == [
        ("CN=diego,OU=Staff,DC=contoso,DC=com", False),
        ("CN=nina,OU=Staff,DC=contoso,DC=com", None),   # the write under way at the break: not known
        ("CN=megan,OU=Staff,DC=contoso,DC=com", False)]
    assert rows[0] == {"distinguished_name": "CN=diego,OU=Staff,DC=contoso,DC=com", "written": False,
                       "msg": "the directory refused the change", "hint": "ask the AD team"}
    assert "connection reset" in rows[1]["msg"] and "run the same task again" in rows[1]["hint"]
    assert rows[2]["hint"] == NOT_TRIED_HINT and "before its turn" in rows[2]["msg"]
    assert report_for(tmp_path).failures() == []


# --- settling after a break -------------------------------------------------------------------


def uncertain_report(tmp_path, key=None):
    planned = writes()
    report = report_for(tmp_path, key)
    report.uncertain = (guid_of("adele"), planned["adele"].plan, AdConnectionError("connection reset"))
    report.not_tried.append((guid_of("nina"), planned["nina"].plan))
    return report, planned


def read_as(user, proxy_addresses, mail):
    return AdUser(user.distinguished_name, user.object_guid, user.sam_account_name, user.user_principal_name, mail,
                  tuple(proxy_addresses), user.consistency_guid, user.mail_nickname)


def test_a_write_found_applied_when_read_again_counts_as_written(tmp_path):
    report, planned = uncertain_report(tmp_path)
    adele = USERS[guid_of("adele")]
    after = planned["adele"].plan.after
    # the directory does not keep the order of proxyAddresses values
    read_back = {adele.object_guid: read_as(adele, reversed(after["proxyAddresses"]), after["mail"])}

    settle(report, read_back)

    assert report.uncertain is None and report.outcome(guid_of("adele")) == "written"
    assert [record.object_guid for record in read_journal(report.journal_path).records] == [guid_of("nina")]


def test_a_write_found_not_applied_becomes_a_failure_journaled_as_nothing_written(tmp_path):
    report, planned = uncertain_report(tmp_path)
    adele = USERS[guid_of("adele")]

    settle(report, {adele.object_guid: adele})

    assert report.uncertain is None and report.outcome(guid_of("adele")) == "failed"
    [(_guid, _plan, error)] = report.failed
    assert isinstance(error, AdConnectionError) and error.hint == NOT_TRIED_HINT
    assert "not written: the connection broke while CN=adele" in str(error)
    records = read_journal(report.journal_path).records
    assert [record.object_guid for record in records] == [guid_of("adele"), guid_of("nina")]
    # each supersedes the run's first record of its user: before is after, the plan's before
    assert all(record.changes_nothing and record.run_id == "run-1" for record in records)
    assert records[0].before == planned["adele"].plan.before == records[0].after
    assert report.appended == 2


@pytest.mark.parametrize("read_back", [None, {}])
def test_a_write_that_could_not_be_read_again_stays_uncertain(tmp_path, read_back):
    report, _planned = uncertain_report(tmp_path)

    settle(report, read_back)

    assert report.outcome(guid_of("adele")) == "uncertain"
    assert [record.object_guid for record in read_journal(report.journal_path).records] == [guid_of("nina")]


def test_writes_another_writer_did_are_journaled_as_nothing_written_and_signed_with_the_key(tmp_path):
    planned = writes()
    report = report_for(tmp_path, KEY)
    report.done_already.append((guid_of("diego"), planned["diego"].plan))

    settle(report, None)

    reading = read_journal(report.journal_path, KEY)  # a wrong or missing digest would make it damaged
    assert [record.object_guid for record in reading.records] == [guid_of("diego")]
    assert reading.damaged == [] and reading.unsigned == 0


def test_a_run_with_nothing_unwritten_journals_nothing(tmp_path):
    report = report_for(tmp_path)
    report.written.append((guid_of("adele"), writes()["adele"].plan))

    settle(report, None)

    assert report.appended == 0
    assert not (tmp_path / "journal" / "align.jsonl").exists()


def test_a_torn_journal_tail_is_closed_and_said(tmp_path):
    report = report_for(tmp_path)
    (tmp_path / "journal").mkdir()
    (tmp_path / "journal" / "align.jsonl").write_text('{"version": 2, "object_guid": "cut')
    report.not_tried.append((guid_of("nina"), writes()["nina"].plan))

    settle(report, None)

    [warning] = report.warnings
    assert "ended in an incomplete record" in warning
    assert [record.object_guid for record in read_journal(report.journal_path).records] == [guid_of("nina")]


# --- restore's view of the users --------------------------------------------------------------


def test_current_states_are_the_journaled_values_of_each_user_by_object_guid():
    adele = USERS[guid_of("adele")]
    anchored = AdUser(adele.distinguished_name, adele.object_guid, "adele", "adele@contoso.com", "adele@contoso.com",
                      adele.proxy_addresses, uuid.UUID("9a7ed32a-0ab4-4d46-aa48-2d7d273334f6").bytes_le, "adele")

    assert current_states({adele.object_guid: anchored}) == {adele.object_guid: (
        "CN=adele,OU=Staff,DC=contoso,DC=com",
        {"proxyAddresses": ["SMTP:adele@contoso.com"], "mail": "adele@contoso.com",
         "userPrincipalName": "adele@contoso.com", "consistency_guid": "KtN+mrQKRk2qSC19JzM09g==",
         "mailNickname": "adele"})}
