"""Inputs of the Workload resource: validation without any request, and their mapping to the wire.

``check_inputs`` is what the provider's ``check`` runs: every rule here is enforced before a
request leaves the machine, and each failure names the input and the fix.
"""

from __future__ import annotations

import math
import unicodedata
from dataclasses import dataclass
from typing import Any, Callable

from pulumi.output import Unknown
from pulumi.runtime.rpc import UNKNOWN

from .models import (
    BUILTIN_BACKENDS,
    COMMAND_BACKENDS,
    DEFAULT_TASK_TYPE,
    EXECUTION_POLICIES,
    TASK_TYPES,
    VLLM_BACKENDS,
    PolicyConfigError,
    canonical_slug,
    is_valid_backend,
    normalize_policy_config,
)
from .tokens import contains_token, looks_like_token, scrub

# Inputs that the platform stores, in the order a diff shows them.
PLATFORM_INPUTS = (
    "name",
    "description",
    "backend",
    "model",
    "command",
    "vllm_version",
    "config",
    "worker_id",
    "gpu_resource_id",
    "execution_policy",
    "execution_policy_config",
)
# Changing these makes a new workload: the slug and project are its identity, and the
# platform cannot patch task_type.
REPLACE_INPUTS = ("slug", "project", "task_type")
# Inputs that only steer the provider and never reach the platform.
LOCAL_INPUTS = ("wait_for_ready", "ready_timeout_seconds", "adopt_existing")
ALL_INPUTS = ("slug", "project", "task_type", *PLATFORM_INPUTS, *LOCAL_INPUTS)

DEFAULT_READY_TIMEOUT_SECONDS = 900.0
MAX_READY_TIMEOUT_SECONDS = 86_400.0


@dataclass(frozen=True)
class InputFailure:
    """One invalid input: the property path and a reason that explains the fix."""

    property: str
    reason: str


def is_unknown(value: Any) -> bool:
    """Tell whether a value is not known yet, as in a first preview of a dependent resource."""
    # The dynamic provider host deserializes unknowns to Unknown objects (pulumi 3.272);
    # the wire sentinel string is kept for callers that pass raw values.
    return isinstance(value, Unknown) or value == UNKNOWN


def contains_unknown(value: Any) -> bool:
    """Tell whether a value is unknown or contains an unknown value at any depth."""
    if isinstance(value, dict):
        return any(contains_unknown(child) for child in value.values())
    if isinstance(value, list):
        return any(contains_unknown(child) for child in value)
    return is_unknown(value)


def check_inputs(inputs: dict[str, Any], *, default_project: str | None) -> tuple[dict[str, Any], list[InputFailure]]:
    """Validate and normalise workload inputs; return the inputs to store and the failures.

    Unknown values are left alone, since they are checked again once they are known.
    """
    normalized = dict(inputs)
    failures: list[InputFailure] = []

    for field in inputs:
        if field not in ALL_INPUTS and not field.startswith("__"):
            failures.append(InputFailure(field, f"unknown input; the inputs are {', '.join(ALL_INPUTS)}"))

    for field, rule in _RULES.items():
        value = normalized.get(field)
        if is_unknown(value) or holds_token(value):
            continue  # checked once known; a token is reported below, without echoing it
        try:
            normalized[field] = rule(value, normalized)
        except PolicyConfigError as exc:
            failures.append(InputFailure(exc.field, f"{exc.message}. {_POLICY_HINT}"))
        except ValueError as exc:
            failures.append(InputFailure(field, str(exc)))

    if normalized.get("project") is None:
        normalized["project"] = default_project
        if default_project is None:
            failures.append(InputFailure("project", _MISSING_PROJECT))

    # A reason may quote the value it rejects; a token in it is shown only redacted.
    failures = [InputFailure(failure.property, scrub(failure.reason)) for failure in failures]
    failures.extend(_token_failures(inputs))
    return normalized, failures


# --- one rule per input ---------------------------------------------------------------

_MISSING_PROJECT = (
    "missing; pass project=... or set `pulumi config set inferencekey:project <slug>` or INFERENCEKEY_PROJECT"
)
_POLICY_HINT = (
    "Expected for 'fixed': {replicas}; 'scheduled': {cron} or {window}; 'autoscaling': min_workers, max_workers, "
    "max_hourly_cost_usd and workers {source: cloud, cloud_pool: {gpu_pool: [...]}} or {source: private, "
    "private_worker_ids: [...]}"
)


def _string(value: Any, field: str, *, required: bool) -> str | None:
    if value is None:
        if required:
            raise ValueError("missing; it is required")
        return None
    if not isinstance(value, str):
        raise ValueError(f"expected a string, got {type(value).__name__} {value!r}")
    if not value.strip():
        raise ValueError("is empty; give a non-empty string" if required else "is empty; give a non-empty string or leave it unset")
    return value


def _check_name(value: Any, inputs: dict[str, Any]) -> str | None:
    return _string(value, "name", required=True)


def _check_slug(value: Any, inputs: dict[str, Any]) -> str:
    text = _string(value, "slug", required=True) or ""
    if not text.isascii():
        # The platform turns every non-ASCII character into a dash, so 'ñandú-bot' would
        # silently become 'and-bot'.
        suggestion = canonical_slug(_ascii_fold(text)) or "support-bot"
        raise ValueError(
            f"{text!r} contains non-ASCII characters, which the platform drops from slugs; "
            f"set slug to an ASCII slug such as {suggestion!r}"
        )
    slug = canonical_slug(text)
    if not slug:
        raise ValueError(f"{value!r} has no ASCII letter or digit, so its canonical form is empty; use a slug like 'support-bot'")
    return slug


def _ascii_fold(text: str) -> str:
    # Decomposes accented letters ("ú" into "u" and an accent) and drops what is not ASCII.
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")


def _check_project(value: Any, inputs: dict[str, Any]) -> str | None:
    text = _string(value, "project", required=False)
    if text is not None and canonical_slug(text) != text:
        raise ValueError(f"{text!r} is not a project slug; use its canonical form {canonical_slug(text)!r}")
    return text


def _check_task_type(value: Any, inputs: dict[str, Any]) -> str:
    text = _string(value, "task_type", required=False) or DEFAULT_TASK_TYPE
    if text not in TASK_TYPES:
        raise ValueError(f"unknown task type {text!r}; use one of {', '.join(TASK_TYPES)}")
    return text


def _check_backend(value: Any, inputs: dict[str, Any]) -> str | None:
    text = _string(value, "backend", required=True)
    if text is not None and not is_valid_backend(text):
        raise ValueError(
            f"unknown backend {text!r}; use one of {', '.join(BUILTIN_BACKENDS)} or a custom backend slug such as 'my-backend'"
        )
    return text


def _check_model(value: Any, inputs: dict[str, Any]) -> str | None:
    return _string(value, "model", required=True)


def _check_description(value: Any, inputs: dict[str, Any]) -> str | None:
    if value == "":
        return value
    return _string(value, "description", required=False)


def _backend_specific(field: str, backends: frozenset[str], reason: str) -> Callable[[Any, dict[str, Any]], str | None]:
    """Return the rule of an optional string input that only ``backends`` take among the built-in ones.

    ``reason`` is formatted with the backend; custom backends may take any such input.
    """

    def check(value: Any, inputs: dict[str, Any]) -> str | None:
        text = _string(value, field, required=False)
        backend = inputs.get("backend")
        if text is not None and isinstance(backend, str) and backend in BUILTIN_BACKENDS and backend not in backends:
            raise ValueError(reason.format(backend=backend))
        return text

    return check


_check_command = _backend_specific(
    "command",
    COMMAND_BACKENDS,
    "the {backend!r} backend takes no launch command; remove command or use vllm, vllm-omni or llamacpp",
)
_check_vllm_version = _backend_specific(
    "vllm_version",
    VLLM_BACKENDS,
    "only the vllm and vllm-omni backends take a vLLM version, not {backend!r}; remove vllm_version",
)


def _check_config(value: Any, inputs: dict[str, Any]) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ValueError(f"expected an object of backend settings, got {type(value).__name__}")
    for key in ("command", "vllm_version"):
        if key in value and inputs.get(key) is not None:
            raise ValueError(f"{key!r} is set both in config and as the {key} input; keep one of them")
    return normalize_numbers(value)


def _check_policy(value: Any, inputs: dict[str, Any]) -> str | None:
    text = _string(value, "execution_policy", required=False)
    if text is not None and text not in EXECUTION_POLICIES:
        raise ValueError(f"unknown policy {text!r}; use one of {', '.join(EXECUTION_POLICIES)}")
    return text


def _check_policy_config(value: Any, inputs: dict[str, Any]) -> dict[str, Any] | None:
    policy = inputs.get("execution_policy")
    if is_unknown(policy) or contains_unknown(value):
        return value  # checked once every value is known
    if value is not None and policy not in EXECUTION_POLICIES and policy is not None:
        return value  # reported on execution_policy
    return normalize_policy_config(policy, value)


def _check_identifier(field: str) -> Callable[[Any, dict[str, Any]], str | None]:
    return lambda value, inputs: _string(value, field, required=False)


def _flag(default: bool) -> Callable[[Any, dict[str, Any]], bool]:
    def check(value: Any, inputs: dict[str, Any]) -> bool:
        if value is None:
            return default
        if not isinstance(value, bool):
            raise ValueError(f"expected true or false, got {type(value).__name__} {value!r}")
        return value

    return check


def _check_timeout(value: Any, inputs: dict[str, Any]) -> float:
    if value is None:
        return DEFAULT_READY_TIMEOUT_SECONDS
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"expected a number of seconds, got {value!r}")
    if not 0 < value <= MAX_READY_TIMEOUT_SECONDS:
        raise ValueError(f"{value} is out of range; use a number of seconds above 0 and at most {MAX_READY_TIMEOUT_SECONDS:.0f}")
    return float(value)


_RULES: dict[str, Callable[[Any, dict[str, Any]], Any]] = {
    "name": _check_name,
    "slug": _check_slug,
    "project": _check_project,
    "task_type": _check_task_type,
    "backend": _check_backend,
    "model": _check_model,
    "description": _check_description,
    "command": _check_command,
    "vllm_version": _check_vllm_version,
    "config": _check_config,
    "execution_policy": _check_policy,
    "execution_policy_config": _check_policy_config,
    "worker_id": _check_identifier("worker_id"),
    "gpu_resource_id": _check_identifier("gpu_resource_id"),
    "wait_for_ready": _flag(default=True),
    "ready_timeout_seconds": _check_timeout,
    "adopt_existing": _flag(default=False),
}


_TOKEN_IN_INPUT = (
    "contains an InferenceKey token, which would be stored in the Pulumi state and sent to the platform in clear. "
    "Remove it: the SDK token belongs in `pulumi config set --secret inferencekey:sdkToken` or INFERENCEKEY_SDK_TOKEN, "
    "and an ik_live_ key in the secret store of the code that calls the endpoint"
)


def _token_failures(inputs: dict[str, Any]) -> list[InputFailure]:
    # The official SDK rejects specs whose strings start with a token prefix. A whole token
    # inside a longer string, such as a launch command, is rejected here as well.
    return [InputFailure(path, _TOKEN_IN_INPUT) for path, value in _walk(inputs) if holds_token(value)]


def holds_token(value: Any) -> bool:
    """Tell whether a value is a string that starts with a token prefix or contains a whole token."""
    return looks_like_token(value) or (isinstance(value, str) and contains_token(value))


def _walk(value: Any, path: str = "") -> list[tuple[str, Any]]:
    if isinstance(value, dict):
        return [item for key, child in value.items() if not str(key).startswith("__")
                for item in _walk(child, f"{path}.{key}" if path else str(key))]
    if isinstance(value, list):
        return [item for index, child in enumerate(value) for item in _walk(child, f"{path}[{index}]")]
    return [(path, value)]


def normalize_numbers(value: Any) -> Any:
    """Turn integral floats into ints, recursively: the engine sends every number as a float."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: normalize_numbers(child) for key, child in value.items()}
    if isinstance(value, list):
        return [normalize_numbers(child) for child in value]
    return value


# --- mapping to and from the wire -------------------------------------------------------


def wire_config(inputs: dict[str, Any]) -> dict[str, Any] | None:
    """Return the platform's ``config`` object: the config input plus command and vllm_version."""
    config = dict(inputs.get("config") or {})
    for key in ("command", "vllm_version"):
        if inputs.get(key) is not None:
            config[key] = inputs[key]
    return config or None


def wire_fields(inputs: dict[str, Any]) -> dict[str, Any]:
    """Return the patchable platform fields that the inputs set, in wire names."""
    return {
        "name": inputs.get("name"),
        "description": inputs.get("description"),
        "backend": inputs.get("backend"),
        "model_name": inputs.get("model"),
        "config": wire_config(inputs),
        "worker_id": inputs.get("worker_id"),
        "gpu_resource_id": inputs.get("gpu_resource_id"),
        "execution_policy": inputs.get("execution_policy"),
        "execution_policy_config": inputs.get("execution_policy_config"),
    }


def live_inputs(record: dict[str, Any], declared: dict[str, Any]) -> dict[str, Any]:
    """Return the input values a live workload has, shaped like the declared inputs.

    The command and vLLM version are read back out of ``config`` when the program declared
    them as separate inputs, so the two forms compare equal.
    """
    config = dict(record.get("config") or {})
    live = {
        "name": record.get("name"),
        "slug": record.get("slug"),
        "task_type": record.get("task_type") or DEFAULT_TASK_TYPE,
        "backend": record.get("backend"),
        "model": record.get("model_name"),
        "description": record.get("description"),
        "worker_id": record.get("worker_id"),
        "gpu_resource_id": record.get("gpu_resource_id"),
        "execution_policy": record.get("execution_policy"),
        "execution_policy_config": normalize_numbers(record.get("execution_policy_config") or None),
    }
    for key in ("command", "vllm_version"):
        live[key] = config.pop(key, None) if declared.get(key) is not None or key not in (declared.get("config") or {}) else None
    live["config"] = normalize_numbers(config) or None
    return live
