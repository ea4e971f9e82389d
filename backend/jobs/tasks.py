"""Job kinds other than train/infer (build-index, project) and the worker code that runs them.

A concept that needs background work on a model's outputs registers a ``Task`` here (one line,
from its own module) and gets queuing, progress, cancel, retry and crash handling for free.
Its worker function receives a ``workers.context.JobContext`` whose ``input_dir`` is the
latest inference output of the model on the dataset.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from backend.algorithms.registry import empty_schema
from backend.errors import Invalid
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


_TASKS: dict[str, Task] = {}


def register_task(task: Task) -> Task:
    if task.kind not in KINDS or task.kind in ("train", "infer"):
        raise ValueError(f"a task kind is one of {KINDS[2:]}, got {task.kind!r}")
    _TASKS[task.kind] = task
    return task


def _load_builtins() -> None:
    # Each module that registers tasks, one line each (imported lazily: no cycle with jobs).
    import backend.explorer.tasks
    import backend.feature_report.tasks
    import backend.similarity.tasks  # noqa: F401


def list_tasks() -> list[Task]:
    _load_builtins()
    return sorted(_TASKS.values(), key=lambda t: t.kind)


def get_task(kind: str) -> Task:
    _load_builtins()
    task = _TASKS.get(kind)
    if task is None:
        raise Invalid(f"no worker runs '{kind}' jobs in this version")
    return task
