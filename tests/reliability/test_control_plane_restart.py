"""The control plane crashes and restarts during `pulumi up`; the next run converges without orphans.

The control plane runs as an `inferencekey-local serve` process with a state file and a
fixed port. It is killed with SIGKILL while creates are in flight, so their connections
break with no response, and restarted on the same port and state file a second later.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pulumi
import pytest
from pulumi import automation as auto
from reliability_support import PROJECT, fleet_slugs, server_workloads, state_workloads, wait_for

from pulumi_inferencekey import Workload
from pulumi_inferencekey.automation import inline_stack
from pulumi_inferencekey.local.backend import LocalBackend

pytestmark = [pytest.mark.engine, pytest.mark.timeout(240)]

FLEET_SIZE = 6
# Every request waits this long before the server acts on it, which keeps a create in
# flight long enough to kill the server under it.
LATENCY_SECONDS = 1.0
DOWNTIME_SECONDS = 1.0
BIN = Path(sys.executable).parent


class ServedControlPlane:
    """An `inferencekey-local serve` process that can be killed and started again."""

    def __init__(self, state: Path, port: int) -> None:
        self.state = state
        self.port = port
        self.base_url = f"http://127.0.0.1:{port}"
        self.process: subprocess.Popen[str] | None = None
        self.log: list[str] = []

    def start(self) -> None:
        self.log = log = []
        self.process = subprocess.Popen(
            [
                str(BIN / "inferencekey-local"), "serve", "--port", str(self.port), "--state", str(self.state),
                "--latency", str(LATENCY_SECONDS), "--ready-after", "0.5",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        stderr = self.process.stderr
        assert stderr is not None
        threading.Thread(target=lambda: log.extend(stderr), daemon=True).start()
        wait_for(lambda: any("serving on" in line for line in log), timeout=15, what="the control plane to listen")

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.kill()

    def slugs(self) -> list[str]:
        return sorted(workload.slug for workload in LocalBackend(self.state).list_workloads(PROJECT))

    def workloads(self) -> list[dict]:
        return [workload.to_json() for workload in LocalBackend(self.state).list_workloads(PROJECT)]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def fleet_program() -> None:
    for slug in fleet_slugs(FLEET_SIZE):
        workload = Workload(slug, backend="ollama", model="llama3.2", ready_timeout_seconds=60)
        pulumi.export(slug, workload.endpoint_url)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[ServedControlPlane]:
    control_plane = ServedControlPlane(tmp_path / "control-plane.db", free_port())
    control_plane.start()
    yield control_plane
    control_plane.stop()


@pytest.fixture
def crashed_stack(served: ServedControlPlane, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[auto.Stack]:
    """Return a stack whose first `pulumi up` ran through a control-plane crash and restart."""
    monkeypatch.setenv("INFERENCEKEY_SDK_TOKEN", LocalBackend(served.state).create_sdk_token(PROJECT))
    stack = inline_stack(
        "fleet",
        "dev",
        fleet_program,
        tmp_path / "stack",
        config={"inferencekey:baseUrl": served.base_url, "inferencekey:project": PROJECT},
    )
    first_up = threading.Thread(target=_up_ignoring_failure, args=(stack,), daemon=True)
    first_up.start()

    # The first lists have returned, so the creates that follow them are on the wire
    # and wait out the latency on the server.
    wait_for(
        lambda: any(f"GET /api/projects/{PROJECT}/workloads 200" in line for line in served.log),
        timeout=60,
        what="the first list of workloads",
    )
    time.sleep(LATENCY_SECONDS * 0.3)
    served.kill()
    slugs_at_crash = served.slugs()
    time.sleep(DOWNTIME_SECONDS)
    served.start()
    first_up.join(timeout=150)

    assert not first_up.is_alive()
    assert len(slugs_at_crash) < FLEET_SIZE
    yield stack
    stack.destroy()


def _up_ignoring_failure(stack: auto.Stack) -> None:
    # Creates whose connection broke fail this run; the recovery run is what is checked.
    try:
        stack.up()
    except auto.CommandError:
        pass


def recover_with_up_refresh(stack: auto.Stack) -> auto.UpResult:
    return stack.up(refresh=True)


def recover_with_refresh_then_up(stack: auto.Stack) -> auto.UpResult:
    stack.refresh()
    return stack.up()


RECOVERIES = {"up-refresh": recover_with_up_refresh, "refresh-then-up": recover_with_refresh_then_up}


@pytest.mark.parametrize("recovery", sorted(RECOVERIES), ids=sorted(RECOVERIES))
def test_up_after_control_plane_restart_converges(crashed_stack, served, recovery):
    result = RECOVERIES[recovery](crashed_stack)

    live = served.workloads()
    assert result.summary.result == "succeeded"
    assert served.slugs() == fleet_slugs(FLEET_SIZE)
    assert state_workloads(crashed_stack.export_stack().deployment) == server_workloads(live)
