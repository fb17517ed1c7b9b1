"""Data plane of the local platform over raw HTTP: chat, streaming, embeddings, jobs and readiness."""

from __future__ import annotations

import base64
import json
import math
import struct
from typing import Any, Iterator

import httpx
import pytest
from local_helpers import PROJECT, bearer, create_workload, error_of

from pulumi_inferencekey.local import LocalControlPlane
from pulumi_inferencekey.local.dataplane import EMBEDDING_DIMENSION

CHAT_PATH = f"/endpoint/{PROJECT}/support-bot/v1/chat/completions"
EMBEDDINGS_PATH = f"/endpoint/{PROJECT}/support-bot/v1/embeddings"


def chat_body(content: str = "Hola", **extra: Any) -> dict[str, Any]:
    return {"model": "support-bot", "messages": [{"role": "user", "content": content}], **extra}


@pytest.fixture
def data(control_plane: LocalControlPlane) -> Iterator[httpx.Client]:
    """An HTTP client of the data plane with an ik_live_ key for the whole project."""
    key = control_plane.create_api_key(PROJECT)
    with httpx.Client(base_url=control_plane.base_url, headers=bearer(key), timeout=10.0) as client:
        yield client


def test_chat__completion(api: httpx.Client, data: httpx.Client) -> None:
    create_workload(api)
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "first question"},
        {"role": "assistant", "content": "first answer"},
        {"role": "user", "content": "Hola, ¿qué tal?"},
    ]

    response = data.post(CHAT_PATH, json={"model": "support-bot", "messages": messages})

    assert response.status_code == 200
    completion = response.json()
    assert completion["id"].startswith("chatcmpl-")
    assert completion["object"] == "chat.completion"
    assert isinstance(completion["created"], int)
    assert completion["model"] == "meta-llama/Llama-3.1-8B-Instruct"
    assert completion["choices"][0]["message"] == {
        "role": "assistant",
        "content": "[inferencekey-local] support-bot received: Hola, ¿qué tal?",
    }
    assert completion["choices"][0]["finish_reason"] == "stop"
    assert completion["usage"] == {"prompt_tokens": 3, "completion_tokens": 6, "total_tokens": 9}


def test_chat__deterministic(api: httpx.Client, data: httpx.Client) -> None:
    create_workload(api)

    first = data.post(CHAT_PATH, json=chat_body()).json()
    second = data.post(CHAT_PATH, json=chat_body()).json()

    assert first["id"] == second["id"]
    assert first["choices"] == second["choices"]


def test_chat__content_parts(api: httpx.Client, data: httpx.Client) -> None:
    create_workload(api)
    content = [{"type": "text", "text": "describe"}, {"type": "image_url", "image_url": {"url": "x"}}, {"type": "text", "text": "this"}]

    response = data.post(CHAT_PATH, json=chat_body(content))

    assert response.json()["choices"][0]["message"]["content"] == "[inferencekey-local] support-bot received: describe this"


def test_chat__max_tokens_cuts_reply(api: httpx.Client, data: httpx.Client) -> None:
    create_workload(api)

    response = data.post(CHAT_PATH, json=chat_body("a long question", max_tokens=2))

    choice = response.json()["choices"][0]
    assert choice["message"]["content"] == "[inferencekey-local] support-bot"
    assert choice["finish_reason"] == "length"


def test_chat__stream(api: httpx.Client, data: httpx.Client) -> None:
    create_workload(api)

    with data.stream("POST", CHAT_PATH, json=chat_body(stream=True)) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = [line for line in response.iter_lines() if line]

    assert lines[-1] == "data: [DONE]"
    chunks = [json.loads(line.removeprefix("data: ")) for line in lines[:-1]]
    assert {chunk["object"] for chunk in chunks} == {"chat.completion.chunk"}
    assert len({chunk["id"] for chunk in chunks}) == 1
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    text = "".join(chunk["choices"][0]["delta"].get("content", "") for chunk in chunks)
    assert text == "[inferencekey-local] support-bot received: Hola"
    assert [chunk["choices"][0]["finish_reason"] for chunk in chunks][-2:] == [None, "stop"]


def test_chat__stream_with_usage(api: httpx.Client, data: httpx.Client) -> None:
    create_workload(api)

    with data.stream("POST", CHAT_PATH, json=chat_body(stream=True, stream_options={"include_usage": True})) as response:
        lines = [line for line in response.iter_lines() if line]

    usage_chunk = json.loads(lines[-2].removeprefix("data: "))
    assert usage_chunk["choices"] == []
    assert usage_chunk["usage"] == {"prompt_tokens": 1, "completion_tokens": 4, "total_tokens": 5}


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        pytest.param({"model": "x"}, "messages", "messages: must be a non-empty array of chat messages", id="missing"),
        pytest.param(
            {"messages": [{"role": "system", "content": "x"}]},
            "messages",
            "messages: must contain at least one message with role 'user'",
            id="no-user",
        ),
        pytest.param(chat_body(max_tokens=0), "max_tokens", "max_tokens: must be a positive integer", id="max-tokens"),
    ],
)
def test_chat__invalid_body(api: httpx.Client, data: httpx.Client, body: dict[str, Any], field: str, message: str) -> None:
    create_workload(api)

    response = data.post(CHAT_PATH, json=body)

    assert error_of(response) == (400, "invalid_field", message)


def test_embeddings__vectors(api: httpx.Client, data: httpx.Client) -> None:
    create_workload(api, task_type="embedding", backend="ollama", model_name="nomic-embed-text", config=None)

    response = data.post(EMBEDDINGS_PATH, json={"model": "support-bot", "input": ["alpha", "beta", "alpha"]})

    assert response.status_code == 200
    result = response.json()
    assert result["object"] == "list"
    assert result["model"] == "nomic-embed-text"
    assert [item["index"] for item in result["data"]] == [0, 1, 2]
    vectors = [item["embedding"] for item in result["data"]]
    assert all(len(vector) == EMBEDDING_DIMENSION for vector in vectors)
    assert vectors[0] == vectors[2]
    assert vectors[0] != vectors[1]
    assert math.isclose(math.sqrt(sum(component * component for component in vectors[0])), 1.0, rel_tol=1e-5)
    assert result["usage"] == {"prompt_tokens": 3, "total_tokens": 3}


def test_embeddings__base64_matches_float(api: httpx.Client, data: httpx.Client) -> None:
    create_workload(api, task_type="embedding", backend="ollama", model_name="nomic-embed-text", config=None)

    floats = data.post(EMBEDDINGS_PATH, json={"input": "alpha"}).json()["data"][0]["embedding"]
    encoded = data.post(EMBEDDINGS_PATH, json={"input": "alpha", "encoding_format": "base64"}).json()["data"][0]["embedding"]

    decoded = list(struct.unpack(f"<{EMBEDDING_DIMENSION}f", base64.b64decode(encoded)))
    assert decoded == floats


def test_embeddings__dimensions(api: httpx.Client, data: httpx.Client) -> None:
    create_workload(api, task_type="embedding", backend="ollama", model_name="nomic-embed-text", config=None)

    vector = data.post(EMBEDDINGS_PATH, json={"input": "alpha", "dimensions": 8}).json()["data"][0]["embedding"]
    rejected = data.post(EMBEDDINGS_PATH, json={"input": "alpha", "dimensions": 4096})

    assert len(vector) == 8
    assert error_of(rejected) == (400, "invalid_field", f"dimensions: must be an integer from 1 to {EMBEDDING_DIMENSION}")


@pytest.mark.parametrize(
    ("task_type", "path", "message"),
    [
        pytest.param(
            "embedding",
            CHAT_PATH,
            f"workload '{PROJECT}/support-bot' has task type 'embedding'; chat/completions serves only task types omni, text2text",
            id="chat-on-embedding",
        ),
        pytest.param(
            "text2text",
            EMBEDDINGS_PATH,
            f"workload '{PROJECT}/support-bot' has task type 'text2text'; embeddings serves only task types embedding",
            id="embeddings-on-chat",
        ),
        pytest.param(
            "reranker",
            CHAT_PATH,
            f"workload '{PROJECT}/support-bot' has task type 'reranker', which is served only through async jobs "
            f"at /endpoint/{PROJECT}/support-bot/jobs",
            id="chat-on-async-only",
        ),
    ],
)
def test_dataplane__wrong_task_type(api: httpx.Client, data: httpx.Client, task_type: str, path: str, message: str) -> None:
    create_workload(api, task_type=task_type)

    response = data.post(path, json={**chat_body(), "input": "x"})

    assert error_of(response) == (400, "unsupported_task_type", message)


def test_dataplane__not_ready(control_plane: LocalControlPlane, api: httpx.Client, data: httpx.Client) -> None:
    control_plane.ready_after = 30.0
    create_workload(api)

    response = data.post(CHAT_PATH, json=chat_body())

    assert error_of(response) == (
        503,
        "workload_not_ready",
        f"workload '{PROJECT}/support-bot' is not ready yet: it is scheduling; retry later",
    )


def test_dataplane__failed_workload(api: httpx.Client, data: httpx.Client) -> None:
    create_workload(api, model_name="fail/oops")

    response = data.post(CHAT_PATH, json=chat_body())

    assert error_of(response) == (
        503,
        "workload_failed",
        f"workload '{PROJECT}/support-bot' failed to start: model 'fail/oops' could not be loaded: "
        "the local control plane rejects model names containing 'does-not-exist' or starting with 'fail/'",
    )


def test_dataplane__unknown_workload(data: httpx.Client) -> None:
    response = data.post(CHAT_PATH, json=chat_body())

    assert error_of(response) == (404, "not_found", f"workload 'support-bot' not found in project '{PROJECT}'")


def test_dataplane__workload_id_is_not_a_slug(api: httpx.Client, data: httpx.Client) -> None:
    created = create_workload(api)

    response = data.post(f"/endpoint/{PROJECT}/{created['id']}/v1/chat/completions", json=chat_body())

    assert error_of(response) == (404, "not_found", f"workload '{created['id']}' not found in project '{PROJECT}'")


def test_dataplane__unknown_route(data: httpx.Client) -> None:
    response = data.post(f"/endpoint/{PROJECT}/support-bot/v1/audio/speech", json={})

    assert error_of(response) == (
        404,
        "not_found",
        f"no route for POST /endpoint/{PROJECT}/support-bot/v1/audio/speech",
    )


def test_jobs__accepted(api: httpx.Client, data: httpx.Client) -> None:
    create_workload(api, task_type="reranker")

    response = data.post(f"/endpoint/{PROJECT}/support-bot/jobs", json={"kind": "rerank", "body": {"query": "q"}})

    assert response.status_code == 202
    assert response.json()["job_id"].startswith("job_")


def test_jobs__kind_required(api: httpx.Client, data: httpx.Client) -> None:
    create_workload(api, task_type="reranker")

    response = data.post(f"/endpoint/{PROJECT}/support-bot/jobs", json={"body": {}})

    assert error_of(response) == (400, "invalid_field", "kind: is required: a non-empty string naming the job kind")


def test_dataplane__requests_recorded(control_plane: LocalControlPlane, api: httpx.Client, data: httpx.Client) -> None:
    create_workload(api)

    data.post(CHAT_PATH, json=chat_body())
    with data.stream("POST", CHAT_PATH, json=chat_body(stream=True)) as response:
        response.read()

    assert control_plane.requests == [("POST", f"/api/projects/{PROJECT}/workloads"), ("POST", CHAT_PATH), ("POST", CHAT_PATH)]
