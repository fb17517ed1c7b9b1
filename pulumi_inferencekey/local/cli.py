"""The ``inferencekey-local`` command: serve the local platform and manage its credentials.

Credential and list commands work on the SQLite state file directly, so the server
need not run. A running server reads new credentials on its next request.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path
from typing import Any, Sequence

import uvicorn

from .app import create_app
from .backend import LocalBackend
from .context import DEFAULT_KEEP_ALIVE_INTERVAL, PlatformContext
from .faults import FaultInjector, FaultSettings
from .server import bind_socket, require_loopback, uvicorn_config

DEFAULT_STATE_PATH = Path(".state") / "inferencekey-local.db"
DEFAULT_PORT = 8470

logger = logging.getLogger("pulumi_inferencekey.local")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except ValueError as exc:
        parser.error(str(exc))
    return 2  # parser.error exits; this line satisfies type checkers


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="inferencekey-local", description="A local InferenceKey platform for tests.")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="serve both planes over HTTP on a loopback address")
    serve.add_argument("--host", default="127.0.0.1", help="loopback address to listen on (default: 127.0.0.1)")
    serve.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"TCP port; 0 picks a free one (default: {DEFAULT_PORT})")
    _add_state_option(serve)
    serve.add_argument("--ready-after", type=float, default=0.0, metavar="SECONDS",
                       help="seconds a new or redeployed workload takes to become ready (default: 0)")
    serve.add_argument("--latency", type=float, default=0.0, metavar="SECONDS", help="delay added to every request")
    serve.add_argument("--error-rate", type=float, default=0.0, metavar="FRACTION",
                       help="fraction of requests rejected with 429 or 503 before they take effect")
    serve.add_argument("--drop-streams", action="store_true", help="close some readiness streams before their last phase")
    serve.add_argument("--seed", type=int, default=None, help="seed of the fault decisions, for reproducible runs")
    serve.add_argument("--keep-alive", type=float, default=DEFAULT_KEEP_ALIVE_INTERVAL, metavar="SECONDS",
                       help=f"seconds between SSE keep-alive comments (default: {DEFAULT_KEEP_ALIVE_INTERVAL:g})")
    serve.set_defaults(run=_serve)  # fmt: skip

    token = commands.add_parser("token", help="manage ik_sdk_ control-plane tokens").add_subparsers(dest="action", required=True)
    token_create = token.add_parser("create", help="print a new ik_sdk_ token")
    token_create.add_argument("--project", required=True, help="project slug the token is scoped to")
    token_create.add_argument("--read-only", action="store_true", help="grant only workload:read")
    token_create.add_argument("--scope", action="append", dest="scopes", metavar="SCOPE",
                              help="grant this scope; repeat for several, instead of the default "
                                   "workload:write, assignment:write and workload:read")  # fmt: skip
    _add_state_option(token_create)
    token_create.set_defaults(run=_create_token)

    key = commands.add_parser("key", help="manage ik_live_ data-plane keys").add_subparsers(dest="action", required=True)
    key_create = key.add_parser("create", help="print a new ik_live_ key")
    key_create.add_argument("--project", required=True, help="project slug the key belongs to")
    key_create.add_argument("--workload", action="append", metavar="SLUG",
                            help="workload slug to grant; repeat for several (default: every workload, project/*)")
    _add_state_option(key_create)
    key_create.set_defaults(run=_create_key)  # fmt: skip

    listing = commands.add_parser("list", help="show workloads and their readiness phases")
    listing.add_argument("--project", help="show only this project's workloads")
    _add_state_option(listing)
    listing.set_defaults(run=_list_workloads)
    return parser


def _add_state_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--state", type=Path, default=DEFAULT_STATE_PATH,
                        help=f"SQLite state file, created if missing (default: {DEFAULT_STATE_PATH})")  # fmt: skip


def _serve(args: argparse.Namespace) -> int:
    require_loopback(args.host)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    faults = FaultSettings(latency=args.latency, error_rate=args.error_rate, drop_streams=args.drop_streams, seed=args.seed)
    platform = PlatformContext(
        backend=LocalBackend(args.state, ready_after=args.ready_after),
        faults=FaultInjector(faults),
        keep_alive_interval=args.keep_alive,
    )
    try:
        sock = bind_socket(args.host, args.port)
    except OSError as exc:
        raise ValueError(f"cannot listen on {args.host}:{args.port}: {exc.strerror}") from exc
    host, port = sock.getsockname()[:2]
    logger.info("serving on http://%s:%d with state %s", host, port, args.state)

    server = _StreamEndingServer(uvicorn_config(create_app(platform)), platform)
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:
        # uvicorn shuts down cleanly, then raises the captured SIGINT again.
        pass
    logger.info("stopped serving on http://%s:%d", host, port)
    return 0


class _StreamEndingServer(uvicorn.Server):
    # On Ctrl-C, open readiness streams end at once instead of holding the shutdown.
    def __init__(self, config: uvicorn.Config, platform: PlatformContext) -> None:
        super().__init__(config)
        self._platform = platform

    def handle_exit(self, sig: int, frame: Any) -> None:
        self._platform.stopping.set()
        super().handle_exit(sig, frame)


def _create_token(args: argparse.Namespace) -> int:
    print(LocalBackend(args.state).create_sdk_token(args.project, read_only=args.read_only, scopes=args.scopes))
    return 0


def _create_key(args: argparse.Namespace) -> int:
    print(LocalBackend(args.state).create_api_key(args.project, workloads=args.workload))
    return 0


def _list_workloads(args: argparse.Namespace) -> int:
    workloads = LocalBackend(args.state).list_workloads(args.project)
    if not workloads:
        print("no workloads")
        return 0

    now = time.time()
    rows = [("PROJECT", "SLUG", "TASK TYPE", "BACKEND", "MODEL", "PHASE")]
    for workload in workloads:
        phase = workload.readiness_at(now).phase
        rows.append((workload.project_slug, workload.slug, workload.task_type, workload.backend, workload.model_name, phase))
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
    return 0


if __name__ == "__main__":
    sys.exit(main())
