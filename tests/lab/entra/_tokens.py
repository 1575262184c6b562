"""Access tokens the emulator issues and Graph accepts, and client assertions (internal).

Tokens follow the shape of Entra app-only tokens for Microsoft Graph (v1.0 format):
`aud` https://graph.microsoft.com, `iss` https://sts.windows.net/{tid}/, `appid`,
`roles`, `idtyp: app`. They are RS256 JWTs signed with the lab's signing key.
"""

from __future__ import annotations

import base64
import time
import uuid
from dataclasses import dataclass

import jwt
from cryptography.hazmat.primitives import serialization

from ._credentials import AppRegistration, Credentials, b64url

GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
GRAPH_RESOURCE = "https://graph.microsoft.com"
GRAPH_AUDIENCES = (GRAPH_RESOURCE, f"{GRAPH_RESOURCE}/", GRAPH_APP_ID)
DEFAULT_TOKEN_LIFETIME = 3600
ASSERTION_ALGORITHMS = ("RS256", "PS256")


class TokenRejected(Exception):
    """Why Graph refuses a bearer token; the message is Graph's."""


@dataclass
class AssertionProblem(Exception):
    aadsts: int
    description: str


class TokenService:
    def __init__(self, credentials: Credentials, lifetime: int = DEFAULT_TOKEN_LIFETIME):
        self.credentials = credentials
        self.lifetime = lifetime
        self._public_key = credentials.signing_key.public_key()

    @property
    def issuer(self) -> str:
        return f"https://sts.windows.net/{self.credentials.tenant_id}/"

    def issue(self, app: AppRegistration, *, auth_method: str = "secret", lifetime: int | None = None,
              extra_claims: dict | None = None) -> tuple[str, int]:
        """A signed access token for `app` and its lifetime in seconds."""
        seconds = self.lifetime if lifetime is None else lifetime
        now = int(time.time())
        claims = {
            "aud": GRAPH_RESOURCE,
            "iss": self.issuer,
            "iat": now - 5 if seconds > 0 else now + seconds - 300,
            "nbf": now - 5 if seconds > 0 else now + seconds - 300,
            "exp": now + seconds,
            "aio": b64url(uuid.uuid4().bytes),
            "app_displayname": app.display_name,
            "appid": app.client_id,
            "appidacr": "2" if auth_method == "certificate" else "1",
            "idp": self.issuer,
            "idtyp": "app",
            "oid": app.service_principal_id,
            "rh": b64url(uuid.uuid4().bytes),
            "roles": list(app.roles),
            "sub": app.service_principal_id,
            "tenant_region_scope": "EU",
            "tid": self.credentials.tenant_id,
            "uti": b64url(uuid.uuid4().bytes),
            "ver": "1.0",
        }
        claims.update(extra_claims or {})
        headers = {"typ": "JWT", "kid": self.credentials.signing_kid, "x5t": self.credentials.signing_kid}
        token = jwt.encode(claims, self.credentials.signing_key, algorithm="RS256", headers=headers)
        return token, seconds

    def verify(self, token: str) -> dict:
        """The claims of a token Graph accepts; TokenRejected with Graph's message otherwise."""
        if token.count(".") != 2:
            raise TokenRejected("CompactToken parsing failed with error code: 80049217")
        try:
            claims = jwt.decode(token, self._public_key, algorithms=["RS256"], audience=list(GRAPH_AUDIENCES),
                                issuer=self.issuer, options={"require": ["exp", "iat", "aud", "iss", "tid"]})
        except jwt.ExpiredSignatureError as exc:
            raise TokenRejected("Lifetime validation failed, the token is expired.") from exc
        except jwt.ImmatureSignatureError as exc:
            raise TokenRejected("Lifetime validation failed, the token is not yet valid.") from exc
        except jwt.InvalidAudienceError as exc:
            raise TokenRejected("Access token validation failure. Invalid audience.") from exc
        except jwt.InvalidIssuerError as exc:
            raise TokenRejected("Access token validation failure. Invalid issuer.") from exc
        except jwt.InvalidSignatureError as exc:
            raise TokenRejected("Access token validation failure. Signature validation failed.") from exc
        except jwt.DecodeError as exc:
            raise TokenRejected("CompactToken parsing failed with error code: 80049217") from exc
        except jwt.InvalidTokenError as exc:
            raise TokenRejected("Access token validation failure.") from exc
        if claims.get("tid") != self.credentials.tenant_id:
            raise TokenRejected("Access token validation failure. Invalid tenant.")
        return claims

    def jwks(self) -> dict:
        numbers = self._public_key.public_numbers()
        cert_der = self.credentials.signing_certificate.public_bytes(serialization.Encoding.DER)
        return {"keys": [{
            "kty": "RSA", "use": "sig", "kid": self.credentials.signing_kid, "x5t": self.credentials.signing_kid,
            "n": b64url(numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")),
            "e": b64url(numbers.e.to_bytes((numbers.e.bit_length() + 7) // 8, "big")),
            "x5c": [base64.b64encode(cert_der).decode("ascii")],
            "issuer": f"https://login.microsoftonline.com/{self.credentials.tenant_id}/v2.0",
        }]}


def verify_client_assertion(assertion: str, app: AppRegistration, client_id: str,
                            audiences: list[str]) -> str:
    """Check a certificate credential (RFC 7523 client assertion) and return the thumbprint used.

    Raises AssertionProblem with the AADSTS code the real service gives.
    """
    try:
        header = jwt.get_unverified_header(assertion)
    except jwt.DecodeError as exc:
        raise AssertionProblem(50027, "JWT token is invalid or malformed.") from exc
    sha1 = header.get("x5t")
    sha256 = header.get("x5t#S256")
    if not sha1 and not sha256:
        raise AssertionProblem(700027, "Client assertion failed signature validation. [Reason - The key was "
                                       "not found., Thumbprint of key used by client: '']")
    registered = app.certificate_by_thumbprint(sha1, sha256)
    if registered is None:
        used = sha256 or sha1
        raise AssertionProblem(
            700027, "Client assertion failed signature validation. [Reason - The key was not found., "
                    f"Thumbprint of key used by client: '{used}', Please visit the Azure Portal, Graph "
                    f"Explorer or directly use MS Graph to see configured keys for app Id '{app.client_id}'.]")
    algorithm = header.get("alg")
    if algorithm not in ASSERTION_ALGORITHMS:
        raise AssertionProblem(5002738, f"Invalid JWT token. '{algorithm}' is not a supported signature "
                                        "algorithm. Supported signing algorithms are: 'RS256, RS384, RS512'")
    try:
        claims = jwt.decode(assertion, registered.certificate.public_key(), algorithms=[algorithm],
                            options={"verify_aud": False, "require": ["exp", "aud", "iss", "sub"]})
    except jwt.ExpiredSignatureError as exc:
        raise AssertionProblem(700024, "Client assertion is not within its valid time range. "
                                       f"Current time: {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}.") from exc
    except jwt.ImmatureSignatureError as exc:
        raise AssertionProblem(700024, "Client assertion is not within its valid time range.") from exc
    except jwt.InvalidSignatureError as exc:
        raise AssertionProblem(700027, "Client assertion failed signature validation. [Reason - The provided "
                                       "signature value did not match the expected signature value.]") from exc
    except jwt.MissingRequiredClaimError as exc:
        raise AssertionProblem(50027, f"JWT token is invalid or malformed. Missing claim '{exc.claim}'.") from exc
    except jwt.InvalidTokenError as exc:
        raise AssertionProblem(50027, "JWT token is invalid or malformed.") from exc
    if claims.get("iss") != client_id or claims.get("sub") != client_id:
        raise AssertionProblem(700021, "Client assertion application identifier doesn't match 'client_id' "
                                       "parameter. Review the documentation at "
                                       "https://learn.microsoft.com/entra/identity-platform/certificate-credentials .")
    aud = claims.get("aud")
    aud_values = aud if isinstance(aud, list) else [aud]
    wanted = {a.lower().rstrip("/") for a in audiences}
    if not any(isinstance(a, str) and a.lower().rstrip("/") in wanted for a in aud_values):
        raise AssertionProblem(700023, "Client assertion audience claim does not match Realm issuer. Review "
                                       "the documentation at "
                                       "https://learn.microsoft.com/entra/identity-platform/certificate-credentials .")
    return registered.sha256_thumbprint if sha256 else registered.sha1_thumbprint
