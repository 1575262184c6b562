"""Lab-only knobs of the sync engine under `/_lab/sync/` (internal; `_lab_admin` routes here).

GET  /_lab/sync                  {"schedule", "faults", "job", "search_base", "last_run"}
POST /_lab/sync/run              {"mode": "delta"|"full", "search_base"?} -> the run
                                 (503 {"error", "run"} when AD can't be read)
GET  /_lab/sync/runs[?limit=N&objects=false]   {"runs": [...]}, newest first
GET|POST /_lab/sync/faults       {"drop_join": [sAMAccountName or DN, ...]}
GET|POST /_lab/sync/schedule     {"interval_seconds": 0, "mode": "delta"}
GET|POST /_lab/sync/scope        {"search_base": null}  (null: the lab's scenario OU)
GET|POST /_lab/sync/job          {"status": "Active"|"Paused"|"Quarantine", "reason"?} -> ids and the job
"""

from __future__ import annotations

from ._http import Request, Response
from ._sync_engine import SyncFailed
from ._sync_service import SyncService


class SyncAdminError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def _only(body: dict, allowed: set[str]) -> None:
    unknown = set(body) - allowed
    if unknown:
        raise SyncAdminError(400, f"unknown key(s) {sorted(unknown)}; known: {sorted(allowed)}")


class SyncAdmin:
    def __init__(self, sync: SyncService):
        self.sync = sync

    def handle(self, method: str, path: str, request: Request, body: dict) -> Response:
        try:
            return self._dispatch(method, path.removeprefix("/_lab/sync").rstrip("/"), request, body)
        except SyncAdminError as error:
            return Response.json(error.status, {"error": str(error)})

    def _dispatch(self, method: str, path: str, request: Request, body: dict) -> Response:
        engine, job, scheduler = self.sync.engine, self.sync.job, self.sync.scheduler
        if (method, path) == ("GET", ""):
            last = engine.recent_runs(1, objects=False)
            return Response.json(200, {"schedule": scheduler.status(), "faults": engine.faults(),
                                       "job": self._job(), "search_base": self.sync.search_base(),
                                       "last_run": last[0] if last else None})
        if (method, path) == ("POST", "/run"):
            _only(body, {"mode", "search_base"})
            try:
                return Response.json(200, self.sync.run(body.get("mode", "delta"), body.get("search_base")))
            except SyncFailed as failed:
                return Response.json(503, {"error": str(failed), "run": failed.run})
        if (method, path) == ("GET", "/runs"):
            limit = request.query.get("limit")
            if limit is not None and not limit.isdigit():
                raise SyncAdminError(400, "limit must be a number")
            objects = (request.query.get("objects") or "true").lower() != "false"
            return Response.json(200, {"runs": engine.recent_runs(int(limit) if limit else None, objects)})
        if path == "/faults" and method in ("GET", "POST"):
            if method == "POST":
                _only(body, {"drop_join"})
                drop = body.get("drop_join") or []
                if not isinstance(drop, list) or not all(isinstance(name, str) for name in drop):
                    raise SyncAdminError(400, "drop_join must be a list of sAMAccountNames or DNs")
                engine.set_faults(drop)
            return Response.json(200, engine.faults())
        if path == "/schedule" and method in ("GET", "POST"):
            if method == "POST":
                _only(body, {"interval_seconds", "mode"})
                scheduler.configure(body.get("interval_seconds", 0), body.get("mode", "delta"))
            return Response.json(200, scheduler.status())
        if path == "/scope" and method in ("GET", "POST"):
            if method == "POST":
                _only(body, {"search_base"})
                engine.search_base = body.get("search_base") or None
            return Response.json(200, {"search_base": self.sync.search_base()})
        if path == "/job" and method in ("GET", "POST"):
            if method == "POST":
                _only(body, {"status", "reason"})
                job.set_status(body.get("status", "Active"), body.get("reason"))
            return Response.json(200, self._job())
        raise SyncAdminError(404, f"no lab endpoint {method} /_lab/sync{path}")

    def _job(self) -> dict:
        ids = self.sync.job.ids
        return {"service_principal_id": ids.service_principal_id, "job_id": ids.job_id, "rule_id": ids.rule_id,
                "job": self.sync.job_view()}
