"""The next-best-action queue over GraphQL: read it, accept a suggestion. Thin over
``backend.guided.next_actions`` (the same calls REST makes)."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from backend.api.access import caller_of
from backend.api.graphql.context import context_of, use_session
from backend.api.graphql.fresh import StoppingEstimate
from backend.api.graphql.inputs import json_object
from backend.api.graphql.views import from_view
from backend.guided import next_actions as queue
from backend.guided.views import NextActionsView
from backend.jobs.runtime import enqueue_for


@strawberry.type(description="One concrete step; expectedLabels / expectedActions ranks the queue.")
class Suggestion:
    key: str = strawberry.field(description="Opaque: pass it to acceptSuggestion.")
    kind: str = strawberry.field(
        description="label_items, similarity_batch, probability_batch, predicted_batch, "
        "review_suspects, keep_fresh, retrain, train_extractor, run_inference, build_index, "
        "feature_report, auto_label_rest or add_classes."
    )
    title: str
    reason: str
    expected_labels: float
    expected_actions: float
    expected_precision: float | None
    item_ids: list[int]
    label_id: int | None
    model_id: int | None
    threshold: float | None
    params: JSON

    @classmethod
    def of(cls, s: queue.Suggestion) -> Suggestion:
        return from_view(cls, s)


@strawberry.type(description="What to do next on a dataset, best expected labels per action first.")
class NextActions:
    dataset_id: int
    suggestions: list[Suggestion]
    needs: list[str] = strawberry.field(description="What the queue needs before it can suggest more.")
    stopping: StoppingEstimate | None = strawberry.field(description="Where to stop: the stopping estimate.")
    running_job_ids: list[int] = strawberry.field(description="The dataset's jobs queued or running.")
    server_steps_due: bool = strawberry.field(
        description="The server is about to queue a step by itself (a chained step; keeping models "
        "fresh: a retrain or feature report that is due)."
    )


@strawberry.type(description="What accepting did: labels written as one event (batchId), or jobs queued.")
class AcceptResult:
    labeled: int
    job_ids: list[int]
    batch_id: int | None
    skipped: int


@strawberry.type
class Query:
    @strawberry.field(description="The next-best-action queue of a dataset (NOT_FOUND: no such dataset).")
    async def next_actions(self, info: Info[Any, Any], dataset_id: int, limit: int = 10) -> NextActions:
        async with use_session(info) as session:
            found = await queue.next_actions(session, context_of(info).settings, dataset_id, limit=limit)
        return from_view(NextActions, NextActionsView.of(found))


@strawberry.type
class Mutation:
    @strawberry.mutation(
        description="Carry out a suggestion: a batch (itemIds: the kept items, null: all; labelId: "
        "another class; rejectedItemIds: the items left out that are not of the class, recorded as "
        "rejected for it, a subset of the members not kept, null: every member left out) as one "
        "event naming its model, CONFLICT when any was labeled since the suggestion; a job queued "
        "as a normal job (trainers; CONFLICT while the same job is queued or running). label_items "
        "showing the classifier's classes (params.predicted_label_ids), and predicted_batch "
        "(several classes' probability batches on one page, classes shown): the kept items (null: "
        "those still unlabeled) take the class shown, as one event naming the classifier. INVALID "
        "for other label_items and for review_suspects. parameters: changes to a training "
        "suggestion's algorithm parameters (e.g. fewer epochs), checked like any job's; INVALID on "
        "any other suggestion."
    )
    async def accept_suggestion(
        self,
        info: Info[Any, Any],
        dataset_id: int,
        key: str,
        item_ids: list[int] | None = None,
        label_id: int | None = None,
        rejected_item_ids: list[int] | None = None,
        parameters: JSON | None = None,
    ) -> AcceptResult:
        context = context_of(info)
        caller = caller_of(context.request) if context.request is not None else None
        async with use_session(info) as session:
            result = await queue.accept_suggestion(
                session,
                context.settings,
                dataset_id,
                key,
                item_ids=item_ids,
                rejected_item_ids=rejected_item_ids,
                label_id=label_id,
                tagger=context.tagger,
                enqueue=enqueue_for(context.state),
                role=caller.role if caller is not None else None,
                parameters=json_object(parameters, "parameters"),
            )
        return AcceptResult(
            labeled=result.labeled, job_ids=result.job_ids, batch_id=result.batch_id, skipped=result.skipped
        )
