"""A dynamic resource that does nothing, to measure the Pulumi engine's own cost.

The engine smoke test and the benchmarks compare the Workload resource against this floor:
the same engine and dynamic-provider round trips, with no control-plane request.
"""

from __future__ import annotations

import uuid
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ReadResult, Resource, ResourceProvider, UpdateResult


class NoopProvider(ResourceProvider):
    """Stores its inputs as outputs and serves every call without I/O."""

    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(id_=uuid.uuid4().hex, outs=props)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = [key for key in set(olds) | set(news) if key != "__provider" and olds.get(key) != news.get(key)]
        return DiffResult(changes=bool(changed), replaces=[])

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(outs=news)

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        return ReadResult(id_=id_, outs=props)


class Noop(Resource):
    """A resource with one input, ``value``, managed by NoopProvider."""

    value: pulumi.Output[str]

    def __init__(self, name: str, value: pulumi.Input[str], opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(NoopProvider(), name, {"value": value}, opts)
