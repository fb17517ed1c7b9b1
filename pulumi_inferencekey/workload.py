"""The Workload resource: typed inputs, the dynamic resource, and its outputs."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Mapping, Optional

import pulumi
from pulumi.dynamic import Resource

from .inputs import DEFAULT_READY_TIMEOUT_SECONDS
from .provider import WorkloadProvider
from .readiness import readiness_phase

# Outputs the provider computes; the rest of the outputs are the live inputs.
COMPUTED_OUTPUTS = ("workload_id", "project_slug", "endpoint_url", "created_at", "updated_at")


@dataclass
class WorkloadArgs:
    """Inputs of a Workload. Names follow the official SDK's WorkloadSpec; any may be a Pulumi Input."""

    model: pulumi.Input[str]
    backend: pulumi.Input[str]
    name: Optional[pulumi.Input[str]] = None
    slug: Optional[pulumi.Input[str]] = None
    project: Optional[pulumi.Input[str]] = None
    task_type: Optional[pulumi.Input[str]] = None
    description: Optional[pulumi.Input[str]] = None
    command: Optional[pulumi.Input[str]] = None
    vllm_version: Optional[pulumi.Input[str]] = None
    config: Optional[pulumi.Input[Mapping[str, Any]]] = None
    execution_policy: Optional[pulumi.Input[str]] = None
    execution_policy_config: Optional[pulumi.Input[Mapping[str, Any]]] = None
    worker_id: Optional[pulumi.Input[str]] = None
    gpu_resource_id: Optional[pulumi.Input[str]] = None
    wait_for_ready: pulumi.Input[bool] = True
    ready_timeout_seconds: pulumi.Input[float] = DEFAULT_READY_TIMEOUT_SECONDS
    adopt_existing: pulumi.Input[bool] = False


class Workload(Resource):
    """An InferenceKey workload, created and kept in line with the program through the control plane.

    ``endpoint_url`` is the workload's OpenAI-compatible base URL. When ``wait_for_ready``
    is true, ``endpoint_url`` and ``phase`` resolve only once the workload is ready, so a
    stack output of the URL means a workload that serves requests.

    ``adopt_existing`` lets create take over a workload that already has the slug, in
    place of Pulumi's ``import_`` option, which Python dynamic resources do not support.
    """

    workload_id: pulumi.Output[str]
    slug: pulumi.Output[str]
    project_slug: pulumi.Output[str]
    endpoint_url: pulumi.Output[str]
    phase: pulumi.Output[Optional[str]]
    created_at: pulumi.Output[str]
    updated_at: pulumi.Output[str]
    name: pulumi.Output[str]
    project: pulumi.Output[str]
    task_type: pulumi.Output[str]
    backend: pulumi.Output[str]
    model: pulumi.Output[str]
    description: pulumi.Output[Optional[str]]
    command: pulumi.Output[Optional[str]]
    vllm_version: pulumi.Output[Optional[str]]
    config: pulumi.Output[Optional[dict]]
    execution_policy: pulumi.Output[Optional[str]]
    execution_policy_config: pulumi.Output[Optional[dict]]
    worker_id: pulumi.Output[Optional[str]]
    gpu_resource_id: pulumi.Output[Optional[str]]
    wait_for_ready: pulumi.Output[bool]
    ready_timeout_seconds: pulumi.Output[float]
    adopt_existing: pulumi.Output[bool]

    def __init__(
        self,
        resource_name: str,
        *,
        model: pulumi.Input[str],
        backend: pulumi.Input[str],
        name: Optional[pulumi.Input[str]] = None,
        slug: Optional[pulumi.Input[str]] = None,
        project: Optional[pulumi.Input[str]] = None,
        task_type: Optional[pulumi.Input[str]] = None,
        description: Optional[pulumi.Input[str]] = None,
        command: Optional[pulumi.Input[str]] = None,
        vllm_version: Optional[pulumi.Input[str]] = None,
        config: Optional[pulumi.Input[Mapping[str, Any]]] = None,
        execution_policy: Optional[pulumi.Input[str]] = None,
        execution_policy_config: Optional[pulumi.Input[Mapping[str, Any]]] = None,
        worker_id: Optional[pulumi.Input[str]] = None,
        gpu_resource_id: Optional[pulumi.Input[str]] = None,
        wait_for_ready: pulumi.Input[bool] = True,
        ready_timeout_seconds: pulumi.Input[float] = DEFAULT_READY_TIMEOUT_SECONDS,
        adopt_existing: pulumi.Input[bool] = False,
        opts: Optional[pulumi.ResourceOptions] = None,
    ) -> None:
        props: dict[str, Any] = {
            # The defaults are set here because the provider never receives the resource name.
            # check canonicalises the slug, and rejects a name whose non-ASCII letters the
            # platform would drop.
            "name": name if name is not None else resource_name,
            "slug": slug if slug is not None else resource_name,
            "project": project,
            "task_type": task_type,
            "backend": backend,
            "model": model,
            "description": description,
            "command": command,
            "vllm_version": vllm_version,
            "config": config,
            "execution_policy": execution_policy,
            "execution_policy_config": execution_policy_config,
            "worker_id": worker_id,
            "gpu_resource_id": gpu_resource_id,
            "wait_for_ready": wait_for_ready,
            "ready_timeout_seconds": ready_timeout_seconds,
            "adopt_existing": adopt_existing,
            **{output: None for output in COMPUTED_OUTPUTS},
        }
        super().__init__(WorkloadProvider(), resource_name, props, opts)

        # Readiness is awaited here, in the program, and not in the provider's create: the
        # provider serves the engine from four threads, so waiting there would serialise
        # creates in batches of four.
        stored_url = self.endpoint_url
        self.phase = readiness_phase(self)
        self.endpoint_url = pulumi.Output.all(stored_url, self.phase).apply(lambda values: values[0])

    @classmethod
    def from_args(cls, resource_name: str, args: WorkloadArgs, opts: Optional[pulumi.ResourceOptions] = None) -> "Workload":
        """Create a Workload from a WorkloadArgs, as platform modules that pass typed config do."""
        # Not dataclasses.asdict: it deep-copies values, and Outputs must pass through as they are.
        return cls(resource_name, **{field.name: getattr(args, field.name) for field in fields(args)}, opts=opts)
