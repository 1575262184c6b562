# Copyright: contributors to the hybrid.identity collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""When to retry a Graph request, and how long to wait first.

Internal to the collection; no stable API. Pure: the caller supplies the clock and the
random fraction, so every decision here can be checked with plain numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

# Throttled (429), unavailable (503) and gateway timeout (504) are worth another try for any request.
RETRY_STATUSES = frozenset({429, 503, 504})
# A server error (500) or a bad gateway (502) is retried only where a replay is harmless (reads):
# a write may have been carried out before the answer went wrong.
REPLAY_SAFE_RETRY_STATUSES = RETRY_STATUSES | {500, 502}


def retryable(status: int, replay_safe: bool) -> bool:
    """Whether an answer with ``status`` is worth another try of the same request."""
    return status in (REPLAY_SAFE_RETRY_STATUSES if replay_safe else RETRY_STATUSES)


@dataclass(frozen=True)
class RetryPolicy:
    """Bounds for one logical request: tries in all, backoff base and cap, and a time budget."""

    max_attempts: int = 8          # the first try included
    base_delay: float = 1.0        # seconds; the backoff ceiling doubles from here ...
    max_delay: float = 30.0        # ... up to this cap
    time_budget: float = 180.0     # seconds from the first try; no wait may end past it

    def __post_init__(self) -> None:
        if self.max_attempts < 1 or self.base_delay < 0 or self.max_delay < 0 or self.time_budget < 0:
            raise ValueError("retry bounds must be positive")


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """The wait a ``Retry-After`` header asks for (delay-seconds or an HTTP date); None when absent or unreadable."""
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def backoff_seconds(retry: int, policy: RetryPolicy, random_fraction: float) -> float:
    """Equal jitter: half the ceiling min(cap, base * 2**retry), plus ``random_fraction`` (0..1) of the rest.

    ``retry`` 0 is the first. The fixed half means a throttled request is never sent again at
    once (rule book §8: back off when Graph gives no Retry-After); the random half spreads
    the retries of parallel jobs apart.
    """
    ceiling = min(policy.max_delay, policy.base_delay * 2 ** min(max(retry, 0), 32))
    return ceiling / 2 * (1.0 + min(max(random_fraction, 0.0), 1.0))


def next_wait(policy: RetryPolicy, attempts_made: int, elapsed: float, retry_after: float | None,
              random_fraction: float) -> float | None:
    """Seconds to wait before the next try, or None when the policy says to give up.

    A server's ``Retry-After`` is honoured as given; without one the wait is the jittered
    backoff. Either way the try must still start inside the time budget.
    """
    if attempts_made >= policy.max_attempts:
        return None
    wait = retry_after if retry_after is not None else backoff_seconds(attempts_made - 1, policy, random_fraction)
    if elapsed + wait > policy.time_budget:
        return None
    return wait
