"""Fixtures of the local control plane tests, which all go through real HTTP."""

from __future__ import annotations

from typing import Iterator

import httpx
import pytest
from local_helpers import PROJECT, STREAM_TIMEOUT_SECONDS, bearer

from pulumi_inferencekey.local import LocalControlPlane


@pytest.fixture
def control_plane(local_control_plane: LocalControlPlane) -> LocalControlPlane:
    return local_control_plane


@pytest.fixture
def sdk_token(control_plane: LocalControlPlane) -> str:
    return control_plane.create_sdk_token(PROJECT)


@pytest.fixture
def api(control_plane: LocalControlPlane, sdk_token: str) -> Iterator[httpx.Client]:
    """An HTTP client of the control plane, authenticated with a full ik_sdk_ token of PROJECT."""
    with httpx.Client(base_url=control_plane.base_url, headers=bearer(sdk_token), timeout=STREAM_TIMEOUT_SECONDS) as client:
        yield client
