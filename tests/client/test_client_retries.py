"""Which failures the client retries, how long it waits, and when it stops."""

from __future__ import annotations

import logging
import socket
import time

import httpx
import pytest
from scripted_server import FAST_RETRY, SDK_TOKEN, Disconnect, Reply, workload

from pulumi_inferencekey.client import ControlPlaneClient, RetryPolicy
from pulumi_inferencekey.errors import (
    AuthenticationError,
    BadRequestError,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    ServerError,
    TransportError,
)
from pulumi_inferencekey.models import WorkloadCreate, WorkloadPatch
from pulumi_inferencekey.settings import Settings

CREATE_BODY = WorkloadCreate(name="Support Bot", slug="support-bot", backend="ollama", model_name="llama3.2:1b")


def _error_body(code: str = "busy") -> dict:
    return {"error": {"code": code, "message": "try later"}}


@pytest.mark.parametrize("status", [429, 502, 503, 504], ids=str)
def test_list__retries_transient_status(server, client, status):
    server.reply(status, _error_body())
    server.reply(200, [workload()])

    records = client.list_workloads("acme")

    assert [record.slug for record in records] == ["support-bot"]
    assert len(server.requests) == 2


@pytest.mark.parametrize(
    ("status", "error_class"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (409, ConflictError),
        (500, ServerError),
        (501, ServerError),
    ],
    ids=["400", "401", "403", "404", "409", "500", "501"],
)
def test_list__permanent_status_not_retried(server, client, status, error_class):
    server.reply(status, _error_body("nope"))

    with pytest.raises(error_class):
        client.list_workloads("acme")

    assert len(server.requests) == 1


def test_retry__decision_logged_at_debug(server, client, client_logs):
    server.reply(503, _error_body())
    server.reply(200, [])

    client.list_workloads("acme")

    debug = [record.getMessage() for record in client_logs.records if record.levelno == logging.DEBUG]
    assert len(debug) == 1
    assert debug[0].startswith("retrying GET /api/projects/acme/workloads in ")
    assert debug[0].endswith(" s (attempt 2 of 5): status 503")


def test_retry__stops_at_max_attempts(server, settings):
    server.add(*[Reply(503, _error_body())] * 3)
    policy = RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=0.02)

    with ControlPlaneClient(settings, retry=policy) as client, pytest.raises(ServerError) as caught:
        client.list_workloads("acme")

    assert caught.value.status_code == 503
    assert len(server.requests) == 3


def test_retry__honours_retry_after_seconds(server, settings):
    server.reply(429, _error_body(), headers={"Retry-After": "1"})
    server.reply(200, [])
    policy = RetryPolicy(base_delay=0.01, max_delay=5.0)

    with ControlPlaneClient(settings, retry=policy) as client:
        client.list_workloads("acme")

    gap = server.requests[1].at - server.requests[0].at
    assert 0.95 <= gap < 2.0


def test_retry__caps_retry_after_at_max_delay(server, client):
    server.reply(503, _error_body(), headers={"Retry-After": "30"})
    server.reply(200, [])

    client.list_workloads("acme")

    gap = server.requests[1].at - server.requests[0].at
    assert gap < 0.5


def test_retry__stops_when_wait_exceeds_budget(server, settings):
    server.reply(429, _error_body(), headers={"Retry-After": "3"})
    policy = RetryPolicy(base_delay=0.01, max_delay=5.0, total_timeout=1.0)
    started = time.monotonic()

    with ControlPlaneClient(settings, retry=policy) as client, pytest.raises(RateLimitedError):
        client.list_workloads("acme")

    assert time.monotonic() - started < 0.5
    assert len(server.requests) == 1


def test_retry__total_timeout_bounds_slow_attempts(server, settings):
    server.add(Reply(200, [], delay=0.4), Reply(200, [], delay=0.4))
    policy = RetryPolicy(base_delay=0.01, max_delay=0.01, total_timeout=0.6)
    started = time.monotonic()

    with ControlPlaneClient(settings, retry=policy, timeout=0.3) as client, pytest.raises(TransportError) as caught:
        client.list_workloads("acme")

    assert time.monotonic() - started < 1.0
    assert len(server.requests) == 2
    assert isinstance(caught.value.__cause__, httpx.ReadTimeout)


@pytest.mark.parametrize("status", [429, 502, 503, 504], ids=str)
def test_create__retries_status_answered_before_acting(server, client, status):
    server.reply(status, _error_body())
    server.reply(201, workload())

    record = client.create_workload("acme", CREATE_BODY)

    assert record.id == "wl_1"
    assert server.calls() == [("POST", "/api/projects/acme/workloads")] * 2


def test_create__not_retried_after_disconnect(server, client):
    server.add(Disconnect())

    with pytest.raises(TransportError) as caught:
        client.create_workload("acme", CREATE_BODY)

    assert caught.value.outcome_unknown is True
    assert isinstance(caught.value.__cause__, httpx.RemoteProtocolError)
    assert "so the workload may have been created" in caught.value.reason
    assert len(server.requests) == 1


def test_create__not_retried_after_read_timeout(server, settings):
    server.reply(201, workload(), delay=1.0)

    with ControlPlaneClient(settings, retry=FAST_RETRY, timeout=0.2) as client, pytest.raises(TransportError) as caught:
        client.create_workload("acme", CREATE_BODY)

    assert caught.value.outcome_unknown is True
    assert isinstance(caught.value.__cause__, httpx.ReadTimeout)
    assert len(server.requests) == 1


def test_create__retried_after_connect_error():
    transport = _CountingTransport()
    settings = Settings(base_url=f"http://127.0.0.1:{_closed_port()}", project="acme", sdk_token=SDK_TOKEN)

    with ControlPlaneClient(settings, retry=FAST_RETRY, transport=transport) as client:
        with pytest.raises(TransportError) as caught:
            client.create_workload("acme", CREATE_BODY)

    assert caught.value.outcome_unknown is False
    assert isinstance(caught.value.__cause__, httpx.ConnectError)
    assert "after 5 attempts" in caught.value.reason
    assert transport.calls == 5


@pytest.mark.parametrize(
    ("method", "reply"),
    [("PATCH", Reply(200, workload())), ("DELETE", Reply(204))],
    ids=["patch", "delete"],
)
def test_idempotent_write__retried_after_disconnect(server, client, method, reply):
    server.add(Disconnect(), reply)

    if method == "PATCH":
        client.update_workload("acme", "wl_1", WorkloadPatch(name="x"))
    else:
        client.delete_workload("acme", "wl_1")

    assert server.calls() == [(method, "/api/workloads/wl_1")] * 2


def test_list__retried_after_read_timeout(server, settings):
    server.add(Reply(200, [], delay=1.0), Reply(200, [workload()]))

    with ControlPlaneClient(settings, retry=FAST_RETRY, timeout=0.2) as client:
        records = client.list_workloads("acme")

    assert len(records) == 1
    assert len(server.requests) == 2


def test_transport_error__names_base_url_and_attempts(server, settings):
    server.add(*[Disconnect()] * 2)
    policy = RetryPolicy(max_attempts=2, base_delay=0.01, max_delay=0.01)

    with ControlPlaneClient(settings, retry=policy) as client, pytest.raises(TransportError) as caught:
        client.list_workloads("acme")

    assert caught.value.reason.startswith(f"no response from the control plane at {settings.base_url} after 2 attempts")
    assert caught.value.outcome_unknown is False


class _CountingTransport(httpx.HTTPTransport):
    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        return super().handle_request(request)


def _closed_port() -> int:
    # Bind and close at once: nothing listens there for the short life of the test.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
