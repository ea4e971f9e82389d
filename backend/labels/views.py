"""Read models of a label class, a tag event, a tag and a dataset's labeling progress: what every
door shows of one, built once from the rows (REST and GraphQL render them by field name)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from backend.labels.progress import Progress
from backend.storage.tables import LabelClass, Tag, TagEvent


@dataclass(frozen=True, kw_only=True)
class ClassView:
    """A label class of a dataset: name, colour (#rrggbb), hotkey, place in the order."""

    id: int
    dataset_id: int
    name: str
    color: str
    hotkey: str | None
    position: int
    created_at: datetime

    @classmethod
    def of(cls, label: LabelClass) -> ClassView:
        assert label.id is not None, "a class read back from the database has an id"
        return cls(
            id=label.id,
            dataset_id=label.dataset_id,
            name=label.name,
            color=label.color,
            hotkey=label.hotkey,
            position=label.position,
            created_at=label.created_at,
        )


@dataclass(frozen=True, kw_only=True)
class EventView:
    """One labeling action of the append-only record (its tags are read apart, a page at a time)."""

    id: int
    dataset_id: int
    tagger: str
    created_at: datetime
    kind: str
    model_id: int | None
    parameters: dict[str, Any]
    undoes_event_id: int | None
    tag_count: int

    @classmethod
    def of(cls, event: TagEvent) -> EventView:
        assert event.id is not None, "an event read back from the database has an id"
        return cls(
            id=event.id,
            dataset_id=event.dataset_id,
            tagger=event.tagger,
            created_at=event.created_at,
            kind=event.kind,
            model_id=event.model_id,
            parameters=dict(event.parameters or {}),
            undoes_event_id=event.undoes_event_id,
            tag_count=event.tag_count,
        )


@dataclass(frozen=True, kw_only=True)
class TagView:
    """One change an event made to one item."""

    item_id: int
    op: str
    label_id: int | None

    @classmethod
    def of(cls, tag: Tag) -> TagView:
        return cls(item_id=tag.item_id, op=tag.op, label_id=tag.label_id)


@dataclass(frozen=True, kw_only=True)
class ClassProgressView:
    """How many items carry one class."""

    id: int
    name: str
    color: str
    hotkey: str | None
    count: int


@dataclass(frozen=True, kw_only=True)
class ProgressView:
    """Labeled and unlabeled counts of a dataset, and items per class."""

    total: int
    labeled: int
    unlabeled: int
    fraction: float
    classes: list[ClassProgressView]

    @classmethod
    def of(cls, progress: Progress) -> ProgressView:
        return cls(
            total=progress.total,
            labeled=progress.labeled,
            unlabeled=progress.unlabeled,
            fraction=progress.fraction,
            classes=[
                ClassProgressView(
                    id=c.label.id or 0,
                    name=c.label.name,
                    color=c.label.color,
                    hotkey=c.label.hotkey,
                    count=c.count,
                )
                for c in progress.classes
            ],
        )
