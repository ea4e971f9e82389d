"""Keep models fresh, the next step of a job or model, and the stopping estimate. Thin over
``backend.jobs.fresh`` and ``backend.guided.stopping`` (the same calls REST makes)."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.types import Info

from backend.api.graphql.context import context_of, use_session
from backend.api.graphql.jobs import Job
from backend.api.graphql.labels import TagEvent
from backend.api.graphql.views import from_view
from backend.guided import stopping
from backend.guided.views import StoppingEstimateView
from backend.jobs import fresh, next_step
from backend.jobs import queries as job_queries
from backend.jobs.runtime import enqueue_for, ensure_running
from backend.models import queries as model_queries


@strawberry.type(description="Whether the server keeps a dataset's models fresh.")
class KeepFresh:
    dataset_id: int
    keep_models_fresh: bool
    growth: float = strawberry.field(description="Retrain a classifier once labels grew by this fraction.")
    since: str | None = strawberry.field(description="When it was switched on (ISO time).")


@strawberry.type(
    description="The next step of a job or model: one button ('post' runs it, 'get' opens a page)."
)
class NextStep:
    action: str
    title: str
    reason: str
    href: str
    method: str
    job_id: int | None


@strawberry.type(description="Projected accuracy with more labels.")
class MoreLabels:
    more_labels: int
    accuracy: float


@strawberry.type(description="A point of the learning curve: a classifier's labels and held-out accuracy.")
class CurvePoint:
    labeled: int
    accuracy: float


@strawberry.type(
    description="How many items are left and how well they would be auto-labeled at >= threshold."
)
class StoppingEstimate:
    unlabeled: int
    labeled: int
    model_id: int | None
    threshold: float
    auto_label_count: int
    expected_accuracy: float | None = strawberry.field(
        description="Calibrated on held-out labeled items (null: unknown)."
    )
    with_more_labels: list[MoreLabels]
    reason: str
    held_out_items: int
    exponent: float | None
    curve: list[CurvePoint]
    fitness: str | None
    seen_event_id: int = strawberry.field(
        description="Pass to autoLabelRest: CONFLICT if items changed since."
    )

    @classmethod
    def of(cls, e: stopping.StoppingEstimate) -> StoppingEstimate:
        return from_view(cls, StoppingEstimateView.of(e))


@strawberry.type(description="What auto-labeling the rest did: one event of kind 'probability'.")
class AutoLabeled:
    labeled: int
    threshold: float
    model_id: int
    expected_accuracy: float | None
    event: TagEvent


@strawberry.type
class Query:
    @strawberry.field(description="Whether the server keeps the dataset's models fresh.")
    async def keep_fresh(self, info: Info[Any, Any], dataset_id: int) -> KeepFresh:
        async with use_session(info) as session:
            return from_view(KeepFresh, await fresh.fresh_settings(session, dataset_id))

    @strawberry.field(
        description="The next step after a job (retry, follow its follow-up, its model's step)."
    )
    async def job_next_step(self, info: Info[Any, Any], job_id: int) -> NextStep:
        async with use_session(info) as session:
            job = await job_queries.get_job(session, job_id)
            step = await next_step.job_next_step(session, context_of(info).settings, job)
        return from_view(NextStep, step)

    @strawberry.field(description="The next step of a model (run inference, build the index, open a page).")
    async def model_next_step(self, info: Info[Any, Any], model_id: int) -> NextStep:
        async with use_session(info) as session:
            model = await model_queries.get_model(session, model_id)
            step = await next_step.model_next_step(session, context_of(info).settings, model)
        return from_view(NextStep, step)

    @strawberry.field(
        description="Unlabeled items left, the accuracy they would be auto-labeled at >= threshold now "
        "(calibrated on held-out labeled items), and projected with K more labels."
    )
    async def stopping_estimate(
        self,
        info: Info[Any, Any],
        dataset_id: int,
        threshold: float | None = None,
        model_id: int | None = None,
    ) -> StoppingEstimate:
        async with use_session(info) as session:
            estimate = await stopping.stopping_estimate(
                session, context_of(info).settings, dataset_id, threshold=threshold, model_id=model_id
            )
        return StoppingEstimate.of(estimate)


@strawberry.type
class Mutation:
    @strawberry.mutation(
        description="Switch keeping models fresh on or off; set the retrain growth fraction."
    )
    async def set_keep_fresh(
        self,
        info: Info[Any, Any],
        dataset_id: int,
        keep_models_fresh: bool | None = None,
        growth: float | None = None,
    ) -> KeepFresh:
        context = context_of(info)
        async with use_session(info) as session:
            value = await fresh.set_fresh(
                session, dataset_id, keep_models_fresh=keep_models_fresh, growth=growth
            )
        if value.keep_models_fresh:
            await ensure_running(context.state)
        return from_view(KeepFresh, value)

    @strawberry.mutation(
        description="Run a model's next step (infer, build-index, retrain or retry its training); "
        "CONFLICT when it is no longer `expected`."
    )
    async def run_next_step(self, info: Info[Any, Any], model_id: int, expected: str) -> Job:
        context = context_of(info)
        async with use_session(info) as session:
            job = await next_step.run_model_next_step(
                session,
                context.settings,
                enqueue_for(context.state),
                model_id,
                expected=expected,
                by=context.tagger,
            )
            return await Job.now(info, session, job)

    @strawberry.mutation(
        description="Label every unlabeled item whose top class probability is >= threshold with that "
        "class, as one revocable event. CONFLICT for an unfit model without overrideUnfit, or when the "
        "batch changed since the estimate (expectedCount, seenEventId)."
    )
    async def auto_label_rest(
        self,
        info: Info[Any, Any],
        dataset_id: int,
        model_id: int,
        threshold: float,
        expected_count: int | None = None,
        seen_event_id: int | None = None,
        override_unfit: bool = False,
    ) -> AutoLabeled:
        context = context_of(info)
        async with use_session(info) as session:
            result = await stopping.auto_label_rest(
                session,
                context.settings,
                dataset_id,
                model_id=model_id,
                threshold=threshold,
                tagger=context.tagger,
                override_unfit=override_unfit,
                expected_count=expected_count,
                seen_event_id=seen_event_id,
            )
        return AutoLabeled(
            labeled=result.labeled,
            threshold=result.threshold,
            model_id=result.model_id,
            expected_accuracy=result.expected_accuracy,
            event=TagEvent.of(result.event),
        )
