"""Recording tag events and keeping the current labels materialised in the same transaction.

Every write to a dataset's labels first takes that dataset's row lock (an UPDATE of the dataset
row: a row lock on PostgreSQL, the write lock on SQLite), so events of one dataset are applied
one at a time, in id order, and replaying them always gives the materialised labels.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from backend.datasets.service import get_dataset
from backend.errors import Conflict, Invalid, NotFound
from backend.labels import rejections
from backend.labels.replay import OPS, apply_op
from backend.storage.tables import CurrentLabel, Dataset, Item, LabelClass, Tag, TagEvent
from backend.storage.types import utcnow

KINDS = ("manual", "similarity", "probability", "explorer", "import", "review", "undo")
CHUNK = 5000
MAX_ITEMS_PER_EVENT = 1_000_000


@dataclass(frozen=True, slots=True)
class TagChange:
    item_id: int
    op: str
    label_id: int | None = None


@dataclass
class TagRequest:
    """The same operation on many items: the common case of a labeling click."""

    dataset_id: int
    tagger: str
    item_ids: Sequence[int]
    label_id: int | None = None
    op: str = "set"
    kind: str = "manual"
    model_id: int | None = None
    parameters: dict[str, Any] = field(default_factory=dict)

    def changes(self) -> list[TagChange]:
        return [TagChange(int(i), self.op, self.label_id) for i in dict.fromkeys(self.item_ids)]


def _chunks(values: Sequence[int], size: int = CHUNK) -> Iterable[Sequence[int]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


async def lock_dataset(session: AsyncSession, dataset_id: int) -> Dataset:
    """Take the dataset's write lock for the rest of the transaction."""
    result = await session.execute(
        update(Dataset).where(col(Dataset.id) == dataset_id).values(updated_at=utcnow())
    )
    if result.rowcount == 0:  # type: ignore[attr-defined]
        raise NotFound(f"dataset {dataset_id} does not exist", id=dataset_id)
    dataset = await session.get(Dataset, dataset_id, populate_existing=True)
    assert dataset is not None
    return dataset


async def existing_items(session: AsyncSession, dataset_id: int, item_ids: Sequence[int]) -> set[int]:
    """The ones of ``item_ids`` that are items of the dataset (others were deleted, or never were)."""
    found: set[int] = set()
    for chunk in _chunks(item_ids):
        rows = await session.scalars(
            select(col(Item.id)).where(col(Item.dataset_id) == dataset_id, col(Item.id).in_(chunk))
        )
        found.update(i for i in rows.all() if i is not None)  # stored rows: never None
    return found


async def check_items(session: AsyncSession, dataset_id: int, item_ids: Sequence[int]) -> None:
    """NotFound naming the ones of ``item_ids`` that are no items of the dataset."""
    found = await existing_items(session, dataset_id, item_ids)
    unknown = [i for i in item_ids if i not in found]
    if unknown:
        raise NotFound(
            f"{len(unknown)} item(s) are not in dataset {dataset_id}: {unknown[:20]}",
            unknown_items=unknown[:100],
        )


async def check_labels(
    session: AsyncSession, dataset_id: int, label_ids: set[int], allow_deleted: bool = False
) -> None:
    """NotFound naming the ones of ``label_ids`` that are no classes of the dataset (or deleted ones)."""
    if not label_ids:
        return
    rows = (
        (await session.execute(select(LabelClass).where(col(LabelClass.id).in_(label_ids)))).scalars().all()
    )
    known = {
        row.id for row in rows if row.dataset_id == dataset_id and (allow_deleted or row.deleted_at is None)
    }
    missing = sorted(label_ids - known)
    if missing:
        raise NotFound(
            f"label class(es) {missing} do not exist in dataset {dataset_id}",
            unknown_labels=missing,
        )


async def current_state(session: AsyncSession, item_ids: Sequence[int]) -> dict[int, frozenset[int]]:
    state: dict[int, set[int]] = {}
    for chunk in _chunks(item_ids):
        rows = await session.execute(
            select(col(CurrentLabel.item_id), col(CurrentLabel.label_id)).where(
                col(CurrentLabel.item_id).in_(chunk)
            )
        )
        for item_id, label_id in rows.all():
            state.setdefault(item_id, set()).add(label_id)
    return {k: frozenset(v) for k, v in state.items()}


def normalise(changes: Sequence[TagChange], multi_label: bool) -> list[TagChange]:
    """Check each operation; ``add`` is ``set`` on a single-label dataset, ``set`` without a label
    is ``clear``."""
    out = []
    for change in changes:
        if change.op not in OPS:
            raise Invalid(f"unknown tag operation '{change.op}' (use one of {', '.join(OPS)})")
        if change.op in ("add", "remove") and change.label_id is None:
            raise Invalid(f"operation '{change.op}' needs a label")
        op = change.op
        if op == "add" and not multi_label:
            op = "set"  # one label per item: adding a label replaces the old one
        if op == "set" and change.label_id is None:
            op = "clear"
        out.append(TagChange(change.item_id, op, None if op == "clear" else change.label_id))
    return out


async def apply_changes(
    session: AsyncSession,
    dataset: Dataset,
    *,
    tagger: str,
    kind: str,
    changes: Sequence[TagChange],
    model_id: int | None = None,
    parameters: dict[str, Any] | None = None,
    undoes_event_id: int | None = None,
    allow_deleted_label: bool = False,
) -> TagEvent:
    """Validate, append the event and its tags, update the current labels. Caller holds the lock."""
    if kind not in KINDS:
        raise Invalid(f"unknown event kind '{kind}' (use one of {', '.join(KINDS)})")
    tagger = (tagger or "").strip()
    if not tagger:
        raise Invalid("a tagger is required")
    if not changes:
        raise Invalid("a tag event needs at least one item")
    if len(changes) > MAX_ITEMS_PER_EVENT:
        raise Invalid(f"at most {MAX_ITEMS_PER_EVENT} tags per event")
    assert dataset.id is not None
    normalised = normalise(changes, dataset.multi_label)
    item_ids = list(dict.fromkeys(c.item_id for c in normalised))
    await check_items(session, dataset.id, item_ids)
    await check_labels(
        session,
        dataset.id,
        {c.label_id for c in normalised if c.label_id is not None},
        allow_deleted_label,
    )
    now = utcnow()
    event = TagEvent(
        dataset_id=dataset.id,
        tagger=tagger,
        created_at=now,
        kind=kind,
        model_id=model_id,
        parameters=parameters or {},
        undoes_event_id=undoes_event_id,
        tag_count=len(normalised),
    )
    session.add(event)
    await session.flush()
    tag_rows = [
        {"event_id": event.id, "item_id": c.item_id, "op": c.op, "label_id": c.label_id} for c in normalised
    ]
    for start in range(0, len(tag_rows), CHUNK):
        # SQLModel gives table classes __table__ at class creation; mypy cannot see it
        await session.execute(Tag.__table__.insert(), tag_rows[start : start + CHUNK])  # type: ignore[attr-defined]

    before = await current_state(session, item_ids)
    after = dict(before)
    for change in normalised:
        after[change.item_id] = apply_op(after.get(change.item_id, frozenset()), change.op, change.label_id)
    changed = [i for i in item_ids if after.get(i, frozenset()) != before.get(i, frozenset())]
    for chunk in _chunks(changed):
        await session.execute(delete(CurrentLabel).where(col(CurrentLabel.item_id).in_(chunk)))
    label_rows = [
        {
            "item_id": item_id,
            "label_id": label_id,
            "dataset_id": dataset.id,
            "event_id": event.id,
            "tagger": tagger,
            "updated_at": now,
        }
        for item_id in changed
        for label_id in sorted(after[item_id])
    ]
    for start in range(0, len(label_rows), CHUNK):
        await session.execute(CurrentLabel.__table__.insert(), label_rows[start : start + CHUNK])  # type: ignore[attr-defined]
    gained: dict[int, list[int]] = {}  # class -> items given it: their rejections of it are cleared
    for item_id in changed:
        for label_id in after[item_id] - before.get(item_id, frozenset()):
            gained.setdefault(label_id, []).append(item_id)
    await rejections.clear_gained(session, dataset.id, event.id, gained)  # type: ignore[arg-type]
    return event


async def record_event(
    session: AsyncSession,
    request: TagRequest,
    *,
    commit: bool = True,
    allow_deleted_label: bool = False,
) -> TagEvent:
    """Record one labeling action on many items (the same op and label on each)."""
    return await record_changes(
        session,
        request.dataset_id,
        tagger=request.tagger,
        kind=request.kind,
        changes=request.changes(),
        model_id=request.model_id,
        parameters=request.parameters,
        commit=commit,
        allow_deleted_label=allow_deleted_label,
    )


async def record_changes(
    session: AsyncSession,
    dataset_id: int,
    *,
    tagger: str,
    kind: str,
    changes: Sequence[TagChange],
    model_id: int | None = None,
    parameters: dict[str, Any] | None = None,
    commit: bool = True,
    allow_deleted_label: bool = False,
) -> TagEvent:
    """Record one event whose tags may differ per item (imports, arg-max probability labeling)."""
    try:
        dataset = await lock_dataset(session, dataset_id)
        event = await apply_changes(
            session,
            dataset,
            tagger=tagger,
            kind=kind,
            changes=changes,
            model_id=model_id,
            parameters=parameters,
            allow_deleted_label=allow_deleted_label,
        )
        if commit:
            await session.commit()
        return event
    except BaseException:
        await session.rollback()
        raise


async def get_event(session: AsyncSession, event_id: int) -> TagEvent:
    event = await session.get(TagEvent, event_id)
    if event is None:
        raise NotFound(f"tag event {event_id} does not exist", id=event_id)
    return event


async def _item_states_around(
    session: AsyncSession, item_ids: Sequence[int], event_id: int
) -> tuple[dict[int, frozenset[int]], dict[int, frozenset[int]]]:
    """Each item's labels just before and just after ``event_id``."""
    before: dict[int, frozenset[int]] = {}
    after: dict[int, frozenset[int]] = {}
    for chunk in _chunks(item_ids):
        rows = await session.execute(
            select(col(Tag.item_id), col(Tag.op), col(Tag.label_id), col(Tag.event_id))
            .where(col(Tag.item_id).in_(chunk), col(Tag.event_id) <= event_id)
            .order_by(col(Tag.event_id), col(Tag.id))
        )
        for item_id, op, label_id, ev in rows.all():
            state = after.get(item_id, frozenset())
            if ev != event_id:
                before[item_id] = apply_op(before.get(item_id, frozenset()), op, label_id)
                after[item_id] = before[item_id]
            else:
                after[item_id] = apply_op(state, op, label_id)
    return before, after


def _restore(item_id: int, labels: frozenset[int]) -> list[TagChange]:
    if not labels:
        return [TagChange(item_id, "clear")]
    ordered = sorted(labels)
    if len(ordered) == 1:
        return [TagChange(item_id, "set", ordered[0])]
    return [TagChange(item_id, "clear")] + [TagChange(item_id, "add", label) for label in ordered]


async def undo_event(session: AsyncSession, event_id: int, tagger: str) -> TagEvent:
    """Undo an event by a new 'undo' event that restores what it changed.

    Items changed again since the event are left as they are and reported in the new event's
    parameters (``skipped_items``): an undo never overwrites later work. Undoing an undo is a redo.
    """
    target = await get_event(session, event_id)
    try:
        dataset = await lock_dataset(session, target.dataset_id)
        undone = await session.scalar(
            select(col(TagEvent.id)).where(col(TagEvent.undoes_event_id) == target.id)
        )
        if undone is not None:
            raise Conflict(f"event {event_id} was already undone by event {undone}", undone_by=undone)
        item_ids = list(
            dict.fromkeys(
                (await session.scalars(select(col(Tag.item_id)).where(col(Tag.event_id) == target.id))).all()
            )
        )
        before, after = await _item_states_around(session, item_ids, target.id)  # type: ignore[arg-type]
        current = await current_state(session, item_ids)
        changes: list[TagChange] = []
        skipped: list[int] = []
        for item_id in item_ids:
            was, became = before.get(item_id, frozenset()), after.get(item_id, frozenset())
            if current.get(item_id, frozenset()) != became:
                skipped.append(item_id)
            elif was != became:
                changes.extend(_restore(item_id, was))
        if not changes:
            reason = "every item it changed was changed again since" if skipped else "it changed nothing"
            raise Conflict(f"nothing to undo in event {event_id}: {reason}", skipped_items=skipped[:100])
        labels = {c.label_id for c in changes if c.label_id is not None}
        event = await apply_changes(
            session,
            dataset,
            tagger=tagger,
            kind="undo",
            changes=changes,
            parameters={
                "undoes": target.id,
                "undo_depth": undo_depth(target) + 1,
                "skipped_items": skipped[:1000],
                "skipped_count": len(skipped),
            },
            undoes_event_id=target.id,
            allow_deleted_label=bool(labels),
        )
        await rejections.on_undo(session, [target.id], event.id)  # type: ignore[list-item,arg-type]
        await session.commit()
        return event
    except BaseException:
        await session.rollback()
        raise


def undo_depth(event: TagEvent) -> int:
    """0 for a labeling action, 1 for its undo, 2 for the redo, ... (odd depths take work back)."""
    return int((event.parameters or {}).get("undo_depth", 0))


async def _recent_events(session: AsyncSession, dataset_id: int, tagger: str) -> list[TagEvent]:
    return list(
        (
            await session.scalars(
                select(TagEvent)
                .where(col(TagEvent.dataset_id) == dataset_id, col(TagEvent.tagger) == tagger)
                .order_by(col(TagEvent.id).desc())
                .limit(200)
            )
        ).all()
    )


async def _undone_ids(session: AsyncSession, event_ids: list[int]) -> set[int]:
    if not event_ids:
        return set()
    rows = await session.scalars(
        select(col(TagEvent.undoes_event_id)).where(col(TagEvent.undoes_event_id).in_(event_ids))
    )
    return {r for r in rows.all() if r is not None}


async def _undo_would_change(session: AsyncSession, event: TagEvent) -> bool:
    """Whether undoing the event now would change an item's labels, as ``undo_event`` decides: not
    where the event changed nothing (a repeated click), nor where every item it changed was changed
    again since (a revoke took its batch back, someone relabeled the items)."""
    item_ids = list(
        dict.fromkeys(
            (await session.scalars(select(col(Tag.item_id)).where(col(Tag.event_id) == event.id))).all()
        )
    )
    before, after = await _item_states_around(session, item_ids, event.id)  # type: ignore[arg-type]
    changed = [i for i in item_ids if before.get(i, frozenset()) != after.get(i, frozenset())]
    if not changed:
        return False
    current = await current_state(session, changed)
    return any(current.get(i, frozenset()) == after.get(i, frozenset()) for i in changed)


async def last_undoable_event(session: AsyncSession, dataset_id: int, tagger: str) -> TagEvent | None:
    """The tagger's latest event that did work (a labeling or a redo) and is not undone: Ctrl+Z.

    Events an undo would change nothing of are passed over, so Ctrl+Z never sticks on them: those
    that changed nothing (a double submit, the same label twice) and those whose items were all
    changed again since (a revoke took the batch back)."""
    recent = await _recent_events(session, dataset_id, tagger)
    undone = await _undone_ids(session, [e.id for e in recent if e.id is not None])
    for event in recent:
        if event.id not in undone and undo_depth(event) % 2 == 0 and await _undo_would_change(session, event):
            return event
    return None


async def last_redoable_event(session: AsyncSession, dataset_id: int, tagger: str) -> TagEvent | None:
    """The tagger's latest event if it is an undo not yet redone: Ctrl+Shift+Z redoes it."""
    recent = await _recent_events(session, dataset_id, tagger)
    if not recent or undo_depth(recent[0]) % 2 == 0:
        return None
    undone = await _undone_ids(session, [recent[0].id])  # type: ignore[list-item]
    return None if recent[0].id in undone else recent[0]


async def undo_last(session: AsyncSession, dataset_id: int, tagger: str) -> TagEvent:
    """Undo the tagger's latest labeling action in the dataset (Ctrl+Z); Conflict when there is none."""
    await get_dataset(session, dataset_id)
    target = await last_undoable_event(session, dataset_id, tagger)
    if target is None or target.id is None:
        raise Conflict(f"nothing to undo: {tagger} has no labeling action left to undo in this dataset")
    return await undo_event(session, target.id, tagger)


async def redo_last(session: AsyncSession, dataset_id: int, tagger: str) -> TagEvent:
    """Redo the tagger's latest undo in the dataset (Ctrl+Shift+Z); Conflict when it is not an undo."""
    await get_dataset(session, dataset_id)
    target = await last_redoable_event(session, dataset_id, tagger)
    if target is None or target.id is None:
        raise Conflict(f"nothing to redo: {tagger}'s latest action in this dataset is not an undo")
    return await undo_event(session, target.id, tagger)
