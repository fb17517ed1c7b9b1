"""Readiness events of the local platform: phase order, snapshot, failures and dropped streams."""

from __future__ import annotations

import threading
import time
from typing import Callable, Iterator

import httpx
import pytest
from local_helpers import PROJECT, StreamReading, bearer, create_workload, error_of, read_readiness

from pulumi_inferencekey.local import LocalControlPlane
from pulumi_inferencekey.local.faults import FaultInjector, FaultSettings

PHASES = ["scheduling", "provisioning", "bootstrapping", "ready"]
# With this seed the first six streams drop after 1, -, 1, 2, -, 1 frames.
DROP_SEED = 4
# With this seed the first stream drops after one frame and the second after two.
EARLY_DROP_SEED = 1


def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(0.01)


def wait_for_phase(control_plane: LocalControlPlane, slug: str, phase: str) -> None:
    wait_until(lambda: {workload["slug"]: workload["phase"] for workload in control_plane.workloads(PROJECT)}[slug] == phase)


def test_readiness__phases_in_order(control_plane: LocalControlPlane, api: httpx.Client) -> None:
    control_plane.ready_after = 0.45
    create_workload(api)

    reading = read_readiness(api, PROJECT, "support-bot")

    assert reading.phases == PHASES
    assert reading.closed
    assert reading.events[2]["step"] == "load_model"
    assert reading.events[2]["message"] == "loading model 'meta-llama/Llama-3.1-8B-Instruct' with backend 'vllm'"
    assert reading.events[3]["message"] == "workload 'support-bot' is ready to serve"
    elapsed = [event["elapsed_ms"] for event in reading.events]
    assert elapsed == sorted(elapsed)
    assert 300 <= elapsed[-1] <= 2000


def test_readiness__ready_at_once(api: httpx.Client) -> None:
    create_workload(api)

    reading = read_readiness(api, PROJECT, "support-bot")

    assert reading.events == [{"phase": "ready", "message": "workload 'support-bot' is ready to serve", "elapsed_ms": 0}]
    assert reading.closed


def test_readiness__snapshot_first(control_plane: LocalControlPlane, api: httpx.Client) -> None:
    control_plane.ready_after = 0.9
    create_workload(api)
    wait_for_phase(control_plane, "support-bot", "provisioning")

    reading = read_readiness(api, PROJECT, "support-bot")

    assert reading.phases == ["provisioning", "bootstrapping", "ready"]


@pytest.mark.parametrize(
    ("model_name", "ready_after", "phases"),
    [
        pytest.param("fail/broken-model", 0.0, ["error"], id="fail-prefix"),
        pytest.param("acme/does-not-exist-7b", 0.3, ["scheduling", "provisioning", "bootstrapping", "error"], id="marker"),
    ],
)
def test_readiness__model_fails_to_load(
    control_plane: LocalControlPlane, api: httpx.Client, model_name: str, ready_after: float, phases: list[str]
) -> None:
    control_plane.ready_after = ready_after
    create_workload(api, model_name=model_name)

    reading = read_readiness(api, PROJECT, "support-bot")

    assert reading.phases == phases
    assert reading.events[-1]["step"] == "load_model"
    assert reading.events[-1]["message"] == (
        f"model '{model_name}' could not be loaded: the local control plane rejects model names "
        "containing 'does-not-exist' or starting with 'fail/'"
    )
    assert control_plane.workloads(PROJECT)[0]["phase"] == "error"


def test_readiness__keep_alive_while_waiting() -> None:
    with LocalControlPlane(ready_after=0.4, keep_alive_interval=0.05) as control_plane:
        token = control_plane.create_sdk_token(PROJECT)
        with httpx.Client(base_url=control_plane.base_url, headers=bearer(token)) as api:
            create_workload(api)

            reading = read_readiness(api, PROJECT, "support-bot")

    assert reading.phases == PHASES
    assert ": keep-alive" in reading.comments


def test_readiness__unknown_workload(api: httpx.Client) -> None:
    response = api.get(f"/api/projects/{PROJECT}/workloads/nope/readiness-events")

    assert error_of(response) == (404, "not_found", f"workload 'nope' not found in project '{PROJECT}'")


@pytest.mark.parametrize(
    ("patch", "phase"),
    [
        pytest.param({"model_name": "Qwen/Qwen2.5-7B-Instruct"}, "scheduling", id="model-redeploys"),
        pytest.param({"backend": "sglang", "config": None}, "scheduling", id="backend-redeploys"),
        pytest.param({"config": {"command": "vllm serve x"}}, "scheduling", id="config-redeploys"),
        pytest.param({"description": "cosmetic"}, "ready", id="description-keeps-ready"),
        pytest.param({"model_name": "meta-llama/Llama-3.1-8B-Instruct"}, "ready", id="same-model-keeps-ready"),
    ],
)
def test_readiness__patch_restarts_when_redeployed(
    control_plane: LocalControlPlane, api: httpx.Client, patch: dict[str, object], phase: str
) -> None:
    created = create_workload(api)
    control_plane.ready_after = 30.0

    response = api.patch(f"/api/workloads/{created['id']}", json=patch)

    assert response.status_code == 200
    assert control_plane.workloads(PROJECT)[0]["phase"] == phase


def test_readiness__stream_follows_redeploy(control_plane: LocalControlPlane, api: httpx.Client) -> None:
    control_plane.ready_after = 0.6
    created = create_workload(api)
    reading = StreamReading()
    reader = threading.Thread(target=read_readiness, args=(api, PROJECT, "support-bot"), kwargs={"reading": reading})
    reader.start()
    wait_until(lambda: "provisioning" in reading.phases)

    api.patch(f"/api/workloads/{created['id']}", json={"model_name": "Qwen/Qwen2.5-7B-Instruct"})
    reader.join(10.0)

    assert reading.phases[:2] == ["scheduling", "provisioning"]
    assert reading.phases[2:] == PHASES
    assert reading.events[-2]["message"] == "loading model 'Qwen/Qwen2.5-7B-Instruct' with backend 'vllm'"


def test_readiness__stream_closes_on_delete(control_plane: LocalControlPlane, api: httpx.Client) -> None:
    control_plane.ready_after = 30.0
    created = create_workload(api)
    reading = StreamReading()
    reader = threading.Thread(target=read_readiness, args=(api, PROJECT, "support-bot", 5.0, reading))
    reader.start()
    wait_until(lambda: bool(reading.phases))

    api.delete(f"/api/workloads/{created['id']}")
    reader.join(10.0)

    assert reading.phases == ["scheduling"]
    assert reading.dropped


@pytest.fixture
def dropping_control_plane() -> Iterator[LocalControlPlane]:
    with LocalControlPlane(ready_after=30.0, drop_streams=True, seed=DROP_SEED) as control_plane:
        yield control_plane


def read_drop_pattern(control_plane: LocalControlPlane, streams: int) -> list[bool]:
    """Open ``streams`` streams on a workload that stays in scheduling; return which ones dropped."""
    token = control_plane.create_sdk_token(PROJECT)
    with httpx.Client(base_url=control_plane.base_url, headers=bearer(token)) as api:
        create_workload(api)
        # A stream that would drop after a second frame never gets one, so it stays open.
        return [read_readiness(api, PROJECT, "support-bot", max_seconds=0.2).dropped for _ in range(streams)]


def test_drop_streams__reproducible_from_seed(dropping_control_plane: LocalControlPlane) -> None:
    injector = FaultInjector(FaultSettings(drop_streams=True, seed=DROP_SEED))
    expected = [injector.stream_drop_point() == 1 for _ in range(6)]

    first = read_drop_pattern(dropping_control_plane, 6)
    dropping_control_plane.reset()
    second = read_drop_pattern(dropping_control_plane, 6)

    assert first == expected
    assert second == expected
    assert expected == [True, False, True, False, False, True]


def test_drop_streams__off_by_default(api: httpx.Client, control_plane: LocalControlPlane) -> None:
    control_plane.ready_after = 0.3
    create_workload(api)

    readings = [read_readiness(api, PROJECT, "support-bot") for _ in range(3)]

    assert [reading.dropped for reading in readings] == [False, False, False]


def test_drop_streams__reconnect_resyncs() -> None:
    with LocalControlPlane(ready_after=0.6, drop_streams=True, seed=EARLY_DROP_SEED) as control_plane:
        token = control_plane.create_sdk_token(PROJECT)
        with httpx.Client(base_url=control_plane.base_url, headers=bearer(token)) as api:
            create_workload(api)
            readings = [read_readiness(api, PROJECT, "support-bot")]
            while readings[-1].dropped and len(readings) < 20:
                readings.append(read_readiness(api, PROJECT, "support-bot"))

    assert readings[0].dropped
    assert readings[0].phases == ["scheduling"]
    assert readings[-1].phases[-1] == "ready"
    seen = [phase for reading in readings for phase in reading.phases]
    assert [PHASES.index(phase) for phase in seen] == sorted(PHASES.index(phase) for phase in seen)
