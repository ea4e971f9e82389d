"""Labeling actions (tag, untag, undo, redo) and progress: thin resolvers over ``backend.labels``."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from backend.api.graphql.context import context_of, use_session
from backend.api.graphql.inputs import json_object
from backend.api.graphql.paging import checked_page
from backend.api.graphql.views import from_view
from backend.labels import events, history, tagging
from backend.labels.progress import Progress as DomainProgress
from backend.labels.progress import dataset_progress
from backend.labels.views import EventView, ProgressView, TagView
from backend.storage import tables


@strawberry.enum(description="What a tag does to each item's labels.")
class TagOp(Enum):
    SET = "set"  # replace the item's labels with the label (none: clear them)
    ADD = "add"  # add one label (acts as SET on single-label datasets)
    REMOVE = "remove"  # remove one label
    CLEAR = "clear"  # remove all labels


@strawberry.enum(description="How a labeling action came about ('undo' events are made by undo/redo).")
class TagKind(Enum):
    MANUAL = "manual"
    SIMILARITY = "similarity"
    PROBABILITY = "probability"
    IMPORT = "import"
    REVIEW = "review"


@strawberry.type(description="One change an event made to one item.")
class Tag:
    item_id: int
    op: str
    label_id: int | None

    @classmethod
    def of(cls, tag: tables.Tag) -> Tag:
        return from_view(cls, TagView.of(tag))


@strawberry.type(description="An append-only record of one labeling action.")
class TagEvent:
    id: int
    dataset_id: int
    tagger: str
    created_at: datetime
    kind: str = strawberry.field(description="manual, similarity, probability, import, review or undo")
    model_id: int | None
    parameters: JSON
    undoes_event_id: int | None
    tag_count: int

    @classmethod
    def of(cls, event: tables.TagEvent) -> TagEvent:
        return from_view(cls, EventView.of(event))

    @strawberry.field(description="A page of the event's tags (the page size is capped by the server).")
    async def tags(self, info: Info[Any, Any], offset: int = 0, limit: int = 100) -> list[Tag]:
        offset, limit = checked_page(info, offset, limit)
        async with use_session(info) as session:
            return [Tag.of(t) for t in await history.event_tags(session, self.id, offset=offset, limit=limit)]


@strawberry.type
class ClassProgress:
    id: int
    name: str
    color: str
    hotkey: str | None
    count: int


@strawberry.type(description="Labeled and unlabeled counts of a dataset, and items per class.")
class Progress:
    total: int
    labeled: int
    unlabeled: int
    fraction: float
    classes: list[ClassProgress]

    @classmethod
    def of(cls, progress: DomainProgress) -> Progress:
        return from_view(cls, ProgressView.of(progress))


async def _record(info: Info[Any, Any], request: events.TagRequest) -> TagEvent:
    async with use_session(info) as session:
        return TagEvent.of(await tagging.record_client_event(session, request))


@strawberry.type
class Query:
    @strawberry.field(description="Labeled and unlabeled counts, and items per class.")
    async def progress(self, info: Info[Any, Any], dataset_id: int) -> Progress:
        async with use_session(info) as session:
            return Progress.of(await dataset_progress(session, dataset_id))


@strawberry.type
class Mutation:
    @strawberry.mutation(
        description="Record one labeling action on many items as one tag event. 'kind' is MANUAL, "
        "IMPORT or REVIEW and 'modelId' stays empty: similarity and probability events are "
        "recorded by labelSimilar / applyProbability, which set the model and parameters."
    )
    async def tag(
        self,
        info: Info[Any, Any],
        dataset_id: int,
        item_ids: list[int],
        label_id: int | None = None,
        op: TagOp = TagOp.SET,
        kind: TagKind = TagKind.MANUAL,
        model_id: int | None = None,
        parameters: JSON | None = None,
    ) -> TagEvent:
        return await _record(
            info,
            events.TagRequest(
                dataset_id=dataset_id,
                tagger=context_of(info).tagger,
                item_ids=item_ids,
                label_id=label_id,
                op=op.value,
                kind=kind.value,
                model_id=model_id,
                parameters=json_object(parameters, "parameters"),
            ),
        )

    @strawberry.mutation(
        description="Take one label (labelId) or all labels (no labelId) off the items, as one event."
    )
    async def untag(
        self, info: Info[Any, Any], dataset_id: int, item_ids: list[int], label_id: int | None = None
    ) -> TagEvent:
        return await _record(
            info,
            events.TagRequest(
                dataset_id=dataset_id,
                tagger=context_of(info).tagger,
                item_ids=item_ids,
                label_id=label_id,
                op="clear" if label_id is None else "remove",
            ),
        )

    @strawberry.mutation(
        description="Undo an event by a new 'undo' event (items changed since are left alone and reported)."
    )
    async def undo_event(self, info: Info[Any, Any], event_id: int) -> TagEvent:
        tagger = context_of(info).tagger
        async with use_session(info) as session:
            return TagEvent.of(await events.undo_event(session, event_id, tagger))

    @strawberry.mutation(description="Undo the caller's latest labeling action in the dataset (Ctrl+Z).")
    async def undo_last(self, info: Info[Any, Any], dataset_id: int) -> TagEvent:
        tagger = context_of(info).tagger
        async with use_session(info) as session:
            return TagEvent.of(await events.undo_last(session, dataset_id, tagger))

    @strawberry.mutation(description="Redo the caller's latest undo in the dataset (Ctrl+Shift+Z).")
    async def redo_last(self, info: Info[Any, Any], dataset_id: int) -> TagEvent:
        tagger = context_of(info).tagger
        async with use_session(info) as session:
            return TagEvent.of(await events.redo_last(session, dataset_id, tagger))
