"""Job kinds, states and the transitions between them (the state machine, in one place)."""

from __future__ import annotations

from backend.errors import Conflict

KINDS = ("train", "infer", "build-index", "project", "cluster", "feature-report")

QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELED = "queued", "running", "succeeded", "failed", "canceled"
STATES = (QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELED)
ACTIVE = (QUEUED, RUNNING)
FINISHED = (SUCCEEDED, FAILED, CANCELED)

# A running job goes back to queued only when its own server stops under it (it runs again later).
TRANSITIONS: dict[str, frozenset[str]] = {
    QUEUED: frozenset({RUNNING, CANCELED}),
    RUNNING: frozenset({SUCCEEDED, FAILED, CANCELED, QUEUED}),
    FAILED: frozenset({QUEUED}),
    CANCELED: frozenset({QUEUED}),
    SUCCEEDED: frozenset(),
}

# Model states follow their training job.
MODEL_TRAINING, MODEL_READY, MODEL_FAILED, MODEL_CANCELED = "training", "ready", "failed", "canceled"
MODEL_STATE_OF_JOB = {
    QUEUED: MODEL_TRAINING,
    RUNNING: MODEL_TRAINING,
    SUCCEEDED: MODEL_READY,
    FAILED: MODEL_FAILED,
    CANCELED: MODEL_CANCELED,
}


def can_move(current: str, new: str) -> bool:
    return new in TRANSITIONS.get(current, frozenset())


def require_move(job_id: int, current: str, new: str) -> None:
    """Raise ``Conflict`` naming both states when a transition is not allowed."""
    if not can_move(current, new):
        verb = {CANCELED: "cancel", QUEUED: "retry"}.get(new, f"move to {new}")
        raise Conflict(f"cannot {verb} job {job_id}: it is {current}", state=current)
