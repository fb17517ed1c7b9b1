"""A reusable module a platform team publishes: one typed catalogue, workloads per environment.

Teams describe their models once in a ``Catalogue``. Each stack (dev, prod, ...) picks its
environment; the module applies that environment's overrides and exports a map of endpoint
URLs keyed like the catalogue. Workload slugs read ``<environment>-<key>``, so environments
can share a project.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Mapping, Optional

import pulumi

from pulumi_inferencekey import Workload, WorkloadArgs


@dataclass(frozen=True)
class Override:
    """Per-environment changes to one workload; unset fields keep the catalogue's value."""

    model: Optional[str] = None
    execution_policy: Optional[str] = None
    execution_policy_config: Optional[Mapping[str, Any]] = None
    enabled: bool = True


@dataclass(frozen=True)
class Catalogue:
    """The workloads a platform offers, keyed by slug, and the overrides of each environment."""

    workloads: Mapping[str, WorkloadArgs]
    overrides: Mapping[str, Mapping[str, Override]] = field(default_factory=dict)

    def for_environment(self, environment: str) -> dict[str, WorkloadArgs]:
        """Return the workloads of one environment with its overrides applied."""
        unknown = set(self.overrides.get(environment, {})) - set(self.workloads)
        if unknown:
            raise ValueError(f"overrides for environment {environment!r} name unknown workloads: {sorted(unknown)}")

        chosen = {}
        for slug, args in self.workloads.items():
            override = self.overrides.get(environment, {}).get(slug, Override())
            if not override.enabled:
                continue
            changes = {key: value for key, value in vars(override).items() if key != "enabled" and value is not None}
            chosen[slug] = replace(args, slug=f"{environment}-{slug}", **changes)
        return chosen


class InferencePlatform(pulumi.ComponentResource):
    """The workloads of one environment, as children of one component."""

    endpoints: pulumi.Output[dict[str, str]]

    def __init__(self, name: str, catalogue: Catalogue, environment: str, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("inferencekey:platform:InferencePlatform", name, None, opts)

        self.workloads = {
            slug: Workload.from_args(f"{name}-{slug}", args, pulumi.ResourceOptions(parent=self))
            for slug, args in catalogue.for_environment(environment).items()
        }
        self.endpoints = pulumi.Output.all(
            **{slug: workload.endpoint_url for slug, workload in self.workloads.items()}
        )
        self.register_outputs({"endpoints": self.endpoints})
