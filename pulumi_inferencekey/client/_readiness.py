"""Readiness events of a workload, decoded from the control plane's Server-Sent Events."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx

TERMINAL_PHASES = frozenset({"ready", "error"})


@dataclass(frozen=True)
class ReadinessEvent:
    """One readiness update: the phase, the platform's message and the milliseconds since the start."""

    phase: str
    message: str
    elapsed_ms: int
    step: str | None = None

    @property
    def is_terminal(self) -> bool:
        """True for ``ready`` and ``error``, after which the stream ends."""
        return self.phase in TERMINAL_PHASES


def parse_event(data: str) -> ReadinessEvent | None:
    """Decode the JSON of one ``data:`` frame, or return None when it is not a readiness event."""
    try:
        payload: Any = json.loads(data)
    except ValueError:
        return None
    if not isinstance(payload, dict) or not isinstance(payload.get("phase"), str):
        return None

    elapsed = payload.get("elapsed_ms")
    step = payload.get("step")
    return ReadinessEvent(
        phase=payload["phase"],
        message=str(payload.get("message") or ""),
        elapsed_ms=int(elapsed) if isinstance(elapsed, (int, float)) and not isinstance(elapsed, bool) else 0,
        step=str(step) if step is not None else None,
    )


class DeadlinePassed(Exception):
    """The wait's deadline passed while a readiness stream was open."""


class DeadlineResponse:
    """A streaming response that raises DeadlinePassed when bytes arrive after ``deadline``.

    httpx_sse.EventSource drops keep-alive comments without yielding, so a stream that
    sends only keep-alives would never let the caller check its deadline. This wrapper
    checks it on every chunk instead.
    NOTE: EventSource (httpx-sse 0.4) reads only ``headers`` and ``iter_text()`` from
    the response, which is all this wrapper offers.
    """

    def __init__(self, response: httpx.Response, deadline: float) -> None:
        self._response = response
        self._deadline = deadline

    @property
    def headers(self) -> httpx.Headers:
        return self._response.headers

    def iter_text(self) -> Iterator[str]:
        # The check follows the yield, so a chunk that arrives late is still decoded: it
        # may carry the terminal event.
        for text in self._response.iter_text():
            yield text
            if time.monotonic() >= self._deadline:
                raise DeadlinePassed()
