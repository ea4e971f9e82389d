"""Which feature models a dataset has vectors of, and which one a vector classifier learns from."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from backend.errors import Invalid
from backend.jobs import states
from backend.storage.job_tables import Job, Model

FEATURE_KIND = "feature_extractor"


async def _inferences(session: AsyncSession, dataset_id: int) -> dict[int, Job]:
    """Each model's newest succeeded inference on the dataset that wrote vectors, by model id."""
    rows = await session.scalars(
        select(Job)
        .where(
            col(Job.dataset_id) == dataset_id, col(Job.kind) == "infer", col(Job.state) == states.SUCCEEDED
        )
        .order_by(col(Job.id).desc())
    )
    newest: dict[int, Job] = {}
    for job in rows.all():
        if (
            job.model_id is not None
            and job.model_id not in newest
            and "vectors.npy" in job.outputs.get("files", [])
        ):
            newest[job.model_id] = job
    return newest


def _source(model: Model, job: Job) -> dict[str, Any]:
    return {
        "model_id": model.id,
        "name": model.name,
        "algorithm": model.algorithm,
        "inference_job": job.id,
        "dir": job.outputs["dir"],
    }


async def feature_candidates(session: AsyncSession, dataset_id: int) -> list[dict[str, Any]]:
    """Every ready feature extractor with vectors on the dataset, newest first.

    Classifiers are left out: their features were fitted to the labels the report scores with,
    so they would win by having seen the answers."""
    newest = await _inferences(session, dataset_id)
    models = await session.scalars(
        select(Model)
        .where(col(Model.kind) == FEATURE_KIND, col(Model.state) == states.MODEL_READY)
        .where(col(Model.id).in_(list(newest) or [-1]))
        .order_by(col(Model.id).desc())
    )
    return [_source(m, newest[m.id]) for m in models.all() if m.id is not None]


async def resolve_feature_source(
    session: AsyncSession, dataset_id: int, model_id: int, best: int | None, rank: Callable[[str], int]
) -> dict[str, Any]:
    """The vectors a vector classifier trains on: model ``model_id`` (0: ``best``, the feature
    report's choice, else the extractor with vectors the train page ranks first, newest first among
    equals: the queue's guess before labels say which features work, ``suggest_state``; the newest
    was a quick extractor trained for the report to compare, no better a guess) and its latest
    inference. ``rank``: the train page's rank of an algorithm (``backend.algorithms.suggestion_rank``,
    passed in: the report's task imports this module, and the registries import no task back)."""
    newest = await _inferences(session, dataset_id)
    how = "given"
    if not model_id:
        candidates = await feature_candidates(session, dataset_id)
        ids = [c["model_id"] for c in candidates]
        if best in ids:
            model_id, how = int(best), "feature report"  # type: ignore[arg-type]
        elif ids:
            first = sorted(candidates, key=lambda c: -rank(c["algorithm"]))[0]  # stable: newest first
            model_id, how = int(first["model_id"]), "the train page's first choice (no feature report yet)"
        else:
            raise Invalid(
                f"dataset {dataset_id} has no feature model with vectors: train a feature extractor "
                "and run its inference first",
                field="feature_model",
            )
    model = await session.get(Model, model_id, populate_existing=True)
    why = f"cannot learn from the vectors of model {model_id}"
    if model is None:
        raise Invalid(f"{why}: it does not exist", field="feature_model")
    if model.state != states.MODEL_READY:
        raise Invalid(f"{why}: it is {model.state}, not ready", field="feature_model")
    if model.id not in newest:
        raise Invalid(
            f"{why}: it has no finished inference with vectors on dataset {dataset_id}; run it first",
            field="feature_model",
        )
    return {**_source(model, newest[model_id]), "chosen_by": how}
