"""Workload credentials of the lab tenant: managed identities, a trusted federated issuer, protected certificates.

Kept in `lab_dir/entra/workload.json` (and the key files beside it), created once like the app
registrations in `_credentials.py`:

- two managed identities, one system-assigned and one user-assigned, served as App Service serves
  them (`GET /msi/token` with the `X-IDENTITY-HEADER` secret, what msal's ManagedIdentityClient
  reads from IDENTITY_ENDPOINT and IDENTITY_HEADER);
- a federated identity credential on the full app: tokens of the lab's issuer for one subject and
  the audience `api://AzureADTokenExchange` are accepted as its client assertion;
- the full app's certificate again, as an encrypted PEM and as a PKCS#12 file, both with one password.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12

from ._credentials import APP_CERT_FILE, FULL_APP_ROLES, AppRegistration, Credentials
from ._http import Request, Response
from ._tokens import GRAPH_APP_ID, GRAPH_RESOURCE, AssertionProblem, TokenService

WORKLOAD_FILE = "workload.json"
ISSUER_KEY_FILE = "federation-issuer-key.pem"
ENCRYPTED_PEM_FILE = "app-cert-encrypted.pem"
PFX_FILE = "app-cert.pfx"
MANAGED_IDENTITY_PATH = "/msi/token"
# The audience Entra expects in a federated token (workload identity federation).
TOKEN_EXCHANGE_AUDIENCE = "api://AzureADTokenExchange"
FEDERATED_ISSUER = "https://oidc.lab.contoso.test/"
FEDERATED_SUBJECT = "system:serviceaccount:automation:ansible"


@dataclass(frozen=True)
class FederatedCredential:
    client_id: str
    issuer: str
    subject: str
    audience: str = TOKEN_EXCHANGE_AUDIENCE


@dataclass
class Workload:
    system_identity: AppRegistration
    user_identity: AppRegistration
    identity_header: str
    issuer_key: rsa.RSAPrivateKey
    certificate_password: str
    federated: tuple[FederatedCredential, ...]
    home: Path

    @property
    def identities(self) -> tuple[AppRegistration, AppRegistration]:
        return self.system_identity, self.user_identity

    @classmethod
    def ensure(cls, lab_dir: Path | str, credentials: Credentials) -> Workload:
        home = Path(lab_dir) / "entra"
        record_path = home / WORKLOAD_FILE
        if not record_path.exists():
            _create(home, credentials)
        record = json.loads(record_path.read_text())
        system, user = record["system_identity"], record["user_identity"]
        return cls(
            system_identity=_identity(system), user_identity=_identity(user),
            identity_header=record["identity_header"],
            issuer_key=serialization.load_pem_private_key((home / ISSUER_KEY_FILE).read_bytes(), None),
            certificate_password=record["certificate_password"],
            federated=tuple(FederatedCredential(**item) for item in record["federated"]),
            home=home,
        )

    def vars(self, base_url: str) -> dict:
        """lab_vars.yml keys: where each credential of the lab's workload is."""
        return {
            "lab_identity_endpoint": f"{base_url}{MANAGED_IDENTITY_PATH}",
            "lab_identity_header": self.identity_header,
            "lab_system_identity_client_id": self.system_identity.client_id,
            "lab_user_identity_client_id": self.user_identity.client_id,
            "lab_client_certificate_encrypted": str((self.home / ENCRYPTED_PEM_FILE).resolve()),
            "lab_client_certificate_pfx": str((self.home / PFX_FILE).resolve()),
            "lab_client_certificate_password": self.certificate_password,
            "lab_federated_issuer": FEDERATED_ISSUER,
            "lab_federated_subject": FEDERATED_SUBJECT,
        }

    def federated_token(self, subject: str = FEDERATED_SUBJECT, audience: str = TOKEN_EXCHANGE_AUDIENCE,
                        issuer: str = FEDERATED_ISSUER, lifetime: int = 600) -> str:
        """A token of the lab's issuer, as AKS writes a projected service account token."""
        now = int(time.time())
        claims = {"iss": issuer, "sub": subject, "aud": [audience], "iat": now, "nbf": now, "exp": now + lifetime,
                  "jti": str(uuid.uuid4())}
        return jwt.encode(claims, self.issuer_key, algorithm="RS256", headers={"kid": "lab-issuer"})

    # --- the identity platform's side -------------------------------------------------------

    def presented(self, assertion: str, client_id: str) -> bool:
        """Whether a client assertion is a federated token rather than one the app signed with its certificate.

        The app's own assertion names its certificate (x5t, x5t#S256) and is issued by its client ID.
        """
        try:
            header = jwt.get_unverified_header(assertion)
            issuer = jwt.decode(assertion, options={"verify_signature": False}).get("iss")
        except jwt.InvalidTokenError:
            return False
        return not ({"x5t", "x5t#S256"} & set(header)) and issuer != client_id

    def verify_federated(self, assertion: str, app: AppRegistration) -> None:
        """Check a federated token against the app's federated identity credentials; AssertionProblem if refused."""
        try:
            claims = jwt.decode(assertion, self.issuer_key.public_key(), algorithms=["RS256"],
                                options={"verify_aud": False, "require": ["exp", "iss", "sub", "aud"]})
        except jwt.ExpiredSignatureError as exc:
            raise AssertionProblem(700024, "Client assertion is not within its valid time range.") from exc
        except jwt.InvalidSignatureError as exc:
            raise AssertionProblem(700027, "Client assertion failed signature validation.") from exc
        except jwt.InvalidTokenError as exc:
            raise AssertionProblem(50027, "JWT token is invalid or malformed.") from exc
        audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        for credential in self.federated:
            if (credential.client_id == app.client_id and credential.issuer == claims["iss"]
                    and credential.subject == claims["sub"] and credential.audience in audiences):
                return
        raise AssertionProblem(
            70021, "No matching federated identity record found for presented assertion. Assertion Issuer: "
                   f"'{claims['iss']}'. Assertion Subject: '{claims['sub']}'. Assertion Audience: "
                   f"'{', '.join(audiences)}'.")


def _identity(record: dict) -> AppRegistration:
    return AppRegistration(record["client_id"], record["display_name"], record["service_principal_id"],
                           tuple(record["roles"]), None)


def _create(home: Path, credentials: Credentials) -> None:
    pem = (home / APP_CERT_FILE).read_bytes()
    key = serialization.load_pem_private_key(pem, None)
    certificate = x509.load_pem_x509_certificate(pem)
    password = secrets.token_urlsafe(18)
    encryption = serialization.BestAvailableEncryption(password.encode())
    _write_private(home / ENCRYPTED_PEM_FILE, certificate.public_bytes(serialization.Encoding.PEM) + key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption))
    _write_private(home / PFX_FILE, pkcs12.serialize_key_and_certificates(
        b"hybrid-identity-lab-app", key, certificate, None, encryption))
    issuer_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    _write_private(home / ISSUER_KEY_FILE, issuer_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    record = {
        "system_identity": _new_identity("hybrid-identity-lab-vm"),
        "user_identity": _new_identity("hybrid-identity-lab-automation"),
        "identity_header": secrets.token_urlsafe(24),
        "certificate_password": password,
        "federated": [{"client_id": credentials.full_app.client_id, "issuer": FEDERATED_ISSUER,
                       "subject": FEDERATED_SUBJECT}],
    }
    # Written last and at most once: the emulator and the lab's `up` may both get here first.
    with contextlib.suppress(FileExistsError):
        fd = os.open(home / WORKLOAD_FILE, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(record, handle, indent=2)


def _new_identity(display_name: str) -> dict:
    return {"client_id": str(uuid.uuid4()), "display_name": display_name,
            "service_principal_id": str(uuid.uuid4()), "roles": list(FULL_APP_ROLES)}


def _write_private(path: Path, data: bytes) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.replace(temporary, path)


class ManagedIdentityEndpoint:
    """The managed identity endpoint as App Service serves it (api-version 2019-08-01)."""

    def __init__(self, workload: Workload, tokens: TokenService):
        self.workload = workload
        self.tokens = tokens

    @staticmethod
    def handles(path: str) -> bool:
        return path == MANAGED_IDENTITY_PATH

    def handle(self, request: Request) -> Response:
        if request.method != "GET":
            return _refusal(405, "Only GET is supported.")
        if request.headers.get("X-IDENTITY-HEADER") != self.workload.identity_header:
            return _refusal(401, "The X-IDENTITY-HEADER header is missing or does not match IDENTITY_HEADER.")
        query = request.query
        if query.get("api-version") != "2019-08-01":
            return _refusal(400, f"api-version {query.get('api-version')!r} is not supported; use 2019-08-01.")
        resource = (query.get("resource") or "").rstrip("/").lower()
        if resource not in {GRAPH_RESOURCE, GRAPH_APP_ID, request.base_url.lower(),
                            f"https://{urlsplit(request.base_url).netloc.lower()}"}:
            return _refusal(400, f"The resource {query.get('resource')!r} is not Microsoft Graph.")
        identity = self._identity(query)
        if identity is None:
            return _refusal(400, "No User Assigned or Delegated Managed Identity found for specified "
                                 "ClientId/ResourceId/PrincipalId.")
        token, lifetime = self.tokens.issue(identity, auth_method="certificate")
        return Response.json(200, {"access_token": token, "expires_on": str(int(time.time()) + lifetime),
                                   "resource": query.get("resource"), "token_type": "Bearer",
                                   "client_id": identity.client_id})

    def _identity(self, query) -> AppRegistration | None:
        wanted = query.get("client_id") or query.get("principal_id") or query.get("object_id")
        if not wanted and not query.get("mi_res_id"):
            return self.workload.system_identity
        user = self.workload.user_identity
        return user if wanted in (user.client_id, user.service_principal_id) else None


def _refusal(status: int, message: str) -> Response:
    return Response.json(status, {"statusCode": status, "message": message})
