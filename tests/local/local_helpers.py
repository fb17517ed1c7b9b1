"""Helpers of the local control plane tests: request bodies, error parsing and stream reading."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

PROJECT = "acme"
OTHER_PROJECT = "globex"
VLLM_COMMAND = "vllm serve meta-llama/Llama-3.1-8B-Instruct --max-model-len 8192"
# Bounds every wait on a stream, so a server bug fails a test instead of hanging it.
STREAM_TIMEOUT_SECONDS = 10.0


def workload_body(**overrides: Any) -> dict[str, Any]:
    """Return a valid create body for a vLLM chat workload, with ``overrides`` applied."""
    body: dict[str, Any] = {
        "name": "Support Bot",
        "slug": "support-bot",
        "task_type": "text2text",
        "backend": "vllm",
        "model_name": "meta-llama/Llama-3.1-8B-Instruct",
        "config": {"command": VLLM_COMMAND},
    }
    body.update(overrides)
    return body


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def error_of(response: httpx.Response) -> tuple[int, str, str]:
    """Return the status, error code and error message of a platform error response."""
    error = response.json()["error"]
    return response.status_code, error["code"], error["message"]


def create_workload(api: httpx.Client, project: str = PROJECT, **overrides: Any) -> dict[str, Any]:
    """Create a workload through the API and return it, failing the test on any error."""
    response = api.post(f"/api/projects/{project}/workloads", json=workload_body(**overrides))
    assert response.status_code == 201, response.text
    return response.json()


@dataclass
class StreamReading:
    """What a client read from one readiness stream before it closed or timed out."""

    events: list[dict[str, Any]] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)
    closed: bool = False

    @property
    def phases(self) -> list[str]:
        return [event["phase"] for event in self.events]

    @property
    def dropped(self) -> bool:
        """Tell whether the server closed the stream before a terminal frame."""
        return self.closed and (not self.phases or self.phases[-1] not in ("ready", "error"))


def read_readiness(
    client: httpx.Client,
    project: str,
    slug: str,
    max_seconds: float = STREAM_TIMEOUT_SECONDS,
    reading: StreamReading | None = None,
) -> StreamReading:
    """Read one readiness stream until the server closes it or ``max_seconds`` pass.

    Pass ``reading`` to watch the events arrive from another thread.
    """
    reading = StreamReading() if reading is None else reading
    deadline = time.monotonic() + max_seconds
    url = f"/api/projects/{project}/workloads/{slug}/readiness-events"
    with client.stream("GET", url, timeout=httpx.Timeout(STREAM_TIMEOUT_SECONDS, read=max_seconds)) as response:
        assert response.status_code == 200, response.read().decode()
        assert response.headers["content-type"].startswith("text/event-stream")
        try:
            for line in response.iter_lines():
                if line.startswith("data: "):
                    reading.events.append(json.loads(line.removeprefix("data: ")))
                elif line.startswith(":"):
                    reading.comments.append(line)
                if time.monotonic() > deadline:
                    return reading
        except httpx.ReadTimeout:
            # Nothing arrived within max_seconds, so the stream is still open.
            return reading
        reading.closed = True
    return reading
