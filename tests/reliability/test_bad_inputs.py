"""Invalid workload inputs fail before any request, with an error naming the input and the fix.

The table runs through ``check_inputs`` (what the provider's check calls) in full, and a
sample of it through the engine's `pulumi preview`, which stops at the first failing
resource, so each engine case is a preview of its own.
"""

from __future__ import annotations

import math
import re
from typing import Any

import pulumi
import pytest
from pulumi import automation as auto
from reliability_support import PROJECT

from pulumi_inferencekey import Workload
from pulumi_inferencekey.automation import inline_stack
from pulumi_inferencekey.inputs import check_inputs
from pulumi_inferencekey.local import LocalControlPlane
from pulumi_inferencekey.noop import Noop
from pulumi_inferencekey.tokens import parse_token

SDK_TOKEN = "ik_sdk_0123abcd_" + "5e" * 32
LIVE_KEY = "ik_live_89abcdef_" + "7f" * 32
SECRETS = (parse_token(SDK_TOKEN).secret, parse_token(LIVE_KEY).secret)  # type: ignore[union-attr]

VALID = {"name": "Support bot", "slug": "support-bot", "backend": "ollama", "model": "llama3.2"}
CLOUD_POLICY = {
    "min_workers": 0,
    "max_workers": 2,
    "max_hourly_cost_usd": 4.0,
    "workers": {"source": "cloud", "cloud_pool": {"gpu_pool": ["NVIDIA L4"]}},
}
PRIVATE_POLICY = {"min_workers": 0, "max_workers": 1, "workers": {"source": "private", "private_worker_ids": ["wk_1"]}}
TOKEN_FIX = "the SDK token belongs in `pulumi config set --secret inferencekey:sdkToken` or INFERENCEKEY_SDK_TOKEN"


def autoscaling(**changes: Any) -> dict[str, Any]:
    return {"execution_policy": "autoscaling", "execution_policy_config": {**CLOUD_POLICY, **changes}}


def cloud_pool(**pool: Any) -> dict[str, Any]:
    return autoscaling(workers={"source": "cloud", "cloud_pool": {"gpu_pool": ["NVIDIA L4"], **pool}})


# id -> (inputs that replace the valid ones, property named by the failure, part of its reason)
BAD_INPUTS: dict[str, tuple[dict[str, Any], str, str]] = {
    "name-empty": ({"name": ""}, "name", "is empty; give a non-empty string"),
    "name-blank": ({"name": "   "}, "name", "is empty; give a non-empty string"),
    "name-number": ({"name": 42}, "name", "expected a string, got int 42"),
    "slug-empty": ({"slug": ""}, "slug", "is empty; give a non-empty string"),
    "slug-only-punctuation": ({"slug": "!!!---"}, "slug", "has no ASCII letter or digit, so its canonical form is empty; use a slug like 'support-bot'"),
    "slug-accented": ({"slug": "ñandú-bot"}, "slug", "contains non-ASCII characters, which the platform drops from slugs; set slug to an ASCII slug such as 'nandu-bot'"),
    "slug-emoji": ({"slug": "🤖"}, "slug", "set slug to an ASCII slug such as 'support-bot'"),
    "slug-list": ({"slug": ["support-bot"]}, "slug", "expected a string, got list"),
    "project-not-canonical": ({"project": "Acme Prod"}, "project", "is not a project slug; use its canonical form 'acme-prod'"),
    "project-empty": ({"project": ""}, "project", "is empty; give a non-empty string or leave it unset"),
    "project-number": ({"project": 7}, "project", "expected a string, got int 7"),
    "task-type-unknown": ({"task_type": "chat"}, "task_type", "unknown task type 'chat'; use one of text2text, embedding"),
    "task-type-number": ({"task_type": 1}, "task_type", "expected a string, got int 1"),
    "backend-missing": ({"backend": None}, "backend", "missing; it is required"),
    "backend-empty": ({"backend": ""}, "backend", "is empty; give a non-empty string"),
    "backend-capitals": ({"backend": "Ollama"}, "backend", "unknown backend 'Ollama'; use one of ollama, vllm"),
    "backend-with-space": ({"backend": "my backend"}, "backend", "or a custom backend slug such as 'my-backend'"),
    "model-missing": ({"model": None}, "model", "missing; it is required"),
    "model-empty": ({"model": ""}, "model", "is empty; give a non-empty string"),
    "model-list": ({"model": ["llama3.2"]}, "model", "expected a string, got list"),
    "description-number": ({"description": 3.5}, "description", "expected a string, got float 3.5"),
    "command-on-ollama": ({"command": "ollama serve"}, "command", "the 'ollama' backend takes no launch command; remove command"),
    "command-number": ({"backend": "vllm", "command": 8000}, "command", "expected a string, got int 8000"),
    "vllm-version-on-llamacpp": (
        {"backend": "llamacpp", "command": "llama-server -m model.gguf", "vllm_version": "0.11.0"},
        "vllm_version",
        "only the vllm and vllm-omni backends take a vLLM version, not 'llamacpp'; remove vllm_version",
    ),
    "config-string": ({"config": "--max-model-len 8192"}, "config", "expected an object of backend settings, got str"),
    "config-repeats-command": (
        {"backend": "vllm", "command": "vllm serve m", "config": {"command": "vllm serve n"}},
        "config",
        "'command' is set both in config and as the command input; keep one of them",
    ),
    "policy-unknown": ({"execution_policy": "always"}, "execution_policy", "unknown policy 'always'; use one of fixed, scheduled, autoscaling"),
    "policy-config-without-policy": ({"execution_policy_config": {"replicas": 1}}, "execution_policy", "is required when execution_policy_config is set"),
    "fixed-replicas-zero": ({"execution_policy": "fixed", "execution_policy_config": {"replicas": 0}}, "execution_policy_config.replicas", "greater than or equal to 1"),
    "fixed-replicas-boolean": ({"execution_policy": "fixed", "execution_policy_config": {"replicas": True}}, "execution_policy_config.replicas", "expected a number, not a boolean"),
    "fixed-replicas-word": ({"execution_policy": "fixed", "execution_policy_config": {"replicas": "two"}}, "execution_policy_config.replicas", "valid integer"),
    "fixed-min-replicas": (
        {"execution_policy": "fixed", "execution_policy_config": {"replicas": 1, "min_replicas": 1}},
        "execution_policy_config.min_replicas",
        "unknown key for the 'fixed' policy; allowed keys: replicas",
    ),
    "fixed-config-list": ({"execution_policy": "fixed", "execution_policy_config": [1]}, "execution_policy_config", "must be an object, got list"),
    "scheduled-cron-and-window": (
        {"execution_policy": "scheduled", "execution_policy_config": {"cron": "0 8 * * 1-5", "window": "Mon-Fri 08:00-20:00 Europe/Madrid"}},
        "execution_policy_config",
        "set exactly one of 'cron' or 'window'",
    ),
    "scheduled-empty": ({"execution_policy": "scheduled", "execution_policy_config": {}}, "execution_policy_config", "set exactly one of 'cron' or 'window'"),
    "scheduled-cron-in-words": (
        {"execution_policy": "scheduled", "execution_policy_config": {"cron": "every weekday"}},
        "execution_policy_config",
        "'cron' must have 5 or 6 space-separated fields, such as '0 8 * * 1-5'",
    ),
    "autoscaling-replica-keys": (
        {"execution_policy": "autoscaling", "execution_policy_config": {"min_replicas": 0, "max_replicas": 2}},
        "execution_policy_config.min_replicas",
        "unknown key for the 'autoscaling' policy; allowed keys: min_workers, max_workers",
    ),
    "autoscaling-max-below-min": (autoscaling(min_workers=3), "execution_policy_config", "'max_workers' must be at least 'min_workers'"),
    "autoscaling-no-cost-cap": (
        {"execution_policy": "autoscaling", "execution_policy_config": {k: v for k, v in CLOUD_POLICY.items() if k != "max_hourly_cost_usd"}},
        "execution_policy_config",
        "cloud autoscaling needs 'max_hourly_cost_usd' (a cost cap above 0)",
    ),
    "autoscaling-cost-zero": (autoscaling(max_hourly_cost_usd=0), "execution_policy_config.max_hourly_cost_usd", "greater than 0"),
    "autoscaling-unknown-source": (autoscaling(workers={"source": "spot"}), "execution_policy_config.workers", "expected tags: 'cloud', 'private'"),
    "autoscaling-empty-gpu-pool": (
        autoscaling(workers={"source": "cloud", "cloud_pool": {"gpu_pool": []}}),
        "execution_policy_config.workers.cloud_pool.gpu_pool",
        "at least 1 item",
    ),
    "autoscaling-max-instances-zero": (cloud_pool(max_instances=0), "execution_policy_config.workers.cloud_pool.max_instances", "greater than or equal to 1"),
    "autoscaling-no-private-workers": (
        {"execution_policy": "autoscaling", "execution_policy_config": {**PRIVATE_POLICY, "workers": {"source": "private", "private_worker_ids": []}}},
        "execution_policy_config.workers.private_worker_ids",
        "at least 1 item",
    ),
    "autoscaling-workers-and-legacy-pool": (autoscaling(gpu_pool=["NVIDIA L4"]), "execution_policy_config", "set 'workers' or the legacy 'gpu_pool', not both"),
    "autoscaling-no-workers": (
        {"execution_policy": "autoscaling", "execution_policy_config": {"min_workers": 0, "max_workers": 1, "max_hourly_cost_usd": 2.0}},
        "execution_policy_config",
        "set 'workers' (cloud pool or private worker ids) or the legacy 'gpu_pool'",
    ),
    "worker-id-empty": ({"worker_id": ""}, "worker_id", "is empty; give a non-empty string or leave it unset"),
    "gpu-resource-id-number": ({"gpu_resource_id": 7}, "gpu_resource_id", "expected a string, got int 7"),
    "wait-for-ready-word": ({"wait_for_ready": "yes"}, "wait_for_ready", "expected true or false, got str 'yes'"),
    "adopt-existing-number": ({"adopt_existing": 1}, "adopt_existing", "expected true or false, got int 1"),
    "timeout-zero": ({"ready_timeout_seconds": 0}, "ready_timeout_seconds", "0 is out of range; use a number of seconds above 0 and at most 86400"),
    "timeout-negative": ({"ready_timeout_seconds": -5}, "ready_timeout_seconds", "-5 is out of range"),
    "timeout-above-a-day": ({"ready_timeout_seconds": 86_401}, "ready_timeout_seconds", "86401 is out of range"),
    "timeout-text": ({"ready_timeout_seconds": "600"}, "ready_timeout_seconds", "expected a number of seconds, got '600'"),
    "timeout-nan": ({"ready_timeout_seconds": math.nan}, "ready_timeout_seconds", "expected a number of seconds, got nan"),
    "timeout-boolean": ({"ready_timeout_seconds": True}, "ready_timeout_seconds", "expected a number of seconds, got True"),
    "unknown-input": ({"replicas": 2}, "replicas", "unknown input; the inputs are slug, project, task_type"),
    "sdk-token-as-description": ({"description": SDK_TOKEN}, "description", TOKEN_FIX),
    "live-key-as-model": ({"model": LIVE_KEY}, "model", TOKEN_FIX),
    "live-key-inside-command": ({"backend": "vllm", "command": f"vllm serve m --api-key {LIVE_KEY}"}, "command", TOKEN_FIX),
    "sdk-token-in-config": ({"backend": "vllm", "config": {"env": {"HF_TOKEN": SDK_TOKEN}}}, "config.env.HF_TOKEN", TOKEN_FIX),
    "live-key-as-worker-id": (
        {"execution_policy": "autoscaling", "execution_policy_config": {**PRIVATE_POLICY, "workers": {"source": "private", "private_worker_ids": [LIVE_KEY]}}},
        "execution_policy_config.workers.private_worker_ids[0]",
        TOKEN_FIX,
    ),
    "sdk-token-as-slug": ({"slug": SDK_TOKEN}, "slug", TOKEN_FIX),
    "sdk-token-as-project": ({"project": SDK_TOKEN}, "project", TOKEN_FIX),
}
TOKEN_CASES = sorted(case for case, (_inputs, _property, reason) in BAD_INPUTS.items() if reason == TOKEN_FIX)


def check(case: str) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    changes = BAD_INPUTS[case][0]
    inputs, failures = check_inputs({**VALID, **changes}, default_project=PROJECT)
    return inputs, [(failure.property, failure.reason) for failure in failures]


@pytest.mark.parametrize("case", sorted(BAD_INPUTS), ids=sorted(BAD_INPUTS))
def test_bad_input_fails_on_its_property(case):
    _inputs, expected_property, _reason = BAD_INPUTS[case]

    _checked, failures = check(case)

    assert [prop for prop, _reason in failures] == [expected_property]


@pytest.mark.parametrize("case", sorted(BAD_INPUTS), ids=sorted(BAD_INPUTS))
def test_bad_input_reason_says_fix(case):
    _inputs, _property, expected_reason = BAD_INPUTS[case]

    _checked, failures = check(case)

    assert expected_reason in failures[0][1]


@pytest.mark.parametrize("case", TOKEN_CASES, ids=TOKEN_CASES)
def test_bad_input_reason_hides_token(case):
    _checked, failures = check(case)

    assert all(secret not in reason for secret in SECRETS for _property, reason in failures)


def test_valid_inputs_pass_check():
    assert check_inputs(dict(VALID), default_project=PROJECT)[1] == []


def test_missing_project_names_where_to_set_it():
    _checked, failures = check_inputs(dict(VALID), default_project=None)

    assert [(failure.property, failure.reason) for failure in failures] == [
        (
            "project",
            "missing; pass project=... or set `pulumi config set inferencekey:project <slug>` or INFERENCEKEY_PROJECT",
        )
    ]


def test_table_covers_forty_bad_inputs():
    assert len(BAD_INPUTS) >= 40


# --- through the engine ------------------------------------------------------------------

# One case per kind of rule: type, emptiness, canonical form, enum, backend coupling,
# policy shape, range, and tokens.
ENGINE_CASES = [
    "model-list",
    "slug-accented",
    "slug-only-punctuation",
    "project-not-canonical",
    "task-type-unknown",
    "backend-capitals",
    "model-empty",
    "command-on-ollama",
    "policy-unknown",
    "fixed-min-replicas",
    "scheduled-cron-in-words",
    "autoscaling-no-cost-cap",
    "timeout-zero",
    "wait-for-ready-word",
    "sdk-token-as-description",
    "live-key-inside-command",
]

_WORKLOAD_ARGUMENTS = {"slug", "project", "task_type", "description", "command", "vllm_version", "config", "execution_policy",
                       "execution_policy_config", "worker_id", "gpu_resource_id", "wait_for_ready", "ready_timeout_seconds",
                       "adopt_existing", "name", "backend", "model"}  # fmt: skip


@pytest.fixture(scope="module")
def preview_stack(tmp_path_factory: pytest.TempPathFactory):
    """Return a function that previews one bad case and returns the control plane's requests and the output."""
    control_plane = LocalControlPlane().start()
    current: dict[str, Any] = {}

    def program() -> None:
        arguments = {**VALID, **current["inputs"]}
        assert set(arguments) <= _WORKLOAD_ARGUMENTS
        Workload("bad-input", **arguments)

    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setenv("INFERENCEKEY_SDK_TOKEN", control_plane.create_sdk_token(PROJECT))
        stack = inline_stack(
            "inputs",
            "dev",
            program,
            tmp_path_factory.mktemp("inputs"),
            config={"inferencekey:baseUrl": control_plane.base_url, "inferencekey:project": PROJECT},
        )

        def preview(case: str) -> tuple[list[tuple[str, str]], str]:
            current["inputs"] = BAD_INPUTS[case][0]
            before = len(control_plane.requests)
            with pytest.raises(auto.CommandError) as failure:
                stack.preview()
            return control_plane.requests[before:], str(failure.value)

        yield preview
    control_plane.stop()


@pytest.mark.engine
@pytest.mark.parametrize("case", ENGINE_CASES, ids=ENGINE_CASES)
def test_preview_of_bad_input_fails_without_request(preview_stack, case):
    _inputs, expected_property, expected_reason = BAD_INPUTS[case]

    requests, output = preview_stack(case)

    # The engine prints the value of a failing property. For a value that contains a token
    # the provider leaves the property out, and the reason names it instead.
    if case in TOKEN_CASES:
        pattern = rf"resource 'bad-input' has a problem: input {re.escape(expected_property)} (.*)"
    else:
        pattern = rf"resource 'bad-input': property {re.escape(expected_property)} value .*? has a problem: (.*)"
    failure = re.search(pattern, output)
    assert requests == []
    assert failure is not None, output
    assert expected_reason in failure.group(1)
    assert all(secret not in output for secret in SECRETS)


@pytest.mark.engine
def test_first_preview_accepts_unknown_inputs(tmp_path, control_plane_factory, monkeypatch):
    control_plane = control_plane_factory()
    monkeypatch.setenv("INFERENCEKEY_SDK_TOKEN", control_plane.create_sdk_token(PROJECT))

    def program() -> None:
        # A Noop's id is known only once it is created, so every input built from it is
        # unknown in the first preview, at the top level and nested in objects and lists.
        sizing = Noop("sizing", value="2")
        Workload(
            "from-outputs",
            slug=sizing.id.apply(lambda _id: "from-outputs"),
            backend=sizing.id.apply(lambda _id: "vllm"),
            model=sizing.id.apply(lambda _id: "Qwen/Qwen2.5-7B-Instruct"),
            command=sizing.id.apply(lambda _id: "vllm serve Qwen/Qwen2.5-7B-Instruct"),
            execution_policy="autoscaling",
            execution_policy_config={
                "min_workers": 0,
                "max_workers": sizing.id.apply(lambda _id: 2),
                "max_hourly_cost_usd": 4.0,
                "workers": {"source": "cloud", "cloud_pool": {"gpu_pool": [sizing.id.apply(lambda _id: "NVIDIA L4")]}},
            },
            ready_timeout_seconds=sizing.id.apply(lambda _id: 600),
        )
        pulumi.export("sizing", sizing.id)

    stack = inline_stack(
        "unknowns",
        "dev",
        program,
        tmp_path / "unknowns",
        config={"inferencekey:baseUrl": control_plane.base_url, "inferencekey:project": PROJECT},
    )

    preview = stack.preview()

    assert preview.change_summary == {"create": 3}
    assert control_plane.requests == []
