"""The Workload resource through the real engine: create, diff, update, replace, refresh, import, destroy."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pulumi
import pytest
from pulumi import automation as auto

from pulumi_inferencekey import Workload
from pulumi_inferencekey.automation import engine_env

PROJECT = "acme"

pytestmark = pytest.mark.engine


def support_bot(spec: dict[str, Any]) -> None:
    bot = Workload(
        "support-bot",
        slug=spec.get("slug"),
        backend="vllm",
        model=spec.get("model", "Qwen/Qwen2.5-7B-Instruct"),
        task_type=spec.get("task_type", "text2text"),
        description=spec.get("description"),
        command="vllm serve Qwen/Qwen2.5-7B-Instruct --max-model-len 8192",
        execution_policy="fixed",
        execution_policy_config={"replicas": spec.get("replicas", 2)},
        wait_for_ready=spec.get("wait_for_ready", True),
        adopt_existing=spec.get("adopt_existing", False),
    )
    pulumi.export("endpoint_url", bot.endpoint_url)
    pulumi.export("slug", bot.slug)
    pulumi.export("workload_id", bot.workload_id)


def server_workloads(engine) -> list[dict[str, Any]]:
    return engine.control_plane.workloads(PROJECT)


def diffs_of_preview(engine) -> dict[str, list[str]]:
    """Run a preview and return, per resource name, the fields its step would change."""
    events: list[auto.EngineEvent] = []
    engine.stack.preview(on_event=events.append)
    diffs = {}
    for event in events:
        pre = event.resource_pre_event
        if pre is None or pre.metadata.op == auto.OpType.SAME or pre.metadata.type == "pulumi:pulumi:Stack":
            continue
        # Python dynamic providers report no per-field diff, so, like the CLI's display,
        # the changed fields are the stored inputs that differ from the program's.
        old, new = pre.metadata.old.inputs, pre.metadata.new.inputs
        diffs[pre.metadata.urn.split("::")[-1]] = sorted(
            key for key in set(old) | set(new) if not key.startswith("__") and old.get(key) != new.get(key)
        )
    return diffs


def test_up_creates_workload_and_exports_endpoint(make_stack):
    engine = make_stack(support_bot)

    result = engine.stack.up()

    workloads = server_workloads(engine)
    assert [workload["slug"] for workload in workloads] == ["support-bot"]
    assert result.outputs["endpoint_url"].value == f"{engine.control_plane.base_url}/endpoint/acme/support-bot/v1"
    assert result.outputs["workload_id"].value == workloads[0]["id"]
    assert engine.writes() == [("POST", "/api/projects/acme/workloads")]


def test_preview_after_up_sends_no_request(make_stack):
    engine = make_stack(support_bot)
    engine.stack.up()
    engine.mark()

    preview = engine.stack.preview()

    assert preview.change_summary == {"same": 2}
    assert engine.server_requests() == []


def test_replicas_as_float_shows_no_diff(make_stack):
    engine = make_stack(support_bot, replicas=2)
    engine.stack.up()
    engine.spec["replicas"] = 2.0

    assert diffs_of_preview(engine) == {}


def test_changed_description_patches_only_that_field(make_stack):
    engine = make_stack(support_bot)
    engine.stack.up()
    engine.mark()
    engine.spec["description"] = "answers support questions"

    result = engine.stack.up()

    assert result.summary.resource_changes == {"update": 1, "same": 1}
    patches = [request for request in engine.writes() if request[0] == "PATCH"]
    assert len(patches) == 1
    assert engine.writes() == patches
    assert server_workloads(engine)[0]["description"] == "answers support questions"
    assert engine.patch_bodies() == [{"description": "answers support questions"}]


def test_task_type_change_deletes_before_create(make_stack):
    engine = make_stack(support_bot)
    engine.stack.up()
    engine.mark()
    engine.spec["task_type"] = "omni"

    result = engine.stack.up()

    assert result.summary.resource_changes == {"replace": 1, "same": 1}
    methods = [method for method, _path in engine.writes()]
    assert methods == ["DELETE", "POST"]
    workloads = server_workloads(engine)
    assert [(workload["slug"], workload["task_type"]) for workload in workloads] == [("support-bot", "omni")]


def test_slug_rename_replaces_workload(make_stack):
    engine = make_stack(support_bot)
    engine.stack.up()
    engine.spec["slug"] = "helpdesk-bot"

    result = engine.stack.up()

    assert result.summary.resource_changes == {"replace": 1, "same": 1}
    assert [workload["slug"] for workload in server_workloads(engine)] == ["helpdesk-bot"]
    assert result.outputs["endpoint_url"].value.endswith("/endpoint/acme/helpdesk-bot/v1")


def test_refresh_drops_workload_deleted_out_of_band(make_stack, sdk_client):
    engine = make_stack(support_bot)
    engine.stack.up()
    workload_id = server_workloads(engine)[0]["id"]
    sdk_client(engine).delete_workload(PROJECT, workload_id)

    refresh = engine.stack.refresh()
    recreate = engine.stack.up()

    assert refresh.summary.resource_changes.get("delete") == 1
    assert recreate.summary.resource_changes == {"create": 1, "same": 1}
    assert [workload["slug"] for workload in server_workloads(engine)] == ["support-bot"]


def test_refresh_then_preview_shows_drifted_field(make_stack, sdk_client):
    from pulumi_inferencekey.models import WorkloadPatch

    engine = make_stack(support_bot)
    engine.stack.up()
    workload_id = server_workloads(engine)[0]["id"]
    sdk_client(engine).update_workload(PROJECT, workload_id, WorkloadPatch(model_name="Qwen/Qwen2.5-14B-Instruct"))

    engine.stack.refresh()

    assert diffs_of_preview(engine) == {"support-bot": ["model"]}


def test_adopt_existing_takes_over_workload(make_stack, sdk_client):
    from pulumi_inferencekey.models import WorkloadCreate

    engine = make_stack(support_bot)
    client = sdk_client(engine)
    existing = client.create_workload(
        PROJECT,
        WorkloadCreate(
            name="support-bot",
            slug="support-bot",
            backend="vllm",
            model_name="Qwen/Qwen2.5-7B-Instruct",
            config={"command": "vllm serve Qwen/Qwen2.5-7B-Instruct --max-model-len 8192"},
            execution_policy="fixed",
            execution_policy_config={"replicas": 2},
        ),
    )
    engine.spec["adopt_existing"] = True
    engine.mark()

    result = engine.stack.up()

    assert result.summary.resource_changes == {"create": 2}
    assert result.outputs["workload_id"].value == existing.id
    assert len(server_workloads(engine)) == 1
    assert engine.writes() == []


def test_create_with_taken_slug_fails_with_import_hint(make_stack, sdk_client):
    from pulumi_inferencekey.models import WorkloadCreate

    engine = make_stack(support_bot)
    sdk_client(engine).create_workload(PROJECT, WorkloadCreate(name="other", slug="support-bot", backend="ollama", model_name="llama3"))

    with pytest.raises(auto.CommandError) as failure:
        engine.stack.up()

    assert "slug is already taken" in str(failure.value)
    assert "adopt_existing=True" in str(failure.value)
    assert len(server_workloads(engine)) == 1


def test_destroy_deletes_workload(make_stack):
    engine = make_stack(support_bot)
    engine.stack.up()

    result = engine.stack.destroy()

    assert result.summary.resource_changes == {"delete": 2}
    assert server_workloads(engine) == []


def test_read_only_token_previews_and_refreshes_but_cannot_update(make_stack, local_control_plane, monkeypatch):
    engine = make_stack(support_bot)
    engine.stack.up()
    engine.use_token(local_control_plane.create_sdk_token(PROJECT, read_only=True), monkeypatch)
    engine.spec["description"] = "changed by a pull request"

    preview = engine.stack.preview()
    refresh = engine.stack.refresh()
    with pytest.raises(auto.CommandError) as failure:
        engine.stack.up()

    assert preview.change_summary == {"update": 1, "same": 1}
    assert refresh.summary.result == "succeeded"
    assert "scope_insufficient" in str(failure.value)
    assert server_workloads(engine)[0].get("description") in (None, "")


def test_exported_state_holds_no_token_from_environment(make_stack, tmp_path):
    engine = make_stack(support_bot)
    engine.stack.up()

    exported = subprocess.run(
        ["pulumi", "stack", "export", "--show-secrets", "--stack", "dev"],
        cwd=engine.stack.workspace.work_dir,
        env={**engine_env(tmp_path / "dev")},
        capture_output=True,
        text=True,
        check=True,
    ).stdout

    secret = engine.token.split("_")[-1]
    state_files = "".join(path.read_text() for path in (tmp_path / "dev" / "state").rglob("*.json"))
    assert json.loads(exported)["deployment"]["resources"]
    assert secret not in exported
    assert state_files
    assert secret not in state_files


def test_state_files_hold_token_from_config_only_encrypted(make_stack, tmp_path):
    engine = make_stack(support_bot, token_in_config=True)
    engine.stack.up()

    secret = engine.token.split("_")[-1]
    state_files = "".join(path.read_text() for path in (tmp_path / "dev" / "state").rglob("*.json"))
    assert "ciphertext" in state_files
    assert secret not in state_files
