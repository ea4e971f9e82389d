"""Labeling along the acquisition structure: a whole run (or sample, exposure, time range) except
the items someone deselected, as one event through ``backend.labels.batches``."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from backend.datasets.items import MetaFilter, matching_item_ids
from backend.errors import Invalid
from backend.labels.batches import BatchOutcome, record_batch
from backend.labels.events import TagRequest

MAX_DESELECTED = 100_000


async def label_matching(
    session: AsyncSession,
    dataset_id: int,
    *,
    tagger: str,
    meta: MetaFilter,
    label_id: int | None,
    except_item_ids: list[int] | None = None,
    op: str = "set",
    overwrite: bool = False,
    seen_event_id: int | None = None,
) -> BatchOutcome:
    """Label every readable item that matches ``meta`` but the deselected ones, as one manual event
    whose parameters say which run or sample it was and how many were left out.

    A filter is required (never the whole dataset by accident). Items that hold a label are left
    alone unless ``overwrite``, and items changed after ``seen_event_id``: see ``labels.batches``."""
    if meta.is_empty():
        raise Invalid("say which items: a run, a sample, an exposure or a time range")
    excluded = {int(i) for i in except_item_ids or []}
    if len(excluded) > MAX_DESELECTED:
        raise Invalid(f"at most {MAX_DESELECTED} deselected items")
    matched = await matching_item_ids(session, dataset_id, meta)
    if not matched:
        raise Invalid(f"no readable item of dataset {dataset_id} matches {meta.as_dict()}")
    chosen = [i for i in matched if i not in excluded]
    if not chosen:
        raise Invalid(f"all {len(matched)} matching items were deselected: nothing to label")
    return await record_batch(
        session,
        TagRequest(
            dataset_id=dataset_id,
            tagger=tagger,
            item_ids=chosen,
            label_id=label_id,
            op=op,
            kind="manual",
            parameters={
                "selection": "metadata",
                "match": meta.as_dict(),
                "matched": len(matched),
                "deselected": len(matched) - len(chosen),
                "overwrite": overwrite,
            },
        ),
        overwrite=overwrite,
        seen_event_id=seen_event_id,
    )
