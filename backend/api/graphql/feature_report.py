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
from backend.api.graphql.views import from_view
from backend.feature_report import report, service
from backend.feature_report.views import FeatureReportView
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
    form_default: str | None = strawberry.field(
        default=None,
        description=(
            "The algorithm to train next once the suggestion is done (the train page's form starts on it)"
        ),
    )


@strawberry.type
class Query:
    @strawberry.field(description="The newest feature report of a dataset (NOT_FOUND: no such dataset).")
    async def feature_report(self, info: Info[Any, Any], dataset_id: int) -> FeatureReport:
        async with use_session(info) as session:
            r = await report.latest_report(session, dataset_id)
        return from_view(FeatureReport, FeatureReportView.of(r))

    @strawberry.field(description="The feature extractor to train first, then the report, then a classifier.")
    async def training_suggestion(self, info: Info[Any, Any], dataset_id: int) -> TrainingSuggestion:
        async with use_session(info) as session:
            s = await service.suggest_training(session, dataset_id)
        return from_view(TrainingSuggestion, s)


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
            return await Job.now(info, session, job)
