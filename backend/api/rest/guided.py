"""REST: AI-guided labeling. Items ranked by similarity to query items, and labeled as a batch;
items above a classifier probability threshold, and labeled in one action. Thin over
``backend.guided.service``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import msgspec
from litestar import Controller, Request, get, post
from litestar.datastructures import State
from litestar.params import FromPath, JSONBody, QueryParameter

from backend.api.identity import tagger_for
from backend.api.rest.common import API_PREFIX, AppSettings, Session, error_responses, rest_struct
from backend.api.rest.schemas import EventOut
from backend.guided import service
from backend.guided.heldout import BatchEstimate
from backend.guided.views import (
    BatchFlagView,
    ProbabilityCandidateView,
    ProbabilityPageView,
    SimilarItemView,
    SimilarPageView,
)
from backend.similarity.ranking import MODES

if TYPE_CHECKING:  # handlers are checked against the read models themselves
    SimilarItemOut = SimilarItemView
    SimilarPageOut = SimilarPageView
    CandidateOut = ProbabilityCandidateView
    EstimateOut = BatchEstimate
    FlagOut = BatchFlagView
    ProbabilityPageOut = ProbabilityPageView
else:
    SimilarItemOut = rest_struct(SimilarItemView, "SimilarItemOut")
    SimilarPageOut = rest_struct(SimilarPageView, "SimilarPageOut")
    CandidateOut = rest_struct(ProbabilityCandidateView, "CandidateOut")
    EstimateOut = rest_struct(BatchEstimate, "EstimateOut")
    FlagOut = rest_struct(BatchFlagView, "FlagOut")
    ProbabilityPageOut = rest_struct(ProbabilityPageView, "ProbabilityPageOut")


class SimilarLabelIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The items accepted from a similarity page (the shown ones minus those deselected).

    ``shown``: how many items the page showed, no fewer than ``item_ids`` and at most the batch cap
    (20 times the server's max_page_size; 400 beyond). ``rejected_item_ids``: the shown items
    deselected; they are recorded as rejected for the class and left out of its later batches (GET
    .../rejections lists them)."""

    model_id: int
    query_item_ids: list[int]
    item_ids: list[int]
    label_id: int
    shown: int
    mode: str = "mean"
    seen_event_id: int | None = None  # the newest event when the page was read: items changed since are left
    # shown, deselected: "not this class"; null or absent: none (as GraphQL reads it)
    rejected_item_ids: list[int] | None = None


class ProbabilityApplyIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """One class (``label_id``) or ``all_classes`` (each item's arg-max class), never both.

    ``override_unfit``: use a model marked unfit anyway. ``confirm``: needed when the batch is
    over ``confirm_over`` items (default: the server's setting); ``expected_count``: the count
    the caller confirmed (refused if the batch changed). ``exclude_flagged``: leave out the items
    the guardrails flag. ``rejected_item_ids``: items of the batch deselected one by one by the
    caller: left out and recorded as rejected for their class (not offered in its later batches).
    ``left_out_item_ids``: items deselected in bulk ("Select none", a range): left out, not recorded.
    ``seen_event_id``: the preview's (``GET .../probability`` answers it): items changed after it
    are left out, counted in the event's ``skipped_changed`` (400 past the dataset's newest event)."""

    model_id: int
    threshold: float
    label_id: int | None = None
    all_classes: bool = False
    overwrite: bool = False
    override_unfit: bool = False
    confirm: bool = False
    expected_count: int | None = None
    exclude_flagged: bool = False
    confirm_over: int | None = None
    rejected_item_ids: list[int] | None = None  # null or absent: none (as GraphQL reads it)
    left_out_item_ids: list[int] | None = None  # out of the batch, no judgement; null: none
    seen_event_id: int | None = None  # the newest event the preview saw: items changed since are left


class ProbabilityAppliedOut(msgspec.Struct, kw_only=True):
    """The event recorded, or none when no item passed the threshold. ``left_out_not_in_batch``: how
    many ``left_out_item_ids`` the batch did not hold (nothing to leave out);
    ``rejected_not_in_batch``: how many ``rejected_item_ids`` it did not hold (no rejection recorded);
    ``skipped_changed``: how many items were changed after ``seen_event_id`` (by someone else, or in
    another tab) and were left out (as the event's parameters say)."""

    labeled: int
    left_out_not_in_batch: int
    rejected_not_in_batch: int
    skipped_changed: int
    event: EventOut | None


class GuidedController(Controller):
    path = f"{API_PREFIX}/datasets"
    tags = ["guided labeling"]

    @get(
        "/{dataset_id:int}/similar",
        summary="Items ranked by cosine similarity to one or several query items, paged",
        responses=error_responses(400, 404),
    )
    async def similar(
        self,
        state: State,
        session: Session,
        settings: AppSettings,
        dataset_id: FromPath[int],
        model_id: Annotated[int, QueryParameter(description="a model whose inference wrote feature vectors")],
        item_id: Annotated[list[int], QueryParameter(description="query item id(s); repeat for several")],
        mode: Annotated[
            str, QueryParameter(description=f"several queries: {' or '.join(MODES)} (mean vector / merged)")
        ] = "mean",
        exclude_labeled: Annotated[
            bool,
            QueryParameter(description="leave out labeled items; the query items are kept, labeled or not"),
        ] = False,
        offset: Annotated[int, QueryParameter(ge=0)] = 0,
        limit: Annotated[int, QueryParameter(ge=1, description="capped by the server's max_page_size")] = 48,
        ef: Annotated[
            int | None, QueryParameter(description="hnswlib query ef (default: the index's)")
        ] = None,
        exclude_item_id: Annotated[
            list[int] | None,
            QueryParameter(description="items already decided on (labeled or rejected): left out; repeat"),
        ] = None,
        label_id: Annotated[
            int | None,
            QueryParameter(description="the class to label with: items rejected for it are left out"),
        ] = None,
    ) -> SimilarPageOut:
        """Needs an inference of the model on the dataset; large datasets also need a build-index job
        (the 404 says how to submit it)."""
        page = await service.similar_items(
            session,
            settings,
            service.index_cache(state),
            dataset_id=dataset_id,
            model_id=model_id,
            query_item_ids=item_id,
            mode=mode,
            exclude_labeled=exclude_labeled,
            offset=offset,
            limit=limit,
            ef=ef,
            exclude_item_ids=exclude_item_id,
            label_id=label_id,
        )
        return SimilarPageOut.of(page)

    @post(
        "/{dataset_id:int}/similar/label",
        summary="Label the accepted items of a similarity page as one event of kind 'similarity'",
        description="With seen_event_id, items changed after it are left out (counted in the event's "
        "skipped_changed); 409 when that leaves nothing. shown (how many items the page showed) is at most "
        "the batch cap, 20 times the server's max_page_size: 400 beyond.",
        status_code=201,
        responses=error_responses(400, 404, 409),
    )
    async def label_similar(
        self,
        request: Request,
        session: Session,
        settings: AppSettings,
        dataset_id: FromPath[int],
        data: JSONBody[SimilarLabelIn],
    ) -> EventOut:
        event = await service.label_similar(
            session,
            settings,
            dataset_id=dataset_id,
            model_id=data.model_id,
            query_item_ids=data.query_item_ids,
            item_ids=data.item_ids,
            label_id=data.label_id,
            shown=data.shown,
            mode=data.mode,
            tagger=tagger_for(request, settings),
            seen_event_id=data.seen_event_id,
            rejected_item_ids=data.rejected_item_ids,
        )
        return EventOut.of(event)

    @get(
        "/{dataset_id:int}/probability",
        summary="Items whose class probability is at or above a threshold, most probable first",
        responses=error_responses(400, 404),
    )
    async def probability(
        self,
        session: Session,
        settings: AppSettings,
        dataset_id: FromPath[int],
        model_id: Annotated[int, QueryParameter(description="a classifier model")],
        threshold: Annotated[float, QueryParameter(ge=0, le=1)],
        label_id: Annotated[
            int | None, QueryParameter(description="one class; none: every item's arg-max class")
        ] = None,
        overwrite: Annotated[bool, QueryParameter(description="count labeled items too")] = False,
        offset: Annotated[int, QueryParameter(ge=0)] = 0,
        limit: Annotated[int, QueryParameter(ge=1, description="capped by the server's max_page_size")] = 48,
        confirm_over: Annotated[
            int | None, QueryParameter(ge=0, description="batch size that needs a confirmation")
        ] = None,
    ) -> ProbabilityPageOut:
        """The preview of a batch: count, a page, the model's fitness, the expected precision and
        wrong labels (held-out items), and the guardrail flags."""
        page = await service.probability_candidates(
            session,
            settings,
            dataset_id=dataset_id,
            model_id=model_id,
            threshold=threshold,
            label_id=label_id,
            overwrite=overwrite,
            offset=offset,
            limit=limit,
            confirm_over=confirm_over,
        )
        return ProbabilityPageOut.of(page)

    @post(
        "/{dataset_id:int}/probability/apply",
        summary="Label every item at or above the threshold as one event of kind 'probability'",
        description="With seen_event_id (the preview's), items changed after it are left out (counted in "
        "skipped_changed and the event's parameters); 409 when that leaves nothing, 400 for one past the "
        "dataset's newest event.",
        status_code=201,
        responses=error_responses(400, 404, 409),
    )
    async def apply_probability(
        self,
        request: Request,
        session: Session,
        settings: AppSettings,
        dataset_id: FromPath[int],
        data: JSONBody[ProbabilityApplyIn],
    ) -> ProbabilityAppliedOut:
        """Labeled items keep their labels unless ``overwrite`` is true. 409 (nothing labeled) when
        the model is unfit without ``override_unfit``, the batch is over ``confirm_over`` without
        ``confirm``, or it no longer has ``expected_count`` items."""
        applied = await service.apply_probability(
            session,
            settings,
            dataset_id=dataset_id,
            model_id=data.model_id,
            threshold=data.threshold,
            label_id=data.label_id,
            all_classes=data.all_classes,
            overwrite=data.overwrite,
            tagger=tagger_for(request, settings),
            override_unfit=data.override_unfit,
            confirm=data.confirm,
            expected_count=data.expected_count,
            exclude_flagged=data.exclude_flagged,
            confirm_over=data.confirm_over,
            rejected_item_ids=data.rejected_item_ids,
            left_out_item_ids=data.left_out_item_ids,
            seen_event_id=data.seen_event_id,
        )
        event = applied.event
        return ProbabilityAppliedOut(
            labeled=event.tag_count if event else 0,
            left_out_not_in_batch=applied.left_out_not_in_batch,
            rejected_not_in_batch=applied.rejected_not_in_batch,
            skipped_changed=applied.skipped_changed,
            event=EventOut.of(event) if event else None,
        )


route_handlers = [GuidedController]
