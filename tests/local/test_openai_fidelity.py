"""The ``openai`` client against a workload's data plane, with an ik_live_ key as its API key."""

from __future__ import annotations

from typing import Iterator

import httpx
import openai
import pytest
from local_helpers import PROJECT, create_workload

from pulumi_inferencekey.local import LocalControlPlane
from pulumi_inferencekey.local.dataplane import EMBEDDING_DIMENSION


@pytest.fixture
def chat_client(control_plane: LocalControlPlane, api: httpx.Client) -> Iterator[openai.OpenAI]:
    create_workload(api)
    key = control_plane.create_api_key(PROJECT, workloads=["support-bot"])
    with openai.OpenAI(base_url=control_plane.endpoint_url(PROJECT, "support-bot"), api_key=key, max_retries=0) as client:
        yield client


@pytest.fixture
def embedding_client(control_plane: LocalControlPlane, api: httpx.Client) -> Iterator[openai.OpenAI]:
    create_workload(api, slug="billing", task_type="embedding", backend="ollama", model_name="nomic-embed-text", config=None)
    key = control_plane.create_api_key(PROJECT)
    with openai.OpenAI(base_url=control_plane.endpoint_url(PROJECT, "billing"), api_key=key, max_retries=0) as client:
        yield client


def test_openai__chat(chat_client: openai.OpenAI) -> None:
    completion = chat_client.chat.completions.create(
        model="support-bot", messages=[{"role": "user", "content": "Hola"}], temperature=0.2
    )

    assert completion.choices[0].message.content == "[inferencekey-local] support-bot received: Hola"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.model == "meta-llama/Llama-3.1-8B-Instruct"
    assert completion.usage is not None
    assert completion.usage.total_tokens == 5


def test_openai__chat_stream(chat_client: openai.OpenAI) -> None:
    stream = chat_client.chat.completions.create(
        model="support-bot",
        messages=[{"role": "user", "content": "Hola"}],
        stream=True,
        stream_options={"include_usage": True},
    )

    chunks = list(stream)

    text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)
    assert text == "[inferencekey-local] support-bot received: Hola"
    assert [chunk.choices[0].finish_reason for chunk in chunks if chunk.choices][-1] == "stop"
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == 4


def test_openai__embeddings_default_encoding(embedding_client: openai.OpenAI) -> None:
    # The openai client requests base64 unless the caller sets encoding_format, and decodes it itself.
    result = embedding_client.embeddings.create(model="billing", input=["alpha", "beta"])

    assert [item.index for item in result.data] == [0, 1]
    assert all(len(item.embedding) == EMBEDDING_DIMENSION for item in result.data)
    assert result.model == "nomic-embed-text"


def test_openai__embeddings_float_matches_base64(embedding_client: openai.OpenAI) -> None:
    decoded = embedding_client.embeddings.create(model="billing", input="alpha").data[0].embedding
    floats = embedding_client.embeddings.create(model="billing", input="alpha", encoding_format="float").data[0].embedding

    assert floats == decoded


def test_openai__sdk_token_rejected(control_plane: LocalControlPlane, chat_client: openai.OpenAI) -> None:
    token = control_plane.create_sdk_token(PROJECT)
    client = chat_client.with_options(api_key=token)

    with pytest.raises(openai.PermissionDeniedError) as raised:
        client.chat.completions.create(model="support-bot", messages=[{"role": "user", "content": "Hola"}])

    assert raised.value.body["code"] == "wrong_credential_type"
    assert token not in str(raised.value)


def test_openai__not_ready_is_service_unavailable(control_plane: LocalControlPlane, api: httpx.Client) -> None:
    control_plane.ready_after = 30.0
    create_workload(api)
    key = control_plane.create_api_key(PROJECT)
    client = openai.OpenAI(base_url=control_plane.endpoint_url(PROJECT, "support-bot"), api_key=key, max_retries=0)

    with client, pytest.raises(openai.InternalServerError) as raised:
        client.chat.completions.create(model="support-bot", messages=[{"role": "user", "content": "Hola"}])

    assert raised.value.status_code == 503
    assert raised.value.body["code"] == "workload_not_ready"
