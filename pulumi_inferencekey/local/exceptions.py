"""Errors of the local control plane, one class per failure, each with its HTTP status.

    LocalPlatformError                      body {"error": {"code", "message"}}
    ├── BadRequest (400)
    │   ├── MalformedBody                   the body is not a JSON object
    │   ├── InvalidField                    a field fails validation; ``field`` names it
    │   └── UnsupportedTaskType             a data-plane route the workload's task type lacks
    ├── Unauthenticated (401)               missing, malformed or unknown token
    ├── Forbidden (403)
    │   ├── WrongCredentialType             ik_live_ on the control plane, ik_sdk_ on the data plane
    │   ├── ProjectScopeMismatch            the credential belongs to another project
    │   └── ScopeInsufficient               a capability scope or workload grant is missing
    ├── NotFound (404)
    │   ├── WorkloadNotFound
    │   └── RouteNotFound
    ├── MethodNotAllowed (405)
    ├── RateLimited (429)                   injected fault
    └── ServiceUnavailable (503)
        ├── WorkloadNotReady                the workload has not reached the ready phase
        ├── WorkloadFailed                  the workload ended in the error phase
        └── InjectedUnavailable             injected fault
"""

from __future__ import annotations

from typing import Any

from pulumi_inferencekey.tokens import scrub


class LocalPlatformError(Exception):
    """A failure returned to the client with ``status`` and the platform's error body.

    The message is scrubbed of tokens, because it may quote a path or a field value
    that a client filled with a token by mistake.
    """

    status = 500
    code = "internal_error"

    def __init__(self, message: str, headers: dict[str, str] | None = None) -> None:
        message = scrub(message)
        super().__init__(message)
        self.message = message
        self.headers = headers or {}

    def to_body(self) -> dict[str, Any]:
        """Return the JSON error body the platform sends."""
        return {"error": {"code": self.code, "message": self.message}}


class BadRequest(LocalPlatformError):
    """400: the request is malformed or fails server-side validation."""

    status = 400
    code = "bad_request"


class MalformedBody(BadRequest):
    """Raised when a body is not valid JSON or not a JSON object."""

    code = "malformed_body"


class InvalidField(BadRequest):
    """Raised when one field of a body fails validation. ``field`` is its dotted path."""

    code = "invalid_field"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class UnsupportedTaskType(BadRequest):
    """Raised when a data-plane route does not serve the workload's task type."""

    code = "unsupported_task_type"


class Unauthenticated(LocalPlatformError):
    """401: the token is missing, malformed or unknown."""

    status = 401
    code = "unauthenticated"


class Forbidden(LocalPlatformError):
    """403: the credential is valid but may not perform the request."""

    status = 403
    code = "forbidden"


class WrongCredentialType(Forbidden):
    """Raised for an ik_live_ key on a control route or an ik_sdk_ token on a data route."""

    code = "wrong_credential_type"


class ProjectScopeMismatch(Forbidden):
    """Raised when the credential belongs to another project than the one addressed."""

    code = "project_scope_mismatch"


class ScopeInsufficient(Forbidden):
    """Raised when a token lacks a capability scope, or a key lacks a grant for the workload."""

    code = "scope_insufficient"


class NotFound(LocalPlatformError):
    """404: the addressed resource does not exist."""

    status = 404
    code = "not_found"


class WorkloadNotFound(NotFound):
    """Raised when no workload of the project has the given id or slug."""

    def __init__(self, project: str, workload: str) -> None:
        super().__init__(f"workload '{workload}' not found in project '{project}'")


class RouteNotFound(NotFound):
    """Raised for a path that no route of the platform serves."""


class MethodNotAllowed(LocalPlatformError):
    """405: the route exists but not for this HTTP method."""

    status = 405
    code = "method_not_allowed"


class RateLimited(LocalPlatformError):
    """429: an injected fault; the request was rejected before it had any effect."""

    status = 429
    code = "rate_limited"


class ServiceUnavailable(LocalPlatformError):
    """503: transient; clients retry."""

    status = 503
    code = "service_unavailable"


class WorkloadNotReady(ServiceUnavailable):
    """Raised for inference on a workload that is still scheduling, provisioning or bootstrapping."""

    code = "workload_not_ready"


class WorkloadFailed(ServiceUnavailable):
    """Raised for inference on a workload whose readiness ended in the error phase."""

    code = "workload_failed"


class InjectedUnavailable(ServiceUnavailable):
    """An injected fault; the request was rejected before it had any effect."""
