"""hybrid.identity.ad_user_smtp against the lab's Samba AD (rule book §1), read back with ldapsearch."""

from __future__ import annotations

import base64
import math
import re
import socket
import time
import uuid
from pathlib import Path

import pytest
import trustme

from tests.integration._ansible import run_module, run_playbook, task_result
from tests.integration._ldif import ldapsearch, snapshot, user

SCENARIO = Path(__file__).with_name("files") / "ad_user_smtp.yml"
X500 = "X500:/o=Contoso/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn=alice"


@pytest.fixture
def directory(lab, lab_vars):
    """The scenario freshly loaded; yields the connection options for the module."""
    lab.load(SCENARIO)
    return {key: value for key, value in lab_vars.items() if key.startswith("ad_")}


def proxy_addresses(lab_vars, sam):
    return sorted(user(lab_vars, sam, "proxyAddresses").get("proxyAddresses", []))


def primaries(values):
    return [value for value in values if value.startswith("SMTP:")]


def test_rule_1_promoting_a_secondary_keeps_one_primary_the_old_one_and_x500(directory, lab_vars):
    status, result, _output = run_module(
        "ad_user_smtp", directory | {"identity": "alice", "primary_smtp": "alice@contoso.com"}
    )

    assert status == "CHANGED", result
    values = proxy_addresses(lab_vars, "alice")
    assert primaries(values) == ["SMTP:alice@contoso.com"]
    assert "smtp:alice.old@contoso.com" in values
    assert X500 in values and "SIP:alice@contoso.com" in values
    assert len(values) == 4  # the promoted secondary is gone, not doubled
    assert user(lab_vars, "alice", "mail")["mail"] == ["alice@contoso.com"]
    assert result["results"][0]["removed"] == ["SMTP:alice.old@contoso.com", "smtp:Alice@contoso.com"] or sorted(
        result["results"][0]["removed"]
    ) == sorted(["SMTP:alice.old@contoso.com", "smtp:Alice@contoso.com"])


def test_second_identical_run_changes_nothing(directory, lab_vars):
    args = directory | {
        "identity": "alice",
        "primary_smtp": "alice@contoso.com",
        "secondary_smtp": {"add": ["a.s@contoso.com"]},
    }
    first_status, _result, _output = run_module("ad_user_smtp", args)
    before = snapshot(lab_vars, lab_vars["lab_scenario_ou"])

    status, result, _output = run_module("ad_user_smtp", args)

    assert first_status == "CHANGED"
    assert status == "SUCCESS" and result["changed"] is False
    assert snapshot(lab_vars, lab_vars["lab_scenario_ou"]) == before


def test_check_mode_reports_change_and_diff_and_writes_nothing(directory, lab_vars):
    before = snapshot(lab_vars, lab_vars["lab_scenario_ou"])
    args = directory | {"identity": "bob", "primary_smtp": "robert@contoso.com", "keep_old_primary": False}
    task = {"name": "Preview the change", "hybrid.identity.ad_user_smtp": args, "diff": True}

    completed, result = task_result(task, check=True)

    assert result["changed"] is True, result
    # The module's own diff, as registered (the printed result leaves `diff` out below -vvv).
    [diff] = result["diff"]
    assert diff["before_header"] == diff["after_header"] == f"CN=bob,OU=Staff,{lab_vars['lab_scenario_ou']}"
    assert sorted(diff["before"]["proxyAddresses"]) == ["SMTP:bob@contoso.com", "smtp:robert@contoso.com"]
    assert diff["before"]["mail"] == "bob@contoso.com"
    assert diff["after"]["proxyAddresses"] == ["SMTP:robert@contoso.com"]
    assert diff["after"]["mail"] == "robert@contoso.com"
    # --diff renders it: the old mail removed, the new one added.
    assert re.search(r'^-\s+"mail": "bob@contoso.com"', completed.stdout, re.MULTILINE), completed.stdout
    assert re.search(r'^\+\s+"mail": "robert@contoso.com"', completed.stdout, re.MULTILINE), completed.stdout
    assert snapshot(lab_vars, lab_vars["lab_scenario_ou"]) == before


def test_a_user_named_by_its_distinguished_name_is_updated(directory, lab_vars):
    dn = f"cn=Bob,ou=staff,{lab_vars['lab_scenario_ou'].lower()}"  # AD compares DNs case-insensitively
    args = directory | {"identity": dn, "primary_smtp": "robert@contoso.com"}

    status, result, _output = run_module("ad_user_smtp", args)

    assert status == "CHANGED", result
    assert result["results"][0]["distinguished_name"] == f"CN=bob,OU=Staff,{lab_vars['lab_scenario_ou']}"
    assert proxy_addresses(lab_vars, "bob") == ["SMTP:robert@contoso.com", "smtp:bob@contoso.com"]
    assert user(lab_vars, "bob", "mail")["mail"] == ["robert@contoso.com"]


def test_many_users_over_one_connection(directory, lab_vars):
    args = directory | {
        "users": [
            {"identity": "bob@contoso.com", "secondary_smtp": {"set": ["bobby@contoso.com"]}},
            {"identity": "carol", "primary_smtp": "carol.c@contoso.com", "sync_mail": False},
        ]
    }
    status, result, _output = run_module("ad_user_smtp", args)

    assert status == "CHANGED"
    assert [item["changed"] for item in result["results"]] == [True, True]
    assert proxy_addresses(lab_vars, "bob") == ["SMTP:bob@contoso.com", "smtp:bobby@contoso.com"]
    assert proxy_addresses(lab_vars, "carol") == ["SMTP:carol.c@contoso.com", "smtp:carol@contoso.com"]
    assert user(lab_vars, "carol", "mail")["mail"] == ["carol@contoso.com"]  # sync_mail: false leaves it


@pytest.mark.parametrize(
    ("identity", "message"),
    [
        ("nobody", "no user matches"),
        ("shared@contoso.com", "matches 2 objects"),
        ("*", "no user matches"),
        ("al*", "no user matches"),
        ("alice)(|(sAMAccountName=*", "no user matches"),
        ("bob)(mail=*)", "no user matches"),
        ("nobody@contoso.com", "no user matches"),
        # The UPN and mail path: each would match someone if it reached the filter unescaped.
        ("*@contoso.com", "no user matches"),
        ("bob@contoso.com)(mail=*", "no user matches"),
        ("*)(|(mail=*@contoso.com", "no user matches"),
        (r"b\6fb@contoso.com", "no user matches"),  # \6f is 'o' in filter syntax
        ("bob\x00@contoso.com", "control characters"),  # a real NUL, never sent to the server
        ("CN=nobody,OU=Staff,OU=HybridLab,DC=lab,DC=contoso,DC=test", "no object has the distinguished name"),
        ("CN=bob+sn=x,OU=Staff,OU=HybridLab,DC=lab,DC=contoso,DC=test", "refused 'CN=bob+sn=x,"),  # invalidDNSyntax
        ("OU=Staff,OU=HybridLab,DC=lab,DC=contoso,DC=test", "is not a user object"),
        ("00000000-0000-0000-0000-000000000000", "no user matches"),
    ],
)
def test_bad_identities_fail_clearly_and_change_nothing(directory, lab_vars, identity, message):
    before = snapshot(lab_vars, lab_vars["lab_scenario_ou"])
    args = directory | {"users": [{"identity": "bob", "primary_smtp": "robert@contoso.com"}, {"identity": identity}]}

    status, result, _output = run_module("ad_user_smtp", args)

    assert status == "FAILED"
    assert message in result["msg"]
    assert result["hint"]
    assert snapshot(lab_vars, lab_vars["lab_scenario_ou"]) == before  # bob, planned first, was not written


@pytest.mark.parametrize(
    ("request_args", "message"),
    [
        ({"primary_smtp": "alice smith@contoso.com"}, "whitespace"),
        ({"primary_smtp": "alice@contoso.local"}, "contoso.local"),
        ({"secondary_smtp": {"add": ["not-an-address"]}}, "not-an-address"),
        ({"secondary_smtp": {"add": ["SMTP:second@contoso.com"]}}, "primar"),
        ({"other_addresses": {"add": ["SIP:a@contoso.com", "SIP:b@contoso.com"]}}, "primar"),
        ({"secondary_smtp": {"remove": ["alice.old@contoso.com"]}}, "primary"),
        ({"user_principal_name": "bob@contoso.com"}, "already held"),
        ({"consistency_guid": "not-an-anchor"}, "ImmutableId"),
    ],
)
def test_bad_requests_fail_clearly_and_change_nothing(directory, lab_vars, request_args, message):
    before = snapshot(lab_vars, lab_vars["lab_scenario_ou"])

    status, result, _output = run_module("ad_user_smtp", directory | {"identity": "alice"} | request_args)

    assert status == "FAILED", result
    assert message.lower() in result["msg"].lower()
    assert snapshot(lab_vars, lab_vars["lab_scenario_ou"]) == before


def test_upn_and_consistency_guid_are_written(directory, lab_vars):
    args = directory | {
        "identity": "carol",
        "user_principal_name": "carol.c@contoso.com",
        "consistency_guid": "9a7ed32a-0ab4-4d46-aa48-2d7d273334f6",
    }
    status, result, _output = run_module("ad_user_smtp", args)

    assert status == "CHANGED"
    entry = user(lab_vars, "carol", "userPrincipalName", "mS-DS-ConsistencyGuid")
    assert entry["userPrincipalName"] == ["carol.c@contoso.com"]
    raw = entry["mS-DS-ConsistencyGuid"][0]
    assert (
        base64.b64encode(raw if isinstance(raw, bytes) else raw.encode("latin-1")).decode()
        == "KtN+mrQKRk2qSC19JzM09g=="
    )
    assert result["results"][0]["after"]["consistency_guid"] == "KtN+mrQKRk2qSC19JzM09g=="


def test_consistency_guid_given_as_an_immutable_id_is_written_as_its_16_bytes(directory, lab_vars):
    args = directory | {"identity": "carol", "consistency_guid": "KtN+mrQKRk2qSC19JzM09g=="}

    status, result, _output = run_module("ad_user_smtp", args)

    assert status == "CHANGED", result
    [raw] = user(lab_vars, "carol", "mS-DS-ConsistencyGuid")["mS-DS-ConsistencyGuid"]
    # Rule book §3: the ImmutableId is base64 of the bytes as stored, the GUID's little-endian layout.
    assert raw == uuid.UUID("9a7ed32a-0ab4-4d46-aa48-2d7d273334f6").bytes_le
    assert result["results"][0]["after"]["consistency_guid"] == "KtN+mrQKRk2qSC19JzM09g=="


def test_two_items_naming_the_same_user_fail_clearly_and_change_nothing(directory, lab_vars):
    before = snapshot(lab_vars, lab_vars["lab_scenario_ou"])
    dn = f"CN=bob,OU=Staff,{lab_vars['lab_scenario_ou']}"
    args = directory | {
        "users": [
            {"identity": "bob", "primary_smtp": "robert@contoso.com"},
            {"identity": dn, "secondary_smtp": {"add": ["bobby@contoso.com"]}},
        ]
    }

    status, result, _output = run_module("ad_user_smtp", args)

    assert status == "FAILED", result
    assert result["msg"] == f"identities 'bob' and {dn!r} name the same user {dn}"
    assert result["hint"] == "list each user once"
    assert snapshot(lab_vars, lab_vars["lab_scenario_ou"]) == before


def test_certificate_from_another_ca_is_refused_unless_validation_is_off(directory, lab_vars, tmp_path):
    stranger = tmp_path / "stranger-ca.pem"
    stranger.write_bytes(trustme.CA().cert_pem.bytes())
    read_only = directory | {"identity": "bob", "ad_ca_cert": str(stranger)}

    status, result, _output = run_module("ad_user_smtp", read_only)
    assert status == "FAILED"
    assert "presented a certificate that failed verification" in result["msg"]
    assert "unable to get local issuer certificate" in result["msg"]  # OpenSSL's reason, carried through
    assert result["hint"].startswith("the server certificate is not vouched for by ad_ca_cert")

    status, result, _output = run_module("ad_user_smtp", read_only | {"ad_validate_certs": False})
    assert status == "SUCCESS" and result["changed"] is False


def test_plaintext_is_refused_without_the_explicit_switch(directory):
    status, result, _output = run_module(
        "ad_user_smtp", directory | {"identity": "bob", "ad_tls": "none", "ad_server": "127.0.0.1"}
    )
    assert status == "FAILED"
    assert "clear text" in result["msg"]


def test_every_connection_option_has_its_environment_variable(directory, monkeypatch):
    """HYBRID_AD_ALLOW_PLAINTEXT and HYBRID_AD_TIMEOUT, like the other HYBRID_AD_* fallbacks."""
    plain = {key: value for key, value in directory.items() if key != "ad_server"}
    monkeypatch.setenv("HYBRID_AD_SERVER", "127.0.0.1")
    monkeypatch.setenv("HYBRID_AD_TLS", "none")
    monkeypatch.setenv("HYBRID_AD_ALLOW_PLAINTEXT", "true")
    status, result, _output = run_module("ad_user_smtp", plain | {"identity": "bob"})
    assert status == "SUCCESS", result

    with socket.create_server(("127.0.0.1", 0)) as silent:  # accepts, then never answers the TLS hello
        monkeypatch.setenv("HYBRID_AD_TIMEOUT", "2")
        started = time.monotonic()
        status, result, _output = run_module(
            "ad_user_smtp",
            directory | {"identity": "bob", "ad_tls": "ldaps", "ad_server": f"ldaps://127.0.0.1:{silent.getsockname()[1]}"},
        )
    assert status == "FAILED" and "timed out" in result["msg"], result
    assert time.monotonic() - started < 20  # the default would wait 30 s


def test_wrong_password_says_the_credentials_were_refused_and_hides_them(directory):
    status, result, output = run_module(
        "ad_user_smtp", directory | {"identity": "bob", "ad_password": "Wr0ng-Secret-77"}
    )
    assert status == "FAILED"
    assert "refused the credentials" in result["msg"]
    assert "Wr0ng-Secret-77" not in output


def test_module_defaults_group_carries_the_connection(directory, lab, lab_vars):
    play = {
        "hosts": "localhost",
        "gather_facts": False,
        "module_defaults": {"group/hybrid.identity.ad": {key: f"{{{{ {key} }}}}" for key in directory}},
        "tasks": [
            {
                "name": "Promote through the group defaults",
                "hybrid.identity.ad_user_smtp": {"identity": "alice", "primary_smtp": "alice@contoso.com"},
            }
        ],
    }
    completed = run_playbook([play], extra_vars_files=(lab.vars_path,))
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "changed=1" in completed.stdout
    assert primaries(proxy_addresses(lab_vars, "alice")) == ["SMTP:alice@contoso.com"]


def test_ldapsearch_sees_what_was_loaded(directory, lab_vars):
    """Guards the reader the other tests rely on."""
    entries = ldapsearch(lab_vars, "(sAMAccountName=alice)", ("proxyAddresses",))
    assert X500 in entries[0]["proxyAddresses"]


def test_ip_address_server_is_verified_against_the_certificate_ip_san(directory):
    """ldap3's own host name check ignores IP SANs on current Python; ours must not."""
    status, result, _output = run_module("ad_user_smtp", directory | {"identity": "bob", "ad_server": "ldaps://127.0.0.1:636"})
    assert status == "SUCCESS", result


@pytest.mark.parametrize(
    ("request_args", "holder"),
    [
        ({"secondary_smtp": {"add": ["Team@Contoso.com"]}}, "CN=Sales Team,OU=Groups,"),  # a group's secondary
        ({"primary_smtp": "sales@contoso.com"}, "CN=Sales Team,OU=Groups,"),  # its mail and primary
        ({"secondary_smtp": {"set": ["frank@fabrikam.com"]}}, "CN=Partner Frank,OU=Contacts,"),  # a contact's
        ({"secondary_smtp": {"add": ["robert@contoso.com"]}}, "CN=bob,OU=Staff,"),  # another user's secondary
        ({"primary_smtp": "carol@contoso.com", "sync_mail": False}, "CN=carol,OU=Staff,"),
        ({"user_principal_name": "sales@contoso.com"}, "CN=Sales Team,OU=Groups,"),  # a UPN is an address too
    ],
)
def test_rule_4_an_address_another_object_holds_is_refused_naming_it(directory, lab_vars, request_args, holder):
    before = snapshot(lab_vars, lab_vars["lab_scenario_ou"])

    status, result, _output = run_module("ad_user_smtp", directory | {"identity": "alice"} | request_args)

    assert status == "FAILED", result
    assert "is already held by " + holder in result["msg"] and "quarantine" in result["msg"], result["msg"]
    assert "allow_duplicate_addresses" in result["hint"]
    assert snapshot(lab_vars, lab_vars["lab_scenario_ou"]) == before


def test_allow_duplicate_addresses_writes_the_address_and_says_who_else_holds_it(directory, lab_vars):
    status, result, output = run_module("ad_user_smtp", directory | {
        "identity": "alice", "secondary_smtp": {"add": ["team@contoso.com"]}, "allow_duplicate_addresses": True})

    assert status == "CHANGED", result
    assert "smtp:team@contoso.com" in proxy_addresses(lab_vars, "alice")
    [warning] = result["results"][0]["warnings"]
    assert "'team@contoso.com' is already held by CN=Sales Team,OU=Groups," in warning
    assert "is already held by CN=Sales Team" in output  # and shown as a task warning


def test_a_upn_another_object_holds_as_upn_is_refused_even_when_duplicates_are_allowed(directory, lab_vars):
    status, result, _output = run_module("ad_user_smtp", directory | {
        "identity": "alice", "user_principal_name": "bob@contoso.com", "allow_duplicate_addresses": True})

    assert status == "FAILED", result
    assert "user_principal_name 'bob@contoso.com' is already held by CN=bob," in result["msg"]


def test_an_address_moved_between_two_users_of_one_task_is_no_conflict(directory, lab_vars):
    status, result, _output = run_module("ad_user_smtp", directory | {"users": [
        {"identity": "bob", "secondary_smtp": {"remove": ["robert@contoso.com"]}},
        {"identity": "carol", "secondary_smtp": {"add": ["robert@contoso.com"]}},
    ]})

    assert status == "CHANGED", result
    assert proxy_addresses(lab_vars, "carol") == ["SMTP:carol@contoso.com", "smtp:robert@contoso.com"]


def test_two_users_of_one_task_given_one_new_address_are_refused(directory, lab_vars):
    before = snapshot(lab_vars, lab_vars["lab_scenario_ou"])
    status, result, _output = run_module("ad_user_smtp", directory | {"users": [
        {"identity": "bob", "secondary_smtp": {"add": ["desk@contoso.com"]}},
        {"identity": "carol", "secondary_smtp": {"add": ["desk@contoso.com"]}},
    ]})

    assert status == "FAILED", result
    assert "'desk@contoso.com' is already held by CN=carol," in result["msg"]
    assert snapshot(lab_vars, lab_vars["lab_scenario_ou"]) == before


def test_the_holders_of_many_users_new_addresses_are_found_in_one_search_per_fifty(lab, lab_vars):
    from tests.integration.test_soft_match_bulk import samba_search_log

    count = 60
    lab.load({"ad": {"users": [{"sAMAccountName": f"many{n:02d}", "ou": "OU=Many", "userPrincipalName":
                                f"many{n:02d}@contoso.com", "proxyAddresses": [f"SMTP:many{n:02d}@contoso.com"]}
                               for n in range(count)]}})
    args = {key: value for key, value in lab_vars.items() if key.startswith("ad_")} | {
        "users": [{"identity": f"many{n:02d}", "secondary_smtp": {"add": [f"alias{n:02d}@contoso.com"]}}
                  for n in range(count)]}

    log = lab.service("ad").log_path
    start = log.stat().st_size
    with samba_search_log(lab):
        status, result, _output = run_module("ad_user_smtp", args, check=True)

    assert status == "CHANGED", result
    with log.open(errors="replace") as text:
        text.seek(start)
        # Samba cuts long filters short in its log: the start of each holder search is enough to count them
        holder_searches = re.findall(r"SearchRequest by .* filter: \[\(\|\(proxyAddresses=smtp:alias", text.read())
    assert len(holder_searches) == math.ceil(count / 50), holder_searches
