"""`pulumi up` of many workloads converges in one run while the control plane injects faults.

One `pulumi up` runs per module and each test checks one property of its outcome.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

import pulumi
import pytest
from pulumi import automation as auto
from reliability_support import PROJECT, fleet_slugs, server_workloads, state_workloads

from pulumi_inferencekey import Workload
from pulumi_inferencekey.automation import inline_stack
from pulumi_inferencekey.local import LocalControlPlane

pytestmark = [pytest.mark.engine, pytest.mark.timeout(180)]

FLEET_SIZE = 20
_INJECTED = re.compile(r"^injecting (\d{3}) ")


@dataclass
class FaultyRun:
    control_plane: LocalControlPlane
    result: auto.UpResult
    deployment: dict[str, Any]
    injected: Counter[int]


class _InjectedFaults(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.statuses: Counter[int] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        match = _INJECTED.match(record.getMessage())
        if match:
            self.statuses[int(match.group(1))] += 1


def fleet_program() -> None:
    for slug in fleet_slugs(FLEET_SIZE):
        workload = Workload(slug, backend="ollama", model="llama3.2", ready_timeout_seconds=60)
        pulumi.export(slug, workload.endpoint_url)


@pytest.fixture(scope="module")
def faulty_run(tmp_path_factory: pytest.TempPathFactory):
    # One request in ten fails with 429 or 503 before it takes effect, every request
    # waits 0.2 s, and half the readiness streams close before their last phase.
    control_plane = LocalControlPlane(error_rate=0.1, latency=0.2, drop_streams=True, seed=7, ready_after=0.5).start()
    server_log = logging.getLogger("pulumi_inferencekey.local")
    faults = _InjectedFaults()
    previous_level = server_log.level
    server_log.setLevel(logging.DEBUG)
    server_log.addHandler(faults)

    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setenv("INFERENCEKEY_SDK_TOKEN", control_plane.create_sdk_token(PROJECT))
        stack = inline_stack(
            "fleet",
            "faults",
            fleet_program,
            tmp_path_factory.mktemp("faults"),
            config={"inferencekey:baseUrl": control_plane.base_url, "inferencekey:project": PROJECT},
        )
        try:
            result = stack.up()
            server_log.removeHandler(faults)
            yield FaultyRun(control_plane, result, stack.export_stack().deployment, faults.statuses)
        finally:
            server_log.removeHandler(faults)
            server_log.setLevel(previous_level)
            control_plane.set_faults(latency=0.0, error_rate=0.0, drop_streams=False)
            stack.destroy()
            control_plane.stop()


def test_faulty_up_succeeds_in_one_run(faulty_run):
    assert faulty_run.result.summary.result == "succeeded"
    assert faulty_run.result.summary.resource_changes == {"create": FLEET_SIZE + 1}


def test_faulty_up_exports_every_endpoint(faulty_run):
    base = f"{faulty_run.control_plane.base_url}/endpoint/{PROJECT}"
    outputs = {name: output.value for name, output in faulty_run.result.outputs.items()}

    assert outputs == {slug: f"{base}/{slug}/v1" for slug in fleet_slugs(FLEET_SIZE)}


def test_faulty_up_creates_each_workload_once(faulty_run):
    live = faulty_run.control_plane.workloads(PROJECT)

    # A slug the server disambiguated would read 'fleet-00-1' and break this equality.
    assert sorted(workload["slug"] for workload in live) == fleet_slugs(FLEET_SIZE)
    assert [workload["phase"] for workload in live] == ["ready"] * FLEET_SIZE


def test_faulty_up_state_matches_server(faulty_run):
    live = faulty_run.control_plane.workloads(PROJECT)

    assert state_workloads(faulty_run.deployment) == server_workloads(live)
    assert faulty_run.deployment.get("pending_operations") in (None, [])


def test_faulty_up_met_every_fault_kind(faulty_run):
    streams = [path for method, path in faulty_run.control_plane.requests if path.endswith("/readiness-events")]

    assert faulty_run.injected[429] > 0
    assert faulty_run.injected[503] > 0
    # A dropped or refused readiness stream makes the program connect again.
    assert len(streams) > FLEET_SIZE
