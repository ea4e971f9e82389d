"""Reading the record: events by tagger and time, labels as of a time or by tagger, item history."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from backend.datasets.service import get_dataset
from backend.errors import Invalid
from backend.labels.events import KINDS
from backend.labels.replay import replay
from backend.storage.tables import CurrentLabel, LabelClass, Tag, TagEvent


@dataclass
class EventPage:
    events: list[TagEvent]
    total: int


async def list_events(
    session: AsyncSession,
    dataset_id: int,
    *,
    tagger: str | None = None,
    kind: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    offset: int = 0,
    limit: int = 50,
) -> EventPage:
    """Newest first."""
    await get_dataset(session, dataset_id)
    if since and until and since > until:
        raise Invalid("'since' must not be after 'until'")
    if kind and kind not in KINDS:
        raise Invalid(f"unknown event kind '{kind}' (use one of {', '.join(KINDS)})", field="kind")
    query = select(TagEvent).where(col(TagEvent.dataset_id) == dataset_id)
    if tagger:
        query = query.where(col(TagEvent.tagger) == tagger)
    if kind:
        query = query.where(col(TagEvent.kind) == kind)
    if since:
        query = query.where(col(TagEvent.created_at) >= since)
    if until:
        query = query.where(col(TagEvent.created_at) <= until)
    total = await session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = await session.scalars(query.order_by(col(TagEvent.id).desc()).offset(offset).limit(limit))
    return EventPage(list(rows.all()), int(total))


async def event_tags(
    session: AsyncSession, event_id: int, *, offset: int = 0, limit: int = 1000
) -> list[Tag]:
    rows = await session.scalars(
        select(Tag).where(col(Tag.event_id) == event_id).order_by(col(Tag.id)).offset(offset).limit(limit)
    )
    return list(rows.all())


@dataclass(frozen=True)
class TagCount:
    """How many items one event gave one operation with one class (``label`` None: clear)."""

    op: str
    label: str | None
    items: int


async def event_summaries(session: AsyncSession, event_ids: list[int]) -> dict[int, list[TagCount]]:
    """Per event, what it did, counted by operation and class (deleted classes by their name too):
    the history page's "what" column (an event of 86 items as one class and 10 as another reads
    "set d0 x86, d3 x10")."""
    if not event_ids:
        return {}
    rows = await session.execute(
        select(col(Tag.event_id), col(Tag.op), col(LabelClass.name), func.count())
        .select_from(Tag)
        .outerjoin(LabelClass, col(LabelClass.id) == col(Tag.label_id))
        .where(col(Tag.event_id).in_(event_ids))
        .group_by(col(Tag.event_id), col(Tag.op), col(LabelClass.name))
    )
    found: dict[int, list[TagCount]] = {}
    for event_id, op, name, items in rows.all():
        found.setdefault(int(event_id), []).append(TagCount(str(op), name, int(items)))
    for counts in found.values():
        counts.sort(key=lambda c: (-c.items, c.op, c.label or ""))
    return found


async def item_history(session: AsyncSession, item_id: int) -> list[tuple[TagEvent, Tag]]:
    """Every tag event that touched the item, oldest first."""
    rows = await session.execute(
        select(TagEvent, Tag)
        .join(Tag, col(Tag.event_id) == col(TagEvent.id))
        .where(col(Tag.item_id) == item_id)
        .order_by(col(TagEvent.id), col(Tag.id))
    )
    return [(event, tag) for event, tag in rows.all()]


async def _replay_query(session: AsyncSession, query: Select) -> dict[int, frozenset[int]]:
    result = await session.stream(
        query.order_by(col(Tag.event_id), col(Tag.id)).execution_options(yield_per=20000)
    )
    rows: list[tuple[int, str, int | None]] = []
    async for partition in result.partitions():
        rows.extend((r[0], r[1], r[2]) for r in partition)
    return replay(rows)


def _tags_of(dataset_id: int) -> Select:
    return (
        select(col(Tag.item_id), col(Tag.op), col(Tag.label_id))
        .join(TagEvent, col(TagEvent.id) == col(Tag.event_id))
        .where(col(TagEvent.dataset_id) == dataset_id)
    )


async def labels_as_of(session: AsyncSession, dataset_id: int, at: datetime) -> dict[int, frozenset[int]]:
    """The labels as they stood at ``at``, rebuilt from the events."""
    await get_dataset(session, dataset_id)
    return await _replay_query(session, _tags_of(dataset_id).where(col(TagEvent.created_at) <= at))


async def labels_by_tagger(session: AsyncSession, dataset_id: int, tagger: str) -> dict[int, frozenset[int]]:
    """The labels one tagger's events alone add up to."""
    await get_dataset(session, dataset_id)
    return await _replay_query(session, _tags_of(dataset_id).where(col(TagEvent.tagger) == tagger))


async def snapshot_labels(
    session: AsyncSession, dataset_id: int, trained_on: dict[str, Any]
) -> dict[int, frozenset[int]]:
    """The labels a training snapshot names (``backend.labels.snapshot``): the events up to its
    time (``labels_as_of``), and of its tagger alone when it names one (``labels_tagger``)."""
    query = _tags_of(dataset_id).where(
        col(TagEvent.created_at) <= datetime.fromisoformat(trained_on["labels_as_of"])
    )
    if trained_on.get("labels_tagger"):
        query = query.where(col(TagEvent.tagger) == trained_on["labels_tagger"])
    return await _replay_query(session, query)


async def snapshot_labels_of(
    session: AsyncSession, dataset_id: int, trained_on: dict[str, Any], item_ids: Select
) -> dict[int, frozenset[int]]:
    """``snapshot_labels`` of the items ``item_ids`` (a query of item ids) alone: the labels a
    training gave them (an item it had no label of is absent)."""
    query = _tags_of(dataset_id).where(
        col(TagEvent.created_at) <= datetime.fromisoformat(trained_on["labels_as_of"]),
        col(Tag.item_id).in_(item_ids),
    )
    if trained_on.get("labels_tagger"):
        query = query.where(col(TagEvent.tagger) == trained_on["labels_tagger"])
    return await _replay_query(session, query)


async def replayed_labels(session: AsyncSession, dataset_id: int) -> dict[int, frozenset[int]]:
    """All events replayed: always equal to the materialised current labels."""
    return await _replay_query(session, _tags_of(dataset_id))


async def current_labels(session: AsyncSession, dataset_id: int) -> dict[int, frozenset[int]]:
    rows = await session.execute(
        select(col(CurrentLabel.item_id), col(CurrentLabel.label_id)).where(
            col(CurrentLabel.dataset_id) == dataset_id
        )
    )
    state: dict[int, set[int]] = {}
    for item_id, label_id in rows.all():
        state.setdefault(item_id, set()).add(label_id)
    return {k: frozenset(v) for k, v in state.items()}


async def taggers(session: AsyncSession, dataset_id: int) -> list[str]:
    rows = await session.scalars(
        select(col(TagEvent.tagger))
        .where(col(TagEvent.dataset_id) == dataset_id)
        .distinct()
        .order_by(col(TagEvent.tagger))
    )
    return list(rows.all())


async def labels_state(
    session: AsyncSession, dataset_id: int, *, as_of: datetime | None = None, tagger: str | None = None
) -> dict[int, frozenset[int]]:
    """Current labels, or rebuilt as of a time, or from one tagger's events alone (not both)."""
    if as_of is not None and tagger:
        raise Invalid("give 'as_of' or 'tagger', not both")
    if as_of is not None:
        return await labels_as_of(session, dataset_id, as_of)
    if tagger:
        return await labels_by_tagger(session, dataset_id, tagger)
    await get_dataset(session, dataset_id)
    return await current_labels(session, dataset_id)


async def labels_page(
    session: AsyncSession,
    dataset_id: int,
    *,
    as_of: datetime | None = None,
    tagger: str | None = None,
    offset: int = 0,
    limit: int | None = None,
) -> list[tuple[int, list[int]]]:
    """``(item id, label ids)`` per labeled item, by item id; one page of them when ``limit`` is given.

    A page of the current labels reads only that page's rows; rebuilt labels (``as_of``, ``tagger``)
    are replayed whole and then paged.
    """
    if limit is not None and as_of is None and not tagger:
        await get_dataset(session, dataset_id)
        page = (
            select(col(CurrentLabel.item_id))
            .where(col(CurrentLabel.dataset_id) == dataset_id)
            .distinct()
            .order_by(col(CurrentLabel.item_id))
            .offset(offset)
            .limit(limit)
        )
        rows = await session.execute(
            select(col(CurrentLabel.item_id), col(CurrentLabel.label_id)).where(
                col(CurrentLabel.dataset_id) == dataset_id,
                col(CurrentLabel.item_id).in_(page.scalar_subquery()),
            )
        )
        state: dict[int, list[int]] = {}
        for item_id, label_id in rows.all():
            state.setdefault(item_id, []).append(label_id)
        return [(i, sorted(state[i])) for i in sorted(state)]
    full = await labels_state(session, dataset_id, as_of=as_of, tagger=tagger)
    ids = sorted(full)[offset : None if limit is None else offset + limit]
    return [(i, sorted(full[i])) for i in ids]
