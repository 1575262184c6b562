"""The Microsoft Graph v1.0 pipeline: faults, token, route, permission, throttling, handler (internal).

Wire requests and the inner requests of `$batch` both go through `GraphService.handle`.
"""

from __future__ import annotations

import json
import time
import uuid

from . import _graph_batch, _graph_mail_objects, _graph_roles, _graph_sync, _graph_tenant, _graph_users
from ._errors import GraphError
from ._faults import ERROR_KINDS, SPOILED_KINDS, FaultInjector
from ._graph_context import Context, Route
from ._http import Request, Response
from ._recorder import RequestRecorder
from ._throttle import Throttle, request_cost
from ._tokens import TokenRejected, TokenService

ROUTES: list[Route] = [*_graph_users.ROUTES, *_graph_mail_objects.ROUTES, *_graph_tenant.ROUTES,
                       *_graph_roles.ROUTES, *_graph_sync.ROUTES, *_graph_batch.ROUTES]
WWW_AUTHENTICATE = ('Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", '
                    'client_id="00000003-0000-0000-c000-000000000000"')


def unauthorized(message: str) -> GraphError:
    return GraphError(401, "InvalidAuthenticationToken", message, {"WWW-Authenticate": WWW_AUTHENTICATE})


GATEWAY_PAGE = (b"<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1>"
                b"<p>The gateway got no valid answer from the service. (lab fault)</p></body></html>")


def spoil(response: Response, fault: str) -> None:
    """A 200 answer as a broken gateway hands it on: emptied, without its value or next link, or cut off."""
    if response.status != 200:
        return
    if fault == "empty":
        response.body = b""
    elif fault == "truncated":
        response.body = response.body[: max(1, len(response.body) // 2)]
    else:
        body = response.json_body()
        body = body if isinstance(body, dict) else {}
        body.pop("value" if fault == "novalue" else "@odata.nextLink", None)
        response.body = json.dumps(body, separators=(",", ":")).encode("utf-8")


class GraphService:
    def __init__(self, directory, tokens: TokenService, throttle: Throttle, faults: FaultInjector,
                 recorder: RequestRecorder):
        self.directory = directory
        self.tokens = tokens
        self.throttle = throttle
        self.faults = faults
        self.recorder = recorder
        self.sync = None     # the lab's SyncService, for the Cloud Sync routes

    @staticmethod
    def handles(path: str) -> bool:
        return path.startswith("/v1.0/") or path == "/v1.0" or path.startswith("/beta/")

    def handle(self, request: Request) -> Response:
        started = time.perf_counter()
        request_id = str(uuid.uuid4())
        client_request_id = request.headers.get("client-request-id")
        route: Route | None = None
        app = cost = fault = None
        response: Response
        settings = self.faults.settings
        try:
            fault = self.faults.decide(request.path, request.inner)
            if fault == "reset":
                response = Response(0, reset_connection=True)
            elif fault == "502" and not request.inner:
                response = Response(502, GATEWAY_PAGE)
                response.headers["Content-Type"] = "text/html"
            else:
                if fault in ERROR_KINDS or fault == "502":
                    raise self._injected(fault)
                claims = self._authenticate(request)
                app = claims.get("appid")
                route, params = self._resolve(request)
                self._authorize(route, claims)
                extra_headers: dict = {}
                if route.throttled:
                    cost = request_cost(request.method, route.cost_path or "", request.option)
                    decision = self.throttle.charge(app, claims["tid"], cost, request.method)
                    extra_headers = decision.headers
                    if not decision.allowed:
                        headers = dict(decision.headers)
                        if decision.retry_after is not None:
                            headers["Retry-After"] = str(decision.retry_after)
                        wait = f" Retry after {decision.retry_after} seconds." if decision.retry_after else ""
                        raise GraphError(429, "TooManyRequests",
                                         f"Too many requests: the application's resource-unit budget for this "
                                         f"tenant is used up.{wait}", headers)
                response = route.handler(Context(request, params, claims, self.directory, self))
                self._break_next_link(request, response)
                for name, value in extra_headers.items():
                    response.headers[name] = value
                if fault in SPOILED_KINDS:
                    spoil(response, fault)
        except GraphError as error:
            response = error.response(request_id, client_request_id)
        self._latency(request, response, settings)
        if not response.reset_connection:
            response.headers["request-id"] = request_id
            response.headers["client-request-id"] = client_request_id or request_id
            response.headers["x-ms-ags-diagnostic"] = '{"ServerInfo":{"DataCenter":"Lab","Slice":"E",' \
                                                      '"Ring":"1","ScaleUnit":"000","RoleInstance":"lab"}}'
            response.headers["OData-Version"] = "4.0"
            response.headers["Strict-Transport-Security"] = "max-age=31536000"
            response.headers["Cache-Control"] = "no-cache"
        self.recorder.record(
            method=request.method, path=request.path, query=request.raw_query,
            route=f"/v1.0{route.template}" if route else None,
            status=None if response.reset_connection else response.status, app=app, cost=cost, fault=fault,
            duration_ms=(time.perf_counter() - started) * 1000, inner=request.inner)
        return response

    @staticmethod
    def _latency(request: Request, response: Response, settings) -> None:
        """Wait what the answer costs on Graph; an inner $batch answer only notes it, for the batch to wait once.

        Each wire request sleeps in its own server thread, so parallel requests wait side by side.
        `response.delay` of a $batch holds its slowest inner request (see `_graph_batch`).
        """
        delay = max(settings.latency_seconds(response.objects), response.delay)
        if request.inner:
            response.delay = delay
        elif delay > 0:
            time.sleep(delay)

    def _break_next_link(self, request: Request, response: Response) -> None:
        """The `next_link` fault: a listing page whose @odata.nextLink leads elsewhere or back to itself."""
        if response.status != 200 or b'"@odata.nextLink"' not in response.body:
            return
        this_page = f"{request.base_url}{request.path}" + (f"?{request.raw_query}" if request.raw_query else "")
        broken = self.faults.broken_next_link(request.path, this_page)
        if broken is not None:
            body = response.json_body()
            body["@odata.nextLink"] = broken
            response.body = json.dumps(body, separators=(",", ":")).encode("utf-8")

    def _injected(self, fault: str) -> GraphError:
        seconds = self.faults.settings.retry_after
        headers = {"Retry-After": str(seconds)} if seconds is not None else {}
        if fault == "429":
            return GraphError(429, "TooManyRequests", "Too many requests. Please retry later. (lab fault)", headers)
        if fault == "504":
            return GraphError(504, "timeout", "No answer in time from the service behind the gateway. (lab fault)",
                              headers)
        if fault == "500":
            return GraphError(500, "generalException", "An internal server error occurred. (lab fault)", {})
        if fault == "502":
            return GraphError(502, "badGateway", "The gateway got no valid answer. (lab fault)", {})
        return GraphError(503, "serviceNotAvailable",
                          "The service is temporarily unavailable. Please retry later. (lab fault)", headers)

    def _authenticate(self, request: Request) -> dict:
        header = request.headers.get("Authorization") or ""
        scheme, _space, token = header.strip().partition(" ")
        if not header.strip() or (scheme.lower() == "bearer" and not token.strip()):
            raise unauthorized("Access token is empty.")
        if scheme.lower() != "bearer":
            raise unauthorized("Access token validation failure. The authorization scheme must be Bearer.")
        try:
            return self.tokens.verify(token.strip())
        except TokenRejected as exc:
            raise unauthorized(str(exc)) from exc

    @staticmethod
    def _resolve(request: Request) -> tuple[Route, dict]:
        if not request.path.startswith("/v1.0/"):
            version = request.path.strip("/").split("/")[0]
            raise GraphError(400, "BadRequest", f"Invalid version: the lab emulator serves v1.0 only, not '{version}'.")
        relative = request.path[len("/v1.0"):]
        allowed = False
        for route in ROUTES:
            match = route.pattern.match(relative)
            if match is None:
                continue
            if route.method == request.method:
                return route, match.groupdict()
            allowed = True
        if allowed:
            raise GraphError(405, "Request_BadRequest",
                             f"Specified HTTP method '{request.method}' is not allowed for the request target.")
        segment = relative.strip("/").split("/")[0] or "/"
        raise GraphError(400, "BadRequest", f"Resource not found for the segment '{segment}'.")

    @staticmethod
    def _authorize(route: Route, claims: dict) -> None:
        if not route.permissions:
            return
        roles = set(claims.get("roles") or ())
        if roles.intersection(route.permissions):
            return
        least, *others = route.permissions
        also = f" (or one of: {', '.join(others)})" if others else ""
        raise GraphError(403, "Authorization_RequestDenied",
                         f"Insufficient privileges to complete the operation. This request requires the "
                         f"application permission {least}{also}, which the token's roles claim does not hold.")
