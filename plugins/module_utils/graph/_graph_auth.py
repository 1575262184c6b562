# Copyright: contributors to the hybrid.identity collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Graph credentials, one small class each behind ``credential_for()`` (internal to the collection).

Each has ``validate(settings)``, which checks what can be checked on the controller before anything
is sent, and ``acquire_token(settings, session)``, which returns msal's answer (a dict with
``access_token``, or with ``error``). The app registration's credentials (a secret, a certificate in
PEM or PKCS#12, a federated token) go through msal's confidential client; a managed identity through
msal's ManagedIdentityClient, which finds its endpoint in the environment (IDENTITY_ENDPOINT and
IDENTITY_HEADER on App Service, AKS and Arc-like hosts, else the instance metadata service).
"""

from __future__ import annotations

import base64
import json
import re

from ansible_collections.hybrid.identity.plugins.module_utils.common._errors import ConfigurationError
from ansible_collections.hybrid.identity.plugins.module_utils.graph._graph_clouds import PUBLIC_AUTHORITY_HOST

try:
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
    from cryptography.hazmat.primitives.serialization import load_pem_private_key, pkcs12
except ImportError:  # msal requires cryptography; the module reports msal missing first
    RSAPrivateKey = load_pem_private_key = pkcs12 = None

try:
    import msal
except ImportError:  # reported by the module with missing_required_lib
    msal = None

_PEM_PRIVATE_KEY = re.compile(
    r"-----BEGIN (?:RSA |EC |ENCRYPTED )?PRIVATE KEY-----.+?-----END (?:RSA |EC |ENCRYPTED )?PRIVATE KEY-----",
    re.DOTALL)
_PEM_ENCRYPTED = re.compile(r"-----BEGIN ENCRYPTED PRIVATE KEY-----|^Proc-Type: 4,ENCRYPTED", re.MULTILINE)
_PEM_CERTIFICATE = re.compile(r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.DOTALL)
_GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE)


def msal_options(settings) -> dict:
    """How the msal confidential client is pointed at the tenant: its authority, and whether it may look it up.

    rule book §8: only the public cloud's authority is checked through instance discovery
    (which asks login.microsoftonline.com); anywhere else msal must talk to authority_host alone.
    """
    return {"authority": settings.authority,
            "instance_discovery": settings.authority_host == PUBLIC_AUTHORITY_HOST}


class _AppCredential:
    """A credential of the app registration, signed in with msal's confidential client."""

    refused_hint = ""
    _msal_app = None

    def validate(self, settings) -> None:
        self.msal_credential(settings)

    def msal_credential(self, settings):
        raise NotImplementedError

    def acquire_token(self, settings, session) -> dict:
        if self._msal_app is None:
            self._msal_app = _confidential_client(settings, self.msal_credential(settings), session)
        return self._msal_app.acquire_token_for_client(scopes=[settings.scope])


def _confidential_client(settings, client_credential, session):
    try:
        return msal.ConfidentialClientApplication(settings.client_id, client_credential=client_credential,
                                                  http_client=session, **msal_options(settings))
    except ValueError as err:
        # msal says "Unable to get authority configuration" when tenant discovery fails.
        if "authority" in str(err).lower():
            raise ConfigurationError(
                f"tenant {settings.tenant_id} is unknown at {settings.authority_host}",
                hint="check tenant_id (a GUID or a verified domain) and that authority_host is its cloud",
            ) from None
        raise ConfigurationError(f"msal refused the credential of application {settings.client_id}: {err}",
                                 hint="check that client_certificate holds an RSA private key") from None


class ClientSecret(_AppCredential):
    """A client secret of the app registration."""

    name = "client_secret"
    label = "client secret"

    def validate(self, settings) -> None:
        if not settings.client_secret:
            raise ConfigurationError("client_secret is empty", hint="set client_secret or AZURE_CLIENT_SECRET")

    def msal_credential(self, settings) -> str:
        return settings.client_secret


class ClientCertificate(_AppCredential):
    """A certificate of the app registration in one PEM file: the private key (encrypted or not) and the certificate."""

    name = "client_certificate"
    label = "client certificate"

    def msal_credential(self, settings) -> dict:
        path = settings.client_certificate
        pem = _read(path, "client_certificate").decode("ascii", errors="replace")
        password = settings.client_certificate_password
        if _PEM_ENCRYPTED.search(pem) and not password:
            raise ConfigurationError(f"the private key in {path} is encrypted and no client_certificate_password "
                                     "is given",
                                     hint="set client_certificate_password (AZURE_CLIENT_CERTIFICATE_PASSWORD)")
        private_key = _PEM_PRIVATE_KEY.search(pem)
        certificate = _PEM_CERTIFICATE.search(pem)
        if private_key is None or certificate is None:
            missing = "private key" if private_key is None else "certificate"
            raise ConfigurationError(f"client_certificate {path} holds no PEM {missing}",
                                     hint="put the private key and the certificate in one PEM file")
        _require_rsa(_load_pem_key(private_key.group(0), password, path), path)
        # msal signs with the key and derives the SHA-256 thumbprint (x5t#S256) from the certificate.
        credential = {"private_key": private_key.group(0), "public_certificate": certificate.group(0)}
        if password:
            credential["passphrase"] = password
        return credential


class PkcsCertificate(_AppCredential):
    """A certificate of the app registration in a PKCS#12 (PFX) file, with the password that protects it."""

    name = "client_certificate"
    label = "client certificate"

    def msal_credential(self, settings) -> dict:
        path = settings.client_certificate
        password = settings.client_certificate_password
        try:
            key, certificate, _chain = pkcs12.load_key_and_certificates(
                _read(path, "client_certificate"), password.encode() if password else None)
        except ValueError:
            problem = "the password is wrong" if password else "it is protected by a password"
            raise ConfigurationError(f"the PKCS#12 file {path} can't be opened: {problem}",
                                     hint="set client_certificate_password (AZURE_CLIENT_CERTIFICATE_PASSWORD) to "
                                          "the password the file was exported with") from None
        if key is None or certificate is None:
            missing = "private key" if key is None else "certificate"
            raise ConfigurationError(f"the PKCS#12 file {path} holds no {missing}",
                                     hint="export the certificate with its private key")
        _require_rsa(key, path)
        credential = {"private_key_pfx_path": path}
        if password:
            credential["passphrase"] = password
        return credential


class FederatedToken(_AppCredential):
    """Workload identity federation: a token from a trusted issuer (AKS, a CI system's OIDC) as the client assertion.

    The file is read again for every token request, since its writer replaces it before it expires.
    """

    name = "federated_token_file"
    label = "federated token"
    refused_hint = ("add a federated identity credential to the app registration whose issuer, subject and "
                    "audience (api://AzureADTokenExchange) match the token in federated_token_file")

    def msal_credential(self, settings) -> dict:
        path = settings.federated_token_file
        self._assertion(path)
        return {"client_assertion": lambda: self._assertion(path)}

    @staticmethod
    def _assertion(path: str) -> str:
        token = _read(path, "federated_token_file").decode("ascii", errors="replace").strip()
        if token.count(".") != 2:
            raise ConfigurationError(f"federated_token_file {path} holds no JWT",
                                     hint="point federated_token_file (AZURE_FEDERATED_TOKEN_FILE) at the token "
                                          "file the platform writes")
        return token


class ManagedIdentity:
    """The managed identity of the host the module runs on: system-assigned, or user-assigned by its client ID."""

    name = "managed_identity"
    label = "managed identity"
    refused_hint = ("check that the host has this managed identity (for user, client_id is the identity's client ID) "
                    "and that it has been granted the Graph application permissions")
    _client = None

    def validate(self, settings) -> None:
        if settings.managed_identity == "user" and not settings.client_id:
            raise ConfigurationError("managed_identity=user needs the client ID of the user-assigned identity",
                                     hint="set client_id (AZURE_CLIENT_ID) to the identity's client ID")

    def acquire_token(self, settings, session) -> dict:
        if self._client is None:
            identity = (msal.UserAssignedManagedIdentity(client_id=settings.client_id)
                        if settings.managed_identity == "user" else msal.SystemAssignedManagedIdentity())
            self._client = msal.ManagedIdentityClient(identity, http_client=session)
        result = self._client.acquire_token_for_client(resource=settings.graph_endpoint)
        if "access_token" not in result:
            # msal words every refusal of an App Service-style endpoint as invalid_scope; it is the identity refused.
            return dict(result, error="invalid_client")
        tenant = token_claims(result.get("access_token")).get("tid")
        # The identity's tenant comes with the host; a tenant_id given as a GUID must be it.
        if tenant and _GUID.match(settings.tenant_id) and tenant.lower() != settings.tenant_id.lower():
            raise ConfigurationError(f"the managed identity belongs to tenant {tenant}, not {settings.tenant_id}",
                                     hint="set tenant_id to the tenant of the host's managed identity")
        return result


def token_claims(token: str | None) -> dict:
    """The claims of an access token, read without checking its signature (Graph checks it): for messages only."""
    try:
        payload = token.split(".")[1]
        return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (AttributeError, IndexError, ValueError):
        return {}


def _read(path: str, option: str) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as err:
        raise ConfigurationError(f"can't read {option} {path}: {err.strerror or err.__class__.__name__}",
                                 hint="give the path of a file readable on the controller") from None


def _load_pem_key(private_key: str, password: str | None, path: str):
    try:
        return load_pem_private_key(private_key.encode("ascii"), password=password.encode() if password else None)
    except TypeError:  # a password given for a key that has none
        return load_pem_private_key(private_key.encode("ascii"), password=None)
    except ValueError:
        problem = "the client_certificate_password is wrong" if password else "it is not a PEM key"
        raise ConfigurationError(f"the private key in {path} can't be read: {problem}",
                                 hint="export the key in PEM (PKCS#8 or PKCS#1), and give its password in "
                                      "client_certificate_password when it is encrypted") from None


def _require_rsa(key, path: str) -> None:
    """Entra app certificates are RSA; msal can't sign a client assertion with any other key."""
    if not isinstance(key, RSAPrivateKey):
        raise ConfigurationError(f"the private key in {path} is not an RSA key",
                                 hint="use a certificate with an RSA key (2048 bits or more), as Entra ID requires")


def _certificate_credential(settings):
    """PEM or PKCS#12, told apart by the content as azure-identity does: PEM is text with armour lines."""
    path = settings.client_certificate
    head = _read(path, "client_certificate")[:4096]
    if b"-----BEGIN" in head:
        return ClientCertificate
    if head[:1] == b"\x30":  # DER: a PKCS#12 file is one ASN.1 SEQUENCE
        return PkcsCertificate
    raise ConfigurationError(f"client_certificate {path} is not a PEM text file nor a PKCS#12 (PFX) file",
                             hint="give a PEM file with the private key and the certificate, or the PFX file the "
                                  "certificate was exported to (with client_certificate_password)")


_CREDENTIALS = {
    "client_secret": lambda settings: ClientSecret,
    "client_certificate": _certificate_credential,
    "federated_token_file": lambda settings: FederatedToken,
    "managed_identity": lambda settings: ManagedIdentity,
}


def credential_for(settings):
    """The one credential the settings name; refuses none and more than one."""
    given = [name for name in _CREDENTIALS if getattr(settings, name)]
    if len(given) != 1:
        problem = "no credential" if not given else f"more than one credential ({', '.join(given)})"
        raise ConfigurationError(
            f"{problem} given for application {settings.client_id or '(managed identity)'}",
            hint="set exactly one of client_secret (AZURE_CLIENT_SECRET), client_certificate "
                 "(AZURE_CLIENT_CERTIFICATE_PATH), federated_token_file (AZURE_FEDERATED_TOKEN_FILE) "
                 "and managed_identity")
    credential = _CREDENTIALS[given[0]](settings)()
    credential.validate(settings)
    return credential
