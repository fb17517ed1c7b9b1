"""State shared by the handlers of one server, and the request helpers they all use."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request

from .auth import authenticate
from .backend import Credential, LocalBackend
from .exceptions import MalformedBody
from .faults import FaultInjector
from .middleware import RequestLog

# Seconds between SSE comments sent while a readiness stream waits for a phase change.
DEFAULT_KEEP_ALIVE_INTERVAL = 5.0


@dataclass
class PlatformContext:
    """Everything one running local platform shares between requests."""

    backend: LocalBackend
    faults: FaultInjector
    request_log: RequestLog = field(default_factory=RequestLog)
    keep_alive_interval: float = DEFAULT_KEEP_ALIVE_INTERVAL
    # Set when the server shuts down, so open streams end instead of holding it up.
    stopping: threading.Event = field(default_factory=threading.Event)


def platform_of(request: Request) -> PlatformContext:
    return request.app.state.platform


def authenticate_request(request: Request) -> Credential:
    """Return the credential of the request's bearer token, or raise Unauthenticated."""
    return authenticate(platform_of(request).backend, request.headers.get("authorization"))


async def read_json(request: Request) -> Any:
    """Return the parsed JSON body, raising MalformedBody when it is empty or invalid."""
    body = await request.body()
    if not body.strip():
        raise MalformedBody("the request body is empty; send a JSON object")
    try:
        return json.loads(body)
    except ValueError as exc:
        raise MalformedBody(f"the request body is not valid JSON: {exc}") from None
