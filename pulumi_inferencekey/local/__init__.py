"""A local InferenceKey platform for tests: control plane, readiness events and data plane over HTTP.

Start it in-process with ``LocalControlPlane`` or from a shell with ``inferencekey-local serve``.
"""

from .control_plane import LocalControlPlane

__all__ = ["LocalControlPlane"]
