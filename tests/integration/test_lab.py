"""The AD half of the lab, checked against the real Samba DC with an independent client (ldapsearch)."""

import base64
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import trustme
import yaml
from ldap3.core.exceptions import LDAPException

from tests.lab import LoadError, ScenarioError

REPO = Path(__file__).resolve().parents[2]
BASIC = REPO / "tests" / "lab" / "scenarios" / "basic.yml"
USER_ATTRIBUTES = ("sAMAccountName", "userPrincipalName", "mail", "proxyAddresses", "givenName", "sn",
                   "displayName", "mailNickname", "employeeID", "description")


def ldapsearch(lab_vars, base, search_filter="(objectClass=*)", *attributes, scope="sub", ca=None,
               user=None, password=None, uri="ldaps://127.0.0.1:636"):
    """Entries as dicts of value lists (bytes for base64 values), read by OpenLDAP's client."""
    env = {**os.environ, "LDAPTLS_CACERT": str(ca or lab_vars["ad_ca_cert"]), "LDAPTLS_REQCERT": "demand"}
    command = [
        "ldapsearch", "-LLL", "-o", "ldif-wrap=no", "-H", uri, "-x",
        "-D", user or lab_vars["ad_username"], "-w", password or lab_vars["ad_password"],
        "-b", base, "-s", scope, search_filter, *attributes,
    ]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"ldapsearch failed ({done.returncode}): {done.stderr.strip()}")
    entries = []
    for block in done.stdout.strip().split("\n\n"):
        entry = {}
        for line in filter(None, block.splitlines()):
            name, _colon, value = line.partition(":")
            value = base64.b64decode(value[2:]) if value.startswith(": ") else value[1:]
            entry.setdefault(name, []).append(value)
        if entry:
            entry["dn"] = entry["dn"][0]
            entries.append(entry)
    return entries


def by_sam(entries):
    return {e["sAMAccountName"][0]: e for e in entries}


@pytest.fixture
def basic(lab):
    lab.load(BASIC)
    return yaml.safe_load(BASIC.read_text())


def test_up_again_reuses_the_healthy_lab_quickly(lab):
    password = lab.vars["ad_password"]
    started = time.monotonic()
    lab_vars = lab.up()
    assert time.monotonic() - started < 3
    assert lab_vars == lab.vars
    assert lab_vars["ad_password"] == password  # not provisioned again
    status = subprocess.run(
        [sys.executable, "-m", "tests.lab", "status"], cwd=REPO, capture_output=True, text=True, check=False
    )
    assert status.returncode == 0, status.stdout + status.stderr
    assert "ad: healthy" in status.stdout


def test_lab_vars_reach_the_directory(lab_vars):
    for key in ("ad_server", "ad_username", "ad_password", "ad_ca_cert", "ad_base_dn", "lab_scenario_ou"):
        assert lab_vars[key], key
    assert Path(lab_vars["ad_ca_cert"]).is_absolute()
    for uri in (lab_vars["ad_server"], "ldaps://127.0.0.1:636"):
        [root] = ldapsearch(lab_vars, lab_vars["ad_base_dn"], "(objectClass=*)", "dn", scope="base", uri=uri)
        assert root["dn"] == lab_vars["ad_base_dn"]


def test_ldaps_is_verified_against_the_lab_ca(lab):
    with lab.ad_connection() as connection:
        assert connection.bound
        assert connection.server.ssl


def test_ldaps_with_another_ca_fails(lab, lab_vars, tmp_path):
    other_ca = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other_ca))
    with pytest.raises(LDAPException):
        lab.service("ad").connect(ca_file=other_ca)
    with pytest.raises(RuntimeError, match="ldapsearch failed"):
        ldapsearch(lab_vars, lab_vars["ad_base_dn"], scope="base", ca=other_ca)


def test_basic_scenario_is_in_ad_as_written(lab, lab_vars, basic):
    scenario_ou = lab_vars["lab_scenario_ou"]
    found = by_sam(ldapsearch(
        lab_vars, scenario_ou, "(objectClass=user)", *USER_ATTRIBUTES, "objectGUID", "mS-DS-ConsistencyGuid",
        "userAccountControl",
    ))
    assert set(found) == {u["sAMAccountName"] for u in basic["ad"]["users"]}
    for user in basic["ad"]["users"]:
        entry = found[user["sAMAccountName"]]
        assert entry["dn"] == f"CN={user['sAMAccountName']},{user['ou']},{scenario_ou}"
        for name in USER_ATTRIBUTES:
            expected = user.get(name)
            expected = expected if isinstance(expected, list) else [expected] if expected else []
            assert sorted(entry.get(name, [])) == sorted(expected), (user["sAMAccountName"], name)
        enabled = "password" in user
        assert entry["userAccountControl"] == ["512" if enabled else "514"]
        anchor_bytes = (entry.get("mS-DS-ConsistencyGuid") or entry["objectGUID"])[0]
        identity = lab.ad_anchor(user["sAMAccountName"])
        assert identity.dn == entry["dn"]
        assert identity.object_guid == str(uuid.UUID(bytes_le=entry["objectGUID"][0]))
        assert identity.source_anchor == base64.b64encode(anchor_bytes).decode()
    assert found["carol"]["mS-DS-ConsistencyGuid"] == [uuid.UUID("9a7ed32a-0ab4-4d46-aa48-2d7d273334f6").bytes_le]
    assert lab.ad_anchor("carol").source_anchor == "KtN+mrQKRk2qSC19JzM09g=="
    assert found["dave"]["mS-DS-ConsistencyGuid"] == [base64.b64decode("AQIDBAUGBwgJCgsMDQ4PEA==")]
    # The enabled user really has its password.
    ldapsearch(lab_vars, scenario_ou, scope="base", user="dave@contoso.com", password="Lab-user-pass1")


def test_basic_scenario_ous_groups_and_contacts(lab_vars, basic):
    scenario_ou = lab_vars["lab_scenario_ou"]
    ous = {e["dn"] for e in ldapsearch(lab_vars, scenario_ou, "(objectClass=organizationalUnit)", "dn")}
    assert ous == {scenario_ou} | {
        f"{ou},{scenario_ou}" for ou in ("OU=Staff", "OU=IT,OU=Staff", "OU=Contractors", "OU=Groups", "OU=Contacts")
    }
    [group] = ldapsearch(lab_vars, scenario_ou, "(objectClass=group)", "mail", "proxyAddresses", "member",
                         "groupType")
    assert group["dn"] == f"CN=Sales Team,OU=Groups,{scenario_ou}"
    assert group["mail"] == ["sales@contoso.com"]
    assert sorted(group["proxyAddresses"]) == ["SMTP:sales@contoso.com", "smtp:Sales.Team@contoso.com"]
    assert group["groupType"] == ["8"]
    assert sorted(group["member"]) == [f"CN=alice,OU=Staff,{scenario_ou}", f"CN=bob,OU=Staff,{scenario_ou}"]
    [contact] = ldapsearch(lab_vars, scenario_ou, "(objectClass=contact)", "mail", "proxyAddresses")
    assert contact["dn"] == f"CN=Partner Frank,OU=Contacts,{scenario_ou}"
    assert contact["proxyAddresses"] == ["SMTP:frank@fabrikam.com"]


def test_a_second_load_replaces_the_first(lab, lab_vars, basic):
    summary = lab.load({"ad": {"users": [{"sAMAccountName": "zed", "ou": "OU=Other"}]}})
    assert summary["ad"]["removed"] == 12  # 5 OUs, 5 users, 1 group, 1 contact
    scenario_ou = lab_vars["lab_scenario_ou"]
    remaining = {e["dn"] for e in ldapsearch(lab_vars, scenario_ou, "(objectClass=*)", "dn")}
    assert remaining == {scenario_ou, f"OU=Other,{scenario_ou}", f"CN=zed,OU=Other,{scenario_ou}"}
    with pytest.raises(KeyError, match="alice"):
        lab.ad_anchor("alice")


def test_proxy_addresses_keep_their_case(lab, lab_vars):
    values = ["SMTP:Mixed.Case@Contoso.COM", "smtp:lower@contoso.com", "smtp:UPPER@CONTOSO.COM",
              "SIP:Mixed@Contoso.com", "X500:/o=Org (Paren)/ou=Admin Group/cn=Recipients/cn=Mixed"]
    lab.load({"ad": {"users": [{"sAMAccountName": "mixed", "proxyAddresses": values}]}})
    [entry] = ldapsearch(lab_vars, lab_vars["lab_scenario_ou"], "(sAMAccountName=mixed)", "proxyAddresses")
    assert sorted(entry["proxyAddresses"]) == sorted(values)


def test_hundred_users_load_in_seconds(lab, lab_vars):
    users = [
        {
            "sAMAccountName": f"user{n:03}",
            "ou": f"OU=Dept{n % 4}",
            "userPrincipalName": f"user{n:03}@contoso.com",
            "mail": f"user{n:03}@contoso.com",
            "proxyAddresses": [f"SMTP:user{n:03}@contoso.com", f"smtp:u{n:03}@contoso.com"],
            "mS-DS-ConsistencyGuid": str(uuid.uuid4()) if n % 2 else None,
        }
        for n in range(100)
    ]
    started = time.monotonic()
    summary = lab.load({"ad": {"users": users}})
    elapsed = time.monotonic() - started
    assert summary["ad"]["users"] == 100
    assert elapsed < 15, f"100 users took {elapsed:.1f} s"
    found = ldapsearch(lab_vars, lab_vars["lab_scenario_ou"], "(objectClass=user)", "sAMAccountName")
    assert len(found) == 100
    assert len(lab.ad_identities()) == 100


def test_a_typo_is_refused_before_anything_changes(lab, basic):
    with pytest.raises(ScenarioError, match=r"'proxyAdresses' .*did you mean 'proxyAddresses'"):
        lab.load({"ad": {"users": [{"sAMAccountName": "typo", "proxyAdresses": ["SMTP:typo@contoso.com"]}]}})
    assert lab.ad_anchor("alice").dn.startswith("CN=alice,")


def test_case_twins_are_refused_as_ad_would(lab):
    with pytest.raises(ScenarioError, match="one value to AD"):
        lab.load({"ad": {"users": [{"sAMAccountName": "twin",
                                    "proxyAddresses": ["SMTP:twin@contoso.com", "smtp:TWIN@contoso.com"]}]}})


def test_an_ldap_refusal_names_the_user(lab):
    with pytest.raises(LoadError, match=r"user 'toolong'.*employeeID"):
        lab.load({"ad": {"users": [{"sAMAccountName": "fine"}, {"sAMAccountName": "toolong", "employeeID": "9" * 40}]}})
    assert lab.state("ad") == {}  # a failed load leaves no stale identities behind


def test_a_stopped_lab_restarts_without_provisioning(lab):
    password = lab.vars["ad_password"]
    lab.service("ad").stop()
    assert not lab.healthy()
    started = time.monotonic()
    lab.up()
    assert time.monotonic() - started < 30
    assert lab.healthy()
    assert lab.vars["ad_password"] == password


def run_lab(command, lab_dir):
    env = {**os.environ, "HYBRID_LAB_DIR": str(lab_dir)}
    return subprocess.run([sys.executable, "-m", "tests.lab", command], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=300, check=False)


def test_down_then_up_through_the_entry_point_in_the_lab_dir_named_by_hybrid_lab_dir(lab, tmp_path):
    password = lab.vars["ad_password"]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    # Pointed elsewhere, `down` and `status` act on that directory, not on the running lab.
    assert run_lab("down", elsewhere).stdout.strip() == f"lab down: {elsewhere.resolve()}"
    status = run_lab("status", elsewhere)
    assert status.returncode == 1 and "ad: NOT healthy: not provisioned" in status.stdout
    assert lab.healthy()

    down = run_lab("down", lab.lab_dir)
    assert down.returncode == 0 and down.stdout.strip() == f"lab down: {lab.lab_dir}"
    assert not lab.healthy()
    up = run_lab("up", lab.lab_dir)
    assert up.returncode == 0, up.stdout + up.stderr
    assert f"settings in {lab.vars_path}" in up.stdout
    assert lab.healthy()
    assert lab.vars["ad_password"] == password  # restarted, not provisioned again
