"""The emulator's parts wired together, and the top-level router (internal)."""

from __future__ import annotations

import time
from pathlib import Path

from ._credentials import Credentials
from ._directory import Directory
from ._faults import FaultInjector
from ._graph import GraphService
from ._http import Request, Response
from ._identity import IdentityPlatform
from ._lab_admin import LabAdmin
from ._recorder import RequestRecorder
from ._sync_service import SyncService
from ._throttle import Throttle
from ._tokens import DEFAULT_TOKEN_LIFETIME, TokenService
from ._workload import ManagedIdentityEndpoint, Workload


class Emulator:
    def __init__(self, lab_dir: Path, token_lifetime: int = DEFAULT_TOKEN_LIFETIME):
        self.credentials = Credentials.ensure(lab_dir)
        self.directory = Directory(self.credentials.tenant_id)
        self.tokens = TokenService(self.credentials, token_lifetime)
        self.workload = Workload.ensure(lab_dir, self.credentials)
        self.managed_identity = ManagedIdentityEndpoint(self.workload, self.tokens)
        self.faults = FaultInjector()
        self.throttle = Throttle()
        self.recorder = RequestRecorder()
        self.identity = IdentityPlatform(self.credentials, self.tokens, self.directory.tenant_names,
                                         lambda: self.directory.settings.display_name, self.faults,
                                         federation=self.workload)
        self.sync = SyncService(self.directory, lab_dir, self.credentials.tenant_id)
        self.graph = GraphService(self.directory, self.tokens, self.throttle, self.faults, self.recorder)
        self.graph.sync = self.sync
        self.lab = LabAdmin(self.directory, self.tokens, self.faults, self.throttle, self.recorder, self.sync)

    def dispatch(self, request: Request) -> Response:
        if self.lab.handles(request.path):
            return self.lab.handle(request)
        if self.graph.handles(request.path):
            return self.graph.handle(request)
        started = time.perf_counter()
        if self.identity.handles(request.path):
            response = self.identity.handle(request)
        elif self.managed_identity.handles(request.path):
            response = self.managed_identity.handle(request)
        else:
            response = Response.json(404, {"error": "not_found",
                                           "error_description": f"The lab has nothing at {request.path}."})
        self.recorder.record(method=request.method, path=request.path, query=request.raw_query, route=None,
                             status=response.status, app=None, cost=None, fault=None,
                             duration_ms=(time.perf_counter() - started) * 1000, inner=False)
        return response
