"""Requests the client sends and how it reads the control plane's responses and errors."""

from __future__ import annotations

import logging
import re

import httpx
import pytest
from scripted_server import SDK_TOKEN, SECRET, Disconnect, workload

from pulumi_inferencekey.client import USER_AGENT, ControlPlaneClient
from pulumi_inferencekey.errors import (
    ApiError,
    ConfigurationError,
    NotFoundError,
    PermissionDeniedError,
    ServerError,
)
from pulumi_inferencekey.models import WorkloadCreate, WorkloadPatch


def test_list__sends_token_and_user_agent(server, client):
    server.reply(200, [workload()])

    client.list_workloads("acme")

    request = server.requests[0]
    assert (request.method, request.path) == ("GET", "/api/projects/acme/workloads")
    assert request.headers["Authorization"] == f"Bearer {SDK_TOKEN}"
    assert request.headers["User-Agent"] == USER_AGENT
    assert re.fullmatch(r"pulumi-inferencekey/\S+", USER_AGENT)


@pytest.mark.parametrize(
    ("body", "slugs"),
    [
        ([workload("a", "wl_a"), workload("b", "wl_b")], ["a", "b"]),
        ({"workloads": [workload("a", "wl_a")]}, ["a"]),
        ({"workloads": None}, []),
        (None, []),
        ([], []),
        ([workload("a", "wl_a", backend="my-custom-backend", gpu_tier="h100")], ["a"]),
    ],
    ids=["bare-array", "envelope", "envelope-null", "empty-body", "empty-array", "unknown-backend-and-field"],
)
def test_list__accepted_body_shapes(server, client, body, slugs):
    server.reply(200, body)

    records = client.list_workloads("acme")

    assert [record.slug for record in records] == slugs


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"items": []}, "the body is not a list of workloads"),
        (b"<html>login</html>", "the body is not JSON"),
        ([{"id": "wl_1"}], "workload 0: name: Field required"),
    ],
    ids=["wrong-object", "html", "record-missing-fields"],
)
def test_list__unreadable_body_raises(server, client, body, detail):
    server.reply(200, body)

    with pytest.raises(ApiError) as caught:
        client.list_workloads("acme")

    assert caught.value.server_message == f"unreadable response: {detail}"
    assert "check that http://127.0.0.1:" in caught.value.hint


def test_find_workload__matches_canonical_slug(server, client):
    server.reply(200, [workload("other", "wl_0"), workload("support-bot", "wl_1")])

    record = client.find_workload("acme", "Support Bot")

    assert record is not None
    assert record.id == "wl_1"


def test_find_workload__absent_returns_none(server, client):
    server.reply(200, [workload("support-bot-1", "wl_1")])

    assert client.find_workload("acme", "support-bot") is None


@pytest.mark.parametrize(("workload_id", "found"), [("wl_2", True), ("wl_9", False)], ids=["present", "gone"])
def test_get_workload__matches_id(server, client, workload_id, found):
    server.reply(200, [workload("a", "wl_1"), workload("b", "wl_2")])

    record = client.get_workload("acme", workload_id)

    assert (record is not None) is found
    assert server.calls() == [("GET", "/api/projects/acme/workloads")]


def test_create__posts_snake_case_body_without_unset_fields(server, client):
    server.reply(201, workload(execution_policy="fixed", execution_policy_config={"replicas": 2}))
    body = WorkloadCreate(
        name="Support Bot",
        slug="support-bot",
        backend="ollama",
        model_name="llama3.2:1b",
        execution_policy="fixed",
        execution_policy_config={"replicas": 2},
    )

    record = client.create_workload("acme", body)

    request = server.requests[0]
    assert (request.method, request.path) == ("POST", "/api/projects/acme/workloads")
    assert request.json() == {
        "name": "Support Bot",
        "slug": "support-bot",
        "task_type": "text2text",
        "backend": "ollama",
        "model_name": "llama3.2:1b",
        "execution_policy": "fixed",
        "execution_policy_config": {"replicas": 2},
    }
    assert request.headers["Content-Type"] == "application/json"
    assert record.execution_policy_config == {"replicas": 2}


def test_update__patches_only_set_fields(server, client):
    server.reply(200, workload(model_name="llama3.2:3b"))
    patch = WorkloadPatch(model_name="llama3.2:3b", worker_id=None)

    record = client.update_workload("acme", "wl_1", patch, slug="support-bot")

    request = server.requests[0]
    assert (request.method, request.path) == ("PATCH", "/api/workloads/wl_1")
    assert request.json() == {"model_name": "llama3.2:3b", "worker_id": None}
    assert record.model_name == "llama3.2:3b"


def test_update__quotes_workload_id(server, client):
    server.reply(200, workload())

    client.update_workload("acme", "wl/1 x", WorkloadPatch(name="x"))

    assert server.requests[0].path == "/api/workloads/wl%2F1%20x"


@pytest.mark.parametrize(("status", "deleted"), [(204, True), (200, True), (404, False)], ids=["204", "200", "404-already-gone"])
def test_delete__result_by_status(server, client, status, deleted):
    server.reply(status, {"error": {"code": "not_found", "message": "no such workload"}} if status == 404 else None)

    assert client.delete_workload("acme", "wl_1", slug="support-bot") is deleted
    assert server.calls() == [("DELETE", "/api/workloads/wl_1")]


def test_delete__404_after_broken_attempt_counts_as_deleted(server, client):
    server.add(Disconnect())
    server.reply(404, {"error": {"code": "not_found", "message": "no such workload"}})

    assert client.delete_workload("acme", "wl_1") is True
    assert len(server.requests) == 2


def test_delete__server_error_raises(server, client):
    server.reply(500, {"error": {"code": "internal", "message": "database down"}})

    with pytest.raises(ServerError) as caught:
        client.delete_workload("acme", "wl_1", slug="support-bot")

    assert str(caught.value).startswith(
        "delete workload 'support-bot' in project 'acme' failed: server error (HTTP 500): database down. Fix: "
    )


def test_create__read_only_token_message(server, client):
    server.reply(403, {"error": {"code": "scope_insufficient", "message": "token lacks workload:write"}})
    body = WorkloadCreate(name="Support Bot", slug="support-bot", backend="ollama", model_name="llama3.2:1b")

    with pytest.raises(PermissionDeniedError) as caught:
        client.create_workload("acme", body)

    assert caught.value.code == "scope_insufficient"
    assert str(caught.value) == (
        "create workload 'support-bot' in project 'acme' failed: permission denied [scope_insufficient]: "
        "token lacks workload:write. Fix: use an SDK token with workload:write "
        "(a read-only token can only preview and refresh)."
    )


def test_list__unknown_project_raises_not_found(server, client):
    server.reply(404, {"error": {"code": "project_not_found", "message": "no project 'acme'"}})

    with pytest.raises(NotFoundError) as caught:
        client.list_workloads("acme")

    assert (caught.value.operation, caught.value.workload, caught.value.project) == ("list workloads", None, "acme")


@pytest.mark.parametrize(
    ("project", "reason"),
    [("", "no project is set"), ("Acme Corp", "project 'Acme Corp' is not a slug")],
    ids=["empty", "not-a-slug"],
)
def test_bad_project__raises_before_request(server, client, project, reason):
    with pytest.raises(ConfigurationError) as caught:
        client.list_workloads(project)

    assert caught.value.field == "project"
    assert caught.value.reason == reason
    assert server.requests == []


def test_client__constructor_sends_nothing(server, settings):
    client = ControlPlaneClient(settings)

    assert client._client is None
    assert server.requests == []


def test_repr__masks_token(client):
    assert repr(client) == f"ControlPlaneClient(base_url={client.settings.base_url!r}, sdk_token='ik_sdk_0badc0de…')"


def test_logs__one_info_line_per_exchange(server, client, client_logs):
    server.reply(201, workload())
    body = WorkloadCreate(name="Support Bot", slug="support-bot", backend="ollama", model_name="llama3.2:1b")

    client.create_workload("acme", body)

    info = [record.getMessage() for record in client_logs.records if record.levelno == logging.INFO]
    assert len(info) == 1
    assert re.fullmatch(r"POST /api/projects/acme/workloads 201 \(\d+ ms\)", info[0])


def test_logs__never_contain_token(server, client, client_logs):
    server.reply(503, {"error": {"code": "busy", "message": f"rejected {SDK_TOKEN}"}})
    server.add(Disconnect())
    server.reply(401, {"error": {"code": "bad_token", "message": f"unknown token {SDK_TOKEN}"}})

    with pytest.raises(ApiError) as caught:
        client.list_workloads("acme")

    assert client_logs.records
    assert all(SECRET not in record.getMessage() for record in client_logs.records)
    assert SECRET not in str(caught.value)


def test_request_headers__masked_in_httpx_repr(server, client):
    server.reply(200, [])
    client.list_workloads("acme")

    headers = client._http().headers

    assert SECRET not in repr(headers)
    assert isinstance(headers, httpx.Headers)
