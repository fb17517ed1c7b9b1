"""Run Pulumi stacks offline with the Automation API: a file backend, a passphrase, no downloads.

Tests, benchmarks and the examples drive the engine through these helpers so that no
engine run reaches a network host or the user's own ``~/.pulumi``.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pulumi import automation as auto

PROJECT_ROOT = Path(__file__).resolve().parent.parent
TOOLS_BIN = PROJECT_ROOT / ".tools" / "bin"

# Engine settings that keep a run on this machine: no update check, no plugin download.
OFFLINE_ENV = {
    "PULUMI_SKIP_UPDATE_CHECK": "true",
    "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
    "PULUMI_DIY_BACKEND_NO_LEGACY_WARNING": "true",
}
DEFAULT_PASSPHRASE = "local-passphrase"


def engine_path() -> str:
    """Return PATH with the project's built engine first, when the bootstrap built one."""
    current = os.environ.get("PATH", "")
    if (TOOLS_BIN / "pulumi").exists():
        return f"{TOOLS_BIN}{os.pathsep}{current}"
    return current


def pulumi_command() -> auto.PulumiCommand:
    """Return the Automation API handle on the CLI that the bootstrap selected."""
    found = shutil.which("pulumi", path=engine_path())
    if found is None:
        raise RuntimeError("no Pulumi CLI found; run `make engine` (or `bash engine/bootstrap.sh`) first")
    return auto.PulumiCommand(root=str(Path(found).parent.parent))


def engine_env(work_dir: Path, *, passphrase: str = DEFAULT_PASSPHRASE, backend_url: str | None = None) -> dict[str, str]:
    """Return the environment of an offline engine run whose state lives under ``work_dir``."""
    state_dir = work_dir / "state"
    state_dir.mkdir(parents=True, exist_ok=True)
    return {
        **OFFLINE_ENV,
        "PATH": engine_path(),
        "PULUMI_HOME": str(work_dir / "pulumi-home"),
        "PULUMI_CONFIG_PASSPHRASE": passphrase,
        "PULUMI_BACKEND_URL": backend_url or state_dir.as_uri(),
    }


def project_settings(name: str, *, main: str | None = None) -> auto.ProjectSettings:
    """Return Python project settings that run programs and providers in this interpreter's virtualenv."""
    runtime = auto.ProjectRuntimeInfo(name="python", options={"virtualenv": sys.prefix})
    return auto.ProjectSettings(name=name, runtime=runtime, main=main)


def inline_stack(
    project: str,
    stack: str,
    program: auto.PulumiFn,
    work_dir: Path,
    *,
    config: Mapping[str, Any] | None = None,
    secret_config: Mapping[str, str] | None = None,
    env: Mapping[str, str] | None = None,
    backend_url: str | None = None,
) -> auto.Stack:
    """Create or select a stack of an inline program on a file backend under ``work_dir``.

    ``config`` values are set in plain text and ``secret_config`` values as secrets, so a
    token given there is stored encrypted with the passphrase.
    """
    work_dir.mkdir(parents=True, exist_ok=True)
    options = _workspace_options(project, work_dir, state_dir=work_dir, env=env, backend_url=backend_url)
    selected = auto.create_or_select_stack(stack_name=stack, project_name=project, program=program, opts=options)
    _set_config(selected, config, secret=False)
    _set_config(selected, secret_config, secret=True)
    return selected


def program_stack(
    project: str,
    stack: str,
    work_dir: Path,
    *,
    config: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    backend_url: str | None = None,
) -> auto.Stack:
    """Create or select a stack of the Python program in ``work_dir``, run by the CLI and the language host.

    The project settings are written to ``work_dir``, so pass a copy of a program, not the
    folder it lives in.
    """
    state_dir = work_dir.parent / f"{work_dir.name}-engine"
    options = _workspace_options(project, work_dir, state_dir=state_dir, env=env, backend_url=backend_url)
    selected = auto.create_or_select_stack(stack_name=stack, work_dir=str(work_dir), opts=options)
    _set_config(selected, config, secret=False)
    return selected


def _workspace_options(
    project: str, work_dir: Path, *, state_dir: Path, env: Mapping[str, str] | None, backend_url: str | None
) -> auto.LocalWorkspaceOptions:
    return auto.LocalWorkspaceOptions(
        work_dir=str(work_dir),
        env_vars={**engine_env(state_dir, backend_url=backend_url), **(env or {})},
        project_settings=project_settings(project),
        secrets_provider="passphrase",
        pulumi_command=pulumi_command(),
    )


def _set_config(stack: auto.Stack, values: Mapping[str, Any] | None, *, secret: bool) -> None:
    if values:
        stack.set_all_config({key: auto.ConfigValue(value=str(value), secret=secret) for key, value in values.items()})
