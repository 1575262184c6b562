"""The identity platform endpoints: OIDC discovery, signing keys, client-credential tokens (internal).

Paths, as msal builds them from an authority `https://HOST/{tenant}`:
`GET /{tenant}/v2.0/.well-known/openid-configuration`, `POST /{tenant}/oauth2/v2.0/token`,
`GET /{tenant}/discovery/v2.0/keys`; the v1.0 forms (`/{tenant}/oauth2/token` with
`resource=`) and `GET /common/discovery/instance` as well.
"""

from __future__ import annotations

import base64
import hmac
import re
import time
from collections.abc import Callable
from urllib.parse import parse_qsl, unquote, urlsplit

from ._credentials import AppRegistration, Credentials
from ._errors import TokenError
from ._http import Request, Response
from ._tokens import GRAPH_APP_ID, GRAPH_RESOURCE, AssertionProblem, TokenService, verify_client_assertion

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
_PATHS = re.compile(
    r"^/(?P<tenant>[^/]+)/(?:"
    r"(?P<v2config>v2\.0/\.well-known/openid-configuration)|(?P<v1config>\.well-known/openid-configuration)"
    r"|(?P<v2token>oauth2/v2\.0/token)|(?P<v1token>oauth2/token)"
    r"|(?P<keys>discovery/(?:v2\.0/)?keys)|(?P<instance>discovery/instance))/?$")


class IdentityPlatform:
    def __init__(self, credentials: Credentials, tokens: TokenService,
                 tenant_names: Callable[[], set[str]], tenant_display_name: Callable[[], str], faults=None,
                 federation=None):
        self.credentials = credentials
        self.faults = faults                       # a FaultInjector: its token_script answers first
        self.federation = federation               # the workload's federated identity credentials (_workload.py)
        self.tokens = tokens
        self._tenant_names = tenant_names          # domain names that also name the tenant
        self._tenant_display_name = tenant_display_name

    @staticmethod
    def handles(path: str) -> bool:
        return _PATHS.match(path) is not None

    def handle(self, request: Request) -> Response:
        match = _PATHS.match(request.path)
        if match is None:  # pragma: no cover - routed here only when handles() said yes
            return Response.json(404, {"error": "not_found"})
        tenant = match["tenant"]
        try:
            if match["keys"]:
                return Response.json(200, self.tokens.jwks())
            if match["instance"]:
                return self._instance_discovery(request)
            busy = self._injected()
            if busy is not None:
                return busy
            tenant_id = self._resolve_tenant(tenant)
            if match["v2config"] or match["v1config"]:
                if request.method != "GET":
                    return Response.json(405, {"error": "invalid_request"})
                return Response.json(200, self._openid_configuration(request.base_url, tenant_id,
                                                                     v2=bool(match["v2config"])))
            if request.method != "POST":
                raise TokenError(400, "invalid_request", 900561,
                                 "The endpoint only accepts POST requests. Received a GET request.")
            return self._token(request, tenant, tenant_id, v2=bool(match["v2token"]))
        except TokenError as error:
            return error.response(request.base_url)

    def _injected(self) -> Response | None:
        """The scripted busy answer (429 or 503) for this request, or None."""
        fault = self.faults.decide_token() if self.faults is not None else None
        if fault is None:
            return None
        seconds = self.faults.settings.retry_after
        headers = {"Retry-After": str(seconds)} if seconds is not None else {}
        what = "Too many requests for this application" if fault == "429" else "The service is busy"
        return Response.json(int(fault), {"error": "temporarily_unavailable",
                                          "error_description": f"{what}; retry later. (lab fault)"}, headers=headers)

    # --- discovery -------------------------------------------------------------------

    def _resolve_tenant(self, tenant: str) -> str:
        tenant_id = self.credentials.tenant_id
        if tenant.lower() == tenant_id or tenant.lower() in self._tenant_names():
            return tenant_id
        raise TokenError(400, "invalid_tenant", 90002,
                         f"Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID "
                         "and are signing into the correct cloud. Check with your subscription "
                         "administrator, this may happen if there are no active subscriptions for the tenant.")

    @staticmethod
    def _openid_configuration(base: str, tenant_id: str, v2: bool) -> dict:
        version = "/v2.0" if v2 else ""
        oauth = f"{base}/{tenant_id}/oauth2{version}"
        return {
            "token_endpoint": f"{oauth}/token",
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt",
                                                      "client_secret_basic"],
            "jwks_uri": f"{base}/{tenant_id}/discovery{version}/keys",
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "issuer": f"{base}/{tenant_id}/v2.0" if v2 else f"https://sts.windows.net/{tenant_id}/",
            "request_uri_parameter_supported": False,
            "userinfo_endpoint": f"{base}/oidc/userinfo",
            "authorization_endpoint": f"{oauth}/authorize",
            "device_authorization_endpoint": f"{oauth}/devicecode",
            "http_logout_supported": True,
            "frontchannel_logout_supported": True,
            "end_session_endpoint": f"{oauth}/logout",
            "claims_supported": ["sub", "iss", "cloud_instance_name", "cloud_instance_host_name",
                                 "cloud_graph_host_name", "msgraph_host", "aud", "exp", "iat", "auth_time",
                                 "acr", "nonce", "preferred_username", "name", "tid", "ver", "at_hash",
                                 "c_hash", "email"],
            "kerberos_endpoint": f"{base}/{tenant_id}/kerberos",
            "tenant_region_scope": "EU",
            "cloud_instance_name": "microsoftonline.com",
            "cloud_graph_host_name": "graph.windows.net",
            "msgraph_host": urlsplit(base).netloc,
            "rbac_url": "https://pas.windows.net",
        }

    def _instance_discovery(self, request: Request) -> Response:
        host = urlsplit(request.base_url).netloc
        endpoint = request.query.get("authorization_endpoint", "")
        tenant = urlsplit(endpoint).path.strip("/").split("/")[0] if endpoint else "common"
        return Response.json(200, {
            "tenant_discovery_endpoint": f"{request.base_url}/{tenant}/v2.0/.well-known/openid-configuration",
            "api-version": "1.1",
            "metadata": [{"preferred_network": host, "preferred_cache": host, "aliases": [host]}],
        })

    # --- token endpoint --------------------------------------------------------------

    def _token(self, request: Request, tenant: str, tenant_id: str, v2: bool) -> Response:
        content_type = (request.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if content_type != "application/x-www-form-urlencoded":
            raise TokenError(400, "invalid_request", 900144,
                             "The request body must contain the following parameter: 'grant_type'.")
        form = dict(parse_qsl(request.body.decode("utf-8"), keep_blank_values=True))
        basic_id, basic_secret = _basic_credentials(request.headers.get("Authorization"))
        grant_type = form.get("grant_type")
        if not grant_type:
            raise TokenError(400, "invalid_request", 900144,
                             "The request body must contain the following parameter: 'grant_type'.")
        if grant_type != "client_credentials":
            raise TokenError(400, "unsupported_grant_type", 70003,
                             f"The app requested an unsupported grant type '{grant_type}'. "
                             "The lab supports client_credentials only.")
        client_id = (form.get("client_id") or basic_id or "").lower()
        if not client_id:
            raise TokenError(400, "invalid_request", 900144,
                             "The request body must contain the following parameter: 'client_id'.")
        app = self.credentials.apps.get(client_id)
        if app is None:
            raise TokenError(400, "unauthorized_client", 700016,
                             f"Application with identifier '{client_id}' was not found in the directory "
                             f"'{self._tenant_display_name()}'. This can happen if the application has not "
                             "been installed by the administrator of the tenant or consented to by any user "
                             "in the tenant. You may have sent your authentication request to the wrong tenant.")
        self._check_resource(request, form, v2)
        auth_method = self._authenticate(request, app, form, basic_secret, tenant, tenant_id)
        token, lifetime = self.tokens.issue(app, auth_method=auth_method)
        body = {"token_type": "Bearer", "expires_in": lifetime, "ext_expires_in": lifetime,
                "access_token": token}
        if not v2:
            now = int(time.time())
            body.update({"expires_on": str(now + lifetime), "not_before": str(now), "resource": GRAPH_RESOURCE,
                         "expires_in": str(lifetime), "ext_expires_in": str(lifetime)})
        return Response.json(200, body, headers={"Cache-Control": "no-store, no-cache", "Pragma": "no-cache"})

    def _check_resource(self, request: Request, form: dict, v2: bool) -> None:
        accepted = {GRAPH_RESOURCE, GRAPH_APP_ID, request.base_url.lower()}
        if v2:
            scope = form.get("scope", "").strip()
            if not scope:
                raise TokenError(400, "invalid_request", 900144,
                                 "The request body must contain the following parameter: 'scope'.")
            for value in scope.split():
                if not value.endswith("/.default"):
                    raise TokenError(400, "invalid_scope", 1002012,
                                     f"The provided value for scope {value} is not valid. Client credential "
                                     "flows must have a scope value with /.default suffixed to the resource "
                                     "identifier (application ID URI).")
            resource = scope.split()[0][: -len("/.default")]
        else:
            resource = form.get("resource", "")
        if resource.rstrip("/").lower() not in accepted:
            raise TokenError(400, "invalid_resource", 500011,
                             f"The resource principal named {resource} was not found in the tenant named "
                             f"{self._tenant_display_name()}. This can happen if the application has not been "
                             "installed by the administrator of the tenant or consented to by any user in the "
                             "tenant. You might have sent your authentication request to the wrong tenant.")

    def _authenticate(self, request: Request, app: AppRegistration, form: dict, basic_secret: str | None,
                      tenant: str, tenant_id: str) -> str:
        assertion = form.get("client_assertion")
        secret = form.get("client_secret") or basic_secret
        if assertion:
            if form.get("client_assertion_type") != JWT_BEARER:
                raise TokenError(400, "invalid_request", 7000216,
                                 "'client_assertion_type' must be "
                                 f"'{JWT_BEARER}' when 'client_assertion' is present.")
            if self.federation is not None and self.federation.presented(assertion, app.client_id):
                try:
                    self.federation.verify_federated(assertion, app)
                except AssertionProblem as problem:
                    raise TokenError(401, "invalid_client", problem.aadsts, problem.description) from problem
                return "certificate"
            base = request.base_url
            audiences = [f"{base}/{name}/oauth2/{version}token" for name in sorted({tenant, tenant_id})
                         for version in ("v2.0/", "")]
            audiences += [f"{base}/{tenant_id}/v2.0", f"https://login.microsoftonline.com/{tenant_id}/oauth2/v2.0/token"]
            try:
                verify_client_assertion(assertion, app, app.client_id, audiences)
            except AssertionProblem as problem:
                raise TokenError(401, "invalid_client", problem.aadsts, problem.description) from problem
            return "certificate"
        if secret:
            if app.secret is None or not hmac.compare_digest(secret.encode(), app.secret.encode()):
                raise TokenError(401, "invalid_client", 7000215,
                                 "Invalid client secret provided. Ensure the secret being sent in the request "
                                 "is the client secret value, not the client secret ID, for a secret added to "
                                 f"app '{app.client_id}'.")
            return "secret"
        raise TokenError(401, "invalid_client", 7000218,
                         "The request body must contain the following parameter: 'client_assertion' or "
                         "'client_secret'.")


def _basic_credentials(header: str | None) -> tuple[str | None, str | None]:
    """client_secret_basic: `Authorization: Basic base64(urlencoded id : urlencoded secret)`."""
    if not header or not header.lower().startswith("basic "):
        return None, None
    try:
        decoded = base64.b64decode(header[6:].strip()).decode("utf-8")
    except ValueError:
        return None, None
    client_id, _colon, secret = decoded.partition(":")
    return unquote(client_id), unquote(secret)
