"""The classifier's class for each item of a "label one by one" suggestion (or of a page of
several classes' probability batches), and accepting them.

Items to label one by one are the ones the classifier is least sure of, yet it is still right on
many of them. Showing its class beside each item lets a person press a key only where it is
wrong and accept the rest in one action: the same labels as one key per item, fewer keys. The
accepted items are one "probability" event naming the classifier (revocable with its batches).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sqlalchemy.ext.asyncio import AsyncSession

from backend.errors import Conflict, Invalid
from backend.guided.suggest_math import rows_of
from backend.guided.suggest_state import Outputs
from backend.labels.events import TagChange, current_state, record_changes
from backend.storage.tables import TagEvent


def predicted_classes(
    outputs: Outputs | None,
    item_ids: Sequence[int],
    classes: set[int],
    rejected: dict[int, set[int]] | None = None,
) -> list[int | None]:
    """Per item, the classifier's most probable class among ``classes`` (the dataset's classes
    now: a deleted class is never predicted) that a person has not rejected for it (``rejected``:
    class id -> item ids, as the probability batches leave them out: an item deselected from a
    batch of G2 is shown its next class, never G2 again); None where no such class is scored."""
    return [p[0] if p is not None else None for p in predictions(outputs, item_ids, classes, rejected)]


def predictions(
    outputs: Outputs | None,
    item_ids: Sequence[int],
    classes: set[int],
    rejected: dict[int, set[int]] | None = None,
) -> list[tuple[int, float] | None]:
    """``predicted_classes`` with each class's probability: their sum is how many of the classes
    shown a person can expect to accept as they are."""
    found: list[tuple[int, float] | None] = [None] * len(item_ids)
    if outputs is None or not len(outputs.item_ids) or not item_ids:
        return found
    columns = [c for c, label_id in enumerate(outputs.label_ids) if label_id in classes]
    if not columns:
        return found
    rows = rows_of(outputs.item_ids, np.asarray(item_ids, np.int64))
    for n, (item, row) in enumerate(zip(item_ids, rows, strict=True)):
        if row < 0:
            continue
        allowed = [c for c in columns if int(item) not in (rejected or {}).get(outputs.label_ids[c], ())]
        scores = np.asarray(outputs.probabilities[row, allowed], np.float64)
        if allowed and np.isfinite(scores).all():
            best = int(np.argmax(scores))
            found[n] = (int(outputs.label_ids[allowed[best]]), float(scores[best]))
    return found


@dataclass(frozen=True)
class Accepted:
    event: TagEvent | None
    skipped: int  # items of the suggestion labeled meanwhile (e.g. by a key on the page): left


async def label_as_predicted(
    session: AsyncSession,
    dataset_id: int,
    *,
    suggested: Sequence[int],
    predicted: Sequence[int | None],
    now: Sequence[int | None],
    item_ids: Sequence[int] | None,
    classifier_id: int,
    classes: set[int],
    tagger: str,
    suggestion: str = "label_items",
) -> Accepted:
    """Label items of the suggestion with the class it showed (``predicted``), as one event.

    ``now`` is the classifier's class for each item as its outputs say today: a prediction that
    changed since (inference ran again) refuses the whole accept (409), as a batch whose items
    changed does. ``item_ids`` None: every suggested item still unlabeled (those a person labeled
    on the page are left; 409 when none is left, as for an accept made twice); a list: exactly
    those, 409 when one of them was labeled meanwhile."""
    shown = dict(zip(suggested, predicted, strict=True))
    if item_ids is None:
        state = await current_state(session, list(shown))
        chosen = [i for i in shown if not state.get(i)]
        skipped = len(shown) - len(chosen)
        if not chosen:  # accepted already, or labeled meanwhile: as a probability batch, 409
            raise Conflict(
                f"every one of the suggestion's {len(shown)} item(s) holds a label already (labeled "
                "meanwhile, by someone else or an earlier accept): ask the queue again",
                reason="batch_changed",
                skipped_labeled=skipped,
            )
    else:
        chosen = list(dict.fromkeys(int(i) for i in item_ids))
        if not chosen:  # a list that keeps nothing is no accept (None: the unlabeled ones)
            raise Invalid("keep at least one item of the suggestion", field="item_ids")
        outside = [i for i in chosen if i not in shown]
        if outside:
            raise Invalid(
                f"{len(outside)} item(s) are not in this suggestion (e.g. {outside[0]})", field="item_ids"
            )
        state = await current_state(session, chosen)
        labeled = [i for i in chosen if state.get(i)]
        if labeled:
            raise Conflict(
                f"{len(labeled)} of these {len(chosen)} items were labeled meanwhile: ask the queue again",
                reason="batch_changed",
                count=len(labeled),
            )
        skipped = 0
    unknown = [i for i in chosen if shown[i] is None]
    if unknown:
        raise Invalid(
            f"the classifier showed no class for item {unknown[0]}: label it by hand", field="item_ids"
        )
    gone = sorted({int(shown[i] or 0) for i in chosen} - classes)
    if gone:
        raise Conflict(f"class {gone[0]} was deleted meanwhile: ask the queue again", reason="class_deleted")
    today = dict(zip(suggested, now, strict=True))
    moved = [i for i in chosen if today.get(i) != shown[i]]
    if moved:
        raise Conflict(
            f"the classifier's class changed for {len(moved)} of these items (its inference ran "
            "again): ask the queue again",
            reason="predictions_changed",
            count=len(moved),
        )
    if not chosen:
        return Accepted(None, skipped)
    event = await record_changes(
        session,
        dataset_id,
        tagger=tagger,
        kind="probability",
        model_id=classifier_id,
        changes=[TagChange(i, "set", int(shown[i] or 0)) for i in chosen],
        parameters={
            "suggestion": suggestion,
            "as_predicted": True,
            "suggested": len(shown),
            "accepted": len(chosen),
            "skipped_labeled": skipped,
        },
    )
    return Accepted(event, skipped)
