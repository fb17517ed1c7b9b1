"""Errors of the control-plane client and the settings resolution, each with a fix hint.

    InferenceKeyError
     ├── ConfigurationError         invalid settings, raised before any request
     ├── ApiError                   the control plane responded with an error status
     │    ├── BadRequestError       400: the platform rejected a value
     │    ├── AuthenticationError   401: the token is missing, unknown or expired
     │    ├── PermissionDeniedError 403: wrong credential type, project or scope
     │    ├── NotFoundError         404: no such workload or project
     │    ├── ConflictError         409
     │    ├── RateLimitedError      429
     │    └── ServerError           5xx
     ├── TransportError             no answer: network failure or timeout after retries
     ├── ReadinessError             the workload reached phase 'error'
     └── ReadinessTimeout           the workload was not ready in time
"""

from __future__ import annotations

import re
from typing import Any

from pulumi_inferencekey.models import WorkloadCreate
from pulumi_inferencekey.tokens import redact, scrub

# How much of a non-JSON error body goes into a message: enough for a proxy's one-line
# explanation, not a whole HTML page.
_MAX_BODY_EXCERPT = 200

# A whole token, as opposed to a prefix named in a hint such as "use an ik_sdk_ token".
_WHOLE_TOKEN = re.compile(r"ik_(?:sdk|live)_[0-9a-f]{8}_[0-9a-f]{64}")
_SCOPE_IN_TEXT = re.compile(r"\b(?:workload|assignment):(?:read|write)\b")
_FIELD_AT_START = re.compile(r"^\s*'?([a-z_][a-z0-9_]*(?:\.[a-z0-9_]+)*)'?\s*:")
_QUOTED_NAME = re.compile(r"'([a-z_][a-z0-9_]*(?:\.[a-z0-9_]+)*)'")
_BODY_FIELDS = frozenset(WorkloadCreate.model_fields)


class InferenceKeyError(Exception):
    """Base class of every error this package raises about the platform or its settings.

    The message names the operation, the workload and the project, then the reason
    and a fix. A whole token in the reason or the hint is replaced by its redacted form.
    """

    default_hint = "check the settings and the workload, then run again"

    def __init__(
        self,
        reason: str,
        *,
        operation: str,
        workload: str | None = None,
        project: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.operation = operation
        self.workload = workload
        self.project = project
        self.reason = _redact_tokens(reason.strip())
        self.hint = _redact_tokens((hint if hint is not None else self._hint()).strip())
        super().__init__(self._compose())

    def _hint(self) -> str:
        return self.default_hint

    def _subject(self) -> str:
        subject = self.operation
        if self.workload:
            subject += f" {self.workload!r}"
        if self.project:
            subject += f" in project {self.project!r}"
        return subject

    def _compose(self) -> str:
        return f"{self._subject()} failed: {_end_sentence(self.reason)} Fix: {_end_sentence(self.hint)}"


class ConfigurationError(InferenceKeyError):
    """A base URL, project or token that cannot be used; no request was sent.

    ``field`` names where the value came from: a stack config key such as
    ``inferencekey:sdkToken``, an environment variable, or a resource input.
    """

    def __init__(
        self,
        field: str,
        reason: str,
        *,
        hint: str,
        operation: str = "resolve the InferenceKey settings",
        workload: str | None = None,
        project: str | None = None,
    ) -> None:
        self.field = field
        super().__init__(reason, operation=operation, workload=workload, project=project, hint=hint)

    def _compose(self) -> str:
        return f"invalid {self.field}: {_end_sentence(self.reason)} Fix: {_end_sentence(self.hint)}"


class ApiError(InferenceKeyError):
    """The control plane responded with a status other than 2xx, or with a body the client cannot read.

    ``code`` and ``server_message`` come from the platform's error body
    ``{"error": {"code": ..., "message": ...}}``; either may be None.
    """

    label = "request failed"
    default_hint = "check the request against the InferenceKey documentation, then run again"

    def __init__(
        self,
        status_code: int,
        *,
        code: str | None,
        server_message: str | None,
        operation: str,
        workload: str | None = None,
        project: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.status_code = status_code
        self.code = code
        self.server_message = scrub(server_message) if server_message else None
        super().__init__(self._reason(), operation=operation, workload=workload, project=project, hint=hint)

    def _reason(self) -> str:
        reason = f"{self.label} (HTTP {self.status_code})"
        if self.server_message:
            reason += f": {self.server_message}"
        return reason


class BadRequestError(ApiError):
    """400: the platform rejected the request body. ``field`` names the rejected field when the message does."""

    label = "bad request"

    def __init__(self, status_code: int, **kwargs: Any) -> None:
        self.field = _rejected_field(kwargs.get("server_message"))
        super().__init__(status_code, **kwargs)

    def _reason(self) -> str:
        return f"{self.label}: {self.server_message or 'the platform gave no reason'}"

    def _hint(self) -> str:
        if self.field:
            return f"correct {self.field!r} in the workload's inputs, then run again"
        return "correct the value the platform names, then run again"


class AuthenticationError(ApiError):
    """401: the platform does not accept the token (missing, unknown, malformed, expired or revoked)."""

    label = "authentication failed"
    default_hint = (
        "create a new SDK token on the dashboard's Tokens screen and set it with "
        "`pulumi config set --secret inferencekey:sdkToken <token>` or INFERENCEKEY_SDK_TOKEN"
    )

    def _reason(self) -> str:
        return f"{self.label}: {self.server_message or 'the token was not accepted'}"


class PermissionDeniedError(ApiError):
    """403: the token is valid but lacks the right to do this. ``code`` gives the reason.

    ``wrong_credential_type``: an ``ik_live_`` key on a control route.
    ``project_scope_mismatch``: the token belongs to another project.
    ``scope_insufficient``: the token lacks a capability, such as a read-only token writing.
    """

    label = "permission denied"

    def _reason(self) -> str:
        label = f"{self.label} [{self.code}]" if self.code else self.label
        return f"{label}: {self.server_message or 'the token may not do this'}"

    def _hint(self) -> str:
        if self.code == "wrong_credential_type":
            return "use an ik_sdk_ token from the dashboard's Tokens screen; ik_live_ keys can only call inference"
        if self.code == "project_scope_mismatch":
            project = repr(self.project) if self.project else "this project"
            return f"use an SDK token created for project {project}, or set inferencekey:project to the token's project"
        if self.code == "scope_insufficient":
            scope = _needed_scope(self.server_message)
            return f"use an SDK token with {scope} (a read-only token can only preview and refresh)"
        return "check the project and the scopes of the SDK token on the dashboard's Tokens screen"


class NotFoundError(ApiError):
    """404: the workload or the project does not exist, or is not visible to this token."""

    label = "not found"
    default_hint = (
        "check the project slug and that the workload still exists; "
        "run `pulumi refresh` if it was deleted outside Pulumi"
    )

    def _reason(self) -> str:
        return f"{self.label}: {self.server_message or 'no such workload or project'}"


class ConflictError(ApiError):
    """409: the request conflicts with the workload's current state on the platform."""

    label = "conflict"
    default_hint = "run `pulumi refresh` to read the workload's current state, then run again"


class RateLimitedError(ApiError):
    """429 after every retry: the platform is throttling this token."""

    label = "rate limited"
    default_hint = "wait a minute and run again, or lower the parallelism with `pulumi up --parallel 2`"


class ServerError(ApiError):
    """5xx: the platform failed; 502, 503 and 504 were retried before this was raised."""

    label = "server error"
    default_hint = "the platform is failing or unavailable; run again later, and report it if it persists"


class TransportError(InferenceKeyError):
    """No response from the control plane (connection failure, timeout or broken connection) after retries.

    ``outcome_unknown`` is True when the request may have reached the platform and been
    applied, such as a create whose connection broke after the body was sent. The caller
    must then list the workloads before creating again, or risk a duplicate.
    """

    def __init__(self, reason: str, *, outcome_unknown: bool = False, **kwargs: Any) -> None:
        self.outcome_unknown = outcome_unknown
        super().__init__(reason, **kwargs)

    def _hint(self) -> str:
        if self.outcome_unknown:
            # A refresh only reads workloads the state already has, so it cannot find one
            # whose create response was lost. The next create reports it as taken instead.
            return (
                "run `pulumi up` again once the control plane is reachable; if it reports that the slug is "
                "already taken, that workload is the one this run created: adopt it with adopt_existing=True"
            )
        return "check the network path to the control plane and the inferencekey:baseUrl setting, then run again"


class ReadinessError(InferenceKeyError):
    """The workload reached the terminal phase ``error`` while the client waited for it."""

    default_hint = (
        "read the workload's logs on the dashboard, correct the backend, model or command, "
        "then run again"
    )

    def __init__(self, message: str, *, phase: str = "error", **kwargs: Any) -> None:
        self.phase = phase
        self.message = scrub(message)
        reason = f"the workload reached phase {phase!r}: {self.message or 'the platform gave no reason'}"
        super().__init__(reason, **kwargs)


class ReadinessTimeout(InferenceKeyError):
    """The workload was not ready within ``timeout`` seconds; it still exists and keeps starting."""

    default_hint = (
        "raise ready_timeout_seconds, or set wait_for_ready to false to finish before the workload "
        "is ready; the workload was created and keeps starting"
    )

    def __init__(
        self,
        *,
        timeout: float,
        last_phase: str | None,
        last_message: str | None,
        **kwargs: Any,
    ) -> None:
        self.timeout = timeout
        self.last_phase = last_phase
        self.last_message = scrub(last_message) if last_message else last_message
        super().__init__(self._describe(), **kwargs)

    def _describe(self) -> str:
        reason = f"not ready after {self.timeout:g} s"
        if self.last_phase is None:
            return reason + "; no readiness event arrived"
        reason += f"; last phase {self.last_phase!r}"
        if self.last_message:
            reason += f" ({self.last_message})"
        return reason


_CLASS_BY_STATUS: dict[int, type[ApiError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    429: RateLimitedError,
}


def error_for_response(
    status: int,
    body: Any,
    *,
    operation: str,
    workload: str | None,
    project: str | None,
) -> ApiError:
    """Build the ApiError subclass for an error status and the response body.

    ``body`` is the decoded JSON of the response, or its raw text or bytes when it is
    not JSON. The platform's ``error.code`` and ``error.message`` are used when present.
    """
    code, server_message = _parse_error_body(body)
    error_class = _CLASS_BY_STATUS.get(status)
    if error_class is None:
        error_class = ServerError if status >= 500 else ApiError

    return error_class(
        status,
        code=code,
        server_message=server_message,
        operation=operation,
        workload=workload,
        project=project,
    )


def _redact_tokens(text: str) -> str:
    # Free text from the platform and from httpx is scrubbed once, where it enters these
    # classes or the client. This last guard catches only whole tokens, because running
    # tokens.scrub again turns a redacted "ik_sdk_1a2b3c4d…" into "ik……".
    return _WHOLE_TOKEN.sub(lambda match: redact(match.group(0)), text)


def _end_sentence(text: str) -> str:
    return text if text.endswith((".", "!", "?", "…")) else text + "."


def _parse_error_body(body: Any) -> tuple[str | None, str | None]:
    if isinstance(body, bytes):
        body = body.decode("utf-8", errors="replace")

    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        error = body["error"]
        code = error.get("code")
        message = error.get("message")
        return (str(code) if code else None), (str(message) if message else None)
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        return None, body["error"]
    if isinstance(body, str) and body.strip():
        return None, _excerpt(body)
    return None, None


def _excerpt(text: str) -> str:
    flat = " ".join(text.split())
    if len(flat) <= _MAX_BODY_EXCERPT:
        return flat
    return flat[:_MAX_BODY_EXCERPT] + "…"


def _rejected_field(message: str | None) -> str | None:
    # The platform writes either "execution_policy_config.replicas: must be >= 1" or a
    # sentence quoting the field; only names of the workload body count as fields.
    if not message:
        return None
    candidates = []
    start = _FIELD_AT_START.match(message)
    if start:
        candidates.append(start.group(1))
    candidates.extend(_QUOTED_NAME.findall(message))

    for candidate in candidates:
        if candidate.split(".")[0] in _BODY_FIELDS:
            return candidate
    return None


def _needed_scope(message: str | None) -> str:
    # Pins (worker_id, gpu_resource_id) need assignment:write; the platform names the
    # scope it wanted, and every other write needs workload:write.
    match = _SCOPE_IN_TEXT.search(message or "")
    if match and match.group(0) != "workload:read":
        return match.group(0)
    return "workload:write"
