"""Measure pulumi up, preview, refresh and destroy of InferenceKey workloads against the local control plane.

Run ``python benchmarks/run.py`` (7 minutes on 2 cores) or ``--quick`` (about 1); docs/performance.md explains the output.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):
    # Run as a script: make the benchmarks package importable.
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.machine import describe_machine, load_average  # noqa: E402
from benchmarks.scenarios import ReadinessResult, Row, fleet_bench, measure_readiness  # noqa: E402

# Option defaults of a full run and of --quick.
FULL_DEFAULTS = {"sizes": [1, 10, 50, 200], "repeats": 3, "readiness_size": 20, "ready_after": 10.0}
QUICK_DEFAULTS = {"sizes": [1, 10], "repeats": 1, "readiness_size": 8, "ready_after": 3.0}
# Target of the engine-floor ratio, checked at this fleet size.
TARGET_SIZE = 50
TARGET_RATIO = 1.5
# Target of the readiness test: up of N workloads that each take S seconds to become ready
# ends within S plus this many seconds.
READINESS_SLACK_SECONDS = 5.0
# The dynamic provider serves the engine from a gRPC thread pool of this many workers
# (pulumi/dynamic/__main__.py in the Pulumi Python SDK 3.272).
PROVIDER_THREADS = 4


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    print("\n".join(describe_machine()))
    print(f"sizes {args.sizes}, median of {args.repeats} run(s) each, workloads ready 0 s after create\n", flush=True)

    with tempfile.TemporaryDirectory(prefix="inferencekey-bench-") as work_dir:
        rows = fleet_bench(Path(work_dir) / "fleet", args.sizes, args.repeats)
        print_table(rows)
        print_checks(rows)
        print(flush=True)
        readiness = measure_readiness(Path(work_dir) / "readiness", args.readiness_size, args.ready_after)
        print_readiness(readiness)

    print(f"\ntotal benchmark time {time.perf_counter() - started:.0f} s; load average after the run: {load_average()}")
    return 0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=_sizes, default=None, help="comma-separated fleet sizes (default: 1,10,50,200)")
    parser.add_argument("--quick", action="store_true", help="sizes 1,10, one run each, a short readiness test")
    parser.add_argument("--repeats", type=int, default=None, help="runs per operation, the median is shown (default: 3, quick: 1)")
    parser.add_argument("--readiness-size", type=int, default=None, help="workloads in the readiness test (default: 20, quick: 8)")
    parser.add_argument("--ready-after", type=float, default=None, metavar="SECONDS",
                        help="readiness time of each workload in the readiness test (default: 10, quick: 3)")  # fmt: skip
    args = parser.parse_args(argv)

    defaults = QUICK_DEFAULTS if args.quick else FULL_DEFAULTS
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    if args.readiness_size < 2:
        parser.error("--readiness-size must be at least 2, because the readiness test makes two workloads fail")
    return args


def _sizes(text: str) -> list[int]:
    sizes = [int(part) for part in text.split(",") if part.strip()]
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"invalid sizes {text!r}: expected positive integers such as 1,10,50")
    return sizes


def print_table(rows: list[Row]) -> None:
    """Print one line per size and operation: times, engine-floor ratio and control-plane traffic."""
    header = ("N", "operation", "wall s", "floor s", "x floor", "wide s", "x wide", "lists", "streams", "writes", "KiB", "cp cpu s")
    lines = [header]
    for row in rows:
        lines.append((
            str(row.size),
            row.operation,
            f"{row.seconds:.2f}",
            _optional(row.floor_seconds),
            _optional(row.ratio),
            _optional(row.wide_floor_seconds),
            _optional(row.wide_ratio),
            f"{row.median_count('lists'):g}",
            f"{row.median_count('streams'):g}",
            f"{row.median_count('writes'):g}",
            f"{row.median_count('bytes') / 1024:.0f}",
            f"{row.median_count('cpu_seconds'):.2f}",
        ))  # fmt: skip
    widths = [max(len(line[column]) for line in lines) for column in range(len(header))]
    for index, line in enumerate(lines):
        cells = [cell.ljust(width) if column == 1 else cell.rjust(width) for column, (cell, width) in enumerate(zip(line, widths))]
        print("  ".join(cells))
        if index == 0:
            print("  ".join("-" * width for width in widths))
    print(
        "\nwall s: median wall time; floor s: the same operation on N Noop resources (one property each); "
        "wide s: on N Noop resources with the 22 properties of a Workload; lists, streams, writes: "
        "control-plane requests (list calls, readiness streams, POST/PATCH/DELETE); KiB: headers and bodies "
        "both ways; cp cpu s: CPU time of the local control plane's server thread"
    )


def _optional(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def print_checks(rows: list[Row]) -> None:
    """Print the targets: floor ratio at TARGET_SIZE, and the requests of preview and refresh at the largest size."""
    by_key = {(row.size, row.operation): row for row in rows}
    at_target = [row for row in rows if row.size == TARGET_SIZE and row.ratio is not None]
    if at_target:
        worst = max(at_target, key=lambda row: row.ratio or 0.0)
        verdict = "met" if (worst.ratio or 0.0) <= TARGET_RATIO else "MISSED"
        print(f"\nfloor ratio at N={TARGET_SIZE}: highest {worst.ratio:.2f}x ({worst.operation}); target <= {TARGET_RATIO}x {verdict}; "
              f"the same operation is {worst.wide_ratio:.2f}x the wide floor")  # fmt: skip

    largest = max(row.size for row in rows)
    preview, refreshed, refresh = (by_key[(largest, name)] for name in ("preview", "preview --refresh", "refresh"))
    print(f"preview of {largest} workloads: {preview.median_count('reads') + preview.median_count('writes'):g} requests (expected 0)")
    print(f"preview --refresh of {largest}: {refreshed.median_count('lists'):g} list calls, {refreshed.median_count('writes'):g} writes (expected 0 writes)")
    print(f"refresh of {largest}: {refresh.median_count('lists'):g} list calls, {refresh.median_count('writes'):g} writes (target about 1 list, never {largest})")


def print_readiness(result: ReadinessResult) -> None:
    """Print up times with readiness awaited in the program and in the provider, and the error check."""
    target = result.ready_after + READINESS_SLACK_SECONDS
    batches = -(-result.size // PROVIDER_THREADS)
    program, provider = result.program_wait, result.provider_wait
    print(f"readiness: pulumi up of {result.size} workloads, each ready {result.ready_after:g} s after its create")
    print(f"  waits in the program (Workload):       {program.seconds:6.1f} s  target <= {target:g} s "
          f"{'met' if program.seconds <= target else 'MISSED'}; {program.traffic.streams} readiness streams")  # fmt: skip
    print(f"  waits in the provider's create:        {provider.seconds:6.1f} s  "
          f"expected about ceil({result.size}/{PROVIDER_THREADS}) x {result.ready_after:g} s = {batches * result.ready_after:g} s")  # fmt: skip
    found = ", ".join(result.reported_slugs) or "none"
    complete = len(result.reported_slugs) == len(result.error_slugs) and result.error_text_found
    print(f"  {len(result.error_slugs)} of them failing to load: up failed after {result.error_seconds:.1f} s; "
          f"errors reported for {found}; readiness message shown: {'yes' if result.error_text_found else 'no'} "
          f"-> {'ok' if complete else 'ERRORS LOST'}")  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
