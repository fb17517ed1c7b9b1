"""A create whose connection breaks after sending: the provider finds its workload, never makes a second.

The provider talks to a real local control plane through a transport that breaks chosen
connections, so each case is deterministic.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from reliability_support import PROJECT

import pulumi_inferencekey.provider as provider_module
from pulumi_inferencekey.client import ControlPlaneClient, RetryPolicy
from pulumi_inferencekey.errors import TransportError
from pulumi_inferencekey.provider import WorkloadProvider
from pulumi_inferencekey.settings import resolve_settings

SLUG = "support-bot"
FAST_RETRY = RetryPolicy(base_delay=0.01, max_delay=0.05, total_timeout=10.0)


class BreakingTransport(httpx.BaseTransport):
    """Forwards requests to the server, except the connections a test chooses to break.

    ``lose_create_response``: the create reaches the server, then its response is lost.
    ``cut_create``: the create's connection breaks before the server receives it.
    ``refused_lists``: how many list requests after the create fail to connect, as while
    the server restarts.
    """

    def __init__(self, *, lose_create_response: bool = False, cut_create: bool = False, refused_lists: int = 0) -> None:
        self._inner = httpx.HTTPTransport()
        self.lose_create_response = lose_create_response
        self.cut_create = cut_create
        self.refused_lists = refused_lists
        self.create_sent = False

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return self._create(request)
        if request.method == "GET" and self.create_sent and self.refused_lists > 0:
            self.refused_lists -= 1
            raise httpx.ConnectError("connection refused", request=request)
        return self._inner.handle_request(request)

    def _create(self, request: httpx.Request) -> httpx.Response:
        self.create_sent = True
        if self.cut_create:
            raise httpx.ReadError("connection reset by peer", request=request)
        response = self._inner.handle_request(request)
        if self.lose_create_response:
            response.read()
            response.close()
            raise httpx.ReadError("connection reset by peer", request=request)
        return response

    def close(self) -> None:
        self._inner.close()


@pytest.fixture
def provider_with(local_control_plane, monkeypatch) -> Iterator:
    """Return a factory of providers whose control-plane client uses the given transport."""
    token = local_control_plane.create_sdk_token(PROJECT)
    settings = resolve_settings(base_url=local_control_plane.base_url, project=PROJECT, sdk_token=token)
    monkeypatch.setenv("INFERENCEKEY_BASE_URL", local_control_plane.base_url)
    monkeypatch.setenv("INFERENCEKEY_PROJECT", PROJECT)
    monkeypatch.setenv("INFERENCEKEY_SDK_TOKEN", token)
    monkeypatch.setattr(provider_module, "LOST_CREATE_LOOKUP_PAUSE", 0.01)
    clients = []

    def factory(transport: BreakingTransport) -> WorkloadProvider:
        client = ControlPlaneClient(settings, retry=FAST_RETRY, timeout=5.0, transport=transport)
        clients.append(client)
        monkeypatch.setattr(provider_module, "shared_client", lambda _settings: client)
        return WorkloadProvider()

    yield factory

    for client in clients:
        client.close()


def checked_inputs(provider: WorkloadProvider) -> dict:
    result = provider.check({}, {"name": "Support bot", "slug": SLUG, "backend": "ollama", "model": "llama3.2"})
    assert result.failures == []
    return result.inputs


def posts(control_plane) -> list[tuple[str, str]]:
    return [request for request in control_plane.requests if request[0] == "POST"]


def test_lost_create_response_returns_created_workload(local_control_plane, provider_with):
    provider = provider_with(BreakingTransport(lose_create_response=True))

    created = provider.create(checked_inputs(provider))

    live = local_control_plane.workloads(PROJECT)
    assert [(workload["slug"], workload["id"]) for workload in live] == [(SLUG, created.id)]
    assert len(posts(local_control_plane)) == 1


def test_lost_create_response_waits_for_control_plane(local_control_plane, provider_with):
    # Seven refused lists outlast the client's five attempts of one lookup, as a control
    # plane that restarts slowly would.
    provider = provider_with(BreakingTransport(lose_create_response=True, refused_lists=7))
    inputs = checked_inputs(provider)

    created = provider.create(inputs)

    live = local_control_plane.workloads(PROJECT)
    assert [(workload["slug"], workload["id"]) for workload in live] == [(SLUG, created.id)]


def test_lost_create_response_without_control_plane_names_recovery(local_control_plane, provider_with, monkeypatch):
    monkeypatch.setattr(provider_module, "LOST_CREATE_LOOKUP_SECONDS", 0.5)
    provider = provider_with(BreakingTransport(lose_create_response=True, refused_lists=1_000))
    inputs = checked_inputs(provider)

    with pytest.raises(TransportError) as failure:
        provider.create(inputs)

    assert failure.value.outcome_unknown is True
    assert failure.value.workload == SLUG
    assert "adopt it with adopt_existing=True" in str(failure.value)
    assert [workload["slug"] for workload in local_control_plane.workloads(PROJECT)] == [SLUG]


def test_create_cut_before_server_leaves_no_workload(local_control_plane, provider_with):
    provider = provider_with(BreakingTransport(cut_create=True))
    inputs = checked_inputs(provider)

    with pytest.raises(TransportError) as failure:
        provider.create(inputs)

    assert failure.value.outcome_unknown is True
    assert local_control_plane.workloads(PROJECT) == []
    assert posts(local_control_plane) == []
