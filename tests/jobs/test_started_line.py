"""The first line a job logs says what runs on how many items: a task names its own method and
then the model (its algorithm is the model's), a dataset task its kind once."""

from __future__ import annotations

from typing import Any

import pytest

from backend.jobs.execution import JobSpec
from workers.runner import started


def _spec(kind: str, algorithm: str, parameters: dict[str, Any], model_id: int | None) -> JobSpec:
    return JobSpec(
        job_id=1, attempt=1, kind=kind, algorithm=algorithm, parameters=parameters, dataset_id=2,
        model_id=model_id, model_parameters={}, model_artifact=None, input_dir=None, output_rel="out",
        trained_on={}, items=[object()] * 30,  # type: ignore[list-item]
    )  # fmt: skip


@pytest.mark.parametrize(
    ("kind", "algorithm", "parameters", "model_id", "line"),
    [
        ("train", "pca", {"n_components": 4}, None, "train pca on 30 items"),
        ("infer", "pca", {}, 7, "infer pca on 30 items"),
        ("project", "pca", {"method": "umap"}, 7, "project umap of model 7 (pca) on 30 items"),
        ("cluster", "simclr", {"method": "kmeans"}, 7, "cluster kmeans of model 7 (simclr) on 30 items"),
        ("build-index", "pca", {"m": 16}, 7, "build-index of model 7 (pca) on 30 items"),
        ("feature-report", "feature-report", {"folds": 5}, None, "feature-report on 30 items"),
    ],
)
def test_the_started_line(kind, algorithm, parameters, model_id, line):
    assert started(_spec(kind, algorithm, parameters, model_id)) == line
