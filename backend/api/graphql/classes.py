"""Label classes of a dataset (name, color, hotkey): thin resolvers over ``backend.labels.classes``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry
from strawberry.types import Info

from backend.api.graphql.context import context_of, use_session
from backend.api.graphql.views import from_view
from backend.labels import classes
from backend.labels.views import ClassView
from backend.storage import tables


@strawberry.type(description="A label class of a dataset.")
class LabelClass:
    id: int
    dataset_id: int
    name: str
    color: str = strawberry.field(description="#rrggbb")
    hotkey: str | None = strawberry.field(description="One letter or digit on the label page.")
    position: int
    created_at: datetime

    @classmethod
    def of(cls, label: tables.LabelClass) -> LabelClass:
        return from_view(cls, ClassView.of(label))


@strawberry.type(description="A deleted class, and the event that unlabeled its items (when it had any).")
class ClassDeleted:
    deleted_class_id: int
    unlabel_event_id: int | None


@strawberry.type
class Query:
    @strawberry.field(description="The dataset's live classes in order.")
    async def classes(self, info: Info[Any, Any], dataset_id: int) -> list[LabelClass]:
        async with use_session(info) as session:
            return [LabelClass.of(c) for c in await classes.list_classes(session, dataset_id)]

    @strawberry.field(description="One live class (NOT_FOUND when unknown or deleted).")
    async def label_class(self, info: Info[Any, Any], id: int) -> LabelClass:
        async with use_session(info) as session:
            return LabelClass.of(await classes.get_class(session, id))


@strawberry.type
class Mutation:
    @strawberry.mutation(
        description="Add a class. No color: the next palette color. Names and hotkeys are unique (CONFLICT)."
    )
    async def create_class(
        self,
        info: Info[Any, Any],
        dataset_id: int,
        name: str,
        color: str | None = None,
        hotkey: str | None = None,
    ) -> LabelClass:
        async with use_session(info) as session:
            return LabelClass.of(await classes.create_class(session, dataset_id, name, color, hotkey))

    @strawberry.mutation(
        description='Rename, recolor or re-key a class. Left out: unchanged; hotkey null or "" removes it.'
    )
    async def update_class(
        self,
        info: Info[Any, Any],
        id: int,
        name: str | None = None,
        color: str | None = None,
        hotkey: str | None = strawberry.UNSET,
    ) -> LabelClass:
        clear = hotkey is None or hotkey == ""
        async with use_session(info) as session:
            label = await classes.update_class(
                session,
                id,
                name=name,
                color=color,
                hotkey=None if clear or hotkey is strawberry.UNSET else hotkey,
                clear_hotkey=clear,
            )
        return LabelClass.of(label)

    @strawberry.mutation(description="Delete a class; items holding it are unlabeled by one recorded event.")
    async def delete_class(self, info: Info[Any, Any], id: int) -> ClassDeleted:
        tagger = context_of(info).tagger
        async with use_session(info) as session:
            event = await classes.delete_class(session, id, tagger)
        return ClassDeleted(deleted_class_id=id, unlabel_event_id=event.id if event else None)
