"""The SDK token never shows in state files, command output, verbose logs, errors or stack outputs.

Each token source (environment variable, secret stack config) gets one stack that runs
preview, up, refresh and destroy with the engine's most verbose logging. The tests then
search everything those runs wrote for the token's secret part.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pulumi
import pytest
from pulumi import automation as auto
from reliability_support import PROJECT

from pulumi_inferencekey import Workload
from pulumi_inferencekey.automation import inline_stack
from pulumi_inferencekey.local import LocalControlPlane
from pulumi_inferencekey.tokens import parse_token

pytestmark = [pytest.mark.engine, pytest.mark.timeout(180)]

VERBOSE = {"log_verbosity": 9, "log_to_std_err": True, "log_flow": True, "debug": True}
OPERATIONS = ("preview", "up", "refresh", "destroy")
TOKEN_SOURCES = ("environment", "secret-config")


def secret_of(token: str) -> str:
    parsed = parse_token(token)
    assert parsed is not None
    return parsed.secret


def support_bot() -> None:
    bot = Workload("support-bot", backend="ollama", model="llama3.2", ready_timeout_seconds=30)
    pulumi.export("endpoint_url", bot.endpoint_url)
    # The whole resource: every output the provider returns.
    pulumi.export("support_bot", bot)


@dataclass
class VerboseRuns:
    token: str
    outputs: dict[str, str] = field(default_factory=dict)
    stack_outputs: str = ""
    state_after_up: str = ""
    grpc_log: str = ""


def read_tree(root: Path) -> str:
    return "".join(path.read_text(errors="replace") for path in sorted(root.rglob("*")) if path.is_file())


@pytest.fixture(scope="module", params=TOKEN_SOURCES, ids=TOKEN_SOURCES)
def verbose_runs(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    control_plane = LocalControlPlane(ready_after=0.2).start()
    token = control_plane.create_sdk_token(PROJECT)
    work_dir = tmp_path_factory.mktemp(request.param)
    # The engine writes every gRPC request and response to this file, decrypted config included.
    grpc_log = work_dir / "grpc.log"
    runs = VerboseRuns(token)

    with pytest.MonkeyPatch.context() as monkeypatch:
        if request.param == "environment":
            monkeypatch.setenv("INFERENCEKEY_SDK_TOKEN", token)
        else:
            monkeypatch.delenv("INFERENCEKEY_SDK_TOKEN", raising=False)
        stack = inline_stack(
            "secrecy",
            "dev",
            support_bot,
            work_dir,
            config={"inferencekey:baseUrl": control_plane.base_url, "inferencekey:project": PROJECT},
            secret_config={"inferencekey:sdkToken": token} if request.param == "secret-config" else None,
            env={"PULUMI_DEBUG_GRPC": str(grpc_log)},
        )
        try:
            preview = stack.preview(**VERBOSE)
            runs.outputs["preview"] = preview.stdout + preview.stderr
            up = stack.up(**VERBOSE)
            runs.outputs["up"] = up.stdout + up.stderr
            runs.stack_outputs = json.dumps({name: output.value for name, output in up.outputs.items()})
            runs.state_after_up = read_tree(work_dir / "state")
            refresh = stack.refresh(**VERBOSE)
            runs.outputs["refresh"] = refresh.stdout + refresh.stderr
            destroy = stack.destroy(**VERBOSE)
            runs.outputs["destroy"] = destroy.stdout + destroy.stderr
            runs.grpc_log = grpc_log.read_text()
            yield runs
        finally:
            control_plane.stop()


@pytest.mark.parametrize("operation", OPERATIONS, ids=OPERATIONS)
def test_verbose_output_hides_token(verbose_runs, operation):
    output = verbose_runs.outputs[operation]

    assert "StepExecutor" in output  # the verbose log is really there
    assert secret_of(verbose_runs.token) not in output


def test_state_files_hide_token(verbose_runs):
    assert '"support-bot"' in verbose_runs.state_after_up
    assert secret_of(verbose_runs.token) not in verbose_runs.state_after_up


def test_stack_outputs_hide_token(verbose_runs):
    outputs = json.loads(verbose_runs.stack_outputs)

    assert outputs["support_bot"]["slug"] == "support-bot"
    assert secret_of(verbose_runs.token) not in verbose_runs.stack_outputs


def test_grpc_debug_log_holds_token_only_from_config(verbose_runs):
    # PULUMI_DEBUG_GRPC logs the decrypted stack config that the engine sends to providers.
    # A token kept in secret config is therefore in that file in clear, and one read from
    # the environment is not.
    in_log = secret_of(verbose_runs.token) in verbose_runs.grpc_log

    assert "/pulumirpc.ResourceProvider/Create" in verbose_runs.grpc_log
    assert in_log is ("inferencekey:sdkToken" in verbose_runs.grpc_log)


# --- failures that concern the token -------------------------------------------------------


@dataclass(frozen=True)
class TokenFailure:
    make_token: str
    expected: str


TOKEN_FAILURES = {
    "unknown-token": TokenFailure("unknown", "authentication failed: unknown token ik_sdk_"),
    "token-of-other-project": TokenFailure("other-project", "permission denied [project_scope_mismatch]"),
    "read-only-token": TokenFailure("read-only", "permission denied [scope_insufficient]"),
    "live-key-as-sdk-token": TokenFailure("live-key", "is a data-plane key (ik_live_)"),
    "truncated-token": TokenFailure("truncated", "the SDK token starts with ik_sdk_ but is not ik_sdk_<8 hex id>_<64 hex secret>"),
}


def make_token(control_plane: LocalControlPlane, kind: str) -> str:
    if kind == "unknown":
        return "ik_sdk_0badc0de_" + "3c" * 32
    if kind == "other-project":
        return control_plane.create_sdk_token("globex")
    if kind == "read-only":
        return control_plane.create_sdk_token(PROJECT, read_only=True)
    if kind == "live-key":
        return control_plane.create_api_key(PROJECT)
    return control_plane.create_sdk_token(PROJECT)[:-10]


@pytest.fixture(scope="module")
def failing_stack(tmp_path_factory: pytest.TempPathFactory):
    """Return a function that runs `pulumi up` with a token of the given kind and returns its error output."""
    control_plane = LocalControlPlane().start()
    stack = inline_stack(
        "token-failures",
        "dev",
        support_bot,
        tmp_path_factory.mktemp("token-failures"),
        config={"inferencekey:baseUrl": control_plane.base_url, "inferencekey:project": PROJECT},
    )

    def up_with(kind: str) -> tuple[str, str]:
        token = make_token(control_plane, kind)
        with pytest.MonkeyPatch.context() as monkeypatch:
            monkeypatch.setenv("INFERENCEKEY_SDK_TOKEN", token)
            with pytest.raises(auto.CommandError) as failure:
                stack.up(**VERBOSE)
        return token, str(failure.value)

    yield up_with
    control_plane.stop()


@pytest.mark.parametrize("case", sorted(TOKEN_FAILURES), ids=sorted(TOKEN_FAILURES))
def test_token_failure_names_cause(failing_stack, case):
    _token, output = failing_stack(TOKEN_FAILURES[case].make_token)

    assert TOKEN_FAILURES[case].expected in output


@pytest.mark.parametrize("case", sorted(TOKEN_FAILURES), ids=sorted(TOKEN_FAILURES))
def test_token_failure_hides_token(failing_stack, case):
    token, output = failing_stack(TOKEN_FAILURES[case].make_token)

    assert token not in output
    assert token.split("_")[-1] not in output
