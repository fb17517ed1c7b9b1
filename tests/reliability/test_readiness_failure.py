"""A workload the control plane accepts but that never becomes ready: the state keeps it, no orphan.

Readiness is awaited in the program after the provider's create succeeded, so a failed wait
fails `pulumi up` with the workload already recorded in the state. One failing `pulumi up`
runs per failure kind and each test checks one property of its outcome.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pytest
from pulumi import automation as auto
from reliability_support import PROJECT, server_workloads, state_workloads

from pulumi_inferencekey import Workload
from pulumi_inferencekey.automation import inline_stack
from pulumi_inferencekey.local import LocalControlPlane

pytestmark = [pytest.mark.engine, pytest.mark.timeout(120)]

# The local control plane fails to load models whose name starts with 'fail/'.
FAILING_MODEL = "fail/llama3.2"
LOADABLE_MODEL = "llama3.2"


@dataclass(frozen=True)
class FailureKind:
    model: str
    ready_after: float
    ready_timeout_seconds: float
    expected_reason: str
    # The program change a user makes after the failure.
    fix: dict[str, Any]


FAILURE_KINDS = {
    "model-fails-to-load": FailureKind(
        model=FAILING_MODEL,
        ready_after=0.3,
        ready_timeout_seconds=30,
        expected_reason=(
            "the workload reached phase 'error': model 'fail/llama3.2' could not be loaded: the local control "
            "plane rejects model names containing 'does-not-exist' or starting with 'fail/'."
        ),
        fix={"model": LOADABLE_MODEL},
    ),
    # The first phase lasts 20 s, so the 1 s wait ends in it.
    "readiness-times-out": FailureKind(
        model=LOADABLE_MODEL,
        ready_after=60.0,
        ready_timeout_seconds=1.0,
        expected_reason="not ready after 1 s; last phase 'scheduling' (looking for a worker to run workload 'broken-bot').",
        fix={"wait": False},
    ),
}


@dataclass
class FailedUp:
    control_plane: LocalControlPlane
    stack: auto.Stack
    spec: dict[str, Any]
    error: auto.CommandError
    deployment: dict[str, Any]


def program_of(spec: dict[str, Any]):
    def program() -> None:
        broken = Workload(
            "broken-bot",
            backend="ollama",
            model=spec["model"],
            ready_timeout_seconds=spec["timeout"],
            wait_for_ready=spec.get("wait", True),
        )
        pulumi.export("endpoint_url", broken.endpoint_url)

    return program


@pytest.fixture(scope="module", params=sorted(FAILURE_KINDS), ids=sorted(FAILURE_KINDS))
def failed_up(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    kind = FAILURE_KINDS[request.param]
    control_plane = LocalControlPlane(ready_after=kind.ready_after).start()
    spec = {"model": kind.model, "timeout": kind.ready_timeout_seconds, "kind": request.param}

    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setenv("INFERENCEKEY_SDK_TOKEN", control_plane.create_sdk_token(PROJECT))
        stack = inline_stack(
            "readiness",
            request.param,
            program_of(spec),
            tmp_path_factory.mktemp(request.param),
            config={"inferencekey:baseUrl": control_plane.base_url, "inferencekey:project": PROJECT},
        )
        try:
            with pytest.raises(auto.CommandError) as failure:
                stack.up()
            yield FailedUp(control_plane, stack, spec, failure.value, stack.export_stack().deployment)
        finally:
            stack.destroy()
            control_plane.stop()


def expected_kind(failed_up: FailedUp) -> FailureKind:
    return FAILURE_KINDS[failed_up.spec["kind"]]


def test_failed_readiness_leaves_one_workload_on_server(failed_up):
    assert [workload["slug"] for workload in failed_up.control_plane.workloads(PROJECT)] == ["broken-bot"]


def test_failed_readiness_keeps_workload_in_state(failed_up):
    live = failed_up.control_plane.workloads(PROJECT)

    assert state_workloads(failed_up.deployment) == server_workloads(live)
    assert failed_up.deployment.get("pending_operations") in (None, [])


def test_failed_readiness_error_names_workload_and_reason(failed_up):
    expected = f"wait for workload 'broken-bot' in project '{PROJECT}' failed: {expected_kind(failed_up).expected_reason}"

    assert expected in str(failed_up.error)


def test_failed_readiness_error_names_fix(failed_up):
    fixes = {
        "model-fails-to-load": "Fix: read the workload's logs on the dashboard, correct the backend, model or command",
        "readiness-times-out": "Fix: raise ready_timeout_seconds, or set wait_for_ready to false",
    }

    assert fixes[failed_up.spec["kind"]] in str(failed_up.error)


# Runs last for each failure kind, because it changes the stack the other tests read.
def test_fixed_program_after_failed_readiness_keeps_workload(failed_up):
    failed_up.spec.update(expected_kind(failed_up).fix)
    before = failed_up.control_plane.workloads(PROJECT)

    result = failed_up.stack.up()

    after = failed_up.control_plane.workloads(PROJECT)
    assert result.summary.result == "succeeded"
    assert [workload["id"] for workload in after] == [workload["id"] for workload in before]
