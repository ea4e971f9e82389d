"""Labeling progress: items per class and labeled / total, straight from the materialised labels."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from backend.labels.classes import list_classes
from backend.storage.tables import CurrentLabel, Item, LabelClass


@dataclass
class ClassCount:
    label: LabelClass
    count: int


@dataclass
class Progress:
    total: int
    labeled: int
    classes: list[ClassCount]

    @property
    def unlabeled(self) -> int:
        return self.total - self.labeled

    @property
    def fraction(self) -> float:
        return self.labeled / self.total if self.total else 0.0


async def dataset_progress(session: AsyncSession, dataset_id: int) -> Progress:
    classes = await list_classes(session, dataset_id)
    counts: dict[int | None, int] = dict(
        (
            await session.execute(
                select(col(CurrentLabel.label_id), func.count())
                .where(col(CurrentLabel.dataset_id) == dataset_id)
                .group_by(col(CurrentLabel.label_id))
            )
        )
        .tuples()
        .all()
    )
    total = await session.scalar(select(func.count()).where(col(Item.dataset_id) == dataset_id)) or 0
    labeled = (
        await session.scalar(
            select(func.count(func.distinct(col(CurrentLabel.item_id)))).where(
                col(CurrentLabel.dataset_id) == dataset_id
            )
        )
        or 0
    )
    return Progress(int(total), int(labeled), [ClassCount(c, int(counts.get(c.id, 0))) for c in classes])
