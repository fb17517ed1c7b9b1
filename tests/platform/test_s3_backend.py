"""Pulumi state in S3, served by moto on loopback: up, preview and destroy, and no token in any object."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import pulumi
import pytest
from moto.server import ThreadedMotoServer

from pulumi_inferencekey import Workload
from pulumi_inferencekey.automation import engine_env, inline_stack

pytestmark = pytest.mark.engine

PROJECT = "acme"
REGION = "us-east-1"
CHECKPOINT_KEY = ".pulumi/stacks/workloads/dev.json"
LOGIN_TIMEOUT_SECONDS = 60


def aws_env(work_dir: Path) -> dict[str, str]:
    """Return dummy credentials for the CLI, kept away from the user's ~/.aws and from instance metadata."""
    return {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": REGION,
        "AWS_CONFIG_FILE": str(work_dir / "aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(work_dir / "aws-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }


def s3_backend_url(bucket: str, endpoint: str) -> str:
    # The SDK v2 names of gocloud.dev's s3blob driver; path style because "<bucket>.127.0.0.1"
    # is not a host name.
    return f"s3://{bucket}?endpoint=http://{endpoint}&use_path_style=true&region={REGION}"


@pytest.fixture(scope="module")
def s3_endpoint():
    """Run moto's S3 on a free loopback port for this module; return ``host:port``."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"{host}:{port}"
    server.stop()


@pytest.fixture(scope="module")
def s3(s3_endpoint):
    return boto3.client(
        "s3",
        endpoint_url=f"http://{s3_endpoint}",
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def new_bucket(s3) -> str:
    name = f"pulumi-state-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return name


def bucket_objects(s3, bucket: str) -> dict[str, str]:
    keys = [item["Key"] for item in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    return {key: s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8", errors="replace") for key in keys}


def support_bot() -> None:
    bot = Workload("support-bot", backend="ollama", model="llama3.2", wait_for_ready=False)
    pulumi.export("endpoint_url", bot.endpoint_url)


@dataclass
class S3Lifecycle:
    """What up, preview and destroy of one stack did, and the bucket's objects after up and after destroy."""

    token_source: str
    token: str
    up: object
    preview: object
    destroy: object
    workloads_after_up: list
    workloads_after_destroy: list
    objects_after_up: dict[str, str] = field(default_factory=dict)
    objects_after_destroy: dict[str, str] = field(default_factory=dict)


@pytest.fixture(scope="module", params=["environment", "secret-config"])
def lifecycle(request, s3, s3_endpoint, local_control_plane_session, tmp_path_factory) -> S3Lifecycle:
    """Run up, preview and destroy of a stack whose state lives in a fresh bucket.

    The SDK token reaches the provider through INFERENCEKEY_SDK_TOKEN or through secret
    stack config, which the engine stores encrypted. Every test of this module uses this
    fixture and none takes ``local_control_plane``, whose reset would wipe the workloads.
    """
    control_plane = local_control_plane_session
    control_plane.reset()
    token = control_plane.create_sdk_token(PROJECT)
    work_dir = tmp_path_factory.mktemp(f"s3-{request.param}")
    bucket = new_bucket(s3)
    in_config = request.param == "secret-config"

    stack = inline_stack(
        "workloads",
        "dev",
        support_bot,
        work_dir,
        config={"inferencekey:baseUrl": control_plane.base_url, "inferencekey:project": PROJECT},
        secret_config={"inferencekey:sdkToken": token} if in_config else None,
        env={**aws_env(work_dir), **({} if in_config else {"INFERENCEKEY_SDK_TOKEN": token})},
        backend_url=s3_backend_url(bucket, s3_endpoint),
    )
    up = stack.up()
    workloads_after_up = control_plane.workloads(PROJECT)
    objects_after_up = bucket_objects(s3, bucket)
    preview = stack.preview()
    destroy = stack.destroy()

    return S3Lifecycle(
        token_source=request.param,
        token=token,
        up=up,
        preview=preview,
        destroy=destroy,
        workloads_after_up=workloads_after_up,
        workloads_after_destroy=control_plane.workloads(PROJECT),
        objects_after_up=objects_after_up,
        objects_after_destroy=bucket_objects(s3, bucket),
    )


def test_up_creates_workload_with_state_in_s3(lifecycle, local_control_plane_session):
    assert lifecycle.up.summary.resource_changes == {"create": 2}
    assert lifecycle.up.outputs["endpoint_url"].value == f"{local_control_plane_session.base_url}/endpoint/{PROJECT}/support-bot/v1"
    assert [workload["slug"] for workload in lifecycle.workloads_after_up] == ["support-bot"]
    assert CHECKPOINT_KEY in lifecycle.objects_after_up
    assert '"support-bot"' in lifecycle.objects_after_up[CHECKPOINT_KEY]


def test_preview_after_up_is_unchanged(lifecycle):
    assert lifecycle.preview.change_summary == {"same": 2}


def test_destroy_deletes_workload(lifecycle):
    assert lifecycle.destroy.summary.resource_changes == {"delete": 2}
    assert lifecycle.workloads_after_destroy == []


@pytest.mark.parametrize("moment", ["objects_after_up", "objects_after_destroy"])
def test_bucket_objects_contain_no_token(lifecycle, moment):
    objects = getattr(lifecycle, moment)
    secret = lifecycle.token.split("_")[-1]

    assert objects
    for key, body in objects.items():
        assert lifecycle.token not in body, key
        assert secret not in body, key


def test_checkpoint_stores_config_token_encrypted(lifecycle):
    # The engine copies every stack config value into the dynamic provider's state, and a
    # secret value as ciphertext. A token from the environment is not config, so it stays out.
    checkpoint = json.loads(lifecycle.objects_after_up[CHECKPOINT_KEY])
    provider = next(resource for resource in checkpoint["checkpoint"]["latest"]["resources"] if resource["type"].startswith("pulumi:providers:"))
    stored = provider.get("inputs", {}).get("inferencekey:sdkToken")

    if lifecycle.token_source == "environment":
        assert stored is None
    else:
        # A secret in a checkpoint is an object carrying Pulumi's secret signature and the ciphertext.
        assert isinstance(stored, dict)
        assert stored["ciphertext"]


@pytest.mark.parametrize(
    "query",
    [
        pytest.param("endpoint=http://{endpoint}&use_path_style=true&region=us-east-1", id="sdk-v2-names"),
        pytest.param("endpoint={endpoint}&disableSSL=true&s3ForcePathStyle=true&region=us-east-1", id="legacy-v1-names"),
    ],
)
def test_login_accepts_backend_url(s3, s3_endpoint, tmp_path, query):
    url = f"s3://{new_bucket(s3)}?{query.format(endpoint=s3_endpoint)}"
    env = {**os.environ, **engine_env(tmp_path), **aws_env(tmp_path)}

    completed = subprocess.run(
        ["pulumi", "login", url], env=env, capture_output=True, text=True, timeout=LOGIN_TIMEOUT_SECONDS, check=False
    )

    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip().startswith("Logged in to ")
    assert completed.stdout.strip().endswith(f"({url})")
