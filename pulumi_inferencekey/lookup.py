"""A read-only lookup for stacks that consume a workload they do not own."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

from .errors import NotFoundError
from .client import shared_client
from .models import canonical_slug
from .readiness import program_settings


@dataclass(frozen=True)
class WorkloadInfo:
    """A workload as the control plane has it now, with its endpoint URL."""

    workload_id: str
    slug: str
    project_slug: str
    endpoint_url: str
    name: str
    task_type: str
    backend: str
    model: str
    description: Optional[str]
    config: Optional[dict[str, Any]]
    execution_policy: Optional[str]
    execution_policy_config: Optional[dict[str, Any]]
    worker_id: Optional[str]
    gpu_resource_id: Optional[str]
    created_at: Optional[str]
    updated_at: Optional[str]


def get_workload(slug: str, project: Optional[str] = None) -> WorkloadInfo:
    """Look up a workload by slug with one list call; a ``workload:read`` token is enough.

    Settings come from the stack config, then the environment, as for Workload. Raises
    NotFoundError when no workload of the project has that slug.
    """
    settings = program_settings(project)
    wanted = canonical_slug(slug)
    record = shared_client(settings).find_workload(settings.project, wanted)
    if record is None:
        raise NotFoundError(
            404,
            code="not_found",
            operation="look up workload",
            workload=wanted,
            project=settings.project,
            server_message="no workload with this slug exists",
            hint="check the slug and project (`inferencekey-local list` or the dashboard), or create the workload first",
        )

    return WorkloadInfo(
        workload_id=record.id,
        slug=record.slug,
        project_slug=record.project_slug or settings.project,
        endpoint_url=f"{settings.base_url}/endpoint/{record.project_slug or settings.project}/{record.slug}/v1",
        name=record.name,
        task_type=record.task_type,
        backend=record.backend,
        model=record.model_name,
        description=record.description,
        config=record.config,
        execution_policy=record.execution_policy,
        execution_policy_config=record.execution_policy_config,
        worker_id=record.worker_id,
        gpu_resource_id=record.gpu_resource_id,
        created_at=record.created_at,
        updated_at=record.updated_at,
    )
