"""Summarise `pulumi preview --json` of an InferenceKey stack as Markdown for a pull-request comment.

Run it with a read-only (workload:read) SDK token: a preview never writes to the control plane.
Exit code 0 means the preview succeeded, 1 that it failed (the Markdown then contains the error).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pulumi_inferencekey.inputs import ALL_INPUTS, REPLACE_INPUTS
from pulumi_inferencekey.tokens import scrub

EXIT_SUCCEEDED = 0
EXIT_FAILED = 1

DEFAULT_TIMEOUT_SECONDS = 1800.0

# Step operations of `pulumi preview --json`. CLI v3.274.0 prints one "replace" step per
# replacement, whether the old workload goes first or last. Should an output list the
# create-replacement / delete-replaced pair instead, it still counts once.
CHANGE_OPS = {"create": "create", "update": "update", "replace": "replace", "create-replacement": "replace", "delete": "delete"}
CHANGE_ORDER = ("create", "update", "replace", "delete")
STACK_TYPE = "pulumi:pulumi:Stack"
DYNAMIC_TYPE = "pulumi-python:dynamic:Resource"

# Every Python dynamic resource has the same type, so a Workload is recognised by these inputs.
# NOTE: another dynamic resource with all of these inputs would be listed as a workload.
WORKLOAD_MARKERS = frozenset({"slug", "project", "task_type", "backend", "model"})

# The engine's placeholder for a value that is known only after `pulumi up`.
UNKNOWN_SENTINEL = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
SECRET_DISPLAY = "[secret]"

MAX_VALUE_CHARS = 80
MAX_ERROR_LINES = 30
TRACEBACK_HEADER = "Traceback (most recent call last):"
# The engine adds these lines after the error that stopped a preview; they carry no cause.
FOLLOW_ON_ERRORS = frozenset({"preview failed", "Resource monitor has terminated, shutting down"})


@dataclass
class WorkloadChange:
    """One planned change of a workload: the operation, ``project/slug`` and the Markdown details."""

    op: str
    workload: str
    details: list[str]


@dataclass
class PreviewError:
    """One error message of the preview and the resources that reported it, if any."""

    message: str
    resources: list[str] = field(default_factory=list)


@dataclass
class PreviewSummary:
    """The planned workload changes of one preview, or the errors that stopped it."""

    stack: str
    changes: list[WorkloadChange] = field(default_factory=list)
    unchanged: int = 0
    other_resources: Counter = field(default_factory=Counter)
    errors: list[PreviewError] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return bool(self.errors)


# --- from preview JSON to a summary ----------------------------------------------------


def summarize(preview: dict[str, Any], *, stack: str | None = None, exit_code: int = 0, stderr: str = "") -> PreviewSummary:
    """Build the summary of a decoded `pulumi preview --json` document.

    ``exit_code`` and ``stderr`` are those of the pulumi run, when known: a non-zero exit
    with no error diagnostic still counts as a failure.
    """
    steps = preview.get("steps") or []
    summary = PreviewSummary(stack=_stack_name(steps) or stack or "unknown stack")

    for step in steps:
        _add_step(summary, step)
    summary.changes.sort(key=lambda change: (CHANGE_ORDER.index(change.op), change.workload))

    summary.errors = _errors(preview.get("diagnostics") or [])
    if exit_code != 0 and not summary.errors:
        reason = _tail(stderr.strip()) or f"pulumi preview exited with code {exit_code} and printed no error"
        summary.errors = [PreviewError(reason)]
    return summary


def _stack_name(steps: list[dict[str, Any]]) -> str | None:
    # A URN reads urn:pulumi:<stack>::<project>::<type>::<name>.
    for step in steps:
        parts = step.get("urn", "").split("::")
        if len(parts) >= 2 and parts[0].startswith("urn:pulumi:"):
            return f"{parts[1]}/{parts[0].removeprefix('urn:pulumi:')}"
    return None


def _add_step(summary: PreviewSummary, step: dict[str, Any]) -> None:
    old_state, new_state = step.get("oldState") or {}, step.get("newState") or {}
    resource_type = new_state.get("type") or old_state.get("type")
    if resource_type == STACK_TYPE:
        return

    op = CHANGE_OPS.get(step.get("op", ""))
    if not _is_workload(resource_type, new_state or old_state):
        if op is not None:
            summary.other_resources[op] += 1
        return

    if step.get("op") == "same":
        summary.unchanged += 1
    elif op is not None:
        summary.changes.append(_workload_change(op, step, old_state.get("inputs") or {}, new_state.get("inputs") or {}))


def _is_workload(resource_type: str | None, state: dict[str, Any]) -> bool:
    return resource_type == DYNAMIC_TYPE and WORKLOAD_MARKERS <= set(state.get("inputs") or {})


def _workload_change(op: str, step: dict[str, Any], olds: dict[str, Any], news: dict[str, Any]) -> WorkloadChange:
    current = news or olds
    workload = f"{current.get('project')}/{current.get('slug')}"

    if op in ("create", "delete"):
        return WorkloadChange(op, workload, [_identity(current)])

    changed = changed_fields(olds, news)
    # Python dynamic providers report no per-field diff, only the replacing fields.
    forcing = step.get("replaceReasons") or [name for name in changed if name in REPLACE_INPUTS]
    details = [_field_change(name, olds.get(name), news.get(name), forces=name in forcing) for name in changed]
    details.extend(f"`{name}` forces replacement" for name in forcing if name not in changed)
    return WorkloadChange(op, workload, details)


def changed_fields(olds: dict[str, Any], news: dict[str, Any]) -> list[str]:
    """Return the inputs whose old and new values differ, in the order of the Workload's inputs.

    Keys starting with ``__`` belong to the engine. An input the program leaves unset is
    skipped, because the provider keeps the live value then and sends no change.
    """
    names = [name for name in news if not name.startswith("__") and news[name] is not None]
    changed = [name for name in names if olds.get(name) != news[name]]
    order = {name: index for index, name in enumerate(ALL_INPUTS)}
    return sorted(changed, key=lambda name: (order.get(name, len(order)), name))


def _identity(inputs: dict[str, Any]) -> str:
    task_type, backend, model = (format_value(inputs.get(name)) for name in ("task_type", "backend", "model"))
    return f"{task_type} on {backend}, model {model}"


def _field_change(name: str, old: Any, new: Any, *, forces: bool) -> str:
    text = f"{name}: {format_value(old)} → {format_value(new)}"
    return f"{text} (forces replacement)" if forces else text


def _errors(diagnostics: list[dict[str, Any]]) -> list[PreviewError]:
    # Each resource reports the same failure, such as a rejected token, so equal messages
    # are merged and list their resources.
    errors: dict[str, PreviewError] = {}
    for diagnostic in diagnostics:
        if diagnostic.get("severity") != "error":
            continue
        message = _tail(_without_traceback(str(diagnostic.get("message", "")).strip().removeprefix("error: ").strip()))
        error = errors.setdefault(message, PreviewError(message))
        if diagnostic.get("urn"):
            error.resources.append(diagnostic["urn"].split("::")[-1])

    # Resources report concurrently, so their order differs between runs.
    for error in errors.values():
        error.resources.sort()
    causes = [error for message, error in errors.items() if message not in FOLLOW_ON_ERRORS]
    return causes or list(errors.values())


def _without_traceback(message: str) -> str:
    """Replace a Python traceback in ``message`` by the exception it ends with."""
    if TRACEBACK_HEADER not in message:
        return message
    before = message.split(TRACEBACK_HEADER, 1)[0].strip()
    # A chained exception prints several tracebacks; the last one ends with the exception raised.
    lines = message.rsplit(TRACEBACK_HEADER, 1)[1].splitlines()
    first = next((index for index, line in enumerate(lines) if line and not line[0].isspace()), None)
    if first is None:
        return message

    exception = "\n".join(lines[first:]).strip()
    # "pulumi_inferencekey.errors.AuthenticationError: ..." reads better without the module.
    exception = re.sub(r"^(?:[A-Za-z_]\w*\.)+(?=\w+(?::|$))", "", exception)
    return f"{before} {exception}".strip()


def _tail(text: str) -> str:
    lines = text.splitlines()
    if len(lines) <= MAX_ERROR_LINES:
        return text
    return "\n".join(["…", *lines[-MAX_ERROR_LINES:]])


# --- from a summary to Markdown --------------------------------------------------------


def render(summary: PreviewSummary) -> str:
    """Return the Markdown comment for a summary; tokens in any text are redacted.

    A failed preview shows only its errors, because the plan made before the failure is incomplete.
    """
    if summary.failed:
        lines = [f"### Pulumi preview of `{summary.stack}` failed", ""]
        for error in summary.errors:
            if error.resources:
                lines.extend([f"Reported by {', '.join(f'`{name}`' for name in error.resources)}:", ""])
            fence = _fence(error.message)
            lines.extend([f"{fence}text", error.message, fence, ""])
        return scrub("\n".join(lines).rstrip() + "\n")

    lines = [f"### Pulumi preview of `{summary.stack}`", "", _counts_line(summary)]
    if summary.changes:
        lines.extend(["", "| Change | Workload | Details |", "| --- | --- | --- |"])
        lines.extend(f"| {change.op} | `{change.workload}` | {'<br>'.join(change.details)} |" for change in summary.changes)
    if summary.other_resources:
        lines.extend(["", f"Other resources: {_count_phrase(summary.other_resources)}."])
    return scrub("\n".join(lines) + "\n")


def _counts_line(summary: PreviewSummary) -> str:
    counts = Counter(change.op for change in summary.changes)
    if not counts:
        return f"No workload changes ({summary.unchanged} unchanged)."
    return f"Workloads: {_count_phrase(counts)}, {summary.unchanged} unchanged."


def _count_phrase(counts: Counter) -> str:
    return ", ".join(f"{counts[op]} to {op}" for op in CHANGE_ORDER if counts[op])


def _fence(text: str) -> str:
    # A code fence must be longer than any run of backticks inside the block.
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    return "`" * max(3, longest + 1)


def format_value(value: Any) -> str:
    """Format an input value for a table cell: inline code, shortened, with pipes escaped."""
    if value is None:
        return "*unset*"
    if value == UNKNOWN_SENTINEL:
        return "*known after apply*"
    if value == SECRET_DISPLAY:
        return SECRET_DISPLAY

    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, separators=(",", ":"))
    if len(text) > MAX_VALUE_CHARS:
        text = text[: MAX_VALUE_CHARS - 1] + "…"
    text = text.replace("|", "\\|")
    return f"`` {text} ``" if "`" in text else f"`{text}`"


# --- running the preview ---------------------------------------------------------------


def run_preview(stack: str, cwd: str | None, *, refresh: bool, timeout: float) -> PreviewSummary:
    """Run `pulumi preview --json` for ``stack`` in ``cwd`` and summarise its output."""
    command = ["pulumi", "preview", "--json", "--non-interactive", "--stack", stack]
    if refresh:
        command.append("--refresh")

    try:
        completed = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False)
    except FileNotFoundError:
        return PreviewSummary(stack=stack, errors=[PreviewError("the pulumi CLI was not found on PATH; install it or add it to PATH")])
    except subprocess.TimeoutExpired:
        return PreviewSummary(stack=stack, errors=[PreviewError(f"pulumi preview timed out after {timeout:g} s")])

    return summarize_text(completed.stdout, stack=stack, exit_code=completed.returncode, stderr=completed.stderr)


def summarize_text(text: str, *, stack: str | None = None, exit_code: int = 0, stderr: str = "") -> PreviewSummary:
    """Summarise the raw JSON text; text that is not a JSON object counts as a failed preview."""
    try:
        preview = json.loads(text)
    except json.JSONDecodeError:
        preview = None
    if not isinstance(preview, dict):
        reason = _tail(stderr.strip()) or "pulumi preview printed no JSON document"
        return PreviewSummary(stack=stack or "unknown stack", errors=[PreviewError(reason)])
    return summarize(preview, stack=stack, exit_code=exit_code, stderr=stderr)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--stack", help="stack to preview, such as 'dev'; runs `pulumi preview --json`")
    source.add_argument("--from-json", metavar="FILE", help="read saved `pulumi preview --json` output instead; '-' reads stdin")
    parser.add_argument("--cwd", help="folder of the Pulumi project (default: the current folder)")
    parser.add_argument("--refresh", action="store_true", help="read live workloads first (`pulumi preview --refresh`) to show drift")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_SECONDS, help="seconds to wait for pulumi preview (default: %(default)g)")
    args = parser.parse_args(argv)

    if args.from_json:
        text = sys.stdin.read() if args.from_json == "-" else Path(args.from_json).read_text(encoding="utf-8")
        summary = summarize_text(text)
    else:
        summary = run_preview(args.stack, args.cwd, refresh=args.refresh, timeout=args.timeout)

    sys.stdout.write(render(summary))
    return EXIT_FAILED if summary.failed else EXIT_SUCCEEDED


if __name__ == "__main__":
    sys.exit(main())
