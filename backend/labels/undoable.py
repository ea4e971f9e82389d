"""Which events an undo would change nothing of: the History page says so on the row instead of
offering an Undo button that answers "nothing to undo in event 59" (its labels were all revoked
or changed since).

``undo_event`` undoes an item only where the item still holds what the event left it. That state
is read here from the event's own tag and the item's current labels, in one query for the page:
an item with one tag in the event holds what it left if the current labels are that ``set``'s
label alone, none after a ``clear``, hold an ``add``'s label, or lack a ``remove``'s. An item with
several tags in the event (an undo that put several labels back) counts as held: the row keeps its
button rather than claim nothing is left. So "nothing left" is only said where it is certain.

A review's "keep" sets the label the item holds: it changed nothing, and its undo never does
either. Other events that changed nothing (the same label twice) keep their button: telling them
needs each item's labels before the event, a replay the page does not pay for.
"""

from __future__ import annotations

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlmodel import col

from backend.labels.events import CHUNK
from backend.storage.tables import CurrentLabel, Tag, TagEvent

CHANGED = "nothing left to undo: its labels were changed since"
NOTHING = "nothing to undo: it changed no item"
KEPT = "nothing to undo: a keep changes no label"


def _revoked(by: int) -> str:
    return f"nothing left to undo: revoked by #{by}"


async def nothing_left(
    session: AsyncSession, events: list[TagEvent], undone: dict[int, int]
) -> dict[int, str]:
    """Event id -> why an undo of it would change nothing, for those of ``events`` (not undone:
    their rows say so already) where no item holds what the event left it any more."""
    asked = [e for e in events if e.id is not None and e.id not in undone]
    if not asked:
        return {}
    none = {int(e.id or 0): NOTHING for e in asked if not e.tag_count}
    none.update((int(e.id or 0), KEPT) for e in asked if _a_keep(e))
    ids = [int(e.id or 0) for e in asked if int(e.id or 0) not in none]
    held: set[int] = set()
    for start in range(0, len(ids), CHUNK):
        held.update(await _held(session, ids[start : start + CHUNK]))
    gone = [i for i in ids if i not in held]
    reasons = await _revokes_of(session, asked[0].dataset_id, gone) if gone else {}
    return {**none, **{i: reasons.get(i, CHANGED) for i in gone}}


def _a_keep(event: TagEvent) -> bool:
    return event.kind == "review" and (event.parameters or {}).get("action") == "keep"


async def _held(session: AsyncSession, event_ids: list[int]) -> set[int]:
    """Those of ``event_ids`` with an item that still holds what the event left it."""
    tag, other = aliased(Tag), aliased(Tag)
    current = aliased(CurrentLabel)
    on_item = col(current.item_id) == col(tag.item_id)
    has_label = exists().where(on_item, col(current.label_id) == col(tag.label_id))
    has_other = exists().where(on_item, col(current.label_id) != col(tag.label_id))
    has_any = exists().where(on_item)
    several = exists().where(
        col(other.event_id) == col(tag.event_id),
        col(other.item_id) == col(tag.item_id),
        col(other.id) != col(tag.id),
    )
    as_left = or_(
        and_(col(tag.op) == "set", has_label, ~has_other),
        and_(or_(col(tag.op) == "clear", and_(col(tag.op) == "set", col(tag.label_id).is_(None))), ~has_any),
        and_(col(tag.op) == "add", has_label),
        and_(col(tag.op) == "remove", ~has_label),
        several,
    )
    rows = await session.scalars(
        select(col(TagEvent.id)).where(
            col(TagEvent.id).in_(event_ids),
            exists().where(col(tag.event_id) == col(TagEvent.id), as_left),
        )
    )
    return {int(i or 0) for i in rows.all()}


async def _revokes_of(session: AsyncSession, dataset_id: int, event_ids: list[int]) -> dict[int, str]:
    """Event id -> "revoked by" the latest revoke (not undone) that lists it in its ``revokes``."""
    undo = aliased(TagEvent)
    rows = await session.execute(
        select(col(TagEvent.id), col(TagEvent.parameters)).where(
            col(TagEvent.dataset_id) == dataset_id,
            col(TagEvent.kind) == "undo",
            col(TagEvent.undoes_event_id).is_(None),  # a revoke: an undo of no single event
            col(TagEvent.id) > min(event_ids),
            ~exists().where(col(undo.undoes_event_id) == col(TagEvent.id)),
        )
    )
    wanted = set(event_ids)
    found: dict[int, int] = {}
    for revoke_id, parameters in rows.tuples().all():
        for event_id in (parameters or {}).get("revokes") or []:
            if event_id in wanted and int(revoke_id or 0) > found.get(event_id, 0):
                found[int(event_id)] = int(revoke_id or 0)
    return {i: _revoked(by) for i, by in found.items()}
