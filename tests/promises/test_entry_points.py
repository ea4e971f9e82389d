"""Every registered algorithm and task names worker code that exists: the worker's own resolver
(``workers.runner.entry_function``) finds a function for each, without running it."""

from __future__ import annotations

import pytest

from backend.algorithms.registry import list_algorithms
from backend.jobs.tasks import list_tasks
from workers.runner import entry_function

ALGORITHMS = list_algorithms()
TASKS = list_tasks()


def test_the_builtins_are_all_registered():
    assert len(ALGORITHMS) >= 7 and len(TASKS) >= 3


@pytest.mark.parametrize("algorithm", ALGORITHMS, ids=lambda a: a.key)
def test_each_algorithm_entry_point_defines_train_and_infer(algorithm):
    for kind in ("train", "infer"):
        assert callable(entry_function(kind, algorithm.key)), f"{algorithm.entry_point} lacks {kind}(ctx)"


@pytest.mark.parametrize("task", TASKS, ids=lambda t: t.kind)
def test_each_task_entry_point_is_a_function(task):
    assert ":" in task.entry_point, f"task {task.kind!r}: {task.entry_point!r} is not 'module:function'"
    assert callable(entry_function(task.kind, "")), task.entry_point
