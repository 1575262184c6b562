"""ad_user_from_cloud (source-of-authority transfer, KB 2641663) against Samba and the Entra emulator."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote

import pytest

from tests.integration._ansible import task_result
from tests.integration._ldif import ldapsearch, snapshot

SCENARIO = Path(__file__).with_name("files") / "authority_transfer.yml"
AD_OPTIONS = ("ad_server", "ad_username", "ad_password", "ad_ca_cert")
GRAPH_OPTIONS = ("tenant_id", "client_id", "client_secret", "authority_host", "graph_endpoint", "graph_ca_cert")


def transfer_task(**options) -> dict:
    connection = {name: f"{{{{ {name} }}}}" for name in (*AD_OPTIONS, *GRAPH_OPTIONS)}
    return {"name": "Transfer", "hybrid.identity.ad_user_from_cloud": connection | {
        "users": ["pradeep@contoso.com", "Miriam.Graham@contoso.com", "megan@contoso.com", "patti@contoso.com"],
        "ou": "OU=New,{{ lab_scenario_ou }}"} | options}


CREATED_ATTRIBUTES = ("proxyAddresses", "mail", "userPrincipalName", "userAccountControl", "displayName", "givenName",
                      "sn")


def created(lab_vars, sam):
    return ldapsearch(lab_vars, f"(sAMAccountName={sam})", CREATED_ATTRIBUTES)


@pytest.fixture
def tenant(lab, lab_vars):
    lab.load(SCENARIO)
    return snapshot(lab_vars, lab_vars["lab_scenario_ou"])


def test_check_mode_plans_and_creates_nothing(tenant, lab, lab_vars):
    completed, result = task_result(transfer_task(), extra_vars_files=(lab.vars_path,), check=True)

    assert not result.get("failed"), completed.stdout
    assert result["changed"] is True
    assert sorted(item["cloud"]["user_principal_name"] for item in result["created"]) == [
        "miriam@contoso.com", "pradeep@contoso.com"]
    skipped = {item["cloud"]["user_principal_name"]: item["reason"] for item in result["not_created"]}
    assert "CN=megan,OU=Staff" in skipped["megan@contoso.com"]  # held on-prem, in another case
    assert "Global Administrator" in skipped["patti@contoso.com"]
    assert snapshot(lab_vars, lab_vars["lab_scenario_ou"]) == tenant


def test_creates_the_users_with_the_cloud_addresses_so_the_next_sync_soft_matches(tenant, lab, lab_vars):
    completed, result = task_result(transfer_task(password="Initial-Pass-2025!"), extra_vars_files=(lab.vars_path,))

    assert not result.get("failed"), completed.stdout
    assert "Initial-Pass-2025!" not in completed.stdout
    [pradeep] = created(lab_vars, "pradeep")
    assert pradeep["dn"] == f"CN=Pradeep Gupta,OU=New,{lab_vars['lab_scenario_ou']}"
    assert sorted(pradeep["proxyAddresses"]) == ["SMTP:Pradeep.Gupta@contoso.com", "smtp:pradeep@contoso.com"]
    assert pradeep["mail"] == ["Pradeep.Gupta@contoso.com"]
    assert pradeep["userPrincipalName"] == ["pradeep@contoso.com"]
    assert pradeep["userAccountControl"] == ["512"]  # enabled: it has a password
    [miriam] = created(lab_vars, "miriam")
    assert miriam["dn"] == f"CN=Graham\\, Miriam,OU=New,{lab_vars['lab_scenario_ou']}"
    assert created(lab_vars, "patti") == []

    check = {"name": "Predict", "hybrid.identity.soft_match_check": {
        name: f"{{{{ {name} }}}}" for name in (*AD_OPTIONS, *GRAPH_OPTIONS)} | {
        "search_base": "OU=New,{{ lab_scenario_ou }}", "return_results": "all"}}
    completed, prediction = task_result(check, extra_vars_files=(lab.vars_path,))

    assert not prediction.get("failed"), completed.stdout
    rows = {row["onprem"]["sam_account_name"]: row for row in prediction["results"]}
    assert {sam: row["outcome"] for sam, row in rows.items()} == {"pradeep": "soft_match_smtp",
                                                                  "miriam": "soft_match_smtp"}
    for row in rows.values():
        codes = {finding["code"] for finding in row["findings"]}
        assert not codes & {"primary_smtp_will_change", "cloud_addresses_will_be_dropped", "upn_will_change"}

    completed, again = task_result(transfer_task(password="Initial-Pass-2025!"), extra_vars_files=(lab.vars_path,))

    assert again["changed"] is False and again["created"] == []  # they exist now: never a duplicate


def test_without_a_password_users_are_created_disabled(tenant, lab, lab_vars):
    completed, result = task_result(transfer_task(users=["pradeep@contoso.com"]), extra_vars_files=(lab.vars_path,))

    assert not result.get("failed"), completed.stdout
    assert created(lab_vars, "pradeep")[0]["userAccountControl"] == ["514"]


def test_a_taken_sam_account_name_skips_the_user(tenant, lab, lab_vars):
    task = transfer_task(users=["pradeep@contoso.com"], sam_account_name_template="{surname}")

    completed, result = task_result(task, extra_vars_files=(lab.vars_path,))

    assert not result.get("failed"), completed.stdout
    assert result["created"] == [] and "sAMAccountName Gupta is taken" in result["not_created"][0]["reason"]


COUNTERPARTS = Path(__file__).with_name("files") / "authority_transfer_counterparts.yml"


def test_a_graph_filter_chooses_the_users_and_none_the_pairing_rules_pair_on_prem_is_created(lab, lab_vars):
    lab.load(COUNTERPARTS)
    emulator = lab.service("entra").emulator
    baseline = emulator.requests()["log"][-1]["seq"]
    task = transfer_task(graph_filter="department eq 'Sales'", search_base="{{ lab_scenario_ou }}",
                         domain_map={"contoso.local": "contoso.com"})
    del task["hybrid.identity.ad_user_from_cloud"]["users"]

    completed, result = task_result(task, extra_vars_files=(lab.vars_path,))

    assert not result.get("failed"), completed.stdout
    assert [item["cloud"]["user_principal_name"] for item in result["created"]] == ["paula@contoso.com"]
    skipped = {item["cloud"]["user_principal_name"]: item["reason"] for item in result["not_created"]}
    assert sorted(skipped) == ["nora@contoso.com", "omar@contoso.com"]  # quentin is not in Sales: not chosen
    assert f"CN=nortiz,OU=Staff,{lab_vars['lab_scenario_ou']} pairs with it by employee_id" in skipped[
        "nora@contoso.com"]
    assert f"CN=ohaddad,OU=Staff,{lab_vars['lab_scenario_ou']} pairs with it by upn_prefix" in skipped[
        "omar@contoso.com"]
    # in AD, read independently: paula created, and no second account for nora or omar
    assert [entry["dn"] for entry in ldapsearch(lab_vars, "(userPrincipalName=paula@contoso.com)")] == [
        f"CN=Paula Reyes,OU=New,{lab_vars['lab_scenario_ou']}"]
    for upn in ("nora@contoso.com", "omar@contoso.com", "quentin@contoso.com"):
        assert ldapsearch(lab_vars, f"(userPrincipalName={upn})") == [], upn
    queries = [entry["query"] for entry in emulator.requests()["log"]
               if entry["seq"] > baseline and entry["method"] == "GET" and entry["path"].endswith("/users")]
    assert len(queries) == 1 and "department" in unquote(queries[0]) and "Sales" in unquote(queries[0])
