"""The feature report's read model, the defaults it sets, and the train page's suggestion.

The report scores each model with and without the absolute-intensity descriptors and keeps the
better variant (``with_intensity``); ``infer_intensity`` says which inference makes the best
model's vectors that variant, and ``submit_intensity_inference`` runs it, so the pages that default
to the best model use the better variant.

Every door (REST, GraphQL, pages, CLI) reads ``latest_report``; the similarity, probability and
explorer pages take ``default_model`` (None where no report exists: they keep their own default).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from backend.algorithms import list_algorithms
from backend.datasets.service import get_dataset
from backend.errors import Invalid
from backend.feature_report.sources import feature_candidates
from backend.jobs import states
from backend.jobs.enqueue import Enqueue
from backend.jobs.submission import submit_job
from backend.settings import Settings
from backend.storage.job_tables import Job, Model
from backend.storage.tables import CurrentLabel

KIND = "feature-report"


@dataclass
class FeatureReport:
    """The newest finished report of a dataset (and a newer one still queued or running, if any)."""

    dataset_id: int
    job_id: int | None = None
    finished_at: datetime | None = None
    labeled_items: int = 0
    folds: int = 0
    classes: list[dict[str, Any]] = field(default_factory=list)
    models: list[dict[str, Any]] = field(default_factory=list)  # best first; skipped ones last
    best_model_id: int | None = None
    explanation: str = "No feature report yet: label a few items of each class, then run one."
    notes: list[str] = field(default_factory=list)
    # the inference option ("on"/"off") that makes the best model's vectors the variant the report
    # chose (with or without the absolute-intensity descriptors); None: they are that variant
    infer_intensity: str | None = None
    pending_job_id: int | None = None
    failed: str | None = None  # the newest report job failed: why


async def latest_report(session: AsyncSession, dataset_id: int) -> FeatureReport:
    await get_dataset(session, dataset_id)
    report = FeatureReport(dataset_id=dataset_id)
    jobs = (
        await session.scalars(
            select(Job)
            .where(col(Job.dataset_id) == dataset_id, col(Job.kind) == KIND)
            .order_by(col(Job.id).desc())
            .limit(20)
            .execution_options(populate_existing=True)
        )
    ).all()
    for job in jobs:
        if job.state in states.ACTIVE and report.pending_job_id is None:
            report.pending_job_id = job.id
        elif job.state == states.FAILED and report.failed is None and report.job_id is None:
            report.failed = job.error
        elif job.state == states.SUCCEEDED:
            found = job.outputs.get("summary", {})
            report.job_id, report.finished_at = job.id, job.finished_at
            for name in ("labeled_items", "folds", "classes", "best_model_id", "explanation", "notes"):
                if name in found:
                    setattr(report, name, found[name])
            # where the vectors lie on the server is no reader's business
            report.models = [_model_entry(m) for m in found.get("models", [])]
            break
    if report.job_id is not None:
        await _drop_gone(session, report)
    return report


def _model_entry(found: dict[str, Any]) -> dict[str, Any]:
    """A model's entry as the doors show it: no server path, both intensity variants' scores."""
    entry = {k: v for k, v in found.items() if k != "dir"}
    variants = entry.get("intensity") or {}
    for name in ("with", "without"):
        if name in variants:
            entry[f"score_{name}_intensity"] = variants[name]["score"]
    return entry


def infer_intensity(best: dict[str, Any] | None) -> str | None:
    """ "on"/"off": run the model's inference so with that ``intensity_descriptors`` option and its
    vectors are the variant the report chose; None: they are already (or an older report)."""
    if not best or "with_intensity" not in best:
        return None
    if best["with_intensity"] and not best.get("intensity_in_vectors"):
        return "on"
    if not best["with_intensity"] and best.get("intensity_in_vectors"):
        return "off"
    return None


async def _drop_gone(session: AsyncSession, report: FeatureReport) -> None:
    """A model deleted since the report is no choice: the best is the next one still ready."""
    ids = [m["model_id"] for m in report.models]
    ready = set(
        await session.scalars(
            select(col(Model.id)).where(
                col(Model.id).in_(ids or [-1]), col(Model.state) == states.MODEL_READY
            )
        )
    )
    for entry in report.models:
        entry["available"] = entry["model_id"] in ready
    scored = [m for m in report.models if "score" in m and m["available"]]
    report.best_model_id = scored[0]["model_id"] if scored else None
    report.infer_intensity = infer_intensity(scored[0] if scored else None)


async def best_feature_model(session: AsyncSession, dataset_id: int) -> int | None:
    """The best-scoring feature model of the latest report (None: no report, or none left)."""
    return (await latest_report(session, dataset_id)).best_model_id


async def default_model(
    session: AsyncSession, dataset_id: int, models: list[Model], purpose: str
) -> int | None:
    """The model a page starts with, from the report: ``vectors`` (similarity, explorer) the best
    feature model; ``probabilities`` the newest classifier trained on its vectors. None: no such
    model among ``models`` (the page keeps its own default)."""
    best = await best_feature_model(session, dataset_id)
    if best is None:
        return None
    for model in models:  # newest first
        if purpose == "vectors" and model.id == best:
            return best
        learned_from = (model.trained_on.get("features") or {}).get("model_id")
        if purpose == "probabilities" and model.kind == "classifier" and learned_from == best:
            return model.id
    return None


@dataclass
class TrainSuggestion:
    """What the train page suggests training next, and why (one line)."""

    algorithm: str | None
    reason: str
    untrained: list[str]  # suggested feature extractors not trained on the dataset yet, best first
    run_report: bool = False


async def suggest_training(session: AsyncSession, dataset_id: int) -> TrainSuggestion:
    """No labels: the top-ranked (self-supervised) feature extractor, the others listed to compare;
    with labels and vectors, the report; with a report, a classifier on its best features."""
    await get_dataset(session, dataset_id)
    extractors = sorted(
        (a for a in list_algorithms("feature_extractor") if a.suggestion_rank > 0),
        key=lambda a: -a.suggestion_rank,
    )
    trained = set(
        await session.scalars(
            select(col(Model.algorithm)).where(
                col(Model.dataset_id) == dataset_id,
                col(Model.state).in_([states.MODEL_READY, states.MODEL_TRAINING]),
            )
        )
    )
    untrained = [a for a in extractors if a.key not in trained]
    labeled = int(
        await session.scalar(
            select(func.count(func.distinct(col(CurrentLabel.item_id)))).where(
                col(CurrentLabel.dataset_id) == dataset_id
            )
        )
        or 0
    )
    keys = [a.key for a in untrained]
    report = await latest_report(session, dataset_id)
    if report.best_model_id is not None and labeled:
        return TrainSuggestion(
            "vector_classifier", f"Train a classifier on feature vectors: {report.explanation}", keys
        )
    if labeled and await feature_candidates(session, dataset_id):
        return TrainSuggestion(
            None, "Run the feature report: it finds which features separate your labels best.", keys, True
        )
    if untrained:
        first = untrained[0]
        why = (
            "needs no labels" if labeled == 0 else "its vectors let similarity pages find more of each class"
        )
        return TrainSuggestion(first.key, f"Train {first.title} first: it {why}.", keys)
    return TrainSuggestion(None, "Label a few items of each class, then run the feature report.", keys)


async def submit_intensity_inference(
    session: AsyncSession,
    settings: Settings,
    enqueue: Enqueue | None,
    dataset_id: int,
    submitted_by: str = "",
) -> Job:
    """Run the best model's inference with the intensity option the report advises."""
    report = await latest_report(session, dataset_id)
    if report.best_model_id is None or report.infer_intensity is None:
        raise Invalid(
            "the feature report advises no inference: the best model's vectors are already the variant "
            "it chose (run the report again after new labels)"
        )
    return await submit_job(
        session,
        settings,
        enqueue,
        kind="infer",
        model_id=report.best_model_id,
        dataset_id=dataset_id,
        parameters={"intensity_descriptors": report.infer_intensity},
        submitted_by=submitted_by,
    )


async def submit_report(
    session: AsyncSession,
    settings: Settings,
    enqueue: Enqueue | None,
    dataset_id: int,
    parameters: dict[str, Any] | None = None,
    submitted_by: str = "",
) -> Job:
    """Queue a report; refused at once when there is nothing to compare or too few labels."""
    dataset = await get_dataset(session, dataset_id)
    if not await feature_candidates(session, dataset_id):
        raise Invalid(
            f"dataset '{dataset.name}' has no feature model with vectors: train a feature extractor "
            "and run its inference first"
        )
    rows = await session.execute(
        select(col(CurrentLabel.label_id), func.count())
        .where(col(CurrentLabel.dataset_id) == dataset_id)
        .group_by(col(CurrentLabel.label_id))
    )
    usable = [label for label, n in rows.all() if n >= 2]
    if len(usable) < 2:
        raise Invalid(
            f"the feature report needs two labeled items of each of at least two classes; dataset "
            f"'{dataset.name}' has {len(usable)} such class(es): label more first"
        )
    return await submit_job(
        session,
        settings,
        enqueue,
        kind=KIND,
        dataset_id=dataset_id,
        parameters=parameters,
        submitted_by=submitted_by,
    )
