"""Routes of the local platform and the Starlette application that serves them."""

from __future__ import annotations

import logging

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from pulumi_inferencekey.tokens import scrub

from . import dataplane, handlers
from .context import PlatformContext, platform_of
from .exceptions import LocalPlatformError, MethodNotAllowed, RouteNotFound
from .middleware import CONTROL_PREFIX, PlatformMiddleware

logger = logging.getLogger("pulumi_inferencekey.local")

ENDPOINT = "/endpoint/{project}/{workload}"


async def reset(request: Request) -> Response:
    """Wipe workloads, credentials and the request log; a test control, not a platform route."""
    platform = platform_of(request)
    platform.backend.reset()
    platform.request_log.clear()
    return Response(status_code=204)


async def health(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


ROUTES = [
    Route("/api/projects/{project}/workloads", handlers.list_workloads, methods=["GET"]),
    Route("/api/projects/{project}/workloads", handlers.create_workload, methods=["POST"]),
    Route("/api/projects/{project}/workloads/{slug}/readiness-events", handlers.readiness_events, methods=["GET"]),
    Route("/api/workloads/{workload}", handlers.update_workload, methods=["PATCH"]),
    Route("/api/workloads/{workload}", handlers.delete_workload, methods=["DELETE"]),
    Route(f"{ENDPOINT}/v1/chat/completions", dataplane.chat_completions, methods=["POST"]),
    Route(f"{ENDPOINT}/v1/embeddings", dataplane.embeddings, methods=["POST"]),
    Route(f"{ENDPOINT}/jobs", dataplane.submit_job, methods=["POST"]),
    Route(f"{CONTROL_PREFIX}reset", reset, methods=["POST"]),
    Route(f"{CONTROL_PREFIX}health", health, methods=["GET"]),
]


def create_app(platform: PlatformContext) -> Starlette:
    """Build the application serving both planes of ``platform``."""
    app = Starlette(
        routes=ROUTES,
        middleware=[Middleware(PlatformMiddleware, request_log=platform.request_log, faults=platform.faults)],
        exception_handlers={
            LocalPlatformError: _platform_error,
            HTTPException: _routing_error,
            Exception: _unexpected_error,
        },
    )
    app.state.platform = platform
    return app


async def _platform_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, LocalPlatformError)
    logger.debug("%s %s returned %d %s: %s", request.method, scrub(request.url.path), exc.status, exc.code, exc.message)
    return JSONResponse(exc.to_body(), status_code=exc.status, headers=exc.headers)


async def _routing_error(request: Request, exc: Exception) -> Response:
    # Starlette raises HTTPException for a path no route matches, or a method a route lacks.
    assert isinstance(exc, HTTPException)
    error: LocalPlatformError
    if exc.status_code == 404:
        error = RouteNotFound(f"no route for {request.method} {request.url.path}")
    elif exc.status_code == 405:
        error = MethodNotAllowed(f"{request.method} is not allowed on {request.url.path}", dict(exc.headers or {}))
    else:
        error = LocalPlatformError(exc.detail)
        error.status = exc.status_code
    return await _platform_error(request, error)


async def _unexpected_error(request: Request, exc: Exception) -> Response:
    logger.error("%s %s failed", request.method, scrub(request.url.path), exc_info=exc)
    body = {"error": {"code": "internal_error", "message": f"the local control plane failed: {type(exc).__name__}"}}
    return JSONResponse(body, status_code=500)
