"""LocalControlPlane: the local platform in a background thread, with controls for tests."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from .app import create_app
from .backend import LocalBackend
from .context import DEFAULT_KEEP_ALIVE_INTERVAL, PlatformContext
from .faults import FaultInjector, FaultSettings
from .middleware import RecordedRequest
from .server import ServerThread, bind_socket, require_loopback


class LocalControlPlane:
    """A local InferenceKey platform serving both planes over HTTP on a loopback port.

    ``ready_after`` is how many seconds a new or redeployed workload takes to reach
    ``ready``. A workload whose model name contains ``does-not-exist`` or starts with
    ``fail/`` ends in the ``error`` phase instead. The fault options apply to every
    request of both planes, and ``seed`` makes them reproducible. Without ``state_path`` the state lives in a temporary
    SQLite file kept until this object is garbage collected. Use it as a context
    manager, or call ``start()`` and ``stop()``; a restart keeps the state and the port.
    """

    def __init__(
        self,
        ready_after: float = 0.0,
        latency: float = 0.0,
        error_rate: float = 0.0,
        drop_streams: bool = False,
        seed: int | None = None,
        state_path: str | Path | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        keep_alive_interval: float = DEFAULT_KEEP_ALIVE_INTERVAL,
    ) -> None:
        require_loopback(host)
        if state_path is None:
            self._state_dir: tempfile.TemporaryDirectory[str] | None = tempfile.TemporaryDirectory(prefix="inferencekey-local-")
            state_path = Path(self._state_dir.name) / "state.db"
        else:
            self._state_dir = None

        self.host = host
        self.port = port
        self.state_path = Path(state_path)
        self._initial_ready_after = ready_after
        self._initial_faults = FaultSettings(latency=latency, error_rate=error_rate, drop_streams=drop_streams, seed=seed)
        self._platform = PlatformContext(
            backend=LocalBackend(self.state_path, ready_after=ready_after),
            faults=FaultInjector(self._initial_faults),
            keep_alive_interval=keep_alive_interval,
        )
        self._server: ServerThread | None = None

    # --- lifecycle -----------------------------------------------------------------

    def start(self) -> "LocalControlPlane":
        """Start serving in a background thread and return once the port accepts connections."""
        if self._server is not None:
            raise RuntimeError(f"the local control plane is already running at {self.base_url}")
        sock = bind_socket(self.host, self.port)
        # Keeping the chosen port makes a restarted server reachable at the same base_url.
        self.port = sock.getsockname()[1]

        self._platform.stopping.clear()
        self._server = ServerThread(create_app(self._platform), sock)
        try:
            self._server.start()
        except BaseException:
            self._server = None
            raise
        return self

    def stop(self) -> None:
        """Stop serving, ending open streams; the state file stays for a later ``start()``."""
        if self._server is None:
            return
        self._platform.stopping.set()
        self._server.stop()
        self._server = None

    def __enter__(self) -> "LocalControlPlane":
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def endpoint_url(self, project: str, workload: str) -> str:
        """Return the OpenAI-compatible base URL of a workload's data plane."""
        return f"{self.base_url}/endpoint/{project}/{workload}/v1"

    # --- credentials ---------------------------------------------------------------

    def create_sdk_token(self, project: str, read_only: bool = False, *, scopes: list[str] | None = None) -> str:
        """Create an ik_sdk_ control-plane token for ``project``.

        By default the token has workload:write, assignment:write and workload:read.
        ``read_only`` keeps only workload:read, and ``scopes`` names the scopes exactly.
        """
        return self._platform.backend.create_sdk_token(project, read_only=read_only, scopes=scopes)

    def create_api_key(self, project: str, workloads: list[str] | None = None) -> str:
        """Create an ik_live_ key for the named workload slugs, or for the whole project when None."""
        return self._platform.backend.create_api_key(project, workloads=workloads)

    # --- inspection and control ----------------------------------------------------

    @property
    def requests(self) -> list[tuple[str, str]]:
        """Return ``(method, path)`` of every platform request since start or the last reset."""
        return [(entry.method, entry.path) for entry in self._platform.request_log.entries()]

    @property
    def request_bodies(self) -> list[RecordedRequest]:
        """Return every platform request since start or the last reset, with its parsed JSON body."""
        return self._platform.request_log.entries()

    def workloads(self, project: str) -> list[dict[str, Any]]:
        """Return the workloads of ``project`` as the API shows them, plus ``phase`` and ``phase_message``.

        Reads the state directly, so the call is not recorded in ``requests``.
        """
        now = time.time()
        result = []
        for workload in self._platform.backend.list_workloads(project):
            event = workload.readiness_at(now)
            result.append({**workload.to_json(), "phase": event.phase, "phase_message": event.message})
        return result

    @property
    def ready_after(self) -> float:
        """Readiness duration in seconds of workloads created or redeployed from now on."""
        return self._platform.backend.ready_after

    @ready_after.setter
    def ready_after(self, seconds: float) -> None:
        self._platform.backend.ready_after = seconds

    def set_faults(self, *, latency: float | None = None, error_rate: float | None = None, drop_streams: bool | None = None) -> None:
        """Change the injected faults of the running server; None leaves a setting as it is."""
        self._platform.faults.update(latency=latency, error_rate=error_rate, drop_streams=drop_streams)

    def reset(self) -> None:
        """Wipe workloads, credentials and the request log.

        Also restores ``ready_after`` and the faults given to the constructor, and
        restarts the random sequence from ``seed``, so each test starts alike.
        """
        self._platform.backend.reset()
        self._platform.request_log.clear()
        self._platform.backend.ready_after = self._initial_ready_after
        self._platform.faults.configure(self._initial_faults)
