"""get_workload: a consuming stack, or any script, reads a workload it does not own with a read-only token."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pulumi
import pytest
from pulumi import automation as auto

from pulumi_inferencekey.automation import inline_stack
from pulumi_inferencekey.client import ControlPlaneClient
from pulumi_inferencekey.errors import ConfigurationError, NotFoundError
from pulumi_inferencekey.lookup import WorkloadInfo, get_workload
from pulumi_inferencekey.models import WorkloadCreate, WorkloadRecord
from pulumi_inferencekey.settings import resolve_settings

pytestmark = pytest.mark.engine

PROJECT = "acme"
COMMAND = "vllm serve Qwen/Qwen2.5-7B-Instruct --max-model-len 8192"
SETTINGS_ENV = ("INFERENCEKEY_BASE_URL", "INFERENCEKEY_PROJECT", "INFERENCEKEY_SDK_TOKEN")


@pytest.fixture
def support_bot(local_control_plane) -> WorkloadRecord:
    """Create support-bot out of band, as the stack of another team would."""
    writer = local_control_plane.create_sdk_token(PROJECT)
    settings = resolve_settings(base_url=local_control_plane.base_url, project=PROJECT, sdk_token=writer)
    body = WorkloadCreate(
        name="Support bot",
        slug="support-bot",
        description="answers support questions",
        backend="vllm",
        model_name="Qwen/Qwen2.5-7B-Instruct",
        config={"command": COMMAND},
        execution_policy="fixed",
        execution_policy_config={"replicas": 2},
    )
    with ControlPlaneClient(settings) as client:
        return client.create_workload(PROJECT, body)


@pytest.fixture
def read_only_env(local_control_plane, monkeypatch) -> str:
    """Clear the settings environment and set a read-only token; return the token."""
    for name in SETTINGS_ENV:
        monkeypatch.delenv(name, raising=False)
    token = local_control_plane.create_sdk_token(PROJECT, read_only=True)
    monkeypatch.setenv("INFERENCEKEY_SDK_TOKEN", token)
    return token


def expected_info(record: WorkloadRecord, base_url: str) -> WorkloadInfo:
    return WorkloadInfo(
        workload_id=record.id,
        slug="support-bot",
        project_slug=PROJECT,
        endpoint_url=f"{base_url}/endpoint/{PROJECT}/support-bot/v1",
        name="Support bot",
        task_type="text2text",
        backend="vllm",
        model="Qwen/Qwen2.5-7B-Instruct",
        description="answers support questions",
        config={"command": COMMAND},
        execution_policy="fixed",
        execution_policy_config={"replicas": 2},
        worker_id=None,
        gpu_resource_id=None,
        created_at=record.created_at,
        updated_at=record.updated_at,
    )


def consuming_stack(slug: str, control_plane, tmp_path: Path) -> auto.Stack:
    def program() -> None:
        workload = get_workload(slug)
        pulumi.export("endpoint_url", workload.endpoint_url)
        pulumi.export("workload", dataclasses.asdict(workload))

    config = {"inferencekey:baseUrl": control_plane.base_url, "inferencekey:project": PROJECT}
    return inline_stack("consumer", "dev", program, tmp_path, config=config)


# --- in a consuming stack --------------------------------------------------------------


def test_consuming_stack_exports_endpoint_and_settings(local_control_plane, support_bot, read_only_env, tmp_path):
    stack = consuming_stack("support-bot", local_control_plane, tmp_path)
    before = len(local_control_plane.requests)

    result = stack.up()

    assert result.outputs["endpoint_url"].value == f"{local_control_plane.base_url}/endpoint/{PROJECT}/support-bot/v1"
    assert result.outputs["workload"].value == dataclasses.asdict(expected_info(support_bot, local_control_plane.base_url))
    assert local_control_plane.requests[before:] == [("GET", f"/api/projects/{PROJECT}/workloads")]


def test_consuming_stack_with_missing_slug_fails(local_control_plane, support_bot, read_only_env, tmp_path):
    stack = consuming_stack("billing-bot", local_control_plane, tmp_path)

    with pytest.raises(auto.CommandError) as failure:
        stack.up()

    assert (
        "look up workload 'billing-bot' in project 'acme' failed: not found: no workload has this slug "
        "(the project has support-bot). Fix: check the slug and the project, or deploy the stack that owns "
        "the workload first."
    ) in str(failure.value)


# --- outside a Pulumi program ----------------------------------------------------------


@pytest.mark.parametrize("slug", ["support-bot", "Support Bot", "support_bot"], ids=["canonical", "title", "underscore"])
def test_lookup_outside_program_uses_environment(local_control_plane, support_bot, read_only_env, monkeypatch, slug):
    monkeypatch.setenv("INFERENCEKEY_BASE_URL", local_control_plane.base_url)
    monkeypatch.setenv("INFERENCEKEY_PROJECT", PROJECT)

    assert get_workload(slug) == expected_info(support_bot, local_control_plane.base_url)


def test_lookup_project_argument_overrides_environment(local_control_plane, support_bot, read_only_env, monkeypatch):
    monkeypatch.setenv("INFERENCEKEY_BASE_URL", local_control_plane.base_url)
    monkeypatch.setenv("INFERENCEKEY_PROJECT", "staging")

    assert get_workload("support-bot", project=PROJECT).project_slug == PROJECT


def test_lookup_missing_slug_names_slug_and_project(local_control_plane, support_bot, read_only_env, monkeypatch):
    monkeypatch.setenv("INFERENCEKEY_BASE_URL", local_control_plane.base_url)
    monkeypatch.setenv("INFERENCEKEY_PROJECT", PROJECT)

    with pytest.raises(NotFoundError) as failure:
        get_workload("billing-bot")

    assert failure.value.workload == "billing-bot"
    assert failure.value.project == PROJECT
    assert str(failure.value) == (
        "look up workload 'billing-bot' in project 'acme' failed: not found: no workload has this slug "
        "(the project has support-bot). Fix: check the slug and the project, or deploy the stack that owns "
        "the workload first."
    )


def test_lookup_without_project_raises_configuration_error(local_control_plane, read_only_env, monkeypatch):
    monkeypatch.setenv("INFERENCEKEY_BASE_URL", local_control_plane.base_url)
    before = len(local_control_plane.requests)

    with pytest.raises(ConfigurationError) as failure:
        get_workload("support-bot")

    assert str(failure.value) == (
        "invalid project: no project is set for the workload lookup. Fix: pass the project, as in "
        "get_workload('support-bot', project='acme-prod'), or set the stack config inferencekey:project "
        "or INFERENCEKEY_PROJECT."
    )
    assert local_control_plane.requests[before:] == []
