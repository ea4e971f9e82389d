"""Revoking a batch of machine-made labels: every label one model (or one kind of batch in a time
range) produced, taken back in one 'undo' event.

A model's labels are the events of ``MODEL_LABEL_KINDS`` that name it; a 'review' event names the
model whose suspects it answers, but the keep or relabel in it is a person's decision and stays.

The rule, per item the chosen events touched: if the item's latest change is one of those events,
its labels go back to what they were just before the run of chosen events that ends its history;
otherwise someone changed it since, and it is left alone and counted as skipped. So a revoke never
overwrites later work, and revoking the revoke (undo of the undo event) puts the labels back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlmodel import col

from backend.datasets.service import get_dataset
from backend.errors import Conflict, Invalid
from backend.labels import rejections
from backend.labels.events import (
    CHUNK,
    KINDS,
    TagChange,
    _restore,
    apply_changes,
    current_state,
    lock_dataset,
)
from backend.labels.replay import apply_op
from backend.models.queries import get_model
from backend.storage.tables import Tag, TagEvent

REVOCABLE_KINDS = tuple(k for k in KINDS if k != "undo")
# The kinds of event a model writes labels with: batches whose items the model picked (a similarity
# ranking by its features; a probability, predicted-classes or auto-label-the-rest batch by its class
# probabilities; a selection in its projection on the Explorer). Listed, not "every event with its id":
# a 'review' event carries the id of the model that ranked the suspects, but its keep or relabel is a
# person's decision, and revoking the model must not take it back; 'manual' and 'import' are people's.
MODEL_LABEL_KINDS = ("similarity", "probability", "explorer")
MAX_LISTED = 1000  # event and item ids kept in the revoke event's parameters


@dataclass
class RevokeResult:
    """The 'undo' event recorded, and what it did."""

    event: TagEvent
    revoked: int  # items whose labels went back
    skipped: int  # items changed since by another event: left as they are
    event_ids: list[int]  # the events whose labels were taken back (at most MAX_LISTED)
    event_count: int


async def _live_events(session: AsyncSession, query: Select) -> list[int]:
    """Ids of the chosen events that are not undone already."""
    ids = list((await session.scalars(query.order_by(col(TagEvent.id)))).all())
    undone: set[int] = set()
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        rows = await session.scalars(
            select(col(TagEvent.undoes_event_id)).where(col(TagEvent.undoes_event_id).in_(chunk))
        )
        undone.update(r for r in rows.all() if r is not None)
    return [i for i in ids if i not in undone]


async def _touched_items(session: AsyncSession, event_ids: list[int]) -> list[int]:
    items: dict[int, None] = {}
    for start in range(0, len(event_ids), CHUNK):
        rows = await session.scalars(
            select(col(Tag.item_id)).where(col(Tag.event_id).in_(event_ids[start : start + CHUNK])).distinct()
        )
        items.update(dict.fromkeys(rows.all()))
    return list(items)


async def _plan(
    session: AsyncSession, item_ids: list[int], chosen: set[int]
) -> tuple[list[TagChange], list[int], int]:
    """The changes that take the chosen events' labels back, the skipped items, and how many items."""
    changes: list[TagChange] = []
    skipped: list[int] = []
    revoked = 0
    for start in range(0, len(item_ids), CHUNK):
        chunk = item_ids[start : start + CHUNK]
        rows = await session.execute(
            select(col(Tag.item_id), col(Tag.event_id), col(Tag.op), col(Tag.label_id))
            .where(col(Tag.item_id).in_(chunk))
            .order_by(col(Tag.event_id), col(Tag.id))
        )
        history: dict[int, list[tuple[int, str, int | None]]] = {}
        for item_id, event_id, op, label_id in rows.all():
            history.setdefault(item_id, []).append((event_id, op, label_id))
        current = await current_state(session, chunk)
        for item_id in chunk:
            tags = history.get(item_id, [])
            if not tags or tags[-1][0] not in chosen:
                skipped.append(item_id)
                continue
            run_start = len(tags)
            while run_start > 0 and tags[run_start - 1][0] in chosen:
                run_start -= 1
            before: frozenset[int] = frozenset()
            for _event, op, label_id in tags[:run_start]:
                before = apply_op(before, op, label_id)
            if before != current.get(item_id, frozenset()):
                changes.extend(_restore(item_id, before))
                revoked += 1
    return changes, skipped, revoked


async def _revoke(
    session: AsyncSession,
    dataset_id: int,
    query: Select,
    *,
    tagger: str,
    what: str,
    parameters: dict[str, object],
) -> RevokeResult:
    try:
        dataset = await lock_dataset(session, dataset_id)
        event_ids = await _live_events(session, query)
        if not event_ids:
            raise Conflict(f"nothing to revoke: {what} has no labeling event left in dataset {dataset_id}")
        items = await _touched_items(session, event_ids)
        changes, skipped, revoked = await _plan(session, items, set(event_ids))
        if not changes:
            raise Conflict(
                f"nothing to revoke: every one of the {len(skipped)} item(s) {what} labeled was changed "
                "since by another event (or already holds its earlier labels)",
                skipped_count=len(skipped),
            )
        event = await apply_changes(
            session,
            dataset,
            tagger=tagger,
            kind="undo",
            changes=changes,
            parameters={
                **parameters,
                "revokes": event_ids[:MAX_LISTED],
                "revoked_event_count": len(event_ids),
                "revoked_count": revoked,
                "skipped_items": skipped[:MAX_LISTED],
                "skipped_count": len(skipped),
                "undo_depth": 1,  # takes work back: Ctrl+Shift+Z (redo) puts the labels back
            },
            allow_deleted_label=True,  # an item may go back to a class deleted since
        )
        await rejections.on_undo(session, event_ids, event.id)  # type: ignore[arg-type]
        await session.commit()
        return RevokeResult(event, revoked, len(skipped), event_ids[:MAX_LISTED], len(event_ids))
    except BaseException:
        await session.rollback()
        raise


async def revoke_model(session: AsyncSession, dataset_id: int, model_id: int, *, tagger: str) -> RevokeResult:
    """Take back every label ``model_id`` produced in the dataset that is still the model's (its
    ``MODEL_LABEL_KINDS`` events: the reviews that name it stay)."""
    await get_dataset(session, dataset_id)
    model = await get_model(session, model_id)
    query = select(col(TagEvent.id)).where(
        col(TagEvent.dataset_id) == dataset_id,
        col(TagEvent.model_id) == model_id,
        col(TagEvent.kind).in_(MODEL_LABEL_KINDS),
    )
    if model.dataset_id != dataset_id and not await session.scalar(query.limit(1)):
        raise Invalid(
            f"model {model_id} belongs to dataset {model.dataset_id} and labeled nothing in dataset "
            f"{dataset_id}"
        )
    return await _revoke(
        session,
        dataset_id,
        query,
        tagger=tagger,
        what=f"model {model_id}",
        parameters={"revoke": "model", "model_id": model_id},
    )


async def revoke_kind(
    session: AsyncSession,
    dataset_id: int,
    kind: str,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    tagger: str,
) -> RevokeResult:
    """Take back every label the events of one kind (similarity, probability, ...) made in a time range."""
    if kind not in REVOCABLE_KINDS:
        raise Invalid(f"cannot revoke events of kind '{kind}' (use one of {', '.join(REVOCABLE_KINDS)})")
    if since and until and since > until:
        raise Invalid("'since' must not be after 'until'")
    await get_dataset(session, dataset_id)
    query = select(col(TagEvent.id)).where(col(TagEvent.dataset_id) == dataset_id, col(TagEvent.kind) == kind)
    if since:
        query = query.where(col(TagEvent.created_at) >= since)
    if until:
        query = query.where(col(TagEvent.created_at) <= until)
    span = f" from {since.isoformat() if since else 'the start'} to {until.isoformat() if until else 'now'}"
    return await _revoke(
        session,
        dataset_id,
        query,
        tagger=tagger,
        what=f"'{kind}' labeling{span}",
        parameters={
            "revoke": "kind",
            "revoked_kind": kind,
            "since": since.isoformat() if since else None,
            "until": until.isoformat() if until else None,
        },
    )


async def revoke_labels(
    session: AsyncSession,
    dataset_id: int,
    *,
    tagger: str,
    model_id: int | None = None,
    kind: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> RevokeResult:
    """What every door calls: a model's labels, or a kind of batch in a time range (not both)."""
    if (model_id is None) == (kind is None):
        raise Invalid("give a model or a kind of event (with since/until), not both and not neither")
    if model_id is not None:
        if since or until:
            raise Invalid("since/until go with a kind; a model's labels are revoked whenever they were made")
        return await revoke_model(session, dataset_id, model_id, tagger=tagger)
    assert kind is not None
    return await revoke_kind(session, dataset_id, kind, since=since, until=until, tagger=tagger)


@dataclass(frozen=True)
class ModelLabels:
    """What a revoke of one model in one dataset would take back."""

    dataset_id: int
    model_id: int
    items: int  # items whose latest change is one of the model's label events
    events: int  # the events those changes come from


async def labels_still_models(
    session: AsyncSession, *, dataset_id: int | None = None, model_id: int | None = None
) -> list[ModelLabels]:
    """Per dataset and model, the labels still the model's: items whose latest change is one of its
    ``MODEL_LABEL_KINDS`` events, not undone (what ``revoke_model`` would take back)."""
    later, undo = aliased(Tag), aliased(TagEvent)
    newest = (
        select(func.max(col(later.event_id))).where(col(later.item_id) == col(Tag.item_id)).scalar_subquery()
    )
    query = (
        select(
            col(TagEvent.dataset_id),
            col(TagEvent.model_id),
            func.count(col(Tag.item_id).distinct()),
            func.count(col(Tag.event_id).distinct()),
        )
        .join(Tag, col(Tag.event_id) == col(TagEvent.id))
        .where(
            col(TagEvent.model_id).is_not(None),
            col(TagEvent.kind).in_(MODEL_LABEL_KINDS),
            col(Tag.event_id) == newest,
            ~exists().where(col(undo.undoes_event_id) == col(TagEvent.id)),
        )
        .group_by(col(TagEvent.dataset_id), col(TagEvent.model_id))
        .order_by(col(TagEvent.dataset_id), col(TagEvent.model_id))
    )
    if dataset_id is not None:
        query = query.where(col(TagEvent.dataset_id) == dataset_id)
    if model_id is not None:
        query = query.where(col(TagEvent.model_id) == model_id)
    rows = (await session.execute(query)).tuples().all()
    return [ModelLabels(int(d), int(m or 0), int(items), int(events)) for d, m, items, events in rows]


async def any_model_labeled(session: AsyncSession, dataset_id: int) -> bool:
    """Whether a model ever labeled the dataset (so an empty ``labels_still_models`` means all taken back)."""
    query = select(col(TagEvent.id)).where(
        col(TagEvent.dataset_id) == dataset_id,
        col(TagEvent.model_id).is_not(None),
        col(TagEvent.kind).in_(MODEL_LABEL_KINDS),
    )
    return await session.scalar(query.limit(1)) is not None


async def undone_by(session: AsyncSession, event_ids: list[int]) -> dict[int, int]:
    """Event id -> the id of the event that undid it, for those of ``event_ids`` that are undone."""
    if not event_ids:
        return {}
    rows = await session.execute(
        select(col(TagEvent.undoes_event_id), col(TagEvent.id)).where(
            col(TagEvent.undoes_event_id).in_(event_ids)
        )
    )
    return {
        int(target): int(by) for target, by in rows.tuples().all() if target is not None and by is not None
    }
