"""Run one Pulumi Python program for the language host: connect to the engine, then run the file.

Started by `language_host.py` in a child interpreter, so each run starts from a clean
module cache and a crash in the program cannot take the host down.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import runpy
import sys
import traceback
from concurrent.futures import ThreadPoolExecutor

import pulumi
import pulumi.runtime

EXIT_AFTER_REPORTED_ERROR = 32


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Run a Pulumi Python program")
    for option in ("monitor", "engine", "project", "stack", "organization", "root-directory", "parallel", "dry-run"):
        parser.add_argument(f"--{option}", default="")
    parser.add_argument("program")
    parser.add_argument("arguments", nargs="*")
    return parser.parse_args()


def configure_runtime(args: argparse.Namespace) -> pulumi.runtime.Settings:
    # PULUMI_CONFIG and PULUMI_CONFIG_SECRET_KEYS are set by the language host.
    pulumi.runtime.set_all_config(pulumi.runtime.get_config_env(), pulumi.runtime.get_config_secret_keys_env())

    settings = pulumi.runtime.Settings(
        monitor=args.monitor,
        engine=args.engine,
        project=args.project,
        stack=args.stack,
        parallel=int(args.parallel or 0),
        dry_run=args.dry_run == "true",
        organization=args.organization or None,
        root_directory=args.root_directory or None,
    )
    pulumi.runtime.configure(settings)
    return settings


def program_path(program: str) -> str:
    # The engine names the program directory; Python runs its __main__.py.
    path = os.path.abspath(program)
    if os.path.isdir(path):
        path = os.path.join(path, "__main__.py")
    return path


def run(args: argparse.Namespace) -> int:
    settings = configure_runtime(args)
    path = program_path(args.program)
    if not os.path.exists(path):
        pulumi.log.error(f"Python program not found: {path}; set `main` in Pulumi.yaml to the folder of __main__.py")
        return EXIT_AFTER_REPORTED_ERROR

    sys.argv = [path, *args.arguments]
    sys.path.insert(0, os.path.dirname(path))

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    # The SDK resolves outputs on the default executor; size it like Pulumi's own host.
    executor = ThreadPoolExecutor(max_workers=max(settings.parallel or 1, 1) * 4)
    loop.set_default_executor(executor)

    # Futures left unobserved when a program fails are expected; asyncio's warnings
    # about them would bury the real error.
    logging.getLogger("asyncio").setLevel(logging.CRITICAL)

    try:
        loop.run_until_complete(pulumi.runtime.run_in_stack(lambda: runpy.run_path(path, run_name="__main__")))
        return 0
    except pulumi.RunError as exc:
        pulumi.log.error(str(exc))
        return EXIT_AFTER_REPORTED_ERROR
    except Exception:  # noqa: BLE001 - every program failure is reported to the engine
        pulumi.log.error("Program failed with an unhandled exception:\n" + traceback.format_exc())
        return EXIT_AFTER_REPORTED_ERROR
    finally:
        executor.shutdown(wait=True)
        loop.close()
        sys.stdout.flush()
        sys.stderr.flush()


if __name__ == "__main__":
    sys.exit(run(parse_arguments()))
