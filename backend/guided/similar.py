"""Labeling a batch found by similarity: one event that records how it was found."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from backend.errors import Invalid
from backend.labels.batches import record_batch
from backend.labels.events import TagRequest
from backend.storage.tables import TagEvent


async def label_similar_batch(
    session: AsyncSession,
    dataset_id: int,
    *,
    tagger: str,
    model_id: int,
    query_item_ids: list[int],
    item_ids: list[int],
    label_id: int,
    shown: int,
    mode: str = "mean",
    seen_event_id: int | None = None,
    rejected_item_ids: list[int] | None = None,
) -> TagEvent:
    """Label the accepted items of a similarity ranking (the shown ones minus those deselected).

    Items someone changed after ``seen_event_id`` (the newest event when the page was shown) are left
    out and counted in the event's ``skipped_changed``: see ``backend.labels.batches``. The shown
    items deselected (``rejected_item_ids``) are recorded as rejected for ``label_id``."""
    if shown < len(item_ids):
        raise Invalid(f"{len(item_ids)} items accepted but only {shown} were shown")
    outcome = await record_batch(
        session,
        TagRequest(
            dataset_id=dataset_id,
            tagger=tagger,
            item_ids=item_ids,
            label_id=label_id,
            op="add",
            kind="similarity",
            model_id=model_id,
            parameters={
                "query_items": query_item_ids,
                "mode": mode,
                "shown": shown,
                "accepted": len(item_ids),
                "deselected": shown - len(item_ids),
            },
        ),
        overwrite=True,  # labeled tiles start deselected: one selected by hand is meant to be relabeled
        seen_event_id=seen_event_id,
        rejected_item_ids=rejected_item_ids or (),
    )
    return outcome.event
