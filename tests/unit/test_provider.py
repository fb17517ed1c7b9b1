"""The provider's pure decisions: diff, patch bodies, live inputs and what gets pickled."""

from __future__ import annotations

import base64

import dill
import pytest
from pulumi.dynamic import ConfigureRequest
from pulumi.dynamic.config import Config
from pulumi.runtime.rpc import UNKNOWN

from pulumi_inferencekey.inputs import live_inputs
from pulumi_inferencekey.provider import WorkloadProvider, _patch_body

TOKEN = "ik_sdk_1a2b3c4d_" + "ab" * 32

BASE = {
    "name": "Support bot",
    "slug": "support-bot",
    "project": "acme",
    "task_type": "text2text",
    "backend": "vllm",
    "model": "Qwen/Qwen2.5-7B-Instruct",
    "command": "vllm serve Qwen/Qwen2.5-7B-Instruct",
    "execution_policy": "fixed",
    "execution_policy_config": {"replicas": 2},
    "wait_for_ready": True,
    "ready_timeout_seconds": 900.0,
}


def changed(**news):
    return {**BASE, **news}


@pytest.mark.parametrize(
    ("news", "changes", "replaces", "delete_first"),
    [
        pytest.param({}, False, [], False, id="same"),
        pytest.param({"execution_policy_config": {"replicas": 2.0}}, False, [], False, id="float-equals-int"),
        pytest.param({"description": None}, False, [], False, id="unset-optional-is-not-drift"),
        pytest.param({"name": "Helpdesk"}, True, [], False, id="name-updates"),
        pytest.param({"model": "Qwen/Qwen2.5-14B-Instruct"}, True, [], False, id="model-updates"),
        pytest.param({"wait_for_ready": False}, True, [], False, id="local-input-updates"),
        pytest.param({"task_type": "omni"}, True, ["task_type"], True, id="task-type-deletes-first"),
        pytest.param({"slug": "helpdesk"}, True, ["slug"], False, id="slug-creates-first"),
        pytest.param({"project": "other"}, True, ["project"], False, id="project-creates-first"),
        pytest.param({"model": UNKNOWN}, True, [], False, id="unknown-is-a-change"),
    ],
)
def test_diff_separates_update_from_replace(news, changes, replaces, delete_first):
    result = WorkloadProvider().diff("wl_1", dict(BASE), changed(**news))

    assert result.changes is changes
    assert result.replaces == replaces
    assert result.delete_before_replace is delete_first


def test_patch_body_carries_only_changed_fields():
    patch = _patch_body(BASE, changed(description="answers questions"))

    assert patch == {"description": "answers questions"}


def test_patch_body_leaves_unset_field_alone():
    live = changed(description="set on the dashboard")

    patch = _patch_body(live, changed(description=None, model="Qwen/Qwen2.5-14B-Instruct"))

    assert patch == {"model_name": "Qwen/Qwen2.5-14B-Instruct"}


def test_patch_body_policy_kind_change_carries_config():
    config = {"cron": "0 8 * * 1-5"}

    patch = _patch_body(BASE, changed(execution_policy="scheduled", execution_policy_config=config))

    assert patch == {"execution_policy": "scheduled", "execution_policy_config": config}


def test_patch_body_command_goes_into_config():
    patch = _patch_body(BASE, changed(command="vllm serve Qwen/Qwen2.5-7B-Instruct --max-model-len 8192"))

    assert patch == {"config": {"command": "vllm serve Qwen/Qwen2.5-7B-Instruct --max-model-len 8192"}}


def test_live_inputs_split_command_out_of_config():
    record = {"name": "x", "slug": "x", "backend": "vllm", "model_name": "m", "config": {"command": "serve", "dtype": "auto"}}

    live = live_inputs(record, {"command": "serve"})

    assert live["command"] == "serve"
    assert live["config"] == {"dtype": "auto"}


def test_live_inputs_keep_command_in_declared_config():
    record = {"name": "x", "slug": "x", "backend": "vllm", "model_name": "m", "config": {"command": "serve"}}

    live = live_inputs(record, {"config": {"command": "serve"}})

    assert live["command"] is None
    assert live["config"] == {"command": "serve"}


def test_configured_provider_pickles_without_token():
    provider = WorkloadProvider()
    provider.configure(ConfigureRequest(Config({"inferencekey:sdkToken": TOKEN, "inferencekey:project": "acme"}, "p")))

    pickled = dill.dumps(provider, recurse=True)

    assert provider._stack_config["inferencekey:sdkToken"] == TOKEN
    assert TOKEN.encode() not in pickled
    assert TOKEN.encode() not in base64.b64encode(pickled)
    assert dill.loads(pickled)._stack_config == {}


def test_check_fills_project_from_stack_config():
    provider = WorkloadProvider()
    provider.configure(ConfigureRequest(Config({"inferencekey:project": "acme"}, "p")))

    result = provider.check({}, {key: value for key, value in BASE.items() if key != "project"})

    assert result.failures == []
    assert result.inputs["project"] == "acme"


def test_check_without_project_names_the_settings(monkeypatch):
    monkeypatch.delenv("INFERENCEKEY_PROJECT", raising=False)

    result = WorkloadProvider().check({}, {key: value for key, value in BASE.items() if key != "project"})

    assert [failure.property for failure in result.failures] == ["project"]
    assert "inferencekey:project" in result.failures[0].reason
