"""The client against the local control plane: CRUD round trip, credentials, readiness and injected faults."""

from __future__ import annotations

import pytest

from pulumi_inferencekey.client import ControlPlaneClient, ReadinessEvent, RetryPolicy
from pulumi_inferencekey.errors import ConfigurationError, PermissionDeniedError
from pulumi_inferencekey.local import LocalControlPlane
from pulumi_inferencekey.models import WorkloadCreate, WorkloadPatch
from pulumi_inferencekey.settings import Settings, resolve_settings

FAST_RECONNECT = RetryPolicy(base_delay=0.01, max_delay=0.05, total_timeout=10.0, reconnect_delays=(0.05, 0.1, 0.2))
SUPPORT_BOT = WorkloadCreate(name="Support Bot", slug="support-bot", backend="ollama", model_name="llama3.2:1b")


def _client(control_plane: LocalControlPlane, token: str, retry: RetryPolicy = FAST_RECONNECT) -> ControlPlaneClient:
    settings = Settings(base_url=control_plane.base_url, project="acme", sdk_token=token)
    return ControlPlaneClient(settings, retry=retry, timeout=5.0)


def test_local__create_list_update_delete(local_control_plane):
    token = local_control_plane.create_sdk_token("acme")

    with _client(local_control_plane, token) as client:
        created = client.create_workload("acme", SUPPORT_BOT)
        found = client.find_workload("acme", "Support Bot")
        updated = client.update_workload("acme", created.id, WorkloadPatch(model_name="llama3.2:3b"), slug="support-bot")
        read_back = client.get_workload("acme", created.id)
        deleted = client.delete_workload("acme", created.id, slug="support-bot")
        deleted_again = client.delete_workload("acme", created.id, slug="support-bot")
        remaining = client.list_workloads("acme")

    assert created.slug == "support-bot"
    assert found is not None and found.id == created.id
    assert updated.model_name == "llama3.2:3b"
    assert read_back is not None and read_back.model_name == "llama3.2:3b"
    assert (deleted, deleted_again) == (True, False)
    assert remaining == []
    assert local_control_plane.requests == [
        ("POST", "/api/projects/acme/workloads"),
        ("GET", "/api/projects/acme/workloads"),
        ("PATCH", f"/api/workloads/{created.id}"),
        ("GET", "/api/projects/acme/workloads"),
        ("DELETE", f"/api/workloads/{created.id}"),
        ("DELETE", f"/api/workloads/{created.id}"),
        ("GET", "/api/projects/acme/workloads"),
    ]


def test_local__read_only_token_cannot_create(local_control_plane):
    token = local_control_plane.create_sdk_token("acme", read_only=True)

    with _client(local_control_plane, token) as client, pytest.raises(PermissionDeniedError) as caught:
        client.create_workload("acme", SUPPORT_BOT)

    assert caught.value.code == "scope_insufficient"
    assert str(caught.value).startswith(
        "create workload 'support-bot' in project 'acme' failed: permission denied [scope_insufficient]: "
    )
    assert caught.value.hint == "use an SDK token with workload:write (a read-only token can only preview and refresh)"
    assert token.split("_")[3] not in str(caught.value)


def test_local__read_only_token_can_list(local_control_plane):
    token = local_control_plane.create_sdk_token("acme", read_only=True)

    with _client(local_control_plane, token) as client:
        assert client.list_workloads("acme") == []


def test_local__token_of_other_project(local_control_plane):
    token = local_control_plane.create_sdk_token("globex")

    with _client(local_control_plane, token) as client, pytest.raises(PermissionDeniedError) as caught:
        client.list_workloads("acme")

    assert caught.value.code == "project_scope_mismatch"
    assert "use an SDK token created for project 'acme'" in caught.value.hint


def test_local__live_key_on_control_route(local_control_plane):
    key = local_control_plane.create_api_key("acme")

    with _client(local_control_plane, key) as client, pytest.raises(PermissionDeniedError) as caught:
        client.list_workloads("acme")

    assert caught.value.code == "wrong_credential_type"
    assert key.split("_")[3] not in str(caught.value)


def test_local__live_key_as_sdk_token_rejected_before_request(local_control_plane):
    key = local_control_plane.create_api_key("acme")

    with pytest.raises(ConfigurationError) as caught:
        resolve_settings(base_url=local_control_plane.base_url, project="acme", sdk_token=key, environ={})

    assert caught.value.field == "sdk_token"
    assert key not in str(caught.value)
    assert local_control_plane.requests == []


def test_local__wait_until_ready(local_control_plane):
    local_control_plane.ready_after = 0.6
    token = local_control_plane.create_sdk_token("acme")
    seen: list[ReadinessEvent] = []

    with _client(local_control_plane, token) as client:
        client.create_workload("acme", SUPPORT_BOT)
        ready = client.wait_until_ready("acme", "support-bot", timeout=10, on_event=seen.append)

    assert ready.phase == "ready"
    assert seen[-1] is ready
    assert seen[0].phase != "ready"
    assert ready.elapsed_ms >= 500


def test_local__wait_survives_dropped_streams():
    with LocalControlPlane(ready_after=1.0, drop_streams=True, seed=11) as control_plane:
        token = control_plane.create_sdk_token("acme")
        with _client(control_plane, token) as client:
            client.create_workload("acme", SUPPORT_BOT)
            ready = client.wait_until_ready("acme", "support-bot", timeout=10)
        readiness_requests = [path for method, path in control_plane.requests if path.endswith("/readiness-events")]

    assert ready.phase == "ready"
    assert len(readiness_requests) > 1


def test_local__injected_errors_are_retried():
    retry = RetryPolicy(max_attempts=10, base_delay=0.01, max_delay=0.05, total_timeout=10.0)

    with LocalControlPlane(error_rate=0.4, seed=4) as control_plane:
        token = control_plane.create_sdk_token("acme")
        with _client(control_plane, token, retry=retry) as client:
            created = client.create_workload("acme", SUPPORT_BOT)
            client.update_workload("acme", created.id, WorkloadPatch(description="retried"))
            listed = client.list_workloads("acme")
            deleted = client.delete_workload("acme", created.id)
        sent = len(control_plane.requests)
        remaining = control_plane.workloads("acme")

    assert [record.description for record in listed] == ["retried"]
    assert deleted is True
    assert remaining == []
    assert sent > 4
