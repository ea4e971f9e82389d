"""The feature report over GraphQL: read it, run it, and what to train next. Thin over
``backend.feature_report.service`` (as REST is)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from backend.api.graphql.context import context_of, use_session
from backend.api.graphql.inputs import json_object
from backend.api.graphql.jobs import Job
from backend.feature_report import service
from backend.jobs.runtime import enqueue_for


@strawberry.type(description="A class's share of its labeled items each score gets right.")
class ClassScore:
    label_id: int
    name: str
    count: int
    knn: float
    linear: float


@strawberry.type(description="One feature model's cross-validated scores (skipped: why it was not scored).")
class ModelScore:
    model_id: int
    name: str
    algorithm: str
    available: bool
    score: float | None
    knn_accuracy: float | None
    linear_accuracy: float | None
    knn_balanced: float | None
    linear_balanced: float | None
    dimensions: int | None
    per_class: list[ClassScore]
    skipped: str | None
    with_intensity: bool | None = strawberry.field(
        description="The scores are those of the vectors with the absolute-intensity descriptors appended."
    )
    intensity_in_vectors: bool | None = strawberry.field(
        description="The model's latest inference appended the descriptors already."
    )
    score_without_intensity: float | None
    score_with_intensity: float | None


@strawberry.type(description="Which feature model separates the current labels best (models best first).")
class FeatureReport:
    dataset_id: int
    job_id: int | None
    finished_at: datetime | None
    labeled_items: int
    folds: int
    best_model_id: int | None
    explanation: str
    models: list[ModelScore]
    notes: list[str]
    pending_job_id: int | None
    failed: str | None
    infer_intensity: str | None = strawberry.field(
        description="on/off: run the best model's inference with this intensityDescriptors option so its "
        "vectors are the variant the report chose; null: they are"
    )


@strawberry.type(description="What to train next on a dataset, and why.")
class TrainingSuggestion:
    algorithm: str | None
    reason: str
    untrained: list[str]
    run_report: bool


def _model_score(entry: dict[str, Any]) -> ModelScore:
    return ModelScore(
        model_id=entry["model_id"],
        name=entry["name"],
        algorithm=entry["algorithm"],
        available=bool(entry.get("available")),
        score=entry.get("score"),
        knn_accuracy=entry.get("knn_accuracy"),
        linear_accuracy=entry.get("linear_accuracy"),
        knn_balanced=entry.get("knn_balanced"),
        linear_balanced=entry.get("linear_balanced"),
        dimensions=entry.get("dimensions"),
        per_class=[ClassScore(**c) for c in entry.get("per_class", [])],
        skipped=entry.get("skipped"),
        with_intensity=entry.get("with_intensity"),
        intensity_in_vectors=entry.get("intensity_in_vectors"),
        score_without_intensity=entry.get("score_without_intensity"),
        score_with_intensity=entry.get("score_with_intensity"),
    )


@strawberry.type
class Query:
    @strawberry.field(description="The newest feature report of a dataset (NOT_FOUND: no such dataset).")
    async def feature_report(self, info: Info[Any, Any], dataset_id: int) -> FeatureReport:
        async with use_session(info) as session:
            r = await service.latest_report(session, dataset_id)
        return FeatureReport(
            dataset_id=r.dataset_id,
            job_id=r.job_id,
            finished_at=r.finished_at,
            labeled_items=r.labeled_items,
            folds=r.folds,
            best_model_id=r.best_model_id,
            explanation=r.explanation,
            models=[_model_score(m) for m in r.models],
            notes=list(r.notes),
            pending_job_id=r.pending_job_id,
            failed=r.failed,
            infer_intensity=r.infer_intensity,
        )

    @strawberry.field(description="The feature extractor to train first, then the report, then a classifier.")
    async def training_suggestion(self, info: Info[Any, Any], dataset_id: int) -> TrainingSuggestion:
        async with use_session(info) as session:
            s = await service.suggest_training(session, dataset_id)
        return TrainingSuggestion(
            algorithm=s.algorithm, reason=s.reason, untrained=s.untrained, run_report=s.run_report
        )


@strawberry.type
class Mutation:
    @strawberry.mutation(
        description="Queue a feature report on the current labels (INVALID: nothing to compare or "
        "too few labels)."
    )
    async def run_feature_report(
        self, info: Info[Any, Any], dataset_id: int, parameters: JSON | None = None
    ) -> Job:
        context = context_of(info)
        async with use_session(info) as session:
            job = await service.submit_report(
                session,
                context.settings,
                enqueue_for(context.state),
                dataset_id,
                json_object(parameters, "parameters"),
                submitted_by=context.tagger,
            )
        return Job.of(job)
