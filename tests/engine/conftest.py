"""Engine tests: a real Pulumi engine on a file backend against a local control plane."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pytest
from pulumi import automation as auto

from pulumi_inferencekey.automation import inline_stack
from pulumi_inferencekey.client import ControlPlaneClient
from pulumi_inferencekey.settings import resolve_settings

PROJECT = "acme"


@dataclass
class EngineStack:
    """An inline-program stack wired to one local control plane, with the token in secret config."""

    stack: auto.Stack
    control_plane: Any
    token: str
    spec: dict[str, Any] = field(default_factory=dict)
    baseline: int = 0

    def mark(self) -> None:
        """Count only the requests made from now on."""
        self.baseline = len(self.control_plane.requests)

    def server_requests(self) -> list[tuple[str, str]]:
        return self.control_plane.requests[self.baseline :]

    def use_token(self, token: str, monkeypatch: pytest.MonkeyPatch) -> None:
        """Make ``token`` the SDK token of the next engine runs."""
        self.token = token
        monkeypatch.setenv("INFERENCEKEY_SDK_TOKEN", token)

    def patch_bodies(self) -> list[Any]:
        return [entry.body for entry in self.control_plane.request_bodies[self.baseline :] if entry.method == "PATCH"]

    def writes(self) -> list[tuple[str, str]]:
        return [request for request in self.server_requests() if request[0] in ("POST", "PATCH", "DELETE")]


@pytest.fixture
def sdk_client():
    """Return a factory of control-plane clients that act out of band, as a colleague would."""
    clients = []

    def factory(engine: EngineStack) -> ControlPlaneClient:
        writer = engine.control_plane.create_sdk_token(PROJECT)
        client = ControlPlaneClient(resolve_settings(base_url=engine.control_plane.base_url, project=PROJECT, sdk_token=writer))
        clients.append(client)
        return client

    yield factory

    for client in clients:
        client.close()


@pytest.fixture
def make_stack(local_control_plane, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Return a factory of stacks running ``program(spec)``; destroys every stack afterwards.

    The SDK token goes in INFERENCEKEY_SDK_TOKEN, which both the inline program (this
    process) and the provider (a child of the CLI) read; ``token_in_config`` puts it in
    secret stack config instead.
    """
    created: list[EngineStack] = []

    def factory(program: Callable[[dict[str, Any]], None], *, name: str = "dev", token_in_config: bool = False, **spec: Any) -> EngineStack:
        token = local_control_plane.create_sdk_token(PROJECT)
        holder = EngineStack(stack=None, control_plane=local_control_plane, token=token, spec=dict(spec))  # type: ignore[arg-type]
        holder.stack = inline_stack(
            "workloads",
            name,
            lambda: program(holder.spec),
            tmp_path / name,
            config={"inferencekey:baseUrl": local_control_plane.base_url, "inferencekey:project": PROJECT},
            secret_config={"inferencekey:sdkToken": token} if token_in_config else None,
        )
        if not token_in_config:
            holder.use_token(token, monkeypatch)
        created.append(holder)
        return holder

    yield factory

    for holder in created:
        writer = local_control_plane.create_sdk_token(PROJECT)
        holder.use_token(writer, monkeypatch)
        holder.stack.remove_config("inferencekey:sdkToken")
        holder.stack.destroy()
