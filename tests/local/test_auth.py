"""Authentication and permission errors of both planes: status, code and message."""

from __future__ import annotations

import logging

import httpx
import pytest
from local_helpers import OTHER_PROJECT, PROJECT, bearer, create_workload, error_of, workload_body

from pulumi_inferencekey.local import LocalControlPlane
from pulumi_inferencekey.tokens import parse_token

LIST_PATH = f"/api/projects/{PROJECT}/workloads"
CHAT_PATH = f"/endpoint/{PROJECT}/support-bot/v1/chat/completions"
CHAT_BODY = {"model": "support-bot", "messages": [{"role": "user", "content": "hello"}]}
UNKNOWN_SDK_TOKEN = "ik_sdk_deadbeef_" + "0" * 64


def shown(token: str) -> str:
    """Return the redacted form of a token, as messages show it."""
    return token[: token.index("_", 3) + 1 + 8] + "…"


@pytest.fixture
def client(control_plane: LocalControlPlane) -> httpx.Client:
    with httpx.Client(base_url=control_plane.base_url, timeout=10.0) as unauthenticated:
        yield unauthenticated


@pytest.mark.parametrize("path", [LIST_PATH, CHAT_PATH], ids=["control-plane", "data-plane"])
@pytest.mark.parametrize(
    ("headers", "message"),
    [
        pytest.param({}, "missing bearer token; send 'Authorization: Bearer <token>'", id="missing"),
        pytest.param(
            {"Authorization": "Basic dXNlcjpwYXNz"},
            "the Authorization header must use the Bearer scheme: 'Bearer <token>'",
            id="basic-scheme",
        ),
        pytest.param(
            {"Authorization": "Bearer ik_sdk_not-a-token"},
            "malformed token ik…; expected ik_sdk_<8 hex>_<64 hex> or ik_live_<8 hex>_<64 hex>",
            id="malformed",
        ),
        pytest.param(
            bearer(UNKNOWN_SDK_TOKEN),
            "unknown token ik_sdk_deadbeef…; create one with 'inferencekey-local token create'",
            id="unknown",
        ),
    ],
)
def test_auth__unauthenticated(client: httpx.Client, path: str, headers: dict[str, str], message: str) -> None:
    method = "GET" if path == LIST_PATH else "POST"

    response = client.request(method, path, headers=headers, json=None if method == "GET" else CHAT_BODY)

    assert error_of(response) == (401, "unauthenticated", message)


def test_auth__wrong_secret_is_unknown(control_plane: LocalControlPlane, client: httpx.Client) -> None:
    token = control_plane.create_sdk_token(PROJECT)
    forged = token[:-64] + "f" * 64

    response = client.get(LIST_PATH, headers=bearer(forged))

    assert error_of(response) == (
        401,
        "unauthenticated",
        f"unknown token {shown(token)}; create one with 'inferencekey-local token create'",
    )


def test_auth__live_key_on_control_plane(control_plane: LocalControlPlane, client: httpx.Client) -> None:
    key = control_plane.create_api_key(PROJECT)

    response = client.get(LIST_PATH, headers=bearer(key))

    assert error_of(response) == (
        403,
        "wrong_credential_type",
        f"{shown(key)} is a data-plane key; control-plane routes require an ik_sdk_ token",
    )
    assert parse_token(key).secret not in response.text


def test_auth__sdk_token_on_data_plane(control_plane: LocalControlPlane, client: httpx.Client, api: httpx.Client) -> None:
    create_workload(api)
    token = control_plane.create_sdk_token(PROJECT)

    response = client.post(CHAT_PATH, json=CHAT_BODY, headers=bearer(token))

    assert error_of(response) == (
        403,
        "wrong_credential_type",
        f"{shown(token)} is a control-plane token; data-plane routes require an ik_live_ key",
    )
    assert parse_token(token).secret not in response.text


def test_auth__sdk_token_of_other_project(control_plane: LocalControlPlane, client: httpx.Client) -> None:
    token = control_plane.create_sdk_token(OTHER_PROJECT)

    response = client.get(LIST_PATH, headers=bearer(token))

    assert error_of(response) == (
        403,
        "project_scope_mismatch",
        f"token {shown(token)} is scoped to project '{OTHER_PROJECT}', not '{PROJECT}'",
    )


def test_auth__readiness_with_other_project_token(control_plane: LocalControlPlane, client: httpx.Client) -> None:
    token = control_plane.create_sdk_token(OTHER_PROJECT)

    response = client.get(f"{LIST_PATH}/support-bot/readiness-events", headers=bearer(token))

    assert error_of(response)[:2] == (403, "project_scope_mismatch")


@pytest.mark.parametrize(
    ("method", "path", "body", "action"),
    [
        pytest.param("POST", LIST_PATH, workload_body(), f"create workloads in project '{PROJECT}'", id="create"),
        pytest.param("PATCH", "/api/workloads/support-bot", {"description": "x"}, "update workloads", id="patch"),
        pytest.param("DELETE", "/api/workloads/support-bot", None, "delete workloads", id="delete"),
    ],
)
def test_auth__read_only_token_writing(
    control_plane: LocalControlPlane,
    client: httpx.Client,
    api: httpx.Client,
    method: str,
    path: str,
    body: dict[str, object] | None,
    action: str,
) -> None:
    create_workload(api)
    token = control_plane.create_sdk_token(PROJECT, read_only=True)

    response = client.request(method, path, json=body, headers=bearer(token))

    assert error_of(response) == (
        403,
        "scope_insufficient",
        f"token {shown(token)} lacks scope 'workload:write' required to {action}",
    )
    assert len(control_plane.workloads(PROJECT)) == 1


def test_auth__read_only_token_reading(control_plane: LocalControlPlane, client: httpx.Client, api: httpx.Client) -> None:
    create_workload(api)
    token = control_plane.create_sdk_token(PROJECT, read_only=True)

    response = client.get(LIST_PATH, headers=bearer(token))

    assert response.status_code == 200
    assert [workload["slug"] for workload in response.json()["workloads"]] == ["support-bot"]


def test_auth__pin_without_assignment_scope(control_plane: LocalControlPlane, client: httpx.Client, api: httpx.Client) -> None:
    created = create_workload(api)
    token = control_plane.create_sdk_token(PROJECT, read_only=True)

    response = client.patch(f"/api/workloads/{created['id']}", json={"gpu_resource_id": "gpu-1"}, headers=bearer(token))

    # The write scope is checked first, and a read-only token lacks both.
    assert error_of(response) == (
        403,
        "scope_insufficient",
        f"token {shown(token)} lacks scope 'workload:write' required to update workloads",
    )


def test_auth__live_key_of_other_project(control_plane: LocalControlPlane, client: httpx.Client, api: httpx.Client) -> None:
    create_workload(api)
    key = control_plane.create_api_key(OTHER_PROJECT)

    response = client.post(CHAT_PATH, json=CHAT_BODY, headers=bearer(key))

    assert error_of(response) == (
        403,
        "project_scope_mismatch",
        f"key {shown(key)} belongs to project '{OTHER_PROJECT}', not '{PROJECT}'",
    )


def test_auth__live_key_without_grant(control_plane: LocalControlPlane, client: httpx.Client, api: httpx.Client) -> None:
    create_workload(api)
    key = control_plane.create_api_key(PROJECT, workloads=["billing", "search"])

    response = client.post(CHAT_PATH, json=CHAT_BODY, headers=bearer(key))

    assert error_of(response) == (
        403,
        "scope_insufficient",
        f"key {shown(key)} has no grant for workload '{PROJECT}/support-bot'; it grants {PROJECT}/billing, {PROJECT}/search",
    )


@pytest.mark.parametrize("workloads", [None, ["support-bot"]], ids=["whole-project", "named-workload"])
def test_auth__live_key_granted(
    control_plane: LocalControlPlane, client: httpx.Client, api: httpx.Client, workloads: list[str] | None
) -> None:
    # A project-wide key is minted before the workload exists and still covers it.
    key = control_plane.create_api_key(PROJECT, workloads=workloads)
    create_workload(api)

    response = client.post(CHAT_PATH, json=CHAT_BODY, headers=bearer(key))

    assert response.status_code == 200


def test_auth__logs_only_redacted_tokens(
    control_plane: LocalControlPlane, client: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    token = control_plane.create_sdk_token(PROJECT)
    key = control_plane.create_api_key(PROJECT)

    with caplog.at_level(logging.DEBUG, logger="pulumi_inferencekey.local"):
        client.get(LIST_PATH, headers=bearer(token))
        client.get(LIST_PATH, headers=bearer(key))
        client.get(f"/api/projects/{key}/workloads", headers=bearer(token))

    assert parse_token(token).secret not in caplog.text
    assert parse_token(key).secret not in caplog.text
    assert f"GET {LIST_PATH} 200" in caplog.text
    assert f"token={shown(token)}" in caplog.text
    assert f"GET /api/projects/{shown(key)}/workloads 403" in caplog.text


@pytest.mark.parametrize("project", ["Acme", "acme corp", "!!"], ids=["uppercase", "space", "no-letters"])
def test_credentials__project_must_be_canonical(control_plane: LocalControlPlane, project: str) -> None:
    with pytest.raises(ValueError, match=f"project slug '{project}'"):
        control_plane.create_sdk_token(project)
