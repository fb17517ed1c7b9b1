"""The whole story on one machine: a local control plane, `pulumi up`, and a call to an endpoint.

`python examples/demo.py up` starts the local control plane (once), mints an SDK token for
the stack and a data-plane key for the runtime code, runs `pulumi up` of the quickstart,
prints the endpoints and asks the support bot a question. `destroy` undoes all of it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
STATE = ROOT / ".state"
CONTROL_PLANE_DB = STATE / "control-plane.db"
CONTROL_PLANE_PID = STATE / "control-plane.pid"
CONTROL_PLANE_LOG = STATE / "control-plane.log"
PORT = int(os.environ.get("DEMO_PORT", "8470"))
BASE_URL = f"http://127.0.0.1:{PORT}"
PROJECT = "demo"
STACK = "dev"
BIN = Path(sys.executable).parent


def engine_env() -> dict[str, str]:
    # Project-local state and engine home: the demo never touches ~/.pulumi or a network host.
    (STATE / "pulumi").mkdir(parents=True, exist_ok=True)
    return {
        **os.environ,
        "PATH": f"{ROOT / '.tools' / 'bin'}{os.pathsep}{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "PULUMI_BACKEND_URL": (STATE / "pulumi").as_uri(),
        "PULUMI_HOME": str(STATE / "pulumi-home"),
        "PULUMI_CONFIG_PASSPHRASE": os.environ.get("PULUMI_CONFIG_PASSPHRASE", "demo-passphrase"),
        "PULUMI_SKIP_UPDATE_CHECK": "true",
        "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
        "PULUMI_DIY_BACKEND_NO_LEGACY_WARNING": "true",
    }


def step(message: str) -> None:
    print(f"\n==> {message}", flush=True)


def pulumi(*args: str, capture: bool = False) -> str:
    env = {**engine_env(), "INFERENCEKEY_SDK_TOKEN": sdk_token()}
    completed = subprocess.run(["pulumi", *args], cwd=ROOT, env=env, text=True, capture_output=capture, check=False)
    if completed.returncode != 0:
        detail = completed.stderr if capture else ""
        raise SystemExit(f"`pulumi {' '.join(args)}` failed with exit code {completed.returncode}\n{detail}")
    return completed.stdout or ""


def local(*args: str) -> str:
    command = [str(BIN / "inferencekey-local"), *args, "--state", str(CONTROL_PLANE_DB)]
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout.strip()


def control_plane_running() -> bool:
    try:
        return httpx.get(f"{BASE_URL}/api/projects/{PROJECT}/workloads", timeout=1).status_code == 401
    except httpx.HTTPError:
        return False


def start_control_plane() -> None:
    if control_plane_running():
        print(f"local control plane already running at {BASE_URL}")
        return

    STATE.mkdir(exist_ok=True)
    command = [
        str(BIN / "inferencekey-local"), "serve", "--port", str(PORT), "--state", str(CONTROL_PLANE_DB), "--ready-after", "3",
    ]
    with CONTROL_PLANE_LOG.open("a") as log:
        process = subprocess.Popen(command, stdout=log, stderr=log, start_new_session=True)
    CONTROL_PLANE_PID.write_text(str(process.pid))

    deadline = time.monotonic() + 20
    while not control_plane_running():
        if time.monotonic() > deadline or process.poll() is not None:
            raise SystemExit(f"the local control plane did not start; see {CONTROL_PLANE_LOG}")
        time.sleep(0.2)
    print(f"local control plane listening at {BASE_URL} (state: {CONTROL_PLANE_DB.relative_to(ROOT)})")


def stop_control_plane() -> None:
    if not CONTROL_PLANE_PID.exists():
        return
    pid = int(CONTROL_PLANE_PID.read_text())
    try:
        os.kill(pid, signal.SIGTERM)
        print(f"stopped the local control plane (pid {pid})")
    except ProcessLookupError:
        pass
    CONTROL_PLANE_PID.unlink()


def select_stack() -> None:
    stacks = json.loads(pulumi("stack", "ls", "--json", capture=True))
    if not any(stack["name"] == STACK for stack in stacks):
        pulumi("stack", "init", STACK, "--secrets-provider", "passphrase", capture=True)
    pulumi("stack", "select", STACK, capture=True)


def configure_stack() -> None:
    pulumi("config", "set", "inferencekey:baseUrl", BASE_URL, capture=True)
    pulumi("config", "set", "inferencekey:project", PROJECT, capture=True)


def sdk_token() -> str:
    # The token reaches Pulumi through INFERENCEKEY_SDK_TOKEN, as in a deploy pipeline: the
    # engine copies stack config into the dynamic provider's state, so config would put it
    # there (encrypted).
    token_file = STATE / "sdk.token"
    if not token_file.exists():
        token_file.write_text(local("token", "create", "--project", PROJECT))
        token_file.chmod(0o600)
        print("minted an ik_sdk_ token for the stack (kept in .state/sdk.token, passed as INFERENCEKEY_SDK_TOKEN)")
    return token_file.read_text().strip()


def runtime_key() -> str:
    key_file = STATE / "support-bot.key"
    if not key_file.exists():
        key_file.write_text(local("key", "create", "--project", PROJECT, "--workload", "support-bot"))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


def up() -> None:
    step("starting the local InferenceKey control plane")
    start_control_plane()

    step(f"preparing stack '{STACK}' (file backend in .state/pulumi)")
    select_stack()
    configure_stack()

    step("pulumi up")
    pulumi("up", "--yes", "--skip-preview")

    step("endpoints (pulumi stack output)")
    outputs = json.loads(pulumi("stack", "output", "--json", capture=True))
    for name, url in outputs.items():
        print(f"{name:24} {url}")

    step("runtime code calls the support bot with its own ik_live_ key")
    env = {**engine_env(), "INFERENCEKEY_API_KEY": runtime_key()}
    subprocess.run([sys.executable, str(ROOT / "examples" / "runtime_app" / "app.py")], cwd=ROOT, env=env, check=True)


def destroy() -> None:
    # The control plane keeps its state on disk, so it can be started again to delete.
    step("starting the local InferenceKey control plane")
    start_control_plane()

    step("pulumi destroy")
    select_stack()
    pulumi("destroy", "--yes", "--skip-preview")

    stop_control_plane()


def main() -> int:
    action = sys.argv[1] if len(sys.argv) > 1 else "up"
    actions = {"up": up, "destroy": destroy}
    if action not in actions:
        raise SystemExit(f"unknown action {action!r}; use one of: {', '.join(actions)}")
    actions[action]()
    return 0


if __name__ == "__main__":
    sys.exit(main())
