"""Readiness timeline of a local workload, computed from its start time alone.

Because the phase is a function of the clock, it stays right across server restarts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

PHASES = ("scheduling", "provisioning", "bootstrapping", "ready")
TERMINAL_PHASES = frozenset({"ready", "error"})

# The local platform cannot load these models, so their workloads end in the error
# phase where bootstrapping would have finished. Tests use them to exercise failures.
FAILING_MODEL_MARKER = "does-not-exist"
FAILING_MODEL_PREFIX = "fail/"
LOAD_MODEL_STEP = "load_model"


@dataclass(frozen=True)
class PhaseEvent:
    """One step of a readiness timeline, ``offset`` seconds after readiness started."""

    index: int
    offset: float
    phase: str
    message: str
    step: str | None = None

    @property
    def is_terminal(self) -> bool:
        return self.phase in TERMINAL_PHASES

    def to_payload(self, elapsed_ms: int) -> dict[str, Any]:
        """Return the JSON object of one readiness SSE frame."""
        payload: dict[str, Any] = {"phase": self.phase, "message": self.message, "elapsed_ms": elapsed_ms}
        if self.step is not None:
            payload["step"] = self.step
        return payload


def model_fails_to_load(model_name: str) -> bool:
    """Tell whether the local platform rejects ``model_name`` at the bootstrapping step."""
    return FAILING_MODEL_MARKER in model_name or model_name.startswith(FAILING_MODEL_PREFIX)


def readiness_timeline(slug: str, backend: str, model_name: str, duration: float) -> list[PhaseEvent]:
    """Build the phases of a workload that reaches its last phase ``duration`` seconds after start.

    The three phases before the last one split ``duration`` in equal thirds. The last
    phase is ``ready``, or ``error`` for a model that ``model_fails_to_load``.
    """
    third = duration / 3
    events = [
        PhaseEvent(0, 0.0, "scheduling", f"looking for a worker to run workload '{slug}'"),
        PhaseEvent(1, third, "provisioning", f"provisioning a GPU for workload '{slug}'"),
        PhaseEvent(
            2, 2 * third, "bootstrapping", f"loading model '{model_name}' with backend '{backend}'", LOAD_MODEL_STEP
        ),
    ]
    if model_fails_to_load(model_name):
        message = (
            f"model '{model_name}' could not be loaded: the local control plane rejects model names "
            f"containing '{FAILING_MODEL_MARKER}' or starting with '{FAILING_MODEL_PREFIX}'"
        )
        events.append(PhaseEvent(3, duration, "error", message, LOAD_MODEL_STEP))
    else:
        events.append(PhaseEvent(3, duration, "ready", f"workload '{slug}' is ready to serve"))
    return events


def event_at(timeline: list[PhaseEvent], elapsed: float) -> PhaseEvent:
    """Return the latest event of ``timeline`` reached ``elapsed`` seconds after start."""
    reached = [event for event in timeline if event.offset <= elapsed]
    return reached[-1] if reached else timeline[0]
