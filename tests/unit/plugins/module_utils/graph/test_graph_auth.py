"""The Graph credentials and clouds: which credential the options name, what each checks before sending."""

from __future__ import annotations

import base64
import json

import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from ansible_collections.hybrid.identity.plugins.module_utils.common._errors import ConfigurationError
from ansible_collections.hybrid.identity.plugins.module_utils.graph._graph import GraphSettings
from ansible_collections.hybrid.identity.plugins.module_utils.graph._graph_auth import (
    ClientCertificate,
    ClientSecret,
    FederatedToken,
    ManagedIdentity,
    PkcsCertificate,
    credential_for,
    token_claims,
)

TENANT = {"tenant_id": "contoso.onmicrosoft.com"}
APP = TENANT | {"client_id": "app-1"}
PASSWORD = "correct horse battery staple"


def settings(**options) -> GraphSettings:
    return GraphSettings.from_params(APP | options)


@pytest.fixture(scope="module")
def key_and_certificate():
    pem = trustme.CA().issue_cert("app.example", key_type=trustme.KeyType.RSA).private_key_and_cert_chain_pem.bytes()
    return serialization.load_pem_private_key(pem, None), x509.load_pem_x509_certificate(pem)


def write_pem(path, key, certificate, password: str | None = None):
    encryption = (serialization.BestAvailableEncryption(password.encode()) if password
                  else serialization.NoEncryption())
    path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM) + key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption))
    return str(path)


def write_pfx(path, key, certificate, password: str | None = None):
    encryption = (serialization.BestAvailableEncryption(password.encode()) if password
                  else serialization.NoEncryption())
    path.write_bytes(pkcs12.serialize_key_and_certificates(b"app", key, certificate, None, encryption))
    return str(path)


def jwt_like(claims: dict) -> str:
    payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"eyJhbGciOiJSUzI1NiJ9.{payload}.c2ln"


# --- clouds --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("cloud", "authority_host", "graph_endpoint"), [
    (None, "https://login.microsoftonline.com", "https://graph.microsoft.com"),
    ("public", "https://login.microsoftonline.com", "https://graph.microsoft.com"),
    ("usgovernment", "https://login.microsoftonline.us", "https://graph.microsoft.us"),
    ("usgovernment_dod", "https://login.microsoftonline.us", "https://dod-graph.microsoft.us"),
    ("china", "https://login.chinacloudapi.cn", "https://microsoftgraph.chinacloudapi.cn"),
])
def test_the_cloud_sets_both_endpoints(cloud, authority_host, graph_endpoint):
    chosen = settings(client_secret="s", cloud=cloud)
    assert (chosen.authority_host, chosen.graph_endpoint) == (authority_host, graph_endpoint)
    assert chosen.scope == f"{graph_endpoint}/.default"


def test_explicit_endpoints_win_over_the_cloud():
    chosen = settings(client_secret="s", cloud="china", authority_host="https://login.lab.example:8443")
    assert chosen.authority_host == "https://login.lab.example:8443"
    assert chosen.graph_endpoint == "https://microsoftgraph.chinacloudapi.cn"
    both = settings(client_secret="s", cloud="china", authority_host="https://a.example", graph_endpoint="b.example")
    assert (both.authority_host, both.graph_endpoint) == ("https://a.example", "https://b.example")


@pytest.mark.parametrize("host", ["login.microsoftonline.us", "login.microsoftonline.us/", "LOGIN.microsoftonline.us"])
def test_a_bare_host_is_https(host):
    assert settings(client_secret="s", authority_host=host).authority_host == "https://login.microsoftonline.us"


@pytest.mark.parametrize("options", [
    {"cloud": "azurestack"},
    {"authority_host": "http://login.microsoftonline.us"},
    {"graph_endpoint": "graph.microsoft.us/v1.0"},
])
def test_clouds_and_endpoints_that_cannot_work(options):
    with pytest.raises(ConfigurationError):
        settings(client_secret="s", **options)


# --- which credential ---------------------------------------------------------------------------


def test_each_option_names_its_credential(tmp_path, key_and_certificate):
    token = tmp_path / "token"
    token.write_text(jwt_like({"iss": "https://issuer.example/"}))
    assert isinstance(credential_for(settings(client_secret="s")), ClientSecret)
    assert isinstance(credential_for(settings(client_certificate=write_pem(tmp_path / "a.pem", *key_and_certificate))),
                      ClientCertificate)
    assert isinstance(credential_for(settings(client_certificate=write_pfx(tmp_path / "a.pfx", *key_and_certificate))),
                      PkcsCertificate)
    assert isinstance(credential_for(settings(federated_token_file=str(token))), FederatedToken)
    assert isinstance(credential_for(GraphSettings.from_params(TENANT | {"managed_identity": "system"})),
                      ManagedIdentity)
    assert isinstance(credential_for(settings(managed_identity="user")), ManagedIdentity)


def test_more_than_one_credential_is_refused_naming_them(tmp_path):
    with pytest.raises(ConfigurationError, match=r"more than one credential \(client_secret, managed_identity\)"):
        credential_for(settings(client_secret="s", managed_identity="system"))


def test_client_id_is_needed_except_by_a_system_assigned_identity():
    assert GraphSettings.from_params(TENANT | {"managed_identity": "system"}).client_id is None
    for options in ({"client_secret": "s"}, {"managed_identity": "user"}):
        with pytest.raises(ConfigurationError, match="client_id is not set"):
            GraphSettings.from_params(TENANT | options)


# --- protected certificates ------------------------------------------------------------------------


def test_encrypted_pem_with_its_password_goes_to_msal_with_the_passphrase(tmp_path, key_and_certificate):
    chosen = settings(client_certificate=write_pem(tmp_path / "a.pem", *key_and_certificate, password=PASSWORD),
                      client_certificate_password=PASSWORD)
    msal_credential = credential_for(chosen).msal_credential(chosen)
    assert msal_credential["private_key"].startswith("-----BEGIN ENCRYPTED PRIVATE KEY-----")
    assert msal_credential["passphrase"] == PASSWORD
    assert msal_credential["public_certificate"].startswith("-----BEGIN CERTIFICATE-----")


def test_pfx_goes_to_msal_by_its_path(tmp_path, key_and_certificate):
    path = write_pfx(tmp_path / "a.pfx", *key_and_certificate, password=PASSWORD)
    chosen = settings(client_certificate=path, client_certificate_password=PASSWORD)
    assert credential_for(chosen).msal_credential(chosen) == {"private_key_pfx_path": path, "passphrase": PASSWORD}


def test_unprotected_pfx_needs_no_password(tmp_path, key_and_certificate):
    path = write_pfx(tmp_path / "a.pfx", *key_and_certificate)
    chosen = settings(client_certificate=path)
    assert credential_for(chosen).msal_credential(chosen) == {"private_key_pfx_path": path}


@pytest.mark.parametrize(("writer", "password", "said"), [
    (write_pem, None, "is encrypted and no client_certificate_password"),
    (write_pem, "wrong", "client_certificate_password is wrong"),
    (write_pfx, None, "protected by a password"),
    (write_pfx, "wrong", "the password is wrong"),
])
def test_protected_certificates_without_the_right_password(tmp_path, key_and_certificate, writer, password, said):
    path = writer(tmp_path / "a.bin", *key_and_certificate, password=PASSWORD)
    with pytest.raises(ConfigurationError, match=said) as raised:
        credential_for(settings(client_certificate=path, client_certificate_password=password))
    assert "client_certificate_password" in raised.value.hint
    assert PASSWORD not in str(raised.value)


def test_pfx_with_an_elliptic_key_is_refused(tmp_path):
    pem = trustme.CA().issue_cert("app.example").private_key_and_cert_chain_pem.bytes()
    path = write_pfx(tmp_path / "ec.pfx", serialization.load_pem_private_key(pem, None),
                     x509.load_pem_x509_certificate(pem))
    with pytest.raises(ConfigurationError, match="not an RSA key"):
        credential_for(settings(client_certificate=path))


# --- federated tokens and managed identities ---------------------------------------------------------


def test_federated_token_is_read_again_for_every_assertion(tmp_path):
    token = tmp_path / "token"
    token.write_text(jwt_like({"n": 1}) + "\n")
    chosen = settings(federated_token_file=str(token))
    assertion = credential_for(chosen).msal_credential(chosen)["client_assertion"]
    first = assertion()
    token.write_text(jwt_like({"n": 2}))
    assert token_claims(first) == {"n": 1} and token_claims(assertion()) == {"n": 2}


@pytest.mark.parametrize("content", [None, "", "not-a-token"])
def test_federated_token_files_that_cannot_work(tmp_path, content):
    token = tmp_path / "token"
    if content is not None:
        token.write_text(content)
    with pytest.raises(ConfigurationError, match="federated_token_file"):
        credential_for(settings(federated_token_file=str(token)))


def test_token_claims_of_anything_else_are_empty():
    assert token_claims(None) == {} and token_claims("a.b") == {} and token_claims("a.%%%.c") == {}
