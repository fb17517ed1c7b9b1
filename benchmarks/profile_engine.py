"""Sample where CPU time goes during one engine operation on N workloads, in the program and the provider.

Needs py-spy (``pip install -e '.[bench]'``). Run ``python benchmarks/profile_engine.py --size 200 --operation up``.
"""

from __future__ import annotations

import argparse
import collections
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

if __package__ in (None, ""):
    # Run as a script: make the benchmarks package importable.
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.fleet import workload_fleet  # noqa: E402
from benchmarks.scenarios import ENGINE_OPERATIONS, Bench  # noqa: E402
from benchmarks.traffic import counted_control_plane  # noqa: E402

SAMPLES_PER_SECOND = 100
PROVIDER_MARKER = "-m pulumi.dynamic"
# Seconds to wait for py-spy to write its output once its process ends.
PY_SPY_EXIT_TIMEOUT = 60.0

# Inclusive buckets, first match wins: (label, function as py-spy names it).
PROGRAM_BUCKETS = (
    ("local control plane (server thread)", "ServerThread._run"),
    ("readiness waits", "ControlPlaneClient.wait_until_ready"),
    ("Pulumi SDK: waiting for pending outputs", "wait_for_rpcs"),
    ("Workload constructors", "Workload.__init__"),
    ("resource registration RPCs", "register_resource"),
    ("Automation API output and events", "_run_pulumi_cmd_sync"),
)
PROVIDER_BUCKETS = (
    ("create: list before POST", "ControlPlaneClient.find_workload"),
    ("create: POST", "ControlPlaneClient.create_workload"),
    ("read (refresh)", "WorkloadProvider.read"),
    ("delete", "WorkloadProvider.delete"),
    ("check", "WorkloadProvider.check"),
    ("diff", "WorkloadProvider.diff"),
    ("provider unpickling and configure", "get_provider"),
    ("gRPC and property (de)serialisation", "_unary_response_in_pool"),
    ("module imports at start", "_find_and_load"),
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=200, help="workloads in the stack (default: 200)")
    parser.add_argument("--operation", choices=list(ENGINE_OPERATIONS), default="up", help="engine operation to sample (default: up)")
    parser.add_argument("--raw-dir", type=Path, default=None, help="folder to keep py-spy's raw stacks in, for flame graphs")
    args = parser.parse_args(argv)
    py_spy = Path(sys.executable).parent / "py-spy"
    if not py_spy.exists():
        parser.error(f"py-spy is not installed next to {sys.executable}; install it with pip install -e '.[bench]'")

    with tempfile.TemporaryDirectory(prefix="inferencekey-profile-") as work_dir, counted_control_plane() as control_plane:
        bench = Bench(control_plane, Path(work_dir))
        stack = bench.stack("profiled", workload_fleet(args.size))
        if args.operation != "up":
            stack.up()

        recorder = Recorder(py_spy, Path(work_dir))
        recorder.start()
        sample = bench.timed(lambda: ENGINE_OPERATIONS[args.operation](stack))
        outputs = recorder.stop()
        if args.operation != "destroy":
            stack.destroy()

        print(f"{args.operation} of {args.size} workloads: {sample.seconds:.2f} s wall, {sample.traffic.reads} reads, "
              f"{sample.traffic.writes} writes, {sample.traffic.cpu_seconds:.2f} s of control-plane CPU")  # fmt: skip
        print(f"py-spy at {SAMPLES_PER_SECOND} Hz, samples of threads holding the GIL (Python CPU time)\n")
        report("program process (inline program, local control plane)", outputs.get("program"), PROGRAM_BUCKETS)
        report("dynamic provider process", outputs.get("provider"), PROVIDER_BUCKETS)
        if args.raw_dir is not None:
            args.raw_dir.mkdir(parents=True, exist_ok=True)
            for name, path in outputs.items():
                shutil.copy(path, args.raw_dir / f"{name}.txt")
    return 0


class Recorder:
    """py-spy attached to this process and to the engine's dynamic-provider process once it starts."""

    def __init__(self, py_spy: Path, out_dir: Path) -> None:
        self._py_spy = py_spy
        self._out_dir = out_dir
        self._stop = threading.Event()
        self._processes: dict[str, subprocess.Popen[bytes]] = {}
        self._watcher = threading.Thread(target=self._watch_provider, name="profile-watcher", daemon=True)

    def start(self) -> None:
        self._attach("program", os.getpid())
        self._watcher.start()

    def stop(self) -> dict[str, Path]:
        """Stop sampling and return the raw output file of each process that was sampled."""
        self._stop.set()
        self._watcher.join()
        # py-spy stops by itself when its target exits, and the provider exits at the end of
        # the engine run. The py-spy that samples this process needs SIGINT.
        self._processes["program"].send_signal(signal.SIGINT)
        for process in self._processes.values():
            process.wait(timeout=PY_SPY_EXIT_TIMEOUT)
        return {name: self._out_dir / f"{name}.txt" for name in self._processes}

    def _attach(self, name: str, pid: int) -> None:
        command = [str(self._py_spy), "record", "--pid", str(pid), "--rate", str(SAMPLES_PER_SECOND),
                   "--gil", "--nonblocking", "--format", "raw", "--output", str(self._out_dir / f"{name}.txt")]  # fmt: skip
        self._processes[name] = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def _watch_provider(self) -> None:
        while not self._stop.is_set() and "provider" not in self._processes:
            pid = _find_descendant(os.getpid(), PROVIDER_MARKER)
            if pid is not None:
                self._attach("provider", pid)
            time.sleep(0.02)


def _find_descendant(root: int, marker: str) -> int | None:
    """Return the pid of a process below ``root`` whose command line contains ``marker``."""
    children: dict[int, list[int]] = collections.defaultdict(list)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            # The parent pid is the second field after the parenthesised command name.
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children[parent].append(int(entry.name))

    pending = list(children[root])
    while pending:
        pid = pending.pop()
        try:
            command = (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            command = ""
        if marker in command:
            return pid
        pending.extend(children[pid])
    return None


def report(title: str, raw: Path | None, buckets: tuple[tuple[str, str], ...]) -> None:
    """Print the samples of one process per bucket, in seconds and as a share of the process's samples."""
    if raw is None or not raw.exists():
        print(f"{title}: no samples\n")
        return
    counts: collections.Counter[str] = collections.Counter()
    for line in raw.read_text().splitlines():
        stack, _, number = line.rpartition(" ")
        counts[_bucket_of(stack, buckets)] += int(number)

    total = sum(counts.values())
    print(f"{title}: {total / SAMPLES_PER_SECOND:.2f} s of samples")
    for label, count in counts.most_common():
        print(f"  {count / SAMPLES_PER_SECOND:7.2f} s  {100 * count / total:5.1f} %  {label}")
    print()


def _bucket_of(stack: str, buckets: tuple[tuple[str, str], ...]) -> str:
    # py-spy's raw format names each frame "function (file:line)", separated by semicolons.
    functions = {frame.split(" (", 1)[0] for frame in stack.split(";")}
    for label, function in buckets:
        if function in functions:
            return label
    return "other"


if __name__ == "__main__":
    sys.exit(main())
