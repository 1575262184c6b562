"""The undo journal and its restore plan: one test per rule, plain data and a real file."""

import json
import os
import stat

import pytest

from ansible_collections.hybrid.identity.plugins.module_utils._anchor import anchor_bytes
from ansible_collections.hybrid.identity.plugins.module_utils._journal import (
    JournalError,
    JournalRecord,
    append_records,
    plan_restore,
    read_journal,
    records_backwards,
    restore_changes,
)

GUID = "2ad37e9a-b40a-4d46-aa48-2d7d273334f6"
DN = "CN=adele,OU=Sales,DC=contoso,DC=com"
ANCHOR = "KtN+mrQKRk2qSC19JzM09g=="


def state(*proxy_addresses, mail=None, upn="adele@contoso.com", guid=None):
    return {"proxyAddresses": list(proxy_addresses), "mail": mail, "userPrincipalName": upn, "consistency_guid": guid}


ORIGINAL = state("SMTP:adele@contoso.com", "smtp:Adele.Vance@contoso.com", mail="adele@contoso.com")
ALIGNED = state("SMTP:Adele.Vance@contoso.com", "smtp:adele@contoso.com", mail="Adele.Vance@contoso.com")


def record(run_id, before, after, guid=GUID, dn=DN):
    return JournalRecord(run_id, "2025-01-01T00:00:00+00:00", dn, guid, before, after)


def test_records_round_trip_through_the_file_and_are_private(tmp_path):
    path = tmp_path / "journal" / "align.jsonl"
    first = record("run1", ORIGINAL, ALIGNED)

    append_records(str(path), [first])
    append_records(str(path), [record("run2", ALIGNED, ORIGINAL)])

    records, warnings = read_journal(str(path))
    assert records[0] == first and [r.run_id for r in records] == ["run1", "run2"]
    assert warnings == []
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert json.loads(path.read_text().splitlines()[0])["object_guid"] == GUID


def test_a_torn_last_line_is_skipped_with_a_warning(tmp_path):
    path = tmp_path / "align.jsonl"
    append_records(str(path), [record("run1", ORIGINAL, ALIGNED)])
    with open(path, "a") as journal:
        journal.write('{"version": 1, "run_id": "run2", "ti')

    records, warnings = read_journal(str(path))

    assert [r.run_id for r in records] == ["run1"]
    assert "line 2" in warnings[0]


def test_a_bad_line_before_the_end_is_an_error(tmp_path):
    path = tmp_path / "align.jsonl"
    path.write_text("not json\n" + record("run1", ORIGINAL, ALIGNED).as_json() + "\n")

    with pytest.raises(JournalError) as caught:
        read_journal(str(path))
    assert "line 1" in str(caught.value) and caught.value.hint


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
    other = "9a7ed32a-0ab4-4d46-aa48-2d7d273334f6"
    records = [record("run1", ORIGINAL, ALIGNED), record("run1", ORIGINAL, ALIGNED, guid=other, dn="CN=b")]

    restores = plan_restore(records, {GUID: (DN, ALIGNED), other: ("CN=b", ALIGNED)})

    assert [r.object_guid for r in restores] == [other, GUID]
