"""Wire models of the InferenceKey control plane, shared by the provider and the local control plane.

The vocabulary (backends, task types, policies), slug canonicalisation, the validation of
``execution_policy_config`` per policy kind, and the create / patch / response bodies.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, Union

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

BUILTIN_BACKENDS = ("ollama", "vllm", "vllm-omni", "sglang", "llamacpp", "stablediffusioncpp")
TASK_TYPES = (
    "text2text",
    "embedding",
    "text2image",
    "text2video",
    "text2audio",
    "image2image",
    "image2video",
    "audio2text",
    "omni",
    "reranker",
    "classification",
    "reward",
    "forecast",
)
# These task types have no synchronous OpenAI-compatible route, only async jobs.
ASYNC_ONLY_TASK_TYPES = frozenset({"reranker", "classification", "reward"})
EXECUTION_POLICIES = ("fixed", "scheduled", "autoscaling")
DEFAULT_TASK_TYPE = "text2text"

# Backends whose config carries a launch command; the others take none.
COMMAND_BACKENDS = frozenset({"vllm", "vllm-omni", "llamacpp"})
VLLM_BACKENDS = frozenset({"vllm", "vllm-omni"})

# A custom backend is referred to by its own slug, so it must already be canonical.
_CUSTOM_BACKEND = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
_NON_ALNUM_RUN = re.compile(r"[^A-Za-z0-9]+")

# Fields a PATCH may carry. ``task_type`` is absent on purpose: the platform rejects it.
PATCHABLE_FIELDS = (
    "name",
    "description",
    "backend",
    "model_name",
    "config",
    "worker_id",
    "gpu_resource_id",
    "execution_policy",
    "execution_policy_config",
)


def canonical_slug(text: str) -> str:
    """Canonicalise a slug the way the platform does.

    Each run of characters other than ASCII letters and digits becomes one dash, the
    result is lowercased, and leading and trailing dashes are dropped, so
    ``"Gemma 4 26B (llama.cpp)"`` becomes ``gemma-4-26b-llama-cpp``. The result may be
    empty, which callers must reject.
    """
    return _NON_ALNUM_RUN.sub("-", text).lower().strip("-")


def is_valid_backend(backend: str) -> bool:
    """Tell whether ``backend`` is a built-in backend or a well-formed custom backend slug."""
    return backend in BUILTIN_BACKENDS or bool(_CUSTOM_BACKEND.match(backend))


# --- execution_policy_config -------------------------------------------------------


def _reject_bool(value: Any) -> Any:
    # pydantic's lax mode would read True as 1; a boolean replica count is a mistake.
    if isinstance(value, bool):
        raise ValueError("expected a number, not a boolean")
    return value


Count = Annotated[int, BeforeValidator(_reject_bool)]
Money = Annotated[float, BeforeValidator(_reject_bool)]


class _Strict(BaseModel):
    # Unknown keys are errors: a misspelt ``min_replicas`` must not be silently ignored.
    model_config = ConfigDict(extra="forbid")


class FixedPolicy(_Strict):
    """Configuration of the ``fixed`` policy: a constant number of replicas."""

    replicas: Count = Field(ge=1)


class ScheduledPolicy(_Strict):
    """Configuration of the ``scheduled`` policy: a cron expression or a weekly window."""

    cron: str | None = Field(default=None, min_length=1)
    window: str | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _exactly_one(self) -> "ScheduledPolicy":
        if (self.cron is None) == (self.window is None):
            raise ValueError("set exactly one of 'cron' or 'window'")
        if self.cron is not None and len(self.cron.split()) not in (5, 6):
            raise ValueError("'cron' must have 5 or 6 space-separated fields, such as '0 8 * * 1-5'")
        return self


class CloudPool(_Strict):
    """GPU choices and spending bounds of cloud workers."""

    gpu_pool: list[str] = Field(min_length=1)
    max_hourly_cost_usd: Money | None = Field(default=None, gt=0)
    max_instances: Count | None = Field(default=None, ge=1)
    allowed_cuda_versions: list[str] | None = None


class CloudWorkers(_Strict):
    """Workers the autoscaler rents from the cloud."""

    source: Literal["cloud"]
    cloud_pool: CloudPool


class PrivateWorkers(_Strict):
    """Workers the project already owns."""

    source: Literal["private"]
    private_worker_ids: list[str] = Field(min_length=1)


class AutoscalingPolicy(_Strict):
    """Configuration of the ``autoscaling`` policy, on cloud or private workers."""

    min_workers: Count = Field(ge=0)
    max_workers: Count = Field(ge=1)
    max_hourly_cost_usd: Money | None = Field(default=None, gt=0)
    workers: Annotated[Union[CloudWorkers, PrivateWorkers], Field(discriminator="source")] | None = None
    # Legacy flat form of the cloud pool; it cannot carry CUDA pins.
    gpu_pool: list[str] | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> "AutoscalingPolicy":
        if self.max_workers < self.min_workers:
            raise ValueError("'max_workers' must be at least 'min_workers'")
        private = isinstance(self.workers, PrivateWorkers)
        if not private and self.max_hourly_cost_usd is None:
            raise ValueError("cloud autoscaling needs 'max_hourly_cost_usd' (a cost cap above 0)")
        if self.workers is None and self.gpu_pool is None:
            raise ValueError("set 'workers' (cloud pool or private worker ids) or the legacy 'gpu_pool'")
        if self.workers is not None and self.gpu_pool is not None:
            raise ValueError("set 'workers' or the legacy 'gpu_pool', not both")
        return self


POLICY_MODELS: dict[str, type[_Strict]] = {
    "fixed": FixedPolicy,
    "scheduled": ScheduledPolicy,
    "autoscaling": AutoscalingPolicy,
}


class PolicyConfigError(ValueError):
    """An ``execution_policy_config`` that does not fit its policy kind."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def normalize_policy_config(policy: str | None, config: Any) -> dict[str, Any] | None:
    """Validate ``config`` for the policy kind and return it in canonical form.

    Integral floats become ints (the Pulumi engine sends every number as a float) and
    keys left unset stay absent, so two equal configurations compare equal.
    Raises PolicyConfigError naming the offending field.
    """
    if config is None:
        return None
    if policy is None:
        raise PolicyConfigError("execution_policy", "is required when execution_policy_config is set")
    if policy not in POLICY_MODELS:
        raise PolicyConfigError("execution_policy", f"unknown policy {policy!r}; use one of {', '.join(EXECUTION_POLICIES)}")
    if not isinstance(config, dict):
        raise PolicyConfigError("execution_policy_config", f"must be an object, got {type(config).__name__}")

    try:
        parsed = POLICY_MODELS[policy].model_validate(config)
    except ValidationError as exc:
        # An unknown key explains the rest (``min_replicas`` also leaves ``min_workers``
        # missing), so it is reported first.
        errors = sorted(exc.errors(), key=lambda error: error["type"] != "extra_forbidden")
        first = errors[0]
        field = "execution_policy_config" + "".join(f".{part}" for part in _field_path(first["loc"]))
        raise PolicyConfigError(field, _policy_message(policy, first)) from None
    return parsed.model_dump(exclude_none=True)


def _field_path(loc: tuple[Any, ...]) -> list[str]:
    # pydantic puts the discriminator value of a tagged union into the location
    # (``workers.cloud.cloud_pool``); users know the field as ``workers.cloud_pool``.
    path: list[str] = []
    for part in loc:
        if path and path[-1] == "workers" and part in ("cloud", "private"):
            continue
        path.append(str(part))
    return path


def _policy_message(policy: str, error: dict[str, Any]) -> str:
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        allowed = ", ".join(POLICY_MODELS[policy].model_fields)
        return f"unknown key for the {policy!r} policy; allowed keys: {allowed}"
    return message


# --- workload bodies -----------------------------------------------------------------


class WorkloadCreate(BaseModel):
    """Body of ``POST /api/projects/{project}/workloads``."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    slug: str | None = None
    description: str | None = None
    task_type: str = DEFAULT_TASK_TYPE
    backend: str = Field(min_length=1)
    model_name: str = Field(min_length=1)
    config: dict[str, Any] | None = None
    worker_id: str | None = None
    gpu_resource_id: str | None = None
    execution_policy: str | None = None
    execution_policy_config: dict[str, Any] | None = None


class WorkloadPatch(BaseModel):
    """Body of ``PATCH /api/workloads/{id}``: only the fields that change are sent."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = None
    description: str | None = None
    backend: str | None = None
    model_name: str | None = None
    config: dict[str, Any] | None = None
    worker_id: str | None = None
    gpu_resource_id: str | None = None
    execution_policy: str | None = None
    execution_policy_config: dict[str, Any] | None = None

    def to_body(self) -> dict[str, Any]:
        """Return the JSON body with only the fields the caller set, nulls included."""
        return self.model_dump(exclude_unset=True)


class WorkloadRecord(BaseModel):
    """A workload as the control plane returns it. Unknown fields are kept, not rejected."""

    model_config = ConfigDict(extra="allow")

    id: str
    project_id: str | None = None
    name: str
    slug: str
    description: str | None = None
    task_type: str = DEFAULT_TASK_TYPE
    backend: str
    model_name: str
    config: dict[str, Any] | None = None
    worker_id: str | None = None
    gpu_resource_id: str | None = None
    execution_policy: str | None = None
    execution_policy_config: dict[str, Any] | None = None
    created_at: str | None = None
    updated_at: str | None = None
    project_slug: str | None = None
    workload_slug: str | None = None

    @field_validator("config", "execution_policy_config", mode="before")
    @classmethod
    def _empty_object_is_none(cls, value: Any) -> Any:
        # The platform returns {} and null interchangeably for an unset object.
        return value or None
