"""Reading a dataset's labels for export: current, as of a time or by tagger, in dataset order."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from backend.labels.replay import apply_op
from backend.storage.tables import CurrentLabel, Item, LabelClass, Source, Tag, TagEvent

COLUMNS = ("item_id", "source", "uri", "frame", "label", "tagger", "labeled_at")
BATCH = 5000


class LabelRow(NamedTuple):
    """One (item, label) of an export; ``label`` is None for an unlabeled item."""

    item_id: int
    source_id: int
    uri: str
    frame: int
    status: str
    dtype: str | None
    label: str | None
    tagger: str | None
    labeled_at: datetime | None


async def sources_of(session: AsyncSession, dataset_id: int) -> dict[int, Source]:
    rows = await session.scalars(select(Source).where(col(Source.dataset_id) == dataset_id))
    return {s.id: s for s in rows.all() if s.id is not None}


async def class_names(session: AsyncSession, dataset_id: int) -> dict[int, tuple[int, str]]:
    """Every class, deleted ones too (old labels may name them): id -> (position, name)."""
    rows = await session.execute(
        select(col(LabelClass.id), col(LabelClass.position), col(LabelClass.name)).where(
            col(LabelClass.dataset_id) == dataset_id
        )
    )
    return {cid: (pos, name) for cid, pos, name in rows.all()}


_ITEM_COLUMNS = (
    col(Item.id),
    col(Item.source_id),
    col(Item.uri),
    col(Item.frame),
    col(Item.status),
    col(Item.dtype),
)


async def _current_rows(
    session: AsyncSession, dataset_id: int, *, unlabeled: bool, batch: int
) -> AsyncIterator[list[LabelRow]]:
    # The labeling time is the event's: one small lookup instead of a time column per row.
    event_times: dict[int | None, datetime] = dict(
        (
            await session.execute(
                select(col(TagEvent.id), col(TagEvent.created_at)).where(
                    col(TagEvent.id).in_(
                        select(col(CurrentLabel.event_id))
                        .where(col(CurrentLabel.dataset_id) == dataset_id)
                        .distinct()
                    )
                )
            )
        )
        .tuples()
        .all()
    )
    query = select(
        *_ITEM_COLUMNS, col(LabelClass.name), col(CurrentLabel.tagger), col(CurrentLabel.event_id)
    ).select_from(Item)
    if unlabeled:
        query = query.outerjoin(CurrentLabel, col(CurrentLabel.item_id) == col(Item.id)).outerjoin(
            LabelClass, col(LabelClass.id) == col(CurrentLabel.label_id)
        )
    else:
        query = query.join(CurrentLabel, col(CurrentLabel.item_id) == col(Item.id)).join(
            LabelClass, col(LabelClass.id) == col(CurrentLabel.label_id)
        )
    query = query.where(col(Item.dataset_id) == dataset_id).order_by(
        col(Item.position), col(Item.id), col(LabelClass.position), col(LabelClass.id)
    )
    # Core rows on the session's connection: no ORM bookkeeping per row.
    connection = await session.connection()
    result = await connection.stream(query.execution_options(yield_per=batch))
    at = event_times.get
    async for partition in result.partitions(batch):
        yield [LabelRow(i, s, u, f, st, d, n, t, at(e)) for i, s, u, f, st, d, n, t, e in partition]


async def replay_with_taggers(
    session: AsyncSession, dataset_id: int, *, as_of: datetime | None = None, tagger: str | None = None
) -> dict[int, tuple[frozenset[int], str, datetime]]:
    """Labels rebuilt from the events, with who and when last touched each item."""
    query = (
        select(
            col(Tag.item_id), col(Tag.op), col(Tag.label_id), col(TagEvent.tagger), col(TagEvent.created_at)
        )
        .join(TagEvent, col(TagEvent.id) == col(Tag.event_id))
        .where(col(TagEvent.dataset_id) == dataset_id)
    )
    if as_of is not None:
        query = query.where(col(TagEvent.created_at) <= as_of)
    if tagger:
        query = query.where(col(TagEvent.tagger) == tagger)
    result = await session.stream(
        query.order_by(col(Tag.event_id), col(Tag.id)).execution_options(yield_per=20000)
    )
    state: dict[int, tuple[frozenset[int], str, datetime]] = {}
    empty: frozenset[int] = frozenset()
    async for partition in result.partitions():
        for item_id, op, label_id, who, when in partition:
            labels = apply_op(state.get(item_id, (empty,))[0], op, label_id)
            state[item_id] = (labels, who, when)
    return {item_id: value for item_id, value in state.items() if value[0]}


async def _replayed_rows(
    session: AsyncSession,
    dataset_id: int,
    state: dict[int, tuple[frozenset[int], str, datetime]],
    *,
    unlabeled: bool,
    batch: int,
) -> AsyncIterator[list[LabelRow]]:
    classes = await class_names(session, dataset_id)
    query = (
        select(*_ITEM_COLUMNS)
        .where(col(Item.dataset_id) == dataset_id)
        .order_by(col(Item.position), col(Item.id))
    )
    result = await session.stream(query.execution_options(yield_per=batch))
    async for partition in result.partitions(batch):
        rows: list[LabelRow] = []
        for item_id, source_id, uri, frame, status, dtype in partition:
            held = state.get(item_id)
            if held is None:
                if unlabeled:
                    rows.append(LabelRow(item_id, source_id, uri, frame, status, dtype, None, None, None))
                continue
            labels, who, when = held
            for label_id in sorted(labels, key=lambda i: classes.get(i, (0, ""))):
                name = classes.get(label_id, (0, f"class {label_id}"))[1]
                rows.append(LabelRow(item_id, source_id, uri, frame, status, dtype, name, who, when))
        if rows:
            yield rows


async def label_rows(
    session: AsyncSession,
    dataset_id: int,
    *,
    as_of: datetime | None = None,
    tagger: str | None = None,
    unlabeled: bool = True,
    batch: int = BATCH,
) -> AsyncIterator[list[LabelRow]]:
    """Batches of label rows in dataset order; the rows of one item are adjacent."""
    if as_of is None and not tagger:
        async for rows in _current_rows(session, dataset_id, unlabeled=unlabeled, batch=batch):
            yield rows
        return
    state = await replay_with_taggers(session, dataset_id, as_of=as_of, tagger=tagger)
    async for rows in _replayed_rows(session, dataset_id, state, unlabeled=unlabeled, batch=batch):
        yield rows


async def grouped(batches: AsyncIterator[list[LabelRow]]) -> AsyncIterator[list[list[LabelRow]]]:
    """Batches of items, each the list of its rows; an item split across batches is joined."""
    pending: list[LabelRow] = []
    async for rows in batches:
        items: list[list[LabelRow]] = []
        for row in rows:
            if pending and pending[0].item_id != row.item_id:
                items.append(pending)
                pending = []
            pending.append(row)
        if items:
            yield items
    if pending:
        yield [pending]
