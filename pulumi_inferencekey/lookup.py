"""A read-only lookup for stacks that consume a workload they do not own."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

from .client import shared_client
from .errors import ConfigurationError, NotFoundError
from .models import WorkloadRecord, canonical_slug
from .readiness import program_settings
from .settings import PROJECT_CONFIG, PROJECT_ENV

# How many of the project's slugs a not-found error lists, so the message stays readable.
MAX_SLUGS_IN_ERROR = 10


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

    Settings come from the stack config, then the environment, as for Workload, so this
    also works outside a Pulumi program. The slug is compared in canonical form. Raises
    NotFoundError naming the slug and project when the project has no such workload.
    """
    settings = program_settings(project)
    if settings.project is None:
        raise ConfigurationError(
            "project",
            "no project is set for the workload lookup",
            hint=(
                "pass the project, as in get_workload('support-bot', project='acme-prod'), "
                f"or set the stack config {PROJECT_CONFIG} or {PROJECT_ENV}"
            ),
            operation="look up workload",
            workload=slug,
        )

    wanted = canonical_slug(slug)
    records = shared_client(settings).list_workloads(settings.project)
    record = next((record for record in records if canonical_slug(record.slug) == wanted), None)
    if record is None:
        raise _not_found(wanted, settings.project, records)

    project_slug = record.project_slug or settings.project
    return WorkloadInfo(
        workload_id=record.id,
        slug=record.slug,
        project_slug=project_slug,
        endpoint_url=f"{settings.base_url}/endpoint/{project_slug}/{record.slug}/v1",
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


def _not_found(slug: str, project: str, records: list[WorkloadRecord]) -> NotFoundError:
    slugs = sorted(record.slug for record in records)
    if not slugs:
        existing = "the project has no workloads"
    elif len(slugs) <= MAX_SLUGS_IN_ERROR:
        existing = f"the project has {', '.join(slugs)}"
    else:
        existing = f"the project has {', '.join(slugs[:MAX_SLUGS_IN_ERROR])} and {len(slugs) - MAX_SLUGS_IN_ERROR} more"

    # No request returned 404 here: the list succeeded and did not contain the slug.
    return NotFoundError(
        404,
        code="not_found",
        operation="look up workload",
        workload=slug,
        project=project,
        server_message=f"no workload has this slug ({existing})",
        hint="check the slug and the project, or deploy the stack that owns the workload first",
    )
