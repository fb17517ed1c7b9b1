"""State of the local platform in SQLite: restarts keep it, and secrets are stored only hashed."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import httpx
import pytest
from local_helpers import PROJECT, bearer, create_workload, read_readiness

from pulumi_inferencekey.local import LocalControlPlane
from pulumi_inferencekey.local.backend import LocalBackend
from pulumi_inferencekey.tokens import parse_token


def state_bytes(state_path: Path) -> bytes:
    """Return the bytes of the SQLite file and its write-ahead log, where a secret could hide."""
    files = [state_path, state_path.with_name(state_path.name + "-wal")]
    return b"".join(path.read_bytes() for path in files if path.exists())


def test_restart__keeps_workloads_and_credentials(tmp_path: Path) -> None:
    control_plane = LocalControlPlane(state_path=tmp_path / "state.db")
    with control_plane:
        token = control_plane.create_sdk_token(PROJECT)
        with httpx.Client(base_url=control_plane.base_url, headers=bearer(token)) as api:
            created = create_workload(api)
        base_url = control_plane.base_url

    with control_plane:
        listed = httpx.get(f"{control_plane.base_url}/api/projects/{PROJECT}/workloads", headers=bearer(token))

    assert control_plane.base_url == base_url
    assert listed.status_code == 200
    assert listed.json() == {"workloads": [created]}


def test_restart__new_instance_on_same_file(tmp_path: Path) -> None:
    with LocalControlPlane(state_path=tmp_path / "state.db") as first:
        token = first.create_sdk_token(PROJECT)
        with httpx.Client(base_url=first.base_url, headers=bearer(token)) as api:
            created = create_workload(api)

    with LocalControlPlane(state_path=tmp_path / "state.db") as second:
        listed = httpx.get(f"{second.base_url}/api/projects/{PROJECT}/workloads", headers=bearer(token))

    assert listed.json() == {"workloads": [created]}


def test_restart__phase_follows_the_clock(tmp_path: Path) -> None:
    control_plane = LocalControlPlane(ready_after=0.6, state_path=tmp_path / "state.db")
    with control_plane:
        token = control_plane.create_sdk_token(PROJECT)
        with httpx.Client(base_url=control_plane.base_url, headers=bearer(token)) as api:
            create_workload(api)
    # The workload keeps maturing while no server runs.
    time.sleep(0.7)

    with control_plane, httpx.Client(base_url=control_plane.base_url, headers=bearer(token)) as api:
        reading = read_readiness(api, PROJECT, "support-bot")

    assert reading.phases == ["ready"]


def test_stop__ends_open_streams() -> None:
    control_plane = LocalControlPlane(ready_after=30.0).start()
    token = control_plane.create_sdk_token(PROJECT)
    with httpx.Client(base_url=control_plane.base_url, headers=bearer(token)) as api:
        create_workload(api)
        with api.stream("GET", f"/api/projects/{PROJECT}/workloads/support-bot/readiness-events") as response:
            next(response.iter_lines())

            started = time.monotonic()
            control_plane.stop()

    assert time.monotonic() - started < 3.0


def test_tokens__only_hashes_at_rest(tmp_path: Path) -> None:
    state_path = tmp_path / "state.db"
    with LocalControlPlane(state_path=state_path) as control_plane:
        tokens = [
            control_plane.create_sdk_token(PROJECT),
            control_plane.create_sdk_token(PROJECT, read_only=True),
            control_plane.create_api_key(PROJECT),
            control_plane.create_api_key(PROJECT, workloads=["support-bot"]),
        ]
        stored = state_bytes(state_path)

    for token in tokens:
        secret = parse_token(token).secret
        assert secret.encode() not in stored
        assert token.encode() not in stored
        assert hashlib.sha256(secret.encode()).hexdigest().encode() in stored


def test_tokens__created_offline_seen_by_running_server(tmp_path: Path) -> None:
    state_path = tmp_path / "state.db"
    with LocalControlPlane(state_path=state_path) as control_plane:
        # A second backend on the same file stands for the CLI in another process.
        token = LocalBackend(state_path).create_sdk_token(PROJECT)

        response = httpx.get(f"{control_plane.base_url}/api/projects/{PROJECT}/workloads", headers=bearer(token))

    assert response.status_code == 200


def test_start__twice_rejected() -> None:
    with LocalControlPlane() as control_plane:
        with pytest.raises(RuntimeError, match="already running"):
            control_plane.start()


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "example.com"])
def test_host__must_be_loopback(host: str) -> None:
    with pytest.raises(ValueError, match=f"serves only on loopback addresses such as 127.0.0.1 or ::1, got '{host}'"):
        LocalControlPlane(host=host)
