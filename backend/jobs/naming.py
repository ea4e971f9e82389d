"""A job's name as people read it: what it runs. One function for the worker's first log line,
the pages, the CLI and the ``title`` of REST and GraphQL.

A task's ``algorithm`` is its model's (a UMAP projection of a PCA model's vectors has algorithm
"pca"), so "project pca" read as the method of that projection. A task on a model names its own
method, then the model: "project umap of model 5 (pca)".
"""

from __future__ import annotations

from typing import Any, Protocol


class NamedJob(Protocol):
    """What the name is made of: a job row, its read model, or a worker's ``JobSpec``."""

    @property
    def kind(self) -> str: ...
    @property
    def algorithm(self) -> str: ...
    @property
    def model_id(self) -> int | None: ...
    @property
    def parameters(self) -> dict[str, Any]: ...


def job_method(job: NamedJob) -> str | None:
    """The method a task runs (``umap``, ``kmeans``), from its parameters; None where it has none."""
    method = (job.parameters or {}).get("method")
    return str(method) if method else None


def job_title(job: NamedJob) -> str:
    """``train pca``, ``infer pca``; ``project umap of model 5 (pca)``, ``build-index of model 5
    (pca)`` for a task on a model; ``feature-report`` for a dataset task (its algorithm is its
    kind: once is enough)."""
    if job.kind in ("train", "infer"):
        return f"{job.kind} {job.algorithm}"
    method = job_method(job)
    what = f"{job.kind} {method}" if method else job.kind
    if job.model_id is None:
        return what
    return f"{what} of model {job.model_id} ({job.algorithm})"
