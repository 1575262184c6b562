# Copyright: contributors to the hybrid.identity collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Graph app credentials, one small class each behind ``credential_for()`` (internal to the collection)."""

from __future__ import annotations

import re

from ansible_collections.hybrid.identity.plugins.module_utils._errors import ConfigurationError

try:
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
    from cryptography.hazmat.primitives.serialization import load_pem_private_key
except ImportError:  # msal requires cryptography; the module reports msal missing first
    RSAPrivateKey = load_pem_private_key = None

_PEM_PRIVATE_KEY = re.compile(r"-----BEGIN (?:RSA |EC )?PRIVATE KEY-----.+?-----END (?:RSA |EC )?PRIVATE KEY-----",
                              re.DOTALL)
_PEM_ENCRYPTED_KEY = "-----BEGIN ENCRYPTED PRIVATE KEY-----"
_PEM_CERTIFICATE = re.compile(r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.DOTALL)


class ClientSecret:
    """A client secret of the app registration."""

    name = "client_secret"
    uses_certificate = False

    def validate(self, settings) -> None:
        if not settings.client_secret:
            raise ConfigurationError("client_secret is empty", hint="set client_secret or AZURE_CLIENT_SECRET")

    def msal_credential(self, settings) -> str:
        return settings.client_secret


class ClientCertificate:
    """A certificate of the app registration: one PEM file holding the private key and the certificate."""

    name = "client_certificate"
    uses_certificate = True

    def validate(self, settings) -> None:
        self.msal_credential(settings)

    def msal_credential(self, settings) -> dict:
        path = settings.client_certificate
        try:
            with open(path, encoding="ascii") as pem_file:
                pem = pem_file.read()
        except OSError as err:
            raise ConfigurationError(f"can't read client_certificate {path}: {err.strerror or err}",
                                     hint="give the path of a PEM file readable on the controller") from None
        except UnicodeDecodeError:
            raise ConfigurationError(f"client_certificate {path} is not a PEM text file (it holds binary data)",
                                     hint="give a PEM file with the private key and the certificate, as "
                                          "openssl pkcs12 -nodes writes it from a PFX") from None
        if _PEM_ENCRYPTED_KEY in pem:
            raise ConfigurationError(f"the private key in {path} is encrypted",
                                     hint="store the key unencrypted in a file only the controller user can read")
        private_key = _PEM_PRIVATE_KEY.search(pem)
        certificate = _PEM_CERTIFICATE.search(pem)
        if private_key is None or certificate is None:
            missing = "private key" if private_key is None else "certificate"
            raise ConfigurationError(f"client_certificate {path} holds no PEM {missing}",
                                     hint="put the private key and the certificate in one PEM file")
        _require_rsa(private_key.group(0), path)
        # msal signs with the key and derives the SHA-256 thumbprint (x5t#S256) from the certificate.
        return {"private_key": private_key.group(0), "public_certificate": certificate.group(0)}


def _require_rsa(private_key: str, path: str) -> None:
    """Entra app certificates are RSA; msal can't sign a client assertion with any other key."""
    try:
        key = load_pem_private_key(private_key.encode("ascii"), password=None)
    except (TypeError, ValueError):
        raise ConfigurationError(f"the private key in {path} can't be read",
                                 hint="export the key unencrypted in PEM (PKCS#8 or PKCS#1)") from None
    if not isinstance(key, RSAPrivateKey):
        raise ConfigurationError(f"the private key in {path} is not an RSA key",
                                 hint="use a certificate with an RSA key (2048 bits or more), as Entra ID requires")


_CREDENTIALS = {credential.name: credential for credential in (ClientSecret, ClientCertificate)}


def credential_for(settings):
    """The one credential the settings name; refuses none and both."""
    given = [name for name in _CREDENTIALS if getattr(settings, name)]
    if len(given) != 1:
        problem = "no credential" if not given else "both client_secret and client_certificate"
        raise ConfigurationError(
            f"{problem} given for application {settings.client_id}",
            hint="set exactly one of client_secret (AZURE_CLIENT_SECRET) and client_certificate "
                 "(AZURE_CLIENT_CERTIFICATE_PATH)")
    credential = _CREDENTIALS[given[0]]()
    credential.validate(settings)
    return credential
