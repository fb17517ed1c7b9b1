"""The preview-summary script turns `pulumi preview --json` into Markdown: captured and built previews."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from platform_helpers import FIXTURES, PULL_REQUEST_SUMMARY, REJECTED_TOKEN_SUMMARY, load_preview_summary

preview_summary = load_preview_summary()

UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
TOKEN = "ik_sdk_12345678_" + "ab" * 32


def captured(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


def markdown_of(preview: dict[str, Any], **kwargs: Any) -> list[str]:
    return preview_summary.render(preview_summary.summarize(preview, **kwargs)).splitlines()


def workload_inputs(slug: str, **overrides: Any) -> dict[str, Any]:
    inputs = {"__provider": "[secret]", "slug": slug, "project": "acme", "task_type": "text2text", "backend": "ollama", "model": "llama3.2"}
    return {**inputs, **overrides}


def step(op: str, name: str, olds: dict[str, Any] | None, news: dict[str, Any] | None, **extra: Any) -> dict[str, Any]:
    urn = f"urn:pulumi:dev::workloads::pulumi-python:dynamic:Resource::{name}"
    result: dict[str, Any] = {"op": op, "urn": urn, **extra}
    if olds is not None:
        result["oldState"] = {"urn": urn, "type": "pulumi-python:dynamic:Resource", "inputs": olds}
    if news is not None:
        result["newState"] = {"urn": urn, "type": "pulumi-python:dynamic:Resource", "inputs": news}
    return result


def test_captured_preview_lists_each_change():
    assert markdown_of(json.loads(captured("preview_changes.json"))) == PULL_REQUEST_SUMMARY


def test_captured_failed_preview_shows_error():
    assert markdown_of(json.loads(captured("preview_failed.json"))) == REJECTED_TOKEN_SUMMARY


@pytest.mark.parametrize(
    ("fixture", "expected_code", "expected_first_line"),
    [
        pytest.param("preview_changes.json", 0, "### Pulumi preview of `pr-preview/dev`", id="succeeded"),
        pytest.param("preview_failed.json", 1, "### Pulumi preview of `pr-preview/dev` failed", id="failed"),
    ],
)
def test_main_from_json_file_sets_exit_code(fixture, expected_code, expected_first_line, capsys):
    code = preview_summary.main(["--from-json", str(FIXTURES / fixture)])

    assert code == expected_code
    assert capsys.readouterr().out.splitlines()[0] == expected_first_line


def test_main_reads_json_from_stdin(monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO(captured("preview_changes.json")))

    code = preview_summary.main(["--from-json", "-"])

    assert code == 0
    assert capsys.readouterr().out.splitlines() == PULL_REQUEST_SUMMARY


def test_replace_reason_computed_without_replace_reasons():
    preview = {"steps": [step("replace", "bot", workload_inputs("bot"), workload_inputs("helpdesk-bot"))]}

    lines = markdown_of(preview)

    assert lines[-1] == "| replace | `acme/helpdesk-bot` | slug: `bot` → `helpdesk-bot` (forces replacement) |"


def test_update_lists_every_changed_field_in_input_order():
    olds = workload_inputs("bot", model="llama3.2", execution_policy_config={"replicas": 1})
    news = workload_inputs("bot", model="llama3.3", execution_policy_config={"replicas": 2}, name="Bot")
    preview = {"steps": [step("update", "bot", olds, news)]}

    lines = markdown_of(preview)

    assert lines[-1] == (
        "| update | `acme/bot` | name: *unset* → `Bot`<br>model: `llama3.2` → `llama3.3`"
        '<br>execution_policy_config: `{"replicas":1}` → `{"replicas":2}` |'
    )


def test_unchanged_workloads_and_other_resources_are_counted():
    noop = {"urn": "urn:pulumi:dev::workloads::pulumi-python:dynamic:Resource::floor", "type": "pulumi-python:dynamic:Resource", "inputs": {"value": "one"}}
    preview = {
        "steps": [
            step("same", "bot", workload_inputs("bot"), workload_inputs("bot")),
            step("same", "embedder", workload_inputs("embedder"), workload_inputs("embedder")),
            {"op": "create", "urn": noop["urn"], "newState": noop},
        ]
    }

    lines = markdown_of(preview)

    assert lines == [
        "### Pulumi preview of `workloads/dev`",
        "",
        "No workload changes (2 unchanged).",
        "",
        "Other resources: 1 to create.",
    ]


@pytest.mark.parametrize(
    ("olds", "news", "expected"),
    [
        pytest.param({"model": "a"}, {"model": "b"}, ["model"], id="changed-value"),
        pytest.param({"__provider": "x", "model": "a"}, {"__provider": "y", "model": "a"}, [], id="engine-key-ignored"),
        pytest.param({"description": "a"}, {}, [], id="unset-input-keeps-live-value"),
        pytest.param({"description": "a"}, {"description": None}, [], id="none-input-keeps-live-value"),
        pytest.param({}, {"config": {"k": 1}, "name": "n", "slug": "s"}, ["slug", "name", "config"], id="input-order"),
    ],
)
def test_changed_fields(olds, news, expected):
    assert preview_summary.changed_fields(olds, news) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(None, "*unset*", id="none"),
        pytest.param(UNKNOWN, "*known after apply*", id="unknown"),
        pytest.param("[secret]", "[secret]", id="secret"),
        pytest.param(True, "`true`", id="bool"),
        pytest.param(2, "`2`", id="number"),
        pytest.param({"replicas": 2, "a": [1]}, '`{"a":[1],"replicas":2}`', id="object-sorted"),
        pytest.param("a|b", "`a\\|b`", id="pipe-escaped"),
        pytest.param("run `x`", "`` run `x` ``", id="backtick"),
        pytest.param("x" * 100, "`" + "x" * 79 + "…`", id="long-shortened"),
    ],
)
def test_format_value(value, expected):
    assert preview_summary.format_value(value) == expected


def test_token_in_error_is_redacted():
    preview = {"steps": [], "diagnostics": [{"severity": "error", "message": f"error: token {TOKEN} was rejected\n"}]}

    text = "\n".join(markdown_of(preview, stack="dev"))

    assert TOKEN.split("_")[-1] not in text
    assert "token ik_sdk_12345678… was rejected" in text


def test_program_traceback_shortened_to_exception():
    message = (
        "error: Program failed with an unhandled exception:\nTraceback (most recent call last):\n"
        '  File "/app/__main__.py", line 3, in <module>\n    load()\n'
        "RuntimeError: catalogue.yaml not found\n"
    )
    preview = {"steps": [], "diagnostics": [{"severity": "error", "message": message}, {"severity": "error", "message": "error: preview failed\n"}]}

    lines = markdown_of(preview, stack="dev")

    assert lines == [
        "### Pulumi preview of `dev` failed",
        "",
        "```text",
        "Program failed with an unhandled exception: RuntimeError: catalogue.yaml not found",
        "```",
    ]


def test_output_that_is_not_json_fails_with_stderr():
    summary = preview_summary.summarize_text("", stack="dev", exit_code=255, stderr="error: no stack named 'dev' found\n")

    assert summary.failed
    assert [error.message for error in summary.errors] == ["error: no stack named 'dev' found"]


def test_nonzero_exit_without_diagnostics_fails():
    summary = preview_summary.summarize({"steps": []}, stack="dev", exit_code=255, stderr="")

    assert [error.message for error in summary.errors] == ["pulumi preview exited with code 255 and printed no error"]
