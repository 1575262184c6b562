"""The undo journal and its restore plan: one test per rule, plain data and a real file."""

import json
import os
import stat

import pytest

from ansible_collections.hybrid.identity.plugins.module_utils.alignment._journal import (
    DamagedLine,
    JournalError,
    JournalRecord,
    append_records,
    digest_of,
    read_journal,
)
from ansible_collections.hybrid.identity.plugins.module_utils.alignment._journal_restore import (
    before_problems,
    plan_restore,
    records_backwards,
    restore_changes,
)
from ansible_collections.hybrid.identity.plugins.module_utils.common._anchor import anchor_bytes

GUID = "2ad37e9a-b40a-4d46-aa48-2d7d273334f6"
DN = "CN=adele,OU=Sales,DC=contoso,DC=com"
ANCHOR = "KtN+mrQKRk2qSC19JzM09g=="
KEY = "a key kept in a vault"
OTHER = "9a7ed32a-0ab4-4d46-aa48-2d7d273334f6"


def state(*proxy_addresses, mail=None, upn="adele@contoso.com", guid=None):
    return {"proxyAddresses": list(proxy_addresses), "mail": mail, "userPrincipalName": upn, "consistency_guid": guid}


ORIGINAL = state("SMTP:adele@contoso.com", "smtp:Adele.Vance@contoso.com", mail="adele@contoso.com")
ALIGNED = state("SMTP:Adele.Vance@contoso.com", "smtp:adele@contoso.com", mail="Adele.Vance@contoso.com")


def record(run_id, before, after, guid=GUID, dn=DN):
    return JournalRecord(run_id, "2025-01-01T00:00:00+00:00", dn, guid, before, after)


def lines_of(path):
    return path.read_text().splitlines()


def test_records_round_trip_through_the_file_and_are_private(tmp_path):
    path = tmp_path / "journal" / "align.jsonl"
    first = record("run1", ORIGINAL, ALIGNED)

    append_records(str(path), [first])
    append_records(str(path), [record("run2", ALIGNED, ORIGINAL)])

    reading = read_journal(str(path))
    assert reading.records[0] == first and [r.run_id for r in reading.records] == ["run1", "run2"]
    assert reading.warnings == [] and reading.damaged == []
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    written = json.loads(lines_of(path)[0])
    assert written["object_guid"] == GUID and written["digest"].startswith("sha256:")
    assert lines_of(path)[0].startswith('{"version": 2, "object_guid": ')  # a torn line still names its user


def test_a_torn_last_line_is_skipped_with_a_warning_naming_its_user(tmp_path):
    path = tmp_path / "align.jsonl"
    append_records(str(path), [record("run1", ORIGINAL, ALIGNED)])
    with open(path, "a") as journal:
        journal.write(record("run2", ALIGNED, ORIGINAL).as_json()[:150])

    reading = read_journal(str(path))

    assert [r.run_id for r in reading.records] == ["run1"]
    [torn] = reading.damaged
    assert torn.line == 2 and torn.torn and torn.object_guid == GUID and torn.distinguished_name == DN
    assert "line 2" in reading.warnings[0]


def test_the_next_append_closes_a_torn_tail_and_the_torn_line_stays_torn(tmp_path):
    path = tmp_path / "align.jsonl"
    append_records(str(path), [record("run1", ORIGINAL, ALIGNED)])
    with open(path, "a") as journal:
        journal.write(record("run2", ALIGNED, ORIGINAL).as_json()[:150])

    warning = append_records(str(path), [record("run3", ORIGINAL, ALIGNED)])

    assert "incomplete record" in warning
    assert len(lines_of(path)) == 3
    reading = read_journal(str(path))
    assert [r.run_id for r in reading.records] == ["run1", "run3"]
    assert [(line.line, line.torn) for line in reading.damaged] == [(2, True)]
    assert append_records(str(path), [record("run4", ORIGINAL, ALIGNED)]) is None  # closed: nothing to mend


def test_a_changed_record_fails_its_digest_and_names_its_user(tmp_path):
    path = tmp_path / "align.jsonl"
    append_records(str(path), [record("run1", ORIGINAL, ALIGNED), record("run1", ORIGINAL, ALIGNED, guid=OTHER)])
    first, second = lines_of(path)
    path.write_text(first.replace("adele@contoso.com", "mallory@contoso.com") + "\n" + second + "\n")

    reading = read_journal(str(path))

    assert [r.object_guid for r in reading.records] == [OTHER]
    [changed] = reading.damaged
    assert not changed.torn and changed.object_guid == GUID and "digest does not match" in changed.reason


def test_a_keyed_journal_is_refused_without_its_key_and_an_unkeyed_one_with_a_key(tmp_path):
    keyed, plain = tmp_path / "keyed.jsonl", tmp_path / "plain.jsonl"
    append_records(str(keyed), [record("run1", ORIGINAL, ALIGNED)], key=KEY)
    append_records(str(plain), [record("run1", ORIGINAL, ALIGNED)])

    assert json.loads(lines_of(keyed)[0])["digest"].startswith("hmac-sha256:")
    assert len(read_journal(str(keyed), key=KEY).records) == 1
    for path, key, reason in ((keyed, None, "give the journal_key"), (keyed, "another key", "not the key"),
                              (plain, KEY, "not signed with journal_key")):
        with pytest.raises(JournalError) as caught:
            read_journal(str(path), key=key)
        assert reason in str(caught.value) and caught.value.hint


def test_a_record_signed_with_the_key_and_edited_without_it_is_refused(tmp_path):
    path = tmp_path / "align.jsonl"
    append_records(str(path), [record("run1", ORIGINAL, ALIGNED), record("run1", ORIGINAL, ALIGNED, guid=OTHER)],
                   key=KEY)
    first, second = (json.loads(line) for line in lines_of(path))
    first["before"]["proxyAddresses"].append("smtp:mallory@evil.example.com")
    first["digest"] = digest_of(first, None)  # a valid digest, without the key
    path.write_text(json.dumps(first) + "\n" + json.dumps(second) + "\n")

    reading = read_journal(str(path), key=KEY)

    assert [r.object_guid for r in reading.records] == [OTHER]
    assert "not signed with journal_key" in reading.damaged[0].reason


def test_version_1_records_are_read_with_a_warning_unless_a_key_is_set(tmp_path):
    path = tmp_path / "align.jsonl"
    old = {"version": 1, "run_id": "run1", "time": "2025-01-01T00:00:00+00:00", "distinguished_name": DN,
           "object_guid": GUID, "before": ORIGINAL, "after": ALIGNED}
    path.write_text(json.dumps(old, sort_keys=True) + "\n")

    reading = read_journal(str(path))

    assert len(reading.records) == 1 and "carry no digest" in reading.warnings[0]
    with pytest.raises(JournalError) as caught:
        read_journal(str(path), key=KEY)
    assert "journal_key asks for signed records" in str(caught.value)


def test_lines_that_are_not_utf8_or_hold_a_malformed_guid_are_damaged_with_what_to_fix(tmp_path):
    path = tmp_path / "align.jsonl"
    good = record("run1", ORIGINAL, ALIGNED, guid=OTHER).as_json()
    bad_guid = record("run1", ORIGINAL, ALIGNED).fields() | {"object_guid": "not-a-guid"}
    bad_guid["digest"] = digest_of(bad_guid, None)
    path.write_bytes(b"\xff\xfe{}\n" + json.dumps(bad_guid).encode() + b"\n" + good.encode() + b"\n")

    reading = read_journal(str(path))

    assert [r.object_guid for r in reading.records] == [OTHER]
    assert "not UTF-8" in reading.damaged[0].reason and reading.damaged[0].object_guid is None
    assert "is not a GUID" in reading.damaged[1].reason


def test_a_file_with_no_valid_record_is_an_error_with_a_hint(tmp_path):
    path = tmp_path / "align.jsonl"
    path.write_bytes("\n".join(["journal"] * 3).encode("utf-16"))

    with pytest.raises(JournalError) as caught:
        read_journal(str(path))
    assert "holds no valid journal record" in str(caught.value) and "UTF-8" in caught.value.hint


def test_attributes_a_journal_never_holds_are_refused(tmp_path):
    path = tmp_path / "align.jsonl"
    fields = record("run1", dict(ORIGINAL, memberOf=["CN=Domain Admins"]), ALIGNED).fields()
    path.write_text(JournalRecord(**{"run_id": "x", "time": "t", "distinguished_name": DN, "object_guid": OTHER,
                                     "before": ORIGINAL, "after": ALIGNED}).as_json() + "\n"
                    + json.dumps(fields | {"digest": digest_of(fields, None)}) + "\n")

    reading = read_journal(str(path))

    assert "memberOf, which a journal never holds" in reading.damaged[0].reason


def test_an_unwritable_journal_fails_with_a_hint(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")

    with pytest.raises(JournalError) as caught:
        append_records(str(blocker / "align.jsonl"), [record("run1", ORIGINAL, ALIGNED)])
    assert caught.value.hint


def test_restore_brings_the_user_from_after_back_to_before():
    [restore] = plan_restore([record("run1", ORIGINAL, ALIGNED)], {GUID: (DN, ALIGNED)})

    assert restore.refusal is None and restore.runs == ("run1",)
    assert restore.target == ORIGINAL
    assert dict((attribute, (delete, add)) for attribute, delete, add in restore.changes) == {
        "proxyAddresses": (("SMTP:Adele.Vance@contoso.com", "smtp:adele@contoso.com"),
                           ("SMTP:adele@contoso.com", "smtp:Adele.Vance@contoso.com")),
        "mail": (("Adele.Vance@contoso.com",), ("adele@contoso.com",)),
    }


def test_the_order_of_proxy_addresses_does_not_count_as_a_change():
    reordered = dict(ALIGNED, proxyAddresses=list(reversed(ALIGNED["proxyAddresses"])))

    [restore] = plan_restore([record("run1", ORIGINAL, ALIGNED)], {GUID: (DN, reordered)})

    assert restore.refusal is None and restore.target == ORIGINAL


def test_a_user_changed_since_is_refused_and_not_written():
    changed = dict(ALIGNED, proxyAddresses=[*ALIGNED["proxyAddresses"], "smtp:new@contoso.com"])

    [restore] = plan_restore([record("run1", ORIGINAL, ALIGNED)], {GUID: (DN, changed)})

    assert restore.refusal and "proxyAddresses" in restore.refusal
    assert restore.changes == () and restore.target == changed


def test_a_user_already_at_before_needs_nothing():
    [restore] = plan_restore([record("run1", ORIGINAL, ALIGNED)], {GUID: (DN, ORIGINAL)})

    assert restore.refusal is None and restore.changes == () and restore.runs == ()


def test_a_deleted_user_is_refused():
    [restore] = plan_restore([record("run1", ORIGINAL, ALIGNED)], {})

    assert "no user with objectGUID" in restore.refusal and restore.changes == ()


def test_runs_are_replayed_newest_first_down_to_the_oldest_before():
    second = state("SMTP:Adele.Vance@contoso.com", "smtp:adele@contoso.com", "smtp:av@contoso.com",
                   mail="Adele.Vance@contoso.com")
    records = [record("run1", ORIGINAL, ALIGNED), record("run2", ALIGNED, second)]

    [restore] = plan_restore(records, {GUID: (DN, second)})

    assert restore.runs == ("run2", "run1") and restore.target == ORIGINAL


def test_one_run_may_be_restored_alone():
    second = state("SMTP:Adele.Vance@contoso.com", "smtp:adele@contoso.com", "smtp:av@contoso.com",
                   mail="Adele.Vance@contoso.com")
    records = [record("run1", ORIGINAL, ALIGNED), record("run2", ALIGNED, second)]

    [restore] = plan_restore(records, {GUID: (DN, second)}, run_id="run2")

    assert restore.runs == ("run2",) and restore.target == ALIGNED


def test_a_replanned_write_supersedes_the_first_record_of_its_run():
    concurrent = dict(ORIGINAL, proxyAddresses=[*ORIGINAL["proxyAddresses"], "smtp:other@contoso.com"])
    replanned = dict(ALIGNED, proxyAddresses=[*ALIGNED["proxyAddresses"], "smtp:other@contoso.com"])
    records = [record("run1", ORIGINAL, ALIGNED), record("run1", concurrent, replanned)]

    assert records_backwards(records) == [records[1]]
    [restore] = plan_restore(records, {GUID: (DN, replanned)})
    assert restore.target == concurrent  # the other writer's address stays


def test_the_consistency_guid_is_restored_as_bytes():
    before, after = state("SMTP:a@contoso.com"), state("SMTP:a@contoso.com", guid=ANCHOR)

    assert restore_changes(after, before) == (("mS-DS-ConsistencyGuid", (anchor_bytes(ANCHOR),), ()),)
    assert restore_changes(before, after) == (("mS-DS-ConsistencyGuid", (), (anchor_bytes(ANCHOR),)),)


def test_restore_plans_follow_the_newest_records_first():
    other = OTHER
    records = [record("run1", ORIGINAL, ALIGNED), record("run1", ORIGINAL, ALIGNED, guid=other, dn="CN=b")]

    restores = plan_restore(records, {GUID: (DN, ALIGNED), other: ("CN=b", ALIGNED)})

    assert [r.object_guid for r in restores] == [other, GUID]


def test_a_record_that_found_nothing_to_write_supersedes_its_run_and_changes_nothing():
    # run2 planned the same alignment at the same time as run1, and found it done when it wrote
    records = [record("run1", ORIGINAL, ALIGNED), record("run2", ORIGINAL, ALIGNED), record("run2", ALIGNED, ALIGNED)]

    [restore] = plan_restore(records, {GUID: (DN, ALIGNED)})

    assert restore.runs == ("run1",) and restore.target == ORIGINAL


def test_a_valid_journal_passes_the_address_rules_even_with_an_old_unroutable_primary():
    local = state("SMTP:adele@contoso.local", mail="adele@contoso.local")
    aligned = state("SMTP:Adele.Vance@contoso.com", "smtp:adele@contoso.local", mail="Adele.Vance@contoso.com")

    assert before_problems(record("run1", ORIGINAL, ALIGNED)) == ([], [])
    assert before_problems(record("run1", local, aligned)) == ([], [])  # held now, only re-cased back


@pytest.mark.parametrize(("before", "problem"), [
    (dict(ORIGINAL, proxyAddresses=[*ORIGINAL["proxyAddresses"], "SMTP:mallory@contoso.com"]), "2 primary SMTP"),
    (dict(ORIGINAL, proxyAddresses=[*ORIGINAL["proxyAddresses"], "smtp:mallory@contoso.com"]), "not held by the user"),
    (dict(ORIGINAL, proxyAddresses=[*ORIGINAL["proxyAddresses"], "smtp:bad address@contoso.com"]), "whitespace"),
    (dict(ORIGINAL, proxyAddresses=[*ORIGINAL["proxyAddresses"], "smtp:a@b@contoso.com"]), "RFC 5322"),
    (dict(ORIGINAL, mail="not-an-address"), "mail: SMTP address 'not-an-address' has no '@'"),
    (dict(ORIGINAL, userPrincipalName="adele@evil.example.com"), "a domain the user holds neither"),
    (dict(ORIGINAL, userPrincipalName="ad ele@contoso.com"), "whitespace"),
    (dict(ORIGINAL, mailNickname="a@b"), "mailNickname 'a@b' holds an '@'"),
    (dict(ORIGINAL, consistency_guid="not base64"), "is not an ImmutableId"),
])
def test_a_before_that_ad_user_smtp_would_refuse_is_not_restored(before, problem):
    bad = record("run1", before, ALIGNED)

    assert any(problem in message for message in before_problems(bad)[0]), before_problems(bad)
    [restore] = plan_restore([bad], {GUID: (DN, ALIGNED)})
    assert restore.problem and problem in restore.problem and restore.changes == ()


def test_a_user_a_damaged_line_names_is_not_restored_but_a_torn_line_blocks_nothing():
    damaged = DamagedLine(3, "its digest does not match its content", False, GUID, DN)
    torn = DamagedLine(4, "it is cut off", True, OTHER, "CN=b")
    records = [record("run1", ORIGINAL, ALIGNED), record("run1", ORIGINAL, ALIGNED, guid=OTHER, dn="CN=b")]

    current = {GUID: (DN, ALIGNED), OTHER: ("CN=b", ALIGNED)}
    restores = {r.object_guid: r for r in plan_restore(records, current, damaged=[damaged, torn])}

    assert "journal line 3" in restores[GUID].problem and restores[GUID].changes == ()
    assert restores[OTHER].problem is None and restores[OTHER].target == ORIGINAL


def test_a_user_only_a_damaged_line_names_is_listed():
    damaged = DamagedLine(1, "its digest does not match its content", False, GUID, DN)

    [restore] = plan_restore([], {GUID: (DN, ALIGNED)}, damaged=[damaged])

    assert restore.object_guid == GUID and restore.distinguished_name == DN and restore.problem


def test_two_primaries_the_user_had_before_the_alignment_are_restored_with_a_warning():
    # the alignment fixed a user with two primaries; its values are held still, one re-cased
    two = state("SMTP:adele@contoso.com", "SMTP:Adele.Vance@contoso.com", mail="adele@contoso.com")
    fixed = state("SMTP:adele@contoso.com", "smtp:Adele.Vance@contoso.com", mail="adele@contoso.com")

    [restore] = plan_restore([record("run1", two, fixed)], {GUID: (DN, fixed)})

    assert restore.problem is None and restore.target == two
    assert "2 primary SMTP addresses" in restore.warnings[0] and restore.as_dict()["warnings"] == list(restore.warnings)


def test_a_mail_in_a_private_domain_is_restored_but_a_malformed_one_is_not():
    before = state("SMTP:adele@contoso.com", mail="adele@contoso.local")
    after = state("SMTP:Adele.Vance@contoso.com", "smtp:adele@contoso.com", mail="Adele.Vance@contoso.com")

    assert before_problems(record("run1", before, after)) == ([], [])
    assert before_problems(record("run1", dict(before, mail="adele@@contoso.com"), after))[0]
