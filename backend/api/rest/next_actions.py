"""REST: the next-best-action queue of a dataset, and accepting one of its suggestions. Thin over
``backend.guided.next_actions``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import msgspec
from litestar import Controller, Request, get, post
from litestar.datastructures import State
from litestar.params import FromPath, JSONBody, QueryParameter

from backend.api.access import caller_of
from backend.api.identity import tagger_for
from backend.api.rest import stopping  # noqa: F401  (its StoppingEstimateOut is NextActionsOut.stopping)
from backend.api.rest.common import API_PREFIX, AppSettings, Session, error_responses, rest_struct
from backend.api.rest.jobs import BROKER_DOWN
from backend.guided import next_actions as queue
from backend.guided.views import NextActionsView
from backend.jobs.runtime import enqueue_for

if TYPE_CHECKING:  # handlers are checked against the read models themselves
    SuggestionOut = queue.Suggestion
    NextActionsOut = NextActionsView
else:
    SuggestionOut = rest_struct(queue.Suggestion, "SuggestionOut")
    NextActionsOut = rest_struct(NextActionsView, "NextActionsOut")


class AcceptIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """``item_ids``: the items kept (a subset of the suggestion's; null: all of them);
    ``rejected_item_ids``: the items left out that are not of the class (a subset of the members
    not kept), recorded as rejected for it and kept out of its later batches; null: every member
    left out is (send the ones judged by hand, not those left out in bulk, as the guardrails'
    flagged items, nor a tail nobody looked at); ``label_id``: another class for the batch (null:
    the suggested one); ``parameters``: changes to a training suggestion's algorithm parameters
    (e.g. fewer epochs)."""

    key: str
    item_ids: list[int] | None = None
    rejected_item_ids: list[int] | None = None
    label_id: int | None = None
    parameters: dict[str, Any] | None = None


class AcceptOut(msgspec.Struct, kw_only=True):
    """Labels written (``batch_id``: their one event) or the jobs queued."""

    labeled: int
    job_ids: list[int]
    batch_id: int | None
    skipped: int

    @classmethod
    def of(cls, result: queue.AcceptResult) -> AcceptOut:
        return cls(
            labeled=result.labeled, job_ids=result.job_ids, batch_id=result.batch_id, skipped=result.skipped
        )


class NextActionsController(Controller):
    path = f"{API_PREFIX}/datasets"
    tags = ["guided labeling"]

    @get(
        "/{dataset_id:int}/next-actions",
        summary="What to do next on a dataset, ranked by expected labels per action",
        responses=error_responses(400, 404),
    )
    async def next_actions(
        self,
        session: Session,
        settings: AppSettings,
        dataset_id: FromPath[int],
        limit: Annotated[int, QueryParameter(ge=1, le=100)] = 10,
    ) -> NextActionsOut:
        """Probability and similarity batches (with their expected precision), items to label one by
        one (uncertain and diverse), a review of suspected wrong labels, and the jobs that are missing
        (train, infer, index, feature report, retrain). Never fails for lack of models or labels:
        ``needs`` says what is missing."""
        return NextActionsOut.of(await queue.next_actions(session, settings, dataset_id, limit=limit))

    @post(
        "/{dataset_id:int}/next-actions/accept",
        summary="Carry out a suggestion of the queue",
        description="A batch: its kept items labeled as one event naming its model (409 when any was "
        "labeled since the suggestion: ask again). A job: queued as a normal job (trainers; 409 while the "
        "same job is queued or running). keep_fresh: the dataset's keep-models-fresh switch turned on, "
        "and the retrain (and feature report) it makes due queued at once (trainers). "
        "label_items showing the classifier's class per item (params.predicted_label_ids), and "
        "predicted_batch (several classes' probability batches on one page, classes shown): the kept "
        "items (default: those still unlabeled) take the class shown, as one event naming the "
        "classifier (409 when its classes changed or a kept item was labeled since). Other "
        "label_items and review_suspects are done by labeling and reviewing (400).",
        status_code=201,
        responses={**error_responses(400, 403, 404, 409), **BROKER_DOWN},
    )
    async def accept(
        self,
        request: Request,
        state: State,
        session: Session,
        settings: AppSettings,
        dataset_id: FromPath[int],
        data: JSONBody[AcceptIn],
    ) -> AcceptOut:
        caller = caller_of(request)
        result = await queue.accept_suggestion(
            session,
            settings,
            dataset_id,
            data.key,
            item_ids=data.item_ids,
            rejected_item_ids=data.rejected_item_ids,
            label_id=data.label_id,
            tagger=tagger_for(request, settings),
            enqueue=enqueue_for(state),
            role=caller.role if caller is not None else None,
            parameters=data.parameters,
        )
        return AcceptOut.of(result)


route_handlers = [NextActionsController]
