"""Data plane: OpenAI-compatible chat completions and embeddings, plus async job intake.

Responses are deterministic and name the local control plane as their source, because no model runs.
NOTE: the platform's other modalities (images, audio, rerank) have no local route and return 404.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
import secrets
import struct
import time
from typing import Any, AsyncIterator

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from pulumi_inferencekey.models import ASYNC_ONLY_TASK_TYPES

from .auth import authorize_data
from .backend import Workload
from .context import authenticate_request, platform_of, read_json
from .exceptions import InvalidField, MalformedBody, UnsupportedTaskType, WorkloadFailed, WorkloadNotFound, WorkloadNotReady
from .handlers import SSE_HEADERS

CHAT_TASK_TYPES = frozenset({"text2text", "omni"})
EMBEDDING_TASK_TYPES = frozenset({"embedding"})
EMBEDDING_DIMENSION = 32
REPLY_PREFIX = "[inferencekey-local]"


async def chat_completions(request: Request) -> Response:
    workload = _serving_workload(request, CHAT_TASK_TYPES, "chat/completions")
    body = await _read_object(request)

    prompt = _last_user_message(body.get("messages"))
    reply, finish_reason = _reply(workload, prompt, body.get("max_tokens"))
    completion_id = "chatcmpl-" + _digest(workload.slug, json.dumps(body.get("messages")))[:24]

    if body.get("stream") is True:
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        chunks = _chat_chunks(completion_id, workload, reply, finish_reason, _usage(prompt, reply), include_usage)
        return StreamingResponse(chunks, media_type="text/event-stream", headers=SSE_HEADERS)
    return JSONResponse(_chat_completion(completion_id, workload, reply, finish_reason, _usage(prompt, reply)))


async def embeddings(request: Request) -> Response:
    """Return a deterministic unit vector per input, derived from a hash of model and text.

    Supports ``encoding_format`` ``float`` and ``base64`` (little-endian float32, what
    the openai client requests by default) and ``dimensions`` up to EMBEDDING_DIMENSION.
    """
    workload = _serving_workload(request, EMBEDDING_TASK_TYPES, "embeddings")
    body = await _read_object(request)

    texts = _embedding_inputs(body.get("input"))
    dimension = _embedding_dimension(body.get("dimensions"))
    encoding = body.get("encoding_format") or "float"
    if encoding not in ("float", "base64"):
        raise InvalidField("encoding_format", f"unknown encoding '{encoding}'; use 'float' or 'base64'")

    data = []
    for index, text in enumerate(texts):
        vector = _embedding_vector(workload.model_name, text, dimension)
        encoded: Any = vector if encoding == "float" else base64.b64encode(struct.pack(f"<{dimension}f", *vector)).decode()
        data.append({"object": "embedding", "index": index, "embedding": encoded})
    tokens = sum(_count_tokens(text) for text in texts)
    usage = {"prompt_tokens": tokens, "total_tokens": tokens}
    return JSONResponse({"object": "list", "data": data, "model": workload.model_name, "usage": usage})


async def submit_job(request: Request) -> Response:
    """Accept an async job for a ready workload and return its id.

    NOTE: the platform delivers job results to signed webhooks configured in the
    dashboard; the local platform accepts the job and never runs or delivers it.
    """
    _serving_workload(request, None, "jobs")
    body = await _read_object(request)

    kind = body.get("kind")
    if not isinstance(kind, str) or not kind.strip():
        raise InvalidField("kind", "is required: a non-empty string naming the job kind")
    return JSONResponse({"job_id": f"job_{secrets.token_hex(12)}"}, status_code=202)


def _serving_workload(request: Request, task_types: frozenset[str] | None, route: str) -> Workload:
    """Authorize the key and return the addressed workload if it can serve ``route`` now.

    A task-type mismatch is reported before readiness because it is permanent, while
    the 503 of a workload that is not ready yet invites a retry.
    """
    project = request.path_params["project"]
    slug = request.path_params["workload"]
    credential = authenticate_request(request)
    authorize_data(credential, project, slug)

    workload = platform_of(request).backend.find_workload(project, slug)
    if workload.slug != slug:
        raise WorkloadNotFound(project, slug)
    if task_types is not None and workload.task_type not in task_types:
        raise UnsupportedTaskType(_task_type_message(workload, route))

    event = workload.readiness_at(time.time())
    if event.phase == "error":
        raise WorkloadFailed(f"workload '{project}/{slug}' failed to start: {event.message}")
    if event.phase != "ready":
        raise WorkloadNotReady(f"workload '{project}/{slug}' is not ready yet: it is {event.phase}; retry later")
    return workload


def _task_type_message(workload: Workload, route: str) -> str:
    prefix = f"workload '{workload.project_slug}/{workload.slug}' has task type '{workload.task_type}'"
    if workload.task_type in ASYNC_ONLY_TASK_TYPES:
        return f"{prefix}, which is served only through async jobs at /endpoint/{workload.project_slug}/{workload.slug}/jobs"
    served = CHAT_TASK_TYPES if route == "chat/completions" else EMBEDDING_TASK_TYPES
    return f"{prefix}; {route} serves only task types {', '.join(sorted(served))}"


async def _read_object(request: Request) -> dict[str, Any]:
    body = await read_json(request)
    if not isinstance(body, dict):
        raise MalformedBody("the request body must be a JSON object")
    return body


def _last_user_message(messages: Any) -> str:
    if not isinstance(messages, list) or not messages:
        raise InvalidField("messages", "must be a non-empty array of chat messages")
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            return _message_text(message.get("content"))
    raise InvalidField("messages", "must contain at least one message with role 'user'")


def _message_text(content: Any) -> str:
    # OpenAI clients send content as a string or as a list of typed parts.
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(part.get("text", "") for part in content if isinstance(part, dict) and part.get("type") == "text")
    raise InvalidField("messages.content", "must be a string or an array of content parts")


def _reply(workload: Workload, prompt: str, max_tokens: Any) -> tuple[str, str]:
    """Return the reply text and its finish reason, cut to ``max_tokens`` whitespace-separated tokens."""
    reply = f"{REPLY_PREFIX} {workload.slug} received: {prompt}"
    if max_tokens is None:
        return reply, "stop"
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
        raise InvalidField("max_tokens", "must be a positive integer")

    words = reply.split()
    if len(words) <= max_tokens:
        return reply, "stop"
    return " ".join(words[:max_tokens]), "length"


def _chat_completion(completion_id: str, workload: Workload, reply: str, finish_reason: str, usage: dict[str, int]) -> dict[str, Any]:
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": workload.model_name,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": reply},
                "finish_reason": finish_reason,
                "logprobs": None,
            }
        ],
        "usage": usage,
    }


async def _chat_chunks(
    completion_id: str, workload: Workload, reply: str, finish_reason: str, usage: dict[str, int], include_usage: bool
) -> AsyncIterator[str]:
    created = int(time.time())

    def chunk(delta: dict[str, Any], finish: str | None) -> str:
        choice = {"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}
        return _sse_json({"id": completion_id, "object": "chat.completion.chunk", "created": created,
                          "model": workload.model_name, "choices": [choice]})  # fmt: skip

    yield chunk({"role": "assistant", "content": ""}, None)
    for piece in re.findall(r"\S+\s*", reply):
        yield chunk({"content": piece}, None)
    yield chunk({}, finish_reason)
    if include_usage:
        yield _sse_json({"id": completion_id, "object": "chat.completion.chunk", "created": created,
                         "model": workload.model_name, "choices": [], "usage": usage})  # fmt: skip
    yield "data: [DONE]\n\n"


def _embedding_inputs(value: Any) -> list[str]:
    # OpenAI also allows arrays of token ids, which are embedded as their decimal text.
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value:
        raise InvalidField("input", "must be a non-empty string or array of strings")
    if all(isinstance(item, int) for item in value):
        return [" ".join(map(str, value))]
    texts = []
    for item in value:
        if isinstance(item, str):
            texts.append(item)
        elif isinstance(item, list) and all(isinstance(token, int) for token in item):
            texts.append(" ".join(map(str, item)))
        else:
            raise InvalidField("input", "must contain only strings or arrays of token ids")
    return texts


def _embedding_dimension(value: Any) -> int:
    if value is None:
        return EMBEDDING_DIMENSION
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= EMBEDDING_DIMENSION:
        raise InvalidField("dimensions", f"must be an integer from 1 to {EMBEDDING_DIMENSION}")
    return value


def _embedding_vector(model_name: str, text: str, dimension: int) -> list[float]:
    raw: list[float] = []
    block = 0
    while len(raw) < dimension:
        digest = hashlib.sha256(f"{model_name}\0{text}\0{block}".encode()).digest()
        raw.extend(value / 2**31 - 1.0 for (value,) in struct.iter_unpack("<I", digest))
        block += 1
    vector = raw[:dimension]
    norm = math.sqrt(sum(component * component for component in vector)) or 1.0
    # Rounded to float32 so that the float and base64 encodings carry equal values.
    return [struct.unpack("<f", struct.pack("<f", component / norm))[0] for component in vector]


def _usage(prompt: str, reply: str) -> dict[str, int]:
    prompt_tokens, completion_tokens = _count_tokens(prompt), _count_tokens(reply)
    return {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens, "total_tokens": prompt_tokens + completion_tokens}


def _count_tokens(text: str) -> int:
    # Whitespace-separated words stand in for tokens; no tokenizer is loaded.
    return len(text.split())


def _digest(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def _sse_json(payload: dict[str, Any]) -> str:
    return f"data: {json.dumps(payload)}\n\n"
