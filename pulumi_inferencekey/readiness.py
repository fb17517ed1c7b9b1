"""Waiting for workloads to become ready, in the Pulumi program rather than in the provider.

The Python dynamic provider serves the engine from four threads, so a create that blocked
until ready would make N workloads take about N/4 readiness times. The program instead
waits for every new or changed workload at once, after the provider has created it.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Optional

import pulumi
import pulumi.runtime

from .client import ReadinessEvent, shared_client
from .errors import InferenceKeyError
from .settings import BASE_URL_CONFIG, PROJECT_CONFIG, SDK_TOKEN_CONFIG, Settings, resolve_settings

if TYPE_CHECKING:
    from .workload import Workload

logger = logging.getLogger("pulumi_inferencekey.readiness")

# Each wait occupies a thread while it streams readiness events. Waits mostly block on
# the network, so many run at once; past this number they queue.
MAX_CONCURRENT_WAITS = 64
_executor: Optional[ThreadPoolExecutor] = None


def readiness_phase(workload: "Workload") -> pulumi.Output[Optional[str]]:
    """Return an Output of the workload's phase that resolves once it is ready.

    It resolves to None in previews and when ``wait_for_ready`` is false, and fails the
    deployment with the last phase and message when the workload errors or times out.
    """
    inputs = pulumi.Output.all(
        workload.wait_for_ready, workload.ready_timeout_seconds, workload.project_slug, workload.slug, workload.updated_at
    )
    return inputs.apply(lambda values: _wait(workload, *values[:4]))


async def _wait(workload: "Workload", wait: Any, timeout: Any, project: str, slug: str) -> Optional[str]:
    if pulumi.runtime.is_dry_run() or wait is False:
        return None

    loop = asyncio.get_running_loop()
    client = shared_client(program_settings(project))

    def report(event: ReadinessEvent) -> None:
        # Called from the waiting thread; Pulumi's log calls belong on the event loop.
        message = f"readiness of workload '{slug}': {event.phase}" + (f" ({event.message})" if event.message else "")
        loop.call_soon_threadsafe(pulumi.log.info, message, workload)

    wait_call = functools.partial(client.wait_until_ready, project, slug, timeout=float(timeout), on_event=report)
    try:
        event = await loop.run_in_executor(_readiness_executor(), wait_call)
    except InferenceKeyError as exc:
        # The workload exists and the state records it; the next `pulumi up` waits again.
        raise pulumi.RunError(str(exc)) from exc
    return event.phase


def program_settings(project: Optional[str]) -> Settings:
    """Resolve settings in the program: an explicit project, then the stack config, then the environment."""
    config = {key: pulumi.runtime.get_config(key) for key in (BASE_URL_CONFIG, PROJECT_CONFIG, SDK_TOKEN_CONFIG)}
    return resolve_settings(project=project, config={key: value for key, value in config.items() if value}, environ=os.environ)


def _readiness_executor() -> ThreadPoolExecutor:
    global _executor
    if _executor is None:
        _executor = ThreadPoolExecutor(max_workers=MAX_CONCURRENT_WAITS, thread_name_prefix="inferencekey-readiness")
    return _executor
