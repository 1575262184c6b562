"""smtp_align and ad_user_restore under faults: the DC paused or restarted mid-run, two runs at once, torn and
edited journals.

After each, AD is read with ldapsearch (never with the code under test): no value is lost, and what the task
says it did is what the directory shows. The lab's Samba is paused with SIGSTOP: only the samba processes of
this lab (its pid file, or holding files of its directory) in this network namespace are ever signalled.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.integration._ansible import ansible_env, start_playbook
from tests.integration._ldif import highest_committed_usn, snapshot
from tests.integration.test_smtp_align import (
    AD_OPTIONS,
    GRAPH_OPTIONS,
    SlowLdap,
    by_name,
    comparable,
    connection,
    recap,
    with_result,
)

USERS = 30
OU = "OU=Crowd"
# seconds the module waits for an answer: the pauses below are longer, so every wait ends in a timeout
AD_TIMEOUT = 3
RESTART_TIMEOUT = 12


def crowd(count: int = USERS) -> dict:
    """`count` pairs whose cloud mailbox sends as an address the on-prem user holds only as a secondary."""
    cloud, ad = [], []
    for number in range(count):
        name = f"crowd{number:02d}"
        cloud.append({"userPrincipalName": f"{name}@contoso.com", "mail": f"First.Last{number:02d}@contoso.com",
                      "proxyAddresses": [f"SMTP:First.Last{number:02d}@contoso.com", f"smtp:{name}@contoso.com",
                                         f"smtp:fl{number:02d}@contoso.com"]})
        ad.append({"sAMAccountName": name, "ou": OU, "userPrincipalName": f"{name}@contoso.com",
                   "mail": f"{name}@contoso.com",
                   "proxyAddresses": [f"SMTP:{name}@contoso.com", f"X500:/o=Lab/ou=Recipients/cn={name}"]})
    tenant = {"initial_domain": "contoso.onmicrosoft.com", "verified_domains": ["contoso.com"]}
    return {"description": f"{count} users to align", "tenant": tenant, "cloud": {"users": cloud},
            "ad": {"users": ad}}


@pytest.fixture
def crowded(lab, lab_vars):
    """The crowd loaded; yields the scope's snapshot before anything ran."""
    lab.load(crowd())
    return snapshot(lab_vars, lab_vars["lab_scenario_ou"])


# --- the lab's Samba ----------------------------------------------------------------------------


def _same_namespace(pid: int) -> bool:
    try:
        return os.readlink(f"/proc/{pid}/ns/net") == os.readlink("/proc/self/ns/net")
    except OSError:
        return False


def _is_samba(pid: int) -> bool:
    try:
        return os.path.basename(os.readlink(f"/proc/{pid}/exe")) == "samba"
    except OSError:
        return False


def _holds_files_under(pid: int, root: Path) -> bool:
    prefix = str(root) + os.sep
    try:
        return any(os.readlink(fd).startswith(prefix) for fd in Path(f"/proc/{pid}/fd").iterdir())
    except OSError:
        return False


def lab_samba_pids(lab) -> list[int]:
    """This lab's samba processes: the one its pid file names and any holding files of its directory."""
    samba = lab.service("ad")
    found = set()
    with contextlib.suppress(OSError, ValueError, IndexError):
        found.add(int(samba.pid_path.read_text().split()[0]))
    running = [int(entry.name) for entry in Path("/proc").iterdir() if entry.name.isdigit()]
    found |= {pid for pid in running if _is_samba(pid) and _holds_files_under(pid, samba.root)}
    pids = sorted(pid for pid in found if _is_samba(pid) and _same_namespace(pid))
    assert pids, "the lab's samba is not running"
    return pids


@contextlib.contextmanager
def samba_paused(lab):
    """SIGSTOP this lab's samba for the block; SIGCONT whatever happens."""
    pids = lab_samba_pids(lab)
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)


def restart_samba(lab) -> None:
    samba = lab.service("ad")
    samba.stop()
    samba.start()


# --- runs -----------------------------------------------------------------------------------------


def module_play(module: str, options: dict, scratch: Path, name: str) -> list:
    """One task of `module` whose result is kept in scratch/<name>.json, failed or not."""
    task = {"name": name, module: options, "register": "outcome", "ignore_errors": True}
    keep = {"name": "Keep the result",
            "ansible.builtin.copy": {"content": "{{ outcome | to_json }}", "dest": str(scratch / f"{name}.json")}}
    return [{"name": name, "hosts": "localhost", "gather_facts": False,
             "vars": {"ansible_python_interpreter": "{{ ansible_playbook_python }}"}, "tasks": [task, keep]}]


def align_options(lab_vars, journal: Path, ad_server: str | None = None, **options) -> dict:
    return connection(*AD_OPTIONS, *GRAPH_OPTIONS) | {
        "search_base": lab_vars["lab_scenario_ou"], "journal_path": str(journal), "ad_timeout": AD_TIMEOUT,
    } | ({"ad_server": ad_server} if ad_server else {}) | options


def restore_options(journal: Path, ad_server: str | None = None, **options) -> dict:
    return connection(*AD_OPTIONS) | {"journal_path": str(journal), "ad_timeout": AD_TIMEOUT} | (
        {"ad_server": ad_server} if ad_server else {}) | options


def run_now(lab, module: str, options: dict, scratch: Path, name: str) -> dict:
    task = {"name": name, module: options, "register": name, "ignore_errors": True}
    _completed, result = with_result({"tasks": [task]}, name, scratch, lab)
    return result


def finished(process, scratch: Path, name: str, timeout: float = 240) -> dict:
    output = process.communicate(timeout=timeout)[0]
    kept = scratch / f"{name}.json"
    assert kept.exists(), output
    return json.loads(kept.read_text())


def wait_until(condition, process, timeout: float = 120, every: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        if process.poll() is not None:
            raise AssertionError(f"the run ended first:\n{process.stdout.read()}")
        time.sleep(every)
    raise AssertionError("timed out")


def changed_since(lab_vars, before: list[dict]) -> set[str]:
    """Users whose entry differs from `before` (uSNChanged included: any write)."""
    was = by_name(before)
    return {name for name, entry in by_name(snapshot(lab_vars, lab_vars["lab_scenario_ou"])).items()
            if entry != was.get(name)}


def names(rows) -> set[str]:
    return {row["distinguished_name"].split(",")[0][3:] for row in rows}


def addresses(entry: dict) -> set[str]:
    return {value.lower() for value in entry.get("proxyAddresses", [])}


def aligned_values(name: str) -> set[str]:
    number = name[-2:]
    return {f"smtp:first.last{number}@contoso.com", f"smtp:{name}@contoso.com", f"smtp:fl{number}@contoso.com",
            f"x500:/o=lab/ou=recipients/cn={name}"}


def assert_nothing_lost(lab_vars, original: list[dict]) -> dict:
    """Every user holds every address it started with (case aside); returns the entries now, by name."""
    now = by_name(snapshot(lab_vars, lab_vars["lab_scenario_ou"]))
    for name, entry in by_name(original).items():
        assert addresses(entry) <= addresses(now[name]), name
    return now


def is_aligned(entry: dict, name: str) -> bool:
    primary = [value for value in entry["proxyAddresses"] if value.startswith("SMTP:")]
    return addresses(entry) == aligned_values(name) and primary == [f"SMTP:First.Last{name[-2:]}@contoso.com"]


def assert_alignment_told_the_truth(result: dict, now: dict, original: list[dict]) -> None:
    """What the task says each user came to is what AD shows."""
    was = by_name(original)
    written = names(result["changes"])
    assert all(is_aligned(now[name], name) for name in written), written
    for row in result["write_failures"]:
        name = row["distinguished_name"].split(",")[0][3:]
        if row["written"] is False:
            assert now[name] == was[name], name  # not written at all: uSNChanged is the same
        else:
            assert row["written"] is None and (is_aligned(now[name], name) or now[name] == was[name]), name
    assert written | names(result["write_failures"]) == set(was)
    assert result["changed"] is bool(written or any(row["written"] is None for row in result["write_failures"]))
    statuses = {pair["onprem"]["sam_account_name"]: pair["status"] for pair in result["pairs"]}
    assert {name for name, status in statuses.items() if status == "aligned"} == written
    assert result["counts"]["aligned"] == len(written) and result["journal"]["records"] >= len(written)


def assert_completed_and_restored(lab, lab_vars, scratch: Path, journal: Path, original: list[dict]) -> None:
    """A re-run completes the alignment, and a restore gives back exactly the values of the start."""
    again = run_now(lab, "hybrid.identity.smtp_align", align_options(lab_vars, journal), scratch, "again")
    assert not again.get("failed"), again.get("msg")
    assert again["recheck"]["clean"] is True
    now = assert_nothing_lost(lab_vars, original)
    assert all(is_aligned(entry, name) for name, entry in now.items())

    restored = run_now(lab, "hybrid.identity.ad_user_restore", restore_options(journal), scratch, "restored")
    assert not restored.get("failed") and restored["refused"] == [] and restored["not_restored"] == [], restored
    assert comparable(snapshot(lab_vars, lab_vars["lab_scenario_ou"])) == comparable(original)


# --- the DC goes away mid-alignment ---------------------------------------------------------------


def test_the_dc_paused_mid_alignment_fails_the_task_saying_truly_what_was_written(crowded, lab, lab_vars, tmp_path):
    journal = tmp_path / "journal.jsonl"
    with SlowLdap(lab_vars, delay=0.1) as slow:
        process = start_playbook(module_play("hybrid.identity.smtp_align",
                                             align_options(lab_vars, journal, slow.url), tmp_path, "aligned"),
                                 tmp_path, (lab.vars_path,))
        wait_until(lambda: len(changed_since(lab_vars, crowded)) >= 3, process)
        with samba_paused(lab):
            # paused for the rest of the run: every wait of the module ends in its timeout
            result = finished(process, tmp_path, "aligned")

    assert result["failed"] is True and result["changed"] is True
    assert "connection to the domain controller broke" in result["msg"] and "run the same task again" in result["hint"]
    assert "socket is not open" not in result["msg"]
    assert result["recheck"]["clean"] is False and result["recheck"]["error"]
    assert 3 <= len(result["changes"]) < USERS
    now = assert_nothing_lost(lab_vars, crowded)
    assert_alignment_told_the_truth(result, now, crowded)
    assert_completed_and_restored(lab, lab_vars, tmp_path, journal, crowded)


def test_the_dc_restarted_mid_alignment_reports_the_writes_and_reconnects_for_the_recheck(
        crowded, lab, lab_vars, tmp_path):
    journal = tmp_path / "journal.jsonl"
    with SlowLdap(lab_vars, delay=0.1) as slow:
        # the modify under way waits longer than the restart takes, so the one reconnect finds the DC back
        options = align_options(lab_vars, journal, slow.url, ad_timeout=RESTART_TIMEOUT)
        process = start_playbook(module_play("hybrid.identity.smtp_align", options, tmp_path, "aligned"), tmp_path,
                                 (lab.vars_path,))
        wait_until(lambda: len(changed_since(lab_vars, crowded)) >= 3, process)
        started = time.monotonic()
        restart_samba(lab)
        assert time.monotonic() - started < RESTART_TIMEOUT
        result = finished(process, tmp_path, "aligned")

    assert result["failed"] is True and result["changed"] is True, result.get("msg")
    assert "socket is not open" not in result["msg"] and "run the same task again" in result["hint"]
    assert 3 <= len(result["changes"]) < USERS
    now = assert_nothing_lost(lab_vars, crowded)
    assert_alignment_told_the_truth(result, now, crowded)
    # reconnected: the re-check read the users again, which settled the write under way
    assert "error" not in result["recheck"], result["recheck"]
    assert all(row["written"] is False for row in result["write_failures"])
    assert sorted(row["onprem"]["sam_account_name"] for row in result["recheck"]["pairs"]) == sorted(
        names(result["changes"]))
    assert result["recheck"]["clean"] is True
    assert_completed_and_restored(lab, lab_vars, tmp_path, journal, crowded)


def test_two_alignments_at_once_count_and_journal_only_what_each_changed(crowded, lab, lab_vars, tmp_path):
    journal = tmp_path / "journal.jsonl"
    with SlowLdap(lab_vars, delay=0.1) as slow:
        runs = {}
        for name in ("first", "second"):
            scratch = tmp_path / name
            scratch.mkdir()
            runs[name] = start_playbook(module_play("hybrid.identity.smtp_align",
                                                    align_options(lab_vars, journal, slow.url), scratch, name),
                                        scratch, (lab.vars_path,))
        results = [finished(process, tmp_path / name, name) for name, process in runs.items()]

    for result in results:
        assert not result.get("failed"), result.get("msg")
        written = names(result["changes"])
        assert result["counts"]["aligned"] == result["journal"]["records"] == len(written)
        statuses = {pair["onprem"]["sam_account_name"]: pair["status"] for pair in result["pairs"]}
        assert {name for name, status in statuses.items() if status == "aligned"} == written
        assert result["recheck"]["clean"] is True
    first, second = (names(result["changes"]) for result in results)
    assert first.isdisjoint(second) and first | second == set(by_name(crowded))  # each user written once
    # both planned every user before either wrote: the race was run, not avoided
    assert sum(result["journal"]["appended"] for result in results) > USERS
    now = assert_nothing_lost(lab_vars, crowded)
    assert all(is_aligned(entry, name) for name, entry in now.items())

    restored = run_now(lab, "hybrid.identity.ad_user_restore", restore_options(journal), tmp_path, "restored")
    assert not restored.get("failed") and len(restored["restored"]) == USERS, restored.get("msg")
    assert comparable(snapshot(lab_vars, lab_vars["lab_scenario_ou"])) == comparable(crowded)


# --- the DC goes away mid-restore -------------------------------------------------------------------


def test_the_dc_paused_mid_restore_fails_listing_the_users_a_rerun_restores(crowded, lab, lab_vars, tmp_path):
    journal = tmp_path / "journal.jsonl"
    aligned = run_now(lab, "hybrid.identity.smtp_align", align_options(lab_vars, journal), tmp_path, "aligned")
    assert not aligned.get("failed") and len(aligned["changes"]) == USERS, aligned.get("msg")
    written = snapshot(lab_vars, lab_vars["lab_scenario_ou"])

    with SlowLdap(lab_vars, delay=0.1) as slow:
        process = start_playbook(module_play("hybrid.identity.ad_user_restore", restore_options(journal, slow.url),
                                             tmp_path, "restored"), tmp_path, (lab.vars_path,))
        wait_until(lambda: len(changed_since(lab_vars, written)) >= 3, process)
        with samba_paused(lab):
            result = finished(process, tmp_path, "restored")

    assert result["failed"] is True and result["changed"] is True
    assert result["refused"] == []  # a broken connection is not a change made since
    assert "run the same restore again" in result["hint"]
    restored, missing = names(result["restored"]), names(result["not_restored"])
    assert 3 <= len(restored) < USERS and restored | missing == set(by_name(crowded)) and not restored & missing
    assert all("run the restore again" in row["reason"] for row in result["not_restored"])
    now = by_name(snapshot(lab_vars, lab_vars["lab_scenario_ou"]))
    was, start = by_name(written), by_name(crowded)
    assert all(addresses(now[name]) == addresses(start[name]) for name in restored)
    # not restored: still aligned, except perhaps the one under way at the pause
    assert len([name for name in missing if now[name] != was[name]]) <= 1
    for name in missing:
        assert now[name] == was[name] or addresses(now[name]) == addresses(start[name]), name

    again = run_now(lab, "hybrid.identity.ad_user_restore", restore_options(journal), tmp_path, "again")
    assert not again.get("failed") and again["refused"] == [], again.get("msg")
    assert names(again["restored"]) <= missing  # the users restored before the pause are left alone
    assert comparable(snapshot(lab_vars, lab_vars["lab_scenario_ou"])) == comparable(crowded)


def test_the_restore_playbook_fails_when_the_dc_is_paused_mid_restore(crowded, lab, lab_vars, tmp_path):
    journal = tmp_path / "journal.jsonl"
    aligned = run_now(lab, "hybrid.identity.smtp_align", align_options(lab_vars, journal), tmp_path, "aligned")
    assert not aligned.get("failed"), aligned.get("msg")
    written = snapshot(lab_vars, lab_vars["lab_scenario_ou"])

    with SlowLdap(lab_vars, delay=0.1) as slow:
        command = [str(Path(sys.executable).with_name("ansible-playbook")), "-i", "localhost,",
                   "hybrid.identity.restore", "-e", f"@{lab.vars_path}",
                   "-e", json.dumps({"restore_journal_path": str(journal), "ad_server": slow.url})]
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                   env=ansible_env() | {"HYBRID_AD_TIMEOUT": str(AD_TIMEOUT)}, start_new_session=True)
        wait_until(lambda: len(changed_since(lab_vars, written)) >= 3, process)
        with samba_paused(lab):
            output = process.communicate(timeout=240)[0]

    completed = subprocess.CompletedProcess(command, process.returncode, output, "")
    assert process.returncode != 0 and recap(completed)[1] == 1, output
    assert "were not restored" in output and "run the same restore again" in output
    assert "not restored: [" in output and "refused: []" in output  # what the play shows after the failure
    again = collection_restore(lab, journal)
    assert again.returncode == 0 and recap(again)[1] == 0, again.stdout
    assert comparable(snapshot(lab_vars, lab_vars["lab_scenario_ou"])) == comparable(crowded)


def collection_restore(lab, journal: Path):
    command = [str(Path(sys.executable).with_name("ansible-playbook")), "-i", "localhost,", "hybrid.identity.restore",
               "-e", f"@{lab.vars_path}", "-e", json.dumps({"restore_journal_path": str(journal)})]
    return subprocess.run(command, capture_output=True, text=True, env=ansible_env(), timeout=300, check=False)


# --- torn and edited journals -------------------------------------------------------------------------


def test_a_torn_journal_tail_is_closed_by_the_rerun_and_restore_restores_every_user(crowded, lab, lab_vars, tmp_path):
    journal = tmp_path / "journal.jsonl"
    half = sorted(by_name(crowded))[: USERS // 2]
    first = run_now(lab, "hybrid.identity.smtp_align",
                    align_options(lab_vars, journal, pairs=[{"onprem": name, "cloud": f"{name}@contoso.com"}
                                                            for name in half]), tmp_path, "first")
    assert not first.get("failed") and len(first["changes"]) == len(half), first.get("msg")
    # a run killed while appending: half of a record and no newline; none of its writes happened
    lines = journal.read_text().splitlines()
    with open(journal, "a") as tail:
        tail.write(lines[-1][: len(lines[-1]) // 2])

    again = run_now(lab, "hybrid.identity.smtp_align", align_options(lab_vars, journal), tmp_path, "again")

    assert not again.get("failed"), again.get("msg")
    assert any("ended in an incomplete record" in warning for warning in again.get("warnings", []))
    assert len(again["changes"]) == USERS - len(half)
    lines = journal.read_text().splitlines()
    assert len(lines) == len(half) + 1 + USERS - len(half)  # the torn line on a line of its own
    assert_nothing_lost(lab_vars, crowded)

    restored = run_now(lab, "hybrid.identity.ad_user_restore", restore_options(journal), tmp_path, "restored")

    assert not restored.get("failed"), restored.get("msg")
    assert len(restored["restored"]) == USERS and restored["not_restored"] == []
    assert [(line["line"], line["torn"]) for line in restored["damaged"]] == [(len(half) + 1, True)]
    assert any("was skipped" in warning for warning in restored.get("warnings", []))
    assert comparable(snapshot(lab_vars, lab_vars["lab_scenario_ou"])) == comparable(crowded)


def test_a_signed_journal_edited_without_the_key_is_refused_for_that_user_only(crowded, lab, lab_vars, tmp_path):
    journal, key = tmp_path / "journal.jsonl", "a key from a vault"
    aligned = run_now(lab, "hybrid.identity.smtp_align", align_options(lab_vars, journal, journal_key=key), tmp_path,
                      "aligned")
    assert not aligned.get("failed"), aligned.get("msg")
    written = snapshot(lab_vars, lab_vars["lab_scenario_ou"])
    records = [json.loads(line) for line in journal.read_text().splitlines()]
    # someone without the key gives crowd00 two primaries and an address of theirs, and keeps the digest
    records[0]["before"]["proxyAddresses"] += ["SMTP:mallory@contoso.com"]
    journal.write_text("".join(json.dumps(record) + "\n" for record in records))
    victim = records[0]["distinguished_name"].split(",")[0][3:]

    unsigned = run_now(lab, "hybrid.identity.ad_user_restore", restore_options(journal), tmp_path, "unsigned")
    result = run_now(lab, "hybrid.identity.ad_user_restore", restore_options(journal, journal_key=key), tmp_path,
                     "restored")

    assert unsigned["failed"] is True and "journal_key" in unsigned["msg"] and unsigned["changed"] is False
    assert result["failed"] is True and victim in result["msg"]
    assert [row["object_guid"] for row in result["not_restored"]] == [records[0]["object_guid"]]
    assert "digest does not match" in result["not_restored"][0]["reason"]
    assert len(result["restored"]) == USERS - 1
    now = by_name(snapshot(lab_vars, lab_vars["lab_scenario_ou"]))
    assert now[victim] == by_name(written)[victim]  # not written at all
    assert "mallory@contoso.com" not in json.dumps(now)
    others = [entry for entry in comparable(list(now.values())) if not entry["dn"].startswith(f"CN={victim},")]
    assert others == [entry for entry in comparable(crowded) if not entry["dn"].startswith(f"CN={victim},")]


@pytest.mark.parametrize(("content", "says"), [
    ("\n".join(["journal"] * 3).encode("utf-16"), "is not UTF-8 text"),
    (json.dumps({"version": 1, "run_id": "r", "time": "t", "distinguished_name": "CN=x", "object_guid": "{12-34}",
                 "before": {}, "after": {}}).encode() + b"\n", "is not a GUID"),
], ids=["utf16", "malformed_guid"])
def test_a_journal_that_is_not_utf8_or_holds_a_malformed_guid_gets_a_message_and_changes_nothing(
        crowded, lab, lab_vars, tmp_path, content, says):
    journal = tmp_path / "journal.jsonl"
    journal.write_bytes(content)
    usn = highest_committed_usn(lab_vars)

    result = run_now(lab, "hybrid.identity.ad_user_restore", restore_options(journal), tmp_path, "restored")

    assert result["failed"] is True and says in result["msg"] and "line 1" in result["msg"], result
    assert result["hint"] and "Traceback" not in json.dumps(result) and "Error" not in result["msg"]
    assert highest_committed_usn(lab_vars) == usn
