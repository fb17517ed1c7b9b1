"""A scripted HTTP server on 127.0.0.1 that plays queued replies, for exact retry and stream tests."""

from __future__ import annotations

import collections
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from pulumi_inferencekey.client import RetryPolicy

SECRET = "c0" * 32
SDK_TOKEN = f"ik_sdk_0badc0de_{SECRET}"

# Short waits, so a test that retries five times still takes a fraction of a second.
FAST_RETRY = RetryPolicy(
    max_attempts=5,
    base_delay=0.01,
    max_delay=0.05,
    total_timeout=5.0,
    reconnect_delays=(0.01, 0.02, 0.04, 0.05),
)


@dataclass(frozen=True)
class Recorded:
    """One request the scripted server received."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass(frozen=True)
class Reply:
    """A complete response, sent after ``delay`` seconds."""

    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass(frozen=True)
class Disconnect:
    """Close the connection without sending a response, after reading the request."""


@dataclass(frozen=True)
class Stream:
    """A text/event-stream response: each item is raw SSE text to send, or a pause in seconds.

    The connection closes after the last item, which a client sees as a dropped stream
    unless a terminal frame was sent.
    """

    items: tuple[str | float, ...]


class _QuietHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that timed out closes its socket while the handler still writes, so
        # broken pipes are expected here.
        pass


class ScriptedServer:
    """Plays queued replies in order to whatever requests arrive; records every request.

    A request that finds the queue empty gets a 599, so an unexpected extra request
    fails the test that made it.
    """

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self._replies: collections.deque[Reply | Disconnect | Stream] = collections.deque()
        self._lock = threading.Lock()
        self.stopping = threading.Event()
        self._httpd = _QuietHTTPServer(("127.0.0.1", 0), _make_handler(self))
        # A short poll interval keeps shutdown, and so each test's teardown, fast.
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, name="scripted-server", daemon=True
        )

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def add(self, *replies: Reply | Disconnect | Stream) -> None:
        with self._lock:
            self._replies.extend(replies)

    def reply(self, status: int, body: Any = None, *, headers: dict[str, str] | None = None, delay: float = 0.0) -> None:
        self.add(Reply(status, body, headers or {}, delay))

    def stream(self, *items: str | float) -> None:
        self.add(Stream(items))

    def record(self, request: Recorded) -> Reply | Disconnect | Stream:
        with self._lock:
            self.requests.append(request)
            if self._replies:
                return self._replies.popleft()
        return Reply(599, {"error": {"code": "unscripted", "message": f"no reply queued for {request.method} {request.path}"}})

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._replies)

    def calls(self) -> list[tuple[str, str]]:
        return [(request.method, request.path) for request in self.requests]


def _make_handler(server: ScriptedServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            recorded = Recorded(self.command, self.path, dict(self.headers.items()), body, time.monotonic())
            scripted = server.record(recorded)

            if isinstance(scripted, Disconnect):
                self.close_connection = True
                return
            if isinstance(scripted, Stream):
                self._send_stream(scripted)
                return
            self._send_reply(scripted)

        do_GET = do_POST = do_PATCH = do_DELETE = _handle

        def _send_reply(self, reply: Reply) -> None:
            if reply.delay and server.stopping.wait(reply.delay):
                return
            if reply.body is None:
                payload = b""
            elif isinstance(reply.body, bytes):
                payload = reply.body
            else:
                payload = json.dumps(reply.body).encode()

            self.send_response(reply.status)
            if payload and "Content-Type" not in reply.headers:
                self.send_header("Content-Type", "application/json")
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def _send_stream(self, stream: Stream) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            for item in stream.items:
                if isinstance(item, float):
                    if server.stopping.wait(item):
                        return
                    continue
                self.wfile.write(item.encode())
                self.wfile.flush()
            self.close_connection = True

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


def event(phase: str, message: str = "", elapsed_ms: int = 0, **extra: Any) -> str:
    """Return one SSE frame carrying a readiness event."""
    payload = {"phase": phase, "message": message, "elapsed_ms": elapsed_ms, **extra}
    return f"data: {json.dumps(payload)}\n\n"


def workload(slug: str = "support-bot", workload_id: str = "wl_1", **fields: Any) -> dict[str, Any]:
    """Return a workload as the control plane lists it."""
    record = {
        "id": workload_id,
        "project_id": "prj_1",
        "name": slug.replace("-", " ").title(),
        "slug": slug,
        "task_type": "text2text",
        "backend": "ollama",
        "model_name": "llama3.2:1b",
        "created_at": "2026-01-01T00:00:00Z",
        "updated_at": "2026-01-01T00:00:00Z",
    }
    return record | fields
