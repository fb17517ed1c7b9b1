"""Server-side validation of workload create and patch bodies, as the platform does it.

Every failure raises InvalidField naming the offending field, so clients can show it.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError

from pulumi_inferencekey.models import (
    BUILTIN_BACKENDS,
    COMMAND_BACKENDS,
    EXECUTION_POLICIES,
    PATCHABLE_FIELDS,
    TASK_TYPES,
    VLLM_BACKENDS,
    PolicyConfigError,
    WorkloadCreate,
    WorkloadPatch,
    canonical_slug,
    is_valid_backend,
    normalize_policy_config,
)

from .exceptions import InvalidField, MalformedBody

CREATE_FIELDS = tuple(WorkloadCreate.model_fields)
# The workload's identity and modality are fixed at creation.
UNPATCHABLE_FIELDS = ("slug", "task_type")
REQUIRED_FIELDS = ("name", "backend", "model_name")
# Backends whose server manages the launch line itself.
NO_COMMAND_BACKENDS = frozenset({"ollama", "sglang"})

_PYDANTIC_MESSAGES = {
    "missing": "is required",
    "string_too_short": "must not be empty",
    "string_type": "must be a string",
    "dict_type": "must be a JSON object",
}


def parse_create_body(body: Any) -> dict[str, Any]:
    """Validate a create body and return the workload's fields, slug canonicalised.

    Fields the body leaves out come back as None, except ``task_type`` which
    defaults to ``text2text`` like on the platform.
    """
    _require_object(body)
    _reject_unknown_fields(body, CREATE_FIELDS)
    fields = _validate_types(WorkloadCreate, body).model_dump()

    fields["slug"] = _derive_slug(fields.pop("slug"), fields["name"])
    fields["execution_policy_config"] = validate_workload(fields)
    return fields


def parse_patch_body(body: Any) -> dict[str, Any]:
    """Validate the shape of a patch body and return only the fields it carries."""
    _require_object(body)
    for field in UNPATCHABLE_FIELDS:
        if field in body:
            raise InvalidField(field, "is not patchable; delete the workload and create it again to change it")
    _reject_unknown_fields(body, PATCHABLE_FIELDS)
    patch = _validate_types(WorkloadPatch, body)

    changes = {field: getattr(patch, field) for field in body}
    for field in REQUIRED_FIELDS:
        if field in changes and changes[field] is None:
            raise InvalidField(field, "must not be null because every workload needs one")
        if field in changes and changes[field] == "":
            raise InvalidField(field, "must not be empty")
    return changes


def validate_workload(fields: dict[str, Any]) -> dict[str, Any] | None:
    """Validate a complete workload and return its ``execution_policy_config`` in canonical form.

    A patch is validated on the workload it would produce, so changing the policy kind
    without a new ``execution_policy_config`` checks the old configuration against the
    new kind and fails, as on the platform.
    """
    backend = fields["backend"]
    if not is_valid_backend(backend):
        raise InvalidField(
            "backend",
            f"unknown backend '{backend}'; use one of {', '.join(BUILTIN_BACKENDS)} "
            "or a custom backend slug such as 'my-backend'",
        )
    if fields["task_type"] not in TASK_TYPES:
        raise InvalidField("task_type", f"unknown task type '{fields['task_type']}'; use one of {', '.join(TASK_TYPES)}")
    _validate_config(backend, fields["config"])

    policy = fields["execution_policy"]
    if policy is not None and policy not in EXECUTION_POLICIES:
        raise InvalidField(
            "execution_policy", f"unknown policy '{policy}'; use one of {', '.join(EXECUTION_POLICIES)}"
        )
    try:
        return normalize_policy_config(policy, fields["execution_policy_config"])
    except PolicyConfigError as exc:
        raise InvalidField(exc.field, exc.message) from None


def _require_object(body: Any) -> None:
    if not isinstance(body, dict):
        raise MalformedBody(f"the request body must be a JSON object, got {_json_type(body)}")


def _reject_unknown_fields(body: dict[str, Any], allowed: tuple[str, ...]) -> None:
    unknown = sorted(set(body) - set(allowed))
    if not unknown:
        return
    names = ", ".join(f"'{name}'" for name in unknown)
    noun = "field" if len(unknown) == 1 else "fields"
    raise InvalidField(unknown[0], f"unknown {noun} {names}; allowed fields: {', '.join(allowed)}")


def _validate_types(model: type[BaseModel], body: dict[str, Any]) -> BaseModel:
    try:
        return model.model_validate(body)
    except PydanticValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(part) for part in error["loc"])
        raise InvalidField(field, _PYDANTIC_MESSAGES.get(error["type"], error["msg"])) from None


def _derive_slug(slug: str | None, name: str) -> str:
    source = name if slug is None else slug
    canonical = canonical_slug(source)
    if canonical:
        return canonical
    if slug is None:
        raise InvalidField("slug", f"cannot derive a slug from name '{name}' because it has no letters or digits; set 'slug'")
    raise InvalidField("slug", f"'{slug}' has no letters or digits, so its canonical form is empty")


def _validate_config(backend: str, config: dict[str, Any] | None) -> None:
    if config is None:
        return

    if "command" in config:
        command = config["command"]
        if backend in NO_COMMAND_BACKENDS:
            raise InvalidField("config.command", f"the '{backend}' backend takes no launch command; remove it")
        if backend in COMMAND_BACKENDS and (not isinstance(command, str) or not command.strip()):
            raise InvalidField("config.command", f"must be a non-empty string for the '{backend}' backend")

    if "vllm_version" in config:
        version = config["vllm_version"]
        if backend not in VLLM_BACKENDS:
            raise InvalidField("config.vllm_version", f"applies only to the vllm and vllm-omni backends, not '{backend}'")
        if not isinstance(version, str) or not version.strip():
            raise InvalidField("config.vllm_version", "must be a non-empty string such as '0.6.3'")


def _json_type(value: Any) -> str:
    names = {list: "an array", str: "a string", int: "a number", float: "a number", bool: "a boolean"}
    return "null" if value is None else names.get(type(value), type(value).__name__)
