"""A local control plane whose HTTP traffic is counted on the server side: requests, bytes and CPU time."""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pulumi_inferencekey.local import LocalControlPlane, control_plane
from pulumi_inferencekey.local.middleware import CONTROL_PREFIX

WRITE_METHODS = ("POST", "PATCH", "DELETE")
READINESS_SUFFIX = "/readiness-events"


@dataclass(frozen=True)
class Traffic:
    """Totals of the platform requests served, or the difference between two snapshots.

    ``bytes`` counts header names and values plus bodies in both directions, but not the
    request and status lines or chunked-encoding framing, so it slightly undercounts the wire.
    ``cpu_seconds`` is the CPU time of the server thread, which runs every handler.
    """

    lists: int = 0
    streams: int = 0
    writes: int = 0
    bytes: int = 0
    cpu_seconds: float = 0.0

    @property
    def reads(self) -> int:
        return self.lists + self.streams

    def __sub__(self, earlier: "Traffic") -> "Traffic":
        return Traffic(
            lists=self.lists - earlier.lists,
            streams=self.streams - earlier.streams,
            writes=self.writes - earlier.writes,
            bytes=self.bytes - earlier.bytes,
            cpu_seconds=self.cpu_seconds - earlier.cpu_seconds,
        )


class TrafficCounter:
    """ASGI wrapper that counts what passes between the server and the platform app, changing nothing."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._lock = threading.Lock()
        self._bytes = 0
        self.server_thread_id: int | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(CONTROL_PREFIX):
            await self.app(scope, receive, send)
            return

        self.server_thread_id = threading.get_native_id()
        size = _headers_size(scope["headers"])

        async def counting_receive() -> Message:
            nonlocal size
            message = await receive()
            size += len(message.get("body", b""))
            return message

        async def counting_send(message: Message) -> None:
            nonlocal size
            if message["type"] == "http.response.start":
                size += _headers_size(message.get("headers", []))
            elif message["type"] == "http.response.body":
                size += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, counting_receive, counting_send)
        finally:
            with self._lock:
                self._bytes += size

    def totals(self, requests: list[tuple[str, str]]) -> Traffic:
        """Return the totals so far; ``requests`` is the control plane's request log."""
        streams = sum(1 for method, path in requests if method == "GET" and path.endswith(READINESS_SUFFIX))
        lists = sum(1 for method, _ in requests if method == "GET") - streams
        writes = sum(1 for method, _ in requests if method in WRITE_METHODS)
        with self._lock:
            size = self._bytes
        return Traffic(lists, streams, writes, size, _thread_cpu_seconds(self.server_thread_id))


class CountedControlPlane:
    """A running LocalControlPlane and the counter wrapped around its app."""

    def __init__(self, platform: LocalControlPlane, counter: TrafficCounter) -> None:
        self.platform = platform
        self.counter = counter

    def traffic(self) -> Traffic:
        return self.counter.totals(self.platform.requests)


@contextlib.contextmanager
def counted_control_plane(ready_after: float = 0.0) -> Iterator[CountedControlPlane]:
    """Start a local control plane whose app is wrapped in a TrafficCounter."""
    counters: list[TrafficCounter] = []
    original = control_plane.create_app

    def create_counted_app(platform: object) -> ASGIApp:
        counters.append(TrafficCounter(original(platform)))  # type: ignore[arg-type]
        return counters[-1]

    # LocalControlPlane builds its app in start(), from the module's create_app.
    control_plane.create_app = create_counted_app  # type: ignore[assignment]
    try:
        platform = LocalControlPlane(ready_after=ready_after).start()
    finally:
        control_plane.create_app = original
    try:
        yield CountedControlPlane(platform, counters[-1])
    finally:
        platform.stop()


def _headers_size(headers: list[tuple[bytes, bytes]]) -> int:
    return sum(len(name) + len(value) for name, value in headers)


def _thread_cpu_seconds(native_id: int | None) -> float:
    """Return the user and system CPU time of a thread of this process, or 0.0 before it served a request."""
    if native_id is None:
        return 0.0
    # utime and stime are fields 14 and 15 of /proc stat, in clock ticks. After the split at
    # the parenthesised name, field 3 has index 0.
    fields = (Path("/proc/self/task") / str(native_id) / "stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
