"""The local control plane keeps tokens to their project and workloads, and stores only their hashes.

These are the checks a user of this package meets; tests/local/test_auth.py covers the whole
matrix of credentials, planes and routes over raw HTTP.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import httpx
import pytest
from reliability_support import PROJECT

from pulumi_inferencekey.client import ControlPlaneClient
from pulumi_inferencekey.errors import PermissionDeniedError
from pulumi_inferencekey.local import LocalControlPlane
from pulumi_inferencekey.models import WorkloadCreate
from pulumi_inferencekey.settings import resolve_settings
from pulumi_inferencekey.tokens import parse_token

OTHER_PROJECT = "globex"
CHAT_BODY = {"model": "llama3.2", "messages": [{"role": "user", "content": "Hola"}]}


def secret_of(token: str) -> str:
    parsed = parse_token(token)
    assert parsed is not None
    return parsed.secret


def client_for(control_plane: LocalControlPlane, token: str, project: str) -> ControlPlaneClient:
    return ControlPlaneClient(resolve_settings(base_url=control_plane.base_url, project=project, sdk_token=token))


@pytest.fixture
def two_workloads(local_control_plane: LocalControlPlane) -> LocalControlPlane:
    with client_for(local_control_plane, local_control_plane.create_sdk_token(PROJECT), PROJECT) as client:
        for slug in ("support-bot", "billing-bot"):
            client.create_workload(PROJECT, WorkloadCreate(name=slug, slug=slug, backend="ollama", model_name="llama3.2"))
    return local_control_plane


def test_token_of_other_project_gets_project_scope_mismatch(two_workloads):
    token = two_workloads.create_sdk_token(OTHER_PROJECT)

    with client_for(two_workloads, token, PROJECT) as client, pytest.raises(PermissionDeniedError) as denied:
        client.list_workloads(PROJECT)

    assert (denied.value.status_code, denied.value.code) == (403, "project_scope_mismatch")
    assert f"use an SDK token created for project '{PROJECT}'" in str(denied.value)
    assert secret_of(token) not in str(denied.value)


def test_token_of_other_project_cannot_delete_by_id(two_workloads):
    workload_id = two_workloads.workloads(PROJECT)[0]["id"]
    token = two_workloads.create_sdk_token(OTHER_PROJECT)

    # A route addressed by id acts in the token's own project, where the id does not exist.
    with client_for(two_workloads, token, OTHER_PROJECT) as client:
        removed = client.delete_workload(OTHER_PROJECT, workload_id)

    assert removed is False
    assert len(two_workloads.workloads(PROJECT)) == 2


def test_workload_key_on_other_workload_gets_scope_insufficient(two_workloads):
    key = two_workloads.create_api_key(PROJECT, workloads=["support-bot"])
    url = f"{two_workloads.endpoint_url(PROJECT, 'billing-bot')}/chat/completions"

    response = httpx.post(url, json=CHAT_BODY, headers={"Authorization": f"Bearer {key}"}, timeout=10)

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "scope_insufficient"
    assert secret_of(key) not in response.text


def test_workload_key_on_own_workload_answers(two_workloads):
    key = two_workloads.create_api_key(PROJECT, workloads=["support-bot"])
    url = f"{two_workloads.endpoint_url(PROJECT, 'support-bot')}/chat/completions"

    response = httpx.post(url, json=CHAT_BODY, headers={"Authorization": f"Bearer {key}"}, timeout=10)

    assert response.status_code == 200


def test_tokens_at_rest_are_hashed(tmp_path: Path):
    control_plane = LocalControlPlane(state_path=tmp_path / "state.db")
    tokens = [control_plane.create_sdk_token(PROJECT), control_plane.create_api_key(PROJECT, workloads=["support-bot"])]

    # SQLite in WAL mode keeps recent writes in state.db-wal, so every file of the state counts.
    stored = b"".join(path.read_bytes() for path in sorted(tmp_path.glob("state.db*")))
    for token in tokens:
        assert secret_of(token).encode() not in stored
        assert hashlib.sha256(secret_of(token).encode()).hexdigest().encode() in stored
