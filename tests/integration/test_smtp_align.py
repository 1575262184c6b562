"""smtp_align, ad_user_restore and the roles and playbooks around them, against Samba and the Entra emulator.

AD is read back with ldapsearch (tests/integration/_ldif.py), never with the code under test.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from tests.integration._ansible import ansible_env, run_playbook, start_playbook
from tests.integration._ldif import highest_committed_usn, ldapmodify, snapshot, user

DEMO = Path(__file__).with_name("files") / "smtp_align_demo.yml"
RULES = Path(__file__).with_name("files") / "smtp_align.yml"
AD_OPTIONS = ("ad_server", "ad_username", "ad_password", "ad_ca_cert")
GRAPH_OPTIONS = ("tenant_id", "client_id", "client_secret", "authority_host", "graph_endpoint", "graph_ca_cert")
PAIRABLE = ("adele", "alex", "diego", "grady", "megan", "nestor")
STATUS_NAMES = ("aligned", "unchanged", "already_synced", "blocked", "failed")
X500 = "X500:/o=ExchangeLabs/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn=diego"
_RECAP = re.compile(r"^localhost\s*:\s*ok=\d+\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.MULTILINE)


def connection(*names) -> dict:
    return {name: f"{{{{ {name} }}}}" for name in names}


def with_result(play_body: dict, variable: str, scratch: Path, lab, check: bool = False):
    """Run a play on localhost and return (process, the registered variable); the variable survives a failure."""
    result_file = scratch / f"{variable}.json"
    play = {
        "name": "Run and keep the result",
        "hosts": "localhost",
        "gather_facts": False,
        "vars": {"ansible_python_interpreter": "{{ ansible_playbook_python }}"},
        **play_body,
    }
    keep = {
        "name": "Keep the result",
        "ansible.builtin.copy": {"content": f"{{{{ {variable} | to_json }}}}", "dest": str(result_file)},
        "check_mode": False,
    }
    play["tasks"] = [{"block": play.pop("tasks", []), "always": [keep]}]
    completed = run_playbook([play], extra_vars_files=(lab.vars_path,), check=check)
    if not result_file.exists():
        raise AssertionError(f"the play kept no result:\n{completed.stdout}\n{completed.stderr}")
    return completed, json.loads(result_file.read_text())


def align(lab, scratch: Path, check: bool = False, **options):
    """The module in one task, connection from the lab's variables."""
    task = {
        "name": "Align",
        "hybrid.identity.smtp_align": connection(*AD_OPTIONS, *GRAPH_OPTIONS)
        | {"search_base": "{{ lab_scenario_ou }}", "journal_path": str(scratch / "journal.jsonl")}
        | options,
        "register": "aligned",
        "ignore_errors": True,
    }
    return with_result({"tasks": [task]}, "aligned", scratch, lab, check=check)


def restore(lab, scratch: Path, check: bool = False, **options):
    task = {
        "name": "Restore",
        "hybrid.identity.ad_user_restore": connection(*AD_OPTIONS)
        | {"journal_path": str(scratch / "journal.jsonl")}
        | options,
        "register": "restored",
        "ignore_errors": True,
    }
    return with_result({"tasks": [task]}, "restored", scratch, lab, check=check)


def collection_playbook(name: str, lab, *extra_vars: dict, check: bool = False, diff: bool = False):
    """ansible-playbook hybrid.identity.<name>, as a user runs it."""
    command = [str(Path(sys.executable).with_name("ansible-playbook")), "-i", "localhost,", f"hybrid.identity.{name}",
               "-e", f"@{lab.vars_path}"]
    for variables in extra_vars:
        command += ["-e", json.dumps(variables)]
    command += ["--check"] if check else []
    command += ["--diff"] if diff else []
    return subprocess.run(command, capture_output=True, text=True, env=ansible_env(), timeout=600, check=False)


def recap(completed) -> tuple[int, int]:
    """(changed, failed) from the PLAY RECAP line."""
    match = _RECAP.search(completed.stdout)
    assert match, completed.stdout + completed.stderr
    return int(match.group(1)), int(match.group(3))


def comparable(entries: list[dict]) -> list[dict]:
    """A snapshot without the bookkeeping attributes, values sorted: what a restore must bring back."""
    return [{name: sorted(values) if isinstance(values, list) else values for name, values in entry.items()
             if name not in ("whenChanged", "uSNChanged")} for entry in entries]


def by_name(entries: list[dict]) -> dict:
    return {entry["dn"].split(",")[0][3:]: entry for entry in entries}


def cloud_users(scenario: Path) -> dict:
    users = yaml.safe_load(scenario.read_text())["cloud"]["users"]
    return {item["userPrincipalName"].split("@")[0]: item for item in users}


@pytest.fixture
def demo(lab, lab_vars, tmp_path):
    """The demo tenant freshly loaded; yields the scope's snapshot before anything ran."""
    lab.load(DEMO)
    return snapshot(lab_vars, lab_vars["lab_scenario_ou"])


def test_alignment_makes_every_pairable_user_clean_and_keeps_other_values(demo, lab, lab_vars, tmp_path):
    emulator = lab.service("entra").emulator
    # a freshly started emulator has logged nothing yet
    first_request = max((entry["seq"] for entry in emulator.requests()["log"]), default=-1) + 1
    first_usn = highest_committed_usn(lab_vars)

    completed, result = align(lab, tmp_path)

    # in bulk: each Graph listing once, whatever the number of users, and one LDAP modify per changed user
    routes = Counter(f"{entry['method']} {entry['route'] or entry['path']}" for entry in emulator.requests()["log"]
                     if entry["seq"] >= first_request and "/oauth2/" not in entry["path"]
                     and "/.well-known/" not in entry["path"])
    assert routes["GET /v1.0/users"] == 1 and set(routes.values()) == {1}, routes
    assert not [route for route in routes if "{" in route], routes  # never a request about one user
    assert highest_committed_usn(lab_vars) - first_usn == len(result["changes"]) == 5

    assert not result.get("failed"), completed.stdout
    assert result["changed"] is True
    statuses = {pair["onprem"]["sam_account_name"]: pair["status"] for pair in result["pairs"]}
    # return_results=attention (the default): nestor, unchanged with nothing to report, is only counted
    assert statuses == {"adele": "aligned", "alex": "aligned", "diego": "aligned", "grady": "aligned",
                        "megan": "aligned", "patti": "blocked"}
    counted = {name: result["counts"][name] for name in ("onprem_users", "pairs", *STATUS_NAMES)}
    assert counted == {"onprem_users": 8, "pairs": 7, "aligned": 5, "unchanged": 1, "already_synced": 0,
                       "blocked": 1, "failed": 0}
    assert [row["sam_account_name"] for row in result["unpaired"]["onprem"]] == ["lynne"]
    assert result["recheck"]["clean"] is True
    assert sorted(row["onprem"]["sam_account_name"] for row in result["recheck"]["pairs"]) == sorted(
        set(PAIRABLE) - {"nestor"})
    assert "diff" not in result  # returned in diff mode only
    assert all(row["outcome"] == "soft_match_smtp" and row["clean"] for row in result["recheck"]["pairs"])
    patti = next(pair for pair in result["pairs"] if pair["onprem"]["sam_account_name"] == "patti")
    assert "Global Administrator" in " ".join(patti["reasons"])

    clouds = cloud_users(DEMO)
    for sam in PAIRABLE:
        entry = user(lab_vars, sam, "proxyAddresses", "mail")
        values = {value.lower(): value for value in entry["proxyAddresses"]}
        primary = next(v for v in clouds[sam]["proxyAddresses"] if v.startswith("SMTP:"))
        assert [v for v in entry["proxyAddresses"] if v.startswith("SMTP:")] == [primary], sam
        assert entry["mail"] == [primary[5:]], sam
        for secondary in clouds[sam]["proxyAddresses"]:
            if secondary.startswith("smtp:") and not secondary.lower().endswith(".onmicrosoft.com"):
                assert secondary.lower() in values, (sam, secondary)
        assert not any(value.endswith("onmicrosoft.com") for value in values), sam
    assert X500 in user(lab_vars, "diego", "proxyAddresses")["proxyAddresses"]
    assert "SIP:nestor@contoso.com" in user(lab_vars, "nestor", "proxyAddresses")["proxyAddresses"]
    after = by_name(snapshot(lab_vars, lab_vars["lab_scenario_ou"]))
    for sam in ("patti", "lynne", "nestor"):
        assert after[sam] == by_name(demo)[sam], sam  # not written at all: uSNChanged is the same


def test_return_results_all_lists_the_quiet_pairs_too_and_none_lists_nobody(demo, lab, tmp_path):
    _completed, everything = align(lab, tmp_path, check=True, return_results="all")
    _completed, nobody = align(lab, tmp_path, check=True, return_results="none")

    statuses = {pair["onprem"]["sam_account_name"]: pair["status"] for pair in everything["pairs"]}
    assert statuses["nestor"] == "unchanged" and len(statuses) == 7
    assert "nestor" in {row["onprem"]["sam_account_name"] for row in everything["recheck"]["pairs"]}
    assert nobody["pairs"] == nobody["recheck"]["pairs"] == nobody["unpaired"]["onprem"] == []
    # the counts and the verdict still cover the whole run
    assert nobody["counts"] == everything["counts"]
    assert nobody["recheck"]["clean"] is everything["recheck"]["clean"] is True
    assert len(nobody["changes"]) == len(everything["changes"]) == 5


def test_the_journal_holds_every_change_before_and_after(demo, lab, lab_vars, tmp_path):
    _completed, result = align(lab, tmp_path)

    lines = (tmp_path / "journal.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    assert {record["run_id"] for record in records} == {result["journal"]["run_id"]}
    assert sorted(Path(r["distinguished_name"].split(",")[0]).name[3:] for r in records) == [
        "adele", "alex", "diego", "grady", "megan"]
    adele = next(r for r in records if r["distinguished_name"].startswith("CN=adele,"))
    assert adele["before"]["proxyAddresses"] == ["SMTP:adele@contoso.com", "smtp:Adele.Vance@contoso.com"]
    assert adele["after"]["mail"] == "Adele.Vance@contoso.com"
    assert adele["object_guid"] == lab.ad_anchor("adele").object_guid


def test_a_second_run_of_the_playbook_changes_nothing(demo, lab, lab_vars, tmp_path):
    options = {"smtp_align_search_base": lab_vars["lab_scenario_ou"],
               "smtp_align_journal_path": str(tmp_path / "journal.jsonl")}
    first = collection_playbook("align", lab, options)
    written = snapshot(lab_vars, lab_vars["lab_scenario_ou"])

    second = collection_playbook("align", lab, options)

    assert recap(first) == (1, 0), first.stdout
    assert recap(second) == (0, 0), second.stdout
    assert snapshot(lab_vars, lab_vars["lab_scenario_ou"]) == written
    assert len((tmp_path / "journal.jsonl").read_text().splitlines()) == 5  # the second run journaled nothing


def test_check_mode_plans_and_shows_the_diff_and_writes_nothing(demo, lab, lab_vars, tmp_path):
    options = {"smtp_align_search_base": lab_vars["lab_scenario_ou"],
               "smtp_align_journal_path": str(tmp_path / "journal.jsonl")}

    completed = collection_playbook("align", lab, options, check=True, diff=True)

    assert recap(completed) == (1, 0), completed.stdout
    assert "SMTP:Adele.Vance@contoso.com" in completed.stdout  # the diff shows the new primary
    assert snapshot(lab_vars, lab_vars["lab_scenario_ou"]) == demo
    assert not (tmp_path / "journal.jsonl").exists()


def test_check_mode_rechecks_the_planned_values(demo, lab, tmp_path):
    completed, result = align(lab, tmp_path, check=True)

    assert not result.get("failed"), completed.stdout
    assert result["changed"] is True and result["journal"]["run_id"] is None
    assert len(result["changes"]) == 5
    assert result["recheck"]["clean"] is True


def test_restore_puts_ad_back_exactly_as_the_journal_before(demo, lab, lab_vars, tmp_path):
    align(lab, tmp_path)
    assert comparable(snapshot(lab_vars, lab_vars["lab_scenario_ou"])) != comparable(demo)

    completed = collection_playbook("restore", lab, {"restore_journal_path": str(tmp_path / "journal.jsonl")})
    again = collection_playbook("restore", lab, {"restore_journal_path": str(tmp_path / "journal.jsonl")})

    assert recap(completed) == (1, 0), completed.stdout
    assert comparable(snapshot(lab_vars, lab_vars["lab_scenario_ou"])) == comparable(demo)
    assert recap(again) == (0, 0), again.stdout


def test_restore_refuses_a_user_changed_since_and_restores_the_others(demo, lab, lab_vars, tmp_path):
    align(lab, tmp_path)
    scope = lab_vars["lab_scenario_ou"]
    ldapmodify(lab_vars, f"dn: CN=megan,OU=Marketing,{scope}\nchangetype: modify\nadd: proxyAddresses\n"
                         "proxyAddresses: smtp:megan.b@contoso.com\n")
    megan_now = user(lab_vars, "megan", "proxyAddresses", "mail", "uSNChanged")

    completed, result = restore(lab, tmp_path)

    assert not result.get("failed"), completed.stdout
    assert [row["distinguished_name"] for row in result["refused"]] == [f"CN=megan,OU=Marketing,{scope}"]
    assert "proxyAddresses" in result["refused"][0]["reason"]
    assert len(result["restored"]) == 4
    assert user(lab_vars, "megan", "proxyAddresses", "mail", "uSNChanged") == megan_now
    expected = [entry for entry in comparable(demo) if not entry["dn"].startswith("CN=megan,")]
    now = [entry for entry in comparable(snapshot(lab_vars, scope)) if not entry["dn"].startswith("CN=megan,")]
    assert now == expected


def _system_python_with_samba() -> str | None:
    """The interpreter samba-tool runs with: it has Samba's own Python bindings."""
    tool = shutil.which("samba-tool")
    if tool is None:
        return None
    first_line = Path(tool).read_text(errors="replace").splitlines()[0]
    return first_line[2:].strip().split()[0] if first_line.startswith("#!") else None


# Adds or removes a deny-write-property ACE for the domain Administrator (the lab's bind account) on one object.
_DENY_WRITE = """
import sys
import ldb
from samba.credentials import Credentials
from samba.dcerpc import security
from samba.ndr import ndr_pack, ndr_unpack
from samba.param import LoadParm
from samba.samdb import SamDB

url, domain, username, password, dn, action = sys.argv[1:7]
ace = "(D;;WP;;;LA)"
credentials = Credentials()
credentials.guess(LoadParm())
credentials.set_domain(domain)
credentials.set_username(username)
credentials.set_password(password)
samdb = SamDB(url=url, credentials=credentials, lp=LoadParm())
found = samdb.search(base=dn, scope=ldb.SCOPE_BASE, attrs=["nTSecurityDescriptor"], controls=["sd_flags:1:4"])
domain_sid = security.dom_sid(samdb.get_domain_sid())
sddl = ndr_unpack(security.descriptor, found[0]["nTSecurityDescriptor"][0]).as_sddl(domain_sid).replace(ace, "")
if action == "deny":
    head, _, aces = sddl.partition("D:")
    flags, paren, rest = aces.partition("(")
    sddl = head + "D:" + flags + ace + paren + rest
message = ldb.Message(ldb.Dn(samdb, dn))
message["nTSecurityDescriptor"] = ldb.MessageElement(
    ndr_pack(security.descriptor.from_sddl(sddl, domain_sid)), ldb.FLAG_MOD_REPLACE, "nTSecurityDescriptor")
samdb.modify(message, controls=["sd_flags:1:4"])
"""


def set_write_denied(lab_vars, dn: str, denied: bool) -> None:
    python = _system_python_with_samba()
    # the lab runs Debian's samba, whose samba-tool brings the bindings: without them the lab is broken
    assert python is not None, "samba-tool (and Samba's Python bindings) are missing: run `python -m tests.lab up`"
    username = lab_vars["ad_username"].split("@")[0]
    command = [python, "-c", _DENY_WRITE, "ldap://localhost", lab_vars["lab_ad_netbios_domain"], username,
               lab_vars["ad_password"], dn, "deny" if denied else "allow"]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert completed.returncode == 0, completed.stderr


def test_an_interrupted_alignment_loses_no_address_and_completes_when_run_again(demo, lab, lab_vars, tmp_path):
    grady_dn = f"CN=grady,OU=Engineering,{lab_vars['lab_scenario_ou']}"
    set_write_denied(lab_vars, grady_dn, denied=True)
    try:
        completed, first = align(lab, tmp_path)
        grady_untouched = user(lab_vars, "grady", "proxyAddresses", "mail")
    finally:
        set_write_denied(lab_vars, grady_dn, denied=False)

    assert first.get("failed") is True
    assert "grady" in first["msg"] and first["hint"]
    assert [row["distinguished_name"] for row in first["write_failures"]] == [grady_dn]
    assert sorted(grady_untouched["proxyAddresses"]) == sorted(by_name(demo)["grady"]["proxyAddresses"])
    assert len(first["changes"]) == 4  # the others were written
    journal = [json.loads(line) for line in (tmp_path / "journal.jsonl").read_text().splitlines()]
    # every planned user, those written after grady's refusal included, then grady's refused write marked undone
    assert sorted(record["distinguished_name"].split(",")[0][3:] for record in journal[:5]) == [
        "adele", "alex", "diego", "grady", "megan"]
    assert journal[5]["distinguished_name"] == grady_dn and journal[5]["before"] == journal[5]["after"]
    assert first["journal"]["records"] == 4 and first["journal"]["appended"] == 6
    assert {pair["onprem"]["sam_account_name"]: pair["status"] for pair in first["pairs"]}["grady"] == "failed"

    completed, second = align(lab, tmp_path)

    assert not second.get("failed"), completed.stdout
    assert [change["distinguished_name"] for change in second["changes"]] == [grady_dn]
    assert second["recheck"]["clean"] is True
    entry = user(lab_vars, "grady", "proxyAddresses")
    assert "SMTP:grady.archie@contoso.com" in entry["proxyAddresses"]
    assert {value.lower() for value in by_name(demo)["grady"]["proxyAddresses"]} <= {
        value.lower() for value in entry["proxyAddresses"]}

    completed, restored = restore(lab, tmp_path)

    assert not restored.get("failed") and restored["refused"] == [], completed.stdout
    assert comparable(snapshot(lab_vars, lab_vars["lab_scenario_ou"])) == comparable(demo)


class SlowLdap:
    """A TCP relay to Samba's LDAPS port that holds every packet from the client for `delay` seconds.

    TLS passes through untouched (the certificate names localhost), so each LDAP operation of the
    module simply takes longer: long enough to see the writes land one by one. `pause` stops the
    client's packets between two operations; once closed it forwards nothing more, not even a
    packet it holds.
    """

    def __init__(self, lab_vars: dict, delay: float) -> None:
        url = urlsplit(lab_vars["ad_server"])
        self.target = (url.hostname, url.port or 636)
        self.delay = delay
        self.open = True
        self.flowing = threading.Event()
        self.flowing.set()
        self.sockets: list[socket.socket] = []
        self.listener = socket.create_server(("localhost", 0))
        self.url = f"ldaps://localhost:{self.listener.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while self.open:
            try:
                client, _address = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.target)
            self.sockets += [client, server]
            threading.Thread(target=self._pump, args=(client, server, self.delay), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, 0), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, delay: float) -> None:
        try:
            while chunk := source.recv(65536):
                time.sleep(delay)
                self.flowing.wait()
                if not self.open:
                    return
                sink.sendall(chunk)
        except OSError:
            return

    def pause(self) -> None:
        """Hold what the client sends next; an operation Samba has already received still completes."""
        self.flowing.clear()
        time.sleep(max(self.delay, 0.5))

    def resume(self) -> None:
        self.flowing.set()

    def close(self) -> None:
        self.open = False
        self.flowing.set()
        for each in (self.listener, *self.sockets):
            each.close()

    def __enter__(self) -> SlowLdap:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def descendants(pid: int) -> list[int]:
    """The processes under `pid`, from /proc: Ansible runs each task in a worker with a session of its own."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        below = children.get(todo.pop(), [])
        found += below
        todo += below
    return found


def kill_run(process: subprocess.Popen) -> None:
    """SIGKILL the run and every process under it (the module included), as a crash of the controller would."""
    for pid in [process.pid, *descendants(process.pid)]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    process.wait(timeout=30)


def align_play(lab_vars, scratch: Path, ad_server: str) -> list:
    task = {"name": "Align", "hybrid.identity.smtp_align": connection(*AD_OPTIONS, *GRAPH_OPTIONS)
            | {"ad_server": ad_server, "search_base": lab_vars["lab_scenario_ou"],
               "journal_path": str(scratch / "journal.jsonl")}, "register": "aligned"}
    keep = {"name": "Keep the result",
            "ansible.builtin.copy": {"content": "{{ aligned | to_json }}", "dest": str(scratch / "aligned.json")}}
    return [{"name": "Align slowly", "hosts": "localhost", "gather_facts": False,
             "vars": {"ansible_python_interpreter": "{{ ansible_playbook_python }}"}, "tasks": [task, keep]}]


def changed_users(lab_vars, before: list[dict]) -> list[str]:
    """The users whose entry (uSNChanged included: any write) differs from `before`, read with ldapsearch."""
    was = by_name(before)
    return sorted(name for name, entry in by_name(snapshot(lab_vars, lab_vars["lab_scenario_ou"])).items()
                  if entry != was.get(name))


def wait_for_a_write(lab_vars, before: list[dict], process, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        if changed_users(lab_vars, before):
            return
        time.sleep(0.05)
    raise AssertionError(f"no write was seen (the run ended: {process.poll()}):\n{process.stdout.read()}")


def journal_records(scratch: Path) -> list[dict]:
    return [json.loads(line) for line in (scratch / "journal.jsonl").read_text().splitlines()]


def journaled(entry: dict) -> dict:
    """An ldapsearch entry as the journal records a user's values (those the demo users carry)."""
    return {"proxyAddresses": sorted(entry.get("proxyAddresses", [])), "mail": (entry.get("mail") or [None])[0],
            "mailNickname": (entry.get("mailNickname") or [None])[0]}


def recorded(values: dict) -> dict:
    """A journal record's before or after, compared as `journaled` compares an entry."""
    return journaled({key: value if isinstance(value, list) else [value] for key, value in values.items() if value})


def test_an_alignment_killed_between_two_writes_had_journaled_every_user_before_the_first(
        demo, lab, lab_vars, tmp_path):
    with SlowLdap(lab_vars, delay=0.3) as slow:
        process = start_playbook(align_play(lab_vars, tmp_path, slow.url), tmp_path, (lab.vars_path,))
        try:
            wait_for_a_write(lab_vars, demo, process)
            slow.pause()
            kill_run(process)
        finally:
            slow.close()  # nothing it holds reaches Samba any more
            if process.poll() is None:
                kill_run(process)

    changed = changed_users(lab_vars, demo)
    assert 1 <= len(changed) < 5, changed  # killed part way: some users written, not all
    records = journal_records(tmp_path)
    # on disk before the first write: every planned user, written or not
    assert sorted(record["distinguished_name"].split(",")[0][3:] for record in records) == [
        "adele", "alex", "diego", "grady", "megan"]
    now = by_name(snapshot(lab_vars, lab_vars["lab_scenario_ou"]))
    for record in records:
        name = record["distinguished_name"].split(",")[0][3:]
        expected = record["after"] if name in changed else record["before"]
        assert journaled(now[name]) == recorded(expected), name

    completed, second = align(lab, tmp_path)

    assert not second.get("failed"), completed.stdout
    assert sorted(change["distinguished_name"].split(",")[0][3:] for change in second["changes"]) == sorted(
        {"adele", "alex", "diego", "grady", "megan"} - set(changed))
    assert second["recheck"]["clean"] is True

    completed, restored = restore(lab, tmp_path)

    assert not restored.get("failed") and restored["refused"] == [], completed.stdout
    assert comparable(snapshot(lab_vars, lab_vars["lab_scenario_ou"])) == comparable(demo)


# What another writer (a script, Exchange) does on a user mid-run: part of the alignment, before the module gets to it.
OTHER_WRITER = {
    "adele": "replace: mail\nmail: Adele.Vance@contoso.com",
    "alex": "replace: mail\nmail: alex.wilber@contoso.com",
    "diego": "replace: mail\nmail: diego.siciliani@contoso.com",
    "grady": "replace: mail\nmail: grady.archie@contoso.com",
    "megan": "add: proxyAddresses\nproxyAddresses: smtp:mbowen@contoso.com",
}


def test_a_user_changed_by_another_writer_mid_run_is_planned_and_journaled_again(demo, lab, lab_vars, tmp_path):
    with SlowLdap(lab_vars, delay=0.3) as slow:
        process = start_playbook(align_play(lab_vars, tmp_path, slow.url), tmp_path, (lab.vars_path,))
        wait_for_a_write(lab_vars, demo, process)
        slow.pause()
        sam = next(name for name in OTHER_WRITER if name not in changed_users(lab_vars, demo))
        dn = by_name(demo)[sam]["dn"]
        ldapmodify(lab_vars, f"dn: {dn}\nchangetype: modify\n{OTHER_WRITER[sam]}\n")
        other = user(lab_vars, sam, "proxyAddresses", "mail")
        slow.resume()
        output = process.communicate(timeout=300)[0]

    assert process.returncode == 0, output
    result = json.loads((tmp_path / "aligned.json").read_text())
    records = journal_records(tmp_path)
    assert result["journal"]["appended"] == len(records) == 6  # five planned, and one planned again
    assert result["journal"]["records"] == 5
    first, again = [record for record in records if record["distinguished_name"] == dn]
    assert recorded(again["before"]) == journaled(other) != recorded(first["before"])
    now = user(lab_vars, sam, "proxyAddresses", "mail", "mailNickname")
    assert journaled(now) == recorded(again["after"])
    assert {value.lower() for value in other["proxyAddresses"]} <= {value.lower() for value in now["proxyAddresses"]}
    assert result["recheck"]["clean"] is True


def test_pairing_rules_and_the_immutable_id_fix(lab, lab_vars, tmp_path):
    lab.load(RULES)

    completed, result = align(lab, tmp_path, domain_map={"contoso.local": "contoso.com"},
                              fix_immutable_id_mismatch=True)

    assert not result.get("failed"), completed.stdout
    pairs = {pair["onprem"]["sam_account_name"]: (pair["rule"], pair["status"]) for pair in result["pairs"]}
    assert pairs == {"joni": ("employee_id", "aligned"), "lidia": ("upn_prefix", "aligned"),
                     "isaiah": ("primary_smtp", "aligned")}
    [ambiguous] = result["ambiguous"]
    assert ambiguous["user"]["sam_account_name"] == "sales"
    candidates = sorted(c["user_principal_name"] for c in ambiguous["candidates"])
    assert candidates == ["team1@contoso.com", "team2@contoso.com"]
    assert result["recheck"]["clean"] is True
    isaiah = next(row for row in result["recheck"]["pairs"] if row["onprem"]["sam_account_name"] == "isaiah")
    assert isaiah["outcome"] == "hard_match"
    raw = user(lab_vars, "isaiah", "mS-DS-ConsistencyGuid")["mS-DS-ConsistencyGuid"][0]
    assert base64.b64encode(raw if isinstance(raw, bytes) else raw.encode("latin-1")).decode() == (
        "Wk0Ee7zS1kGt2Xz3bn4xSg==")
    lidia = user(lab_vars, "lidia", "proxyAddresses")["proxyAddresses"]
    assert "SMTP:lidia.holloway@contoso.com" in lidia and "SIP:lidia@contoso.com" in lidia
    assert not any("onmicrosoft.com" in value for value in lidia)  # rule book §2: the MOERA is left out
    assert user(lab_vars, "sales", "proxyAddresses")["proxyAddresses"] == [
        "SMTP:sales@contoso.com", "smtp:team1@contoso.com", "smtp:team2@contoso.com"]


def test_without_the_fix_an_immutable_id_mismatch_is_blocked(lab, lab_vars, tmp_path):
    lab.load(RULES)
    before = user(lab_vars, "isaiah", "proxyAddresses", "uSNChanged")

    completed, result = align(lab, tmp_path, pair_by=["smtp"])

    assert not result.get("failed"), completed.stdout
    [isaiah] = [pair for pair in result["pairs"] if pair["onprem"]["sam_account_name"] == "isaiah"]
    assert isaiah["status"] == "blocked" and "InvalidSoftMatch" in " ".join(isaiah["reasons"])
    assert user(lab_vars, "isaiah", "proxyAddresses", "uSNChanged") == before


def test_explicit_pairs_from_a_csv_file_with_the_onprem_primary_kept(demo, lab, lab_vars, tmp_path):
    pairs_file = tmp_path / "pairs.csv"
    pairs_file.write_text("onprem,cloud\nalex,awilber@contoso.com\n")

    completed, result = align(lab, tmp_path, pairs_file=str(pairs_file), primary="onprem")

    assert not result.get("failed"), completed.stdout
    [pair] = result["pairs"]
    assert (pair["onprem"]["sam_account_name"], pair["rule"], pair["status"]) == ("alex", "explicit", "aligned")
    assert [change["code"] for change in pair["visible_changes"]] == ["primary_smtp_will_change"]
    assert sorted(user(lab_vars, "alex", "proxyAddresses")["proxyAddresses"]) == [
        "SMTP:alex@contoso.com", "smtp:alex.wilber@contoso.com", "smtp:awilber@contoso.com"]
    assert result["recheck"]["clean"] is True  # primary: onprem accepts the primary change it reports
    assert len(result["unpaired"]["onprem"]) == 7  # explicit pairs only: the rest of the scope is left alone
    others = snapshot(lab_vars, lab_vars["lab_scenario_ou"])
    assert [e for e in others if not e["dn"].startswith("CN=alex,")] == [
        e for e in demo if not e["dn"].startswith("CN=alex,")]


def test_explicit_pairs_from_yaml_and_json_files_bare_or_under_pairs(demo, lab, lab_vars, tmp_path):
    files = {
        "under_key": ("pairs.yml", "pairs:\n  - {onprem: alex, cloud: awilber@contoso.com}\n"
                                   "  - {onprem: adele, cloud: Adele.Vance@contoso.com}\n"),
        "bare_yaml": ("pairs.yaml", "- {onprem: grady, cloud: grady.archie@contoso.com}\n"),
        "bare_json": ("pairs.json", json.dumps([{"onprem": "diego", "cloud": "diego.siciliani@contoso.com"}])),
    }
    tasks = []
    for name, (file_name, text) in files.items():
        (tmp_path / file_name).write_text(text)
        tasks.append({"name": f"Align the pairs of {file_name}", "hybrid.identity.smtp_align":
                      connection(*AD_OPTIONS, *GRAPH_OPTIONS) | {"search_base": "{{ lab_scenario_ou }}",
                                                                 "pairs_file": str(tmp_path / file_name)},
                      "register": name, "ignore_errors": True})
    tasks.append({"name": "Keep them", "ansible.builtin.set_fact": {"aligned": {name: f"{{{{ {name} }}}}"
                                                                                for name in files}}})

    completed, results = with_result({"tasks": tasks}, "aligned", tmp_path, lab, check=True)

    def paired(result):
        assert not result.get("failed"), completed.stdout
        return sorted((pair["onprem"]["sam_account_name"], pair["cloud"]["user_principal_name"], pair["rule"],
                       pair["status"]) for pair in result["pairs"])

    assert paired(results["under_key"]) == [("adele", "adele@contoso.com", "explicit", "aligned"),
                                            ("alex", "alex@contoso.com", "explicit", "aligned")]
    assert paired(results["bare_yaml"]) == [("grady", "grady@contoso.com", "explicit", "aligned")]
    assert paired(results["bare_json"]) == [("diego", "diego@contoso.com", "explicit", "aligned")]
    assert snapshot(lab_vars, lab_vars["lab_scenario_ou"]) == demo


def test_onprem_primary_that_the_cloud_user_does_not_hold_is_blocked(lab, lab_vars, tmp_path):
    """primary: onprem keeps joni@contoso.com, which joni.sherman's mailbox lacks: no match, so no write."""
    lab.load(RULES)
    before = user(lab_vars, "joni", "proxyAddresses", "uSNChanged")

    completed, result = align(lab, tmp_path, pairs=[{"onprem": "joni", "cloud": "jsherman@contoso.com"}],
                              primary="onprem")

    assert not result.get("failed"), completed.stdout
    [pair] = result["pairs"]
    assert pair["status"] == "blocked"
    assert "predicted outcome is conflict" in pair["reasons"][0]  # a new user, with joni.sherman's address quarantined
    assert "joni.sherman@contoso.com is already held" in pair["reasons"][1]
    assert user(lab_vars, "joni", "proxyAddresses", "uSNChanged") == before


def test_audit_playbook_fails_naming_the_blocked_user_and_writes_the_reports(demo, lab, lab_vars, tmp_path):
    options = {"soft_match_audit_search_base": lab_vars["lab_scenario_ou"],
               "soft_match_audit_report_dir": str(tmp_path / "reports")}

    failing = collection_playbook("audit", lab, options)
    passing = collection_playbook("audit", lab, options | {"soft_match_audit_fail_on": ["invalid"]})

    assert recap(failing)[1] == 1, failing.stdout
    assert "1 user(s) are predicted blocked or conflict or invalid: patti (blocked: admin_role)" in failing.stdout
    assert recap(passing) == (0, 0), passing.stdout
    assert {path.name for path in (tmp_path / "reports").iterdir()} == {
        "soft_match_report.json", "soft_match_report.csv", "soft_match_report.html"}


def test_align_role_fails_when_a_blocked_pair_is_not_accepted(demo, lab, lab_vars, tmp_path):
    options = {"smtp_align_search_base": lab_vars["lab_scenario_ou"],
               "smtp_align_journal_path": str(tmp_path / "journal.jsonl"), "smtp_align_fail_on_blocked": True}

    completed = collection_playbook("align", lab, options, check=True)

    assert recap(completed)[1] == 1, completed.stdout
    assert "patti -> patti@contoso.com" in completed.stdout
    assert snapshot(lab_vars, lab_vars["lab_scenario_ou"]) == demo


def test_missing_journal_path_is_refused_outside_check_mode(demo, lab, lab_vars):
    with tempfile.TemporaryDirectory() as scratch:
        task = {
            "name": "Align without a journal",
            "hybrid.identity.smtp_align": connection(*AD_OPTIONS, *GRAPH_OPTIONS)
            | {"search_base": "{{ lab_scenario_ou }}"},
            "register": "aligned",
            "ignore_errors": True,
        }
        _completed, result = with_result({"tasks": [task]}, "aligned", Path(scratch), lab)

    assert result.get("failed") is True and "journal_path" in result["msg"]
    assert snapshot(lab_vars, lab_vars["lab_scenario_ou"]) == demo
