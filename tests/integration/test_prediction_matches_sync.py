"""soft_match_check's `predicted` cloud user against what the lab's sync engine makes of each scenario.

The predictor (plugins/module_utils/matching/) and the lab's sync engine (tests/lab/entra/_sync*.py)
are two models of the rule book written apart; directory_sync_verify checks a real sync against the
prediction, so the two must agree. For every rule-book scenario: load it, run soft_match_check against
Samba and the emulator, run one full sync, then compare, user by user, the predicted cloud user (which
one, its primary SMTP, UPN, SMTP proxy addresses and quarantined values) with the emulator's state and
with the scenario's `after_sync` block.

The module runs as Ansible's module runner starts it (a Python process reading its arguments file), not
through ansible-playbook: test_soft_match_check.py covers that path, and this keeps the test to seconds.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.integration._ansible import COLLECTIONS, ansible_env

SCENARIOS = sorted((Path(__file__).resolve().parents[1] / "lab" / "scenarios").glob("*.yml"))
COMPARED = [path for path in SCENARIOS
            if {"predict", "after_sync"} <= set(yaml.safe_load(path.read_text()).get("expect") or {})]
CONNECTION = ("ad_server", "ad_username", "ad_password", "ad_ca_cert", "tenant_id", "client_id", "client_secret",
              "authority_host", "graph_endpoint", "graph_ca_cert")
JOINS = ("already_synced", "hard_match", "soft_match_smtp", "soft_match_upn")
MODULE = "ansible_collections.hybrid.identity.plugins.modules.soft_match_check"
DIGITS = "<4 digits>"


@pytest.fixture(scope="module")
def entra(lab):
    return lab.service("entra").emulator


def soft_match_check(lab_vars: dict, search_base: str, scratch: Path) -> dict:
    """The module's result, its arguments given as Ansible hands them over."""
    arguments = scratch / "args.json"
    arguments.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": {
        **{name: lab_vars[name] for name in CONNECTION}, "search_base": search_base, "return_results": "all"}}))
    env = ansible_env() | {"PYTHONPATH": str(COLLECTIONS)}
    done = subprocess.run([sys.executable, "-m", MODULE, str(arguments)], capture_output=True, text=True, env=env,
                          timeout=300, check=False)
    result = json.loads(done.stdout)
    assert not result.get("failed"), result
    return result


def smtp_set(values) -> set[tuple[bool, str]]:
    """(primary, address) for every SMTP value; addresses compare case-insensitively (rule book §1)."""
    found = set()
    for value in values or ():
        kind, _colon, address = value.partition(":")
        if kind.lower() == "smtp":
            found.add((kind == "SMTP", address.casefold()))
    return found


def primary_of(values) -> str | None:
    return next((address for primary, address in smtp_set(values) if primary), None)


def value_pattern(predicted: str) -> re.Pattern:
    """A predicted address; `<4 digits>` stands for the digits the service chooses (rule book §9.9)."""
    return re.compile(re.escape(predicted.casefold()).replace(re.escape(DIGITS), r"\d{4}"))


def same_values(predicted: set[tuple[bool, str]], actual: set[tuple[bool, str]]) -> bool:
    """Each predicted (primary, address) matches one actual value, and no actual value is left over."""
    left = set(actual)
    for primary, address in predicted:
        pattern = value_pattern(address)
        found = next((item for item in sorted(left) if item[0] == primary and pattern.fullmatch(item[1])), None)
        if found is None:
            return False
        left.discard(found)
    return not left


def same_address(predicted: str | None, actual: str | None) -> bool:
    if predicted is None or actual is None:
        return predicted == actual
    return bool(value_pattern(predicted).fullmatch(actual.casefold()))


def bare(value: str) -> str:
    kind, colon, address = value.partition(":")
    return (address if colon and kind.lower() == "smtp" else value).casefold()


def quarantine_pattern(upn: str, initial_domain: str) -> re.Pattern:
    """Rule book §4: a quarantined UPN becomes <prefix><4 digits>@<initial domain>."""
    return re.compile(rf"{re.escape(upn.split('@')[0])}\d{{4}}@{re.escape(initial_domain)}", re.IGNORECASE)


def differences(sam: str, row: dict, synced: list[dict], loaded_ids: set[str], want: dict | None,
                initial_domain: str) -> list[str]:
    """What differs between one user's prediction and the cloud after the sync (and its after_sync block)."""
    predicted, found = row["predicted"], []

    def check(what: str, expected, actual) -> None:
        if expected != actual:
            found.append(f"{sam} ({row['outcome']}): {what}: predicted {expected!r}, the sync gave {actual!r}")

    if predicted is None:
        check("cloud users synced from it", [], [user["userPrincipalName"] for user in synced])
        if want is not None:
            check("after_sync joined", None, want["joined"])
        return found
    if len(synced) != 1:
        return [f"{sam} ({row['outcome']}): predicted one cloud user, the sync left {len(synced)}"]
    [user] = synced
    if row["outcome"] in JOINS:
        check("joined cloud user", row["cloud"]["id"], user["id"])
    else:
        check("a cloud user the sync created", True, user["id"] not in loaded_ids)
    if not same_address(predicted["primary_smtp"], primary_of(user["proxyAddresses"])):
        check("primary SMTP", predicted["primary_smtp"], primary_of(user["proxyAddresses"]))
    if not same_address(predicted["primary_smtp"], user["mail"]):
        check("mail", predicted["primary_smtp"], user["mail"])
    if not same_values(smtp_set(predicted["proxy_addresses"]), smtp_set(user["proxyAddresses"])):
        check("SMTP proxy addresses", sorted(predicted["proxy_addresses"]), sorted(user["proxyAddresses"]))
    quarantined_upn = next((entry["value"] for entry in predicted["quarantined"]
                            if entry["property"] == "UserPrincipalName"), None)
    if predicted["user_principal_name"] is None:
        pattern = quarantine_pattern(quarantined_upn or "?", initial_domain)
        check("a quarantined UPN", True, bool(pattern.fullmatch(user["userPrincipalName"])))
    else:
        check("UPN", predicted["user_principal_name"].casefold(), user["userPrincipalName"].casefold())
    check("quarantined values",
          sorted((entry["property"], entry["value"].casefold()) for entry in predicted["quarantined"]),
          sorted((error["propertyCausingError"], bare(error["value"]))
                 for error in user["onPremisesProvisioningErrors"] or ()))
    if want is not None:
        found += after_sync_differences(sam, predicted, want)
    return found


def basis_differences(rows: dict, predict: dict) -> list[str]:
    """Rule book §9.6: the sign a prediction read for the Exchange user, where the scenario names it."""
    return [f"{sam}: the prediction read {rows[sam]['predicted']['mailbox_user_from']!r} for the mailbox, expected "
            f"{item['mailbox_user_from']!r}"
            for sam, item in predict.items()
            if "mailbox_user_from" in item and rows[sam]["predicted"]["mailbox_user_from"] != item["mailbox_user_from"]]


def after_sync_differences(sam: str, predicted: dict, want: dict) -> list[str]:
    """The scenario's after_sync block (stated from the rule book), read against the prediction."""
    found = []
    addresses = smtp_set(predicted["proxy_addresses"])
    if want["joined"] is None:
        found.append(f"{sam}: after_sync expects no cloud user, the prediction has one")
    if "primary_smtp" in want and want["primary_smtp"].casefold() != (predicted["primary_smtp"] or "").casefold():
        found.append(f"{sam}: after_sync primary {want['primary_smtp']}, predicted {predicted['primary_smtp']}")
    if "cloud_upn" in want and want["cloud_upn"].casefold() != (predicted["user_principal_name"] or "").casefold():
        found.append(f"{sam}: after_sync UPN {want['cloud_upn']}, predicted {predicted['user_principal_name']}")
    if want.get("quarantined_upn") and predicted["user_principal_name"] is not None:
        found.append(f"{sam}: after_sync expects a quarantined UPN, predicted {predicted['user_principal_name']}")
    for value in want.get("proxy_addresses_include") or ():
        if (value.startswith("SMTP:"), bare(value)) not in addresses:
            found.append(f"{sam}: after_sync includes {value}, the prediction does not")
    for address in want.get("proxy_addresses_exclude") or ():
        # a MOERA with digits (§9.9) is another address than the one without
        if any(held == address.casefold() for _primary, held in addresses if DIGITS not in held):
            found.append(f"{sam}: after_sync excludes {address}, the prediction holds it")
    errors = sorted(entry["property"] for entry in predicted["quarantined"])
    if errors != sorted(want.get("provisioning_errors") or []):
        found.append(f"{sam}: after_sync provisioning errors {want.get('provisioning_errors') or []}, "
                     f"predicted {errors}")
    return found


@pytest.mark.parametrize("scenario_path", COMPARED, ids=[path.stem for path in COMPARED])
def test_predicted_cloud_user_is_what_the_sync_makes(lab, lab_vars, entra, scenario_path, tmp_path):
    scenario = yaml.safe_load(scenario_path.read_text())
    expected = scenario["expect"]
    lab.load(scenario_path)
    domain_scope = expected.get("scope") == "domain"
    search_base = lab_vars["ad_base_dn"] if domain_scope else lab_vars["lab_scenario_ou"]
    loaded_ids = {user["id"] for user in entra.state()["users"]}

    result = soft_match_check(lab_vars, search_base, tmp_path)
    entra.sync_run("full", lab_vars["ad_base_dn"] if domain_scope else None)

    after = entra.state()["users"]
    rows = {row["onprem"]["sam_account_name"]: row for row in result["results"]}
    assert set(expected["after_sync"]["users"]) <= set(rows)
    problems = []
    for sam, row in rows.items():
        anchor = row["onprem"]["source_anchor"]
        synced = [user for user in after if user["onPremisesSyncEnabled"] and user["onPremisesImmutableId"] == anchor]
        problems += differences(sam, row, synced, loaded_ids, expected["after_sync"]["users"].get(sam),
                                scenario["tenant"]["initial_domain"])
    problems += basis_differences(rows, expected["predict"])
    assert not problems, "\n".join(problems)


def test_every_rule_scenario_is_compared():
    assert len(COMPARED) >= 20
