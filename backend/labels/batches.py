"""Labeling a batch someone previewed: apply what is still true, say what was left out and why.

A batch (a similarity page, an explorer selection) is chosen from a preview of the labels. Between
the preview and the click, other people keep labeling. ``record_batch`` decides, under the
dataset's write lock, which items to leave out:

- items that hold a label already, unless ``overwrite`` (a batch never silently replaces labels);
- items changed by any event after ``seen_event_id`` (the newest event the preview knew of), so
  someone else's work since the preview is never overwritten.

It records one event for the rest, with the counts in its parameters, or refuses with the counts
when nothing is left. The items the person left out of the batch (``rejected_item_ids``) are
recorded as rejected for its class in the same transaction (``backend.labels.rejections``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from backend.errors import Conflict, Invalid
from backend.labels import rejections
from backend.labels.events import CHUNK, TagRequest, apply_changes, current_state, lock_dataset
from backend.storage.tables import Tag, TagEvent


@dataclass
class BatchOutcome:
    event: TagEvent
    selected: int
    skipped_labeled: list[int] = field(default_factory=list)
    skipped_changed: list[int] = field(default_factory=list)
    rejected: int = 0  # items recorded as "not this class"

    def summary(self) -> str:
        """What happened, as a person reads it."""
        text = f"labeled {self.event.tag_count} of {self.selected} selected item(s) (event #{self.event.id})"
        if self.skipped_labeled:
            text += f"; {len(self.skipped_labeled)} already labeled were left as they are (choose overwrite)"
        if self.skipped_changed:
            text += (
                f"; {len(self.skipped_changed)} were relabeled since you looked (by someone else, or in "
                "another tab) and were left"
            )
        return text


async def latest_event_id(session: AsyncSession, dataset_id: int) -> int:
    """The newest event of the dataset (0 when none): what a preview saw."""
    return int(
        await session.scalar(select(func.max(col(TagEvent.id))).where(col(TagEvent.dataset_id) == dataset_id))
        or 0
    )


async def check_seen_event(session: AsyncSession, dataset_id: int, seen_event_id: int | None) -> None:
    """Refuse a ``seen_event_id`` no preview of the dataset gave (``latest_event_id``: 0 up to its
    newest event): one past it (made up, another dataset's) would find no item changed after it and
    switch the "changed since you looked" guard off without a word."""
    if seen_event_id is None:
        return
    newest = await latest_event_id(session, dataset_id)
    if not 0 <= seen_event_id <= newest:
        raise Invalid(
            f"seen_event_id {seen_event_id} is no event a preview of dataset {dataset_id} gave (its newest "
            f"is {newest}): pass the one the preview answered with",
            field="seen_event_id",
            newest_event_id=newest,
        )


async def changed_since(session: AsyncSession, item_ids: Sequence[int], event_id: int) -> set[int]:
    """Items that any event after ``event_id`` touched."""
    changed: set[int] = set()
    for start in range(0, len(item_ids), CHUNK):
        rows = await session.scalars(
            select(col(Tag.item_id)).where(
                col(Tag.item_id).in_(item_ids[start : start + CHUNK]), col(Tag.event_id) > event_id
            )
        )
        changed.update(rows.all())
    return changed


def guard_record(seen_event_id: int | None, labeled: int, changed: int) -> dict[str, int | None]:
    """What the event's parameters say of the guard: only what happened (plain batches stay as they were).
    The probability batch records its own guard with it too (``backend.guided.probability``)."""
    record = {"seen_event_id": seen_event_id, "skipped_labeled": labeled, "skipped_changed": changed}
    return {key: value for key, value in record.items() if value}


async def record_batch(
    session: AsyncSession,
    request: TagRequest,
    *,
    overwrite: bool = False,
    seen_event_id: int | None = None,
    refuse_changed: bool = False,
    rejected_item_ids: Sequence[int] = (),
) -> BatchOutcome:
    """Record the batch without overwriting labels (unless asked) or anyone's later work.

    ``refuse_changed``: any item changed after ``seen_event_id`` refuses the whole batch (409 with
    the count) instead of leaving those items out: two people accepting the same suggestion.
    ``rejected_item_ids``: items of the batch the person left out, recorded as rejected for its
    class (a batch that sets or adds a class; ignored for clear/remove)."""
    item_ids = list(dict.fromkeys(int(i) for i in request.item_ids))
    rejected = rejections.check_disjoint(item_ids, rejected_item_ids)
    try:
        dataset = await lock_dataset(session, request.dataset_id)
        await check_seen_event(session, request.dataset_id, seen_event_id)
        changed = (
            await changed_since(session, item_ids, seen_event_id) if seen_event_id is not None else set()
        )
        if changed and refuse_changed:
            raise Conflict(
                f"{len(changed)} of the {len(item_ids)} item(s) were labeled since this was suggested (by "
                "someone else, or in another tab): nothing labeled; ask for suggestions again",
                changed=len(changed),
                reason="labeled_since",
            )
        labeled: set[int] = set()
        replaces = request.op == "set" or (request.op == "add" and not dataset.multi_label)
        if replaces and request.label_id is not None and not overwrite:
            state = await current_state(session, item_ids)
            labeled = {i for i in item_ids if state.get(i) and i not in changed}
        keep = [i for i in item_ids if i not in changed and i not in labeled]
        if not keep:
            raise Conflict(
                f"nothing labeled: of {len(item_ids)} selected item(s), {len(labeled)} are labeled already "
                f"(choose overwrite to replace their labels) and {len(changed)} were changed since you "
                "looked (by someone else, or in another tab)",
                skipped_labeled=len(labeled),
                skipped_changed=len(changed),
            )
        event = await apply_changes(
            session,
            dataset,
            tagger=request.tagger,
            kind=request.kind,
            changes=TagRequest(
                request.dataset_id, request.tagger, keep, request.label_id, request.op
            ).changes(),
            model_id=request.model_id,
            parameters={**request.parameters, **guard_record(seen_event_id, len(labeled), len(changed))},
        )
        recorded = 0
        if rejected and request.label_id is not None and request.op in ("set", "add"):
            recorded = await rejections.record(
                session,
                request.dataset_id,
                event_id=event.id,  # type: ignore[arg-type]
                tagger=event.tagger,
                pairs=[(i, request.label_id) for i in rejected],
            )
            event.parameters = {**event.parameters, "rejected": recorded}
        await session.commit()
        return BatchOutcome(event, len(item_ids), sorted(labeled), sorted(changed), recorded)
    except BaseException:
        await session.rollback()
        raise
