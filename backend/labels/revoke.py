"""Revoking a batch of machine-made labels: every label one model (or one kind of batch in a time
range) produced, taken back in one 'undo' event.

A model's labels are the events of ``MODEL_LABEL_KINDS`` that name it; a 'review' event names the
model whose suspects it answers, but the keep or relabel in it is a person's decision and stays.

The rule, per item the chosen events touched, on its chain of decisions (``backend.labels.provenance``:
the events that decided its labels, followed back through undos, so labels an undo of a revoke or a
redo put back are still the batch's): if the chain ends in chosen events, the item's labels go back
to what they were before that run of them; otherwise someone changed it since, and it is left alone
and counted as skipped. So a revoke never overwrites later work, undoing the revoke puts the labels
back, and a revoke after that takes them back again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Select, and_, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlmodel import col

from backend.datasets.service import get_dataset
from backend.errors import Conflict, Invalid
from backend.labels import provenance, rejections
from backend.labels.events import (
    CHUNK,
    KINDS,
    TagChange,
    _restore,
    apply_changes,
    current_state,
    lock_dataset,
)
from backend.labels.provenance import MODEL_LABEL_KINDS
from backend.models.queries import get_model
from backend.storage.tables import Tag, TagEvent

REVOCABLE_KINDS = tuple(k for k in KINDS if k != "undo")
MAX_LISTED = 1000  # event and item ids kept in the revoke event's parameters


@dataclass
class RevokeResult:
    """The 'undo' event recorded, and what it did."""

    event: TagEvent
    revoked: int  # items whose labels went back
    skipped: int  # items changed since by another event: left as they are
    event_ids: list[int]  # the events whose labels were taken back (at most MAX_LISTED)
    event_count: int


async def _chosen_events(session: AsyncSession, query: Select) -> list[int]:
    """Ids of the chosen events, undone or not: an undone batch may be redone, and its labels are
    followed through the items' chains of decisions."""
    return [int(i) for i in (await session.scalars(query.order_by(col(TagEvent.id)))).all()]


async def _touched_items(session: AsyncSession, event_ids: list[int]) -> list[int]:
    items: dict[int, None] = {}
    for start in range(0, len(event_ids), CHUNK):
        rows = await session.scalars(
            select(col(Tag.item_id)).where(col(Tag.event_id).in_(event_ids[start : start + CHUNK])).distinct()
        )
        items.update(dict.fromkeys(rows.all()))
    return list(items)


@dataclass
class _Plan:
    changes: list[TagChange]
    skipped: list[int]  # items whose chain holds a chosen event under a later decision
    revoked: int  # items whose labels go back
    taken: set[int]  # the chosen events whose labels go back on some item


async def _plan(session: AsyncSession, item_ids: list[int], chosen: set[int]) -> _Plan:
    """The changes that take the chosen events' labels back, the skipped items, and how many items."""
    plan = _Plan([], [], 0, set())

    def selects(event: provenance.EventFacts) -> bool:
        return event.id in chosen

    for start in range(0, len(item_ids), CHUNK):
        chunk = item_ids[start : start + CHUNK]
        chains = await provenance.chains(session, chunk)
        current = await current_state(session, chunk)
        for item_id in chunk:
            chain = chains.get(item_id, ())
            run = provenance.trailing_run(chain, selects)
            if run == len(chain):  # its labels are not the chosen events' (any more)
                if any(selects(d.event) for d in chain):
                    plan.skipped.append(item_id)  # someone decided on top of them since
                continue
            before = provenance.labels_of(chain[:run])
            if before != current.get(item_id, frozenset()):
                plan.changes.extend(_restore(item_id, before))
                plan.revoked += 1
                plan.taken.update(d.event.id for d in chain[run:])
    return plan


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
        chosen = await _chosen_events(session, query)
        if not chosen:
            raise Conflict(f"nothing to revoke: {what} has no labeling event in dataset {dataset_id}")
        plan = await _plan(session, await _touched_items(session, chosen), set(chosen))
        skipped = plan.skipped
        if not plan.changes:
            left = f" ({len(skipped)} item(s) relabeled since by another event stay)" if skipped else ""
            raise Conflict(
                f"nothing to revoke: no item of dataset {dataset_id} still holds the labels of {what}: they "
                f"were revoked, undone or changed since{left}",
                skipped_count=len(skipped),
            )
        event_ids = sorted(plan.taken)
        event = await apply_changes(
            session,
            dataset,
            tagger=tagger,
            kind="undo",
            changes=plan.changes,
            parameters={
                **parameters,
                "revokes": event_ids[:MAX_LISTED],
                "revoked_event_count": len(event_ids),
                "revoked_count": plan.revoked,
                "skipped_items": skipped[:MAX_LISTED],
                "skipped_count": len(skipped),
                "undo_depth": 1,  # takes work back: Ctrl+Shift+Z (redo) puts the labels back
            },
            allow_deleted_label=True,  # an item may go back to a class deleted since
        )
        # the rejections of the batches it took back, and of the others not undone, are cleared
        live = set(chosen) - set(await undone_by(session, chosen))
        await rejections.on_undo(session, sorted(plan.taken | live), event.id)  # type: ignore[arg-type]
        await session.commit()
        return RevokeResult(event, plan.revoked, len(skipped), event_ids[:MAX_LISTED], len(event_ids))
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
    items: int  # items whose labels come from one of the model's label events
    events: int  # the events they come from


async def labels_still_models(
    session: AsyncSession, *, dataset_id: int | None = None, model_id: int | None = None
) -> list[ModelLabels]:
    """Per dataset and model, the labels still the model's: items whose labels come from one of its
    ``MODEL_LABEL_KINDS`` events (what ``revoke_model`` would take back). Most are items whose latest
    change is that event, not undone; those whose latest change is an undo or a revoke are followed
    back through their chains of decisions (an undone revoke, a redone batch)."""
    items: dict[tuple[int, int], int] = {}
    events: dict[tuple[int, int], set[int]] = {}
    later, undo, latest = aliased(Tag), aliased(TagEvent), aliased(TagEvent)
    newest = (  # the item's latest event (correlated by hand: it is used two levels down too)
        select(func.max(col(later.event_id)))
        .where(col(later.item_id) == col(Tag.item_id))
        .correlate(Tag)
        .scalar_subquery()
    )
    by_model: list[ColumnElement[bool]] = [
        col(TagEvent.model_id).is_not(None),
        col(TagEvent.kind).in_(MODEL_LABEL_KINDS),
    ]
    if dataset_id is not None:
        by_model.append(col(TagEvent.dataset_id) == dataset_id)
    if model_id is not None:
        by_model.append(col(TagEvent.model_id) == model_id)
    latest_is_theirs = (
        select(
            col(TagEvent.dataset_id),
            col(TagEvent.model_id),
            col(TagEvent.id),
            func.count(col(Tag.item_id).distinct()),
        )
        .join(Tag, col(Tag.event_id) == col(TagEvent.id))
        .where(
            *by_model,
            col(Tag.event_id) == newest,
            ~exists().where(col(undo.undoes_event_id) == col(TagEvent.id)),
        )
        .group_by(col(TagEvent.dataset_id), col(TagEvent.model_id), col(TagEvent.id))
    )

    def count(key: tuple[int, int], event_id: int, how_many: int) -> None:
        items[key] = items.get(key, 0) + how_many
        events.setdefault(key, set()).add(event_id)

    for d, m, event_id, how_many in (await session.execute(latest_is_theirs)).tuples().all():
        count((int(d), int(m or 0)), int(event_id or 0), int(how_many))  # stored rows: ids are set

    # Items a model labeled whose latest change is an undo. "Undo revoke" on its own is answered in
    # SQL: such an item has the labels of its latest event before the revoke, and when that is a
    # model's batch (an event, not an undo) the item's chain ends there (provenance.chain_of), so the
    # batch is the source. The other items' chains are followed from their histories.
    revoke_event, maker, earlier = aliased(TagEvent), aliased(TagEvent), aliased(Tag)
    before_revoke = (
        select(func.max(col(earlier.event_id)))
        .where(col(earlier.item_id) == col(Tag.item_id), col(earlier.event_id) < col(revoke_event.id))
        .correlate(Tag, revoke_event)
        .scalar_subquery()
    )
    latest_is_an_undo = (
        select(col(Tag.item_id), col(maker.dataset_id), col(maker.model_id), col(maker.id), col(maker.kind))
        .join(TagEvent, col(TagEvent.id) == col(Tag.event_id))
        .join(latest, col(latest.id) == newest)
        .outerjoin(
            revoke_event,
            and_(
                col(revoke_event.id) == col(latest.undoes_event_id),
                col(revoke_event.kind) == "undo",
                col(revoke_event.undoes_event_id).is_(None),  # a revoke: an undo of no single event
            ),
        )
        .outerjoin(maker, col(maker.id) == before_revoke)
        .where(*by_model, col(latest.kind) == "undo")
        .distinct()
    )
    followed: list[int] = []
    seen: set[int] = set()
    for item, d, m, event_id, kind in (await session.execute(latest_is_an_undo)).tuples().all():
        if item in seen:
            continue
        seen.add(int(item))
        if m is None or kind not in MODEL_LABEL_KINDS:
            followed.append(int(item))
        elif model_id is None or m == model_id:
            count((int(d), int(m)), int(event_id or 0), 1)  # a stored row: its id is set
    for start in range(0, len(followed), CHUNK):
        for chain in (await provenance.chains(session, followed[start : start + CHUNK])).values():
            source = provenance.source(chain)
            if source is None or not source.model_made or source.model_id is None:
                continue
            if model_id is not None and source.model_id != model_id:
                continue
            count((source.dataset_id, source.model_id), source.id, 1)
    return [ModelLabels(d, m, items[(d, m)], len(events[(d, m)])) for d, m in sorted(items)]


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
    found: dict[int, int] = {}
    for start in range(0, len(event_ids), CHUNK):
        rows = await session.execute(
            select(col(TagEvent.undoes_event_id), col(TagEvent.id)).where(
                col(TagEvent.undoes_event_id).in_(event_ids[start : start + CHUNK])
            )
        )
        found.update(
            (int(target), int(by))
            for target, by in rows.tuples().all()
            if target is not None and by is not None
        )
    return found
