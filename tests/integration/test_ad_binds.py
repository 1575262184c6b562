"""The AD binds other than simple: Kerberos against the lab's KDC, NTLM as far as Samba allows."""

from __future__ import annotations

import hashlib
import subprocess
import sys

import pytest
from ldap3.utils.ntlm import NtlmClient

from ansible_collections.hybrid.identity.plugins.module_utils.ad._ad import AdSettings
from ansible_collections.hybrid.identity.plugins.module_utils.ad._ad_bind import md4_available
from ansible_collections.hybrid.identity.plugins.module_utils.common._errors import ConfigurationError
from tests.integration._ansible import run_module
from tests.integration._ldif import user

SCENARIO = {
    "ad": {
        "users": [
            {
                "sAMAccountName": "krbuser",
                "ou": "OU=Binds",
                "userPrincipalName": "krbuser@contoso.com",
                "mail": "krbuser@contoso.com",
                "proxyAddresses": ["SMTP:krbuser@contoso.com"],
            }
        ]
    }
}


def connection(lab_vars, **overrides) -> dict:
    """The lab's connection options without the account: a Kerberos bind must not need them."""
    options = {key: lab_vars[key] for key in ("ad_server", "ad_ca_cert", "ad_base_dn")}
    return options | overrides


@pytest.fixture
def kerberos(lab, lab_vars, tmp_path, monkeypatch):
    """A ticket for the lab's Administrator in a cache of this test's own; the environment names it."""
    cache = tmp_path / "ccache"
    monkeypatch.setenv("KRB5_CONFIG", lab_vars["lab_krb5_conf"])
    monkeypatch.setenv("KRB5CCNAME", f"FILE:{cache}")
    for name in ("HYBRID_AD_USERNAME", "HYBRID_AD_PASSWORD", "HYBRID_AD_AUTH"):
        monkeypatch.delenv(name, raising=False)
    subprocess.run(
        ["kinit", f"Administrator@{lab_vars['lab_ad_realm']}"],
        input=lab_vars["ad_password"] + "\n",
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    return cache


def service_tickets() -> str:
    return subprocess.run(["klist"], capture_output=True, text=True, check=True).stdout


def test_kerberos_bind_reads_and_writes_with_the_ticket_alone(lab, lab_vars, kerberos):
    lab.load(SCENARIO)
    args = connection(lab_vars, ad_auth="kerberos") | {
        "identity": "krbuser",
        "primary_smtp": "krbuser@contoso.net",
    }

    status, result, output = run_module("ad_user_smtp", args)

    assert status == "CHANGED", output
    assert sorted(user(lab_vars, "krbuser", "proxyAddresses")["proxyAddresses"]) == [
        "SMTP:krbuser@contoso.net",
        "smtp:krbuser@contoso.com",
    ]
    # The DC's service ticket, named after the host in ad_server, is now in the test's cache.
    assert f"ldap/localhost@{lab_vars['lab_ad_realm']}" in service_tickets()

    status, result, output = run_module("ad_user_smtp", args)

    assert status == "SUCCESS" and result["changed"] is False, output


def test_kerberos_bind_serves_the_bulk_read_which_binds_again_in_its_own_process(lab, lab_vars, kerberos):
    lab.load(SCENARIO)
    graph = {key: lab_vars[key] for key in ("tenant_id", "client_id", "client_secret", "authority_host",
                                            "graph_endpoint", "graph_ca_cert")}
    args = connection(lab_vars, ad_auth="kerberos", search_base=f"OU=Binds,{lab_vars['lab_scenario_ou']}") | graph

    status, result, output = run_module("soft_match_check", args | {"return_results": "all"})

    assert status == "SUCCESS", output
    assert result["counts"]["onprem_users"] == 1
    [row] = result["results"]
    assert row["onprem"]["sam_account_name"] == "krbuser"


def test_kerberos_without_a_ticket_fails_before_binding_and_says_kinit(lab_vars, kerberos, monkeypatch):
    monkeypatch.setenv("KRB5CCNAME", f"FILE:{kerberos}.absent")

    status, result, output = run_module(
        "ad_user_smtp", connection(lab_vars, ad_auth="kerberos") | {"identity": "krbuser"}
    )

    assert status == "FAILED", output
    assert result["msg"].startswith("ad_auth=kerberos found no valid Kerberos ticket"), result
    assert f"{kerberos}.absent" in result["msg"]  # the minor status names the cache looked at
    assert "kinit" in result["hint"]


def test_kerberos_refuses_an_ip_address_which_names_no_service(lab_vars):
    with pytest.raises(ConfigurationError, match="needs the domain controller's host name") as refused:
        AdSettings.from_params(
            connection(lab_vars, ad_server="ldaps://127.0.0.1:636", ad_auth="kerberos", ad_tls="ldaps")
        )

    assert "ldap/<host name>" in refused.value.hint


def test_kerberos_without_gssapi_says_what_to_install(lab_vars, monkeypatch):
    monkeypatch.setitem(sys.modules, "gssapi", None)  # as if not installed: it stays optional at run time

    with pytest.raises(ConfigurationError, match=r"\(gssapi\).*ad_auth=kerberos") as refused:
        AdSettings.from_params(connection(lab_vars, ad_auth="kerberos", ad_tls="ldaps"))

    assert "pip install gssapi" in refused.value.hint


def test_ntlm_nt_hash_comes_from_ldap3s_fallback_when_hashlib_has_no_md4():
    # MS-NLMP 4.2.4.1.1: NTOWFv2 of User / Domain / Password.
    assert NtlmClient("Domain", "User", "Password").ntowf_v2().hex() == "0c868a403bfd7a93a3001ef22ef02e3f"
    assert md4_available()


def test_ntlm_without_any_md4_fails_with_what_to_install(lab_vars, monkeypatch):
    try:
        hashlib.new("md4")  # noqa: S324
    except ValueError:
        pass
    else:
        pytest.skip("this Python's hashlib has MD4, so ldap3 needs no fallback")
    monkeypatch.setitem(sys.modules, "Crypto.Hash", None)  # pycryptodome, as if not installed

    with pytest.raises(ConfigurationError, match=r"\(pycryptodome\).*ad_auth=ntlm") as refused:
        AdSettings.from_params(
            connection(lab_vars, ad_auth="ntlm", ad_tls="ldaps")
            | {"ad_username": f"{lab_vars['lab_ad_netbios_domain']}\\Administrator", "ad_password": "x"}
        )

    assert "pip install pycryptodome" in refused.value.hint


def test_ntlm_is_refused_by_samba_which_has_no_sicily_bind(lab, lab_vars):
    args = connection(lab_vars, ad_auth="ntlm") | {
        "ad_username": f"{lab_vars['lab_ad_netbios_domain']}\\Administrator",
        "ad_password": lab_vars["ad_password"],
        "identity": "Administrator",
    }

    status, result, output = run_module("ad_user_smtp", args)

    # Samba ends the connection on the first NTLM message (LDAP_PROTOCOL_ERROR in its log).
    assert status == "FAILED", output
    assert "session terminated by server" in result["msg"], result
    assert "sends no channel binding" in result["msg"]
    assert "ad_auth: kerberos" in result["hint"] and "simple over LDAPS" in result["hint"]
