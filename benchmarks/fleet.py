"""Pulumi programs of N resources for the benchmarks: workloads, engine floors, and a provider-side wait.

The engine's dynamic-provider process imports this module to run ProviderWaitProvider,
so the benchmark puts the project root on that process's PYTHONPATH.
"""

from __future__ import annotations

from typing import Any, Callable

from pulumi.dynamic import CreateResult, Resource

from pulumi_inferencekey import Workload
from pulumi_inferencekey.inputs import ALL_INPUTS, DEFAULT_READY_TIMEOUT_SECONDS
from pulumi_inferencekey.noop import Noop, NoopProvider
from pulumi_inferencekey.provider import WorkloadProvider
from pulumi_inferencekey.workload import COMPUTED_OUTPUTS

MODEL = "Qwen/Qwen2.5-7B-Instruct"
COMMAND = f"vllm serve {MODEL} --max-model-len 8192"
# The local control plane ends the readiness of this model in the error phase.
FAILING_MODEL = "fail/missing-weights"


def workload_spec(index: int, model: str = MODEL) -> dict[str, Any]:
    """Return the inputs of the index-th workload of a fleet, all alike but the name."""
    return {
        "backend": "vllm",
        "model": model,
        "command": COMMAND,
        "description": f"benchmark workload {index}",
        "execution_policy": "fixed",
        "execution_policy_config": {"replicas": 1},
    }


def workload_fleet(size: int, failing: frozenset[int] = frozenset()) -> Callable[[], None]:
    """Return a program of ``size`` Workloads that wait for readiness; indexes in ``failing`` never get ready."""

    def program() -> None:
        for index in range(size):
            model = FAILING_MODEL if index in failing else MODEL
            Workload(f"bench-{index}", wait_for_ready=True, **workload_spec(index, model))

    return program


def noop_fleet(size: int) -> Callable[[], None]:
    """Return a program of ``size`` Noop resources: the engine floor of a fleet of the same size."""

    def program() -> None:
        for index in range(size):
            Noop(f"floor-{index}", value=f"benchmark value {index}")

    return program


def wide_noop_fleet(size: int) -> Callable[[], None]:
    """Return a program of ``size`` WideNoop resources: the engine floor of resources shaped like Workload."""

    def program() -> None:
        for index in range(size):
            WideNoop(f"wide-{index}", workload_spec(index))

    return program


def provider_wait_fleet(size: int) -> Callable[[], None]:
    """Return a program of ``size`` workloads whose provider waits for readiness inside create."""

    def program() -> None:
        for index in range(size):
            ProviderWaitWorkload(f"bench-{index}", workload_spec(index))

    return program


class WideNoop(Resource):
    """A Noop resource with the properties of a Workload, so that Pulumi tracks as many outputs for it.

    The Pulumi Python SDK creates one Output per property, and its cost grows with their number.
    """

    def __init__(self, name: str, spec: dict[str, Any]) -> None:
        props = {field: None for field in (*ALL_INPUTS, *COMPUTED_OUTPUTS)}
        props.update(name=name, slug=name, **spec)
        super().__init__(NoopProvider(), name, props)


class ProviderWaitProvider(WorkloadProvider):
    """The Workload provider with readiness awaited in create, the design this package avoids.

    The engine calls create from the dynamic provider's thread pool of four, so each wait
    blocks one of the four threads until its workload is ready.
    """

    def create(self, props: dict[str, Any]) -> CreateResult:
        result = super().create(props)

        client, settings = self._client(props.get("project"))
        client.wait_until_ready(settings.project, props["slug"], timeout=float(props["ready_timeout_seconds"]))
        return result


class ProviderWaitWorkload(Resource):
    """A workload managed by ProviderWaitProvider, with the inputs that Workload would send."""

    def __init__(self, name: str, spec: dict[str, Any]) -> None:
        props = {
            "name": name,
            "slug": name,
            "wait_for_ready": True,
            "ready_timeout_seconds": DEFAULT_READY_TIMEOUT_SECONDS,
            "adopt_existing": False,
            **spec,
            **{output: None for output in COMPUTED_OUTPUTS},
        }
        super().__init__(ProviderWaitProvider(), name, props)
