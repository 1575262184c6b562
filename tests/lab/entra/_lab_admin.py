"""Lab-only admin endpoints under `/_lab/`: no token, loopback callers only, JSON (internal).

GET  /_lab/health                      {"status": "ok", "tenant_id", "pid"}
GET  /_lab/state                       tenant, users (with roles), groups, contacts, roleAssignments
POST /_lab/load                        {"tenant": {...}, "cloud": {...}, "anchors": {sam: anchor}?}
POST /_lab/reset                       empty tenant, no faults, default throttle, counters cleared
GET|POST /_lab/faults                  FaultSettings (POST replaces; missing keys take defaults)
GET|POST /_lab/throttle                ThrottleSettings (same)
GET|POST /_lab/config                  {"token_lifetime": seconds}
GET  /_lab/requests[?log=false]        counts, routes, inner_counts, inner_routes, statuses, log
DELETE /_lab/requests, POST /_lab/requests/reset   clear them
POST /_lab/token                       {"client_id", "expires_in"?, "roles"?} -> {"access_token"}
/_lab/sync/...                         the sync engine's knobs and run log (see `_sync_admin.py`)
"""

from __future__ import annotations

import os
from dataclasses import fields

from ._cloud_scenario import ScenarioError
from ._faults import FaultInjector, FaultSettings
from ._http import Request, Response
from ._recorder import RequestRecorder
from ._sync_admin import SyncAdmin
from ._throttle import Throttle, ThrottleSettings
from ._tokens import DEFAULT_TOKEN_LIFETIME, TokenService

LOOPBACK = {"127.0.0.1", "::1", "::ffff:127.0.0.1"}


class LabError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def _settings(cls, body: dict):
    known = {f.name for f in fields(cls)}
    unknown = set(body) - known
    if unknown:
        raise LabError(400, f"unknown setting(s) {sorted(unknown)}; known: {sorted(known)}")
    try:
        return cls(**body)
    except TypeError as exc:
        raise LabError(400, str(exc)) from exc


class LabAdmin:
    def __init__(self, directory, tokens: TokenService, faults: FaultInjector, throttle: Throttle,
                 recorder: RequestRecorder, sync=None):
        self.directory = directory
        self.sync = sync
        self.sync_admin = SyncAdmin(sync) if sync is not None else None
        self.tokens = tokens
        self.faults = faults
        self.throttle = throttle
        self.recorder = recorder

    @staticmethod
    def handles(path: str) -> bool:
        return path == "/_lab" or path.startswith("/_lab/")

    def handle(self, request: Request) -> Response:
        if request.client_ip not in LOOPBACK:
            return Response.json(403, {"error": "the /_lab/ endpoints answer loopback callers only"})
        route = (request.method, request.path.rstrip("/"))
        try:
            body = self._body(request)
            return self._dispatch(route, request, body)
        except LabError as error:
            return Response.json(error.status, {"error": str(error)})
        except ScenarioError as error:
            return Response.json(400, {"error": str(error)})
        except ValueError as error:
            return Response.json(400, {"error": str(error)})

    @staticmethod
    def _body(request: Request) -> dict:
        if request.method not in ("POST", "PUT", "PATCH") or not request.body.strip():
            return {}
        try:
            body = request.json()
        except ValueError as exc:
            raise LabError(400, f"the body is not JSON: {exc}") from exc
        if not isinstance(body, dict):
            raise LabError(400, "the body must be a JSON object")
        return body

    def _dispatch(self, route: tuple[str, str], request: Request, body: dict) -> Response:
        method, path = route
        if self.sync_admin is not None and (path == "/_lab/sync" or path.startswith("/_lab/sync/")):
            return self.sync_admin.handle(method, path, request, body)
        if route == ("GET", "/_lab/health"):
            return Response.json(200, {"status": "ok", "tenant_id": self.tokens.credentials.tenant_id,
                                       "pid": os.getpid()})
        if route == ("GET", "/_lab/state"):
            return Response.json(200, self.directory.snapshot())
        if route == ("POST", "/_lab/load"):
            unknown = set(body) - {"tenant", "cloud", "anchors"}
            if unknown:
                raise LabError(400, f"unknown key(s) {sorted(unknown)}: send the scenario's tenant and cloud parts")
            summary = self.directory.load(body.get("tenant"), body.get("cloud"), body.get("anchors"))
            if self.sync is not None:
                self.sync.scenario_loaded()
            return Response.json(200, {"loaded": summary})
        if route == ("POST", "/_lab/reset"):
            self.directory.reset()
            if self.sync is not None:
                self.sync.reset()
            self.faults.configure(FaultSettings())
            self.throttle.configure(ThrottleSettings())
            self.recorder.reset()
            self.tokens.lifetime = DEFAULT_TOKEN_LIFETIME
            return Response.json(200, {"reset": True})
        if path == "/_lab/faults":
            if method == "POST":
                self.faults.configure(_settings(FaultSettings, body))
            return Response.json(200, self.faults.status())
        if path == "/_lab/throttle":
            if method == "POST":
                self.throttle.configure(_settings(ThrottleSettings, body))
            return Response.json(200, self.throttle.settings.as_dict())
        if path == "/_lab/config":
            if method == "POST":
                unknown = set(body) - {"token_lifetime"}
                if unknown:
                    raise LabError(400, f"unknown setting(s) {sorted(unknown)}; known: ['token_lifetime']")
                if "token_lifetime" in body:
                    lifetime = body["token_lifetime"]
                    if not isinstance(lifetime, int) or lifetime < 1:
                        raise LabError(400, "token_lifetime must be a positive number of seconds")
                    self.tokens.lifetime = lifetime
            return Response.json(200, {"token_lifetime": self.tokens.lifetime})
        if route == ("GET", "/_lab/requests"):
            include_log = (request.query.get("log") or "true").lower() != "false"
            return Response.json(200, self.recorder.report(include_log))
        if route in (("DELETE", "/_lab/requests"), ("POST", "/_lab/requests/reset")):
            self.recorder.reset()
            return Response.json(200, {"reset": True})
        if route == ("POST", "/_lab/token"):
            return Response.json(200, self._mint(body))
        raise LabError(404, f"no lab endpoint {method} {path}")

    def _mint(self, body: dict) -> dict:
        """A token for tests: any lifetime (negative: already expired), optionally other roles."""
        app = self.tokens.credentials.apps.get(str(body.get("client_id", "")).lower())
        if app is None:
            raise LabError(400, "client_id must be one of the lab's app registrations")
        lifetime = body.get("expires_in", self.tokens.lifetime)
        extra = {"roles": list(body["roles"])} if "roles" in body else None
        token, seconds = self.tokens.issue(app, lifetime=int(lifetime), extra_claims=extra)
        return {"token_type": "Bearer", "expires_in": seconds, "access_token": token}
