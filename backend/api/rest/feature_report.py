"""REST: the feature report of a dataset (read, run) and the train page's suggestion."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
from litestar import Controller, Request, get, post
from litestar.datastructures import State
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_201_CREATED
from sqlalchemy.ext.asyncio import AsyncSession

from backend.accounts.roles import TRAINER
from backend.api.identity import tagger_for
from backend.api.rest.common import API_PREFIX, error_responses, from_view
from backend.api.rest.jobs import BROKER_DOWN, JobOut, job_now
from backend.feature_report import report, service
from backend.feature_report.views import FeatureReportView
from backend.jobs.runtime import enqueue_for
from backend.settings import Settings


# Declared here (the OpenAPI contract: which fields are required, the descriptions), filled from
# ``backend.feature_report.views`` by name.
class ClassScoreOut(msgspec.Struct, kw_only=True):
    label_id: int
    name: str
    count: int
    knn: float
    linear: float


class ModelScoreOut(msgspec.Struct, kw_only=True):
    """One feature model's cross-validated scores; ``skipped`` says why a model was not scored."""

    model_id: int
    name: str
    algorithm: str
    available: bool
    score: float | None = None
    knn_accuracy: float | None = None
    linear_accuracy: float | None = None
    knn_balanced: float | None = None
    linear_balanced: float | None = None
    dimensions: int | None = None
    per_class: list[ClassScoreOut] = msgspec.field(default_factory=list)
    skipped: str | None = None
    # scored without and with the absolute-intensity descriptors; the scores above are the chosen one's
    with_intensity: bool | None = None
    intensity_in_vectors: bool | None = None
    score_without_intensity: float | None = None
    score_with_intensity: float | None = None


class FeatureReportOut(msgspec.Struct, kw_only=True):
    """Which feature model separates the current labels best, and by how much (best first)."""

    dataset_id: int
    job_id: int | None
    finished_at: datetime | None
    labeled_items: int
    folds: int
    best_model_id: int | None
    explanation: str
    models: list[ModelScoreOut]
    notes: list[str]
    pending_job_id: int | None
    failed: str | None
    # "on"/"off": run the best model's inference with this ``intensity_descriptors`` option (POST
    # /jobs) so that its vectors are the variant the report chose; None: they are already
    infer_intensity: str | None = None


class TrainSuggestionOut(msgspec.Struct, kw_only=True):
    """What to train next on a dataset and why; ``untrained``: suggested extractors not yet trained."""

    algorithm: str | None
    reason: str
    untrained: list[str]
    run_report: bool
    # the algorithm to train next once the suggestion is done (where it names none, what follows
    # it: the train page's form starts on it)
    form_default: str | None = None


class RunReportIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    parameters: dict[str, Any] | None = None  # null or absent: the defaults (as GraphQL reads it)


class FeatureReportController(Controller):
    path = f"{API_PREFIX}/datasets/{{dataset_id:int}}"
    tags = ["features"]

    @get("/feature-report", summary="The newest feature report of a dataset", responses=error_responses(404))
    async def get_report(self, session: AsyncSession, dataset_id: FromPath[int]) -> FeatureReportOut:
        """Cross-validated kNN and linear-probe accuracy of every feature model with vectors, overall
        and per class, best first; ``best_model_id`` is what the pages default to."""
        return from_view(
            FeatureReportOut, FeatureReportView.of(await report.latest_report(session, dataset_id))
        )

    @post(
        "/feature-report",
        summary="Run the feature report on the current labels",
        status_code=HTTP_201_CREATED,
        responses={**error_responses(400, 404), **BROKER_DOWN},
        opt={"role": TRAINER},
    )
    async def run_report(
        self,
        request: Request,
        state: State,
        session: AsyncSession,
        settings: Settings,
        dataset_id: FromPath[int],
        data: JSONBody[RunReportIn | None] = None,
    ) -> JobOut:
        """Queue a feature-report job; refused (400) with nothing to compare or too few labels."""
        job = await service.submit_report(
            session,
            settings,
            enqueue_for(state),
            dataset_id,
            data.parameters if data else None,
            submitted_by=tagger_for(request, settings),
        )
        return await job_now(session, state, settings, job)

    @get("/training-suggestion", summary="What to train next", responses=error_responses(404))
    async def suggestion(self, session: AsyncSession, dataset_id: FromPath[int]) -> TrainSuggestionOut:
        """The feature extractor to train first (none labeled: the top-ranked self-supervised one),
        then the report, then a classifier on the best features."""
        return from_view(TrainSuggestionOut, await service.suggest_training(session, dataset_id))


route_handlers = [FeatureReportController]
