"""The feature report's defaults, the train page's suggestion, and submitting report jobs.

The read side (``latest_report``, ``best_feature_model``) is in ``report``, which job submission imports.

The report scores each model with and without the absolute-intensity descriptors and keeps the
better variant (``with_intensity``); ``infer_intensity`` says which inference makes the best
model's vectors that variant, and ``submit_intensity_inference`` runs it, so the pages that default
to the best model use the better variant.

Every door (REST, GraphQL, pages, CLI) reads ``latest_report``; the similarity, probability and
explorer pages take ``default_model`` (None where no report exists: they keep their own default).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from backend.algorithms import list_algorithms, suggestion_rank
from backend.datasets.service import get_dataset
from backend.errors import Invalid
from backend.feature_report.report import KIND, best_feature_model, latest_report
from backend.feature_report.sources import feature_candidates
from backend.jobs import states
from backend.jobs.enqueue import Enqueue
from backend.jobs.submission import submit_job
from backend.settings import Settings
from backend.storage.job_tables import Job, Model
from backend.storage.tables import CurrentLabel


async def default_model(
    session: AsyncSession, dataset_id: int, models: list[Model], purpose: str
) -> int | None:
    """The model a page starts with, from the report: ``vectors`` (similarity, explorer) the best
    feature model; ``probabilities`` the newest classifier trained on its vectors. None: no such
    model among ``models`` (the page keeps its own default). Before a report, ``vectors`` is the
    feature extractor the train page ranks first, newest first among equals, as the queue guesses
    (``suggest_state``): a quick one trained later for the report to compare is no better a guess."""
    best = await best_feature_model(session, dataset_id)
    if best is None and purpose == "vectors":
        extractors = [m for m in models if m.kind == "feature_extractor"]  # newest first
        ranked = sorted(extractors, key=lambda m: -suggestion_rank(m.algorithm))  # stable
        return ranked[0].id if ranked else None
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
    form_default: str | None = None  # what the train form starts on (the suggestion, or what follows it)


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
            "vector_classifier",
            f"Train a classifier on feature vectors: {report.explanation}",
            keys,
            form_default="vector_classifier",
        )
    if labeled and await feature_candidates(session, dataset_id):
        # the form starts on what follows the report (it started on the first algorithm registered)
        return TrainSuggestion(
            None,
            "Run the feature report: it finds which features separate your labels best.",
            keys,
            True,
            form_default="vector_classifier",
        )
    if untrained:
        first = untrained[0]
        why = (
            "it needs no labels"
            if labeled == 0
            else "its vectors let similarity pages find more of each class"
        )
        return TrainSuggestion(first.key, f"Train {first.title} first: {why}.", keys, form_default=first.key)
    return TrainSuggestion(
        None,
        "Label a few items of each class, then run the feature report.",
        keys,
        form_default=extractors[0].key if extractors else None,
    )


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
