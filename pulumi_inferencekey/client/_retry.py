"""When and how long the control-plane client waits before sending a request again."""

from __future__ import annotations

import email.utils
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

# The platform returns these statuses before acting on the request, so sending it
# again is safe even for a create.
RETRYABLE_STATUSES = frozenset({429, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    """Bounds of the retries of one request, and the reconnect delays of a readiness stream.

    Times are in seconds. A request is sent at most ``max_attempts`` times and never
    retried once ``total_timeout`` has passed since its first attempt. The n-th retry
    waits a random time between half and all of ``base_delay * 2**(n-1)``, capped at
    ``max_delay``, or the server's Retry-After capped at ``max_delay``.
    ``reconnect_delays`` are the waits between readiness stream connections; the last
    one repeats.
    """

    max_attempts: int = 5
    base_delay: float = 0.25
    max_delay: float = 5.0
    total_timeout: float = 60.0
    reconnect_delays: tuple[float, ...] = (1.0, 2.0, 4.0, 5.0)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, got {self.max_attempts}")
        if self.base_delay < 0 or self.max_delay < 0 or self.total_timeout <= 0:
            raise ValueError("base_delay and max_delay must be >= 0 and total_timeout > 0")
        if not self.reconnect_delays or min(self.reconnect_delays) < 0:
            raise ValueError("reconnect_delays must be a non-empty sequence of delays >= 0")

    def retry_delay(
        self,
        retry: int,
        *,
        retry_after: float | None = None,
        rand: Callable[[], float] = random.random,
    ) -> float:
        """Return the wait before retry number ``retry`` (1 for the first retry)."""
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_delay)

        ceiling = min(self.base_delay * 2 ** (retry - 1), self.max_delay)
        return ceiling * (0.5 + 0.5 * rand())

    def reconnect_delay(self, failures: int) -> float:
        """Return the wait before reconnecting after ``failures`` connections in a row yielded no event."""
        index = min(failures, len(self.reconnect_delays) - 1)
        return self.reconnect_delays[index]


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Return the seconds a Retry-After header requests, or None when it is absent or invalid.

    The header is either a number of seconds or an HTTP-date; a date in the past means 0.
    ``now`` is a Unix time, for tests.
    """
    if value is None or not value.strip():
        return None
    value = value.strip()

    try:
        seconds = float(value)
    except ValueError:
        return _seconds_until_date(value, time.time() if now is None else now)
    if not math.isfinite(seconds):
        return None
    return max(seconds, 0.0)


def _seconds_until_date(value: str, now: float) -> float | None:
    parsed = email.utils.parsedate_tz(value)
    if parsed is None:
        return None
    if parsed[9] is None:
        # HTTP dates are always GMT, so a date without a zone is read as GMT, not local time.
        parsed = (*parsed[:9], 0)
    return max(email.utils.mktime_tz(parsed) - now, 0.0)
