"""Forcing and verifying a directory sync against the lab: the Entra emulator's sync engine and Cloud Sync API.

hybrid.identity.directory_sync_features, cloud_sync_provision and directory_sync_verify run
through Ansible as a user runs them, and the directory_sync role through ansible-playbook.
The lab is shared: every test loads its own scenario first, and puts back the sync knobs it
turned (schedule, faults, job state) whatever happens.
"""

from __future__ import annotations

import json
import re
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from tests.integration._ansible import run_module, run_playbook, task_result

GRAPH_OPTIONS = ("tenant_id", "client_id", "client_secret", "authority_host", "graph_endpoint", "graph_ca_cert")
TENANT = {"initial_domain": "contoso.onmicrosoft.com", "verified_domains": ["contoso.com"]}

# rule book §3 and §5: alice soft-matches on SMTP and keeps her cloud primary because her on-prem
# addresses were aligned first; bob soft-matches cleanly; carol has no cloud user and is created.
JOIN_SCENARIO = {
    "tenant": TENANT | {"features": {"blockSoftMatchEnabled": True,
                                     "blockCloudObjectTakeoverThroughHardMatchEnabled": True}},
    "cloud": {"users": [
        {"userPrincipalName": "alice@contoso.com", "mail": "alice.smith@contoso.com",
         "proxyAddresses": ["SMTP:alice.smith@contoso.com", "smtp:alice@contoso.com",
                            "smtp:alice@contoso.onmicrosoft.com"]},
        {"userPrincipalName": "bob@contoso.com", "mail": "bob@contoso.com",
         "proxyAddresses": ["SMTP:bob@contoso.com", "smtp:bob@contoso.onmicrosoft.com"]},
    ]},
    "ad": {"users": [
        {"sAMAccountName": "alice", "ou": "OU=Staff", "userPrincipalName": "alice@contoso.com",
         "mail": "alice.smith@contoso.com", "mailNickname": "alice",
         "proxyAddresses": ["SMTP:alice.smith@contoso.com", "smtp:alice@contoso.com"]},
        {"sAMAccountName": "bob", "ou": "OU=Staff", "userPrincipalName": "bob@contoso.com",
         "mail": "bob@contoso.com", "mailNickname": "bob", "proxyAddresses": ["SMTP:bob@contoso.com"]},
        {"sAMAccountName": "carol", "ou": "OU=Staff", "userPrincipalName": "carol@contoso.com",
         "mail": "carol@contoso.com", "mailNickname": "carol", "proxyAddresses": ["SMTP:carol@contoso.com"]},
    ]},
}
OPEN_SCENARIO = JOIN_SCENARIO | {"tenant": TENANT | {"features": {"blockSoftMatchEnabled": False}}}
# rule book §3 in one scheduled cycle: alice soft-matches on SMTP inside the matching window the
# role opens, gina hard-matches on her anchor (takeover allowed), carol is new.
SCHEDULED_SCENARIO = {
    "tenant": TENANT | {"features": {"blockSoftMatchEnabled": True,
                                     "blockCloudObjectTakeoverThroughHardMatchEnabled": False}},
    "cloud": {"users": [
        JOIN_SCENARIO["cloud"]["users"][0],
        {"userPrincipalName": "gina@contoso.com", "mail": "gina@contoso.com",
         "proxyAddresses": ["SMTP:gina@contoso.com", "smtp:gina@contoso.onmicrosoft.com"],
         "onPremisesImmutableId": "@ad:gina"},
    ]},
    "ad": {"users": [
        JOIN_SCENARIO["ad"]["users"][0],
        {"sAMAccountName": "gina", "ou": "OU=Staff", "userPrincipalName": "gina@contoso.com",
         "mail": "gina@contoso.com", "mailNickname": "gina", "proxyAddresses": ["SMTP:gina@contoso.com"]},
        JOIN_SCENARIO["ad"]["users"][2],
    ]},
}
# Seven new users, for more provisionOnDemand calls than 5 in 10 seconds allows.
NEW_USERS_SCENARIO = {"tenant": TENANT, "cloud": {"users": []}, "ad": {"users": [
    {"sAMAccountName": f"new{number}", "ou": "OU=Staff", "userPrincipalName": f"new{number}@contoso.com",
     "mail": f"new{number}@contoso.com", "proxyAddresses": [f"SMTP:new{number}@contoso.com"]}
    for number in range(1, 8)]}}
# rule book §9.5 and §3: a system account Cloud Sync leaves out; dave's soft match is refused
# (his cloud user carries another ImmutableId); erin is new.
ANSWERS_SCENARIO = {
    # rule book §9.7: dave's InvalidSoftMatch is an export error only without proxy-address quarantine
    "tenant": TENANT | {"features": {"quarantineUponProxyAddressesConflictEnabled": False}},
    "cloud": {"users": [
        {"userPrincipalName": "dave@contoso.com", "mail": "dave@contoso.com",
         "proxyAddresses": ["SMTP:dave@contoso.com"], "onPremisesImmutableId": "b3RoZXItZGlyZWN0b3J5LWFuY2hvcg=="},
    ]},
    "ad": {"users": [
        {"sAMAccountName": "HealthMailbox7f3a", "ou": "OU=Service",
         "userPrincipalName": "HealthMailbox7f3a@contoso.com", "mail": "HealthMailbox7f3a@contoso.com",
         "proxyAddresses": ["SMTP:HealthMailbox7f3a@contoso.com"]},
        {"sAMAccountName": "dave", "ou": "OU=Staff", "userPrincipalName": "dave@contoso.com",
         "mail": "dave@contoso.com", "proxyAddresses": ["SMTP:dave@contoso.com"]},
        {"sAMAccountName": "erin", "ou": "OU=Staff", "userPrincipalName": "erin@contoso.com",
         "mail": "erin@contoso.com", "proxyAddresses": ["SMTP:erin@contoso.com"]},
    ]},
}
WINDOW_SCENARIO = {"tenant": TENANT | {"features": {"blockSoftMatchEnabled": True}}, "cloud": {"users": []},
                   "ad": {"users": []}}


def graph(lab_vars: dict, **overrides) -> dict:
    return {name: lab_vars[name] for name in GRAPH_OPTIONS} | overrides


def emulator(lab):
    return lab.service("entra").emulator


def tenant_features(lab) -> dict:
    return emulator(lab).state()["tenant"]["features"]


def cloud_ids(lab) -> dict[str, str]:
    return {user["userPrincipalName"]: user["id"] for user in emulator(lab).state()["users"]}


def expected_pairs(lab) -> list[dict]:
    """The pairs JOIN_SCENARIO should show after a sync, with the anchors AD gave the users."""
    ids = cloud_ids(lab)
    return [
        {"label": "alice", "source_anchor": lab.ad_anchor("alice").source_anchor,
         "cloud_id": ids["alice@contoso.com"], "user_principal_name": "alice@contoso.com",
         "primary_smtp": "alice.smith@contoso.com", "proxy_addresses_include": ["alice@contoso.com"]},
        {"label": "bob", "source_anchor": lab.ad_anchor("bob").source_anchor, "cloud_id": ids["bob@contoso.com"],
         "user_principal_name": "bob@contoso.com", "primary_smtp": "bob@contoso.com"},
        {"label": "carol", "source_anchor": lab.ad_anchor("carol").source_anchor,
         "user_principal_name": "carol@contoso.com", "primary_smtp": "SMTP:carol@contoso.com"},
    ]


def requests_after(lab, baseline: int, fragment: str, inner: bool = False) -> list[dict]:
    """The emulator's log entries after ``baseline`` whose path holds ``fragment`` (others share the lab).

    Requests on the wire by default; ``inner=True`` gives the requests inside $batch.
    """
    return [entry for entry in emulator(lab).requests()["log"]
            if entry["seq"] > baseline and fragment in entry["path"] and entry["inner"] is inner]


def last_seq(lab) -> int:
    log = emulator(lab).requests()["log"]
    return log[-1]["seq"] if log else 0


def run_role(lab, role_vars: dict, check: bool = False) -> tuple[int, dict, str]:
    """The directory_sync role in a localhost play; (exit code, registered results, output)."""
    with tempfile.TemporaryDirectory() as scratch:
        kept = Path(scratch) / "kept.json"
        play = {
            "name": "Force and verify a directory sync",
            "hosts": "localhost",
            "gather_facts": False,
            "vars": {"ansible_python_interpreter": "{{ ansible_playbook_python }}"},
            "tasks": [{
                "name": "Sync and verify",
                "block": [{"name": "Run the role",
                           "ansible.builtin.include_role": {"name": "hybrid.identity.directory_sync"},
                           "vars": role_vars}],
                "always": [{
                    "name": "Keep what the role registered",
                    "ansible.builtin.copy": {
                        "dest": str(kept),
                        "content": "{{ {'verification': directory_sync_verification | default(None),"
                                   " 'provisioning': directory_sync_provisioning | default(None)} | to_json }}",
                    },
                    "check_mode": False,
                }],
            }],
        }
        completed = run_playbook([play], extra_vars_files=(lab.vars_path,), check=check)
        output = completed.stdout + completed.stderr
        assert kept.exists(), output
        return completed.returncode, json.loads(kept.read_text()), output


def graph_auth_vars() -> dict:
    return {"directory_sync_graph_auth": {name: f"{{{{ {name} }}}}" for name in GRAPH_OPTIONS}}


# --- the tenant's switches ----------------------------------------------------------------


def test_features_read_set_with_check_mode_and_diff_then_nothing_to_do(lab, lab_vars):
    lab.load(WINDOW_SCENARIO)

    status, read, output = run_module("directory_sync_features", graph(lab_vars))
    assert status == "SUCCESS", output
    assert read["changed"] is False and read["changes"] == {}
    assert read["features"]["blockSoftMatchEnabled"] is True
    assert read["features"]["softMatchOnUpnEnabled"] is True

    wanted = graph(lab_vars, features={"blockSoftMatchEnabled": False, "softMatchOnUpnEnabled": True})
    task = {"name": "Open the matching window", "hybrid.identity.directory_sync_features": wanted, "diff": True}
    completed, planned = task_result(task, check=True)
    assert planned["changed"] is True, completed.stdout
    assert planned["changes"] == {"blockSoftMatchEnabled": False}
    assert planned["diff"]["before"]["features"]["blockSoftMatchEnabled"] is True
    assert planned["diff"]["after"]["features"]["blockSoftMatchEnabled"] is False
    assert tenant_features(lab)["blockSoftMatchEnabled"] is True, "check mode changed the tenant"

    status, applied, output = run_module("directory_sync_features", wanted, diff=True)
    assert status == "CHANGED", output
    assert applied["features"]["blockSoftMatchEnabled"] is False
    assert tenant_features(lab)["blockSoftMatchEnabled"] is False

    status, again, output = run_module("directory_sync_features", wanted)
    assert status == "SUCCESS", output
    assert again["changed"] is False and again["changes"] == {}


def test_an_unknown_switch_is_refused_with_the_valid_names(lab, lab_vars):
    lab.load(WINDOW_SCENARIO)
    status, result, _output = run_module("directory_sync_features",
                                         graph(lab_vars, features={"blockSoftMatch": False}))
    assert status == "FAILED"
    assert "unknown switch 'blockSoftMatch'" in result["msg"]
    assert "blockSoftMatchEnabled" in result["hint"] and "softMatchOnUpnEnabled" in result["hint"]
    assert tenant_features(lab)["blockSoftMatchEnabled"] is True


def test_reading_the_switches_without_permission_names_it(lab, lab_vars):
    lab.load(WINDOW_SCENARIO)
    low = graph(lab_vars, client_id=lab_vars["lab_low_client_id"], client_secret=lab_vars["lab_low_client_secret"])
    status, result, _output = run_module("directory_sync_features", low)
    assert status == "FAILED"
    assert "OnPremDirectorySynchronization.Read.All" in result["msg"]
    assert "Global Administrator" in result["hint"]


def window_requests(lab, baseline: int) -> list[str]:
    """The methods of the requests to the tenant's switches since ``baseline``."""
    return [entry["method"] for entry in requests_after(lab, baseline, "/directory/onPremisesSynchronization")]


def test_without_the_window_asked_the_switches_are_not_touched(lab):
    lab.load(WINDOW_SCENARIO)
    baseline = last_seq(lab)
    role_vars = graph_auth_vars() | {"directory_sync_method": "scheduled", "directory_sync_wait_seconds": 0}

    returncode, _kept, output = run_role(lab, role_vars)

    assert returncode == 0, output
    assert window_requests(lab, baseline) == []
    assert tenant_features(lab)["blockSoftMatchEnabled"] is True


def test_the_matching_window_closes_when_the_sync_step_fails(lab, lab_vars):
    lab.load(WINDOW_SCENARIO)
    baseline = last_seq(lab)
    role_vars = graph_auth_vars() | {
        "directory_sync_method": "cloud_sync",
        "directory_sync_changed_dns": [f"CN=nobody,{lab_vars['lab_scenario_ou']}"],
        "directory_sync_open_matching_window": True,
        "directory_sync_expected": [{"label": "nobody", "source_anchor": "bm9ib2R5LWF0LWFsbA=="}],
    }

    returncode, kept, output = run_role(lab, role_vars)

    assert returncode != 0, output
    assert kept["provisioning"]["failed"] is True and kept["verification"] is None
    assert "failed: CN=nobody," in kept["provisioning"]["msg"]
    assert [method for method in window_requests(lab, baseline) if method == "PATCH"] == ["PATCH", "PATCH"]
    assert tenant_features(lab)["blockSoftMatchEnabled"] is True


def test_a_tenant_that_already_allowed_soft_matching_is_left_so(lab):
    lab.load(WINDOW_SCENARIO | {"tenant": TENANT | {"features": {"blockSoftMatchEnabled": False}}})
    baseline = last_seq(lab)
    role_vars = graph_auth_vars() | {"directory_sync_method": "scheduled", "directory_sync_wait_seconds": 0,
                                     "directory_sync_open_matching_window": True}

    returncode, _kept, output = run_role(lab, role_vars)

    assert returncode == 0, output
    assert window_requests(lab, baseline) == ["GET"], "the window was already open: only read, never closed"
    assert tenant_features(lab)["blockSoftMatchEnabled"] is False


def test_the_matching_window_closes_when_verification_fails(lab):
    lab.load(WINDOW_SCENARIO)
    baseline = last_seq(lab)
    role_vars = graph_auth_vars() | {
        "directory_sync_method": "scheduled",
        "directory_sync_wait_seconds": 0,
        "directory_sync_open_matching_window": True,
        "directory_sync_expected": [{"label": "ghost", "source_anchor": "Z2hvc3QtdXNlci1hbmNob3I="}],
        "directory_sync_verify_timeout": 2,
        "directory_sync_verify_poll_interval": 1,
    }

    returncode, kept, output = run_role(lab, role_vars)

    assert returncode != 0, output
    assert kept["verification"]["failed"] is True
    assert "ghost: no cloud user has onPremisesImmutableId Z2hvc3QtdXNlci1hbmNob3I=" in kept["verification"]["msg"]
    patches = requests_after(lab, baseline, "/directory/onPremisesSynchronization")
    assert [entry["method"] for entry in patches if entry["method"] == "PATCH"] == ["PATCH", "PATCH"], \
        "the window was not opened and closed once each"
    assert tenant_features(lab)["blockSoftMatchEnabled"] is True


# --- Cloud Sync on demand -----------------------------------------------------------------


def test_cloud_sync_with_the_matching_window_joins_every_pair_end_to_end(lab, lab_vars):
    lab.load(JOIN_SCENARIO)
    expected = expected_pairs(lab)
    baseline = last_seq(lab)
    role_vars = graph_auth_vars() | {
        "directory_sync_method": "cloud_sync",
        "directory_sync_changed_dns": [lab.ad_anchor(sam).dn for sam in ("alice", "bob", "carol")],
        "directory_sync_open_matching_window": True,
        "directory_sync_expected": expected,
        "directory_sync_verify_timeout": 60,
        "directory_sync_verify_poll_interval": 2,
        "directory_sync_verify_return_results": "all",  # each pair's cloud id is checked below
    }

    returncode, kept, output = run_role(lab, role_vars)

    assert returncode == 0, output
    provisioning = kept["provisioning"]
    assert provisioning["job"]["id"] == lab_vars["lab_sync_job_id"]
    assert provisioning["job"]["service_principal_id"] == lab_vars["lab_sync_service_principal_id"]
    assert [(r["distinguished_name"], r["result"]) for r in provisioning["results"]] == [
        (lab.ad_anchor(sam).dn, "Success") for sam in ("alice", "bob", "carol")]
    assert [r["action"] for r in provisioning["results"]] == ["Update", "Update", "Create"]
    verification = kept["verification"]
    assert verification["summary"] == {"pairs": 3, "ok": 3, "failed": 0}
    assert {r["label"]: r["primary_smtp"] for r in verification["results"]} == {
        "alice": "alice.smith@contoso.com", "bob": "bob@contoso.com", "carol": "carol@contoso.com"}
    # rule book §3: the soft matches joined the existing cloud users, not new ones.
    assert {r["label"]: r["cloud_id"] for r in verification["results"]}["alice"] == expected[0]["cloud_id"]
    assert len(requests_after(lab, baseline, "/provisionOnDemand")) == 3
    assert tenant_features(lab)["blockSoftMatchEnabled"] is True


def test_cloud_sync_in_batches_reports_progress_and_keeps_the_pace_across_batches(lab, lab_vars):
    lab.load(NEW_USERS_SCENARIO)
    dns = [lab.ad_anchor(f"new{number}").dn for number in range(1, 8)]
    baseline = last_seq(lab)
    role_vars = graph_auth_vars() | {"directory_sync_method": "cloud_sync", "directory_sync_changed_dns": dns,
                                     "directory_sync_cloud_sync_batch_size": 3}

    returncode, kept, output = run_role(lab, role_vars)

    assert returncode == 0, output
    progress = re.findall(r"\(item=batch (\d) of 3: (\d) of 7 user\(s\) done, (\d) left, (\d+) s so far(.*?)\)$",
                          output, re.MULTILINE)
    assert [(batch, done, left) for batch, done, left, _seconds, _estimate in progress] == [
        ("1", "3", "4"), ("2", "6", "1"), ("3", "7", "0")], output
    assert all(re.fullmatch(r", about \d+ min \d+ s to go", batch[4]) for batch in progress[:2])
    assert progress[2][4] == ""
    # a batch that follows another waits out Microsoft's window: no call throttled, none lost
    calls = requests_after(lab, baseline, "/provisionOnDemand")
    assert [call["status"] for call in calls] == [200] * 7, "the emulator throttled: a batch did not wait its turn"
    assert int(progress[2][3]) >= 20
    provisioning = kept["provisioning"]
    assert provisioning["batches"] == 3 and provisioning["failed"] is False and provisioning["changed"] is True
    assert [r["distinguished_name"] for r in provisioning["results"]] == dns
    assert {r["outcome"] for r in provisioning["results"]} == {"exported"}


def test_the_role_in_check_mode_sends_nothing_and_only_reports(lab):
    lab.load(JOIN_SCENARIO)
    baseline = last_seq(lab)
    role_vars = graph_auth_vars() | {
        "directory_sync_method": "cloud_sync",
        "directory_sync_changed_dns": [lab.ad_anchor(sam).dn for sam in ("alice", "bob", "carol")],
        "directory_sync_open_matching_window": True,
        "directory_sync_expected": expected_pairs(lab),
    }

    returncode, kept, output = run_role(lab, role_vars, check=True)

    assert returncode == 0, output
    assert [r["sent"] for r in kept["provisioning"]["results"]] == [False, False, False]
    assert kept["verification"]["polls"] == 1 and kept["verification"]["summary"]["failed"] == 3
    assert requests_after(lab, baseline, "/provisionOnDemand") == []
    assert [e for e in requests_after(lab, baseline, "/directory/onPremisesSynchronization")
            if e["method"] == "PATCH"] == []


def test_the_role_verifies_the_pairs_of_an_expected_file(lab, tmp_path):
    """directory_sync_expected_file: the role hands the file to the module, and the list is not used."""
    lab.load(JOIN_SCENARIO)
    pairs_file = tmp_path / "expected.json"
    pairs_file.write_text(json.dumps(expected_pairs(lab)))
    role_vars = graph_auth_vars() | {
        "directory_sync_method": "cloud_sync",
        "directory_sync_changed_dns": [lab.ad_anchor(sam).dn for sam in ("alice", "bob", "carol")],
        "directory_sync_expected_file": str(pairs_file),
    }

    returncode, kept, output = run_role(lab, role_vars, check=True)

    assert returncode == 0, output
    assert kept["verification"]["polls"] == 1 and kept["verification"]["summary"] == {"pairs": 3, "ok": 0, "failed": 3}
    assert [row["label"] for row in kept["verification"]["results"]] == ["alice", "bob", "carol"]


def test_verification_names_the_pair_and_difference_when_the_lab_drops_a_join(lab):
    lab.load(JOIN_SCENARIO)
    expected = expected_pairs(lab)
    emulator(lab).set_sync_faults(drop_join=["bob"])
    try:
        role_vars = graph_auth_vars() | {
            "directory_sync_method": "cloud_sync",
            "directory_sync_changed_dns": [lab.ad_anchor(sam).dn for sam in ("alice", "bob")],
            "directory_sync_open_matching_window": True,
            "directory_sync_expected": expected[:2],
            "directory_sync_verify_timeout": 6,
            "directory_sync_verify_poll_interval": 2,
        }
        returncode, kept, output = run_role(lab, role_vars)
    finally:
        emulator(lab).set_sync_faults(drop_join=[])

    assert returncode != 0, output
    verification = kept["verification"]
    assert verification["summary"] == {"pairs": 2, "ok": 1, "failed": 1}
    # the role's default (attention) lists only the pair that differs; alice, joined, is only counted
    [bob] = verification["results"]
    assert bob["label"] == "bob" and not bob["ok"]
    assert {"attribute": "onPremisesSyncEnabled", "expected": True, "actual": None} in bob["differences"]
    assert {"attribute": "onPremisesImmutableId", "expected": expected[1]["source_anchor"], "actual": None} \
        in bob["differences"]
    assert "1 of 2 expected joins did not show" in verification["msg"]
    assert "bob: onPremisesSyncEnabled is null, expected true" in verification["msg"]
    assert tenant_features(lab)["blockSoftMatchEnabled"] is True


def test_provisioning_check_mode_finds_job_and_rule_and_sends_nothing(lab, lab_vars):
    lab.load(JOIN_SCENARIO)
    baseline = last_seq(lab)
    status, result, output = run_module("cloud_sync_provision", graph(
        lab_vars, distinguished_names=[lab.ad_anchor("alice").dn]), check=True)
    assert status == "CHANGED", output
    assert result["job"]["id"] == lab_vars["lab_sync_job_id"]
    assert result["rule_id"] == emulator(lab).sync_job()["rule_id"]
    assert result["results"][0]["sent"] is False
    assert requests_after(lab, baseline, "/provisionOnDemand") == []
    assert [e["path"].rsplit("/", 1)[-1] for e in requests_after(lab, baseline, "/servicePrincipals")] == [
        "servicePrincipals", "jobs", "schema"]


def test_provisioning_keeps_to_five_calls_per_ten_seconds(lab, lab_vars):
    lab.load(NEW_USERS_SCENARIO)
    dns = [lab.ad_anchor(f"new{number}").dn for number in range(1, 8)]
    baseline = last_seq(lab)
    started = time.monotonic()
    status, result, output = run_module("cloud_sync_provision", graph(
        lab_vars, distinguished_names=dns, service_principal_id=lab_vars["lab_sync_service_principal_id"]))
    elapsed = time.monotonic() - started
    assert status == "CHANGED", output
    calls = requests_after(lab, baseline, "/provisionOnDemand")
    assert [call["status"] for call in calls] == [200] * 7, "the emulator throttled: the limiter let too many by"
    assert elapsed >= 10
    assert result["summary"] == {"Success": 7}
    assert [r["action"] for r in result["results"]] == ["Create"] * 7


def test_a_paused_job_is_started_once_only_when_asked(lab, lab_vars):
    lab.load(JOIN_SCENARIO)
    dn = lab.ad_anchor("bob").dn
    emulator(lab).set_sync_job_status("Paused")
    try:
        task = {"name": "Provision bob", "hybrid.identity.cloud_sync_provision": graph(
            lab_vars, distinguished_names=[dn])}
        completed, left = task_result(task)
        assert left["changed"] is True, completed.stdout
        assert left["job_started"] is False
        assert any("is Paused" in warning for warning in left["warnings"])
        assert emulator(lab).sync_job()["job"]["status"]["code"] == "Paused"

        baseline = last_seq(lab)
        status, resumed, output = run_module("cloud_sync_provision", graph(
            lab_vars, distinguished_names=[dn], resume_paused_job=True))
        assert status == "CHANGED", output
        assert resumed["job_started"] is True
        assert len(requests_after(lab, baseline, "/start")) == 1
        assert emulator(lab).sync_job()["job"]["status"]["code"] == "Active"
    finally:
        emulator(lab).set_sync_job_status("Active")


def test_an_unknown_dn_fails_naming_it_after_the_others_went(lab, lab_vars):
    lab.load(JOIN_SCENARIO)
    missing = f"CN=nobody,{lab_vars['lab_scenario_ou']}"
    status, result, _output = run_module("cloud_sync_provision", graph(
        lab_vars, distinguished_names=[missing, lab.ad_anchor("bob").dn]))
    assert status == "FAILED"
    assert f"failed: {missing} (Request_ResourceNotFound " in result["msg"]
    assert [r["result"] for r in result["results"]] == ["Failure", "Success"]


def test_out_of_scope_failed_and_exported_objects_are_told_apart(lab, lab_vars):
    lab.load(ANSWERS_SCENARIO)
    system, dave, erin = (lab.ad_anchor(sam).dn for sam in ("HealthMailbox7f3a", "dave", "erin"))

    status, result, output = run_module("cloud_sync_provision",
                                        graph(lab_vars, distinguished_names=[system, dave, erin]))

    assert status == "FAILED", output
    by_dn = {r["distinguished_name"]: r for r in result["results"]}
    assert (by_dn[system]["result"], by_dn[system]["outcome"], by_dn[system]["ok"]) == (
        "Skipped", "out_of_scope", False)
    assert by_dn[system]["error_code"] == "NotEffectivelyEntitled"
    assert (by_dn[dave]["result"], by_dn[dave]["outcome"], by_dn[dave]["error_code"]) == (
        "Failure", "failed", "InvalidSoftMatch")
    assert "already has the onPremisesImmutableId" in by_dn[dave]["error_message"]
    assert (by_dn[erin]["outcome"], by_dn[erin]["action"]) == ("exported", "Create")
    assert result["outcomes"] == {"out_of_scope": 1, "failed": 1, "exported": 1}
    assert result["changed"] is True
    assert f"failed: {dave} (InvalidSoftMatch " in result["msg"]
    assert f"out of scope, not provisioned: {system} (NotEffectivelyEntitled " in result["msg"]
    # The engine's own log says the same: excluded by §9.5, refused by §3.
    runs = emulator(lab).sync_runs(limit=3)
    assert [(run["objects"][0]["action"], run["objects"][0]["rule"]) for run in reversed(runs)] == [
        ("excluded", "§9.5"), ("export_error", "§3, §9.7"), ("created", "§3.4")]


def test_provisioning_an_unchanged_user_again_changes_nothing(lab, lab_vars):
    lab.load(ANSWERS_SCENARIO)
    erin = lab.ad_anchor("erin").dn
    status, first, output = run_module("cloud_sync_provision", graph(lab_vars, distinguished_names=[erin]))
    assert status == "CHANGED", output
    assert first["outcomes"] == {"exported": 1}

    status, again, output = run_module("cloud_sync_provision", graph(lab_vars, distinguished_names=[erin]))

    assert status == "SUCCESS", output
    [result] = again["results"]
    assert (result["result"], result["outcome"], result["ok"], result["error_code"]) == (
        "Skipped", "unchanged", True, "RedundantExport")
    assert again["outcomes"] == {"unchanged": 1} and again["summary"] == {"Skipped": 1}


# --- the schedule -------------------------------------------------------------------------


@contextmanager
def schedule_once_the_window_is_open(lab, interval: float):
    """Start the lab's schedule as soon as the role has opened the matching window; stop it at the end.

    A cycle before the window opens would refuse the soft match (rule book §3), so the first
    scheduled cycle must come after it, however long ansible-playbook takes to get there.
    """
    done = threading.Event()

    def watch() -> None:
        while not done.wait(0.2):
            if tenant_features(lab)["blockSoftMatchEnabled"] is False:
                emulator(lab).set_sync_schedule(interval)
                return

    watcher = threading.Thread(target=watch, name="open-window-watch", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        done.set()
        watcher.join(10)
        emulator(lab).set_sync_schedule(0)


def test_scheduled_waits_for_the_labs_cycle_and_verifies_every_kind_of_join(lab):
    lab.load(SCHEDULED_SCENARIO)
    ids = cloud_ids(lab)
    anchors = {sam: lab.ad_anchor(sam).source_anchor for sam in ("alice", "gina", "carol")}
    expected = [
        {"label": "alice", "source_anchor": anchors["alice"], "cloud_id": ids["alice@contoso.com"],
         "user_principal_name": "alice@contoso.com", "primary_smtp": "alice.smith@contoso.com",
         "proxy_addresses_include": ["alice@contoso.com"]},
        {"label": "gina", "source_anchor": anchors["gina"], "cloud_id": ids["gina@contoso.com"],
         "user_principal_name": "gina@contoso.com", "primary_smtp": "gina@contoso.com"},
        {"label": "carol", "source_anchor": anchors["carol"], "user_principal_name": "carol@contoso.com",
         "primary_smtp": "carol@contoso.com"},
    ]
    newest = emulator(lab).sync_runs(limit=1, objects=False)
    after_id = newest[0]["id"] if newest else 0
    role_vars = graph_auth_vars() | {
        "directory_sync_method": "scheduled",
        "directory_sync_wait_seconds": 2,
        "directory_sync_open_matching_window": True,
        "directory_sync_expected": expected,
        "directory_sync_verify_timeout": 60,
        "directory_sync_verify_poll_interval": 1,
        "directory_sync_verify_return_results": "all",  # each pair's cloud id is checked below
    }

    with schedule_once_the_window_is_open(lab, 1):
        returncode, kept, output = run_role(lab, role_vars)

    assert returncode == 0, output
    assert kept["verification"]["summary"] == {"pairs": 3, "ok": 3, "failed": 0}
    assert kept["provisioning"] is None
    # rule book §3: the soft and the hard match joined the loaded cloud users, not new ones.
    assert {r["label"]: r["cloud_id"] for r in kept["verification"]["results"]} == {
        "alice": ids["alice@contoso.com"], "gina": ids["gina@contoso.com"],
        "carol": cloud_ids(lab)["carol@contoso.com"]}
    runs = [run for run in reversed(emulator(lab).sync_runs(limit=20)) if run["id"] > after_id]
    assert runs and {run["trigger"] for run in runs} == {"schedule"}
    assert {o["sAMAccountName"]: o["action"] for o in runs[0]["objects"]} == {
        "alice": "joined_smtp", "gina": "joined_hard", "carol": "created"}
    assert tenant_features(lab)["blockSoftMatchEnabled"] is True


# --- verification on its own --------------------------------------------------------------


def test_verify_in_check_mode_polls_once_and_only_warns(lab, lab_vars):
    lab.load(JOIN_SCENARIO)
    task = {"name": "Verify once", "hybrid.identity.directory_sync_verify": graph(
        lab_vars, expected=expected_pairs(lab), timeout=300, poll_interval=30)}
    completed, result = task_result(task, check=True)
    assert not result.get("failed") and result["changed"] is False, completed.stdout
    assert result["polls"] == 1
    assert result["summary"] == {"pairs": 3, "ok": 0, "failed": 3}
    assert any("3 of 3 expected joins do not show yet" in warning for warning in result["warnings"])


def test_verify_reads_in_bulk_one_batch_per_poll(lab, lab_vars):
    lab.load(OPEN_SCENARIO)
    expected = expected_pairs(lab)
    emulator(lab).sync_run("full")
    baseline = last_seq(lab)
    status, result, output = run_module("directory_sync_verify", graph(lab_vars, expected=expected))
    assert status == "SUCCESS", output
    assert result["summary"] == {"pairs": 3, "ok": 3, "failed": 0} and result["polls"] == 1
    assert len(requests_after(lab, baseline, "/$batch")) == 1
    assert requests_after(lab, baseline, "/users") == []
    # alice and bob by object ID in one `in` filter, carol by her anchor
    assert len(requests_after(lab, baseline, "/users", inner=True)) == 2


def test_verify_returns_the_pairs_asked_for_and_counts_every_pair(lab, lab_vars):
    """return_results: only the pairs that differ by default and with attention, every pair with all, none with none."""
    lab.load(JOIN_SCENARIO)
    expected = expected_pairs(lab)
    emulator(lab).sync_run("full")   # without the matching window the soft matches are refused: some pairs differ
    returned = {}
    for which in ("all", "attention", "none", None):
        chosen = {} if which is None else {"return_results": which}
        completed, result = task_result({"name": "Verify once", "hybrid.identity.directory_sync_verify": graph(
            lab_vars, expected=expected, timeout=0, poll_interval=1, **chosen)}, check=True)
        assert not result.get("failed"), completed.stdout
        returned[which] = result
    assert returned[None]["results"] == returned["attention"]["results"]
    summary = returned["all"]["summary"]
    assert summary["pairs"] == 3 and summary["failed"] > 0 and summary["ok"] > 0
    assert [row["label"] for row in returned["all"]["results"]] == [pair["label"] for pair in expected]
    assert [row["label"] for row in returned["attention"]["results"]] == \
        [row["label"] for row in returned["all"]["results"] if not row["ok"]]
    assert returned["none"]["results"] == []
    assert returned["attention"]["summary"] == returned["none"]["summary"] == summary


def test_verify_reads_the_pairs_from_an_expected_file_as_from_the_option(lab, lab_vars, tmp_path):
    """expected_file: the same pairs as a JSON file give the same results, in the same one bulk read per poll."""
    lab.load(JOIN_SCENARIO)
    expected = expected_pairs(lab)
    emulator(lab).sync_run("full")   # some pairs join, some differ
    pairs_file = tmp_path / "expected.json"
    pairs_file.write_text(json.dumps({"expected": expected}))
    given, from_option = task_result({"name": "Verify once", "hybrid.identity.directory_sync_verify": graph(
        lab_vars, expected=expected, timeout=0, poll_interval=1)}, check=True)
    baseline = last_seq(lab)
    read, from_file = task_result({"name": "Verify once", "hybrid.identity.directory_sync_verify": graph(
        lab_vars, expected_file=str(pairs_file), timeout=0, poll_interval=1)}, check=True)

    assert not from_option.get("failed") and not from_file.get("failed"), given.stdout + read.stdout
    assert from_file["results"] == from_option["results"] and from_file["summary"] == from_option["summary"]
    assert from_file["summary"]["pairs"] == len(expected) and from_file["summary"]["failed"] > 0
    assert len(requests_after(lab, baseline, "/$batch")) == 1


def test_a_cut_short_expected_file_fails_before_graph_is_asked(lab, lab_vars, tmp_path):
    lab.load(JOIN_SCENARIO)
    pairs_file = tmp_path / "expected.json"
    pairs_file.write_text(json.dumps(expected_pairs(lab))[:-20])
    baseline = last_seq(lab)
    status, result, output = run_module("directory_sync_verify", graph(lab_vars, expected_file=str(pairs_file)))

    assert status == "FAILED", output
    assert result["msg"].startswith(f"expected_file {pairs_file} is not valid JSON"), result["msg"]
    assert "cut short" in result["hint"]
    assert requests_after(lab, baseline, "/users") == requests_after(lab, baseline, "/$batch") == []
