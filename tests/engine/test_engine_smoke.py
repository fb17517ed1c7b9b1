"""The Pulumi engine runs a Python dynamic resource offline: up, preview, refresh, destroy."""

from __future__ import annotations

import json

import pulumi
import pytest

from pulumi_inferencekey.automation import inline_stack
from pulumi_inferencekey.noop import Noop

pytestmark = pytest.mark.engine


def program() -> None:
    resource = Noop("floor", value=pulumi.Config().get("value") or "one")
    pulumi.export("value", resource.value)


@pytest.fixture
def stack(tmp_path):
    stack = inline_stack("engine-smoke", "dev", program, tmp_path)
    yield stack
    stack.destroy()
    stack.workspace.remove_stack("dev")


def test_up_creates_dynamic_resource(stack):
    result = stack.up()

    assert result.summary.result == "succeeded"
    assert result.summary.resource_changes == {"create": 2}
    assert result.outputs["value"].value == "one"


def test_preview_after_up_is_no_op(stack):
    stack.up()

    preview = stack.preview()

    assert preview.change_summary == {"same": 2}


def test_changed_input_updates_in_place(stack):
    stack.up()
    stack.set_config("value", pulumi.automation.ConfigValue("two"))

    result = stack.up()

    assert result.summary.resource_changes == {"update": 1, "same": 1}
    assert result.outputs["value"].value == "two"


def test_refresh_keeps_resource(stack):
    stack.up()

    result = stack.refresh()

    assert result.summary.result == "succeeded"
    assert result.summary.resource_changes == {"same": 2}


def test_destroy_removes_everything(stack):
    stack.up()

    result = stack.destroy()

    assert result.summary.resource_changes == {"delete": 2}
    deployment = stack.export_stack().deployment
    assert not deployment.get("resources")
