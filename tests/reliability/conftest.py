"""Fixtures of the reliability tests: control planes with faults, and stacks run by the engine.

Every stack uses the SDK token from INFERENCEKEY_SDK_TOKEN, which the inline program (this
process) and the dynamic provider (a child of the CLI) both read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pulumi import automation as auto
from reliability_support import FLEET_PROGRAM, PROJECT, CliStack

from pulumi_inferencekey.automation import inline_stack, program_stack
from pulumi_inferencekey.local import LocalControlPlane


@pytest.fixture
def control_plane_factory() -> Iterator[Callable[..., LocalControlPlane]]:
    """Return a factory of started local control planes; each stops after the test."""
    started: list[LocalControlPlane] = []

    def factory(**options: Any) -> LocalControlPlane:
        control_plane = LocalControlPlane(**options).start()
        started.append(control_plane)
        return control_plane

    yield factory

    for control_plane in started:
        control_plane.stop()


@pytest.fixture
def inline_fleet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., auto.Stack]]:
    """Return a factory of inline stacks of ``program`` against a control plane; destroys them afterwards.

    Faults are switched off before the destroy, so that cleaning up cannot fail a test.
    """
    created: list[tuple[auto.Stack, LocalControlPlane]] = []

    def factory(program: Callable[[], None], control_plane: LocalControlPlane, *, name: str = "dev") -> auto.Stack:
        monkeypatch.setenv("INFERENCEKEY_SDK_TOKEN", control_plane.create_sdk_token(PROJECT))
        stack = inline_stack(
            "fleet",
            name,
            program,
            tmp_path / name,
            config={"inferencekey:baseUrl": control_plane.base_url, "inferencekey:project": PROJECT},
        )
        created.append((stack, control_plane))
        return stack

    yield factory

    for stack, control_plane in created:
        control_plane.set_faults(latency=0.0, error_rate=0.0, drop_streams=False)
        monkeypatch.setenv("INFERENCEKEY_SDK_TOKEN", control_plane.create_sdk_token(PROJECT))
        stack.destroy()


@pytest.fixture
def cli_fleet(tmp_path: Path) -> Iterator[Callable[..., CliStack]]:
    """Return a factory of CLI-driven stacks of FLEET_PROGRAM; destroys them and ends their processes afterwards."""
    created: list[CliStack] = []

    def factory(base_url: str, token: str, *, count: int, name: str = "dev") -> CliStack:
        work_dir = tmp_path / name
        work_dir.mkdir()
        (work_dir / "__main__.py").write_text(FLEET_PROGRAM)
        config = {"inferencekey:baseUrl": base_url, "inferencekey:project": PROJECT, "fleet:count": count}
        env = {"INFERENCEKEY_SDK_TOKEN": token}
        program_stack("fleet", name, work_dir, config=config, env=env)
        stack = CliStack(work_dir, name, env)
        created.append(stack)
        return stack

    yield factory

    for stack in created:
        stack.kill_strays()
        stack.run("cancel", "--yes")
        stack.run("refresh", "--clear-pending-creates", "--yes", "--skip-preview")
        stack.run("destroy", "--yes", "--skip-preview")
