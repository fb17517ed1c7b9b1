"""Every example runs end to end: the real CLI, the language host and a local control plane."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from pulumi_inferencekey.automation import PROJECT_ROOT, program_stack

pytestmark = pytest.mark.engine

EXAMPLES = PROJECT_ROOT / "examples"
PROJECT = "acme"


def copy_example(name: str, destination: Path) -> Path:
    target = destination / name
    shutil.copytree(EXAMPLES / name, target, ignore=shutil.ignore_patterns("Pulumi*.yaml", "__pycache__"))
    return target


@pytest.fixture
def control_plane_env(local_control_plane):
    token = local_control_plane.create_sdk_token(PROJECT)
    return {"INFERENCEKEY_SDK_TOKEN": token}


def stack_of(example: str, stack: str, tmp_path: Path, local_control_plane, env: dict[str, str]):
    return program_stack(
        example,
        stack,
        copy_example(example, tmp_path / stack),
        config={"inferencekey:baseUrl": local_control_plane.base_url, "inferencekey:project": PROJECT},
        env=env,
    )


def test_quickstart_creates_three_ready_workloads(tmp_path, local_control_plane, control_plane_env):
    stack = stack_of("quickstart", "dev", tmp_path, local_control_plane, control_plane_env)

    try:
        result = stack.up()
        rerun = stack.up()
    finally:
        stack.destroy()

    endpoints = {name: output.value for name, output in result.outputs.items()}
    base = f"{local_control_plane.base_url}/endpoint/{PROJECT}"
    assert endpoints == {
        "support_bot_endpoint": f"{base}/support-bot/v1",
        "embeddings_endpoint": f"{base}/docs-embeddings/v1",
        "burst_chat_endpoint": f"{base}/burst-chat/v1",
    }
    assert rerun.summary.resource_changes == {"same": 4}
    assert local_control_plane.workloads(PROJECT) == []


@pytest.mark.parametrize(
    ("environment", "expected"),
    [
        pytest.param("dev", {"chat": "dev-chat", "embeddings": "dev-embeddings"}, id="dev-drops-reranker"),
        pytest.param("prod", {"chat": "prod-chat", "embeddings": "prod-embeddings", "reranker": "prod-reranker"}, id="prod"),
    ],
)
def test_platform_module_applies_environment_overrides(tmp_path, local_control_plane, control_plane_env, environment, expected):
    stack = stack_of("platform_module", environment, tmp_path, local_control_plane, control_plane_env)

    try:
        result = stack.up()
        live = {workload["slug"]: workload for workload in local_control_plane.workloads(PROJECT)}
    finally:
        stack.destroy()

    base = f"{local_control_plane.base_url}/endpoint/{PROJECT}"
    assert result.outputs["endpoints"].value == {key: f"{base}/{slug}/v1" for key, slug in expected.items()}
    if environment == "dev":
        assert live["dev-chat"]["model_name"] == "Qwen/Qwen2.5-1.5B-Instruct"
    else:
        assert live["prod-chat"]["execution_policy"] == "autoscaling"


@pytest.fixture
def runtime_app():
    sys.path.insert(0, str(EXAMPLES / "runtime_app"))
    import app

    yield app
    sys.path.remove(str(EXAMPLES / "runtime_app"))


@pytest.fixture
def ready_support_bot(local_control_plane):
    from pulumi_inferencekey.client import ControlPlaneClient
    from pulumi_inferencekey.models import WorkloadCreate
    from pulumi_inferencekey.settings import resolve_settings

    token = local_control_plane.create_sdk_token(PROJECT)
    settings = resolve_settings(base_url=local_control_plane.base_url, project=PROJECT, sdk_token=token)
    with ControlPlaneClient(settings) as client:
        client.create_workload(PROJECT, WorkloadCreate(name="Support bot", slug="support-bot", backend="ollama", model_name="llama3.2"))
        client.wait_until_ready(PROJECT, "support-bot", timeout=10)
    return f"{local_control_plane.base_url}/endpoint/{PROJECT}/support-bot/v1"


def test_runtime_app_reads_key_from_secrets_manager(runtime_app, local_control_plane, ready_support_bot, monkeypatch, capsys):
    key = local_control_plane.create_api_key(PROJECT, workloads=["support-bot"])
    monkeypatch.delenv("INFERENCEKEY_API_KEY", raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")

    with mock_aws():
        boto3.client("secretsmanager", region_name="eu-west-1").create_secret(Name="inferencekey/support-bot", SecretString=key)
        exit_code = runtime_app.main(
            ["--endpoint", ready_support_bot, "--secret-id", "inferencekey/support-bot", "--region", "eu-west-1", "--question", "hello"]
        )

    assert exit_code == 0
    assert "[inferencekey-local] support-bot received: hello" in capsys.readouterr().out


def test_runtime_app_reads_key_from_environment(runtime_app, local_control_plane, ready_support_bot, monkeypatch, capsys):
    monkeypatch.setenv("INFERENCEKEY_API_KEY", local_control_plane.create_api_key(PROJECT))

    exit_code = runtime_app.main(["--endpoint", ready_support_bot, "--question", "where is my order?"])

    assert exit_code == 0
    assert "received: where is my order?" in capsys.readouterr().out


def test_runtime_app_without_key_exits_with_hint(runtime_app, monkeypatch):
    monkeypatch.delenv("INFERENCEKEY_API_KEY", raising=False)

    with pytest.raises(SystemExit) as failure:
        runtime_app.main(["--endpoint", "http://127.0.0.1:1/endpoint/acme/x/v1"])

    assert "set INFERENCEKEY_API_KEY or pass --secret-id" in str(failure.value)
