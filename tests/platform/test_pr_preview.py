"""The PR-preview recipe end to end: the real CLI previews a pull request with a read-only token."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from pulumi import automation as auto

from platform_helpers import PROGRAMS, PULL_REQUEST_SUMMARY, REJECTED_TOKEN_SUMMARY, SCRIPT
from pulumi_inferencekey.automation import engine_env, program_stack

pytestmark = pytest.mark.engine

PROJECT = "acme"
# The id must stay 0badc0de: the expected summary names the redacted token.
REJECTED_TOKEN = "ik_sdk_0badc0de_" + "0" * 64
SCRIPT_TIMEOUT_SECONDS = 120


@dataclass
class SummaryRun:
    """One run of the preview-summary script and the control-plane requests it caused."""

    exit_code: int
    markdown: str
    requests: list[tuple[str, str]]


@dataclass
class PullRequestPreview:
    read_only_token: str
    writer_token: str
    read_only: SummaryRun
    rejected: SummaryRun


def run_script(control_plane, work_dir: Path, token: str) -> SummaryRun:
    before = len(control_plane.requests)
    env = {**os.environ, **engine_env(work_dir.parent / f"{work_dir.name}-engine"), "INFERENCEKEY_SDK_TOKEN": token}
    command = [sys.executable, str(SCRIPT), "--stack", "dev", "--cwd", str(work_dir), "--refresh"]
    completed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=SCRIPT_TIMEOUT_SECONDS, check=False)
    return SummaryRun(completed.returncode, completed.stdout, control_plane.requests[before:])


@pytest.fixture(scope="module")
def pull_request(local_control_plane_session, tmp_path_factory) -> PullRequestPreview:
    """Deploy the baseline, switch the stack to the pull request, and run the script twice.

    The module shares one control plane without the per-test reset, so every test here
    uses this fixture and none takes ``local_control_plane``.
    """
    control_plane = local_control_plane_session
    control_plane.reset()
    work_dir = tmp_path_factory.mktemp("pr") / "pr_preview"
    shutil.copytree(PROGRAMS / "pr_preview", work_dir)
    writer = control_plane.create_sdk_token(PROJECT)
    config = {"inferencekey:baseUrl": control_plane.base_url, "inferencekey:project": PROJECT}
    stack = program_stack("pr-preview", "dev", work_dir, config=config, env={"INFERENCEKEY_SDK_TOKEN": writer})

    stack.up()
    stack.set_config("pull_request", auto.ConfigValue("true"))
    try:
        read_only = control_plane.create_sdk_token(PROJECT, read_only=True)
        yield PullRequestPreview(
            read_only_token=read_only,
            writer_token=writer,
            read_only=run_script(control_plane, work_dir, read_only),
            rejected=run_script(control_plane, work_dir, REJECTED_TOKEN),
        )
    finally:
        stack.destroy()


def test_read_only_preview_summarises_each_change(pull_request):
    assert pull_request.read_only.exit_code == 0
    assert pull_request.read_only.markdown.splitlines() == PULL_REQUEST_SUMMARY


def test_read_only_preview_sends_only_reads(pull_request):
    # --refresh reads every workload, so the control plane must see list calls and nothing else.
    assert pull_request.read_only.requests
    assert set(pull_request.read_only.requests) == {("GET", f"/api/projects/{PROJECT}/workloads")}


def test_rejected_token_fails_with_error_in_markdown(pull_request):
    assert pull_request.rejected.exit_code == 1
    assert pull_request.rejected.markdown.splitlines() == REJECTED_TOKEN_SUMMARY


@pytest.mark.parametrize("run", ["read_only", "rejected"])
def test_summary_contains_no_token(pull_request, run):
    markdown = getattr(pull_request, run).markdown

    for token in (pull_request.read_only_token, pull_request.writer_token, REJECTED_TOKEN):
        assert token not in markdown
        assert token.split("_")[-1] not in markdown
