"""Injected latency and faults for Graph requests (internal).

A share of Graph requests (optionally only those whose path starts with a prefix) gets
a 429, a 503, a 504 or a TCP reset instead of its answer. The choice comes from a seeded random
stream, one draw per matching request, so a test that sends the same requests in the
same order sees the same faults. A `script` lists faults for the next matching requests,
in order, before the rates apply. Scripted faults can also spoil a 200 answer the way a
broken gateway does: an empty body, a page without `value`, JSON cut off, a page whose
`@odata.nextLink` is missing (the listing looks complete), or a 502 with an HTML page.
Latency models what Graph costs: `latency_ms` for every request, plus `latency_per_object_ms` for
each object a listing page returns (Graph takes about 0.1 s for a filtered query and 0.5 s for a
page of 999 users). The inner requests of a `$batch` run side by side as Graph runs them: the
batch costs its slowest inner request, not their sum (and at least `latency_ms`).
`next_link` breaks the `@odata.nextLink` of listings instead: it points to another host,
or back to the page it is on. `token_script` lists answers (429, 503) for the next
requests to the identity platform (tenant discovery and the token endpoint).
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field

# Answered instead of the request: an error status (JSON error body), or a gateway's HTML 502.
ERROR_KINDS = ("429", "500", "503", "504")
# The request is carried out and its 200 answer spoiled on the way back.
SPOILED_KINDS = ("empty", "novalue", "truncated", "nolink")
FAULT_KINDS = (*ERROR_KINDS, "502", "reset", *SPOILED_KINDS, "none")
RATED_KINDS = ("429", "503", "504", "reset")
TOKEN_FAULT_KINDS = ("429", "503", "none")
NEXT_LINK_FAULTS = ("foreign", "repeat")
FOREIGN_HOST = "https://graph.example.net"


# Above these a typo would hold requests past the client's timeout.
MAX_LATENCY_MS = 60_000
MAX_LATENCY_PER_OBJECT_MS = 100


@dataclass
class FaultSettings:
    latency_ms: float = 0                # every Graph request (a $batch once, its inner requests side by side)
    latency_per_object_ms: float = 0.0   # and this per object in a listing page's `value`
    rate_429: float = 0.0
    rate_503: float = 0.0
    rate_504: float = 0.0
    rate_reset: float = 0.0
    seed: int = 0
    path_prefix: str = "/v1.0/"
    retry_after: int | None = 1       # seconds in injected 429/503/504; None: no Retry-After header
    script: list[str] = field(default_factory=list)
    batch_inner: bool = True          # inner $batch requests draw too (a reset becomes no fault there)
    next_link: str | None = None      # "foreign" or "repeat": next links under path_prefix go elsewhere, or back
    token_script: list[str] = field(default_factory=list)   # answers for the next identity-platform requests

    def validate(self) -> None:
        for name in self.rate_names():
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1")
        if sum(self.rates()) > 1.0:
            raise ValueError(f"{' + '.join(self.rate_names())} must not exceed 1")
        for name, most in (("latency_ms", MAX_LATENCY_MS), ("latency_per_object_ms", MAX_LATENCY_PER_OBJECT_MS)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= most:
                raise ValueError(f"{name} must be a number of milliseconds from 0 to {most}")
        if self.retry_after is not None and self.retry_after < 0:
            raise ValueError("retry_after must be a number of seconds or null")
        if self.next_link is not None and self.next_link not in NEXT_LINK_FAULTS:
            raise ValueError(f"next_link must be one of {NEXT_LINK_FAULTS} or null")
        bad = [kind for kind in self.script if kind not in FAULT_KINDS]
        if bad:
            raise ValueError(f"script entries must be among {FAULT_KINDS}, not {bad}")
        bad = [kind for kind in self.token_script if kind not in TOKEN_FAULT_KINDS]
        if bad:
            raise ValueError(f"token_script entries must be among {TOKEN_FAULT_KINDS}, not {bad}")

    @staticmethod
    def rate_names() -> tuple[str, ...]:
        return tuple(f"rate_{kind}" for kind in RATED_KINDS)

    def rates(self) -> tuple[float, ...]:
        return tuple(getattr(self, name) for name in self.rate_names())

    def as_dict(self) -> dict:
        return {**self.__dict__, "script": list(self.script), "token_script": list(self.token_script)}

    def latency_seconds(self, objects: int) -> float:
        """What a request that returns `objects` listed objects costs, in seconds."""
        return (self.latency_ms + self.latency_per_object_ms * objects) / 1000


class FaultInjector:
    def __init__(self):
        self._lock = threading.Lock()
        self.configure(FaultSettings())

    def configure(self, settings: FaultSettings) -> None:
        settings.validate()
        with self._lock:
            self.settings = settings
            self._random = random.Random(settings.seed)  # repeatable on purpose, not a secret
            self._script = list(settings.script)
            self._token_script = list(settings.token_script)
            self.injected = dict.fromkeys((*RATED_KINDS, *ERROR_KINDS, "502", *SPOILED_KINDS), 0)
            self.token_injected = dict.fromkeys(TOKEN_FAULT_KINDS[:-1], 0)

    def status(self) -> dict:
        with self._lock:
            return {**self.settings.as_dict(), "script_left": list(self._script),
                    "token_script_left": list(self._token_script), "injected": dict(self.injected),
                    "token_injected": dict(self.token_injected)}

    def decide_token(self) -> str | None:
        """The scripted answer ("429", "503") for this identity-platform request, or None."""
        with self._lock:
            kind = self._token_script.pop(0) if self._token_script else "none"
            if kind == "none":
                return None
            self.token_injected[kind] += 1
            return kind

    def decide(self, path: str, inner: bool) -> str | None:
        """The fault for this request (one of FAULT_KINDS but "none"), or None."""
        settings = self.settings
        if inner and not settings.batch_inner:
            return None
        if not path.startswith(settings.path_prefix):
            return None
        with self._lock:
            if self._script:
                kind = self._script.pop(0)
            else:
                rates = settings.rates()
                if not any(rates):
                    return None
                draw = self._random.random()
                kind = "none"
                threshold = 0.0
                for name, rate in zip(RATED_KINDS, rates, strict=True):
                    threshold += rate
                    if draw < threshold:
                        kind = name
                        break
            if kind == "reset" and inner:
                kind = "none"
            if kind == "truncated" and inner:  # an inner body is part of the $batch JSON: it can only go missing
                kind = "novalue"
            if kind == "none":
                return None
            self.injected[kind] += 1
            return kind

    def broken_next_link(self, path: str, this_page: str) -> str | None:
        """The next link to send instead of the true one when `next_link` is set for `path`, else None."""
        settings = self.settings
        if settings.next_link is None or not path.startswith(settings.path_prefix):
            return None
        if settings.next_link == "repeat":
            return this_page
        return FOREIGN_HOST + this_page[this_page.index("/v1.0/"):]
