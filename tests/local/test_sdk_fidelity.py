"""The official ``inferencekey`` SDK against the local platform, configured as users do, from the environment.

Observed with SDK 0.260725.739: its core reads the error body as ``{"error": "<code>"}``,
while the platform documents ``{"error": {"code", "message"}}``. So a 403 surfaces as
``permission denied [forbidden]: <body>``, and the platform's code shows only in the body.
"""

from __future__ import annotations

import pytest
from inferencekey import (
    ApiError,
    AuthError,
    DataClient,
    ManagementClient,
    PermissionDenied,
    ReadinessEvent,
    ValidationError,
    WorkloadSpec,
)
from local_helpers import PROJECT

from pulumi_inferencekey.local import LocalControlPlane

MODEL = "meta-llama/Llama-3.1-8B-Instruct"
COMMAND = f"vllm serve {MODEL} --max-model-len 8192"
WRITES = ("POST", "PATCH", "DELETE")


def chat_spec(**overrides: object) -> WorkloadSpec:
    fields: dict[str, object] = {"name": "Support Bot", "slug": "Support Bot", "model": MODEL, "backend": "vllm", "command": COMMAND}
    fields.update(overrides)
    return WorkloadSpec(**fields)  # type: ignore[arg-type]


@pytest.fixture
def mgmt(control_plane: LocalControlPlane, monkeypatch: pytest.MonkeyPatch) -> ManagementClient:
    monkeypatch.setenv("INFERENCEKEY_BASE_URL", control_plane.base_url)
    monkeypatch.setenv("INFERENCEKEY_PROJECT", PROJECT)
    monkeypatch.setenv("INFERENCEKEY_SDK_TOKEN", control_plane.create_sdk_token(PROJECT))
    return ManagementClient.from_env()


@pytest.fixture
def data(control_plane: LocalControlPlane, monkeypatch: pytest.MonkeyPatch) -> DataClient:
    monkeypatch.setenv("INFERENCEKEY_BASE_URL", control_plane.base_url)
    monkeypatch.setenv("INFERENCEKEY_PROJECT", PROJECT)
    monkeypatch.setenv("INFERENCEKEY_API_KEY", control_plane.create_api_key(PROJECT))
    return DataClient.from_env()


def writes(control_plane: LocalControlPlane) -> list[tuple[str, str]]:
    return [(method, path) for method, path in control_plane.requests if method in WRITES]


def test_ensure__creates(control_plane: LocalControlPlane, mgmt: ManagementClient) -> None:
    ref = mgmt.ensure(chat_spec(description="Customer support"))

    assert (ref.project_slug, ref.workload_slug) == (PROJECT, "support-bot")
    assert control_plane.requests == [("GET", f"/api/projects/{PROJECT}/workloads"), ("POST", f"/api/projects/{PROJECT}/workloads")]
    assert control_plane.request_bodies[1].body == {
        "name": "Support Bot",
        "slug": "support-bot",
        "description": "Customer support",
        "task_type": "text2text",
        "backend": "vllm",
        "model_name": MODEL,
        "config": {"command": COMMAND},
    }
    assert [workload["slug"] for workload in control_plane.workloads(PROJECT)] == ["support-bot"]


def test_ensure__again_changes_nothing(control_plane: LocalControlPlane, mgmt: ManagementClient) -> None:
    spec = chat_spec(execution_policy="fixed", execution_policy_config={"replicas": 2}, worker_id="worker-1")
    mgmt.ensure(spec)
    before = len(control_plane.requests)

    ref = mgmt.ensure(spec)

    assert ref.workload_slug == "support-bot"
    assert control_plane.requests[before:] == [("GET", f"/api/projects/{PROJECT}/workloads")]
    assert writes(control_plane) == [("POST", f"/api/projects/{PROJECT}/workloads")]


def test_ensure__patches_only_drift(control_plane: LocalControlPlane, mgmt: ManagementClient) -> None:
    mgmt.ensure(chat_spec(description="before"))
    workload_id = control_plane.workloads(PROJECT)[0]["id"]
    new_command = f"vllm serve {MODEL} --max-model-len 16384"

    mgmt.ensure(chat_spec(description="before", command=new_command))

    assert writes(control_plane)[-1] == ("PATCH", f"/api/workloads/{workload_id}")
    assert control_plane.request_bodies[-1].body == {"config": {"command": new_command}}
    assert control_plane.workloads(PROJECT)[0]["config"] == {"command": new_command}


def test_ensure__policy_kind_change_carries_config(control_plane: LocalControlPlane, mgmt: ManagementClient) -> None:
    autoscaling = {
        "min_workers": 0,
        "max_workers": 2,
        "max_hourly_cost_usd": 4.0,
        "workers": {"source": "cloud", "cloud_pool": {"gpu_pool": ["NVIDIA L4"]}},
    }
    mgmt.ensure(chat_spec(execution_policy="fixed", execution_policy_config={"replicas": 1}))

    mgmt.ensure(chat_spec(execution_policy="autoscaling", execution_policy_config=autoscaling))

    assert control_plane.request_bodies[-1].body == {"execution_policy": "autoscaling", "execution_policy_config": autoscaling}
    assert control_plane.workloads(PROJECT)[0]["execution_policy"] == "autoscaling"


def test_ensure__rejected_spec_raises_validation_error(mgmt: ManagementClient) -> None:
    with pytest.raises(ValidationError, match="^bad request: .*config.command: the 'ollama' backend takes no launch command"):
        mgmt.ensure(chat_spec(backend="ollama"))


def test_wait_until_ready__reports_phases(control_plane: LocalControlPlane, mgmt: ManagementClient) -> None:
    control_plane.ready_after = 0.3
    ref = mgmt.ensure(chat_spec())
    events: list[ReadinessEvent] = []

    mgmt.wait_until_ready(ref.workload_slug, on_progress=events.append, timeout=10)

    assert [event.phase for event in events] == ["scheduling", "provisioning", "bootstrapping", "ready"]
    assert events[2].step == "load_model"


def test_wait_until_ready__error_phase(mgmt: ManagementClient) -> None:
    ref = mgmt.ensure(chat_spec(model="fail/missing-weights"))

    with pytest.raises(ApiError, match="failed to become ready: model 'fail/missing-weights' could not be loaded"):
        mgmt.wait_until_ready(ref.workload_slug, silent=True, timeout=10)


def test_wait_until_ready__reconnects_after_drop() -> None:
    # Seed 1 drops the first readiness stream after its snapshot. The SDK waits 1 s
    # before it reconnects, and by then the workload is ready.
    with LocalControlPlane(ready_after=0.3, drop_streams=True, seed=1) as control_plane:
        mgmt = ManagementClient(base_url=control_plane.base_url, sdk_token=control_plane.create_sdk_token(PROJECT), project=PROJECT)
        ref = mgmt.ensure(chat_spec())
        events: list[ReadinessEvent] = []

        mgmt.wait_until_ready(ref.workload_slug, on_progress=events.append, timeout=10)

        streams = [path for _, path in control_plane.requests if path.endswith("/readiness-events")]
    assert len(streams) == 2
    assert [event.phase for event in events] == ["scheduling", "ready"]


def test_generate_text(mgmt: ManagementClient, data: DataClient) -> None:
    ref = mgmt.ensure(chat_spec())

    result = data.endpoint(ref.workload_slug).generate_text(prompt="Hola", temperature=0.2, max_tokens=300)

    assert result.text == "[inferencekey-local] support-bot received: Hola"
    assert result.model == MODEL
    assert result.finish_reason == "stop"


def test_generate_text_stream(mgmt: ManagementClient, data: DataClient) -> None:
    ref = mgmt.ensure(chat_spec())

    chunks = list(data.endpoint(ref.workload_slug).generate_text_stream(prompt="Hola"))

    assert "".join(chunk.text for chunk in chunks) == "[inferencekey-local] support-bot received: Hola"
    assert chunks[-1].finish_reason == "stop"


def test_embed(mgmt: ManagementClient, data: DataClient) -> None:
    ref = mgmt.ensure(WorkloadSpec(name="Billing Embeddings", slug="billing", model="nomic-embed-text", backend="ollama",
                                   task_type="embedding"))  # fmt: skip

    result = data.endpoint(ref.workload_slug).embed(input=["a", "b"])

    assert len(result.embeddings) == 2
    assert result.embeddings[0] != result.embeddings[1]
    assert result.model == "nomic-embed-text"


def test_generate_text__not_ready(control_plane: LocalControlPlane, mgmt: ManagementClient, data: DataClient) -> None:
    control_plane.ready_after = 30.0
    ref = mgmt.ensure(chat_spec())

    with pytest.raises(ApiError, match="status 503"):
        data.endpoint(ref.workload_slug).generate_text(prompt="Hola")


def test_delete__idempotent(control_plane: LocalControlPlane, mgmt: ManagementClient) -> None:
    mgmt.ensure(chat_spec())
    workload_id = control_plane.workloads(PROJECT)[0]["id"]

    existed = mgmt.delete("support-bot")
    existed_again = mgmt.delete("support-bot")

    assert existed is True
    assert existed_again is False
    assert writes(control_plane)[-1] == ("DELETE", f"/api/workloads/{workload_id}")
    assert control_plane.workloads(PROJECT) == []


def test_ensure__live_key_is_wrong_credential(control_plane: LocalControlPlane) -> None:
    key = control_plane.create_api_key(PROJECT)
    mgmt = ManagementClient(base_url=control_plane.base_url, sdk_token=key, project=PROJECT)

    with pytest.raises(PermissionDenied) as raised:
        mgmt.ensure(chat_spec())

    assert "wrong_credential_type" in str(raised.value)
    assert key not in str(raised.value)


def test_generate_text__sdk_token_is_wrong_credential(control_plane: LocalControlPlane, mgmt: ManagementClient) -> None:
    mgmt.ensure(chat_spec())
    token = control_plane.create_sdk_token(PROJECT)
    endpoint = DataClient(base_url=control_plane.base_url, project=PROJECT).endpoint("support-bot", api_key=token)

    with pytest.raises(PermissionDenied) as raised:
        endpoint.generate_text(prompt="Hola")

    assert "wrong_credential_type" in str(raised.value)
    assert token not in str(raised.value)


def test_ensure__read_only_token_is_scope_insufficient(control_plane: LocalControlPlane) -> None:
    token = control_plane.create_sdk_token(PROJECT, read_only=True)
    mgmt = ManagementClient(base_url=control_plane.base_url, sdk_token=token, project=PROJECT)

    with pytest.raises(PermissionDenied, match="scope_insufficient"):
        mgmt.ensure(chat_spec())


def test_ensure__unknown_token_is_authentication_failure(control_plane: LocalControlPlane) -> None:
    mgmt = ManagementClient(base_url=control_plane.base_url, sdk_token="ik_sdk_deadbeef_" + "0" * 64, project=PROJECT)

    # SDK 0.260725.739 raises a 401 as PermissionDenied, not as its documented AuthError.
    with pytest.raises((AuthError, PermissionDenied), match="^authentication failed: .*unknown token ik_sdk_deadbeef…"):
        mgmt.ensure(chat_spec())
