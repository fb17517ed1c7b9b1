"""Waiting for readiness over Server-Sent Events: terminal phases, drops, reconnects and deadlines."""

from __future__ import annotations

import itertools
import time

import pytest
from scripted_server import Reply, event

from pulumi_inferencekey.client import ControlPlaneClient, ReadinessEvent, RetryPolicy
from pulumi_inferencekey.errors import (
    AuthenticationError,
    BadRequestError,
    NotFoundError,
    PermissionDeniedError,
    ReadinessError,
    ReadinessTimeout,
    ServerError,
)

READINESS_PATH = "/api/projects/acme/workloads/support-bot/readiness-events"


def _phases(events: list[ReadinessEvent]) -> list[str]:
    return [item.phase for item in events]


def test_wait__returns_ready_event(server, client):
    server.stream(
        event("scheduling", "finding a worker", 0),
        ": keep-alive\n\n",
        event("provisioning", "renting a GPU", 120, step="rent"),
        event("ready", "serving", 900),
    )
    seen: list[ReadinessEvent] = []

    ready = client.wait_until_ready("acme", "support-bot", timeout=5, on_event=seen.append)

    assert ready == ReadinessEvent(phase="ready", message="serving", elapsed_ms=900)
    assert _phases(seen) == ["scheduling", "provisioning", "ready"]
    assert seen[1].step == "rent"


def test_wait__sends_sse_request(server, client):
    server.stream(event("ready"))

    client.wait_until_ready("acme", "support-bot", timeout=5)

    request = server.requests[0]
    assert (request.method, request.path) == ("GET", READINESS_PATH)
    assert request.headers["Accept"] == "text/event-stream"
    assert request.headers["Authorization"].startswith("Bearer ik_sdk_")


def test_wait__error_phase_raises(server, client):
    server.stream(event("bootstrapping"), event("error", "model 'llama9' not found in registry", 300))

    with pytest.raises(ReadinessError) as caught:
        client.wait_until_ready("acme", "support-bot", timeout=5)

    assert caught.value.phase == "error"
    assert caught.value.message == "model 'llama9' not found in registry"
    assert str(caught.value).startswith(
        "wait for workload 'support-bot' in project 'acme' failed: "
        "the workload reached phase 'error': model 'llama9' not found in registry. Fix: "
    )


def test_readiness_events__stop_after_terminal(server, client):
    server.stream(event("provisioning"), event("ready"), event("provisioning"))

    events = list(client.readiness_events("acme", "support-bot", timeout=5))

    assert _phases(events) == ["provisioning", "ready"]


def test_wait__ignores_unreadable_frames(server, client):
    server.stream(
        "data: not json\n\n",
        'data: {"message": "no phase"}\n\n',
        "event: ping\ndata: \n\n",
        event("ready"),
    )
    seen: list[ReadinessEvent] = []

    client.wait_until_ready("acme", "support-bot", timeout=5, on_event=seen.append)

    assert _phases(seen) == ["ready"]


def test_wait__reconnects_after_drop_and_resyncs(server, client):
    server.stream(event("scheduling"), event("provisioning"))
    server.stream(event("provisioning", "snapshot"), event("ready"))
    seen: list[ReadinessEvent] = []

    client.wait_until_ready("acme", "support-bot", timeout=5, on_event=seen.append)

    assert _phases(seen) == ["scheduling", "provisioning", "provisioning", "ready"]
    assert server.calls() == [("GET", READINESS_PATH)] * 2


@pytest.mark.parametrize("status", [429, 502, 503, 504], ids=str)
def test_wait__retries_transient_status(server, client, status):
    server.reply(status, {"error": {"code": "busy", "message": "later"}})
    server.stream(event("ready"))

    ready = client.wait_until_ready("acme", "support-bot", timeout=5)

    assert ready.phase == "ready"
    assert len(server.requests) == 2


@pytest.mark.parametrize(
    ("status", "error_class"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (500, ServerError),
    ],
    ids=["400", "401", "403", "404", "500"],
)
def test_wait__permanent_status_ends_wait(server, client, status, error_class):
    server.reply(status, {"error": {"code": "nope", "message": "no"}})

    with pytest.raises(error_class) as caught:
        client.wait_until_ready("acme", "support-bot", timeout=5)

    assert (caught.value.operation, caught.value.workload) == ("wait for workload", "support-bot")
    assert len(server.requests) == 1


def test_wait__reconnect_delays_grow(server, settings):
    server.add(*[Reply(503)] * 3)
    server.stream(event("ready"))
    policy = RetryPolicy(reconnect_delays=(0.1, 0.2, 0.3))

    with ControlPlaneClient(settings, retry=policy) as client:
        client.wait_until_ready("acme", "support-bot", timeout=5)

    times = [request.at for request in server.requests]
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    assert len(gaps) == 3
    assert gaps[0] >= 0.1
    assert gaps[1] >= 0.2
    assert gaps[2] >= 0.3
    assert sum(gaps) < 1.2


def test_wait__keep_alives_only_time_out(server, client):
    server.stream(event("provisioning", "renting a GPU"), *[": keep-alive\n\n", 0.05] * 200)
    started = time.monotonic()

    with pytest.raises(ReadinessTimeout) as caught:
        client.wait_until_ready("acme", "support-bot", timeout=0.5)

    assert time.monotonic() - started < 1.0
    assert (caught.value.last_phase, caught.value.last_message, caught.value.timeout) == (
        "provisioning",
        "renting a GPU",
        0.5,
    )


def test_wait__silent_stream_times_out(server, client):
    server.stream(event("scheduling"), 10.0)
    started = time.monotonic()

    with pytest.raises(ReadinessTimeout) as caught:
        client.wait_until_ready("acme", "support-bot", timeout=0.4)

    assert time.monotonic() - started < 1.0
    assert caught.value.last_phase == "scheduling"


def test_wait__repeated_drops_time_out(server, client):
    server.add(*[Reply(503)] * 100)
    started = time.monotonic()

    with pytest.raises(ReadinessTimeout) as caught:
        client.wait_until_ready("acme", "support-bot", timeout=0.3)

    assert time.monotonic() - started < 0.8
    assert caught.value.last_phase is None
    assert caught.value.reason == "not ready after 0.3 s; no readiness event arrived"
