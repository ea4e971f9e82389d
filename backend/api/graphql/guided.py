"""AI-guided labeling: similarity rankings and batches, probability thresholds. Thin over
``backend.guided.service`` (the same calls REST makes)."""

from __future__ import annotations

from enum import Enum
from typing import Any

import strawberry
from strawberry.types import Info

from backend.api.graphql.context import context_of, use_session
from backend.api.graphql.labels import TagEvent
from backend.api.graphql.paging import checked_page
from backend.api.graphql.review import BatchEstimate, BatchFlag, ModelFitness
from backend.api.graphql.views import from_view
from backend.guided import service
from backend.guided.views import ProbabilityPageView, SimilarPageView


@strawberry.enum(description="How several query items combine.")
class SimilarityMode(Enum):
    MEAN = "mean"  # one query: the mean of the query vectors
    UNION = "union"  # the neighbours of each query item merged, scored by the best similarity


@strawberry.type(description="An item and its cosine similarity to the query.")
class SimilarItem:
    item_id: int
    similarity: float


@strawberry.type(description="A page of a similarity ranking, best first.")
class SimilarPage:
    dataset_id: int
    model_id: int
    query_item_ids: list[int]
    mode: SimilarityMode
    exact: bool = strawberry.field(description="Exact search (small data) rather than the hnswlib index.")
    total: int = strawberry.field(description="Items in the whole ranking, after exclusions.")
    offset: int
    limit: int
    items: list[SimilarItem]

    @classmethod
    def of(cls, page: service.SimilarPage) -> SimilarPage:
        view = SimilarPageView.of(page)
        return from_view(cls, view, mode=SimilarityMode(view.mode))


@strawberry.type(description="An item whose class probability passes the threshold.")
class ProbabilityCandidate:
    item_id: int
    label_id: int
    probability: float


@strawberry.type(description="How many items pass a probability threshold, and a page of them.")
class ProbabilityPage:
    dataset_id: int
    model_id: int
    threshold: float
    label_id: int | None = strawberry.field(description="None: each item's arg-max class.")
    all_classes: bool = strawberry.field(description="Each item's arg-max class (no labelId).")
    overwrite: bool
    count: int = strawberry.field(description="How many items applying would label.")
    offset: int
    limit: int
    items: list[ProbabilityCandidate]
    fitness: ModelFitness | None = strawberry.field(description="The classifier's held-out verdict.")
    estimate: BatchEstimate | None = strawberry.field(description="Expected precision and wrong labels.")
    confirm_over: int = strawberry.field(description="Batches over this many items need confirm.")
    needs_confirmation: bool
    flags: list[BatchFlag] = strawberry.field(description="Guardrail flags of the page's items.")
    flag_rule: str
    flagged_count: int = strawberry.field(description="Flagged items in the whole batch.")
    seen_event_id: int = strawberry.field(
        description="The newest label event when this was read: pass it to applyProbability."
    )

    @classmethod
    def of(cls, page: service.ProbabilityPage) -> ProbabilityPage:
        return from_view(cls, ProbabilityPageView.of(page))


@strawberry.type(description="What a probability labeling did: the event, or none when no item passed.")
class ProbabilityApplied:
    labeled: int
    left_out_not_in_batch: int = strawberry.field(
        description="How many leftOutItemIds the batch did not hold (nothing to leave out)."
    )
    rejected_not_in_batch: int = strawberry.field(
        description="How many rejectedItemIds the batch did not hold (no rejection recorded)."
    )
    skipped_changed: int = strawberry.field(
        description=(
            "How many items were changed after seenEventId (by someone else, or in another tab) and were "
            "left out."
        )
    )
    event: TagEvent | None


@strawberry.type
class Query:
    @strawberry.field(
        description="Items ranked by cosine similarity to query items in a model's feature space (NOT_FOUND "
        "says when the model has no vectors or its index must be built first). excludeLabeled: labeled "
        "items are left out; the query items are kept, labeled or not. excludeItemIds: items "
        "already decided on (labeled or rejected on an earlier page), left out of the ranking. labelId: the "
        "class to label with: the items rejected for it are left out too."
    )
    async def similar_items(
        self,
        info: Info[Any, Any],
        dataset_id: int,
        model_id: int,
        item_ids: list[int],
        mode: SimilarityMode = SimilarityMode.MEAN,
        exclude_labeled: bool = False,
        offset: int = 0,
        limit: int = 48,
        ef: int | None = None,
        exclude_item_ids: list[int] | None = None,
        label_id: int | None = None,
    ) -> SimilarPage:
        offset, limit = checked_page(info, offset, limit)
        context = context_of(info)
        async with use_session(info) as session:
            page = await service.similar_items(
                session,
                context.settings,
                service.index_cache(context.state),
                dataset_id=dataset_id,
                model_id=model_id,
                query_item_ids=item_ids,
                mode=mode.value,
                exclude_labeled=exclude_labeled,
                offset=offset,
                limit=limit,
                ef=ef,
                exclude_item_ids=exclude_item_ids,
                label_id=label_id,
            )
        return SimilarPage.of(page)

    @strawberry.field(
        description="Unlabeled items (all with overwrite) whose probability for a class, or whose arg-max "
        "class probability without label_id, is at or above the threshold; most probable first."
    )
    async def probability_candidates(
        self,
        info: Info[Any, Any],
        dataset_id: int,
        model_id: int,
        threshold: float,
        label_id: int | None = None,
        overwrite: bool = False,
        offset: int = 0,
        limit: int = 48,
        confirm_over: int | None = None,
    ) -> ProbabilityPage:
        offset, limit = checked_page(info, offset, limit)
        async with use_session(info) as session:
            page = await service.probability_candidates(
                session,
                context_of(info).settings,
                dataset_id=dataset_id,
                model_id=model_id,
                threshold=threshold,
                label_id=label_id,
                overwrite=overwrite,
                offset=offset,
                limit=limit,
                confirm_over=confirm_over,
            )
        return ProbabilityPage.of(page)


@strawberry.type
class Mutation:
    @strawberry.mutation(
        description="Label the accepted items of a similarity page (shown minus deselected) as one event "
        "of kind 'similarity' recording the model, the query items and how many were shown. With "
        "seenEventId, items changed after it are left out (counted in the event's skipped_changed). "
        "rejectedItemIds: the shown items deselected, recorded as rejected for the class (kept out of "
        "its later batches; see rejections). shown: how many items the page showed, at most the batch cap "
        "(20 times the server's max_page_size; INVALID beyond)."
    )
    async def label_similar(
        self,
        info: Info[Any, Any],
        dataset_id: int,
        model_id: int,
        query_item_ids: list[int],
        item_ids: list[int],
        label_id: int,
        shown: int,
        mode: SimilarityMode = SimilarityMode.MEAN,
        seen_event_id: int | None = None,
        rejected_item_ids: list[int] | None = None,
    ) -> TagEvent:
        context = context_of(info)
        async with use_session(info) as session:
            event = await service.label_similar(
                session,
                context.settings,
                dataset_id=dataset_id,
                model_id=model_id,
                query_item_ids=query_item_ids,
                item_ids=item_ids,
                label_id=label_id,
                shown=shown,
                mode=mode.value,
                tagger=context.tagger,
                seen_event_id=seen_event_id,
                rejected_item_ids=rejected_item_ids,
            )
        return TagEvent.of(event)

    @strawberry.mutation(
        description="Label every item at or above the threshold as one event of kind 'probability': "
        "one class (label_id) or each item's arg-max class (all_classes). Labeled items are kept "
        "unless overwrite. CONFLICT (nothing labeled) for an unfit model without override_unfit, a "
        "batch over confirm_over items without confirm, or one that no longer has expected_count items. "
        "rejectedItemIds: items of the batch deselected one by one: left out and recorded as rejected "
        "for their class. leftOutItemIds: items deselected in bulk (Select none, a range): left out, "
        "not recorded. With seenEventId (the preview's), items changed after it are left out (counted in "
        "skippedChanged and the event's skipped_changed); INVALID past the dataset's newest event."
    )
    async def apply_probability(
        self,
        info: Info[Any, Any],
        dataset_id: int,
        model_id: int,
        threshold: float,
        label_id: int | None = None,
        all_classes: bool = False,
        overwrite: bool = False,
        override_unfit: bool = False,
        confirm: bool = False,
        expected_count: int | None = None,
        exclude_flagged: bool = False,
        confirm_over: int | None = None,
        rejected_item_ids: list[int] | None = None,
        left_out_item_ids: list[int] | None = None,
        seen_event_id: int | None = None,
    ) -> ProbabilityApplied:
        context = context_of(info)
        async with use_session(info) as session:
            applied = await service.apply_probability(
                session,
                context.settings,
                dataset_id=dataset_id,
                model_id=model_id,
                threshold=threshold,
                label_id=label_id,
                all_classes=all_classes,
                overwrite=overwrite,
                tagger=context.tagger,
                override_unfit=override_unfit,
                confirm=confirm,
                expected_count=expected_count,
                exclude_flagged=exclude_flagged,
                confirm_over=confirm_over,
                rejected_item_ids=rejected_item_ids,
                left_out_item_ids=left_out_item_ids,
                seen_event_id=seen_event_id,
            )
        event = applied.event
        return ProbabilityApplied(
            labeled=event.tag_count if event else 0,
            left_out_not_in_batch=applied.left_out_not_in_batch,
            rejected_not_in_batch=applied.rejected_not_in_batch,
            skipped_changed=applied.skipped_changed,
            event=TagEvent.of(event) if event else None,
        )
