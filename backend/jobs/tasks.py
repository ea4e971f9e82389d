"""Job kinds other than train/infer (build-index, project, ...): the one list of them.

A concept that needs background work on a model's outputs defines a ``Task``
(``backend.jobs.task_spec``) in its own module and adds it to ``TASKS`` below; it then gets
queuing, progress, cancel, retry and crash handling for free. Its worker function receives a
``workers.context.JobContext`` whose ``input_dir`` is the latest inference output of the model on
the dataset. The concept modules import only ``task_spec``, never this list: no import circle.
"""

from __future__ import annotations

from backend.errors import Invalid
from backend.explorer.tasks import CLUSTER, PROJECT
from backend.feature_report.tasks import FEATURE_REPORT
from backend.jobs.task_spec import Task
from backend.similarity.tasks import BUILD_INDEX

__all__ = ["TASKS", "Task", "get_task", "list_tasks"]

TASKS: tuple[Task, ...] = (BUILD_INDEX, CLUSTER, FEATURE_REPORT, PROJECT)

_BY_KIND: dict[str, Task] = {task.kind: task for task in TASKS}
assert len(_BY_KIND) == len(TASKS), "two tasks share a kind"


def list_tasks() -> list[Task]:
    return sorted(TASKS, key=lambda t: t.kind)


def get_task(kind: str) -> Task:
    task = _BY_KIND.get(kind)
    if task is None:
        raise Invalid(f"no worker runs '{kind}' jobs in this version")
    return task
