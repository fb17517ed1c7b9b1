"""The ``inferencekey-local`` command, run as users run it: a subprocess on a state file."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Iterator

import httpx
import pytest
from local_helpers import PROJECT, bearer, create_workload

from pulumi_inferencekey.local import LocalControlPlane
from pulumi_inferencekey.tokens import parse_token

CLI = str(Path(sys.executable).with_name("inferencekey-local"))
SERVING_LINE = re.compile(r"serving on (http://127\.0\.0\.1:\d+)")


def run_cli(*args: str, state: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CLI, *args, "--state", str(state)], capture_output=True, text=True, timeout=30)


@pytest.fixture
def state(tmp_path: Path) -> Path:
    return tmp_path / "state" / "local.db"


def test_token_create__prints_sdk_token(state: Path) -> None:
    result = run_cli("token", "create", "--project", PROJECT, state=state)

    assert result.returncode == 0, result.stderr
    parsed = parse_token(result.stdout.strip())
    assert parsed is not None
    assert parsed.kind == "sdk"


def test_token_create__read_only_cannot_write(state: Path) -> None:
    token = run_cli("token", "create", "--project", PROJECT, "--read-only", state=state).stdout.strip()

    with LocalControlPlane(state_path=state) as control_plane, httpx.Client(
        base_url=control_plane.base_url, headers=bearer(token)
    ) as api:
        listed = api.get(f"/api/projects/{PROJECT}/workloads")
        created = api.post(f"/api/projects/{PROJECT}/workloads", json={"name": "x", "backend": "ollama", "model_name": "m"})

    assert listed.status_code == 200
    assert created.status_code == 403
    assert created.json()["error"]["code"] == "scope_insufficient"


def test_token_create__rejects_non_canonical_project(state: Path) -> None:
    result = run_cli("token", "create", "--project", "Acme Corp", state=state)

    assert result.returncode == 2
    assert "inferencekey-local: error: project slug 'Acme Corp' is not canonical; use 'acme-corp'" in result.stderr


def test_token_create__chosen_scopes(state: Path) -> None:
    token = run_cli("token", "create", "--project", PROJECT, "--scope", "workload:write", "--scope", "workload:read",
                    state=state).stdout.strip()  # fmt: skip

    with LocalControlPlane(state_path=state) as control_plane, httpx.Client(
        base_url=control_plane.base_url, headers=bearer(token)
    ) as api:
        plain = api.post(f"/api/projects/{PROJECT}/workloads", json={"name": "a", "backend": "ollama", "model_name": "m"})
        pinned = api.post(
            f"/api/projects/{PROJECT}/workloads", json={"name": "b", "backend": "ollama", "model_name": "m", "worker_id": "w"}
        )

    assert plain.status_code == 201
    assert pinned.status_code == 403


def test_token_create__rejects_unknown_scope(state: Path) -> None:
    result = run_cli("token", "create", "--project", PROJECT, "--scope", "workload:admin", state=state)

    assert result.returncode == 2
    assert (
        "inferencekey-local: error: unknown scope 'workload:admin'; use workload:write, assignment:write, workload:read"
        in result.stderr
    )


@pytest.mark.parametrize(
    ("workload_args", "granted", "denied"),
    [
        pytest.param([], ["support-bot", "billing"], [], id="whole-project"),
        pytest.param(["--workload", "billing"], ["billing"], ["support-bot"], id="one-workload"),
    ],
)
def test_key_create__grants(state: Path, workload_args: list[str], granted: list[str], denied: list[str]) -> None:
    result = run_cli("key", "create", "--project", PROJECT, *workload_args, state=state)
    key = result.stdout.strip()

    with LocalControlPlane(state_path=state) as control_plane:
        with httpx.Client(base_url=control_plane.base_url, headers=bearer(control_plane.create_sdk_token(PROJECT))) as api:
            create_workload(api)
            create_workload(api, slug="billing")
        statuses = {
            slug: httpx.post(
                f"{control_plane.endpoint_url(PROJECT, slug)}/chat/completions",
                json={"messages": [{"role": "user", "content": "hi"}]},
                headers=bearer(key),
            ).status_code
            for slug in granted + denied
        }

    assert parse_token(key).kind == "live"
    assert statuses == {**{slug: 200 for slug in granted}, **{slug: 403 for slug in denied}}


def test_list__shows_phases(state: Path) -> None:
    with LocalControlPlane(state_path=state, ready_after=60.0) as control_plane:
        with httpx.Client(base_url=control_plane.base_url, headers=bearer(control_plane.create_sdk_token(PROJECT))) as api:
            create_workload(api)
        control_plane.ready_after = 0.0
        with httpx.Client(base_url=control_plane.base_url, headers=bearer(control_plane.create_sdk_token("globex"))) as api:
            create_workload(api, project="globex", slug="billing", task_type="embedding", backend="ollama",
                            model_name="nomic-embed-text", config=None)  # fmt: skip

    everything = run_cli("list", state=state)
    one_project = run_cli("list", "--project", "globex", state=state)

    assert everything.returncode == 0, everything.stderr
    assert everything.stdout.splitlines() == [
        "PROJECT  SLUG         TASK TYPE  BACKEND  MODEL                             PHASE",
        "acme     support-bot  text2text  vllm     meta-llama/Llama-3.1-8B-Instruct  scheduling",
        "globex   billing      embedding  ollama   nomic-embed-text                  ready",
    ]
    assert one_project.stdout.splitlines()[1:] == [
        "globex   billing  embedding  ollama   nomic-embed-text  ready",
    ]


def test_list__empty(state: Path) -> None:
    result = run_cli("list", state=state)

    assert result.stdout == "no workloads\n"


@pytest.fixture
def served(state: Path) -> Iterator[tuple[str, subprocess.Popen[str], list[str]]]:
    """Run ``inferencekey-local serve`` on a free port; yield its base URL, process and stderr lines."""
    process = subprocess.Popen(
        [CLI, "serve", "--port", "0", "--state", str(state), "--ready-after", "0"],
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    found = threading.Event()

    def collect() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            lines.append(line)
            if SERVING_LINE.search(line):
                found.set()

    collector = threading.Thread(target=collect, daemon=True)
    collector.start()
    try:
        assert found.wait(20.0), "".join(lines)
        base_url = SERVING_LINE.search("".join(lines)).group(1)  # type: ignore[union-attr]
        yield base_url, process, lines
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            process.wait(10.0)
        collector.join(5.0)


def test_serve__answers_and_logs_redacted(state: Path, served: tuple[str, subprocess.Popen[str], list[str]]) -> None:
    base_url, process, lines = served
    token = run_cli("token", "create", "--project", PROJECT, state=state).stdout.strip()

    health = httpx.get(f"{base_url}/_local/health")
    listed = httpx.get(f"{base_url}/api/projects/{PROJECT}/workloads", headers=bearer(token))
    process.send_signal(signal.SIGINT)
    exit_code = process.wait(10.0)

    log = "".join(lines)
    assert health.json() == {"status": "ok"}
    assert listed.json() == {"workloads": []}
    assert exit_code == 0
    assert f"INFO pulumi_inferencekey.local: GET /api/projects/{PROJECT}/workloads 200" in log
    assert f"token={token[:15]}…" in log
    assert parse_token(token).secret not in log


@pytest.mark.parametrize("host", ["0.0.0.0", "10.1.2.3"])
def test_serve__rejects_non_loopback_host(state: Path, host: str) -> None:
    result = subprocess.run([CLI, "serve", "--host", host, "--state", str(state)], capture_output=True, text=True, timeout=30)

    assert result.returncode == 2
    assert (
        f"inferencekey-local: error: the local control plane serves only on loopback addresses "
        f"such as 127.0.0.1 or ::1, got '{host}'"
    ) in result.stderr
