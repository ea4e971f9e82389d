"""Items of a dataset: paged, filtered by label state or class, sorted. Thin over ``datasets.items``."""

from __future__ import annotations

from enum import Enum
from typing import Any

import strawberry
from strawberry.types import Info

from backend.accounts.disclosure import public_error, public_location
from backend.api.access import shows_internals
from backend.api.common import API_PREFIX
from backend.api.graphql.context import context_of, use_session
from backend.api.graphql.labels import TagEvent
from backend.api.graphql.loaders import location_loader
from backend.api.graphql.views import from_view
from backend.datasets.items import (
    ItemWithLabels,
    MetaFilter,
    get_item,
    items_by_ids,
    labels_of,
    list_items,
)
from backend.datasets.views import ItemView
from backend.errors import Invalid
from backend.labels.by_metadata import label_matching
from backend.storage import tables


@strawberry.enum(description="Which items of a dataset to list.")
class ItemFilter(Enum):
    ALL = "all"
    LABELED = "labeled"
    UNLABELED = "unlabeled"
    UNREADABLE = "unreadable"


@strawberry.enum(
    description="Item order: dataset position, grouped by first label (unlabeled last), or by a header "
    "field (run, sample, exposure, time; items without it last)."
)
class ItemSort(Enum):
    POSITION = "position"
    LABEL = "label"
    RUN = "run"
    SAMPLE = "sample"
    EXPOSURE = "exposure"
    TIME = "time"


@strawberry.type(
    description="What the file's header says about the acquisition (EDF/CBF headers, NeXus and Eiger "
    "fields, the TIFF DateTime tag); each field only where present."
)
class ItemMetadata:
    run: str | None = None
    sample: str | None = None
    exposure: float | None = strawberry.field(default=None, description="Seconds.")
    time: str | None = strawberry.field(
        default=None, description="ISO 8601 where the header's form is known, else as written."
    )
    temperature: float | None = None


@strawberry.type(description="One image of a dataset with its current labels.")
class Item:
    id: int
    dataset_id: int
    source_id: int
    uri: str = strawberry.field(description="Relative to its source.")
    frame: int = strawberry.field(description="The TIFF page or stack frame.")
    position: int
    height: int | None
    width: int | None
    channels: int | None
    dtype: str | None
    status: str = strawberry.field(description="ok, unreadable or missing")
    raw_error: strawberry.Private[str | None]
    label_ids: list[int]
    metadata: ItemMetadata | None = None

    @classmethod
    def of(cls, item: tables.Item, label_ids: list[int]) -> Item:
        return cls._of(ItemView.of(item, label_ids))

    @classmethod
    def with_labels(cls, entry: ItemWithLabels) -> Item:
        return cls._of(ItemView.with_labels(entry))

    @classmethod
    def _of(cls, view: ItemView) -> Item:
        return from_view(cls, view, raw_error=view.error)

    @strawberry.field(description="Why it cannot be read (viewers: one line, without server paths).")
    def error(self, info: Info[Any, Any]) -> str | None:
        context = context_of(info)
        if context.connection is not None and not shows_internals(context.connection):
            return public_error(self.raw_error, context.settings)
        return self.raw_error

    @strawberry.field(
        description="Where the pixels are read from: a path or a Tiled URI (viewers: the path "
        "relative to its data root)."
    )
    async def location(self, info: Info[Any, Any]) -> str:
        context = context_of(info)
        location = await location_loader(info).load((self.source_id, self.uri, self.frame))
        if context.connection is not None and not shows_internals(context.connection):
            return public_location(location, context.settings)
        return location

    @strawberry.field(description="REST URL of the item as PNG (query: log, p_low, p_high, size).")
    def image_url(self) -> str:
        return f"{API_PREFIX}/items/{self.id}/image"


@strawberry.type
class ItemPage:
    items: list[Item]
    total: int
    offset: int
    limit: int


@strawberry.type
class Query:
    @strawberry.field(
        description="A page of a dataset's items with their current labels. 'labelId' narrows to one "
        "class; 'run', 'sample', 'exposure' (s, within 0.1 %) and 'timeFrom'/'timeTo' (ISO 8601) to what "
        "the files' headers say. The page size is capped by the server (a larger 'limit' is refused: "
        "INVALID)."
    )
    async def items(
        self,
        info: Info[Any, Any],
        dataset_id: int,
        filter: ItemFilter = ItemFilter.ALL,
        label_id: int | None = None,
        sort: ItemSort = ItemSort.POSITION,
        offset: int = 0,
        limit: int = 48,
        run: str | None = None,
        sample: str | None = None,
        exposure: float | None = None,
        time_from: str | None = None,
        time_to: str | None = None,
    ) -> ItemPage:
        max_limit = context_of(info).settings.max_page_size
        async with use_session(info) as session:
            page = await list_items(
                session,
                dataset_id,
                filter=filter.value,
                label_id=label_id,
                sort=sort.value,
                offset=offset,
                limit=limit,
                max_limit=max_limit,
                meta=MetaFilter(run, sample, exposure, time_from, time_to),
            )
        return ItemPage(
            items=[Item.with_labels(e) for e in page.items],
            total=page.total,
            offset=page.offset,
            limit=page.limit,
        )

    @strawberry.field(
        description="Items of a dataset by id, in the order asked, with their labels: one call for many "
        "(NOT_FOUND names ids not in the dataset; at most the server's page size per call)."
    )
    async def items_by_ids(self, info: Info[Any, Any], dataset_id: int, ids: list[int]) -> list[Item]:
        cap = context_of(info).settings.max_page_size
        if len(ids) > cap:
            raise Invalid(f"{len(ids)} ids is over the page size cap: at most {cap} per call", max_limit=cap)
        async with use_session(info) as session:
            found = await items_by_ids(session, dataset_id, ids)
        return [Item.with_labels(e) for e in found]

    @strawberry.field(description="One item with its current labels (NOT_FOUND when unknown).")
    async def item(self, info: Info[Any, Any], id: int) -> Item:
        async with use_session(info) as session:
            item = await get_item(session, id)
            labels = (await labels_of(session, [id])).get(id, [])
        return Item.of(item, labels)


@strawberry.type
class Mutation:
    @strawberry.mutation(
        description="Label every readable item whose header metadata match (a run, a sample, an exposure "
        "in s within 0.1 %, a time range) except exceptItemIds, as one manual event recording the match "
        "and how many were deselected. Labeled items are left alone unless overwrite, and so are items "
        "changed after seenEventId. INVALID without a filter or when nothing matches."
    )
    async def label_matching(
        self,
        info: Info[Any, Any],
        dataset_id: int,
        label_id: int | None,
        run: str | None = None,
        sample: str | None = None,
        exposure: float | None = None,
        time_from: str | None = None,
        time_to: str | None = None,
        except_item_ids: list[int] | None = None,
        overwrite: bool = False,
        seen_event_id: int | None = None,
    ) -> TagEvent:
        tagger = context_of(info).tagger
        async with use_session(info) as session:
            outcome = await label_matching(
                session,
                dataset_id,
                tagger=tagger,
                meta=MetaFilter(run, sample, exposure, time_from, time_to),
                label_id=label_id,
                except_item_ids=except_item_ids or [],
                op="set" if label_id is not None else "clear",
                overwrite=overwrite,
                seen_event_id=seen_event_id,
            )
        return TagEvent.of(outcome.event)
