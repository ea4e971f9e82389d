"""Reading the labeling record: events by tagger and time, labels as of a time or by tagger, item
history. Thin resolvers over ``backend.labels.history``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry
from strawberry.types import Info

from backend.api.graphql.context import use_session
from backend.api.graphql.labels import TagEvent
from backend.api.graphql.paging import as_utc, checked_page
from backend.datasets.items import get_item
from backend.datasets.service import get_dataset
from backend.errors import Invalid
from backend.labels import events, history


@strawberry.type
class EventPage:
    events: list[TagEvent]
    total: int
    offset: int
    limit: int


@strawberry.type(description="One change an event made to the item.")
class HistoryEntry:
    event: TagEvent
    op: str
    label_id: int | None


@strawberry.type(description="The labels of one labeled item.")
class ItemLabels:
    item_id: int
    label_ids: list[int]


@strawberry.type
class Query:
    @strawberry.field(
        description="The dataset's tag events, newest first; times are ISO 8601 (no zone: UTC). "
        "The page size is capped by the server."
    )
    async def events(
        self,
        info: Info[Any, Any],
        dataset_id: int,
        tagger: str | None = None,
        kind: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        offset: int = 0,
        limit: int = 50,
    ) -> EventPage:
        offset, limit = checked_page(info, offset, limit)
        async with use_session(info) as session:
            page = await history.list_events(
                session,
                dataset_id,
                tagger=tagger,
                kind=kind,
                since=as_utc(since),
                until=as_utc(until),
                offset=offset,
                limit=limit,
            )
        return EventPage(
            events=[TagEvent.of(e) for e in page.events], total=page.total, offset=offset, limit=limit
        )

    @strawberry.field(description="One tag event; its tags are paged through its 'tags' field.")
    async def event(self, info: Info[Any, Any], id: int) -> TagEvent:
        async with use_session(info) as session:
            return TagEvent.of(await events.get_event(session, id))

    @strawberry.field(
        description="Labels per labeled item, by item id: current, or rebuilt from the events as of a "
        "time (asOf) or from one tagger's events alone (tagger); not both. Without 'limit' every "
        "labeled item is listed and the query costs the dataset's item count (QUERY_TOO_COSTLY "
        "above the cost limit); with 'limit' (capped by the server) one page."
    )
    async def labels(
        self,
        info: Info[Any, Any],
        dataset_id: int,
        as_of: datetime | None = None,
        tagger: str | None = None,
        offset: int = 0,
        limit: int | None = None,
    ) -> list[ItemLabels]:
        if as_of is not None and tagger:
            raise Invalid("give 'asOf' or 'tagger', not both")
        if limit is not None:
            offset, limit = checked_page(info, offset, limit)
        elif offset < 0:
            raise Invalid("offset must be >= 0")
        async with use_session(info) as session:
            page = await history.labels_page(
                session, dataset_id, as_of=as_utc(as_of), tagger=tagger, offset=offset, limit=limit
            )
        return [ItemLabels(item_id=i, label_ids=label_ids) for i, label_ids in page]

    @strawberry.field(description="Every tag event that touched the item, oldest first.")
    async def item_history(self, info: Info[Any, Any], item_id: int) -> list[HistoryEntry]:
        async with use_session(info) as session:
            await get_item(session, item_id)
            rows = await history.item_history(session, item_id)
        return [HistoryEntry(event=TagEvent.of(e), op=t.op, label_id=t.label_id) for e, t in rows]

    @strawberry.field(description="Everyone who has tagged in the dataset, by name.")
    async def taggers(self, info: Info[Any, Any], dataset_id: int) -> list[str]:
        async with use_session(info) as session:
            await get_dataset(session, dataset_id)
            return await history.taggers(session, dataset_id)
