"""Items left out of batches ("not this class"): thin over ``backend.labels.rejections``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry
from strawberry.types import Info

from backend.api.graphql.context import context_of, use_session
from backend.api.graphql.paging import checked_page
from backend.api.graphql.views import from_view
from backend.labels import rejections


@strawberry.type(description="An item someone left out of a batch of a class: kept out of its later batches.")
class Rejection:
    item_id: int
    label_id: int = strawberry.field(description="The class the item is not.")
    event_id: int = strawberry.field(description="The batch event that left it out.")
    tagger: str
    created_at: datetime


@strawberry.type(description="A page of a dataset's active rejections, newest first.")
class RejectionPage:
    total: int
    offset: int
    limit: int
    rejections: list[Rejection]


@strawberry.type
class Query:
    @strawberry.field(
        description="The dataset's active rejections (items left out of a batch of a class, recorded by "
        "the batch mutations' rejectedItemIds or a queue batch accepted without them). A later label of "
        "the item as that class, or an undo of the batch, clears one."
    )
    async def rejections(
        self,
        info: Info[Any, Any],
        dataset_id: int,
        label_id: int | None = None,
        offset: int = 0,
        limit: int = 100,
    ) -> RejectionPage:
        offset, limit = checked_page(info, offset, limit)
        async with use_session(info) as session:
            total, rows = await rejections.list_rejections(
                session,
                dataset_id,
                label_id=label_id,
                offset=offset,
                limit=limit,
                max_limit=context_of(info).settings.max_page_size,
            )
        return RejectionPage(
            total=total,
            offset=offset,
            limit=limit,
            rejections=[from_view(Rejection, r) for r in rows],
        )
