"""Client of the InferenceKey control plane: workloads, readiness events, retries and list caching."""

from ._client import DEFAULT_TIMEOUT, USER_AGENT, ControlPlaneClient, shared_client
from ._readiness import ReadinessEvent
from ._retry import RetryPolicy, parse_retry_after

__all__ = [
    "DEFAULT_TIMEOUT",
    "USER_AGENT",
    "ControlPlaneClient",
    "ReadinessEvent",
    "RetryPolicy",
    "parse_retry_after",
    "shared_client",
]
