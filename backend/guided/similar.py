"""Labeling a batch found by similarity: one event that records how it was found."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from backend.errors import Invalid
from backend.labels.events import TagRequest, record_event
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
) -> TagEvent:
    """Label the accepted items of a similarity ranking (the shown ones minus those deselected)."""
    if shown < len(item_ids):
        raise Invalid(f"{len(item_ids)} items accepted but only {shown} were shown")
    return await record_event(
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
    )
