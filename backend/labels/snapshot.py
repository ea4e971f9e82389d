"""The labels a training run gets, recorded with its model (``trained_on``): which events, and how
many readable items each class had. The worker rebuilds exactly these labels with
``backend.labels.history.snapshot_labels``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from backend.datasets.service import get_dataset
from backend.errors import Invalid
from backend.labels.history import snapshot_labels
from backend.storage.tables import CurrentLabel, Item, LabelClass
from backend.storage.types import utcnow


async def label_snapshot(session: AsyncSession, dataset_id: int, params: dict[str, Any]) -> dict[str, Any]:
    """Which labels a training run gets, recorded with the model (``trained_on``).

    Parameters ``label_snapshot`` (current | as_of | tagger), ``labels_as_of`` and
    ``labels_tagger`` pick them (default: the current labels). The worker rebuilds exactly these
    labels from the events with ``snapshot_labels``; ``label_counts`` says how many readable items
    each class had.
    """
    classes = (
        await session.scalars(
            select(LabelClass)
            .where(col(LabelClass.dataset_id) == dataset_id, col(LabelClass.deleted_at).is_(None))
            .order_by(col(LabelClass.position), col(LabelClass.id))
        )
    ).all()
    mode = params.get("label_snapshot") or "current"
    now = utcnow()
    counts: dict[int, int]
    snapshot: dict[str, Any] = {"labels_as_of": now.isoformat(), "label_snapshot": {"mode": mode}}
    if mode == "current":
        labeled = await session.scalar(
            select(func.count(func.distinct(col(CurrentLabel.item_id))))
            .join(Item, col(Item.id) == col(CurrentLabel.item_id))
            .where(col(CurrentLabel.dataset_id) == dataset_id, col(Item.status) == "ok")
        )
        rows = await session.execute(
            select(col(CurrentLabel.label_id), func.count())
            .join(Item, col(Item.id) == col(CurrentLabel.item_id))
            .where(col(CurrentLabel.dataset_id) == dataset_id, col(Item.status) == "ok")
            .group_by(col(CurrentLabel.label_id))
        )
        counts = {int(label): int(n) for label, n in rows.all()}
    else:
        if mode == "as_of":
            at = datetime.fromisoformat(params["labels_as_of"].strip().replace("Z", "+00:00"))
            at = at if at.tzinfo else at.replace(tzinfo=UTC)
            if at > now:
                raise Invalid(f"labels as of {at.isoformat()} is in the future", field="labels_as_of")
            snapshot["labels_as_of"] = snapshot["label_snapshot"]["as_of"] = at.isoformat()
        else:
            snapshot["labels_tagger"] = snapshot["label_snapshot"]["tagger"] = params["labels_tagger"].strip()
        labels = await snapshot_labels(session, dataset_id, snapshot)
        unreadable = set(
            await session.scalars(
                select(col(Item.id)).where(col(Item.dataset_id) == dataset_id, col(Item.status) != "ok")
            )
        )
        kept = [ids for item, ids in labels.items() if item not in unreadable]
        labeled = len(kept)
        counts = {}
        for ids in kept:
            for label in ids:
                counts[label] = counts.get(label, 0) + 1
    known = {c.id for c in classes}
    dataset = await get_dataset(session, dataset_id)
    return {
        **snapshot,
        "labeled_count": int(labeled or 0),
        "label_counts": {str(k): v for k, v in sorted(counts.items()) if k in known},
        "multi_label": bool(dataset.multi_label),
        "classes": [{"id": c.id, "name": c.name, "color": c.color} for c in classes],
    }
