"""The AD session itself against Samba: paged scans, anchors, and each TLS mode."""

from __future__ import annotations

import inspect
from concurrent.futures import Future

import ldap3
import pytest
import trustme

from ansible_collections.hybrid.identity.plugins.module_utils.ad._ad import (
    AdConnectionError,
    AdSession,
    AdSettings,
    InvalidIdentity,
    UserNotFound,
)
from ansible_collections.hybrid.identity.plugins.module_utils.common._errors import ConfigurationError
from ansible_collections.hybrid.identity.plugins.module_utils.matching._matching_model import OnPremUser
from ansible_collections.hybrid.identity.plugins.module_utils.matching._soft_match_inputs import (
    OnPremReader,
    read_onprem_users,
)

USERS = 150


def settings_from(lab_vars, **overrides) -> AdSettings:
    params = {"ad_tls": "ldaps", "ad_auth": "simple", "ad_validate_certs": True, "ad_allow_plaintext": False}
    params |= {key: value for key, value in lab_vars.items() if key.startswith("ad_")}
    return AdSettings.from_params(params | overrides)


@pytest.fixture(scope="module")
def many_users(lab):
    scenario = {
        "ad": {
            "users": [
                {
                    "sAMAccountName": f"scan{number:03d}",
                    "ou": "OU=Scan",
                    "userPrincipalName": f"scan{number:03d}@contoso.com",
                    "mail": f"scan{number:03d}@contoso.com",
                    "proxyAddresses": [f"SMTP:scan{number:03d}@contoso.com"],
                    "description": "not asked for",
                }
                for number in range(USERS)
            ]
            + [
                {
                    "sAMAccountName": "anchored",
                    "ou": "OU=Scan",
                    "mS-DS-ConsistencyGuid": "9a7ed32a-0ab4-4d46-aa48-2d7d273334f6",
                }
            ]
        }
    }
    lab.load(scenario)
    return lab


@pytest.fixture
def searches(monkeypatch):
    """Each LDAP search ldap3 sends, and what came back over the wire: a spy that calls through."""
    sent = []
    original = ldap3.Connection.search
    signature = inspect.signature(original)

    def search(connection, *args, **kwargs):
        outcome = original(connection, *args, **kwargs)
        request = signature.bind(connection, *args, **kwargs).arguments
        entries = [entry for entry in connection.response or () if entry.get("type") == "searchResEntry"]
        sent.append(
            {
                "attributes": list(request.get("attributes") or ()),
                "paged_size": request.get("paged_size"),
                "cookie": request.get("paged_cookie"),
                "entries": len(entries),
                "returned": set().union(*(entry["raw_attributes"] for entry in entries)),
            }
        )
        return outcome

    monkeypatch.setattr(ldap3.Connection, "search", search)
    return sent


def test_paged_scan_reads_page_after_page_asking_only_for_the_attributes_wanted(many_users, lab_vars, searches):
    base = f"OU=Scan,{lab_vars['lab_scenario_ou']}"
    with AdSession(settings_from(lab_vars)) as ad:
        users = list(ad.scan(["proxyAddresses", "mail"], search_base=base, page_size=40))
        pages = list(searches)
        searches.clear()
        list(ad.scan(["mail"], search_base=base))
        default_pages = list(searches)

    assert len(users) == USERS + 1
    # 151 users at 40 a page: four requests, each after the first carrying the server's cookie.
    assert [page["entries"] for page in pages] == [40, 40, 40, 31]
    assert [page["paged_size"] for page in pages] == [40] * 4
    assert pages[0]["cookie"] is None and all(page["cookie"] for page in pages[1:])
    wanted = {"proxyAddresses", "mail", "objectGUID", "sAMAccountName"}
    for page in pages:
        assert set(page["attributes"]) == wanted
        assert page["returned"] <= wanted  # description, userPrincipalName ... never cross the wire
    assert {"proxyAddresses", "mail"} <= pages[0]["returned"]
    # The default page is the architecture's 1,000 (docs/architecture.md, "Contracts"): one request for 151 users.
    assert [(page["paged_size"], page["entries"]) for page in default_pages] == [(1000, USERS + 1)]


def test_paged_scan_returns_every_user_once_with_only_the_attributes_asked_for(many_users, lab_vars):
    base = f"OU=Scan,{lab_vars['lab_scenario_ou']}"
    with AdSession(settings_from(lab_vars)) as ad:
        users = list(ad.scan(["proxyAddresses", "mail"], search_base=base, page_size=40))

    names = [user.sam_account_name for user in users]
    assert len(names) == USERS + 1 and len(set(names)) == USERS + 1
    scanned = next(user for user in users if user.sam_account_name == "scan007")
    assert scanned.proxy_addresses == ("SMTP:scan007@contoso.com",)
    assert scanned.user_principal_name is None  # not asked for, not read
    assert "description" not in scanned.extra


def test_scan_filter_narrows_and_a_bad_filter_says_so(many_users, lab_vars):
    base = f"OU=Scan,{lab_vars['lab_scenario_ou']}"
    with AdSession(settings_from(lab_vars)) as ad:
        narrowed = list(ad.scan(["mail"], search_base=base, ldap_filter="(mail=scan00*)"))
        with pytest.raises(ConfigurationError, match="not a valid LDAP filter"):
            list(ad.scan(["mail"], search_base=base, ldap_filter="(mail=scan00*"))
    assert sorted(user.sam_account_name for user in narrowed) == [f"scan{n:03d}" for n in range(10)]


@pytest.mark.parametrize("in_child", [True, False], ids=["child process", "thread"])
def test_the_reader_hands_over_the_scope_as_the_predictor_reads_it(many_users, lab_vars, in_child):
    base = f"OU=Scan,{lab_vars['lab_scenario_ou']}"
    with AdSession(settings_from(lab_vars)) as ad:
        with OnPremReader(ad, base, "(mail=scan0*)", in_child=in_child) as reader:
            handed = list(reader)
        read_in_this_thread = [OnPremUser.from_dict(record) for record in read_onprem_users(ad, base, "(mail=scan0*)")]
    assert handed == read_in_this_thread
    assert reader.count == len(handed) == 100
    assert all(isinstance(user, OnPremUser) for user in handed)


@pytest.mark.parametrize("in_child", [True, False], ids=["child process", "thread"])
def test_the_reader_raises_the_scan_error_where_the_users_are_read(many_users, lab_vars, in_child):
    base = f"OU=Scan,{lab_vars['lab_scenario_ou']}"
    graph_failed = Future()
    graph_failed.set_exception(RuntimeError("graph down"))
    done = Future()
    done.set_result("cloud")
    with AdSession(settings_from(lab_vars)) as ad:
        with OnPremReader(ad, base, "(mail=scan00*", in_child=in_child) as reader:
            # both reads fail: the AD error is reported, as when AD was read first
            with pytest.raises(ConfigurationError, match="not a valid LDAP filter"):
                reader.wait_for(graph_failed)
            assert reader.wait_for(done) == "cloud"
            with pytest.raises(ConfigurationError, match="not a valid LDAP filter"):
                list(reader)
        with OnPremReader(ad, base, None, in_child=in_child) as reader, \
                pytest.raises(RuntimeError, match="graph down"):
            reader.wait_for(graph_failed)
        # the session is free again once the reader is closed
        assert ad.find_user("scan005").sam_account_name == "scan005"


def test_a_user_is_found_by_its_distinguished_name_in_any_case(many_users, lab_vars):
    dn = f"CN=scan005,OU=Scan,{lab_vars['lab_scenario_ou']}"
    with AdSession(settings_from(lab_vars)) as ad:
        assert ad.find_user(dn).sam_account_name == "scan005"
        assert ad.find_user(dn.lower()).distinguished_name == dn


@pytest.mark.parametrize(
    ("dn", "error", "message"),
    [
        # What Samba answers: invalidDNSyntax for a multi-valued RDN ...
        ("CN=scan005+sn=x,OU=Scan,{base}", InvalidIdentity, r"refused 'CN=scan005\+sn=x,.*invalidDNSyntax"),
        # ... and noSuchObject for a DN that no partition it holds contains, well formed or not.
        ("a=b", UserNotFound, "distinguished name 'a=b'; it is not under DC=lab"),
        ("CN=scan005,OU=Scan,DC=fabrikam,DC=com", UserNotFound, "it is not under DC=lab"),
        ("CN=nobody,OU=Scan,{base}", UserNotFound, "no object has the distinguished name 'CN=nobody,[^;]*'$"),
        ("OU=Scan,{base}", UserNotFound, "is not a user object"),
    ],
)
def test_a_distinguished_name_the_directory_refuses_fails_typed_with_a_hint(many_users, lab_vars, dn, error, message):
    with AdSession(settings_from(lab_vars)) as ad, pytest.raises(error, match=message) as raised:
        ad.find_user(dn.format(base=lab_vars["lab_scenario_ou"]))
    assert raised.value.hint


def test_source_anchor_agrees_with_the_lab(many_users, lab_vars):
    """Rule book §3: consistency GUID when set, else objectGUID, as base64 of the stored bytes."""
    with AdSession(settings_from(lab_vars)) as ad:
        plain = ad.find_user("scan001")
        anchored = ad.find_user("anchored")
    assert plain.source_anchor == many_users.ad_anchor("scan001").source_anchor
    assert anchored.source_anchor == "KtN+mrQKRk2qSC19JzM09g=="


def test_starttls_on_the_plain_port_verifies_the_certificate(many_users, lab_vars):
    settings = settings_from(lab_vars, ad_server="localhost", ad_tls="starttls")
    assert settings.port == 389
    with AdSession(settings) as ad:
        assert ad.find_user("scan002").mail == "scan002@contoso.com"


def test_starttls_refuses_a_certificate_from_a_ca_we_do_not_trust_unless_validation_is_off(
    many_users, lab_vars, tmp_path
):
    stranger = tmp_path / "stranger-ca.pem"
    stranger.write_bytes(trustme.CA().cert_pem.bytes())
    untrusted = {"ad_server": "localhost", "ad_tls": "starttls", "ad_ca_cert": str(stranger)}

    refused = "localhost:389 presented a certificate that failed verification"
    with pytest.raises(AdConnectionError, match=refused) as raised, AdSession(settings_from(lab_vars, **untrusted)):
        pass
    assert "not vouched for by ad_ca_cert" in raised.value.hint

    with AdSession(settings_from(lab_vars, **untrusted, ad_validate_certs=False)) as ad:
        assert ad.find_user("scan004").mail == "scan004@contoso.com"


def test_plaintext_works_only_when_allowed_in_so_many_words(many_users, lab_vars):
    with pytest.raises(ConfigurationError, match="clear text"):
        settings_from(lab_vars, ad_server="localhost", ad_tls="none")
    settings = settings_from(lab_vars, ad_server="localhost", ad_tls="none", ad_allow_plaintext=True)
    with AdSession(settings) as ad:
        assert ad.find_user("scan003").sam_account_name == "scan003"


def test_url_scheme_and_tls_mode_must_agree(lab_vars):
    with pytest.raises(ConfigurationError, match="ldap:// but ad_tls is ldaps"):
        settings_from(lab_vars, ad_server="ldap://localhost:389")


def test_nothing_listens_gives_a_reachability_error(lab_vars):
    with (
        pytest.raises(AdConnectionError, match="could not reach"),
        AdSession(settings_from(lab_vars, ad_server="ldaps://localhost:1", ad_timeout=5)),
    ):
        pass


def test_base_dn_comes_from_the_rootdse(lab_vars):
    params = {key: value for key, value in lab_vars.items() if key.startswith("ad_") and key != "ad_base_dn"}
    with AdSession(settings_from({}, **params)) as ad:
        assert ad.base_dn.lower() == lab_vars["ad_base_dn"].lower()
