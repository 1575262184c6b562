"""The tenant's identity and its app registrations, kept in the lab directory (internal).

Created once and then reused, so a restarted emulator keeps the same tenant id, client
ids, secrets, certificate and token signing key, and tokens issued before a restart stay
valid after it.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import string
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

# Application permissions (the token's `roles`) of the lab apps: one with everything the
# collection uses, one that can read nothing it needs, one that can read users and no more.
FULL_APP_ROLES = (
    "User.Read.All", "User.ReadWrite.All", "Domain.Read.All", "RoleManagement.Read.Directory",
    "Organization.Read.All", "OnPremDirectorySynchronization.ReadWrite.All",
    "Synchronization.ReadWrite.All",
    # Groups and contacts hold addresses too (rule book §9.1), so the full app reads them.
    "Group.Read.All", "OrgContact.Read.All",
)
LOW_APP_ROLES = ("Domain.Read.All",)
READER_APP_ROLES = ("User.Read.All",)

CREDENTIALS_FILE = "credentials.json"
SIGNING_KEY_FILE = "signing-key.pem"
SIGNING_CERT_FILE = "signing-cert.pem"
APP_CERT_FILE = "app-cert.pem"         # certificate + private key of the full app, PEM


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _normal_b64url(text: str | None) -> str | None:
    return text.rstrip("=").replace("+", "-").replace("/", "_") if isinstance(text, str) else None


def new_client_secret() -> str:
    """A secret shaped like the portal's: three characters, `8Q~`, then 34 more."""
    alphabet = string.ascii_letters + string.digits + "_-.~"
    head = "".join(secrets.choice(alphabet) for _position in range(3))
    tail = "".join(secrets.choice(alphabet) for _position in range(34))
    return f"{head}8Q~{tail}"


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def _self_signed(common_name: str, key: rsa.RSAPrivateKey, years: int = 5) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.now(UTC)
    return (x509.CertificateBuilder()
            .subject_name(name).issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=365 * years))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))


def _new_app(display_name: str, roles: tuple[str, ...]) -> dict:
    return {"client_id": str(uuid.uuid4()), "display_name": display_name,
            "service_principal_id": str(uuid.uuid4()), "roles": list(roles), "secret": new_client_secret()}


@dataclass(frozen=True)
class RegisteredCertificate:
    """A certificate credential of an app: its thumbprints and public key."""

    sha1_thumbprint: str        # base64url, as in the assertion's `x5t` header
    sha256_thumbprint: str      # base64url, as in `x5t#S256`
    certificate: x509.Certificate

    @classmethod
    def of(cls, certificate: x509.Certificate) -> RegisteredCertificate:
        return cls(b64url(certificate.fingerprint(hashes.SHA1())),  # noqa: S303 - x5t is SHA-1 by definition
                   b64url(certificate.fingerprint(hashes.SHA256())), certificate)

    @property
    def hex_sha1(self) -> str:
        return self.certificate.fingerprint(hashes.SHA1()).hex().upper()  # noqa: S303


@dataclass(frozen=True)
class AppRegistration:
    client_id: str
    display_name: str
    service_principal_id: str
    roles: tuple[str, ...]
    secret: str | None
    certificates: tuple[RegisteredCertificate, ...] = ()

    def certificate_by_thumbprint(self, sha1: str | None, sha256: str | None) -> RegisteredCertificate | None:
        # Clients differ on padding and alphabet (msal pads); the digest is what counts.
        sha1, sha256 = _normal_b64url(sha1), _normal_b64url(sha256)
        for cert in self.certificates:
            if (sha256 and sha256 == cert.sha256_thumbprint) or (sha1 and sha1 == cert.sha1_thumbprint):
                return cert
        return None


@dataclass
class Credentials:
    tenant_id: str
    full_app: AppRegistration
    low_app: AppRegistration
    reader_app: AppRegistration
    signing_key: rsa.RSAPrivateKey
    signing_certificate: x509.Certificate
    app_certificate_path: Path

    @property
    def apps(self) -> dict[str, AppRegistration]:
        return {app.client_id: app for app in (self.full_app, self.low_app, self.reader_app)}

    @property
    def signing_kid(self) -> str:
        return b64url(self.signing_certificate.fingerprint(hashes.SHA1()))  # noqa: S303

    @classmethod
    def ensure(cls, lab_dir: Path) -> Credentials:
        """Load the credentials under `lab_dir/entra`, creating what is missing."""
        home = Path(lab_dir) / "entra"
        home.mkdir(parents=True, exist_ok=True)
        record_path = home / CREDENTIALS_FILE
        if not record_path.exists():
            cls._create(home)
        record = json.loads(record_path.read_text())
        if "reader_app" not in record:  # a lab directory from before the reader app: add it
            record["reader_app"] = _new_app("hybrid-identity-lab-reader", READER_APP_ROLES)
            _write_private(record_path, json.dumps(record, indent=2).encode())
        signing_key = serialization.load_pem_private_key((home / SIGNING_KEY_FILE).read_bytes(), None)
        signing_cert = x509.load_pem_x509_certificate((home / SIGNING_CERT_FILE).read_bytes())
        app_cert = x509.load_pem_x509_certificate((home / APP_CERT_FILE).read_bytes())
        full, low, reader = record["full_app"], record["low_app"], record["reader_app"]
        return cls(
            tenant_id=record["tenant_id"],
            full_app=AppRegistration(full["client_id"], full["display_name"], full["service_principal_id"],
                                     tuple(full["roles"]), full["secret"],
                                     (RegisteredCertificate.of(app_cert),)),
            low_app=AppRegistration(low["client_id"], low["display_name"], low["service_principal_id"],
                                    tuple(low["roles"]), low["secret"]),
            reader_app=AppRegistration(reader["client_id"], reader["display_name"],
                                       reader["service_principal_id"], tuple(reader["roles"]), reader["secret"]),
            signing_key=signing_key,
            signing_certificate=signing_cert,
            app_certificate_path=home / APP_CERT_FILE,
        )

    @staticmethod
    def _create(home: Path) -> None:
        signing_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        app_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem_key = serialization.Encoding.PEM
        unencrypted = serialization.NoEncryption()
        pkcs8 = serialization.PrivateFormat.PKCS8
        _write_private(home / SIGNING_KEY_FILE, signing_key.private_bytes(pem_key, pkcs8, unencrypted))
        (home / SIGNING_CERT_FILE).write_bytes(
            _self_signed("hybrid-identity-lab-token-signing", signing_key).public_bytes(pem_key))
        app_cert = _self_signed("hybrid-identity-lab-app", app_key, years=2)
        _write_private(home / APP_CERT_FILE, app_cert.public_bytes(pem_key)
                       + app_key.private_bytes(pem_key, pkcs8, unencrypted))
        record = {
            "tenant_id": str(uuid.uuid4()),
            "full_app": _new_app("hybrid-identity-lab", FULL_APP_ROLES),
            "low_app": _new_app("hybrid-identity-lab-low", LOW_APP_ROLES),
            "reader_app": _new_app("hybrid-identity-lab-reader", READER_APP_ROLES),
        }
        # Written last: its presence means the set is complete.
        _write_private(home / CREDENTIALS_FILE, json.dumps(record, indent=2).encode())
