"""Injected faults: latency, and 429 or 503 responses decided before any effect, reproducible from a seed."""

from __future__ import annotations

import time

import httpx
import pytest
from local_helpers import PROJECT, bearer, create_workload, error_of, workload_body

from pulumi_inferencekey.local import LocalControlPlane
from pulumi_inferencekey.local.faults import FaultInjector, FaultSettings

LIST_PATH = f"/api/projects/{PROJECT}/workloads"
FAULT_SEED = 11


def expected_statuses(error_rate: float, seed: int, count: int) -> list[int]:
    injector = FaultInjector(FaultSettings(error_rate=error_rate, seed=seed))
    statuses = []
    for _ in range(count):
        fault = injector.request_fault()
        statuses.append(200 if fault is None else fault.status)
    return statuses


def list_statuses(control_plane: LocalControlPlane, count: int) -> list[httpx.Response]:
    token = control_plane.create_sdk_token(PROJECT)
    with httpx.Client(base_url=control_plane.base_url, headers=bearer(token)) as client:
        return [client.get(LIST_PATH) for _ in range(count)]


def test_error_rate__reproducible_from_seed() -> None:
    with LocalControlPlane(error_rate=0.3, seed=FAULT_SEED) as control_plane:
        first = list_statuses(control_plane, 40)
        control_plane.reset()
        second = list_statuses(control_plane, 40)

    expected = expected_statuses(0.3, FAULT_SEED, 40)
    assert [response.status_code for response in first] == expected
    assert [response.status_code for response in second] == expected
    assert {429, 503, 200} == set(expected)


def test_error_rate__fault_bodies() -> None:
    with LocalControlPlane(error_rate=1.0, seed=FAULT_SEED) as control_plane:
        responses = list_statuses(control_plane, 10)

    rate_limited = next(response for response in responses if response.status_code == 429)
    unavailable = next(response for response in responses if response.status_code == 503)
    assert rate_limited.headers["retry-after"] == "0"
    assert error_of(rate_limited) == (
        429,
        "rate_limited",
        "injected fault: too many requests; nothing was changed, so retrying is safe",
    )
    assert error_of(unavailable) == (
        503,
        "service_unavailable",
        "injected fault: the service is unavailable; nothing was changed, so retrying is safe",
    )


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        pytest.param("POST", LIST_PATH, workload_body(slug="second"), id="create"),
        pytest.param("PATCH", "/api/workloads/support-bot", {"description": "changed"}, id="patch"),
        pytest.param("DELETE", "/api/workloads/support-bot", None, id="delete"),
    ],
)
def test_error_rate__fault_changes_nothing(
    control_plane: LocalControlPlane, api: httpx.Client, method: str, path: str, body: dict[str, object] | None
) -> None:
    create_workload(api)
    before = control_plane.workloads(PROJECT)
    control_plane.set_faults(error_rate=1.0)

    response = api.request(method, path, json=body)

    assert response.status_code in (429, 503)
    assert control_plane.workloads(PROJECT) == before
    assert control_plane.requests[-1] == (method, path)


def test_error_rate__applies_to_data_plane(control_plane: LocalControlPlane, api: httpx.Client) -> None:
    create_workload(api)
    key = control_plane.create_api_key(PROJECT)
    control_plane.set_faults(error_rate=1.0)

    response = httpx.post(
        f"{control_plane.base_url}/endpoint/{PROJECT}/support-bot/v1/chat/completions",
        json={"messages": [{"role": "user", "content": "hi"}]},
        headers=bearer(key),
    )

    assert response.status_code in (429, 503)


def test_set_faults__changes_running_server(control_plane: LocalControlPlane, api: httpx.Client) -> None:
    control_plane.set_faults(error_rate=1.0)
    faulted = api.get(LIST_PATH)
    control_plane.set_faults(error_rate=0.0)
    served = api.get(LIST_PATH)

    assert faulted.status_code in (429, 503)
    assert served.status_code == 200


@pytest.mark.parametrize("plane", ["control", "data"])
def test_latency__delays_each_request(control_plane: LocalControlPlane, api: httpx.Client, plane: str) -> None:
    create_workload(api)
    key = control_plane.create_api_key(PROJECT)
    control_plane.set_faults(latency=0.2)

    started = time.monotonic()
    if plane == "control":
        response = api.get(LIST_PATH)
    else:
        response = httpx.post(
            f"{control_plane.base_url}/endpoint/{PROJECT}/support-bot/v1/chat/completions",
            json={"messages": [{"role": "user", "content": "hi"}]},
            headers=bearer(key),
        )
    elapsed = time.monotonic() - started

    assert response.status_code == 200
    assert 0.2 <= elapsed < 2.0


def test_reset_route__never_faulted_nor_recorded(control_plane: LocalControlPlane, api: httpx.Client) -> None:
    create_workload(api)
    control_plane.set_faults(error_rate=1.0, latency=0.5)

    started = time.monotonic()
    response = httpx.post(f"{control_plane.base_url}/_local/reset")

    assert response.status_code == 204
    assert time.monotonic() - started < 0.5
    assert control_plane.requests == []
    assert control_plane.workloads(PROJECT) == []


def test_reset__restores_constructor_faults(control_plane: LocalControlPlane, api: httpx.Client) -> None:
    control_plane.set_faults(error_rate=1.0, latency=0.1, drop_streams=True)
    control_plane.ready_after = 9.0

    control_plane.reset()

    token = control_plane.create_sdk_token(PROJECT)
    assert api.get(LIST_PATH, headers=bearer(token)).status_code == 200
    assert control_plane.ready_after == 0.0


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        pytest.param({"error_rate": 1.5}, "error_rate must be a fraction between 0 and 1, got 1.5", id="error-rate"),
        pytest.param({"latency": -1.0}, "latency must be 0 or more seconds, got -1.0", id="latency"),
    ],
)
def test_fault_settings__invalid(settings: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=f"^{message}$"):
        LocalControlPlane(**settings)
