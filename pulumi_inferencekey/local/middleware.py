"""ASGI middleware that records, logs, delays and fault-injects every platform request.

Paths under ``/_local/`` are test controls: they are never recorded, delayed or faulted.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pulumi_inferencekey.tokens import redact, scrub

from .faults import FaultInjector

logger = logging.getLogger("pulumi_inferencekey.local")

CONTROL_PREFIX = "/_local/"


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the server received it. ``body`` is the parsed JSON, or None."""

    method: str
    path: str
    body: Any


class RequestLog:
    """Thread-safe list of the requests served, read by tests from another thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: list[RecordedRequest] = []

    def append(self, entry: RecordedRequest) -> None:
        with self._lock:
            self._entries.append(entry)

    def entries(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


class PlatformMiddleware:
    """Record each request, log it once, add latency and inject faults before the app runs."""

    def __init__(self, app: ASGIApp, request_log: RequestLog, faults: FaultInjector) -> None:
        self.app = app
        self.request_log = request_log
        self.faults = faults

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(CONTROL_PREFIX):
            await self.app(scope, receive, send)
            return

        body = await _read_body(receive)
        self.request_log.append(RecordedRequest(scope["method"], scope["path"], _parse_json(body)))
        logged_send = _LoggingSend(scope, send)

        try:
            await self._serve(scope, _replay(body, receive), logged_send)
        finally:
            # An exception escaped before any response: the server error handler sends a 500.
            if not logged_send.logged:
                logged_send.log(500)

    async def _serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        latency = self.faults.settings.latency
        if latency > 0:
            await asyncio.sleep(latency)

        fault = self.faults.request_fault()
        if fault is not None:
            logger.debug("injecting %d %s into %s %s", fault.status, fault.code, scope["method"], scrub(scope["path"]))
            await _send_error(send, fault.status, fault.to_body(), fault.headers)
            return
        await self.app(scope, receive, send)


class _LoggingSend:
    # Logs when the response starts, so the line is written before the client can
    # read the response, and a stream is logged when it opens rather than when it ends.
    def __init__(self, scope: Scope, send: Send) -> None:
        self._scope = scope
        self._send = send
        self._started = time.monotonic()
        self.logged = False

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.log(message["status"])
        await self._send(message)

    def log(self, status: int) -> None:
        self.logged = True
        _log_request(self._scope, status, time.monotonic() - self._started)


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    # The app gets the buffered body first, then the real channel, so that a
    # streaming response still learns when the client disconnects.
    delivered = False

    async def replay() -> Message:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def _parse_json(body: bytes) -> Any:
    if not body:
        return None
    try:
        return json.loads(body)
    except ValueError:
        return None


async def _send_error(send: Send, status: int, body: dict[str, Any], headers: dict[str, str]) -> None:
    payload = json.dumps(body).encode()
    raw_headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    raw_headers += [(name.lower().encode(), value.encode()) for name, value in headers.items()]
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": payload})


def _log_request(scope: Scope, status: int, seconds: float) -> None:
    authorization = dict(scope["headers"]).get(b"authorization", b"").decode("latin-1")
    credential = redact(authorization.partition(" ")[2].strip()) if authorization else "none"
    # The path is scrubbed as well because a client may put a token in it by mistake.
    logger.info("%s %s %d %.1fms token=%s", scope["method"], scrub(scope["path"]), status, seconds * 1000, credential)
