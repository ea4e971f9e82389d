"""The items people left out of batches ("not this class"), as a script reads them.
Thin over ``backend.labels.rejections``; batches record them (``rejected_item_ids``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec
from litestar import Controller, get
from litestar.params import FromPath, QueryParameter

from backend.api.rest.common import API_PREFIX, AppSettings, Session, error_responses, from_view
from backend.labels import rejections


class RejectionOut(msgspec.Struct, kw_only=True):
    item_id: int
    label_id: int  # the class the item is not
    event_id: int  # the batch that left it out
    tagger: str
    created_at: datetime


class RejectionsOut(msgspec.Struct, kw_only=True):
    total: int
    offset: int
    limit: int
    rejections: list[RejectionOut]


class RejectionsController(Controller):
    path = API_PREFIX
    tags = ["labels"]

    @get(
        "/datasets/{dataset_id:int}/rejections",
        summary="Items left out of a batch of a class: kept out of that class's later batches",
        description="Only the active ones: a later label of the item as that class, or an undo of the "
        "batch, clears a rejection. Newest first.",
        responses=error_responses(400, 404),
    )
    async def rejections(
        self,
        session: Session,
        settings: AppSettings,
        dataset_id: FromPath[int],
        label_id: Annotated[int | None, QueryParameter(description="one class only")] = None,
        offset: Annotated[int, QueryParameter(ge=0)] = 0,
        limit: Annotated[int, QueryParameter(ge=1, description="capped by the server's max_page_size")] = 100,
    ) -> RejectionsOut:
        total, rows = await rejections.list_rejections(
            session,
            dataset_id,
            label_id=label_id,
            offset=offset,
            limit=limit,
            max_limit=settings.max_page_size,
        )
        return RejectionsOut(
            total=total,
            offset=offset,
            limit=limit,
            rejections=[from_view(RejectionOut, r) for r in rows],
        )


route_handlers = [RejectionsController]
