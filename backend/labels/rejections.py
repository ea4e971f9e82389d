"""Rejections: "this item is not class X", kept from the batch that said so (docs/decisions/0015).

When a person applies a batch of class X (a similarity page, a probability page, the explorer's
selection gallery, a queue suggestion) and leaves some of its items out by hand, one at a time,
each of those is recorded as rejected for X, in the same transaction as the batch's event (items
left out in bulk, as the guardrails' flagged ones or a tail nobody read, are not). An active rejection
keeps the item out of every later batch of X: probability batches of X (the arg-max batch included),
similarity pages labeling X, the queue's suggestions of X and their members at accept time, and
"auto-label the rest" (an item rejected for its predicted class is not auto-labeled with it).

A rejection is cleared (``cleared_event_id``, the row stays for the record) by any later event that
gives the item the class X (a deliberate label says the rejection was wrong), or by undoing (or
revoking) the batch that recorded it; undoing the clearing event brings it back. Only items without
any label when the batch is applied are recorded: labeled items are out of batches anyway, and a
page that starts labeled tiles deselected says nothing about them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, TypeVar

import numpy as np
from sqlalchemy import exists, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from backend.datasets.service import get_dataset
from backend.errors import Invalid, NotFound
from backend.paging import check_page
from backend.storage.tables import CurrentLabel, Item, Rejection

CHUNK = 5000
MAX_REJECTED = 100_000  # per batch: a page or a gallery, never a whole dataset


class _Pair(Protocol):
    @property
    def item_id(self) -> int: ...

    @property
    def label_id(self) -> int: ...


P = TypeVar("P", bound=_Pair)


@dataclass(frozen=True)
class RejectionRow:
    """An active rejection as every door shows it (its read model)."""

    item_id: int
    label_id: int
    event_id: int
    tagger: str
    created_at: datetime


def _chunks(values: Sequence[int]) -> Iterable[Sequence[int]]:
    for start in range(0, len(values), CHUNK):
        yield values[start : start + CHUNK]


def check_disjoint(kept: Iterable[int], rejected: Iterable[int]) -> list[int]:
    """The rejected ids, once each; an item both kept and rejected is a 400."""
    out = list(dict.fromkeys(int(i) for i in rejected))
    if len(out) > MAX_REJECTED:
        raise Invalid(f"at most {MAX_REJECTED} rejected items per batch", field="rejected_item_ids")
    both = set(out) & {int(i) for i in kept}
    if both:
        raise Invalid(
            f"{len(both)} item(s) are both kept and rejected (e.g. {min(both)})", field="rejected_item_ids"
        )
    return out


async def _labeled(session: AsyncSession, item_ids: Sequence[int]) -> set[int]:
    found: set[int] = set()
    for chunk in _chunks(item_ids):
        found.update(
            (
                await session.scalars(
                    select(col(CurrentLabel.item_id)).where(col(CurrentLabel.item_id).in_(chunk))
                )
            ).all()
        )
    return found


async def _active_pairs(
    session: AsyncSession, dataset_id: int, item_ids: Sequence[int]
) -> set[tuple[int, int]]:
    pairs: set[tuple[int, int]] = set()
    for chunk in _chunks(item_ids):
        rows = await session.execute(
            select(col(Rejection.item_id), col(Rejection.label_id)).where(
                col(Rejection.dataset_id) == dataset_id,
                col(Rejection.cleared_event_id).is_(None),
                col(Rejection.item_id).in_(chunk),
            )
        )
        pairs.update((int(i), int(label)) for i, label in rows.all())
    return pairs


async def record(
    session: AsyncSession,
    dataset_id: int,
    *,
    event_id: int,
    tagger: str,
    pairs: Iterable[tuple[int, int]],
) -> int:
    """Record (item, class) rejections of the batch ``event_id``; the caller holds the dataset lock
    and commits. Items of another dataset are a 404; labeled items and pairs already rejected are
    skipped. Returns how many were recorded."""
    wanted = list(dict.fromkeys((int(i), int(label)) for i, label in pairs))
    if not wanted:
        return 0
    item_ids = list(dict.fromkeys(i for i, _ in wanted))
    found: set[int | None] = set()
    for chunk in _chunks(item_ids):
        found.update(
            (
                await session.scalars(
                    select(col(Item.id)).where(col(Item.dataset_id) == dataset_id, col(Item.id).in_(chunk))
                )
            ).all()
        )
    unknown = [i for i in item_ids if i not in found]
    if unknown:
        raise NotFound(
            f"{len(unknown)} rejected item(s) are not in dataset {dataset_id}: {unknown[:20]}",
            unknown_items=unknown[:100],
        )
    skip = await _labeled(session, item_ids)
    known = await _active_pairs(session, dataset_id, item_ids)
    rows = [
        {"dataset_id": dataset_id, "item_id": i, "label_id": label, "event_id": event_id, "tagger": tagger}
        for i, label in wanted
        if i not in skip and (i, label) not in known
    ]
    for start in range(0, len(rows), CHUNK):
        await session.execute(insert(Rejection), rows[start : start + CHUNK])
    return len(rows)


async def any_active(session: AsyncSession, dataset_id: int) -> bool:
    return bool(
        await session.scalar(
            select(
                exists().where(
                    col(Rejection.dataset_id) == dataset_id, col(Rejection.cleared_event_id).is_(None)
                )
            )
        )
    )


async def rejected_by_class(
    session: AsyncSession, dataset_id: int, label_id: int | None = None, *, as_of: int | None = None
) -> dict[int, set[int]]:
    """The active rejections of the dataset: class id -> item ids (one class with ``label_id``;
    with ``as_of``, only those recorded by events up to that one: what a suggestion saw)."""
    query = select(col(Rejection.label_id), col(Rejection.item_id)).where(
        col(Rejection.dataset_id) == dataset_id, col(Rejection.cleared_event_id).is_(None)
    )
    if label_id is not None:
        query = query.where(col(Rejection.label_id) == label_id)
    if as_of is not None:
        query = query.where(col(Rejection.event_id) <= as_of)
    out: dict[int, set[int]] = {}
    for label, item in (await session.execute(query)).all():
        out.setdefault(int(label), set()).add(int(item))
    return out


async def rejected_items(
    session: AsyncSession, dataset_id: int, label_id: int, *, as_of: int | None = None
) -> set[int]:
    """The items rejected for one class (to leave out of its batches)."""
    return (await rejected_by_class(session, dataset_id, label_id, as_of=as_of)).get(label_id, set())


def drop_rejected(candidates: list[P], rejected: dict[int, set[int]]) -> list[P]:
    """The candidates whose (item, class) is not rejected, in their order."""
    if not rejected:
        return candidates
    return [c for c in candidates if c.item_id not in rejected.get(c.label_id, ())]


def mask_scores(
    item_ids: np.ndarray, scores: np.ndarray, label_ids: Sequence[int], rejected: dict[int, set[int]]
) -> np.ndarray:
    """A copy of an items x classes score matrix with each rejected (item, class) score zero, so no
    threshold of that class passes it (the same array when nothing is rejected)."""
    if not rejected:
        return scores
    out = np.array(scores, dtype=np.float32, copy=True)
    for column, label_id in enumerate(label_ids):
        items = rejected.get(int(label_id))
        if items:
            out[np.isin(item_ids, np.fromiter(items, np.int64, len(items))), column] = 0.0
    return out


def top_not_rejected(
    item_ids: np.ndarray, scores: np.ndarray, label_ids: Sequence[int], rejected: dict[int, set[int]]
) -> np.ndarray:
    """A boolean mask of the rows whose top-scoring class is not rejected for their item."""
    keep = np.ones(len(item_ids), dtype=bool)
    if not rejected or not len(item_ids):
        return keep
    best = np.asarray(scores).argmax(axis=1)
    for column, label_id in enumerate(label_ids):
        items = rejected.get(int(label_id))
        if items:
            keep &= ~((best == column) & np.isin(item_ids, np.fromiter(items, np.int64, len(items))))
    return keep


def not_rejected(item_ids: np.ndarray, rejected: set[int]) -> np.ndarray:
    """A boolean mask of the ids not in ``rejected``."""
    return ~np.isin(item_ids, np.fromiter(rejected, np.int64, len(rejected)))


# ---- what events do to rejections (called by backend.labels.events / revoke) --------------------


async def clear_gained(
    session: AsyncSession, dataset_id: int, event_id: int, gained: dict[int, list[int]]
) -> None:
    """Clear the rejections of items that ``event_id`` gave the rejected class (label -> items)."""
    if not gained or not await any_active(session, dataset_id):
        return
    for label_id, items in gained.items():
        for chunk in _chunks(items):
            await session.execute(
                update(Rejection)
                .where(
                    col(Rejection.dataset_id) == dataset_id,
                    col(Rejection.cleared_event_id).is_(None),
                    col(Rejection.label_id) == label_id,
                    col(Rejection.item_id).in_(chunk),
                )
                .values(cleared_event_id=event_id)
            )


async def on_undo(session: AsyncSession, undone_event_ids: Sequence[int], undo_event_id: int) -> None:
    """An undo (or revoke) of ``undone_event_ids``: their rejections are cleared, and those they had
    cleared come back unless the item holds the class now."""
    if not undone_event_ids:
        return
    ids = list(undone_event_ids)
    for chunk in _chunks(ids):
        await session.execute(
            update(Rejection)
            .where(col(Rejection.event_id).in_(chunk), col(Rejection.cleared_event_id).is_(None))
            .values(cleared_event_id=undo_event_id)
        )
    for chunk in _chunks(ids):
        rows = (
            await session.execute(
                select(col(Rejection.id), col(Rejection.item_id), col(Rejection.label_id)).where(
                    col(Rejection.cleared_event_id).in_(chunk)
                )
            )
        ).all()
        if not rows:
            continue
        holding: set[tuple[int, int]] = set()
        items = list({int(r[1]) for r in rows})
        for part in _chunks(items):
            held = await session.execute(
                select(col(CurrentLabel.item_id), col(CurrentLabel.label_id)).where(
                    col(CurrentLabel.item_id).in_(part)
                )
            )
            holding.update((int(i), int(label)) for i, label in held.all())
        back = [int(r[0]) for r in rows if (int(r[1]), int(r[2])) not in holding]
        for part in _chunks(back):
            await session.execute(
                update(Rejection).where(col(Rejection.id).in_(part)).values(cleared_event_id=None)
            )


# ---- reading them ---------------------------------------------------------------------------------


async def list_rejections(
    session: AsyncSession,
    dataset_id: int,
    *,
    label_id: int | None = None,
    offset: int = 0,
    limit: int = 100,
    max_limit: int = 500,
) -> tuple[int, list[RejectionRow]]:
    """The dataset's active rejections, newest first, and how many there are (pages of at most
    ``max_limit``: the server's page size)."""
    await get_dataset(session, dataset_id)
    check_page(offset, limit, max_limit)
    where: list[Any] = [col(Rejection.dataset_id) == dataset_id, col(Rejection.cleared_event_id).is_(None)]
    if label_id is not None:
        where.append(col(Rejection.label_id) == label_id)
    total = int(await session.scalar(select(func.count()).select_from(Rejection).where(*where)) or 0)
    rows = await session.scalars(
        select(Rejection).where(*where).order_by(col(Rejection.id).desc()).offset(offset).limit(limit)
    )
    return total, [
        RejectionRow(r.item_id, r.label_id, r.event_id, r.tagger, r.created_at) for r in rows.all()
    ]
