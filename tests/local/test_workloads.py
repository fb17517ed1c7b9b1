"""Control-plane workload routes of the local platform: list, create, patch, delete."""

from __future__ import annotations

import re
from typing import Any, Iterator

import httpx
import pytest

from pulumi_inferencekey.local import LocalControlPlane
from pulumi_inferencekey.tokens import redact

from local_helpers import PROJECT, VLLM_COMMAND, bearer, create_workload, error_of, workload_body

RFC3339_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
WORKLOAD_FIELDS = {
    "id", "project_id", "project_slug", "name", "slug", "workload_slug", "description", "task_type", "backend",
    "model_name", "config", "worker_id", "gpu_resource_id", "execution_policy", "execution_policy_config",
    "created_at", "updated_at",
}  # fmt: skip
AUTOSCALING_CONFIG = {
    "min_workers": 0,
    "max_workers": 2,
    "max_hourly_cost_usd": 3.5,
    "workers": {"source": "cloud", "cloud_pool": {"gpu_pool": ["NVIDIA L4"]}},
}


def test_list__empty_project(api: httpx.Client) -> None:
    response = api.get(f"/api/projects/{PROJECT}/workloads")

    assert response.status_code == 200
    assert response.json() == {"workloads": []}


def test_create__returns_workload(api: httpx.Client) -> None:
    response = api.post(f"/api/projects/{PROJECT}/workloads", json=workload_body(description="Customer support"))

    assert response.status_code == 201
    workload = response.json()
    assert set(workload) == WORKLOAD_FIELDS
    assert workload["id"].startswith("wl_")
    assert workload["project_id"].startswith("proj_")
    assert workload["project_slug"] == PROJECT
    assert workload["slug"] == "support-bot"
    assert workload["workload_slug"] == "support-bot"
    assert workload["name"] == "Support Bot"
    assert workload["description"] == "Customer support"
    assert workload["task_type"] == "text2text"
    assert workload["backend"] == "vllm"
    assert workload["model_name"] == "meta-llama/Llama-3.1-8B-Instruct"
    assert workload["config"] == {"command": VLLM_COMMAND}
    assert workload["worker_id"] is None
    assert workload["execution_policy"] is None
    assert RFC3339_UTC.match(workload["created_at"])
    assert workload["updated_at"] == workload["created_at"]


def test_create__listed_afterwards(api: httpx.Client) -> None:
    created = create_workload(api)

    listed = api.get(f"/api/projects/{PROJECT}/workloads").json()["workloads"]

    assert listed == [created]


def test_create__task_type_defaults_to_text2text(api: httpx.Client) -> None:
    body = workload_body()
    del body["task_type"]

    response = api.post(f"/api/projects/{PROJECT}/workloads", json=body)

    assert response.status_code == 201
    assert response.json()["task_type"] == "text2text"


@pytest.mark.parametrize(
    ("slug", "name", "expected"),
    [
        pytest.param("Gemma 4 26B (llama.cpp) on R9700", "x", "gemma-4-26b-llama-cpp-on-r9700", id="punctuation-runs"),
        pytest.param("--Support__Bot--", "x", "support-bot", id="edge-dashes"),
        pytest.param(None, "Billing Embeddings v2", "billing-embeddings-v2", id="from-name"),
    ],
)
def test_create__slug_canonicalised(api: httpx.Client, slug: str | None, name: str, expected: str) -> None:
    overrides: dict[str, Any] = {"name": name, "slug": slug}
    body = workload_body(**overrides)
    if slug is None:
        del body["slug"]

    response = api.post(f"/api/projects/{PROJECT}/workloads", json=body)

    assert response.status_code == 201
    assert response.json()["slug"] == expected


def test_create__slug_taken(api: httpx.Client) -> None:
    slugs = [create_workload(api, slug="Support Bot")["slug"] for _ in range(3)]

    assert slugs == ["support-bot", "support-bot-1", "support-bot-2"]


def test_create__slug_taken_in_other_project_is_free(control_plane: LocalControlPlane, api: httpx.Client) -> None:
    other = control_plane.create_sdk_token("globex")
    create_workload(api)

    response = api.post("/api/projects/globex/workloads", json=workload_body(), headers=bearer(other))

    assert response.status_code == 201
    assert response.json()["slug"] == "support-bot"


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        pytest.param({"slug": "!!!"}, "slug", "slug: '!!!' has no letters or digits, so its canonical form is empty", id="empty-slug"),
        pytest.param(
            {"slug": None, "name": "***"},
            "slug",
            "slug: cannot derive a slug from name '***' because it has no letters or digits; set 'slug'",
            id="empty-slug-from-name",
        ),
        pytest.param({"name": None}, "name", "name: must be a string", id="null-name"),
        pytest.param({"name": ""}, "name", "name: must not be empty", id="empty-name"),
        pytest.param({"model_name": ""}, "model_name", "model_name: must not be empty", id="empty-model"),
        pytest.param(
            {"backend": "Triton Server"},
            "backend",
            "backend: unknown backend 'Triton Server'; use one of ollama, vllm, vllm-omni, sglang, llamacpp, "
            "stablediffusioncpp or a custom backend slug such as 'my-backend'",
            id="unknown-backend",
        ),
        pytest.param(
            {"task_type": "text2speech"},
            "task_type",
            "task_type: unknown task type 'text2speech'; use one of text2text, embedding, text2image, text2video, "
            "text2audio, image2image, image2video, audio2text, omni, reranker, classification, reward, forecast",
            id="unknown-task-type",
        ),
        pytest.param({"config": ["vllm"]}, "config", "config: must be a JSON object", id="config-not-object"),
        pytest.param(
            {"config": {"command": "  "}},
            "config.command",
            "config.command: must be a non-empty string for the 'vllm' backend",
            id="blank-command",
        ),
        pytest.param(
            {"config": {"command": 42}, "backend": "llamacpp"},
            "config.command",
            "config.command: must be a non-empty string for the 'llamacpp' backend",
            id="command-not-string",
        ),
        pytest.param(
            {"backend": "ollama", "config": {"command": "ollama run x"}},
            "config.command",
            "config.command: the 'ollama' backend takes no launch command; remove it",
            id="ollama-command",
        ),
        pytest.param(
            {"backend": "sglang", "config": {"command": "python -m sglang.launch_server"}},
            "config.command",
            "config.command: the 'sglang' backend takes no launch command; remove it",
            id="sglang-command",
        ),
        pytest.param(
            {"backend": "llamacpp", "config": {"command": "llama-server -m x.gguf", "vllm_version": "0.6.3"}},
            "config.vllm_version",
            "config.vllm_version: applies only to the vllm and vllm-omni backends, not 'llamacpp'",
            id="vllm-version-on-llamacpp",
        ),
        pytest.param(
            {"execution_policy": "always-on"},
            "execution_policy",
            "execution_policy: unknown policy 'always-on'; use one of fixed, scheduled, autoscaling",
            id="unknown-policy",
        ),
        pytest.param(
            {"execution_policy": "fixed", "execution_policy_config": {"replicas": 0}},
            "execution_policy_config.replicas",
            "execution_policy_config.replicas: Input should be greater than or equal to 1",
            id="fixed-zero-replicas",
        ),
        pytest.param(
            {"execution_policy": "autoscaling", "execution_policy_config": {"min_replicas": 1, "max_workers": 2}},
            "execution_policy_config.min_replicas",
            "execution_policy_config.min_replicas: unknown key for the 'autoscaling' policy; allowed keys: "
            "min_workers, max_workers, max_hourly_cost_usd, workers, gpu_pool",
            id="autoscaling-min-replicas",
        ),
        pytest.param(
            {"execution_policy_config": {"replicas": 1}},
            "execution_policy",
            "execution_policy: is required when execution_policy_config is set",
            id="policy-config-without-policy",
        ),
        pytest.param(
            {"provider": "aws"},
            "provider",
            "provider: unknown field 'provider'; allowed fields: name, slug, description, task_type, backend, "
            "model_name, config, worker_id, gpu_resource_id, execution_policy, execution_policy_config",
            id="unknown-field",
        ),
    ],
)
def test_create__invalid_field(api: httpx.Client, overrides: dict[str, Any], field: str, message: str) -> None:
    body = workload_body(**overrides)
    for key in [key for key, value in overrides.items() if value is None and key == "slug"]:
        del body[key]

    response = api.post(f"/api/projects/{PROJECT}/workloads", json=body)

    assert error_of(response) == (400, "invalid_field", message)
    assert message.startswith(f"{field}: ")
    assert api.get(f"/api/projects/{PROJECT}/workloads").json() == {"workloads": []}


@pytest.mark.parametrize("missing", ["name", "backend", "model_name"])
def test_create__required_field_missing(api: httpx.Client, missing: str) -> None:
    body = workload_body()
    del body[missing]

    response = api.post(f"/api/projects/{PROJECT}/workloads", json=body)

    assert error_of(response) == (400, "invalid_field", f"{missing}: is required")


def test_create__unknown_fields_all_named(api: httpx.Client) -> None:
    response = api.post(f"/api/projects/{PROJECT}/workloads", json=workload_body(provider="aws", min_vram_gb=24))

    status, code, message = error_of(response)
    assert (status, code) == (400, "invalid_field")
    assert message.startswith("min_vram_gb: unknown fields 'min_vram_gb', 'provider'; allowed fields: ")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param(b"{not json", "the request body is not valid JSON: ", id="invalid-json"),
        pytest.param(b"", "the request body is empty; send a JSON object", id="empty"),
        pytest.param(b"[1, 2]", "the request body must be a JSON object, got an array", id="array"),
    ],
)
def test_create__malformed_body(api: httpx.Client, content: bytes, message: str) -> None:
    response = api.post(f"/api/projects/{PROJECT}/workloads", content=content, headers={"Content-Type": "application/json"})

    status, code, actual = error_of(response)
    assert (status, code) == (400, "malformed_body")
    assert actual.startswith(message)


def test_create__policy_config_normalised(api: httpx.Client) -> None:
    config = {**AUTOSCALING_CONFIG, "min_workers": 1.0}

    workload = create_workload(api, execution_policy="autoscaling", execution_policy_config=config)

    assert workload["execution_policy"] == "autoscaling"
    assert workload["execution_policy_config"] == {**AUTOSCALING_CONFIG, "min_workers": 1}


def test_create__custom_backend_accepted(api: httpx.Client) -> None:
    workload = create_workload(api, backend="echo-backend", config={"command": "python -m echo"})

    assert workload["backend"] == "echo-backend"


def test_create__pinned(api: httpx.Client) -> None:
    pinned = create_workload(api, worker_id="worker-7", gpu_resource_id="gpu-3")

    assert pinned["worker_id"] == "worker-7"
    assert pinned["gpu_resource_id"] == "gpu-3"


@pytest.fixture
def unassigning_token(control_plane: LocalControlPlane) -> str:
    """A token that may write workloads but not pin them to workers or GPUs."""
    return control_plane.create_sdk_token(PROJECT, scopes=["workload:write", "workload:read"])


@pytest.fixture
def unassigning(control_plane: LocalControlPlane, unassigning_token: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=control_plane.base_url, headers=bearer(unassigning_token), timeout=10.0) as client:
        yield client


@pytest.mark.parametrize("field", ["worker_id", "gpu_resource_id"])
def test_create__pin_needs_assignment_scope(unassigning: httpx.Client, unassigning_token: str, field: str) -> None:
    response = unassigning.post(f"/api/projects/{PROJECT}/workloads", json=workload_body(**{field: "w-1"}))

    assert error_of(response) == (
        403,
        "scope_insufficient",
        f"token {redact(unassigning_token)} lacks scope 'assignment:write' required to change '{field}'",
    )


def test_create__null_pin_needs_no_assignment_scope(unassigning: httpx.Client) -> None:
    response = unassigning.post(f"/api/projects/{PROJECT}/workloads", json=workload_body(worker_id=None))

    assert response.status_code == 201


def test_patch__changes_only_sent_fields(api: httpx.Client) -> None:
    created = create_workload(api, description="before")

    response = api.patch(f"/api/workloads/{created['id']}", json={"description": "after"})

    assert response.status_code == 200
    updated = response.json()
    assert updated["description"] == "after"
    assert {key: value for key, value in updated.items() if key not in ("description", "updated_at")} == {
        key: value for key, value in created.items() if key not in ("description", "updated_at")
    }
    assert updated["updated_at"] >= created["updated_at"]


def test_patch__by_slug(api: httpx.Client) -> None:
    create_workload(api)

    response = api.patch("/api/workloads/support-bot", json={"model_name": "Qwen/Qwen2.5-7B-Instruct"})

    assert response.status_code == 200
    assert response.json()["model_name"] == "Qwen/Qwen2.5-7B-Instruct"


def test_patch__clears_description_with_null(api: httpx.Client) -> None:
    created = create_workload(api, description="temporary")

    response = api.patch(f"/api/workloads/{created['id']}", json={"description": None})

    assert response.json()["description"] is None


@pytest.mark.parametrize(
    ("body", "message"),
    [
        pytest.param(
            {"task_type": "embedding"},
            "task_type: is not patchable; delete the workload and create it again to change it",
            id="task-type",
        ),
        pytest.param(
            {"task_type": "text2text", "description": "same task type"},
            "task_type: is not patchable; delete the workload and create it again to change it",
            id="task-type-unchanged",
        ),
        pytest.param(
            {"slug": "renamed"},
            "slug: is not patchable; delete the workload and create it again to change it",
            id="slug",
        ),
        pytest.param({"model_name": None}, "model_name: must not be null because every workload needs one", id="null-model"),
        pytest.param({"name": ""}, "name: must not be empty", id="empty-name"),
        pytest.param(
            {"backend": "ollama"},
            "config.command: the 'ollama' backend takes no launch command; remove it",
            id="backend-conflicts-with-config",
        ),
        pytest.param(
            {"execution_policy": "autoscaling"},
            "execution_policy_config.replicas: unknown key for the 'autoscaling' policy; allowed keys: "
            "min_workers, max_workers, max_hourly_cost_usd, workers, gpu_pool",
            id="policy-kind-change-without-config",
        ),
        pytest.param({"color": "blue"}, "color: unknown field 'color'; allowed fields: name, description, backend, "
                     "model_name, config, worker_id, gpu_resource_id, execution_policy, execution_policy_config",
                     id="unknown-field"),  # fmt: skip
    ],
)
def test_patch__invalid_field(api: httpx.Client, body: dict[str, Any], message: str) -> None:
    created = create_workload(api, execution_policy="fixed", execution_policy_config={"replicas": 1})

    response = api.patch(f"/api/workloads/{created['id']}", json=body)

    assert error_of(response) == (400, "invalid_field", message)
    assert api.get(f"/api/projects/{PROJECT}/workloads").json()["workloads"] == [created]


def test_patch__policy_kind_change_with_config(api: httpx.Client) -> None:
    created = create_workload(api, execution_policy="fixed", execution_policy_config={"replicas": 1})

    response = api.patch(
        f"/api/workloads/{created['id']}",
        json={"execution_policy": "autoscaling", "execution_policy_config": AUTOSCALING_CONFIG},
    )

    assert response.status_code == 200
    assert response.json()["execution_policy"] == "autoscaling"
    assert response.json()["execution_policy_config"] == AUTOSCALING_CONFIG


def test_patch__unknown_workload(api: httpx.Client) -> None:
    response = api.patch("/api/workloads/wl_missing", json={"description": "x"})

    assert error_of(response) == (404, "not_found", f"workload 'wl_missing' not found in project '{PROJECT}'")


def test_patch__workload_of_other_project_not_found(control_plane: LocalControlPlane, api: httpx.Client) -> None:
    other = control_plane.create_sdk_token("globex")
    created = create_workload(api)

    response = api.patch(f"/api/workloads/{created['id']}", json={"description": "x"}, headers=bearer(other))

    assert error_of(response) == (404, "not_found", f"workload '{created['id']}' not found in project 'globex'")


@pytest.mark.parametrize(
    ("pin", "status"),
    [
        pytest.param({"worker_id": "w-2"}, 403, id="repin"),
        pytest.param({"worker_id": None}, 403, id="unpin"),
        pytest.param({"worker_id": "w-1", "description": "x"}, 200, id="same-pin"),
        pytest.param({"description": "x"}, 200, id="no-pin"),
    ],
)
def test_patch__pin_needs_assignment_scope(
    api: httpx.Client, unassigning: httpx.Client, pin: dict[str, object], status: int
) -> None:
    created = create_workload(api, worker_id="w-1")

    response = unassigning.patch(f"/api/workloads/{created['id']}", json=pin)

    assert response.status_code == status
    if status == 403:
        assert error_of(response)[1] == "scope_insufficient"
        assert api.get(f"/api/projects/{PROJECT}/workloads").json()["workloads"][0]["worker_id"] == "w-1"


def test_delete__removes_workload(api: httpx.Client) -> None:
    created = create_workload(api)

    response = api.delete(f"/api/workloads/{created['id']}")

    assert response.status_code == 204
    assert response.content == b""
    assert api.get(f"/api/projects/{PROJECT}/workloads").json() == {"workloads": []}


def test_delete__twice_is_not_found(api: httpx.Client) -> None:
    created = create_workload(api)
    api.delete(f"/api/workloads/{created['id']}")

    response = api.delete(f"/api/workloads/{created['id']}")

    assert error_of(response) == (404, "not_found", f"workload '{created['id']}' not found in project '{PROJECT}'")


def test_delete__by_slug(api: httpx.Client) -> None:
    create_workload(api)

    response = api.delete("/api/workloads/support-bot")

    assert response.status_code == 204


@pytest.mark.parametrize(
    ("method", "path", "status", "code", "message"),
    [
        pytest.param("GET", "/api/nothing", 404, "not_found", "no route for GET /api/nothing", id="unknown-path"),
        pytest.param("PUT", "/api/workloads/x", 405, "method_not_allowed", "PUT is not allowed on /api/workloads/x",
                     id="wrong-method"),  # fmt: skip
    ],
)
def test_routes__unknown(api: httpx.Client, method: str, path: str, status: int, code: str, message: str) -> None:
    response = api.request(method, path)

    assert error_of(response) == (status, code, message)


def test_requests__recorded_without_query(control_plane: LocalControlPlane, api: httpx.Client) -> None:
    api.get(f"/api/projects/{PROJECT}/workloads", params={"page": 2})
    created = create_workload(api)
    api.delete(f"/api/workloads/{created['id']}")

    assert control_plane.requests == [
        ("GET", f"/api/projects/{PROJECT}/workloads"),
        ("POST", f"/api/projects/{PROJECT}/workloads"),
        ("DELETE", f"/api/workloads/{created['id']}"),
    ]
    assert control_plane.request_bodies[1].body == workload_body()


def test_workloads__not_recorded(control_plane: LocalControlPlane, api: httpx.Client) -> None:
    create_workload(api)

    workloads = control_plane.workloads(PROJECT)

    assert [workload["slug"] for workload in workloads] == ["support-bot"]
    assert workloads[0]["phase"] == "ready"
    assert control_plane.requests == [("POST", f"/api/projects/{PROJECT}/workloads")]
