"""Which domain controllers the AD settings name: one, a list in order, or a domain to look up."""

from __future__ import annotations

import pytest

from ansible_collections.hybrid.identity.plugins.module_utils.ad._ad import AdSettings
from ansible_collections.hybrid.identity.plugins.module_utils.ad._ad_bind import NtlmBind
from ansible_collections.hybrid.identity.plugins.module_utils.common._errors import ConfigurationError

BASE = {"ad_tls": "ldaps", "ad_username": "svc@contoso.com", "ad_password": "p", "ad_auth": "simple"}


def test_one_server_as_a_string_or_a_list():
    for given in ("ldaps://dc01.contoso.com", ["ldaps://dc01.contoso.com"]):
        settings = AdSettings.from_params(BASE | {"ad_server": given})
        assert settings.servers == (("dc01.contoso.com", 636),)
        assert (settings.host, settings.port) == ("dc01.contoso.com", 636)
        assert settings.candidates() == [("dc01.contoso.com", 636)]


def test_a_list_keeps_its_order_and_each_its_port():
    settings = AdSettings.from_params(BASE | {"ad_server": ["dc02.contoso.com", "ldaps://dc01.contoso.com:3269"]})
    assert settings.candidates() == [("dc02.contoso.com", 636), ("dc01.contoso.com", 3269)]


def test_a_domain_alone_leaves_the_servers_to_dns():
    settings = AdSettings.from_params(BASE | {"ad_domain": "contoso.com", "ad_dns_server": "10.0.0.10"})
    assert settings.servers == () and settings.host is None
    assert (settings.domain, settings.dns_server) == ("contoso.com", "10.0.0.10")


def test_neither_server_nor_domain_is_refused():
    with pytest.raises(ConfigurationError, match="no domain controller given") as raised:
        AdSettings.from_params(BASE | {"ad_server": []})
    assert "ad_domain" in raised.value.hint


def test_every_listed_server_is_checked():
    with pytest.raises(ConfigurationError, match="ad_tls is ldaps"):
        AdSettings.from_params(BASE | {"ad_server": ["ldaps://dc01.contoso.com", "ldap://dc02.contoso.com"]})


def test_kerberos_refuses_an_address_anywhere_in_the_list():
    with pytest.raises(ConfigurationError, match=r"not 10\.0\.0\.11"):
        AdSettings.from_params(BASE | {"ad_auth": "kerberos", "ad_server": ["dc01.contoso.com", "10.0.0.11"]})


def test_ntlm_refusals_for_the_missing_channel_binding_say_what_works():
    enforced = Exception("invalidCredentials: 80090346: LdapErr: DSID-0C0906B5, comment: AcceptSecurityContext "
                         "error, data 80090346, v4563")
    problem, hint = NtlmBind.refusal(enforced, "dc01:636")
    assert "missing channel binding (data 80090346)" in problem
    assert "ad_auth: kerberos" in hint and "simple over LDAPS" in hint
    assert "sends no channel binding" in NtlmBind.refusal(Exception("session terminated by server"), "dc01:636")[0]
    assert NtlmBind.refusal(Exception("invalidCredentials: data 52e"), "dc01:636") is None
