"""hybrid.identity.soft_match_check through ansible-playbook against Samba and the Entra emulator.

Every scenario in tests/lab/scenarios names its rule book section and the outcome and findings
the rule book gives for each user; the module must predict exactly those.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from ansible_collections.hybrid.identity.plugins.module_utils.common._anchor import immutable_id
from ansible_collections.hybrid.identity.plugins.module_utils.matching._matching_result import SEVERITIES
from tests.integration._ansible import task_result

SCENARIOS = sorted((Path(__file__).resolve().parents[1] / "lab" / "scenarios").glob("*.yml"))
RULE_SCENARIOS = [path for path in SCENARIOS if "predict" in (yaml.safe_load(path.read_text()).get("expect") or {})]
AD_OPTIONS = ("ad_server", "ad_username", "ad_password", "ad_ca_cert")
GRAPH_OPTIONS = ("tenant_id", "client_id", "client_secret", "authority_host", "graph_endpoint", "graph_ca_cert")


def connection(*names) -> dict:
    return {name: f"{{{{ {name} }}}}" for name in names}


def check_task(**options) -> dict:
    return {
        "name": "Predict the next sync",
        # every user, unless a test asks for less: the tests read the prediction of each
        "hybrid.identity.soft_match_check": connection(*AD_OPTIONS, *GRAPH_OPTIONS) | {"return_results": "all"}
        | options,
    }


def significant(findings) -> list[str]:
    return sorted(finding["code"] for finding in findings if finding["severity"] != "info")


def test_every_rule_of_the_rule_book_has_a_scenario():
    assert len(RULE_SCENARIOS) >= 20


def finding_values(findings) -> dict:
    """Per code, its finding's `value_list` when it lists several, else its `value`; a list when the code recurs."""
    by_code: dict[str, list] = {}
    for finding in findings:
        by_code.setdefault(finding["code"], []).append(finding["value_list"] or finding["value"])
    return {code: found[0] if len(found) == 1 else found for code, found in by_code.items()}


def anchor_reference(lab, value):
    """"@ad:<sAMAccountName>" in a scenario stands for that AD user's source anchor."""
    if isinstance(value, str) and value.startswith("@ad:"):
        return lab.ad_anchor(value[len("@ad:"):]).source_anchor
    return value


@pytest.mark.parametrize("scenario", RULE_SCENARIOS, ids=[path.stem for path in RULE_SCENARIOS])
def test_scenario_prediction_matches_the_rule_book(lab, lab_vars, scenario):
    expected = yaml.safe_load(scenario.read_text())["expect"]
    lab.load(scenario)
    scope = lab_vars["ad_base_dn"] if expected.get("scope") == "domain" else lab_vars["lab_scenario_ou"]

    completed, result = task_result(check_task(search_base=scope), extra_vars_files=(lab.vars_path,))

    assert not result.get("failed"), completed.stdout
    assert result["changed"] is False
    rows = {row["onprem"]["sam_account_name"]: row for row in result["results"]}
    got = {sam: (row["outcome"], significant(row["findings"])) for sam, row in rows.items()}
    want = {sam: (item["outcome"], sorted(item["findings"])) for sam, item in expected["predict"].items()}
    assert got == want
    problems = []
    for sam, item in expected["predict"].items():
        # the cloud user it joins (or that refuses it), by the UPN it was loaded with; none unless named
        candidate = (rows[sam]["cloud"] or {}).get("user_principal_name")
        if candidate != item.get("cloud"):
            problems.append(f"{sam}: candidate {candidate!r}, expected {item.get('cloud')!r}")
        values = finding_values(rows[sam]["findings"])
        for code, value in (item.get("values") or {}).items():
            if values.get(code) != anchor_reference(lab, value):
                problems.append(f"{sam}: {code} value {values.get(code)!r}, expected {value!r}")
    assert not problems, "\n".join(problems)
    for row in result["results"]:
        for finding in row["findings"]:
            assert finding["severity"] == SEVERITIES[finding["code"]], finding
            assert finding["attribute"] and finding["message"].endswith("."), finding


def test_reports_are_written_and_check_mode_changes_nothing(lab, lab_vars, tmp_path):
    lab.load(next(path for path in RULE_SCENARIOS if path.stem == "soft_match_smtp_primary_change"))
    task = check_task(search_base=lab_vars["lab_scenario_ou"], report_dir=str(tmp_path / "reports"))

    completed, result = task_result(task, extra_vars_files=(lab.vars_path,), check=True)

    assert not result.get("failed"), completed.stdout
    assert set(result["reports"]) == {"json", "csv", "html"}
    report = json.loads(Path(result["reports"]["json"]).read_text())
    assert report["summary"]["outcomes"] == {"soft_match_smtp": 1}
    assert "primary_smtp_will_change" in Path(result["reports"]["html"]).read_text()


def test_data_instead_of_connections(lab_vars):
    """No AD and no Graph: users, cloud users and tenant given as data (docs/architecture.md, onprem_users)."""
    task = {
        "name": "Predict from data",
        "hybrid.identity.soft_match_check": {
            "return_results": "all",
            "onprem_users": [
                {
                    "distinguishedName": "CN=user,OU=Staff,DC=contoso,DC=com",
                    "sAMAccountName": "user",
                    "userPrincipalName": "user.lastname@contoso.com",
                    "mail": "user@contoso.com",
                    "proxyAddresses": ["SMTP:user@contoso.com"],
                    "objectGUID": "9a7ed32a-0ab4-4d46-aa48-2d7d273334f6",
                }
            ],
            "cloud_users": [
                {
                    "id": "11111111-1111-1111-1111-111111111111",
                    "userPrincipalName": "user.lastname@contoso.com",
                    "mail": "user.lastname@contoso.com",
                    "proxyAddresses": ["SMTP:user.lastname@contoso.com", "smtp:user@contoso.com"],
                }
            ],
            "verified_domains": ["contoso.com"],
            "initial_domain": "contoso.onmicrosoft.com",
        },
    }
    completed, result = task_result(task)
    assert not result.get("failed"), completed.stdout
    [row] = result["results"]
    assert row["outcome"] == "soft_match_smtp"
    assert row["onprem"]["source_anchor"] == "KtN+mrQKRk2qSC19JzM09g=="
    assert "primary_smtp_will_change" in significant(row["findings"])


def scenario_named(stem: str) -> Path:
    return next(path for path in RULE_SCENARIOS if path.stem == stem)


def outcomes(result) -> list[tuple[str, str, list[str]]]:
    return [(row["onprem"]["sam_account_name"], row["outcome"], significant(row["findings"]))
            for row in result["results"]]


def test_ldap_filter_narrows_the_scope(lab, lab_vars):
    """nina and oscar share an address; with oscar filtered out of scope, nina claims it alone."""
    lab.load(scenario_named("duplicate_address_in_directory"))
    task = check_task(search_base=lab_vars["lab_scenario_ou"], ldap_filter="(sAMAccountName=nina)")

    completed, result = task_result(task, extra_vars_files=(lab.vars_path,))

    assert not result.get("failed"), completed.stdout
    assert outcomes(result) == [("nina", "new_user", [])]
    assert result["counts"]["onprem_users"] == 1

    completed, broken = task_result(check_task(search_base=lab_vars["lab_scenario_ou"], ldap_filter="(cn=nina"),
                                    extra_vars_files=(lab.vars_path,))
    assert broken.get("failed")
    assert "ldap_filter" in broken["msg"] and "(cn=nina" in broken["msg"]


def test_cloud_objects_given_stand_in_for_the_group_read(lab, lab_vars):
    """The reader app can't list groups; the group given as cloud_objects still blocks the match (§9.1)."""
    lab.load(scenario_named("address_held_by_mail_group"))
    group = {"id": "group-sales", "displayName": "Sales", "mail": "sales@contoso.com",
             "proxyAddresses": ["SMTP:sales@contoso.com"], "kind": "group"}
    task = reader_task(lab_vars, cloud_objects=[group], initial_domain="contoso.onmicrosoft.com",
                       verified_domains=["contoso.com"])

    completed, result = task_result(task, extra_vars_files=(lab.vars_path,))

    assert not result.get("failed"), completed.stdout
    assert outcomes(result) == [("mike", "blocked", ["object_type_mismatch"])]
    assert "group-sales" in result["results"][0]["findings"][0]["message"]
    assert result["counts"]["cloud_objects"] == 1
    assert not any("Group.Read.All" in warning or "OrgContact" in warning for warning in result["warnings"])


def test_admin_role_holders_stand_in_for_the_role_read(lab, lab_vars):
    """The reader app can't read role assignments; the administrator named in admin_role_holders is refused."""
    lab.load(scenario_named("admin_role_blocks_match"))
    task = reader_task(lab_vars, admin_role_holders=["FRANK@contoso.com"], initial_domain="contoso.onmicrosoft.com")

    completed, result = task_result(task, extra_vars_files=(lab.vars_path,))

    assert not result.get("failed"), completed.stdout
    assert outcomes(result) == [("frank", "blocked", ["admin_role"])]
    assert finding_values(result["results"][0]["findings"]) == {"admin_role": "(stated by admin_role_holders)"}


def test_source_anchor_object_guid_ignores_the_consistency_guid(lab, lab_vars):
    """§9.4: the cloud user carries the mS-DS-ConsistencyGuid anchor; with objectGUID chosen it is another anchor."""
    consistency = "9a7ed32a-0ab4-4d46-aa48-2d7d273334f6"
    lab.load({
        "tenant": {"initial_domain": "contoso.onmicrosoft.com", "verified_domains": ["contoso.com"]},
        "cloud": {"users": [{"userPrincipalName": "xena@contoso.com", "mail": "xena@contoso.com",
                             "proxyAddresses": ["SMTP:xena@contoso.com"],
                             "onPremisesImmutableId": "KtN+mrQKRk2qSC19JzM09g=="}]},
        "ad": {"users": [{"sAMAccountName": "xena", "ou": "OU=Staff", "userPrincipalName": "xena@contoso.com",
                          "mail": "xena@contoso.com", "proxyAddresses": ["SMTP:xena@contoso.com"],
                          "mS-DS-ConsistencyGuid": consistency}]},
    })
    by_default = check_task(search_base=lab_vars["lab_scenario_ou"])
    by_object_guid = check_task(search_base=lab_vars["lab_scenario_ou"], source_anchor="objectGUID")

    default = task_result(by_default, extra_vars_files=(lab.vars_path,))[1]
    completed, chosen = task_result(by_object_guid, extra_vars_files=(lab.vars_path,))

    assert outcomes(default) == [("xena", "hard_match", [])]
    assert default["results"][0]["onprem"]["source_anchor"] == "KtN+mrQKRk2qSC19JzM09g=="
    assert not chosen.get("failed"), completed.stdout
    assert outcomes(chosen) == [("xena", "blocked", ["immutable_id_mismatch"])]
    object_guid_anchor = immutable_id(lab.ad_anchor("xena").object_guid)
    assert chosen["results"][0]["onprem"]["source_anchor"] == object_guid_anchor != "KtN+mrQKRk2qSC19JzM09g=="
    assert "use mS-DS-ConsistencyGuid as the source anchor" in chosen["results"][0]["findings"][0]["message"]


def test_missing_permission_for_tenant_switches_warns_and_goes_on(lab, lab_vars):
    """The low app may read domains but not the sync switches: a warning names the permission."""
    lab.load(next(path for path in RULE_SCENARIOS if path.stem == "new_user"))
    task = check_task(
        search_base=lab_vars["lab_scenario_ou"],
        client_id="{{ lab_low_client_id }}",
        client_secret="{{ lab_low_client_secret }}",
        cloud_users=[],
    )
    completed, result = task_result(task, extra_vars_files=(lab.vars_path,))

    assert not result.get("failed"), completed.stdout
    assert any("OnPremDirectorySynchronization.Read.All" in warning for warning in result["warnings"])
    assert [row["outcome"] for row in result["results"]] == ["new_user"]


def test_missing_user_read_permission_fails_naming_it(lab, lab_vars):
    task = check_task(
        search_base=lab_vars["lab_scenario_ou"],
        client_id="{{ lab_low_client_id }}",
        client_secret="{{ lab_low_client_secret }}",
    )
    completed, result = task_result(task, extra_vars_files=(lab.vars_path,))
    assert result.get("failed")
    assert "User.Read.All" in result["msg"]
    assert lab_vars["lab_low_client_secret"] not in completed.stdout + completed.stderr


# One warning per read the reader app (User.Read.All alone) can't make: the permission and what to give instead.
READER_WARNINGS = {
    "Group.Read.All": "cloud_objects",
    "OrgContact.Read.All": "cloud_objects",
    "RoleManagement.Read.Directory": "admin_role_holders",
    "Domain.Read.All": "verified_domains and initial_domain",
    "OnPremDirectorySynchronization.Read.All": "give features",
}


def reader_task(lab_vars, **options):
    return check_task(search_base=lab_vars["lab_scenario_ou"], client_id="{{ lab_reader_client_id }}",
                      client_secret="{{ lab_reader_client_secret }}", **options)


def test_reader_app_warns_once_per_missing_read_and_predicts_the_scenario(lab, lab_vars):
    """User.Read.All alone: domains come from the cloud users; every other read warns and takes its default."""
    scenario = next(path for path in RULE_SCENARIOS if path.stem == "soft_match_smtp_clean")
    lab.load(scenario)
    full = task_result(check_task(search_base=lab_vars["lab_scenario_ou"]), extra_vars_files=(lab.vars_path,))[1]

    completed, result = task_result(reader_task(lab_vars), extra_vars_files=(lab.vars_path,))

    assert not result.get("failed"), completed.stdout
    warnings = result["warnings"]
    assert len(warnings) == len(READER_WARNINGS), warnings
    for permission, instead in READER_WARNINGS.items():
        assert len([w for w in warnings if permission in w and instead in w]) == 1, (permission, warnings)
    [domains] = [w for w in warnings if "Domain.Read.All" in w]
    assert "contoso.onmicrosoft.com" in domains and "(contoso.com)" in domains
    want = yaml.safe_load(scenario.read_text())["expect"]["predict"]
    assert {row["onprem"]["sam_account_name"]: (row["outcome"], significant(row["findings"]))
            for row in result["results"]} == {sam: (item["outcome"], item["findings"]) for sam, item in want.items()}
    assert result["results"] == full["results"]
    assert not full.get("warnings")


def test_reader_app_failing_for_want_of_the_initial_domain_still_warns(lab, lab_vars):
    """No cloud user shows an onmicrosoft.com domain: the module fails, saying what to give, with its warnings."""
    lab.load(next(path for path in RULE_SCENARIOS if path.stem == "new_user"))

    completed, result = task_result(reader_task(lab_vars), extra_vars_files=(lab.vars_path,))

    assert result.get("failed")
    assert "initial domain is not known" in result["msg"]
    assert "initial_domain" in result["hint"]
    assert len(result["warnings"]) == len(READER_WARNINGS), completed.stdout

    completed, result = task_result(reader_task(lab_vars, initial_domain="contoso.onmicrosoft.com"),
                                    extra_vars_files=(lab.vars_path,))
    assert not result.get("failed"), completed.stdout
    assert [row["outcome"] for row in result["results"]] == ["new_user"]
    predicted = result["results"][0]["predicted"]
    # rule book §9.6 (KB 3190357): a new user has no Exchange licence yet, so no MOERA
    assert predicted["proxy_addresses"] == ["SMTP:judy@contoso.com"]
