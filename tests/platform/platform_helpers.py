"""Helpers shared by the platform-workflow tests: the preview-summary script and its fixtures."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from pulumi_inferencekey.automation import PROJECT_ROOT

SCRIPT = PROJECT_ROOT / "examples" / "pr_preview" / "preview_summary.py"
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def load_preview_summary():
    name = "preview_summary"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, SCRIPT)
        module = importlib.util.module_from_spec(spec)
        # dataclasses look their module up in sys.modules while the class is created.
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]

PROGRAMS = Path(__file__).resolve().parent / "programs"

# The summary of the pull request in programs/pr_preview: one workload of each change kind.
PULL_REQUEST_SUMMARY = [
    "### Pulumi preview of `pr-preview/dev`",
    "",
    "Workloads: 1 to create, 1 to update, 1 to replace, 1 to delete, 0 unchanged.",
    "",
    "| Change | Workload | Details |",
    "| --- | --- | --- |",
    "| create | `acme/ticket-triage` | `text2text` on `ollama`, model `llama3.2` |",
    "| update | `acme/support-bot` | description: `answers questions` → `answers support questions` |",
    "| replace | `acme/docs-embeddings` | task_type: `text2text` → `embedding` (forces replacement) |",
    "| delete | `acme/old-summarizer` | `text2text` on `ollama`, model `llama3.2` |",
]

# The summary of the same preview run with a token the control plane does not know.
REJECTED_TOKEN_SUMMARY = [
    "### Pulumi preview of `pr-preview/dev` failed",
    "",
    "Reported by `docs-embeddings`, `old-summarizer`, `support-bot`:",
    "",
    "```text",
    "Preview failed: AuthenticationError: list workloads in project 'acme' failed: authentication failed: unknown token "
    "ik_sdk_0badc0de…; create one with 'inferencekey-local token create'. Fix: create a new SDK token on the dashboard's "
    "Tokens screen and set it with `pulumi config set --secret inferencekey:sdkToken <token>` or INFERENCEKEY_SDK_TOKEN.",
    "```",
]
