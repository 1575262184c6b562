# Copyright: contributors to the hybrid.identity collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Typed errors of the Graph client, and how Graph's and the identity platform's answers map to them.

Internal to the collection; no stable API. Pure: no I/O, no Ansible.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from ansible_collections.hybrid.identity.plugins.module_utils.common._errors import HybridIdentityError

# rule book §8: the least application permission each area needs, for a 403 that names none.
KNOWN_PERMISSIONS = (
    (re.compile(r"^/users\b"), frozenset({"PATCH", "POST", "DELETE"}), "User.ReadWrite.All"),
    (re.compile(r"^/users\b"), None, "User.Read.All"),
    (re.compile(r"^/roleManagement/directory/"), None, "RoleManagement.Read.Directory"),
    (re.compile(r"^/domains\b"), None, "Domain.Read.All"),
    (re.compile(r"^/organization\b"), None, "Organization.Read.All"),
    (re.compile(r"^/directory/onPremisesSynchronization\b"), frozenset({"PATCH"}),
     "OnPremDirectorySynchronization.ReadWrite.All"),
    (re.compile(r"^/directory/onPremisesSynchronization\b"), None, "OnPremDirectorySynchronization.Read.All"),
    (re.compile(r"^/servicePrincipals/[^/]+/synchronization\b"), None, "Synchronization.ReadWrite.All"),
    (re.compile(r"^/groups\b"), None, "Group.Read.All"),
    (re.compile(r"^/contacts\b"), None, "OrgContact.Read.All"),
)
# Permission names as Graph writes them: dotted, each part capitalised (User.Read.All).
_PERMISSION_NAME = re.compile(r"\b[A-Z][A-Za-z]+(?:\.[A-Z][A-Za-z]+){1,3}\b")
# The identity platform's answers that mean "this app's credential was not accepted".
CREDENTIAL_ERRORS = frozenset({"invalid_client", "unauthorized_client"})
_CREDENTIAL_HINTS = {
    7000215: "client_secret must hold the secret's value (not its ID) of a secret that the app registration "
             "still has; when the option is not set, AZURE_CLIENT_SECRET is used.",
    7000222: "the client secret has expired: add a new secret to the app registration and use its value.",
    700027: "upload the certificate of client_certificate to the app registration (Certificates & secrets), "
            "or use the PEM file of a certificate it holds.",
    700016: "check client_id and tenant_id: the application was not found in that tenant.",
}
_CERTIFICATE_HINT = _CREDENTIAL_HINTS[700027]
_SECRET_HINT = _CREDENTIAL_HINTS[7000215]


class GraphError(HybridIdentityError):
    """Graph answered with an error: ``status``, Graph's ``code``, and the ``request_id`` support asks for."""

    def __init__(self, message: str, hint: str = "", status: int | None = None, code: str = "",
                 request_id: str = "") -> None:
        super().__init__(message, hint)
        self.status = status
        self.code = code
        self.request_id = request_id


class MissingPermission(GraphError):
    """A 403: the app lacks ``permission``."""

    def __init__(self, permission: str, path: str, status: int = 403, code: str = "", request_id: str = "") -> None:
        super().__init__(
            f"Microsoft Graph refused {path}: the application lacks the permission {permission}",
            hint=f"In the app registration, add the Microsoft Graph application permission {permission} and grant "
                 "admin consent; the next token carries it.",
            status=status, code=code, request_id=request_id)
        self.permission = permission


class Throttled(GraphError):
    """Graph kept answering 429, 503 or 504 until the retry bounds ran out."""


class CredentialRefused(HybridIdentityError):
    """The identity platform refused the app's secret or certificate. Never carries the secret."""

    def __init__(self, message: str, hint: str = "", aadsts: int | None = None) -> None:
        super().__init__(message, hint)
        self.aadsts = aadsts


class GraphUnreachable(HybridIdentityError):
    """No answer at all: the connection, or the TLS verification of the server, failed."""


def header(headers: Mapping[str, str] | None, name: str) -> str | None:
    """A header's value, whatever the case of its name."""
    wanted = name.lower()
    return next((value for key, value in (headers or {}).items() if key.lower() == wanted), None)


def required_permission(method: str, path: str, message: str = "") -> str:
    """The permission a 403 is about: named in Graph's message, else the endpoint's known requirement."""
    named = _PERMISSION_NAME.search(message or "")
    if named:
        return named.group(0)
    for pattern, methods, permission in KNOWN_PERMISSIONS:
        if pattern.search(path) and (methods is None or method.upper() in methods):
            return permission
    return "that this endpoint documents (see the Microsoft Graph reference for the call)"


def graph_error(method: str, path: str, status: int, headers: Mapping[str, str] | None, body: object) -> GraphError:
    """The typed error for a Graph error response (a whole response, or one inside a $batch)."""
    error = body.get("error") if isinstance(body, Mapping) else None
    error = error if isinstance(error, Mapping) else {}
    code = str(error.get("code") or "")
    message = str(error.get("message") or "").strip() or (str(body)[:300] if body else f"HTTP {status}")
    inner = error.get("innerError") if isinstance(error.get("innerError"), Mapping) else {}
    request_id = str(header(headers, "request-id") or inner.get("request-id") or "")
    # rule book §8: a 403 Authorization_RequestDenied means a missing application permission.
    if status == 403 and code in ("Authorization_RequestDenied", "Forbidden", ""):
        return MissingPermission(required_permission(method, path, message), path, status, code, request_id)
    suffix = f" (request-id {request_id})" if request_id else ""
    return GraphError(f"Microsoft Graph answered {status} {code or 'error'} to {method} {path}: {message}{suffix}",
                      hint=_graph_hint(status, code), status=status, code=code, request_id=request_id)


def _graph_hint(status: int, code: str) -> str:
    if status == 401:
        return ("the token was not accepted: check that authority_host and graph_endpoint belong to the same "
                "cloud and that tenant_id is the tenant of graph_endpoint.")
    if code == "Request_UnsupportedQuery":
        return "the query is outside what Graph supports for this resource; report it with the request-id."
    if status >= 500:
        return "a Graph service error: try again later, and quote the request-id if it persists."
    return "quote the request-id when you ask Microsoft support."


def token_error(result: Mapping, client_id: str, credential: str, secret: str | None = None,
                hint: str = "") -> HybridIdentityError:
    """The typed error for a failed token request (msal's result dict); ``secret`` is scrubbed from the text.

    ``credential`` names what signed in (``client secret``, ``client certificate``, ``federated token``,
    ``managed identity``); ``hint`` is what to check when the identity platform refused it.
    """
    error = str(result.get("error") or "token_error")
    codes = result.get("error_codes") or []
    aadsts = codes[0] if codes and isinstance(codes[0], int) else None
    description = _first_part(str(result.get("error_description") or ""))
    if secret:
        description = description.replace(secret, "********")
    if error in CREDENTIAL_ERRORS:
        default_hint = {"client certificate": _CERTIFICATE_HINT, "client secret": _SECRET_HINT}.get(credential, hint)
        return CredentialRefused(
            f"The identity platform refused the {credential} of application {client_id} ({description})",
            hint=_CREDENTIAL_HINTS.get(aadsts) or default_hint, aadsts=aadsts)
    correlation = str(result.get("correlation_id") or "")
    return GraphError(f"No token for application {client_id}: {error} ({description})",
                      hint="check tenant_id, authority_host and graph_endpoint: one tenant in one cloud.",
                      code=error, request_id=correlation)


def _first_part(description: str) -> str:
    """An AADSTS description without its trace, correlation and timestamp lines."""
    return re.split(r"\s*(?:\r?\n|Trace ID:)", description, maxsplit=1)[0].strip()
