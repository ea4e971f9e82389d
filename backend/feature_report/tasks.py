"""The "feature-report" job: scores every feature model of a dataset with its current labels.

A dataset task (no model): ``prepare`` hands the worker the labels as they stood when the job
was submitted, the classes, and every ready feature extractor with vectors on the dataset
(``spec.inputs``, the one the newest report chose marked ``in_use``); ``workers/feature_report.py``
does the scoring.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from backend.jobs.task_spec import Task

SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "folds": {
            "type": "integer",
            "title": "Folds",
            "description": "k of the stratified k-fold (a small class dealt round the folds).",
            "default": 5,
            "minimum": 2,
            "maximum": 20,
        },
        "neighbours": {
            "type": "integer",
            "title": "kNN neighbours",
            "description": "Neighbours (cosine, as similarity search ranks) that vote in the kNN score.",
            "default": 5,
            "minimum": 1,
            "maximum": 100,
        },
        "max_items": {
            "type": "integer",
            "title": "Most labeled items scored",
            "description": "A stratified sample of this many labeled items keeps big datasets fast.",
            "default": 5000,
            "minimum": 10,
            "maximum": 200000,
        },
        "seed": {"type": "integer", "title": "Seed", "default": 0, "minimum": 0},
    },
}


async def prepare(session: AsyncSession, job: Any, spec: Any) -> None:
    """Labels as of the job's submission, the classes, and the candidate feature models."""
    from backend.feature_report.report import latest_report
    from backend.feature_report.sources import feature_candidates
    from backend.labels.classes import list_classes
    from backend.labels.history import snapshot_labels

    labels = await snapshot_labels(session, job.dataset_id, {"labels_as_of": job.created_at.isoformat()})
    readable = {ref.item_id for ref in spec.items}
    spec.labels = {item: sorted(ids) for item, ids in labels.items() if ids and item in readable}
    spec.classes = [
        {"id": c.id, "name": c.name, "color": c.color} for c in await list_classes(session, job.dataset_id)
    ]
    spec.inputs = await feature_candidates(session, job.dataset_id)
    # the features in use now (the newest report's choice): another replaces them only on a clear lead
    in_use = (await latest_report(session, job.dataset_id)).best_model_id
    for source in spec.inputs:
        source["in_use"] = source["model_id"] == in_use


FEATURE_REPORT = Task(
    kind="feature-report",
    title="Feature report",
    entry_point="workers.feature_report:feature_report",
    schema=SCHEMA,
    on="dataset",
    prepare=prepare,
)
