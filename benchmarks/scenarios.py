"""Timed engine operations and official-SDK loops against a counted local control plane."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from inferencekey import ManagementClient, WorkloadSpec
from pulumi import automation as auto

from pulumi_inferencekey.automation import inline_stack

from .fleet import noop_fleet, provider_wait_fleet, wide_noop_fleet, workload_fleet, workload_spec
from .traffic import CountedControlPlane, Traffic, counted_control_plane

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PROJECT = "bench"
SDK_READY_TIMEOUT_SECONDS = 600.0

# Engine operations in the order each repeat runs them; the last one empties the stack.
ENGINE_OPERATIONS: dict[str, Callable[[auto.Stack], object]] = {
    "up": lambda stack: stack.up(),
    "up, no change": lambda stack: stack.up(),
    "preview": lambda stack: stack.preview(),
    "preview --refresh": lambda stack: stack.preview(refresh=True),
    "refresh": lambda stack: stack.refresh(),
    "destroy": lambda stack: stack.destroy(),
}
SDK_OPERATIONS = ("SDK ensure() loop", "SDK ensure() loop, no change", "SDK delete() loop")


@dataclass(frozen=True)
class Sample:
    """One timed action and the control-plane traffic it caused."""

    seconds: float
    traffic: Traffic


@dataclass
class Row:
    """All samples of one operation at one fleet size; the floors stay empty for SDK loops.

    ``floor`` contains the times of N Noop resources, ``wide_floor`` those of N WideNoop resources.
    """

    size: int
    operation: str
    samples: list[Sample] = field(default_factory=list)
    floor: list[float] = field(default_factory=list)
    wide_floor: list[float] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return statistics.median(sample.seconds for sample in self.samples)

    @property
    def floor_seconds(self) -> float | None:
        return statistics.median(self.floor) if self.floor else None

    @property
    def wide_floor_seconds(self) -> float | None:
        return statistics.median(self.wide_floor) if self.wide_floor else None

    @property
    def ratio(self) -> float | None:
        floor = self.floor_seconds
        return self.seconds / floor if floor else None

    @property
    def wide_ratio(self) -> float | None:
        floor = self.wide_floor_seconds
        return self.seconds / floor if floor else None

    def median_count(self, name: str) -> float:
        return statistics.median(getattr(sample.traffic, name) for sample in self.samples)


class Bench:
    """A counted control plane, an SDK token of its benchmark project and a folder for stack state."""

    def __init__(self, control_plane: CountedControlPlane, work_dir: Path) -> None:
        self.control_plane = control_plane
        self.work_dir = work_dir
        self.token = control_plane.platform.create_sdk_token(PROJECT)

    def stack(self, name: str, program: Callable[[], None]) -> auto.Stack:
        """Create a stack of an inline program, configured for the control plane with the token as a secret."""
        return inline_stack(
            "benchmarks",
            name,
            program,
            self.work_dir / name,
            config={"inferencekey:baseUrl": self.control_plane.platform.base_url, "inferencekey:project": PROJECT},
            secret_config={"inferencekey:sdkToken": self.token},
            # The dynamic-provider process imports benchmarks.fleet for ProviderWaitProvider.
            env={"PYTHONPATH": str(PROJECT_ROOT)},
        )

    def timed(self, action: Callable[[], object]) -> Sample:
        before = self.control_plane.traffic()
        started = time.perf_counter()
        action()
        seconds = time.perf_counter() - started
        return Sample(seconds, self.control_plane.traffic() - before)


def measure_fleet(bench: Bench, size: int, repeats: int) -> list[Row]:
    """Time every engine operation on ``size`` workloads and on both floors of that size, then the SDK loops."""
    workloads = bench.stack(f"workloads-{size}", workload_fleet(size))
    floor = bench.stack(f"floor-{size}", noop_fleet(size))
    wide_floor = bench.stack(f"wide-floor-{size}", wide_noop_fleet(size))
    rows = {operation: Row(size, operation) for operation in (*ENGINE_OPERATIONS, *SDK_OPERATIONS)}

    # Floor and workload runs alternate, so a slow spell on the machine hits them alike.
    for _ in range(repeats):
        for operation, run in ENGINE_OPERATIONS.items():
            rows[operation].floor.append(bench.timed(lambda: run(floor)).seconds)
            rows[operation].wide_floor.append(bench.timed(lambda: run(wide_floor)).seconds)
            rows[operation].samples.append(bench.timed(lambda: run(workloads)))
        for operation, sample in sdk_loops(bench, size).items():
            rows[operation].samples.append(sample)

    _remove_stacks(workloads, floor, wide_floor)
    return list(rows.values())


def sdk_loops(bench: Bench, size: int) -> dict[str, Sample]:
    """Reconcile ``size`` workloads with the official SDK as a script would, twice, then delete them."""
    client = ManagementClient(base_url=bench.control_plane.platform.base_url, sdk_token=bench.token, project=PROJECT)
    specs = [WorkloadSpec(name=f"sdk-{index}", slug=f"sdk-{index}", **workload_spec(index)) for index in range(size)]

    def reconcile() -> None:
        for spec in specs:
            endpoint = client.ensure(spec)
            client.wait_until_ready(endpoint.workload_slug, timeout=SDK_READY_TIMEOUT_SECONDS, silent=True)

    def delete() -> None:
        for spec in specs:
            client.delete(spec.slug)

    return {
        "SDK ensure() loop": bench.timed(reconcile),
        "SDK ensure() loop, no change": bench.timed(reconcile),
        "SDK delete() loop": bench.timed(delete),
    }


def warm_up(bench: Bench) -> None:
    """Run one resource of each kind through up and destroy, so that no timed run pays first-run costs."""
    for stack in (bench.stack("warm-up-workload", workload_fleet(1)), bench.stack("warm-up-floor", noop_fleet(1))):
        stack.up()
        stack.destroy()
        _remove_stacks(stack)


@dataclass(frozen=True)
class ReadinessResult:
    """``pulumi up`` of workloads that take ``ready_after`` seconds to become ready."""

    size: int
    ready_after: float
    program_wait: Sample
    provider_wait: Sample
    error_seconds: float
    error_slugs: tuple[str, ...]
    reported_slugs: tuple[str, ...]
    error_text_found: bool


def measure_readiness(work_dir: Path, size: int, ready_after: float) -> ReadinessResult:
    """Time ``up`` with waits in the program, with waits in the provider's create, and with failing workloads."""
    with counted_control_plane(ready_after=ready_after) as control_plane:
        bench = Bench(control_plane, work_dir)
        program_wait = _timed_up_and_destroy(bench, "readiness-in-program", workload_fleet(size))
        provider_wait = _timed_up_and_destroy(bench, "readiness-in-provider", provider_wait_fleet(size))

        failing = frozenset({1, size - 1})
        stack = bench.stack("readiness-errors", workload_fleet(size, failing))
        started = time.perf_counter()
        message = _error_of(stack.up)
        error_seconds = time.perf_counter() - started
        stack.destroy()
        _remove_stacks(stack)

    error_slugs = tuple(f"bench-{index}" for index in sorted(failing))
    return ReadinessResult(
        size=size,
        ready_after=ready_after,
        program_wait=program_wait,
        provider_wait=provider_wait,
        error_seconds=error_seconds,
        error_slugs=error_slugs,
        reported_slugs=tuple(slug for slug in error_slugs if f"'{slug}'" in message),
        error_text_found="could not be loaded" in message,
    )


def _timed_up_and_destroy(bench: Bench, name: str, program: Callable[[], None]) -> Sample:
    stack = bench.stack(name, program)
    sample = bench.timed(stack.up)
    stack.destroy()
    _remove_stacks(stack)
    return sample


def _error_of(action: Callable[[], Any]) -> str:
    """Run an action that must fail and return its error text; an empty string means it succeeded."""
    try:
        action()
    except auto.errors.CommandError as exc:
        return str(exc)
    return ""


def _remove_stacks(*stacks: auto.Stack) -> None:
    for stack in stacks:
        stack.workspace.remove_stack(stack.name)


def fleet_bench(work_dir: Path, sizes: list[int], repeats: int) -> list[Row]:
    """Measure every size against one local control plane whose workloads are ready at once."""
    rows: list[Row] = []
    with counted_control_plane(ready_after=0.0) as control_plane:
        bench = Bench(control_plane, work_dir)
        warm_up(bench)
        for size in sizes:
            rows.extend(measure_fleet(bench, size, repeats))
    return rows
