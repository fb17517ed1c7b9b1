"""Fixtures of the client tests: a scripted server, settings pointing at it, and a client with short waits."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from scripted_server import FAST_RETRY, SDK_TOKEN, ScriptedServer

from pulumi_inferencekey.client import ControlPlaneClient
from pulumi_inferencekey.settings import Settings


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    scripted = ScriptedServer()
    scripted.start()
    yield scripted
    scripted.stop()


@pytest.fixture
def settings(server: ScriptedServer) -> Settings:
    return Settings(base_url=server.base_url, project="acme", sdk_token=SDK_TOKEN)


@pytest.fixture
def client(settings: Settings) -> Iterator[ControlPlaneClient]:
    with ControlPlaneClient(settings, retry=FAST_RETRY, timeout=2.0) as control_plane_client:
        yield control_plane_client


@pytest.fixture
def client_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG, logger="pulumi_inferencekey")
    return caplog
