"""The lab's Entra emulator, driven by the real msal and requests clients over verified TLS.

The emulator runs as its own process (started through its service interface) on a free
loopback port, with a server certificate from a throwaway trustme CA.
"""

from __future__ import annotations

import base64
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import jwt
import msal
import pytest
import requests
import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from tests.integration._private_emulator import free_port, private_emulator
from tests.lab.entra import EntraEmulator, ScenarioError

GRAPH_SCOPE = ["https://graph.microsoft.com/.default"]
GLOBAL_ADMINISTRATOR = "62e90394-69f5-4237-9190-012177145e10"
SYNCED_ANCHOR = "ZmFrZS1hbmNob3ItMDAwMQ=="

SCENARIO = {
    "tenant": {
        "initial_domain": "contoso.onmicrosoft.com",
        "verified_domains": ["contoso.com", {"name": "fabrikam.com", "authenticationType": "Federated"}],
        "features": {"blockSoftMatchEnabled": False, "softMatchOnUpnEnabled": True,
                     "blockCloudObjectTakeoverThroughHardMatchEnabled": True},
    },
    "cloud": {
        "users": [
            {"userPrincipalName": "user.lastname@contoso.com", "mail": "user.lastname@contoso.com",
             "proxyAddresses": ["SMTP:user.lastname@contoso.com", "smtp:user@contoso.com"],
             "displayName": "User Lastname"},
            {"userPrincipalName": "o'brien@contoso.com", "mail": "O'Brien@contoso.com",
             "proxyAddresses": ["SMTP:O'Brien@contoso.com"]},
            {"userPrincipalName": "admin@contoso.onmicrosoft.com", "roles": ["Global Administrator"]},
            {"userPrincipalName": "synced@contoso.com", "mail": "synced@contoso.com",
             "proxyAddresses": ["SMTP:synced@contoso.com"], "onPremisesImmutableId": "@ad:synced",
             "onPremisesSyncEnabled": True},
            {"userPrincipalName": "fed.user@fabrikam.com", "accountEnabled": False},
        ],
        "groups": [{"displayName": "Sales", "mail": "sales@contoso.com",
                    "proxyAddresses": ["SMTP:sales@contoso.com", "smtp:vertrieb@contoso.com"]}],
        "contacts": [{"displayName": "Partner", "mail": "partner@example.org",
                      "proxyAddresses": ["SMTP:partner@example.org", "smtp:partner.alias@contoso.com"]}],
    },
    "ad": {"users": [{"sAMAccountName": "synced"}]},   # the lab's other half; the emulator ignores it
}
ANCHORS = {"synced": SYNCED_ANCHOR}


def bulk_users(count: int) -> list[dict]:
    return [{"userPrincipalName": f"bulk{n:05d}@contoso.com", "mail": f"bulk{n:05d}@contoso.com",
             "proxyAddresses": [f"SMTP:bulk{n:05d}@contoso.com", f"smtp:b{n:05d}@contoso.com"]}
            for n in range(count)]


def with_users(users: list[dict]) -> dict:
    return {"tenant": SCENARIO["tenant"], "cloud": {"users": users}}


@dataclass
class EntraLab:
    emulator: EntraEmulator
    ca_path: Path
    settings: dict
    _tokens: dict = field(default_factory=dict)
    _shared: requests.Session | None = None

    @property
    def base(self) -> str:
        return self.settings["graph_endpoint"]

    @property
    def authority(self) -> str:
        return f"{self.settings['authority_host']}/{self.settings['tenant_id']}"

    def session(self) -> requests.Session:
        session = requests.Session()
        session.verify = str(self.ca_path)
        return session

    def msal_app(self, credential, client_id: str | None = None, **kwargs) -> msal.ConfidentialClientApplication:
        return msal.ConfidentialClientApplication(
            client_id or self.settings["client_id"], client_credential=credential,
            authority=kwargs.pop("authority", self.authority), instance_discovery=False,
            verify=str(self.ca_path), **kwargs)

    def token(self, which: str = "full") -> str:
        if which not in self._tokens:
            if which == "full":
                app = self.msal_app(self.settings["client_secret"])
            else:
                app = self.msal_app(self.settings[f"lab_{which}_client_secret"],
                                    self.settings[f"lab_{which}_client_id"])
            result = app.acquire_token_for_client(scopes=GRAPH_SCOPE)
            assert "access_token" in result, result
            self._tokens[which] = result["access_token"]
        return self._tokens[which]

    def graph(self, method: str, path: str, caller: str | None = "full", headers: dict | None = None,
              session: requests.Session | None = None, **kwargs) -> requests.Response:
        """A Graph call as the full, low or reader app, with a given bearer token, or (None) without one."""
        all_headers = dict(headers or {})
        if caller is not None:
            bearer = self.token(caller) if caller in ("full", "low", "reader") else caller
            all_headers["Authorization"] = f"Bearer {bearer}"
        url = path if path.startswith("https://") else f"{self.base}/v1.0{path}"
        if session is None:
            self._shared = self._shared or self.session()
            session = self._shared
        return session.request(method, url, headers=all_headers, timeout=30, **kwargs)

    def users(self, params: dict, headers: dict | None = None) -> requests.Response:
        return self.graph("GET", "/users", params=params, headers=headers)

    def certificate_credential(self, **extra) -> dict:
        pem = Path(self.settings["lab_client_certificate"]).read_text()
        end = "-----END CERTIFICATE-----"
        certificate = pem[:pem.index(end) + len(end)]
        private_key = pem[pem.index("-----BEGIN PRIVATE KEY-----"):]
        if "thumbprint" in extra:
            return {"private_key": private_key, **extra}
        return {"private_key": private_key, "public_certificate": certificate, **extra}


@pytest.fixture(scope="module")
def entra(tmp_path_factory) -> EntraLab:
    # requests lets REQUESTS_CA_BUNDLE override Session.verify (and so msal's verify=);
    # the lab CA must win here, so the module runs without those variables.
    with pytest.MonkeyPatch.context() as env:
        env.delenv("REQUESTS_CA_BUNDLE", raising=False)
        env.delenv("CURL_CA_BUNDLE", raising=False)
        with private_emulator(tmp_path_factory.mktemp("lab")) as (emulator, ca_path):
            yield EntraLab(emulator, ca_path, emulator.vars())


@pytest.fixture(autouse=True)
def fresh(entra: EntraLab) -> EntraLab:
    """Every test starts from the base scenario, with no faults, the default throttle and no counts."""
    entra.emulator.reset()
    entra.emulator.load(SCENARIO, ANCHORS)
    return entra


def user_id(entra: EntraLab, upn: str) -> str:
    return entra.graph("GET", f"/users/{upn}", params={"$select": "id"}).json()["id"]


def error_of(response: requests.Response) -> dict:
    body = response.json()["error"]
    assert set(body["innerError"]) >= {"date", "request-id", "client-request-id"}
    return body


# --- identity platform ------------------------------------------------------------------


def test_openid_configuration_and_unknown_tenant(entra: EntraLab):
    config = entra.session().get(f"{entra.authority}/v2.0/.well-known/openid-configuration", timeout=10).json()
    assert config["token_endpoint"] == f"{entra.authority}/oauth2/v2.0/token"
    assert entra.settings["tenant_id"] in config["issuer"]
    by_domain = entra.session().get(f"{entra.base}/contoso.com/v2.0/.well-known/openid-configuration", timeout=10)
    assert by_domain.json()["token_endpoint"] == config["token_endpoint"]
    unknown = entra.session().get(f"{entra.base}/nowhere.example/v2.0/.well-known/openid-configuration", timeout=10)
    assert unknown.status_code == 400
    assert unknown.json()["error"] == "invalid_tenant"
    assert unknown.json()["error_codes"] == [90002]


def test_secret_token_has_graph_claims_and_verifies_against_jwks(entra: EntraLab):
    result = entra.msal_app(entra.settings["client_secret"]).acquire_token_for_client(scopes=GRAPH_SCOPE)
    assert result["token_type"] == "Bearer"
    assert result["expires_in"] == 3600
    token = result["access_token"]
    discovery = f"{entra.authority}/v2.0/.well-known/openid-configuration"
    jwks_uri = entra.session().get(discovery, timeout=10).json()["jwks_uri"]
    keys = jwt.PyJWKSet.from_dict(entra.session().get(jwks_uri, timeout=10).json())
    kid = jwt.get_unverified_header(token)["kid"]
    claims = jwt.decode(token, keys[kid].key, algorithms=["RS256"], audience="https://graph.microsoft.com")
    assert claims["tid"] == entra.settings["tenant_id"]
    assert claims["appid"] == entra.settings["client_id"]
    assert claims["idtyp"] == "app"
    assert claims["appidacr"] == "1"
    assert {"User.Read.All", "Domain.Read.All", "RoleManagement.Read.Directory", "Organization.Read.All",
            "OnPremDirectorySynchronization.ReadWrite.All", "Synchronization.ReadWrite.All",
            "User.ReadWrite.All"} <= set(claims["roles"])
    assert claims["exp"] - claims["iat"] >= 3600


@pytest.mark.parametrize("extra", [{}, {"thumbprint": "from-settings"}], ids=["x5t#S256-PS256", "x5t-RS256"])
def test_certificate_credential_gets_a_token(entra: EntraLab, extra: dict):
    if extra:
        extra = {"thumbprint": entra.settings["lab_client_certificate_thumbprint"]}
    result = entra.msal_app(entra.certificate_credential(**extra)).acquire_token_for_client(scopes=GRAPH_SCOPE)
    assert "access_token" in result, result
    claims = jwt.decode(result["access_token"], options={"verify_signature": False})
    assert claims["appidacr"] == "2"


def test_msal_with_a_requests_session_and_a_domain_authority(entra: EntraLab):
    app = msal.ConfidentialClientApplication(
        entra.settings["client_id"], client_credential=entra.settings["client_secret"],
        authority=f"{entra.settings['authority_host']}/contoso.onmicrosoft.com", instance_discovery=False,
        http_client=entra.session())
    result = app.acquire_token_for_client(scopes=GRAPH_SCOPE)
    assert "access_token" in result, result


def test_wrong_secret_is_invalid_client(entra: EntraLab):
    result = entra.msal_app("not-the-secret").acquire_token_for_client(scopes=GRAPH_SCOPE)
    assert result["error"] == "invalid_client"
    assert result["error_codes"] == [7000215]
    assert result["error_description"].startswith("AADSTS7000215: Invalid client secret provided.")


def test_unknown_client_is_unauthorized_client(entra: EntraLab):
    result = entra.msal_app("whatever", client_id=str(uuid.uuid4())).acquire_token_for_client(scopes=GRAPH_SCOPE)
    assert result["error"] == "unauthorized_client"
    assert result["error_codes"] == [700016]


def _self_signed(key) -> str:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "stranger")])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=30)).sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def test_assertion_from_an_unregistered_certificate_is_refused(entra: EntraLab):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem_key = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    result = entra.msal_app({"private_key": pem_key, "public_certificate": _self_signed(key)}) \
        .acquire_token_for_client(scopes=GRAPH_SCOPE)
    assert result["error"] == "invalid_client"
    assert result["error_codes"] == [700027]


@pytest.mark.parametrize(("claims", "code"), [
    ({"aud": "https://login.example.org/token"}, 700023),
    ({"iss": "someone-else", "sub": "someone-else"}, 700021),
    ({"exp": int(time.time()) - 600, "nbf": int(time.time()) - 1200}, 700024),
], ids=["audience", "issuer", "expired"])
def test_bad_client_assertions(entra: EntraLab, claims: dict, code: int):
    credential = entra.certificate_credential()
    cert = x509.load_pem_x509_certificate(credential["public_certificate"].encode())
    now = int(time.time())
    payload = {"aud": f"{entra.authority}/oauth2/v2.0/token", "iss": entra.settings["client_id"],
               "sub": entra.settings["client_id"], "exp": now + 600, "nbf": now, "jti": str(uuid.uuid4())} | claims
    thumbprint = jwt.utils.base64url_encode(cert.fingerprint(hashes.SHA256())).decode()
    assertion = jwt.encode(payload, credential["private_key"], algorithm="PS256", headers={"x5t#S256": thumbprint})
    response = entra.session().post(f"{entra.authority}/oauth2/v2.0/token", timeout=10, data={
        "grant_type": "client_credentials", "client_id": entra.settings["client_id"], "scope": GRAPH_SCOPE[0],
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": assertion})
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert response.json()["error_codes"] == [code]


def test_scope_without_default_is_invalid_scope(entra: EntraLab):
    response = entra.session().post(f"{entra.authority}/oauth2/v2.0/token", timeout=10, data={
        "grant_type": "client_credentials", "client_id": entra.settings["client_id"],
        "client_secret": entra.settings["client_secret"], "scope": "User.Read.All"})
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_scope"
    assert response.json()["error_codes"] == [1002012]


def test_token_lifetime_is_configurable(entra: EntraLab):
    entra.emulator.admin("POST", "/_lab/config", {"token_lifetime": 120})
    result = entra.msal_app(entra.settings["client_secret"]).acquire_token_for_client(scopes=GRAPH_SCOPE)
    assert result["expires_in"] == 120


# --- Graph: authentication and permissions ------------------------------------------------


def test_graph_without_token_is_401(entra: EntraLab):
    response = entra.graph("GET", "/users", caller=None)
    assert response.status_code == 401
    assert error_of(response)["code"] == "InvalidAuthenticationToken"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_graph_forged_token_is_401(entra: EntraLab):
    genuine = jwt.decode(entra.token(), options={"verify_signature": False})
    header = jwt.get_unverified_header(entra.token())
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = jwt.encode(genuine, stranger, algorithm="RS256", headers={"kid": header["kid"]})
    response = entra.graph("GET", "/users", caller=forged)
    assert response.status_code == 401
    assert error_of(response)["code"] == "InvalidAuthenticationToken"
    garbage = entra.graph("GET", "/users", caller="not-a-token")
    assert garbage.status_code == 401


def test_graph_expired_token_is_401(entra: EntraLab):
    expired = entra.emulator.admin("POST", "/_lab/token", {"client_id": entra.settings["client_id"],
                                                           "expires_in": -60})["access_token"]
    response = entra.graph("GET", "/users", caller=expired)
    assert response.status_code == 401
    assert "expired" in error_of(response)["message"]


def test_low_app_is_denied_users_naming_the_permission(entra: EntraLab):
    denied = entra.graph("GET", "/users", caller="low")
    assert denied.status_code == 403
    error = error_of(denied)
    assert error["code"] == "Authorization_RequestDenied"
    assert "User.Read.All" in error["message"]
    sync = entra.graph("GET", "/directory/onPremisesSynchronization", caller="low")
    assert "OnPremDirectorySynchronization.Read.All" in error_of(sync)["message"]
    assert entra.graph("GET", "/domains", caller="low").status_code == 200


# --- Graph: users, $filter, $select, $top, $count ------------------------------------------


@pytest.mark.parametrize(("expression", "expected"), [
    ("mail eq 'o''brien@contoso.com'", {"o'brien@contoso.com"}),
    ("userPrincipalName in ('user.lastname@contoso.com', 'SYNCED@contoso.com')",
     {"user.lastname@contoso.com", "synced@contoso.com"}),
    ("proxyAddresses/any(p:p eq 'SMTP:USER@contoso.com')", {"user.lastname@contoso.com"}),
    ("proxyAddresses/any(p:startsWith(p, 'smtp:o''b'))", {"o'brien@contoso.com"}),
    ("startsWith(userPrincipalName, 'user.')", {"user.lastname@contoso.com"}),
    ("(mail eq 'synced@contoso.com' or mail eq 'nobody@contoso.com') and accountEnabled eq true",
     {"synced@contoso.com"}),
    ("accountEnabled eq false", {"fed.user@fabrikam.com"}),
    ("mail in ('nobody@contoso.com')", set()),
])
def test_filter(entra: EntraLab, expression: str, expected: set):
    response = entra.users({"$filter": expression, "$select": "id,userPrincipalName"})
    assert response.status_code == 200, response.text
    assert {user["userPrincipalName"] for user in response.json()["value"]} == expected


def test_filter_on_object_id(entra: EntraLab):
    synced = user_id(entra, "synced@contoso.com")
    for expression in (f"id eq '{synced}'", f"id eq '{synced.upper()}'", f"id in ('{uuid.uuid4()}', '{synced}')"):
        response = entra.users({"$filter": expression, "$select": "id,userPrincipalName"})
        assert response.status_code == 200, response.text
        assert [user["userPrincipalName"] for user in response.json()["value"]] == ["synced@contoso.com"], expression
    assert entra.users({"$filter": f"id eq '{uuid.uuid4()}'"}).json()["value"] == []


@pytest.mark.parametrize(("expression", "code"), [
    ("mail eq 'unterminated", "BadRequest"),
    ("mail eq", "BadRequest"),
    ("mail eq 'a' and", "BadRequest"),
    ("nickname eq 'x'", "BadRequest"),
    ("accountEnabled eq 'yes'", "BadRequest"),
    ("contains(mail, 'x')", "Request_UnsupportedQuery"),
    ("endsWith(mail, '@contoso.com')", "Request_UnsupportedQuery"),
    ("mail ne 'x'", "Request_UnsupportedQuery"),
    ("proxyAddresses eq 'smtp:a@b.c'", "Request_UnsupportedQuery"),
])
def test_filter_errors(entra: EntraLab, expression: str, code: str):
    response = entra.users({"$filter": expression})
    assert response.status_code == 400
    assert error_of(response)["code"] == code


def test_immutable_id_filter_needs_an_advanced_query(entra: EntraLab):
    params = {"$filter": f"onPremisesImmutableId eq '{SYNCED_ANCHOR}'", "$select": "id,onPremisesImmutableId"}
    plain = entra.users(params)
    assert plain.status_code == 400
    assert error_of(plain)["code"] == "Request_UnsupportedQuery"
    assert "onPremisesImmutableId" in error_of(plain)["message"]
    header_only = entra.users(params, headers={"ConsistencyLevel": "eventual"})
    assert header_only.status_code == 400
    advanced = entra.users(params | {"$count": "true"}, headers={"ConsistencyLevel": "eventual"})
    assert advanced.status_code == 200
    body = advanced.json()
    assert body["@odata.count"] == 1
    assert body["value"][0]["onPremisesImmutableId"] == SYNCED_ANCHOR
    endswith = entra.users({"$filter": "endsWith(mail, '@contoso.com')", "$count": "true"},
                           headers={"ConsistencyLevel": "eventual"})
    assert endswith.json()["@odata.count"] == 3


def test_count_needs_consistency_level(entra: EntraLab):
    response = entra.users({"$count": "true"})
    assert response.status_code == 400
    assert error_of(response)["message"] == "$count is not currently supported."
    counted = entra.graph("GET", "/users/$count", headers={"ConsistencyLevel": "eventual"})
    assert counted.text == "5"


def test_select_default_and_explicit(entra: EntraLab):
    default = entra.graph("GET", "/users/user.lastname@contoso.com").json()
    assert "proxyAddresses" not in default
    assert "onPremisesImmutableId" not in default
    assert default["mail"] == "user.lastname@contoso.com"
    assert default["@odata.context"].endswith("/v1.0/$metadata#users/$entity")
    chosen = entra.users({"$filter": "mail eq 'synced@contoso.com'",
                          "$select": "id,proxyAddresses,onPremisesImmutableId,onPremisesSyncEnabled"}).json()
    assert chosen["@odata.context"].endswith("#users(id,proxyAddresses,onPremisesImmutableId,onPremisesSyncEnabled)")
    assert chosen["value"][0] == {"id": chosen["value"][0]["id"], "proxyAddresses": ["SMTP:synced@contoso.com"],
                                  "onPremisesImmutableId": SYNCED_ANCHOR, "onPremisesSyncEnabled": True}
    unknown = entra.users({"$select": "id,shoeSize"})
    assert unknown.status_code == 400


EVENTUAL = {"ConsistencyLevel": "eventual"}


def test_orderby_on_users_sorts_and_pages_in_order(entra: EntraLab):
    every = entra.users({"$select": "userPrincipalName,displayName"}).json()["value"]
    expected = [user["userPrincipalName"] for user in sorted(
        (u for u in every if u["displayName"]), key=lambda u: u["displayName"].casefold(), reverse=True)]
    expected += sorted((u["userPrincipalName"] for u in every if not u["displayName"]), key=str)
    seen, url = [], None
    response = entra.users({"$orderby": "displayName desc", "$top": "2", "$select": "userPrincipalName"})
    while True:
        assert response.status_code == 200, response.text
        body = response.json()
        seen += [user["userPrincipalName"] for user in body["value"]]
        url = body.get("@odata.nextLink")
        if not url:
            break
        response = entra.graph("GET", url.split("/v1.0", 1)[1])
    assert seen[:len(expected)] == expected and len(seen) == len(every)
    by_upn = entra.users({"$orderby": "userPrincipalName", "$select": "userPrincipalName"}).json()["value"]
    assert [u["userPrincipalName"] for u in by_upn] == sorted((u["userPrincipalName"] for u in every), key=str.casefold)


@pytest.mark.parametrize(("params", "headers"), [
    ({"$orderby": "mail"}, None),                                        # not without an advanced query
    ({"$orderby": "displayName", "$filter": "accountEnabled eq true"}, None),   # nor with $filter
    ({"$orderby": "shoeSize"}, EVENTUAL),
    ({"$search": '"displayName:user"'}, None),                           # $search needs ConsistencyLevel
    ({"$search": "displayName:user"}, EVENTUAL),                         # the clause is quoted
])
def test_orderby_and_search_graph_refuses(entra: EntraLab, params: dict, headers: dict | None):
    response = entra.users(params, headers=headers)
    assert response.status_code == 400, response.text
    assert error_of(response)["code"] in ("Request_UnsupportedQuery", "BadRequest")


def test_advanced_orderby_and_search_on_users(entra: EntraLab):
    by_mail = entra.users({"$orderby": "mail", "$count": "true", "$select": "mail"}, headers=EVENTUAL).json()
    mails = [user["mail"] for user in by_mail["value"]]
    present = [mail for mail in mails if mail]
    assert present == sorted(present, key=str.casefold) and mails[len(present):] == [None] * (len(mails) - len(present))
    found = entra.users({"$search": '"displayName:last"', "$select": "userPrincipalName"}, headers=EVENTUAL).json()
    assert [user["userPrincipalName"] for user in found["value"]] == ["user.lastname@contoso.com"]
    either = entra.users({"$search": '"displayName:lastname" OR "mail:synced"', "$select": "userPrincipalName"},
                         headers=EVENTUAL).json()
    assert {user["userPrincipalName"] for user in either["value"]} == {"user.lastname@contoso.com",
                                                                       "synced@contoso.com"}
    both = entra.users({"$search": '"displayName:user" AND "mail:synced"'}, headers=EVENTUAL).json()
    assert both["value"] == []
    groups = entra.graph("GET", "/groups", params={"$orderby": "displayName"})
    assert groups.status_code == 400


def test_v1_properties_scripts_select_are_returned(entra: EntraLab):
    # Graph v1.0 user properties (returned only on $select); licences as assignedPlans / provisionedPlans
    select = ("id,assignedLicenses,assignedPlans,provisionedPlans,deletedDateTime,employeeType,employeeHireDate,"
              "identities,onPremisesExtensionAttributes,lastPasswordChangeDateTime,passwordPolicies")
    [mailbox] = entra.users({"$filter": "mail eq 'synced@contoso.com'", "$select": select}).json()["value"]
    assert set(mailbox) == set(select.split(","))
    assert [(plan["service"], plan["capabilityStatus"]) for plan in mailbox["assignedPlans"]] == [
        ("exchange", "Enabled")]
    assert [plan["provisioningStatus"] for plan in mailbox["provisionedPlans"]] == ["Success"]
    assert mailbox["onPremisesExtensionAttributes"]["extensionAttribute15"] is None
    assert mailbox["deletedDateTime"] is None and mailbox["assignedLicenses"] == []
    no_mailbox = entra.graph("GET", "/users/admin@contoso.onmicrosoft.com", params={"$select": "assignedPlans"})
    assert no_mailbox.json()["assignedPlans"] == []


def test_beta_only_properties_are_not_in_v1(entra: EntraLab):
    organization = entra.graph("GET", "/organization").json()["value"][0]
    assert "directorySizeQuota" not in organization
    [synchronization] = entra.graph("GET", "/directory/onPremisesSynchronization").json()["value"]
    assert set(synchronization["configuration"]) == {"accidentalDeletionPrevention"}
    refused = entra.graph("PATCH", f"/directory/onPremisesSynchronization/{synchronization['id']}",
                          json={"configuration": {"synchronizationInterval": "PT10M"}})
    assert refused.status_code == 400


@pytest.mark.parametrize("top", ["1000", "0", "-1", "ten"])
def test_top_out_of_range_is_400(entra: EntraLab, top: str):
    response = entra.users({"$top": top})
    assert response.status_code == 400
    assert error_of(response)["code"] == "Request_UnsupportedQuery"


def test_get_user_by_id_or_upn_and_404(entra: EntraLab):
    by_upn = entra.graph("GET", "/users/O'Brien@contoso.com", params={"$select": "id,userPrincipalName"}).json()
    by_id = entra.graph("GET", f"/users/{by_upn['id']}", params={"$select": "id,userPrincipalName"}).json()
    assert by_id["userPrincipalName"] == "o'brien@contoso.com"
    missing = entra.graph("GET", f"/users/{uuid.uuid4()}")
    assert missing.status_code == 404
    assert error_of(missing)["code"] == "Request_ResourceNotFound"


def test_paging_over_2500_users(entra: EntraLab):
    entra.emulator.load(with_users(bulk_users(2500)))
    first = entra.users({"$select": "id,mail"}).json()
    assert len(first["value"]) == 100
    assert "$skiptoken=" in first["@odata.nextLink"]
    ids: list[str] = []
    pages = 0
    url = f"{entra.base}/v1.0/users?$top=999&$select=id,mail"
    while url:
        body = entra.graph("GET", url).json()
        ids += [user["id"] for user in body["value"]]
        url = body.get("@odata.nextLink")
        pages += 1
        if url:
            assert "$select=id,mail" in url and "$top=999" in url
    assert pages == 3
    assert len(ids) == len(set(ids)) == 2500
    counted = entra.users({"$top": "999", "$count": "true"}, headers={"ConsistencyLevel": "eventual"}).json()
    assert counted["@odata.count"] == 2500


def test_skiptoken_is_sealed_and_a_forged_garbled_or_foreign_one_is_400(entra: EntraLab):
    entra.emulator.load(with_users(bulk_users(250)))
    listing = {"$top": "100", "$select": "id"}
    first = entra.users(listing).json()
    last_id = first["value"][-1]["id"]
    token = parse_qs(urlsplit(first["@odata.nextLink"]).query)["$skiptoken"][0]
    assert last_id not in token
    assert last_id.encode() not in base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    second = entra.users(listing | {"$skiptoken": token}).json()["value"]
    assert len(second) == 100 and min(user["id"] for user in second) > last_id

    middle = len(token) // 2
    garbled = token[:middle] + ("B" if token[middle] == "A" else "A") + token[middle + 1:]
    forged = base64.urlsafe_b64encode(f"lab1:{last_id}".encode()).decode().rstrip("=")   # the position in clear
    for bad in (garbled, forged, "not-a-token!", ""):
        refused = entra.users(listing | {"$skiptoken": bad})
        assert refused.status_code == 400, bad
        assert error_of(refused)["code"] == "Request_BadRequest"
    other_filter = entra.users(listing | {"$filter": "startsWith(mail, 'bulk')", "$skiptoken": token})
    assert other_filter.status_code == 400
    other_collection = entra.graph("GET", "/groups", params={"$skiptoken": token})
    assert other_collection.status_code == 400


def test_next_page_of_an_advanced_query_needs_consistency_level_again(entra: EntraLab):
    entra.emulator.load(with_users(bulk_users(250)))
    eventual = {"ConsistencyLevel": "eventual"}
    first = entra.users({"$filter": "endsWith(mail, '@contoso.com')", "$count": "true", "$top": "100",
                         "$select": "id"}, headers=eventual).json()
    link = first["@odata.nextLink"]
    assert first["@odata.count"] == 250 and "count=true" in link
    bare = entra.graph("GET", link)
    assert bare.status_code == 400
    assert error_of(bare)["message"] == "$count is not currently supported."
    again = entra.graph("GET", link, headers=eventual)
    assert again.status_code == 200
    assert len(again.json()["value"]) == 100 and again.json()["@odata.count"] == 250


@pytest.mark.parametrize("broken", ["foreign", "repeat"])
def test_next_link_fault(entra: EntraLab, broken: str):
    entra.emulator.set_faults(next_link=broken, path_prefix="/v1.0/users")
    url = f"{entra.base}/v1.0/users?$top=2&$select=id"
    link = entra.graph("GET", url).json()["@odata.nextLink"]
    assert link == (url if broken == "repeat" else url.replace(entra.base, "https://graph.example.net"))
    definitions = entra.graph("GET", "/roleManagement/directory/roleDefinitions", params={"$top": "1"}).json()
    assert definitions["@odata.nextLink"].startswith(entra.base)      # outside the prefix: left alone
    with pytest.raises(ValueError, match="next_link"):
        entra.emulator.set_faults(next_link="elsewhere")


def _get_resilient(entra: EntraLab, session: requests.Session, url: str) -> requests.Response:
    """What a well-behaved client does: retry 429/503 (Retry-After, else backoff) and resets."""
    for attempt in range(30):
        try:
            response = entra.graph("GET", url, session=session)
        except requests.ConnectionError:
            continue
        if response.status_code in (429, 503):
            time.sleep(float(response.headers.get("Retry-After", 0.01 * 2 ** min(attempt, 4))))
            continue
        return response
    raise AssertionError(f"no answer for {url}")


def test_paging_under_injected_faults_still_returns_every_user(entra: EntraLab):
    entra.emulator.load(with_users(bulk_users(2500)))
    entra.emulator.set_faults(rate_429=0.25, rate_503=0.15, rate_reset=0.15, seed=11, retry_after=0,
                              path_prefix="/v1.0/users")
    session = entra.session()
    ids: list[str] = []
    url = f"{entra.base}/v1.0/users?$top=250&$select=id"
    while url:
        body = _get_resilient(entra, session, url).json()
        ids += [user["id"] for user in body["value"]]
        url = body.get("@odata.nextLink")
    assert len(ids) == len(set(ids)) == 2500
    injected = entra.emulator.admin("GET", "/_lab/faults")["injected"]
    assert injected["429"] and injected["503"] and injected["reset"]
    assert entra.graph("GET", "/domains").status_code == 200    # outside the prefix: untouched


def test_injected_faults_one_by_one(entra: EntraLab):
    entra.emulator.set_faults(script=["429"], retry_after=3)
    throttled = entra.graph("GET", "/users")
    assert throttled.status_code == 429
    assert throttled.headers["Retry-After"] == "3"
    assert error_of(throttled)["code"] == "TooManyRequests"
    entra.emulator.set_faults(script=["429", "503", "504", "reset"], retry_after=None)
    bare = entra.graph("GET", "/users")
    assert bare.status_code == 429
    assert "Retry-After" not in bare.headers
    unavailable = entra.graph("GET", "/users")
    assert unavailable.status_code == 503
    assert error_of(unavailable)["code"] == "serviceNotAvailable"
    gateway = entra.graph("GET", "/users")
    assert gateway.status_code == 504 and "Retry-After" not in gateway.headers
    assert error_of(gateway)["code"] == "timeout"
    with pytest.raises(requests.ConnectionError):
        entra.graph("GET", "/users")
    assert entra.graph("GET", "/users").status_code == 200
    report = entra.emulator.requests(log=False)
    assert report["statuses"]["reset"] == 1


def test_faults_repeat_with_the_same_seed(entra: EntraLab):
    def statuses() -> list[int]:
        entra.emulator.set_faults(rate_429=0.3, rate_503=0.2, rate_504=0.2, seed=5)
        return [entra.graph("GET", "/domains").status_code for _attempt in range(20)]

    first = statuses()
    assert first == statuses()
    assert {200, 429, 503, 504} <= set(first)
    with pytest.raises(ValueError, match="must not exceed 1"):
        entra.emulator.set_faults(rate_429=0.5, rate_504=0.6)


def test_latency_knob(entra: EntraLab):
    entra.emulator.set_faults(latency_ms=300)
    started = time.monotonic()
    assert entra.graph("GET", "/domains").status_code == 200
    assert time.monotonic() - started >= 0.3


def test_throttling_by_resource_units(entra: EntraLab):
    entra.emulator.set_throttle(budget=5, window_seconds=600)
    cheap = [entra.users({"$select": "id"}) for _request in range(5)]
    assert [r.status_code for r in cheap] == [200] * 5
    assert cheap[0].headers["x-ms-resource-unit"] == "1"
    throttled = entra.users({"$select": "id"})
    assert throttled.status_code == 429
    assert int(throttled.headers["Retry-After"]) >= 1
    assert throttled.headers["x-ms-throttle-scope"].startswith("Tenant_Application/Read/")
    assert error_of(throttled)["code"] == "TooManyRequests"
    entra.emulator.set_throttle(budget=3, window_seconds=600, retry_after="none")
    assert entra.users({}).headers["x-ms-resource-unit"] == "2"      # no $select: 2 units
    no_header = entra.users({})
    assert no_header.status_code == 429
    assert "Retry-After" not in no_header.headers


def test_throttling_buckets_are_per_app(entra: EntraLab):
    entra.emulator.set_throttle(budget=3, window_seconds=600)
    entra.token("reader")                        # its token request costs nothing either way
    assert [entra.users({"$select": "id"}).status_code for _request in range(4)] == [200, 200, 200, 429]
    reader = [entra.graph("GET", "/users", caller="reader", params={"$select": "id"}) for _request in range(3)]
    assert [response.status_code for response in reader] == [200, 200, 200]
    assert entra.users({"$select": "id"}).status_code == 429
    assert entra.graph("GET", "/users", caller="reader", params={"$select": "id"}).status_code == 429


# --- $batch -------------------------------------------------------------------------------


def test_batch_over_20_requests_is_400(entra: EntraLab):
    requests_ = [{"id": str(n), "method": "GET", "url": "/domains"} for n in range(21)]
    response = entra.graph("POST", "/$batch", json={"requests": requests_})
    assert response.status_code == 400
    assert error_of(response)["code"] == "BadRequest"


def test_batch_routes_and_throttles_each_inner_request(entra: EntraLab):
    entra.emulator.set_throttle(budget=5, window_seconds=600)
    admin_id = user_id(entra, "admin@contoso.onmicrosoft.com")      # costs 1 unit
    inner = [{"id": "roles", "method": "GET",
              "url": f"/roleManagement/directory/roleAssignments?$filter=principalId eq '{admin_id}'"},
             {"id": "anchor", "method": "GET",
              "url": f"/users?$filter=onPremisesImmutableId eq '{SYNCED_ANCHOR}'&$count=true&$select=id",
              "headers": {"ConsistencyLevel": "eventual"}},
             {"id": "missing", "method": "GET", "url": f"/users/{uuid.uuid4()}"}]
    inner += [{"id": f"u{n}", "method": "GET", "url": "/users?$select=id&$top=1"} for n in range(7)]
    response = entra.graph("POST", "/$batch", json={"requests": inner})
    assert response.status_code == 200
    by_id = {item["id"]: item for item in response.json()["responses"]}
    assert by_id["roles"]["status"] == 200
    assert by_id["roles"]["body"]["value"][0]["roleDefinitionId"] == GLOBAL_ADMINISTRATOR
    assert by_id["anchor"]["body"]["@odata.count"] == 1
    assert by_id["missing"]["status"] == 404
    throttled = [item for item in by_id.values() if item["status"] == 429]
    assert len(throttled) == 7 - 1      # 4 units left after the lookup: roles, anchor, missing, u0
    assert all(int(item["headers"]["Retry-After"]) >= 1 for item in throttled)
    report = entra.emulator.requests(log=False)
    assert report["counts"]["POST /v1.0/$batch"] == 1
    assert report["inner_routes"]["GET /v1.0/users"] == 8


def test_batch_inner_faults_and_dependencies(entra: EntraLab):
    entra.emulator.set_faults(script=["none", "429"], retry_after=2)
    response = entra.graph("POST", "/$batch", json={"requests": [
        {"id": "1", "method": "GET", "url": "/domains"},
        {"id": "2", "method": "GET", "url": "/organization"},
        {"id": "3", "method": "GET", "url": "/domains", "dependsOn": ["2"]},
    ]})
    statuses = {item["id"]: item for item in response.json()["responses"]}
    assert response.status_code == 200     # the outer request drew "none"
    assert statuses["1"]["status"] == 429 and statuses["1"]["headers"]["Retry-After"] == "2"
    assert statuses["2"]["status"] == 200
    assert statuses["3"]["status"] == 200


# --- counters, writes, tenant endpoints -------------------------------------------------------


def test_request_counters(entra: EntraLab):
    entra.token()                                # so token requests don't land in the counts
    entra.emulator.clear_requests()
    session = entra.session()
    for _request in range(3):
        entra.graph("GET", "/users", session=session, params={"$select": "id"})
    entra.graph("GET", "/users/synced@contoso.com", session=session)
    entra.graph("GET", "/users", caller=None, session=session)
    report = entra.emulator.requests()
    assert report["counts"]["GET /v1.0/users"] == 4
    assert report["routes"]["GET /v1.0/users/{id}"] == 1
    assert report["statuses"] == {"200": 4, "401": 1}
    assert len(report["log"]) == 5
    first = report["log"][0]
    assert first["app"] == entra.settings["client_id"]
    assert first["resource_units"] == 1 and first["query"] == "%24select=id"
    entra.emulator.clear_requests()
    assert entra.emulator.requests()["total"] == 0


def test_patch_immutable_id(entra: EntraLab):
    synced = entra.graph("PATCH", "/users/synced@contoso.com", json={"onPremisesImmutableId": "AAAA"})
    assert synced.status_code == 400
    assert error_of(synced)["code"] == "Request_BadRequest"
    assert "on-premises mastered" in error_of(synced)["message"]
    cloud_id = user_id(entra, "user.lastname@contoso.com")
    assert entra.graph("PATCH", f"/users/{cloud_id}", json={"onPremisesImmutableId": "QUJDRA=="}).status_code == 204
    after = entra.graph("GET", f"/users/{cloud_id}", params={"$select": "onPremisesImmutableId"}).json()
    assert after["onPremisesImmutableId"] == "QUJDRA=="
    duplicate = entra.graph("PATCH", "/users/o'brien@contoso.com", json={"onPremisesImmutableId": "QUJDRA=="})
    assert duplicate.status_code == 400
    read_only = entra.graph("PATCH", f"/users/{cloud_id}", json={"proxyAddresses": ["SMTP:x@contoso.com"]})
    assert "read-only" in error_of(read_only)["message"]
    federated = entra.graph("PATCH", "/users/fed.user@fabrikam.com", json={"onPremisesImmutableId": "RkVE"})
    assert federated.status_code == 400
    denied = entra.graph("PATCH", f"/users/{cloud_id}", caller="low", json={"onPremisesImmutableId": None})
    assert denied.status_code == 403


def test_patch_accepts_odata_instance_annotations(entra: EntraLab):
    # Graph's JSON format allows instance annotations in a request body; Microsoft's SDKs send @odata.type
    cloud_id = user_id(entra, "user.lastname@contoso.com")
    before = entra.graph("GET", f"/users/{cloud_id}", params={"$select": "onPremisesImmutableId"}).json()
    body = {"@odata.type": "#microsoft.graph.user", "onPremisesImmutableId": "QUJDRQ==",
            "onPremisesImmutableId@odata.type": "#Edm.String"}
    assert entra.graph("PATCH", f"/users/{cloud_id}", json=body).status_code == 204
    after = entra.graph("GET", f"/users/{cloud_id}", params={"$select": "onPremisesImmutableId"}).json()
    assert after["onPremisesImmutableId"] == "QUJDRQ=="
    unknown = entra.graph("PATCH", f"/users/{cloud_id}", json={"@odata.type": "#microsoft.graph.user", "nope": 1})
    assert unknown.status_code == 400
    restored = {"onPremisesImmutableId": before["onPremisesImmutableId"]}
    assert entra.graph("PATCH", f"/users/{cloud_id}", json=restored).status_code == 204


def test_deleted_users_are_listed_apart_from_the_users(entra: EntraLab):
    # Graph: soft-deleted users stay 30 days in /directory/deletedItems, out of /users
    gone = {"userPrincipalName": "gone@contoso.com", "mail": "gone@contoso.com",
            "proxyAddresses": ["SMTP:gone@contoso.com"], "onPremisesImmutableId": "Z29uZS11c2VyLWFuY2hvcg==",
            "deletedDateTime": "2026-11-30T10:00:00Z"}
    entra.emulator.load({"tenant": SCENARIO["tenant"], "cloud": {**SCENARIO["cloud"], "deleted_users": [gone]}},
                        ANCHORS)
    listing = entra.graph("GET", "/directory/deletedItems/microsoft.graph.user",
                          params={"$select": "id,userPrincipalName,deletedDateTime,onPremisesImmutableId"}).json()
    assert [(user["userPrincipalName"], user["deletedDateTime"]) for user in listing["value"]] == [
        ("gone@contoso.com", "2026-11-30T10:00:00Z")]
    assert listing["@odata.context"].endswith("#directory/deletedItems/microsoft.graph.user"
                                              "(id,userPrincipalName,deletedDateTime,onPremisesImmutableId)")
    deleted_id = listing["value"][0]["id"]
    assert entra.graph("GET", f"/directory/deletedItems/{deleted_id}").json()["userPrincipalName"] == "gone@contoso.com"
    assert entra.graph("GET", f"/users/{deleted_id}").status_code == 404
    users = entra.graph("GET", "/users", params={"$select": "userPrincipalName"}).json()["value"]
    assert "gone@contoso.com" not in {user["userPrincipalName"] for user in users}
    assert entra.graph("GET", "/directory/deletedItems/microsoft.graph.user", caller="low").status_code == 403


def test_domains_and_organization(entra: EntraLab):
    domains = {d["id"]: d for d in entra.graph("GET", "/domains").json()["value"]}
    assert set(domains) == {"contoso.onmicrosoft.com", "contoso.com", "fabrikam.com"}
    initial = domains["contoso.onmicrosoft.com"]
    assert initial["isInitial"] and initial["isVerified"] and initial["isDefault"]
    assert domains["contoso.com"]["authenticationType"] == "Managed"
    assert domains["fabrikam.com"]["authenticationType"] == "Federated"
    organization = entra.graph("GET", "/organization").json()["value"][0]
    assert organization["id"] == entra.settings["tenant_id"]
    assert organization["onPremisesSyncEnabled"] is True
    assert {d["name"] for d in organization["verifiedDomains"]} == set(domains)


def test_on_premises_synchronization_features(entra: EntraLab):
    listing = entra.graph("GET", "/directory/onPremisesSynchronization").json()["value"]
    assert len(listing) == 1
    features = listing[0]["features"]
    assert features["blockSoftMatchEnabled"] is False
    assert features["blockCloudObjectTakeoverThroughHardMatchEnabled"] is True
    assert features["softMatchOnUpnEnabled"] is True
    patched = entra.graph("PATCH", f"/directory/onPremisesSynchronization/{listing[0]['id']}",
                          json={"features": {"blockSoftMatchEnabled": True}})
    assert patched.status_code == 204
    again = entra.graph("GET", f"/directory/onPremisesSynchronization/{listing[0]['id']}").json()
    assert again["features"]["blockSoftMatchEnabled"] is True
    bad = entra.graph("PATCH", "/directory/onPremisesSynchronization", json={"features": {"noSuchSwitch": True}})
    assert bad.status_code == 400


def test_role_assignments_and_definitions(entra: EntraLab):
    admin_id = user_id(entra, "admin@contoso.onmicrosoft.com")
    assignments = entra.graph("GET", "/roleManagement/directory/roleAssignments",
                              params={"$filter": f"principalId eq '{admin_id}'"}).json()["value"]
    assert [(a["principalId"], a["roleDefinitionId"], a["directoryScopeId"]) for a in assignments] == \
        [(admin_id, GLOBAL_ADMINISTRATOR, "/")]
    nobody = entra.graph("GET", "/roleManagement/directory/roleAssignments",
                         params={"$filter": f"principalId eq '{user_id(entra, 'synced@contoso.com')}'"})
    assert nobody.json()["value"] == []
    definition = entra.graph("GET", f"/roleManagement/directory/roleDefinitions/{GLOBAL_ADMINISTRATOR}").json()
    assert definition["displayName"] == "Global Administrator"


def test_groups_and_contacts_hold_addresses(entra: EntraLab):
    groups = entra.graph("GET", "/groups", params={
        "$filter": "proxyAddresses/any(p:p eq 'smtp:VERTRIEB@contoso.com')", "$select": "id,mail,proxyAddresses"})
    assert [g["mail"] for g in groups.json()["value"]] == ["sales@contoso.com"]
    contacts = entra.graph("GET", "/contacts",
                           params={"$filter": "proxyAddresses/any(p:p eq 'smtp:partner.alias@contoso.com')"})
    assert [c["displayName"] for c in contacts.json()["value"]] == ["Partner"]
    by_mail = entra.graph("GET", "/groups", params={"$filter": "mail eq 'sales@contoso.com'"}).json()["value"]
    assert by_mail[0]["mailEnabled"] is True


# --- loading and state ----------------------------------------------------------------------


@pytest.mark.parametrize(("cloud", "message"), [
    ({"users": [{"userPrincipalName": "a@contoso.com", "proxyAddresses": ["SMTP:x@contoso.com"]},
                {"userPrincipalName": "b@contoso.com", "proxyAddresses": ["smtp:X@contoso.com"]}]}, "SMTP address"),
    ({"users": [{"userPrincipalName": "a@unverified.example"}]}, "not a verified domain"),
    ({"users": [{"userPrincipalName": "a@contoso.com", "shoeSize": 44}]}, "unknown key"),
    ({"users": [{"userPrincipalName": "a@contoso.com", "roles": ["Chief Coffee Officer"]}]}, "unknown directory role"),
])
def test_load_refuses_impossible_tenants(entra: EntraLab, cloud: dict, message: str):
    with pytest.raises(ValueError, match=message):
        entra.emulator.load({"tenant": SCENARIO["tenant"], "cloud": cloud})


def test_load_needs_the_anchor_of_an_ad_reference(entra: EntraLab):
    with pytest.raises(ScenarioError, match="synced"):
        entra.emulator.load(SCENARIO, {})
    entra.emulator.load(SCENARIO, lambda sam: SYNCED_ANCHOR if sam == "synced" else None)


def test_state_and_reset(entra: EntraLab):
    state = entra.emulator.state()
    roles = {user["userPrincipalName"]: user["roles"] for user in state["users"]}
    assert roles["admin@contoso.onmicrosoft.com"] == ["Global Administrator"]
    assert state["tenant"]["features"]["blockCloudObjectTakeoverThroughHardMatchEnabled"] is True
    defaults = {"proxyAddresses": [], "mail": None, "onPremisesSyncEnabled": None, "onPremisesImmutableId": None,
                "accountEnabled": True}
    admin = next(user for user in state["users"] if user["userPrincipalName"].startswith("admin@"))
    assert {key: admin[key] for key in defaults} == defaults
    entra.emulator.reset()
    assert entra.emulator.state()["users"] == []
    assert [d["id"] for d in entra.graph("GET", "/domains").json()["value"]] == ["contoso.onmicrosoft.com"]


def test_ten_thousand_users_list_fast(entra: EntraLab):
    entra.emulator.load(with_users(bulk_users(10_000)))
    entra.emulator.clear_requests()
    session = entra.session()
    ids: list[str] = []
    url = f"{entra.base}/v1.0/users?$top=999&$select=id,mail,proxyAddresses,onPremisesImmutableId"
    while url:
        body = entra.graph("GET", url, session=session).json()
        ids += [user["id"] for user in body["value"]]
        url = body.get("@odata.nextLink")
    assert len(set(ids)) == 10_000
    pages = [entry for entry in entra.emulator.requests()["log"] if entry["route"] == "/v1.0/users"]
    server_ms = sum(entry["duration_ms"] for entry in pages)
    assert server_ms < 1000, f"{len(pages)} pages of users took {server_ms:.0f} ms of server time"
    lookup = entra.users({"$filter": "proxyAddresses/any(p:p eq 'smtp:b09999@contoso.com')", "$select": "mail"})
    assert lookup.json()["value"] == [{"mail": "bulk09999@contoso.com"}]


def test_restart_keeps_credentials_and_tokens(tmp_path: Path, entra: EntraLab):
    ca = trustme.CA()
    leaf = ca.issue_cert("127.0.0.1")
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    leaf.cert_chain_pems[0].write_to_path(str(tmp_path / "server.pem"))
    leaf.private_key_pem.write_to_path(str(tmp_path / "key.pem"))
    emulator = EntraEmulator(tmp_path / "lab", port=free_port(), ca_cert=tmp_path / "ca.pem")
    try:
        emulator.start(tmp_path / "server.pem", tmp_path / "key.pem")
        emulator.start(tmp_path / "server.pem", tmp_path / "key.pem")      # idempotent
        before = emulator.vars()
        token = emulator.admin("POST", "/_lab/token", {"client_id": before["client_id"]})["access_token"]
        emulator.stop()
        assert not emulator.healthy()
        emulator.start(tmp_path / "server.pem", tmp_path / "key.pem")
        assert emulator.vars() == before
        response = requests.get(f"{before['graph_endpoint']}/v1.0/domains", timeout=10,
                                verify=str(tmp_path / "ca.pem"), headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 200
    finally:
        emulator.stop()
    assert not (tmp_path / "lab" / "entra" / "entra.pid").exists()


def test_as_a_lab_service(tmp_path: Path):
    from tests.lab import LabError
    from tests.lab.entra._lab_service import EntraService

    service = EntraService(tmp_path, port=free_port(), anchors=ANCHORS.get)
    try:
        lab_vars = service.up()
        assert lab_vars["graph_ca_cert"] == str((tmp_path / "tls" / "ca.pem").resolve())
        assert service.status()[0]
        service.check(SCENARIO)
        with pytest.raises(LabError, match="unknown key"):
            service.check({"cloud": {"users": [{"userPrincipalName": "a@contoso.onmicrosoft.com", "shoe": 44}]}})
        assert service.load(SCENARIO)["users"] == 5
        with pytest.raises(LabError, match="nobody"):
            service.load({"cloud": {"users": [{"userPrincipalName": "x@contoso.onmicrosoft.com",
                                               "onPremisesImmutableId": "@ad:nobody"}]}})
    finally:
        service.down(purge=True)
    assert not service.status()[0]
