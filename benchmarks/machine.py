"""A description of the machine and software a benchmark ran on, for the header of its output."""

from __future__ import annotations

import os
import platform
from importlib import metadata
from pathlib import Path

from pulumi_inferencekey.automation import pulumi_command


def describe_machine() -> list[str]:
    """Return header lines: CPU, cores, memory, OS, Python, Pulumi CLI and package versions, load."""
    return [
        f"cpu: {cpu_model()}, {os.cpu_count()} logical cores, {memory_gib():.0f} GiB memory",
        f"os: {platform.system()} {platform.release()}; python {platform.python_version()}",
        f"pulumi cli {pulumi_command().version}; "
        + ", ".join(f"{name} {package_version(name)}" for name in ("pulumi", "inferencekey", "httpx", "uvicorn")),
        f"load average before the run: {load_average()}",
    ]


def cpu_model() -> str:
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return platform.processor() or "unknown CPU"
    names = [line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")]
    return names[0] if names else "unknown CPU"


def memory_gib() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024**2
    except OSError:
        pass
    return 0.0


def package_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def load_average() -> str:
    try:
        return " ".join(f"{value:.2f}" for value in os.getloadavg())
    except OSError:
        return "unknown"
