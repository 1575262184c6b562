"""playbooks/onboard.yml on the demo tenant (make demo): audit, transfer, align, sync and verify, end to end.

The end state is asserted against the Entra emulator's state and Samba read with ldapsearch
(tests/integration/_ldif.py), never through the code under test. What must hold comes from
the demo scenario's ``expect.onboard`` (tests/lab/scenarios/demo.yml).
"""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.integration._ansible import ansible_env
from tests.integration._browser import Browser, find_chromium
from tests.integration._ldif import ldapsearch, snapshot

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "tests" / "lab" / "scenarios" / "demo.yml"
EXPECT = yaml.safe_load(DEMO.read_text())["expect"]["onboard"]
# The variables playbooks/demo.yml gives playbooks/onboard.yml, to run the latter by its own name.
DEMO_ONBOARD_VARS = yaml.safe_load((REPO / "playbooks" / "demo.yml").read_text())[0]["vars"]
_RECAP = re.compile(r"^localhost\s*:\s*ok=\d+\s+changed=(\d+)\s+unreachable=\d+\s+failed=(\d+)", re.MULTILINE)
_CHANGED_TASK = re.compile(r"^changed: \[localhost\]", re.MULTILINE)
WRITES = ("POST", "PATCH", "PUT", "DELETE")


def run(lab, scratch: Path, playbook: str = "demo", check: bool = False, **extra_vars):
    """ansible-playbook hybrid.identity.<playbook> as a user runs it, reports and journal in ``scratch``."""
    variables = {"demo_report_dir": str(scratch / "reports"), "demo_journal_path": str(scratch / "journal.jsonl")}
    command = [str(Path(sys.executable).with_name("ansible-playbook")), "-i", "localhost,",
               f"hybrid.identity.{playbook}", "-e", f"@{lab.vars_path}", "-e", json.dumps(variables | extra_vars)]
    command += ["--check", "--diff"] if check else []
    return subprocess.run(command, capture_output=True, text=True, env=ansible_env(), timeout=900, check=False)


def recap(completed) -> tuple[int, int]:
    match = _RECAP.search(completed.stdout)
    assert match, completed.stdout + completed.stderr
    return int(match.group(1)), int(match.group(2))


def emulator(lab):
    return lab.service("entra").emulator


def cloud_state(lab) -> dict:
    """Every cloud user by object ID, and the tenant switches."""
    state = emulator(lab).state()
    return {"users": {user["id"]: user for user in state["users"]}, "features": state["tenant"]["features"]}


def by_upn(state: dict) -> dict:
    return {user["userPrincipalName"].lower(): user for user in state["users"].values()}


def smtp(user: dict) -> tuple[str | None, set[str]]:
    """(primary, every SMTP address) of a cloud user, lower case."""
    values = user.get("proxyAddresses") or []
    primary = next((value[5:].lower() for value in values if value.startswith("SMTP:")), None)
    return primary, {value[5:].lower() for value in values if value.lower().startswith("smtp:")}


def comparable(entries: list[dict], writes: bool = False) -> dict:
    """A snapshot by DN, values sorted. With ``writes`` it keeps uSNChanged, so that any write to a user shows, even one
    that put back the same values; without, it holds the values only (what a restore brings back)."""
    dropped = ("dn", "whenChanged") if writes else ("dn", "whenChanged", "uSNChanged")
    return {entry["dn"].lower(): {name: sorted(values) for name, values in entry.items() if name not in dropped}
            for entry in entries}


def ad_anchors(lab_vars: dict) -> dict[str, str]:
    """sAMAccountName -> the source anchor the sync uses (mS-DS-ConsistencyGuid, else objectGUID), from Samba."""
    entries = ldapsearch(lab_vars, "(objectClass=user)", ("sAMAccountName", "objectGUID", "mS-DS-ConsistencyGuid"),
                         base=lab_vars["lab_scenario_ou"])
    return {entry["sAMAccountName"][0]: base64.b64encode(
        (entry.get("mS-DS-ConsistencyGuid") or entry["objectGUID"])[0]).decode() for entry in entries}


def writes_after(lab, baseline: int) -> list[str]:
    """Requests after ``baseline`` that could change the tenant, token requests excepted."""
    return [f"{entry['method']} {entry['path']}" for entry in emulator(lab).requests()["log"]
            if entry["seq"] > baseline and entry["method"] in WRITES
            and "/oauth2/" not in entry["path"] and not entry["path"].endswith("/$batch")]


def last_seq(lab) -> int:
    log = emulator(lab).requests()["log"]
    return log[-1]["seq"] if log else 0


@pytest.fixture(scope="module")
def onboarded(lab, lab_vars, tmp_path_factory):
    """The demo tenant loaded and onboarded once; the states before and after, and the run."""
    scratch = tmp_path_factory.mktemp("onboard")
    lab.load(DEMO)
    ad_before = snapshot(lab_vars, lab_vars["lab_scenario_ou"])
    before = {"ad": comparable(ad_before), "writes": comparable(ad_before, writes=True), "cloud": cloud_state(lab),
              "anchors": ad_anchors(lab_vars)}
    completed = run(lab, scratch)
    ad_after = snapshot(lab_vars, lab_vars["lab_scenario_ou"])
    after = {"ad": comparable(ad_after), "writes": comparable(ad_after, writes=True), "cloud": cloud_state(lab),
             "anchors": ad_anchors(lab_vars)}
    return {"scratch": scratch, "before": before, "after": after, "run": completed}


def test_the_onboarding_joins_every_pairable_user_and_changes_nothing_a_user_sees(onboarded):
    completed, before, after = onboarded["run"], onboarded["before"], onboarded["after"]
    assert recap(completed)[1] == 0, completed.stdout[-6000:] + completed.stderr
    cloud_before, cloud_after = by_upn(before["cloud"]), by_upn(after["cloud"])
    anchors = after["anchors"]
    for sam in EXPECT["joined"] + EXPECT["transferred"]:
        upn = f"{sam}@contoso.com"
        was, now = cloud_before[upn], cloud_after[upn]
        assert now["id"] == was["id"], f"{sam}: joined another cloud user"
        assert now["onPremisesImmutableId"] == anchors[sam], f"{sam}: not joined"
        assert now["onPremisesSyncEnabled"] is True, sam
        # rule book §5: no primary SMTP changed (a user without a mailbox had none), no cloud alias lost
        if smtp(was)[0] is not None:
            assert smtp(now)[0] == smtp(was)[0], f"{sam}: primary {smtp(was)[0]} became {smtp(now)[0]}"
        assert smtp(was)[1] <= smtp(now)[1], f"{sam}: lost {smtp(was)[1] - smtp(now)[1]}"
        assert not now.get("onPremisesProvisioningErrors"), sam
    # one cloud user per anchor: nothing was duplicated
    carried = [user["onPremisesImmutableId"] for user in after["cloud"]["users"].values()
               if user.get("onPremisesImmutableId")]
    assert len(carried) == len(set(carried))


def test_transferred_users_are_created_on_prem_with_the_cloud_addresses(onboarded, lab_vars):
    cloud_before = by_upn(onboarded["before"]["cloud"])
    transfer_ou = f"OU=Transferred,{lab_vars['lab_scenario_ou']}".lower()
    created = {dn: entry for dn, entry in onboarded["after"]["ad"].items() if dn not in onboarded["before"]["ad"]}
    assert sorted(dn.split(",")[0] for dn in created) == sorted(
        f"cn={cloud_before[f'{sam}@contoso.com']['displayName']}".lower() for sam in EXPECT["transferred"])
    for dn, entry in created.items():
        assert dn.endswith(transfer_ou)
        cloud = cloud_before[entry["userPrincipalName"][0].lower()]
        wanted = [value for value in cloud["proxyAddresses"] if "onmicrosoft.com" not in value]
        assert sorted(entry["proxyAddresses"]) == sorted(wanted)
        assert entry["mail"] == [cloud["mail"]]


def test_new_users_are_created_in_the_cloud_and_synced_users_kept(onboarded):
    before, after = onboarded["before"], onboarded["after"]
    cloud_after = by_upn(after["cloud"])
    assert len(after["cloud"]["users"]) == len(before["cloud"]["users"]) + len(EXPECT["created"])
    for sam in EXPECT["created"]:
        user = cloud_after[f"{sam}@contoso.com"]
        assert user["id"] not in before["cloud"]["users"]
        assert user["onPremisesImmutableId"] == after["anchors"][sam]
        assert smtp(user)[0] == f"{sam}@contoso.com"
    for sam in EXPECT["synced"]:
        assert cloud_after[f"{sam}@contoso.com"]["onPremisesImmutableId"] == after["anchors"][sam]


def test_refused_users_are_reported_and_left_alone_in_ad_and_in_the_cloud(onboarded):
    before, after, completed = onboarded["before"], onboarded["after"], onboarded["run"]
    refused_dns = [dn for dn in before["ad"] if dn.split(",")[0][3:] in EXPECT["refused"]]
    assert len(refused_dns) == len(EXPECT["refused"])
    for dn in refused_dns:
        assert after["writes"][dn] == before["writes"][dn], f"{dn} was written"  # uSNChanged included
    refused_anchors = {after["anchors"][sam] for sam in EXPECT["refused"]}

    def carriers(state):
        return sorted(user["id"] for user in state["users"].values()
                      if user.get("onPremisesImmutableId") in refused_anchors)

    # gina's cloud user carried her anchor before (the takeover the tenant refuses); nobody else may now
    assert carriers(after["cloud"]) == carriers(before["cloud"]), "a refused user was synced"
    # their cloud users, if any, are as they were
    for user_id, user in before["cloud"]["users"].items():
        if user["userPrincipalName"].split("@")[0] in ("patti", "it.helpdesk", "gina", "hank", "leo"):
            assert after["cloud"]["users"][user_id] == user
    # the table names each of them with the reason
    for sam in EXPECT["refused"]:
        assert re.search(rf"^\s*\"?{sam}\s.*left alone: \w+", completed.stdout, re.MULTILINE), sam


def test_the_matching_window_is_closed_and_the_reports_are_written(onboarded):
    assert onboarded["before"]["cloud"]["features"]["blockSoftMatchEnabled"] is True
    assert onboarded["after"]["cloud"]["features"]["blockSoftMatchEnabled"] is True
    reports = onboarded["scratch"] / "reports"
    assert (reports / "before" / "soft_match_report.html").is_file()
    html = reports / "after" / "soft_match_report.html"
    assert html.is_file()
    assert f"reports: {html}" in onboarded["run"].stdout


# What the page of the run shows, read in a browser after its markup was laid out at 1366 px.
PAGE_FACTS = """(function () {
  var counts = {};
  document.querySelectorAll("[data-count]").forEach(function (tile) {
    counts[tile.getAttribute("data-count")] = parseInt(tile.querySelector("b").textContent, 10);
  });
  var rows = Array.prototype.map.call(document.querySelectorAll("#users tbody tr"), function (row) {
    return {user: row.getAttribute("data-user"), before: row.getAttribute("data-before"),
            after: row.getAttribute("data-after"), person: row.classList.contains("person"),
            did: row.querySelector(".verdict").textContent.trim()};
  });
  var why = Array.prototype.map.call(document.querySelectorAll("table.why tbody tr"), function (row) {
    return [row.cells[0].textContent, parseInt(row.cells[1].textContent, 10)];
  });
  var width = document.documentElement.clientWidth, clipped = [];
  document.querySelectorAll("td *").forEach(function (inner) {
    if (inner.getBoundingClientRect().right > inner.closest("td").getBoundingClientRect().right + 1) {
      clipped.push(inner.textContent);
    }
  });
  return {counts: counts, rows: rows, why: why, run: document.getElementById("run-id").textContent,
          sideways: document.documentElement.scrollWidth > width, clipped: clipped};
}())"""


def test_the_page_of_the_run_shows_before_and_after_in_a_browser(onboarded, tmp_path):
    page = onboarded["scratch"] / "reports" / "onboard.html"
    assert f"before and after: {page}" in onboarded["run"].stdout
    browser = Browser(find_chromium(), tmp_path / "profile", width=1366, height=768)
    try:
        browser.open(page.as_uri())
        facts = browser.evaluate(PAGE_FACTS)
    finally:
        browser.close()
    journal = [json.loads(line) for line in (onboarded["scratch"] / "journal.jsonl").read_text().splitlines()]
    assert facts["run"] == journal[-1]["run_id"]
    rows = {row["user"]: row for row in facts["rows"]}
    assert len(rows) == len(facts["rows"]) == facts["counts"]["users"]
    joined = EXPECT["joined"] + EXPECT["transferred"] + EXPECT["created"]
    assert facts["counts"]["joined"] == len(joined)
    assert facts["counts"]["created"] == len(EXPECT["transferred"])
    assert facts["counts"]["left alone"] == len(EXPECT["refused"])
    assert sum(count for _reason, count in facts["why"]) == len(EXPECT["refused"])
    for sam in joined:
        assert rows[sam]["after"] == "already_synced" and "joined" in rows[sam]["did"], rows[sam]
    for sam in EXPECT["transferred"]:
        assert rows[sam]["before"] == "" and rows[sam]["did"].startswith("created on-prem"), rows[sam]
    for sam in EXPECT["refused"]:
        assert rows[sam]["person"] and rows[sam]["did"].startswith("left alone: "), rows[sam]
    # who needs a person comes first
    people = [row["person"] for row in facts["rows"]]
    assert people == sorted(people, reverse=True)
    assert not facts["sideways"] and facts["clipped"] == []


def test_a_second_run_changes_nothing(onboarded, lab, lab_vars):
    baseline = last_seq(lab)

    completed = run(lab, onboarded["scratch"])

    assert recap(completed) == (0, 0), completed.stdout[-6000:] + completed.stderr
    assert not _CHANGED_TASK.search(completed.stdout)
    assert writes_after(lab, baseline) == []
    assert comparable(snapshot(lab_vars, lab_vars["lab_scenario_ou"]), writes=True) == onboarded["after"]["writes"]
    assert cloud_state(lab)["users"] == onboarded["after"]["cloud"]["users"]


def test_restore_puts_the_aligned_users_back_as_the_journal_before(onboarded, lab, lab_vars):
    completed = run(lab, onboarded["scratch"], playbook="restore",
                    restore_journal_path=str(onboarded["scratch"] / "journal.jsonl"))

    assert recap(completed)[1] == 0, completed.stdout + completed.stderr
    restored = comparable(snapshot(lab_vars, lab_vars["lab_scenario_ou"]))
    # Created users stay: deleting a synced user would delete its cloud user (see docs/onboard.md).
    assert {dn: entry for dn, entry in restored.items() if dn in onboarded["before"]["ad"]} == onboarded["before"]["ad"]


def test_check_mode_of_the_onboard_playbook_by_its_name_changes_nothing_anywhere(lab, lab_vars, tmp_path):
    lab.load(DEMO)
    ad_before, cloud_before = comparable(snapshot(lab_vars, lab_vars["lab_scenario_ou"]), writes=True), cloud_state(lab)
    baseline = last_seq(lab)

    # ansible-playbook hybrid.identity.onboard --check --diff, with what the demo sets
    completed = run(lab, tmp_path, playbook="onboard", check=True, **DEMO_ONBOARD_VARS)

    assert recap(completed)[1] == 0, completed.stdout[-6000:] + completed.stderr
    assert comparable(snapshot(lab_vars, lab_vars["lab_scenario_ou"]), writes=True) == ad_before
    assert cloud_state(lab) == cloud_before
    assert writes_after(lab, baseline) == []
    assert not (tmp_path / "journal.jsonl").exists()
    assert (tmp_path / "reports" / "before" / "soft_match_report.html").is_file()  # the demo's report_dir was used
    # the plan is shown: the transfer, the alignment and the users held back
    assert "nora" in completed.stdout and "addresses aligned" in completed.stdout
    # predicted from the planned state, the dry run syncs whom the run joins, the users to create on-prem included
    to_sync = len(EXPECT["joined"]) + len(EXPECT["transferred"]) + len(EXPECT["created"])
    assert f"0 joined, {to_sync} to sync, {len(EXPECT['transferred'])} created on-prem" in completed.stdout
    for sam in EXPECT["transferred"]:
        assert re.search(rf"^\s*\"{sam}\s.*created on-prem from the cloud user, to sync\",$", completed.stdout,
                         re.MULTILINE), sam
    assert (tmp_path / "reports" / "onboard.html").is_file()


def test_check_mode_without_the_matching_window_warns_naming_the_variable(lab, lab_vars, tmp_path):
    lab.load(DEMO)
    completed = run(lab, tmp_path, playbook="onboard", check=True,
                    **(DEMO_ONBOARD_VARS | {"onboard_open_matching_window": False}))

    assert recap(completed)[1] == 0, completed.stdout[-6000:] + completed.stderr
    output = completed.stdout + completed.stderr
    assert re.search(r"\[WARNING\]: \d+ user\(s\) come out blocked because the tenant blocks soft matching "
                     r"\(blockSoftMatchEnabled is on\).*Set onboard_open_matching_window: true", output), output[-4000:]
    # the cloud users asked for by name and refused say so, with the reason
    for sam in EXPECT["transferred"]:
        assert re.search(rf"\[WARNING\]: not created on-prem: {sam}@contoso.com: The next sync would not join", output)


def test_the_onboard_playbook_transfers_the_users_a_graph_filter_chooses(lab, lab_vars, tmp_path):
    """onboard_transfer_graph_filter, in check mode: the Graph query chooses, the pairing leaves two alone."""
    lab.load(REPO / "tests" / "integration" / "files" / "authority_transfer_counterparts.yml")
    ad_before = comparable(snapshot(lab_vars, lab_vars["lab_scenario_ou"]), writes=True)
    baseline = last_seq(lab)

    completed = run(lab, tmp_path, playbook="onboard", check=True, onboard_search_base=lab_vars["lab_scenario_ou"],
                    onboard_report_dir=str(tmp_path / "reports"), onboard_journal_path=str(tmp_path / "journal.jsonl"),
                    onboard_transfer_graph_filter="department eq 'Sales'",
                    onboard_transfer_ou=f"OU=New,{lab_vars['lab_scenario_ou']}",
                    onboard_domain_map={"contoso.local": "contoso.com"}, onboard_open_matching_window=True)

    assert recap(completed)[1] == 0, completed.stdout[-6000:] + completed.stderr
    transfer = completed.stdout.split("TASK [Create on-prem users", 1)[1].split("TASK [", 1)[0]
    assert f"CN=Paula Reyes,OU=New,{lab_vars['lab_scenario_ou']}" in transfer  # the diff of the user to create
    assert not re.search(r"nora|omar|quentin", transfer, re.IGNORECASE), transfer
    queries = [entry["query"] for entry in emulator(lab).requests()["log"] if entry["seq"] > baseline
               and entry["method"] == "GET" and entry["path"].endswith("/users") and "department" in entry["query"]]
    assert len(queries) == 1
    assert comparable(snapshot(lab_vars, lab_vars["lab_scenario_ou"]), writes=True) == ad_before
