"""Labels fixtures shared by the tests: a small dataset with two classes, and the check that the
materialised labels are what the events replay to."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from backend.datasets.items import list_items
from backend.datasets.service import create_dataset
from backend.labels import classes, history
from backend.settings import Settings
from tests.factories import image_folder


class Ref:
    def __init__(self, id: int) -> None:
        self.id = id


async def cat_dog_dataset(
    session: AsyncSession, settings: Settings, folder: Path, count: int = 6, multi: bool = False
):
    """A dataset of ``count`` images with classes cat and dog: (dataset, item ids, cat, dog)."""
    image_folder(folder, count=count)
    dataset, _ = await create_dataset(
        session, settings, f"ds-{folder.name}", [str(folder)], multi_label=multi
    )
    page = await list_items(session, dataset.id, limit=500)
    ids = [entry.item.id for entry in page.items]
    cat = await classes.create_class(session, dataset.id, "cat", "#ff0000", "c")
    dog = await classes.create_class(session, dataset.id, "dog", None, "d")
    # plain values: a rolled-back session expires its objects, and tests look at them after errors
    return Ref(dataset.id), ids, Ref(cat.id), Ref(dog.id)


async def assert_consistent(session: AsyncSession, dataset_id: int) -> None:
    """The materialised labels are what replaying the events gives."""
    assert await history.current_labels(session, dataset_id) == await history.replayed_labels(
        session, dataset_id
    )
