"""Messages, attributes and the status-to-class mapping of the typed errors."""

from __future__ import annotations

import pytest

from pulumi_inferencekey.errors import (
    ApiError,
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    ReadinessError,
    ReadinessTimeout,
    ServerError,
    TransportError,
    error_for_response,
)

SECRET = "9f" * 32
SDK_TOKEN = f"ik_sdk_1a2b3c4d_{SECRET}"


def _error(status: int, body: object = None, **names: str | None) -> ApiError:
    names = {"operation": "create workload", "workload": "support-bot", "project": "acme"} | names
    return error_for_response(status, body, **names)


def _body(code: str, message: str) -> dict:
    return {"error": {"code": code, "message": message}}


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (409, ConflictError),
        (429, RateLimitedError),
        (500, ServerError),
        (501, ServerError),
        (502, ServerError),
        (503, ServerError),
        (504, ServerError),
        (405, ApiError),
        (418, ApiError),
        (302, ApiError),
    ],
    ids=lambda value: str(value) if isinstance(value, int) else value.__name__,
)
def test_error_for_response__class_by_status(status, expected):
    error = _error(status)

    assert type(error) is expected
    assert error.status_code == status


def test_error_for_response__reads_code_and_message():
    error = _error(409, _body("slug_taken", "slug 'support-bot' is taken"))

    assert error.code == "slug_taken"
    assert error.server_message == "slug 'support-bot' is taken"


def test_scope_insufficient__full_message():
    error = _error(403, _body("scope_insufficient", "token lacks workload:write"))

    assert str(error) == (
        "create workload 'support-bot' in project 'acme' failed: "
        "permission denied [scope_insufficient]: token lacks workload:write. "
        "Fix: use an SDK token with workload:write (a read-only token can only preview and refresh)."
    )


def test_scope_insufficient__hint_names_assignment_scope():
    error = _error(403, _body("scope_insufficient", "pinning a worker needs assignment:write"))

    assert error.hint == "use an SDK token with assignment:write (a read-only token can only preview and refresh)"


@pytest.mark.parametrize(
    ("code", "hint_part"),
    [
        ("wrong_credential_type", "use an ik_sdk_ token"),
        ("project_scope_mismatch", "use an SDK token created for project 'acme'"),
        ("something_new", "check the project and the scopes"),
    ],
    ids=["wrong-credential-type", "project-scope-mismatch", "unknown-code"],
)
def test_permission_denied__hint_by_code(code, hint_part):
    error = _error(403, _body(code, "no"))

    assert f"permission denied [{code}]: no." in str(error)
    assert hint_part in error.hint


def test_permission_denied__without_code():
    error = _error(403, "Forbidden")

    assert error.code is None
    assert "failed: permission denied: Forbidden." in str(error)


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        (400, "bad request: invalid backend"),
        (401, "authentication failed: invalid backend"),
        (404, "not found: invalid backend"),
        (409, "conflict (HTTP 409): invalid backend"),
        (429, "rate limited (HTTP 429): invalid backend"),
        (503, "server error (HTTP 503): invalid backend"),
        (418, "request failed (HTTP 418): invalid backend"),
    ],
    ids=["400", "401", "404", "409", "429", "503", "418"],
)
def test_api_error__reason_by_status(status, reason):
    error = _error(status, _body("some_code", "invalid backend"))

    assert error.reason == reason


def test_api_error__message_names_operation_and_workload():
    error = _error(404, None, operation="delete workload", workload="wl_123", project="acme")

    assert str(error).startswith("delete workload 'wl_123' in project 'acme' failed: not found: ")


def test_api_error__message_without_workload_or_project():
    error = _error(503, None, operation="list workloads", workload=None, project=None)

    assert str(error).startswith("list workloads failed: server error (HTTP 503). Fix: ")


@pytest.mark.parametrize(
    "body",
    [
        _body("bad_token", f"token {SDK_TOKEN} is revoked"),
        f"token {SDK_TOKEN} is revoked",
        f"token {SDK_TOKEN} is revoked".encode(),
    ],
    ids=["json-envelope", "text", "bytes"],
)
def test_api_error__token_in_body_is_redacted(body):
    error = _error(401, body)

    assert SECRET not in str(error)
    assert "token ik_sdk_1a2b3c4d… is revoked" in str(error)


def test_api_error__long_text_body_is_cut():
    error = _error(502, "<html>" + "x" * 1000 + "</html>")

    assert len(error.server_message) == 201
    assert error.server_message.endswith("…")


def test_api_error__string_error_field():
    error = _error(400, {"error": "name is required"})

    assert error.server_message == "name is required"
    assert error.code is None


@pytest.mark.parametrize(
    ("message", "field"),
    [
        ("execution_policy_config.replicas: must be >= 1", "execution_policy_config.replicas"),
        ("'model_name' is required", "model_name"),
        ("unknown backend 'tgi'; field 'backend' must be a known backend", "backend"),
        ("unknown backend 'tgi'", None),
        ("request body is not JSON", None),
    ],
    ids=["leading-path", "quoted-field", "quoted-value-then-field", "quoted-value-only", "no-field"],
)
def test_bad_request__field_from_message(message, field):
    error = _error(400, _body("validation_failed", message))

    assert error.field == field


def test_bad_request__hint_names_field():
    error = _error(400, _body("validation_failed", "execution_policy_config.replicas: must be >= 1"))

    assert error.hint == "correct 'execution_policy_config.replicas' in the workload's inputs, then run again"


def test_configuration_error__message():
    error = ConfigurationError("INFERENCEKEY_BASE_URL", "base URL 'ftp://x' is not an http(s) URL", hint="set https://...")

    assert str(error) == "invalid INFERENCEKEY_BASE_URL: base URL 'ftp://x' is not an http(s) URL. Fix: set https://..."
    assert error.field == "INFERENCEKEY_BASE_URL"


@pytest.mark.parametrize(
    ("outcome_unknown", "hint_part"),
    [(True, "adopt it with adopt_existing=True"), (False, "check the network path")],
    ids=["outcome-unknown", "not-sent"],
)
def test_transport_error__hint(outcome_unknown, hint_part):
    error = TransportError("connection reset", outcome_unknown=outcome_unknown, operation="create workload")

    assert error.outcome_unknown is outcome_unknown
    assert hint_part in error.hint


def test_readiness_error__message():
    error = ReadinessError("CUDA out of memory", operation="wait for workload", workload="support-bot", project="acme")

    assert error.phase == "error"
    assert error.message == "CUDA out of memory"
    assert str(error).startswith(
        "wait for workload 'support-bot' in project 'acme' failed: the workload reached phase 'error': CUDA out of memory. Fix: "
    )


def test_readiness_timeout__names_last_phase():
    error = ReadinessTimeout(
        timeout=600, last_phase="provisioning", last_message="renting a GPU", operation="wait for workload"
    )

    assert error.reason == "not ready after 600 s; last phase 'provisioning' (renting a GPU)"
    assert (error.timeout, error.last_phase, error.last_message) == (600, "provisioning", "renting a GPU")


def test_readiness_timeout__without_events():
    error = ReadinessTimeout(timeout=1.5, last_phase=None, last_message=None, operation="wait for workload")

    assert error.reason == "not ready after 1.5 s; no readiness event arrived"
