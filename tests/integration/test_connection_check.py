"""hybrid.identity.connection_check through Ansible against the lab: each check passing, and each failing for its cause.

The lab's Samba DC and the Entra emulator are the peers; the low-privileged AD account is a plain user
of the scenario, the low and reader apps are the emulator's apps with fewer permissions.
"""

from __future__ import annotations

import pytest
import trustme

from tests.integration._ansible import run_module

AD_OPTIONS = ("ad_server", "ad_username", "ad_password", "ad_ca_cert")
GRAPH_OPTIONS = ("tenant_id", "client_id", "client_secret", "authority_host", "graph_endpoint", "graph_ca_cert")
SCENARIO = {
    "tenant": {"initial_domain": "contoso.onmicrosoft.com", "verified_domains": ["contoso.com"]},
    "cloud": {"users": []},
    "ad": {"users": [
        {"sAMAccountName": "alice", "ou": "OU=Staff", "userPrincipalName": "alice@contoso.com",
         "mail": "alice@contoso.com", "proxyAddresses": ["SMTP:alice@contoso.com"]},
        {"sAMAccountName": "plain", "ou": "OU=Staff", "userPrincipalName": "plain@lab.contoso.test",
         "password": "Plain-Secret-1"},
    ]},
}


@pytest.fixture(scope="module")
def scope(lab, lab_vars):
    lab.load(SCENARIO)
    return f"OU=Staff,{lab_vars['lab_scenario_ou']}"


def options(lab_vars, *names, **extra) -> dict:
    return {name: lab_vars[name] for name in names} | extra


def check(lab_vars, scope, **extra):
    """Both sides with the lab's admin and full app, changed by ``extra``; (status, result, statuses by name)."""
    args = options(lab_vars, *AD_OPTIONS, *GRAPH_OPTIONS, search_base=scope) | extra
    status, result, _output = run_module("connection_check", args)
    return status, result, {entry["name"]: entry["status"] for entry in result.get("checks", [])}


def test_both_sides_pass_with_the_lab_admin_and_the_full_app(lab_vars, scope):
    status, result, statuses = check(lab_vars, scope)

    assert status == "SUCCESS", result
    assert statuses == {"ad_reached": "ok", "ad_tls": "ok", "ad_bind": "ok", "ad_naming_context": "ok",
                        "ad_proxy_addresses_readable": "ok", "ad_proxy_addresses_writable": "ok",
                        "graph_token": "ok",
                        # cloud_sync_provision uses Application.Read.All when it is held, and the full app lacks it
                        "graph_permissions": "warning", "graph_sync_switches": "ok"}
    assert result["changed"] is False
    assert result["ad"]["naming_context"] == lab_vars["ad_base_dn"] and result["ad"]["search_base"] == scope
    assert "proxyAddresses" in result["ad"]["writable_attributes"]
    assert result["graph"]["app_id"] == lab_vars["client_id"] and result["graph"]["tenant_id"] == lab_vars["tenant_id"]
    assert "User.Read.All" in result["graph"]["roles"]
    assert result["graph"]["modules"]["cloud_sync_provision"]["missing_optional"] == {
        "Application.Read.All": "finding the Cloud Sync service principal when service_principal_id is not given"}


def test_a_domain_controller_that_does_not_answer(lab_vars, scope):
    status, result, statuses = check(lab_vars, scope, ad_server="ldaps://localhost:6360", ad_timeout=3)

    assert status == "FAILED"
    assert statuses["ad_reached"] == "failed" and statuses["ad_tls"] == statuses["ad_bind"] == "skipped"
    assert statuses["graph_token"] == "ok"
    assert "ad_reached: could not reach localhost:6360" in result["msg"]


def test_a_certificate_the_ca_does_not_vouch_for(lab_vars, scope, tmp_path):
    other_ca = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other_ca))

    status, result, statuses = check(lab_vars, scope, ad_ca_cert=str(other_ca))

    assert status == "FAILED"
    assert (statuses["ad_reached"], statuses["ad_tls"], statuses["ad_bind"]) == ("ok", "failed", "skipped")
    assert "failed verification" in result["msg"] and "ad_ca_cert" in result["hint"]


def test_credentials_the_dc_refuses(lab_vars, scope):
    status, result, statuses = check(lab_vars, scope, ad_password="not-the-password")

    assert status == "FAILED"
    assert (statuses["ad_tls"], statuses["ad_bind"], statuses["ad_naming_context"]) == ("ok", "failed", "skipped")
    assert "refused the credentials" in result["msg"]


def test_an_account_that_may_read_but_not_write_proxy_addresses(lab_vars, scope):
    status, result, statuses = check(lab_vars, scope, ad_username="plain@lab.contoso.test",
                                     ad_password="Plain-Secret-1")

    assert status == "FAILED"
    assert statuses["ad_bind"] == statuses["ad_proxy_addresses_readable"] == "ok"
    assert statuses["ad_proxy_addresses_writable"] == "failed"
    assert "may not write proxyAddresses" in result["msg"] and "require_write" in result["hint"]
    assert "proxyAddresses" not in result["ad"]["writable_attributes"]

    status, result, statuses = check(lab_vars, scope, ad_username="plain@lab.contoso.test",
                                     ad_password="Plain-Secret-1", require_write=False, sides=["ad"])

    assert status == "SUCCESS", result
    assert statuses["ad_proxy_addresses_writable"] == "warning" and "graph_token" not in statuses


def test_a_scope_that_does_not_exist(lab_vars, scope):
    status, result, statuses = check(lab_vars, scope, search_base=f"OU=Nowhere,{lab_vars['ad_base_dn']}")

    assert status == "FAILED"
    assert statuses["ad_naming_context"] == "failed" and statuses["ad_proxy_addresses_writable"] == "skipped"
    assert "OU=Nowhere" in result["msg"]


def test_an_app_without_the_permissions_a_module_needs(lab_vars, scope):
    status, result, statuses = check(lab_vars, scope, client_id=lab_vars["lab_low_client_id"],
                                     client_secret=lab_vars["lab_low_client_secret"], sides=["graph"],
                                     modules=["soft_match_check", "directory_sync_verify"])

    assert status == "FAILED"
    assert statuses == {"graph_token": "ok", "graph_permissions": "failed", "graph_sync_switches": "failed"}
    assert "the app lacks User.Read.All for soft_match_check; User.Read.All for directory_sync_verify" in result["msg"]
    assert "OnPremDirectorySynchronization.Read.All" in result["msg"]
    assert result["graph"]["roles"] == ["Domain.Read.All"]


def test_a_reader_app_is_ready_for_the_modules_that_only_read_users(lab_vars, scope):
    status, result, statuses = check(lab_vars, scope, client_id=lab_vars["lab_reader_client_id"],
                                     client_secret=lab_vars["lab_reader_client_secret"], sides=["graph"],
                                     modules=["cloud_user_lookup", "directory_sync_verify"])

    assert statuses["graph_permissions"] == "warning"
    assert result["graph"]["modules"]["cloud_user_lookup"] == {
        "ready": True, "missing": [], "missing_optional": {"RoleManagement.Read.Directory": "include_roles"}}
    # the reader can't read the sync switches: that alone fails the task
    assert status == "FAILED" and statuses["graph_sync_switches"] == "failed"


def test_a_refused_secret_skips_the_graph_checks_after_the_token(lab_vars, scope):
    status, result, statuses = check(lab_vars, scope, client_secret="not-the-secret", sides=["graph"])

    assert status == "FAILED"
    assert statuses == {"graph_token": "failed", "graph_permissions": "skipped", "graph_sync_switches": "skipped"}
    assert "refused the client secret" in result["msg"] and "not-the-secret" not in str(result)


def test_a_side_left_out_needs_none_of_its_options(lab_vars):
    status, result, _output = run_module("connection_check", options(lab_vars, *GRAPH_OPTIONS, sides=["graph"],
                                                                     modules=["directory_sync_verify"]))

    assert status == "SUCCESS", result
    assert result["ad"] == {} and [entry["name"] for entry in result["checks"]] == list(
        ("graph_token", "graph_permissions", "graph_sync_switches"))
