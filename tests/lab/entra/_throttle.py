"""Graph's identity throttling: token buckets of resource units per app (internal).

Costs follow Graph's table for identity and access resources: `GET /users` costs 2,
any other request 1; `$select` takes 1 off, `$expand` adds 1, `$top` under 20 takes 1
off, never below 1. Writes also draw on a separate write quota. The default budget is
the large-tenant one, 8,000 units per 10 seconds per app (rule book §8).
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field

BASE_COSTS = {("GET", "users"): 2, ("GET", "applications"): 2, ("GET", "subscribedSkus"): 3,
              ("GET", "oauth2PermissionGrants"): 2, ("GET", "contracts"): 3}
WRITE_METHODS = {"POST", "PATCH", "PUT", "DELETE"}


def request_cost(method: str, collection_path: str, query_option) -> int:
    """Resource units of one request; `collection_path` is the path after /v1.0/ for collections."""
    cost = BASE_COSTS.get((method, collection_path), 1)
    if query_option("select") is not None:
        cost -= 1
    if query_option("expand") is not None:
        cost += 1
    top = query_option("top")
    if top is not None and top.isdigit() and int(top) < 20:
        cost -= 1
    return max(cost, 1)


@dataclass
class ThrottleSettings:
    budget: float = 8000.0           # resource units ...
    window_seconds: float = 10.0     # ... per this many seconds, per app
    write_budget: float = 3000.0     # write requests ...
    write_window_seconds: float = 150.0
    retry_after: str = "header"      # "header": 429 says Retry-After; "none": it doesn't
    enabled: bool = True

    def as_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass
class _Bucket:
    capacity: float
    rate: float                      # units per second
    tokens: float
    stamp: float = field(default_factory=time.monotonic)

    def take(self, cost: float) -> float:
        """Take `cost`; 0 when granted, else the seconds until it would be."""
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= cost:
            self.tokens -= cost
            return 0.0
        return (cost - self.tokens) / self.rate if self.rate > 0 else 60.0

    def used_share(self) -> float:
        return 1.0 - self.tokens / self.capacity if self.capacity else 1.0


@dataclass
class ThrottleDecision:
    allowed: bool
    retry_after: int | None = None   # seconds; None with `retry_after: none`
    scope: str = ""
    headers: dict = field(default_factory=dict)


class Throttle:
    def __init__(self, settings: ThrottleSettings | None = None):
        self._lock = threading.Lock()
        self.configure(settings or ThrottleSettings())

    def configure(self, settings: ThrottleSettings) -> None:
        if settings.budget <= 0 or settings.window_seconds <= 0:
            raise ValueError("budget and window_seconds must be positive")
        if settings.retry_after not in ("header", "none"):
            raise ValueError("retry_after must be 'header' or 'none'")
        with self._lock:
            self.settings = settings
            self._buckets: dict[tuple[str, str], _Bucket] = {}

    def _bucket(self, key: tuple[str, str], capacity: float, window: float) -> _Bucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(capacity, capacity / window, capacity)
        return bucket

    def charge(self, app_id: str, tenant_id: str, cost: int, method: str) -> ThrottleDecision:
        settings = self.settings
        if not settings.enabled:
            return ThrottleDecision(True, headers={"x-ms-resource-unit": str(cost)})
        with self._lock:
            units = self._bucket(("ru", app_id), settings.budget, settings.window_seconds)
            wait = units.take(cost)
            limit = "ReadWrite" if method in WRITE_METHODS else "Read"
            if not wait and method in WRITE_METHODS:
                writes = self._bucket(("write", app_id), settings.write_budget, settings.write_window_seconds)
                wait = writes.take(1)
                if wait:
                    units.tokens += cost     # the request is refused, so give the units back
                    limit = "Write"
            headers = {"x-ms-resource-unit": str(cost)}
            share = units.used_share()
            if share >= 0.8:
                headers["x-ms-throttle-limit-percentage"] = f"{min(share, 1.8):.1f}"
        if not wait:
            return ThrottleDecision(True, headers=headers)
        retry_after = max(1, math.ceil(wait)) if settings.retry_after == "header" else None
        headers["x-ms-throttle-scope"] = f"Tenant_Application/{limit}/{app_id}/{tenant_id}"
        headers["x-ms-throttle-information"] = "ResourceUnitLimitExceeded"
        return ThrottleDecision(False, retry_after, limit, headers)
