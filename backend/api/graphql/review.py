"""Trust in batches: a classifier's fitness, a batch's expected precision, guardrail flags of any
batch, suspected wrong labels and their review. Thin over ``backend.guided.trust`` (what REST
calls)."""

from __future__ import annotations

from enum import Enum
from typing import Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from backend.api.graphql.context import context_of, use_session
from backend.api.graphql.labels import TagEvent
from backend.api.graphql.paging import checked_page
from backend.api.graphql.views import from_view
from backend.guided import heldout, quality, trust
from backend.guided.views import BatchFlagsView


@strawberry.type(description="A classifier's held-out accuracy beside the majority-class baseline.")
class ModelFitness:
    status: str = strawberry.field(description="fit | unfit | unmeasured")
    accuracy: float | None
    baseline_accuracy: float | None
    baseline_class: str | None
    min_accuracy: float
    held_out_items: int
    split: str | None
    per_class_recall: JSON = strawberry.field(description="class name -> recall on held-out items")
    reason: str

    @classmethod
    def of(cls, f: quality.ModelFitness) -> ModelFitness:
        return from_view(cls, f)


@strawberry.type(description="Expected precision of a batch from labeled held-out items.")
class BatchEstimate:
    source: str | None = strawberry.field(description="oof.npz or validation.npz")
    support: int
    correct: int
    precision: float | None
    batch_size: int
    expected_wrong: int | None
    since_training: int = strawberry.field(
        description="of the support, items labeled after the model's training (its own scores of them)"
    )
    rejected: int = strawberry.field(
        default=0,
        description="of the support, unlabeled items a person left out of a batch of their predicted "
        "class (counted wrong)",
    )
    calibrated_precision: float | None = strawberry.field(
        default=None,
        description="what the next-actions queue would promise for these items: the mean over them of "
        "their class's Platt fit on held-out items, each weighed to the classes the model gives the "
        "unlabeled items (label shift); null: none known",
    )
    calibrated_expected_wrong: int | None = strawberry.field(
        default=None, description="batch size x (1 - calibratedPrecision)"
    )

    @classmethod
    def of(cls, e: heldout.BatchEstimate) -> BatchEstimate:
        return from_view(cls, e)


@strawberry.type(description="A batch item the guardrails flag, and why.")
class BatchFlag:
    item_id: int
    reasons: list[str]


@strawberry.type(description="Guardrail flags of a batch and the rule that made them.")
class BatchFlags:
    rule: str
    distance_limit: float | None
    flags: list[BatchFlag]


@strawberry.type(description="A suspected wrong label; score in [0, 1], higher = more suspect.")
class LabelSuspect:
    item_id: int
    label_id: int
    score: float
    confident_learning: float | None = strawberry.field(description="1 - held-out self-confidence")
    cleanlab_issue: bool
    neighbour_disagreement: float | None
    suggested_label_id: int | None


@strawberry.type(description="A page of suspected wrong labels, most suspect first.")
class LabelSuspectPage:
    dataset_id: int
    model_id: int
    total: int
    offset: int
    limit: int
    sources: list[str]
    suspects: list[LabelSuspect]
    fitness: ModelFitness | None = strawberry.field(
        default=None,
        description="the classifier's held-out verdict: an unfit one's suspects are mostly right labels",
    )
    labeled_since_training: int = strawberry.field(
        default=0,
        description="single-labeled items labeled or relabeled since the model's training: none of them "
        "is its suspect (it judges only labels it trained on); retraining judges them",
    )


@strawberry.enum(description="What a review does with a suspected label.")
class ReviewAction(Enum):
    KEEP = "keep"
    RELABEL = "relabel"


@strawberry.type
class Query:
    @strawberry.field(
        description="Guardrail flags of a batch (items far from its centroid, or whose labeled neighbours "
        "carry another class than label_id)."
    )
    async def batch_flags(
        self,
        info: Info[Any, Any],
        dataset_id: int,
        model_id: int,
        item_ids: list[int],
        label_id: int | None = None,
    ) -> BatchFlags:
        async with use_session(info) as session:
            found = await trust.asked_batch_flags(
                session,
                context_of(info).settings,
                dataset_id=dataset_id,
                model_id=model_id,
                item_ids=item_ids,
                label_ids=[label_id] * len(item_ids),
            )
        return from_view(BatchFlags, BatchFlagsView.of(found))

    @strawberry.field(description="Suspected wrong labels of a dataset by a classifier, most suspect first.")
    async def label_suspects(
        self, info: Info[Any, Any], dataset_id: int, model_id: int, offset: int = 0, limit: int = 48
    ) -> LabelSuspectPage:
        offset, limit = checked_page(info, offset, limit)
        async with use_session(info) as session:
            page = await trust.label_suspects(
                session,
                context_of(info).settings,
                dataset_id=dataset_id,
                model_id=model_id,
                offset=offset,
                limit=limit,
            )
        return from_view(LabelSuspectPage, page)


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Keep or relabel one suspected item: a tag event of kind 'review'.")
    async def review_label(
        self,
        info: Info[Any, Any],
        dataset_id: int,
        item_id: int,
        action: ReviewAction,
        label_id: int | None = None,
        model_id: int | None = None,
    ) -> TagEvent:
        context = context_of(info)
        async with use_session(info) as session:
            event = await trust.review_label(
                session,
                dataset_id=dataset_id,
                model_id=model_id,
                item_id=item_id,
                action=action.value,
                label_id=label_id,
                tagger=context.tagger,
            )
        return TagEvent.of(event)
