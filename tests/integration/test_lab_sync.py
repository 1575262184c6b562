"""The lab's sync engine: one sync of every rule scenario gives the cloud state the rule book says.

Scenarios load into the running lab (Samba and the Entra emulator); syncs run through
`/_lab/sync/`; the cloud state is read back through real Graph calls (msal token, requests,
TLS verified against the lab CA), and Cloud Sync's provisionOnDemand is driven over Graph too.
"""

from __future__ import annotations

import ast
import json
import re
import time
from pathlib import Path

import ldap3
import msal
import pytest
import requests
import yaml

from tests.lab import LabError
from tests.lab.entra._sync_connector import ATTRIBUTES, AdConnector

LAB = Path(__file__).resolve().parents[1] / "lab"
SCENARIOS = sorted((LAB / "scenarios").glob("*.yml"))
# scenarios/README.md: one file per rule of the rule book, plus these two, which are not rules.
NOT_RULES = {"basic", "demo"}
RULE_SCENARIOS = [path for path in SCENARIOS if path.stem not in NOT_RULES]
PROVISIONING_APP_ID = "1a4721b3-e57f-4451-ae87-ef078703ec94"
SELECT = ("id,userPrincipalName,mail,proxyAddresses,displayName,onPremisesImmutableId,onPremisesSyncEnabled,"
          "onPremisesProvisioningErrors,onPremisesLastSyncDateTime")
UNCHANGED_FIELDS = ("userPrincipalName", "mail", "proxyAddresses", "onPremisesImmutableId", "onPremisesSyncEnabled",
                    "onPremisesProvisioningErrors")


class Graph:
    """Graph v1.0 of the lab as a client app sees it: client-credential token, verified TLS."""

    def __init__(self, lab_vars: dict, client_id: str | None = None, secret: str | None = None):
        self.base = lab_vars["graph_endpoint"].rstrip("/") + "/v1.0"
        self.session = requests.Session()
        # REQUESTS_CA_BUNDLE would override Session.verify; the lab CA must win.
        self.session.trust_env = False
        self.session.verify = lab_vars["graph_ca_cert"]
        app = msal.ConfidentialClientApplication(
            client_id or lab_vars["client_id"], client_credential=secret or lab_vars["client_secret"],
            authority=f"{lab_vars['authority_host']}/{lab_vars['tenant_id']}", instance_discovery=False,
            http_client=self.session)
        result = app.acquire_token_for_client(scopes=["https://graph.microsoft.com/.default"])
        assert "access_token" in result, result
        self.session.headers["Authorization"] = f"Bearer {result['access_token']}"

    def call(self, method: str, path: str, **kwargs) -> requests.Response:
        url = path if path.startswith("https://") else self.base + path
        return self.session.request(method, url, timeout=60, **kwargs)

    def users(self) -> dict[str, dict]:
        """Every cloud user by id: one listing, followed through @odata.nextLink."""
        found: dict[str, dict] = {}
        url = f"{self.base}/users?$select={SELECT}&$top=999"
        while url:
            response = self.call("GET", url)
            assert response.status_code == 200, response.text
            body = response.json()
            found.update({user["id"]: user for user in body["value"]})
            url = body.get("@odata.nextLink")
        return found


@pytest.fixture(scope="module")
def graph(lab_vars) -> Graph:
    return Graph(lab_vars)


@pytest.fixture(scope="module")
def entra(lab):
    """The lab's emulator, for its `/_lab/sync/` knobs."""
    return lab.service("entra").emulator


@pytest.fixture(autouse=True)
def quiet_sync(entra):
    """No schedule and no faults outlive a test: the lab is shared."""
    yield
    entra.set_sync_schedule(0)
    entra.set_sync_faults([])


def primary_of(user: dict) -> str | None:
    return next((value[5:] for value in user.get("proxyAddresses") or () if value.startswith("SMTP:")), None)


def has_value(user: dict, wanted: str) -> bool:
    kind, _colon, address = wanted.partition(":")
    return any(value.partition(":")[0] == kind and value.partition(":")[2].casefold() == address.casefold()
               for value in user.get("proxyAddresses") or ())


def holds_address(user: dict, address: str) -> bool:
    return any(value.partition(":")[2].casefold() == address.casefold() for value in user.get("proxyAddresses") or ())


def synced_with(users: dict[str, dict], anchor: str) -> list[dict]:
    return [u for u in users.values() if u["onPremisesImmutableId"] == anchor and u["onPremisesSyncEnabled"]]


def differences(sam: str, want: dict, got_run: dict, before: dict, after: dict, anchor: str,
                scenario: dict, deleted_before: dict | None = None) -> list[str]:
    """What differs between one user's expectation (scenarios/README.md) and what the sync did."""
    found = []

    def check(what: str, expected, actual) -> None:
        if expected != actual:
            found.append(f"{sam}: {what} is {actual!r}, expected {expected!r}")

    check("action", want["action"], got_run["action"])
    check("export error", want.get("export_error"), got_run["error"])
    synced = synced_with(after, anchor)
    if want["joined"] is None:
        check("synced cloud users", [], [u["userPrincipalName"] for u in synced])
        return found
    if len(synced) != 1:
        return [*found, f"{sam}: {len(synced)} cloud users carry its anchor {anchor}, expected 1"]
    user = synced[0]
    loaded = {u["userPrincipalName"].casefold(): u for u in before.values()}
    if want["joined"] == "new":
        check("a user created by the sync", True, user["id"] not in before)
    elif want["joined"].startswith("deleted:"):
        # rule book §9.12: the soft-deleted user, restored
        check("restored user id", (deleted_before or {})[want["joined"][8:].casefold()]["id"], user["id"])
    else:
        joined = loaded[want["joined"].casefold()]
        check("joined user id", joined["id"], user["id"])
        if "primary_smtp_before" in want:
            check("primary before the sync", want["primary_smtp_before"], primary_of(joined))
    if "cloud_upn" in want:
        check("UPN", want["cloud_upn"].casefold(), user["userPrincipalName"].casefold())
    if want.get("quarantined_upn"):
        onprem_upn = next(u["userPrincipalName"] for u in scenario["ad"]["users"] if u["sAMAccountName"] == sam)
        initial = scenario["tenant"]["initial_domain"]
        pattern = rf"{re.escape(onprem_upn.split('@')[0])}\d{{4}}@{re.escape(initial)}"
        check("quarantined UPN", True, bool(re.fullmatch(pattern, user["userPrincipalName"], re.IGNORECASE)))
    if "primary_smtp" in want:
        check("primary SMTP", want["primary_smtp"].casefold(), (primary_of(user) or "").casefold())
        check("mail", want["primary_smtp"].casefold(), (user["mail"] or "").casefold())
    for value in want.get("proxy_addresses_include") or ():
        check(f"holding {value}", True, has_value(user, value))
    for address in want.get("proxy_addresses_exclude") or ():
        check(f"holding {address}", False, holds_address(user, address))
    errors = sorted(e["propertyCausingError"] for e in user["onPremisesProvisioningErrors"] or ())
    check("provisioning errors", sorted(want.get("provisioning_errors") or []), errors)
    for error in user["onPremisesProvisioningErrors"] or ():
        check("provisioning error category", "PropertyConflict", error["category"])
    check("a last sync time", True, bool(user["onPremisesLastSyncDateTime"]))
    return found


def scenario_file(stem: str) -> Path:
    return next(path for path in RULE_SCENARIOS if path.stem == stem)


# The run log's why (rule book section, and words of its reason) for a few objects, by scenario.
WHY = {
    "hard_match_anchor": {"gina": ("§3.1", "source anchor equals the cloud user's onPremisesImmutableId")},
    "soft_match_smtp_primary_change": {"user": ("§3.2, §9.1", "matched user.lastname@contoso.com on user@contoso.com")},
    "soft_match_upn": {"erin": ("§3.3", "matched erin@contoso.com on erin@contoso.com")},
    "duplicate_address_in_directory": {"oscar": ("§3.4", "no cloud user matches")},
    "tenant_blocks_soft_match": {"grace": ("§3, §6", "refused by blockSoftMatchEnabled")},
    "admin_role_blocks_match": {"frank": ("§3, §9.3", "holds a directory admin role")},
    "immutable_id_mismatch": {"hank": ("§3, §9.7", "already has the onPremisesImmutableId")},
    "address_held_by_mail_group": {"mike": ("§3, §9.1", "is held by the group Sales")},
    "excluded_system_accounts": {"AdministratorOld": ("§9.5", "AdministratorOld starts with admini"),
                                 "dns-labdc": ("§9.5", "isCriticalSystemObject")},
}
# rule book §4: the value each quarantined property held, as onPremisesProvisioningErrors' `value`
# (the address compared without its prefix, case-insensitively).
ERROR_VALUES = {
    "address_held_by_other_cloud_user": {"kim": {("ProxyAddress", "sales.desk@contoso.com")},
                                         "lou": {("ProxyAddress", "support.desk@contoso.com")}},
    "duplicate_address_in_directory": {"oscar": {("ProxyAddress", "team@contoso.com")}},
    "admin_role_blocks_match": {"frank": {("UserPrincipalName", "frank@contoso.com"),
                                          ("ProxyAddress", "frank@contoso.com")}},
}


def test_every_rule_scenario_is_synced_and_the_tables_name_real_scenarios():
    assert len(RULE_SCENARIOS) >= 20 and (LAB / "scenarios" / "basic.yml").exists()
    stems = {path.stem for path in RULE_SCENARIOS}
    assert set(WHY) <= stems and set(ERROR_VALUES) <= stems


def error_values(user: dict) -> set[tuple[str, str]]:
    return {(error["propertyCausingError"], error["value"].partition(":")[2].casefold()
             if error["propertyCausingError"] == "ProxyAddress" else error["value"].casefold())
            for error in user["onPremisesProvisioningErrors"] or ()}


@pytest.mark.parametrize("scenario_path", RULE_SCENARIOS, ids=[path.stem for path in RULE_SCENARIOS])
def test_one_sync_gives_the_rule_book_cloud_state(lab, lab_vars, entra, graph, scenario_path):
    scenario = yaml.safe_load(scenario_path.read_text())
    expected = scenario.get("expect") or {}
    assert "after_sync" in expected, (f"{scenario_path.name} is a rule-book scenario (scenarios/README.md) but has no "
                                      "expect.after_sync: say what one sync must leave in the cloud")
    lab.load(scenario_path)
    before = graph.users()
    deleted_before = {u["userPrincipalName"].casefold(): u for u in entra.state().get("deletedUsers") or ()}
    search_base = lab_vars["ad_base_dn"] if expected.get("scope") == "domain" else None

    run = entra.sync_run("full", search_base)

    after = graph.users()
    by_sam = {entry["sAMAccountName"]: entry for entry in run["objects"]}
    # Anchors as the AD loader recorded them; the domain's own accounts only appear in the run log.
    anchors = {sam: entry["source_anchor"] for sam, entry in by_sam.items()}
    anchors.update({sam: identity.source_anchor for sam, identity in lab.ad_identities().items()})
    problems = []
    for sam, want in expected["after_sync"]["users"].items():
        if sam not in by_sam:
            problems.append(f"{sam}: not in the run log")
            continue
        problems += differences(sam, want, by_sam[sam], before, after, anchors[sam], scenario, deleted_before)
    loaded = {u["userPrincipalName"].casefold(): u for u in before.values()}
    for upn in expected["after_sync"].get("cloud_unchanged") or ():
        old = loaded[upn.casefold()]
        new = after.get(old["id"], {})
        problems += [f"{upn}: {name} changed to {new.get(name)!r}" for name in UNCHANGED_FIELDS
                     if new.get(name) != old[name]]
    for sam, (rule, because) in WHY.get(scenario_path.stem, {}).items():
        entry = by_sam[sam]
        if entry["rule"] != rule or because not in entry["reason"]:
            problems.append(f"{sam}: the run log says {entry['rule']!r}, {entry['reason']!r}; expected {rule!r} "
                            f"and {because!r}")
    for sam, wanted in ERROR_VALUES.get(scenario_path.stem, {}).items():
        synced = synced_with(after, anchors[sam])
        found = error_values(synced[0]) if len(synced) == 1 else None
        if found != {(prop, value.casefold()) for prop, value in wanted}:
            problems.append(f"{sam}: provisioning errors {found}, expected {wanted}")
    assert not problems, "\n".join(problems)


def test_a_second_sync_of_an_unchanged_directory_changes_nothing(lab, entra, graph):
    lab.load(scenario_file("address_held_by_other_cloud_user"))
    first = entra.sync_run("full")
    assert first["summary"] == {"joined_smtp": 1, "quarantined": 1}
    state = graph.users()

    second = entra.sync_run("full")
    delta = entra.sync_run("delta")

    assert second["summary"] == {"unchanged": 2}
    assert delta["processed"] == 0
    assert graph.users() == state
    assert [run["id"] for run in entra.sync_runs(limit=3)] == [delta["id"], second["id"], first["id"]]


def test_an_onprem_change_after_the_join_flows_on_the_next_sync(lab, entra, graph):
    lab.load(scenario_file("soft_match_smtp_clean"))
    entra.sync_run("full")
    dn = lab.ad_anchor("alice").dn
    with lab.ad_connection() as connection:
        connection.modify(dn, {
            "proxyAddresses": [(ldap3.MODIFY_REPLACE, ["SMTP:alice.new@contoso.com", "smtp:alice@contoso.com"])],
            "mail": [(ldap3.MODIFY_REPLACE, ["alice.new@contoso.com"])],
            "displayName": [(ldap3.MODIFY_REPLACE, ["Alice New"])],
        })

    run = entra.sync_run("delta")

    assert [(o["sAMAccountName"], o["action"]) for o in run["objects"]] == [("alice", "updated")]
    user = graph.call("GET", "/users/alice@contoso.com", params={"$select": SELECT}).json()
    assert user["displayName"] == "Alice New"
    assert primary_of(user) == "alice.new@contoso.com"
    assert has_value(user, "smtp:alice@contoso.com")


def test_drop_join_leaves_the_cloud_user_unjoined_while_the_run_log_claims_success(lab, entra, graph):
    lab.load(scenario_file("soft_match_smtp_clean"))
    entra.set_sync_faults(drop_join=["alice"])

    run = entra.sync_run("full")

    assert run["status"] == "success"
    assert [(o["sAMAccountName"], o["action"]) for o in run["objects"]] == [("alice", "joined_smtp")]
    user = graph.call("GET", "/users/alice@contoso.com", params={"$select": SELECT}).json()
    assert user["onPremisesSyncEnabled"] is None
    assert user["onPremisesImmutableId"] is None
    entra.set_sync_faults([])
    entra.sync_run("full")
    user = graph.call("GET", "/users/alice@contoso.com", params={"$select": SELECT}).json()
    assert user["onPremisesImmutableId"] == lab.ad_anchor("alice").source_anchor


def test_scheduled_runs_happen_when_an_interval_is_set(lab, entra, graph):
    lab.load(scenario_file("new_user"))
    newest = entra.sync_runs(limit=1, objects=False)
    after_id = newest[0]["id"] if newest else 0

    entra.set_sync_schedule(1)

    deadline = time.monotonic() + 15
    scheduled = []
    while not scheduled and time.monotonic() < deadline:
        time.sleep(0.3)
        scheduled = [r for r in entra.sync_runs(limit=5, objects=False)
                     if r["id"] > after_id and r["trigger"] == "schedule"]
    assert scheduled, "no scheduled run within 15 s"
    judy = graph.call("GET", "/users/judy@contoso.com", params={"$select": SELECT}).json()
    assert judy["onPremisesImmutableId"] == lab.ad_anchor("judy").source_anchor


def test_a_failed_export_is_retried_on_every_delta_until_it_goes(lab, entra, graph):
    lab.load(scenario_file("invalid_upn"))
    first = entra.sync_run("full")
    assert [(o["sAMAccountName"], o["error"]) for o in first["objects"]] == [("quinn", "IdentityDataValidationFailed")]

    # Nothing changed in AD, yet the delta takes quinn again: a failed export is retried.
    retried = entra.sync_run("delta")
    assert [(o["sAMAccountName"], o["action"]) for o in retried["objects"]] == [("quinn", "export_error")]

    with lab.ad_connection() as connection:
        connection.modify(lab.ad_anchor("quinn").dn,
                          {"userPrincipalName": [(ldap3.MODIFY_REPLACE, ["quinn@contoso.com"])]})
    fixed = entra.sync_run("delta")
    assert [(o["sAMAccountName"], o["action"]) for o in fixed["objects"]] == [("quinn", "created")]
    assert entra.sync_run("delta")["processed"] == 0, "a good export is not retried"
    quinn = graph.call("GET", "/users/quinn@contoso.com", params={"$select": SELECT}).json()
    assert quinn["onPremisesImmutableId"] == lab.ad_anchor("quinn").source_anchor


def test_scheduled_runs_skip_while_the_job_is_paused(lab, entra, graph):
    lab.load(scenario_file("new_user"))
    newest = entra.sync_runs(limit=1, objects=False)
    after_id = newest[0]["id"] if newest else 0
    entra.set_sync_job_status("Paused")
    try:
        skipped_before = entra.set_sync_schedule(0.5)["runs_skipped"]
        deadline = time.monotonic() + 10
        while entra.admin("GET", "/_lab/sync/schedule")["runs_skipped"] < skipped_before + 2:
            assert time.monotonic() < deadline, "no scheduled run was skipped within 10 s"
            time.sleep(0.2)
        assert [r for r in entra.sync_runs(limit=5, objects=False) if r["id"] > after_id] == []
        judy = graph.call("GET", "/users/judy@contoso.com", params={"$select": SELECT})
        assert judy.status_code == 404, "a paused job synced"
    finally:
        entra.set_sync_job_status("Active")
    deadline = time.monotonic() + 10
    while not [r for r in entra.sync_runs(limit=5, objects=False) if r["id"] > after_id]:
        assert time.monotonic() < deadline, "the schedule did not run again once the job was active"
        time.sleep(0.2)


def test_the_sync_interval_given_at_up_starts_the_schedule(lab, entra, monkeypatch):
    monkeypatch.setenv("HYBRID_LAB_SYNC_INTERVAL", "2.5")
    lab.up()
    assert entra.admin("GET", "/_lab/sync/schedule")["interval_seconds"] == 2.5
    entra.set_sync_schedule(0)

    monkeypatch.setenv("HYBRID_LAB_SYNC_INTERVAL", "soon")
    with pytest.raises(LabError, match="HYBRID_LAB_SYNC_INTERVAL='soon'"):
        lab.up()
    assert entra.admin("GET", "/_lab/sync/schedule")["interval_seconds"] == 0


def job_path(graph: Graph) -> tuple[str, dict]:
    """The Cloud Sync job as a client finds it: service principal by appId, then its one job."""
    found = graph.call("GET", "/servicePrincipals", params={"$filter": f"appId eq '{PROVISIONING_APP_ID}'"}).json()
    assert len(found["value"]) == 1
    principal = found["value"][0]
    jobs = graph.call("GET", f"/servicePrincipals/{principal['id']}/synchronization/jobs").json()["value"]
    assert [job["templateId"] for job in jobs] == ["AD2AADProvisioning"]
    return f"/servicePrincipals/{principal['id']}/synchronization/jobs/{jobs[0]['id']}", jobs[0]


def on_demand_body(rule_id: str, dn: str) -> dict:
    return {"parameters": [{"ruleId": rule_id, "subjects": [{"objectId": dn, "objectTypeName": "user"}]}]}


def test_provision_on_demand_syncs_one_object_and_is_rate_limited(lab, lab_vars, entra, graph):
    lab.load(scenario_file("duplicate_address_in_directory"))
    path, job = job_path(graph)
    by_name = graph.call("GET", "/servicePrincipals", params={"$filter": "displayName eq 'lab.contoso.test'"})
    assert [sp["appId"] for sp in by_name.json()["value"]] == [PROVISIONING_APP_ID]
    assert job["status"]["code"] == "Active"
    assert path.endswith(f"/{lab_vars['lab_sync_job_id']}")
    rule_id = graph.call("GET", f"{path}/schema").json()["synchronizationRules"][0]["id"]
    oscar, nina = lab.ad_anchor("oscar"), lab.ad_anchor("nina")

    answers = [graph.call("POST", f"{path}/provisionOnDemand", json=on_demand_body(rule_id, oscar.dn))]
    users = graph.users()
    answers.append(graph.call("POST", f"{path}/provisionOnDemand", json=on_demand_body("not-the-rule", nina.dn)))
    answers.append(graph.call("POST", f"{path}/provisionOnDemand",
                              json=on_demand_body(rule_id, "CN=nobody,OU=Staff," + lab_vars["lab_scenario_ou"])))
    answers += [graph.call("POST", f"{path}/provisionOnDemand", json=on_demand_body(rule_id, nina.dn))
                for _call in range(3)]

    assert [answer.status_code for answer in answers] == [200, 400, 404, 200, 200, 429]
    key, value = json.loads(answers[0].json()["key"]), json.loads(answers[0].json()["value"])
    assert key["result"] == "Success"
    assert value["statusInfo"]["status"] == "Success"
    assert [step["type"] for step in value["provisioningSteps"]] == ["Import", "Scoping", "Matching", "Export"]
    assert [u["userPrincipalName"] for u in synced_with(users, oscar.source_anchor)] == ["oscar@contoso.com"]
    assert value["targetIdentity"]["id"] == synced_with(users, oscar.source_anchor)[0]["id"]
    assert synced_with(users, nina.source_anchor) == []
    assert 1 <= int(answers[-1].headers["Retry-After"]) <= 10
    assert answers[1].json()["error"]["code"] == "BadRequest"
    # nina again: nothing to change, told as Graph's skip example tells it.
    key, value = json.loads(answers[4].json()["key"]), json.loads(answers[4].json()["value"])
    assert (key["result"], key["details"]["errorCode"]) == ("Skipped", "RedundantExport")
    assert (value["action"], value["statusInfo"]["status"], value["statusInfo"]["errorCode"]) == (
        "Other", "Skipped", None)
    assert [(step["name"], step["status"], step["details"].get("SkipReason")) for step in value["provisioningSteps"]
            if step["type"] == "Export"] == [("EntrySynchronizationSkip", "Skipped", "RedundantExport")]
    on_demand = entra.sync_runs(limit=1)[0]
    assert (on_demand["mode"], on_demand["processed"]) == ("on_demand", 1)


def test_start_resumes_a_paused_or_quarantined_job(lab, entra, graph, lab_vars):
    path, _job = job_path(graph)
    low = Graph(lab_vars, lab_vars["lab_low_client_id"], lab_vars["lab_low_client_secret"])
    assert low.call("GET", path).status_code == 403
    try:
        for status in ("Paused", "Quarantine"):
            entra.set_sync_job_status(status)
            assert graph.call("GET", path).json()["status"]["code"] == status

            assert graph.call("POST", f"{path}/start").status_code == 204

            job = graph.call("GET", path).json()
            assert (job["status"]["code"], job["status"]["quarantine"]) == ("Active", None)
        assert graph.call("POST", f"{path}/pause").status_code == 204
        assert graph.call("GET", path).json()["status"]["code"] == "Paused"
    finally:
        entra.set_sync_job_status("Active")


# --- the lab's contract -------------------------------------------------------------------

FIVE_USERS = {"tenant": {"initial_domain": "contoso.onmicrosoft.com", "verified_domains": ["contoso.com"]},
              "ad": {"users": [{"sAMAccountName": f"page{number}", "ou": "OU=Staff",
                                "userPrincipalName": f"page{number}@contoso.com", "description": "not read",
                                "employeeID": f"E{number}", "proxyAddresses": [f"SMTP:page{number}@contoso.com"]}
                               for number in range(1, 6)]}}


def test_the_connector_reads_ad_in_pages_and_only_its_attributes(lab, lab_vars):
    lab.load(FIVE_USERS)
    connector = AdConnector(lab.lab_dir, page_size=2)

    users = connector.read_scope(lab_vars["lab_scenario_ou"])

    assert sorted(user.sam_account_name for user in users) == [f"page{number}" for number in range(1, 6)]
    stats = connector.last_read
    assert (stats.page_size, stats.pages, stats.entries) == (2, 3, 5)
    assert stats.attributes_requested == ATTRIBUTES
    assert stats.attributes_returned <= set(ATTRIBUTES), stats.attributes_returned - set(ATTRIBUTES)
    assert {"proxyAddresses", "objectGUID", "uSNChanged"} <= stats.attributes_returned
    assert {"description", "employeeID", "cn", "memberOf"}.isdisjoint(stats.attributes_returned)


def test_the_lab_imports_nothing_of_the_collection():
    """The lab is an independent model of the rule book: no file under tests/lab may import the collection."""
    offenders = []
    for path in sorted(LAB.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            elif (isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) in
                  ("import_module", "__import__") and node.args and isinstance(node.args[0], ast.Constant)):
                names = [str(node.args[0].value)]
            else:
                continue
            offenders += [f"{path.relative_to(LAB)}:{node.lineno} {name}" for name in names
                          if name.split(".")[0] in ("plugins", "ansible_collections")]
    assert len(list(LAB.rglob("*.py"))) > 30
    assert not offenders, offenders
