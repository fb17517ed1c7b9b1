"""A uvicorn server on a loopback socket, run in a background thread for tests."""

from __future__ import annotations

import ipaddress
import logging
import socket
import threading
import time

import uvicorn
from starlette.types import ASGIApp

logger = logging.getLogger("pulumi_inferencekey.local")

STARTUP_TIMEOUT_SECONDS = 10.0
# Maximum wait in seconds for open connections to close once the server stops.
SHUTDOWN_TIMEOUT_SECONDS = 5.0


def require_loopback(host: str) -> None:
    """Raise ValueError unless ``host`` is a loopback address or ``localhost``."""
    if host == "localhost":
        return
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ValueError(f"the local control plane serves only on loopback addresses such as 127.0.0.1 or ::1, got '{host}'")


def bind_socket(host: str, port: int) -> socket.socket:
    """Return a listening-ready TCP socket bound to ``host:port``; port 0 picks a free port."""
    require_loopback(host)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # asyncio sets TCP_NODELAY on accepted connections only when the listening socket
    # names IPPROTO_TCP; without it, each keep-alive request waits ~40 ms for a delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    # Lets a restarted server take its old port back while closed connections linger in TIME_WAIT.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def uvicorn_config(app: ASGIApp, **options: object) -> uvicorn.Config:
    """Return a uvicorn configuration that leaves logging to the ``pulumi_inferencekey.local`` logger."""
    return uvicorn.Config(
        app,
        log_config=None,
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=SHUTDOWN_TIMEOUT_SECONDS,
        **options,  # type: ignore[arg-type]
    )


class ServerThread:
    """Run ``app`` with uvicorn in a daemon thread on an already bound socket."""

    def __init__(self, app: ASGIApp, sock: socket.socket) -> None:
        self._sock = sock
        self._server = uvicorn.Server(uvicorn_config(app))
        self._thread = threading.Thread(target=self._run, name="inferencekey-local", daemon=True)
        self._error: BaseException | None = None
        host, port = sock.getsockname()[:2]
        self.address: tuple[str, int] = (host, port)

    def start(self) -> None:
        """Start serving and return once the server accepts connections."""
        self._thread.start()
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while not self._server.started:
            if self._error is not None or not self._thread.is_alive():
                raise RuntimeError("the local control plane failed to start") from self._error
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError(f"the local control plane did not start within {STARTUP_TIMEOUT_SECONDS:.0f}s")
            time.sleep(0.01)
        logger.info("local control plane listening on http://%s:%d", *self.address)

    def stop(self) -> None:
        """Ask the server to exit and wait for its thread."""
        self._server.should_exit = True
        self._thread.join(SHUTDOWN_TIMEOUT_SECONDS + 5.0)
        if self._thread.is_alive():
            logger.error("the local control plane thread did not stop within %.0fs", SHUTDOWN_TIMEOUT_SECONDS + 5.0)
        self._sock.close()
        logger.info("local control plane on http://%s:%d stopped", *self.address)

    def _run(self) -> None:
        try:
            self._server.run(sockets=[self._sock])
        except BaseException as exc:  # reported to start() from this thread
            self._error = exc
            logger.error("the local control plane stopped with an error", exc_info=exc)
