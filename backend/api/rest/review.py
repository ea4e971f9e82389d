"""REST: trust in batches. Guardrail flags of any batch (similarity, probability, explorer), the
suspected wrong labels of a dataset with their scores, and the review of one suspect (keep or
relabel: a ``review`` event). Thin over ``backend.guided.trust``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import msgspec
from litestar import Controller, Request, get, post
from litestar.params import FromPath, JSONBody, QueryParameter

from backend.api.identity import tagger_for
from backend.api.rest import guided  # noqa: F401  (its FlagOut is the struct of BatchFlagsOut.flags)
from backend.api.rest.common import API_PREFIX, AppSettings, Session, error_responses, from_view, rest_struct
from backend.api.rest.schemas import EventOut, FitnessOut
from backend.errors import Invalid
from backend.guided import trust
from backend.guided.review import Suspect
from backend.guided.views import BatchFlagsView


class BatchFlagsIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A batch: its items and the class it would give them (one ``label_id`` for all, or one
    per item in ``label_ids``; none: only the distance rule applies)."""

    model_id: int
    item_ids: list[int]
    label_id: int | None = None
    label_ids: list[int] | None = None


if TYPE_CHECKING:  # handlers are checked against the read models themselves
    BatchFlagsOut = BatchFlagsView
    SuspectOut = Suspect
else:
    BatchFlagsOut = rest_struct(BatchFlagsView, "BatchFlagsOut")
    SuspectOut = rest_struct(Suspect, "SuspectOut")


class SuspectPageOut(msgspec.Struct, kw_only=True):
    dataset_id: int
    model_id: int
    total: int
    offset: int
    limit: int
    sources: list[str]
    suspects: list[SuspectOut]
    fitness: FitnessOut | None = None  # the model's verdict (decision 0011): an unfit one's suspects mislead
    labeled_since_training: int = 0  # single labels set since the model's training: none of its suspects


class ReviewIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """``keep`` the current label or ``relabel`` with ``label_id``; ``model_id``: the model whose
    suspicion is answered (recorded with the event)."""

    item_id: int
    action: str
    label_id: int | None = None
    model_id: int | None = None


class ReviewController(Controller):
    path = f"{API_PREFIX}/datasets"
    tags = ["label review"]

    @post(
        "/{dataset_id:int}/batch-flags",
        summary="Guardrail flags of a batch: items far from its centroid or whose neighbours disagree",
        status_code=200,
        responses=error_responses(400, 404),
    )
    async def batch_flags(
        self, session: Session, settings: AppSettings, dataset_id: FromPath[int], data: JSONBody[BatchFlagsIn]
    ) -> BatchFlagsOut:
        if data.label_id is not None and data.label_ids is not None:
            raise Invalid("give label_id (one class for all) or label_ids (one per item), not both")
        labels: list[int | None] = (
            list(data.label_ids) if data.label_ids is not None else [data.label_id] * len(data.item_ids)
        )
        flags = await trust.asked_batch_flags(
            session,
            settings,
            dataset_id=dataset_id,
            model_id=data.model_id,
            item_ids=data.item_ids,
            label_ids=labels,
        )
        return from_view(BatchFlagsOut, BatchFlagsView.of(flags))

    @get(
        "/{dataset_id:int}/label-suspects",
        summary="Suspected wrong labels, most suspect first, with their scores",
        responses=error_responses(400, 404),
    )
    async def label_suspects(
        self,
        session: Session,
        settings: AppSettings,
        dataset_id: FromPath[int],
        model_id: Annotated[int, QueryParameter(description="a classifier trained on this dataset")],
        offset: Annotated[int, QueryParameter(ge=0)] = 0,
        limit: Annotated[int, QueryParameter(ge=1, description="capped by the server's max_page_size")] = 48,
    ) -> SuspectPageOut:
        """Items reviewed since the model was trained are left out, and those labeled since its
        training (``labeled_since_training``: how many): the model judges only labels it trained on."""
        page = await trust.label_suspects(
            session, settings, dataset_id=dataset_id, model_id=model_id, offset=offset, limit=limit
        )
        return from_view(SuspectPageOut, page)

    @post(
        "/{dataset_id:int}/review",
        summary="Keep or relabel one suspected item: a tag event of kind 'review'",
        status_code=201,
        responses=error_responses(400, 404),
    )
    async def review(
        self,
        request: Request,
        session: Session,
        settings: AppSettings,
        dataset_id: FromPath[int],
        data: JSONBody[ReviewIn],
    ) -> EventOut:
        event = await trust.review_label(
            session,
            dataset_id=dataset_id,
            model_id=data.model_id,
            item_id=data.item_id,
            action=data.action,
            label_id=data.label_id,
            tagger=tagger_for(request, settings),
        )
        return EventOut.of(event)


route_handlers = [ReviewController]
