"""A local InferenceKey platform for tests: control plane, readiness events and data plane over HTTP.

Start it in-process with ``LocalControlPlane`` or from a shell with ``inferencekey-local serve``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .control_plane import LocalControlPlane

__all__ = ["LocalControlPlane"]


def __getattr__(name: str) -> Any:
    # Loaded on first use, because the pytest plugin of this package is imported in
    # every test session, also where the server libraries of the 'local' extra are absent.
    if name == "LocalControlPlane":
        from .control_plane import LocalControlPlane

        return LocalControlPlane
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
