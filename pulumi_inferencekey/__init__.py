"""Pulumi resources for InferenceKey workloads.

``Workload`` creates and keeps a workload in line with the program through the control
plane; ``get_workload`` looks one up read-only for stacks that consume it.
"""

from .lookup import WorkloadInfo, get_workload
from .workload import Workload, WorkloadArgs

__all__ = ["Workload", "WorkloadArgs", "WorkloadInfo", "get_workload"]
