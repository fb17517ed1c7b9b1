"""Control-plane handlers: authenticate, parse, make one backend call, serialise.

Readiness events stream as Server-Sent Events: a snapshot of the current phase, then
each later phase, until ``ready`` or ``error``.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any, AsyncIterator

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from .auth import authorize_control, require_scope
from .backend import ASSIGNMENT_WRITE, WORKLOAD_READ, WORKLOAD_WRITE, Credential, Workload
from .context import PlatformContext, authenticate_request, platform_of, read_json
from .exceptions import WorkloadNotFound
from .readiness import PhaseEvent
from .validation import parse_create_body, parse_patch_body, validate_workload

ASSIGNMENT_FIELDS = ("worker_id", "gpu_resource_id")
# How often an open readiness stream rereads its workload, in seconds.
STREAM_POLL_SECONDS = 0.05
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


async def list_workloads(request: Request) -> Response:
    project = request.path_params["project"]
    credential = authenticate_request(request)
    authorize_control(credential, project, WORKLOAD_READ, f"list the workloads of project '{project}'")

    workloads = platform_of(request).backend.list_workloads(project)
    return JSONResponse({"workloads": [workload.to_json() for workload in workloads]})


async def create_workload(request: Request) -> Response:
    project = request.path_params["project"]
    credential = authenticate_request(request)
    authorize_control(credential, project, WORKLOAD_WRITE, f"create workloads in project '{project}'")

    fields = parse_create_body(await read_json(request))
    _authorize_assignment(credential, fields, current=None)
    workload = platform_of(request).backend.create_workload(project, fields)
    return JSONResponse(workload.to_json(), status_code=201)


async def update_workload(request: Request) -> Response:
    """Apply a partial update to the workload named by id, or by slug, in the token's project."""
    credential = authenticate_request(request)
    authorize_control(credential, None, WORKLOAD_WRITE, "update workloads")
    backend = platform_of(request).backend
    workload = backend.find_workload(credential.project, request.path_params["workload"])

    changes = parse_patch_body(await read_json(request))
    normalized_policy_config = validate_workload({**_fields_of(workload), **changes})
    if "execution_policy_config" in changes:
        changes["execution_policy_config"] = normalized_policy_config
    _authorize_assignment(credential, changes, current=workload)

    updated = backend.update_workload(workload, changes)
    return JSONResponse(updated.to_json())


async def delete_workload(request: Request) -> Response:
    """Delete the workload named by id, or by slug, in the token's project.

    NOTE: the platform also tears down cloud GPUs the autoscaler provisioned; the local
    platform has none, so deleting only removes the record.
    """
    credential = authenticate_request(request)
    authorize_control(credential, None, WORKLOAD_WRITE, "delete workloads")
    backend = platform_of(request).backend

    workload = backend.find_workload(credential.project, request.path_params["workload"])
    backend.delete_workload(workload)
    return Response(status_code=204)


async def readiness_events(request: Request) -> Response:
    """Stream the readiness phases of a workload as Server-Sent Events.

    A stream whose workload is deleted meanwhile closes without a terminal frame, so a
    reconnecting client gets a 404.
    """
    project = request.path_params["project"]
    credential = authenticate_request(request)
    authorize_control(credential, project, WORKLOAD_READ, f"read the readiness of workloads in project '{project}'")

    platform = platform_of(request)
    workload = platform.backend.find_workload(project, request.path_params["slug"])
    frames = _readiness_frames(platform, workload)
    return StreamingResponse(frames, media_type="text/event-stream", headers=SSE_HEADERS)


def _authorize_assignment(credential: Credential, fields: dict[str, Any], current: Workload | None) -> None:
    # Only a request that changes a pin needs the scope, so a client that sends
    # "worker_id": null on create, or repeats the current pin, is not rejected.
    for field in ASSIGNMENT_FIELDS:
        if field not in fields:
            continue
        before = None if current is None else getattr(current, field)
        if fields[field] != before:
            require_scope(credential, ASSIGNMENT_WRITE, f"change '{field}'")


def _fields_of(workload: Workload) -> dict[str, Any]:
    names = (
        "name", "description", "task_type", "backend", "model_name", "config",
        "worker_id", "gpu_resource_id", "execution_policy", "execution_policy_config",
    )  # fmt: skip
    return {name: getattr(workload, name) for name in names}


async def _readiness_frames(platform: PlatformContext, workload: Workload) -> AsyncIterator[str]:
    opened = time.monotonic()
    drop_after = platform.faults.stream_drop_point()
    frames_sent = 0
    last_write = opened
    started_at = workload.readiness_started_at
    last: PhaseEvent = workload.readiness_at(time.time())
    pending = [last]

    while not platform.stopping.is_set():
        for event in pending:
            yield _sse_frame(event.to_payload(elapsed_ms=round((time.monotonic() - opened) * 1000)))
            frames_sent += 1
            last_write = time.monotonic()
            if event.is_terminal:
                return
            if drop_after is not None and frames_sent >= drop_after:
                return

        if time.monotonic() - last_write >= platform.keep_alive_interval:
            yield ": keep-alive\n\n"
            last_write = time.monotonic()
        await asyncio.sleep(STREAM_POLL_SECONDS)

        try:
            workload = platform.backend.find_workload(workload.project_slug, workload.id)
        except WorkloadNotFound:
            return
        pending, last, started_at = _events_since(workload, last, started_at)


def _events_since(workload: Workload, last: PhaseEvent, started_at: float) -> tuple[list[PhaseEvent], PhaseEvent, float]:
    """Return the events reached since ``last``, the newest event, and the timeline start.

    Every phase passed between two polls is returned, so no phase is skipped. A
    redeploy restarts the timeline, and then only its current phase is returned.
    """
    now = time.time()
    current = workload.readiness_at(now)
    if workload.readiness_started_at != started_at:
        return [current], current, workload.readiness_started_at
    passed = [event for event in workload.timeline() if last.index < event.index <= current.index]
    return passed, current, started_at


def _sse_frame(payload: dict[str, Any]) -> str:
    return f"data: {json.dumps(payload)}\n\n"
