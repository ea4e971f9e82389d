"""Probability-threshold labeling from a classifier's saved outputs.

A classifier's inference directory holds ``probabilities.npy`` (float32, N x C),
``item_ids.npy`` (int64, N) and ``classes.json`` (a list of ``{"label_id": int, "name": str}``,
column order). Labeled items are never overwritten unless asked.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from backend.errors import Conflict, Invalid, NotFound
from backend.labels import rejections
from backend.labels.batches import changed_since, guard_record
from backend.labels.events import TagChange, current_state, lock_dataset, record_changes
from backend.storage import npy
from backend.storage.tables import CurrentLabel, TagEvent

PROBABILITIES, ITEM_IDS, CLASSES = "probabilities.npy", "item_ids.npy", "classes.json"


@dataclass
class ClassifierOutputs:
    item_ids: np.ndarray
    probabilities: np.ndarray
    label_ids: list[int]  # column -> label class id

    def column_of(self, label_id: int) -> int:
        try:
            return self.label_ids.index(label_id)
        except ValueError:
            raise Invalid(f"the classifier was not trained on label class {label_id}") from None


@dataclass
class Candidate:
    item_id: int
    label_id: int
    probability: float


def load_outputs(directory: Path) -> ClassifierOutputs:
    paths = [directory / name for name in (PROBABILITIES, ITEM_IDS, CLASSES)]
    if not all(p.exists() for p in paths):
        raise NotFound("this model has no class probabilities for the dataset yet: run inference first")
    probabilities = npy.load(paths[0], mmap_mode="r")
    item_ids = npy.load(paths[1])
    classes = json.loads(paths[2].read_text())
    if probabilities.shape != (len(item_ids), len(classes)):
        raise Invalid(
            f"probabilities {probabilities.shape} do not match {len(item_ids)} items x {len(classes)} classes"
        )
    return ClassifierOutputs(item_ids, np.asarray(probabilities), [int(c["label_id"]) for c in classes])


def check_threshold(threshold: float) -> None:
    if not 0.0 <= threshold <= 1.0:
        raise Invalid(f"threshold must be between 0 and 1, got {threshold}")


def check_expected_count(expected_count: int | None) -> None:
    """A count the caller confirmed is never negative: one that is could match no batch, and its
    409 ("look at it again") would send a script round for ever."""
    if expected_count is not None and expected_count < 0:
        raise Invalid(f"expected_count must be >= 0, got {expected_count}", field="expected_count")


def check_confirm_over(confirm_over: int | None) -> None:
    """A batch size that needs a confirmation is never negative: one that is is bad input, not "confirm
    every batch" (it was read as 0 without a word)."""
    if confirm_over is not None and confirm_over < 0:
        raise Invalid(f"confirm_over must be >= 0, got {confirm_over}", field="confirm_over")


def candidates(
    outputs: ClassifierOutputs,
    threshold: float,
    *,
    label_id: int | None = None,
    exclude: set[int] | frozenset = frozenset(),
) -> list[Candidate]:
    """Items whose probability is at or above ``threshold``, most probable first.

    With ``label_id`` the items scored for that class; without it every item's arg-max class.
    """
    check_threshold(threshold)
    keep = ~np.isin(outputs.item_ids, np.fromiter(exclude, dtype=np.int64, count=len(exclude)))
    if label_id is not None:
        column = outputs.column_of(label_id)
        scores = outputs.probabilities[:, column]
        labels = np.full(len(scores), label_id)
    else:
        best = outputs.probabilities.argmax(axis=1)
        scores = outputs.probabilities[np.arange(len(best)), best]
        labels = np.asarray(outputs.label_ids)[best]
    rows = np.nonzero(keep & (scores >= threshold))[0]
    rows = rows[np.argsort(-scores[rows], kind="stable")]
    return [Candidate(int(outputs.item_ids[r]), int(labels[r]), float(scores[r])) for r in rows]


async def labeled_item_ids(session: AsyncSession, dataset_id: int) -> set[int]:
    rows = await session.scalars(
        select(col(CurrentLabel.item_id)).where(col(CurrentLabel.dataset_id) == dataset_id).distinct()
    )
    return set(rows.all())


async def apply_threshold(
    session: AsyncSession,
    dataset_id: int,
    outputs: ClassifierOutputs,
    *,
    tagger: str,
    model_id: int,
    threshold: float,
    label_id: int | None = None,
    overwrite: bool = False,
) -> TagEvent | None:
    """Label every candidate in one event of kind 'probability'; None when nothing passes."""
    exclude = set() if overwrite else await labeled_item_ids(session, dataset_id)
    chosen = candidates(outputs, threshold, label_id=label_id, exclude=exclude)
    return await record_batch(
        session,
        dataset_id,
        chosen,
        tagger=tagger,
        model_id=model_id,
        parameters={"threshold": threshold, "label_id": label_id, "overwrite": overwrite},
    )


async def record_batch(
    session: AsyncSession,
    dataset_id: int,
    chosen: list[Candidate],
    *,
    tagger: str,
    model_id: int,
    parameters: dict[str, Any],
    rejected: list[tuple[int, int]] | None = None,
    seen_event_id: int | None = None,
) -> TagEvent | None:
    """The chosen candidates as one event of kind 'probability'; None when there are none.

    ``seen_event_id`` (the newest event the preview knew of, checked by the caller with
    ``check_seen_event``): items any later event changed are left out, counted in the event's
    ``skipped_changed`` as a similarity batch does (``backend.labels.batches``): someone else's
    label given since the preview is never overwritten.

    ``rejected``: (item, class) pairs of the batch the person left out, recorded as rejections
    (``backend.labels.rejections``) in the same transaction.

    Items that hold their class already (an overwrite batch applied a second time, by someone else
    or twice) are left out, counted in ``skipped_unchanged``: the event holds only what it changed,
    so nobody's label is re-recorded as the batch's (its tagger and model would take it over, and a
    revoke of the batch could not give it back). A batch whose every item holds its class already
    is refused (409), nothing recorded."""
    if not chosen:
        return None
    try:
        await lock_dataset(session, dataset_id)  # the labels read stay true until the event
        ids = [c.item_id for c in chosen]
        changed = await changed_since(session, ids, seen_event_id) if seen_event_id is not None else set()
        state = await current_state(session, ids)
    except BaseException:
        await session.rollback()
        raise
    kept = [c for c in chosen if c.item_id not in changed]
    changing = [c for c in kept if state.get(c.item_id, frozenset()) != frozenset({c.label_id})]
    unchanged = len(kept) - len(changing)
    if not changing:
        await session.rollback()  # release the lock
        if changed:
            raise Conflict(
                f"nothing labeled: of the batch's {len(chosen)} item(s), {len(changed)} were changed "
                f"since you looked (by someone else, or in another tab) and {unchanged} hold their class "
                "already: look at it again",
                reason="batch_changed",
                skipped_unchanged=unchanged,
                skipped_changed=len(changed),
            )
        raise Conflict(
            f"nothing labeled: the batch's {len(chosen)} item(s) hold their class already (labeled "
            "meanwhile, by someone else or an earlier apply): look at it again",
            reason="batch_changed",
            skipped_unchanged=unchanged,
        )
    event = await record_changes(
        session,
        dataset_id,
        tagger=tagger,
        kind="probability",
        changes=[TagChange(c.item_id, "set", c.label_id) for c in changing],
        model_id=model_id,
        parameters={
            **parameters,
            "all_classes": parameters.get("label_id") is None,
            "count": len(changing),
            **({"skipped_unchanged": unchanged} if unchanged else {}),
            **guard_record(seen_event_id, 0, len(changed)),
        },
        commit=not rejected,
    )
    if rejected:
        try:
            assert event.id is not None, "record_changes flushes the event"
            count = await rejections.record(
                session,
                dataset_id,
                event_id=event.id,
                tagger=event.tagger,
                pairs=rejected,
            )
            event.parameters = {**event.parameters, "rejected": count}
            await session.commit()
        except BaseException:
            await session.rollback()
            raise
    return event
