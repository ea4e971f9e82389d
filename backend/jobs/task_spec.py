"""What a task is: a job kind other than train/infer, the worker function that runs it, and its
parameter schema. A concept that needs background work defines one ``Task`` value in its own
module; ``backend.jobs.tasks`` lists them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from backend.algorithms.base import empty_schema
from backend.jobs.states import KINDS


@dataclass(frozen=True)
class Task:
    kind: str  # one of states.KINDS other than train / infer
    title: str
    entry_point: str  # "package.module:function", called with the JobContext
    schema: dict[str, Any] = field(default_factory=empty_schema)
    # "model": runs on a model's latest inference (a model id is required); "dataset": on a dataset
    # as a whole (no model; ``prepare`` gathers its inputs).
    on: str = "model"
    # Called by the worker's ``load_job_spec`` as ``prepare(session, job, spec)`` to fill in what
    # the task reads (labels, classes, ``spec.inputs``) from the database.
    prepare: Callable[..., Awaitable[None]] | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS or self.kind in ("train", "infer"):
            raise ValueError(f"a task kind is one of {KINDS[2:]}, got {self.kind!r}")
