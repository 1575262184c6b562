"""Counts and a log of the requests the emulator served, for tests to assert on (internal).

Wire requests (what crossed the socket, `/_lab/` excepted) and inner `$batch` requests
are counted apart, by `METHOD path` and by route template (`GET /v1.0/users/{id}`).
"""

from __future__ import annotations

import threading
from collections import Counter, deque
from datetime import UTC, datetime

MAX_LOG = 50_000


class RequestRecorder:
    def __init__(self):
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._seq = 0
            self.counts: Counter = Counter()
            self.routes: Counter = Counter()
            self.inner_counts: Counter = Counter()
            self.inner_routes: Counter = Counter()
            self.statuses: Counter = Counter()
            self.log: deque = deque(maxlen=MAX_LOG)

    def record(self, *, method: str, path: str, query: str, route: str | None, status: int | None,
               app: str | None, cost: int | None, fault: str | None, duration_ms: float, inner: bool) -> None:
        key = f"{method} {path}"
        route_key = f"{method} {route or path}"
        with self._lock:
            self._seq += 1
            (self.inner_counts if inner else self.counts)[key] += 1
            (self.inner_routes if inner else self.routes)[route_key] += 1
            self.statuses[str(status) if status is not None else "reset"] += 1
            self.log.append({
                "seq": self._seq, "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
                "method": method, "path": path, "query": query, "route": route, "status": status,
                "app": app, "resource_units": cost, "fault": fault, "duration_ms": round(duration_ms, 3),
                "inner": inner,
            })

    def report(self, include_log: bool = True) -> dict:
        with self._lock:
            report = {
                "total": sum(self.counts.values()),
                "counts": dict(self.counts),
                "routes": dict(self.routes),
                "inner_counts": dict(self.inner_counts),
                "inner_routes": dict(self.inner_routes),
                "statuses": dict(self.statuses),
            }
            if include_log:
                report["log"] = list(self.log)
            return report
