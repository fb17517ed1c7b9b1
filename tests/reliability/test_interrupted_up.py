"""`pulumi up` interrupted while creates are in flight, then recovered without orphans or duplicates.

The CLI runs in its own session and is signalled once the control plane has received the
first create. Every request waits LATENCY_SECONDS on the server before it takes effect,
so the creates are in flight at that moment, and they still complete on the server.
"""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass

import pytest
from reliability_support import PROJECT, CliStack, fleet_slugs, pending_operations, server_workloads, state_workloads, wait_for

from pulumi_inferencekey.local import LocalControlPlane

pytestmark = [pytest.mark.engine, pytest.mark.timeout(240)]

FLEET_SIZE = 3
LATENCY_SECONDS = 1.0


@dataclass
class Interrupted:
    control_plane: LocalControlPlane
    stack: CliStack
    exit_code: int
    output: str
    created_by_interrupted_run: list[str]


def interrupt_up(control_plane: LocalControlPlane, stack: CliStack, sig: signal.Signals) -> Interrupted:
    process = stack.start("up", "--yes", "--skip-preview")
    wait_for(
        lambda: any(method == "POST" for method, _path in control_plane.requests),
        timeout=60,
        what="the first create to reach the control plane",
    )
    posted = sum(1 for method, _path in control_plane.requests if method == "POST")
    os.killpg(process.pid, sig)
    output, _ = process.communicate(timeout=120)
    if sig == signal.SIGKILL:
        # A machine that dies takes every process with it. The CLI's process group does not
        # include the dynamic provider, which would otherwise go on with its creates.
        stack.kill_strays()

    # The creates that reached the server complete once their latency has passed.
    wait_for(
        lambda: len(control_plane.workloads(PROJECT)) >= posted,
        timeout=LATENCY_SECONDS + 10,
        what="the creates in flight to complete",
    )
    created = sorted(workload["slug"] for workload in control_plane.workloads(PROJECT))
    control_plane.set_faults(latency=0.0)
    return Interrupted(control_plane, stack, process.returncode, output, created)


@pytest.fixture
def slow_control_plane(control_plane_factory) -> LocalControlPlane:
    return control_plane_factory(latency=LATENCY_SECONDS, ready_after=0.2)


@pytest.fixture
def fleet_stack(slow_control_plane, cli_fleet) -> CliStack:
    return cli_fleet(slow_control_plane.base_url, slow_control_plane.create_sdk_token(PROJECT), count=FLEET_SIZE)


def assert_converged(interrupted: Interrupted) -> None:
    live = interrupted.control_plane.workloads(PROJECT)
    deployment = interrupted.stack.export()
    assert sorted(workload["slug"] for workload in live) == fleet_slugs(FLEET_SIZE)
    assert state_workloads(deployment) == server_workloads(live)
    assert pending_operations(deployment) == []


# --- SIGINT: Pulumi cancels gracefully ---------------------------------------------------


@pytest.fixture
def after_sigint(slow_control_plane, fleet_stack) -> Interrupted:
    return interrupt_up(slow_control_plane, fleet_stack, signal.SIGINT)


def test_sigint_waits_for_creates_in_flight(after_sigint):
    deployment = after_sigint.stack.export()

    assert after_sigint.exit_code != 0
    assert after_sigint.created_by_interrupted_run != []
    assert [slug for slug, _id in state_workloads(deployment)] == after_sigint.created_by_interrupted_run
    assert pending_operations(deployment) == []


def test_up_after_sigint_converges(after_sigint):
    rerun = after_sigint.stack.run("up", "--yes", "--skip-preview")

    assert rerun.returncode == 0, rerun.stdout
    assert_converged(after_sigint)


# --- SIGKILL: the run dies with its creates pending --------------------------------------


@pytest.fixture
def after_sigkill(slow_control_plane, fleet_stack) -> Interrupted:
    return interrupt_up(slow_control_plane, fleet_stack, signal.SIGKILL)


def test_sigkill_leaves_stack_locked(after_sigkill):
    rerun = after_sigkill.stack.run("up", "--yes", "--skip-preview")

    assert rerun.returncode != 0
    assert "the stack is currently locked" in rerun.stderr
    assert "pulumi cancel" in rerun.stderr


def test_sigkill_leaves_pending_creates(after_sigkill):
    deployment = after_sigkill.stack.export()

    assert after_sigkill.created_by_interrupted_run != []
    assert state_workloads(deployment) == []
    assert [name for kind, name in pending_operations(deployment) if kind == "creating"] != []


def clear_pending_creates(stack: CliStack) -> None:
    cancel = stack.run("cancel", "--yes")
    refresh = stack.run("refresh", "--clear-pending-creates", "--yes", "--skip-preview")
    assert cancel.returncode == 0, cancel.stderr
    assert refresh.returncode == 0, refresh.stdout


def test_up_after_sigkill_names_workloads_to_adopt(after_sigkill):
    clear_pending_creates(after_sigkill.stack)

    rerun = after_sigkill.stack.run("up", "--yes", "--skip-preview")

    assert rerun.returncode != 0
    for workload in after_sigkill.control_plane.workloads(PROJECT):
        assert (
            f"create workload '{workload['slug']}' in project '{PROJECT}' failed: the slug is already taken by "
            f"workload {workload['id']}. Fix: if another resource of this program declares the same slug"
        ) in rerun.stdout
    assert "adopt it with adopt_existing=True" in rerun.stdout


def test_up_with_adopt_after_sigkill_converges(after_sigkill):
    ids_before = server_workloads(after_sigkill.control_plane.workloads(PROJECT))
    clear_pending_creates(after_sigkill.stack)
    after_sigkill.stack.run("config", "set", "fleet:adopt", "true")

    rerun = after_sigkill.stack.run("up", "--yes", "--skip-preview")

    assert rerun.returncode == 0, rerun.stdout
    assert_converged(after_sigkill)
    assert set(ids_before) <= set(server_workloads(after_sigkill.control_plane.workloads(PROJECT)))


def test_refresh_without_clearing_keeps_pending_creates(after_sigkill):
    after_sigkill.stack.run("cancel", "--yes")

    refresh = after_sigkill.stack.run("refresh", "--yes", "--skip-preview")

    assert refresh.returncode == 0, refresh.stdout
    assert [kind for kind, _name in pending_operations(after_sigkill.stack.export())] != []



def test_import_pending_creates_drops_pending_create(after_sigkill):
    # Pulumi v3.274 turns the pending create into a pending import and then drops it
    # without reading the workload, so this flag cannot bring a workload into the state.
    urn = f"urn:pulumi:dev::fleet::pulumi-python:dynamic:Resource::{after_sigkill.created_by_interrupted_run[0]}"
    workload_id = after_sigkill.control_plane.workloads(PROJECT)[0]["id"]
    after_sigkill.stack.run("cancel", "--yes")

    refresh = after_sigkill.stack.run(
        "refresh", "--yes", "--skip-preview", "--import-pending-creates", urn, "--import-pending-creates", workload_id
    )

    deployment = after_sigkill.stack.export()
    assert refresh.returncode == 0, refresh.stdout
    assert state_workloads(deployment) == []
    assert after_sigkill.created_by_interrupted_run[0] not in [name for _kind, name in pending_operations(deployment)]
