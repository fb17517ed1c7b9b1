"""Helpers of the reliability tests: stacks of N workloads, state reads and stray processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any, Callable

from pulumi_inferencekey.automation import engine_env

PROJECT = "acme"
WORKLOAD_TYPE = "pulumi-python:dynamic:Resource"

# A Pulumi program run by the CLI and the language host, not inline, so that a test can
# signal the `pulumi up` process. It declares `fleet:count` ollama workloads.
FLEET_PROGRAM = '''\
import pulumi

from pulumi_inferencekey import Workload

config = pulumi.Config("fleet")
for index in range(config.require_int("count")):
    workload = Workload(
        f"fleet-{index:02d}",
        backend="ollama",
        model="llama3.2",
        ready_timeout_seconds=60,
        adopt_existing=config.get_bool("adopt") or False,
    )
    pulumi.export(f"fleet-{index:02d}", workload.endpoint_url)
'''


def fleet_slugs(count: int) -> list[str]:
    return [f"fleet-{index:02d}" for index in range(count)]


def server_workloads(workloads: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """Return ``(slug, id)`` of the control plane's workloads, sorted."""
    return sorted((workload["slug"], workload["id"]) for workload in workloads)


def state_workloads(deployment: dict[str, Any]) -> list[tuple[str, str]]:
    """Return ``(slug, id)`` of the workloads a stack export records, sorted."""
    return sorted(
        (resource["outputs"]["slug"], resource["id"])
        for resource in deployment.get("resources", [])
        if resource["type"] == WORKLOAD_TYPE
    )


def pending_operations(deployment: dict[str, Any]) -> list[tuple[str, str]]:
    """Return ``(type, resource name)`` of each pending operation of a stack export."""
    return [(op["type"], op["resource"]["urn"].split("::")[-1]) for op in deployment.get("pending_operations") or []]


def wait_for(condition: Callable[[], Any], *, timeout: float, interval: float = 0.02, what: str) -> Any:
    """Return the first truthy result of ``condition``; raise TimeoutError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


class CliStack:
    """A program stack driven through the `pulumi` CLI in subprocesses, as a user's shell would."""

    def __init__(self, work_dir: Path, stack: str, env: dict[str, str]) -> None:
        self.work_dir = work_dir
        self.stack = stack
        self.engine_dir = work_dir.parent / f"{work_dir.name}-engine"
        self.env = {**os.environ, **engine_env(self.engine_dir), **env}

    def start(self, *args: str) -> subprocess.Popen[str]:
        """Start `pulumi ARGS` in its own session, so that a signal reaches it alone."""
        return subprocess.Popen(
            ["pulumi", *args, "--stack", self.stack],
            cwd=self.work_dir,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )

    def run(self, *args: str, timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
        """Run `pulumi ARGS` to completion and return its exit code and output."""
        return subprocess.run(
            ["pulumi", *args, "--stack", self.stack],
            cwd=self.work_dir,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def export(self) -> dict[str, Any]:
        exported = self.run("stack", "export")
        assert exported.returncode == 0, exported.stderr
        return json.loads(exported.stdout)["deployment"]

    def stray_processes(self) -> list[int]:
        """Return the ids of processes still running with this stack's PULUMI_HOME.

        The CLI starts the dynamic provider in a process group of its own, so killing
        the CLI's group leaves the provider running.
        """
        marker = f"PULUMI_HOME={self.env['PULUMI_HOME']}".encode()
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit() or int(entry.name) == os.getpid():
                continue
            try:
                environ = (entry / "environ").read_bytes()
            except OSError:
                continue
            if marker in environ.split(b"\0"):
                found.append(int(entry.name))
        return found

    def kill_strays(self) -> None:
        for pid in self.stray_processes():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
