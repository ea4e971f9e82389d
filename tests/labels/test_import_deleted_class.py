"""A class the file names that the class panel deletes while an import runs: the import maps the
file's names to the classes live under the dataset's write lock, so it records no label on the
deleted class; the rows are refused as naming an unknown class, or the class is made again when the
import may create classes, as if it had not existed when the import started."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import select
from sqlmodel import col

from backend.labels import classes
from backend.storage.tables import CurrentLabel, Tag
from tests.helpers.labels import assert_consistent, cat_dog_dataset


def slow_import(monkeypatch) -> None:
    """The import takes a while between reading the file's items and taking the write lock, however
    it takes it (before making classes, or when it records): the delete commits in between."""
    from backend.labels.transfer import importing

    for name in ("lock_dataset", "record_changes"):
        original = getattr(importing, name)

        async def slow(*args: Any, _original: Any = original, **kwargs: Any) -> Any:
            await asyncio.sleep(0.3)
            return await _original(*args, **kwargs)

        monkeypatch.setattr(importing, name, slow)


async def import_labels(database, dataset_id: int, data: bytes, create: bool) -> Any:
    from backend.labels import transfer

    async with database.session() as own:
        return await transfer.import_labels_csv(own, dataset_id, data, "imp", create_classes=create)


async def deleted_in_panel(database, class_id: int) -> Any:
    async with database.session() as own:
        return await classes.delete_class(own, class_id, "ann")


async def labels_on(session, class_id: int, event_id: int | None) -> tuple[int, int]:
    """(the import event's tags, current labels) that name the class."""
    tags = (
        await session.scalars(
            select(col(Tag.id)).where(col(Tag.label_id) == class_id, col(Tag.event_id) == event_id)
        )
    ).all()
    current = (
        await session.scalars(select(col(CurrentLabel.item_id)).where(col(CurrentLabel.label_id) == class_id))
    ).all()
    return len(tags), len(current)


async def test_rows_naming_a_class_deleted_during_the_import_are_refused_as_unknown(
    session, settings, folder, database, monkeypatch
):
    dataset, ids, cat, _ = await cat_dog_dataset(session, settings, folder)
    slow_import(monkeypatch)
    data = f"item_id,label\n{ids[0]},cat\n{ids[1]},dog\n".encode()
    report, deleted = await asyncio.gather(
        import_labels(database, dataset.id, data, create=False),
        deleted_in_panel(database, cat.id),
        return_exceptions=True,
    )
    assert not isinstance(deleted, BaseException), deleted
    assert not isinstance(report, BaseException), report  # not a 404/500 for the whole file
    assert await labels_on(session, cat.id, report.event_id) == (0, 0)
    assert report.accepted == 1 and report.unknown_classes == ["cat"]
    assert [(r.line, r.reason) for r in report.refused] == [
        (2, "unknown class 'cat' (import with create_classes to add it)")
    ]
    assert [c.name for c in await classes.list_classes(session, dataset.id)] == ["dog"]
    await assert_consistent(session, dataset.id)


async def test_a_class_deleted_during_an_import_that_may_create_classes_is_made_again(
    session, settings, folder, database, monkeypatch
):
    """The file names only classes that exist when it starts, and one that does not (bird)."""
    dataset, ids, cat, _ = await cat_dog_dataset(session, settings, folder)
    slow_import(monkeypatch)
    for data in (
        f"item_id,label\n{ids[0]},cat\n{ids[1]},cat\n".encode(),
        f"item_id,label\n{ids[0]},cat\n{ids[1]},bird\n".encode(),
    ):
        report, deleted = await asyncio.gather(
            import_labels(database, dataset.id, data, create=True),
            deleted_in_panel(database, cat.id),
            return_exceptions=True,
        )
        assert not isinstance(deleted, BaseException), deleted
        assert not isinstance(report, BaseException), report
        assert await labels_on(session, cat.id, report.event_id) == (0, 0)
        live = {c.name: c for c in await classes.list_classes(session, dataset.id)}
        assert "cat" in live and live["cat"].id != cat.id, live
        assert report.refused == [] and "cat" in report.created_classes, report
        assert await classes.class_item_count(session, live["cat"].id) == data.count(b",cat\n")
        await assert_consistent(session, dataset.id)
        cat = live["cat"]  # the next file's race deletes the one made again
