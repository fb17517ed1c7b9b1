"""Fault injection: added latency, transient errors and dropped readiness streams.

Every decision draws from one ``random.Random(seed)``, so a run with the same seed
and the same sequence of requests meets the same faults.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass

from .exceptions import InjectedUnavailable, LocalPlatformError, RateLimited

# Share of injected errors that are 429 rather than 503.
RATE_LIMITED_SHARE = 0.5
# Share of readiness streams that drop when ``drop_streams`` is on.
DROPPED_STREAM_SHARE = 0.5
# RFC 9110 allows only whole seconds or a date, and 0 lets clients retry at once.
RETRY_AFTER_SECONDS = "0"


@dataclass(frozen=True)
class FaultSettings:
    """Faults applied to every request of both planes."""

    latency: float = 0.0
    error_rate: float = 0.0
    drop_streams: bool = False
    seed: int | None = None

    def __post_init__(self) -> None:
        if self.latency < 0:
            raise ValueError(f"latency must be 0 or more seconds, got {self.latency}")
        if not 0.0 <= self.error_rate <= 1.0:
            raise ValueError(f"error_rate must be a fraction between 0 and 1, got {self.error_rate}")


class FaultInjector:
    """Decide, per request and per stream, which fault to inject.

    The decision for a request is taken before the request reaches any handler, so
    an injected 429 or 503 has changed nothing on the server and a retry is safe.
    """

    def __init__(self, settings: FaultSettings) -> None:
        self._lock = threading.Lock()
        self.configure(settings)

    @property
    def settings(self) -> FaultSettings:
        return self._settings

    def configure(self, settings: FaultSettings) -> None:
        """Apply ``settings`` and restart the random sequence from their seed."""
        with self._lock:
            self._settings = settings
            self._random = random.Random(settings.seed)

    def update(self, latency: float | None = None, error_rate: float | None = None, drop_streams: bool | None = None) -> None:
        """Change some faults at run time; the random sequence goes on where it was."""
        with self._lock:
            current = self._settings
            self._settings = FaultSettings(
                latency=current.latency if latency is None else latency,
                error_rate=current.error_rate if error_rate is None else error_rate,
                drop_streams=current.drop_streams if drop_streams is None else drop_streams,
                seed=current.seed,
            )

    def request_fault(self) -> LocalPlatformError | None:
        """Return the error to respond with instead of serving this request, or None to serve it."""
        with self._lock:
            if self._settings.error_rate <= 0 or self._random.random() >= self._settings.error_rate:
                return None
            rate_limited = self._random.random() < RATE_LIMITED_SHARE
        if rate_limited:
            return RateLimited(
                "injected fault: too many requests; nothing was changed, so retrying is safe",
                headers={"Retry-After": RETRY_AFTER_SECONDS},
            )
        return InjectedUnavailable("injected fault: the service is unavailable; nothing was changed, so retrying is safe")

    def stream_drop_point(self) -> int | None:
        """Return after how many frames a readiness stream closes early, or None to keep it whole.

        A dropped stream always sends its snapshot first, so a client that reconnects
        makes progress.
        """
        with self._lock:
            if not self._settings.drop_streams or self._random.random() >= DROPPED_STREAM_SHARE:
                return None
            return 1 + self._random.randrange(2)
