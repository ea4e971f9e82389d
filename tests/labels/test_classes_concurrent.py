"""Classes added or deleted at once (two tabs, a script's threads): the name check, the position, the
palette color and the class's items are read under the dataset's write lock, so the second waits and
sees the first."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import select

from backend.errors import Conflict
from backend.labels import classes
from tests.helpers.labels import cat_dog_dataset


def slow_checks(monkeypatch) -> None:
    """The unique check takes a while: the other request reads the classes meanwhile (without the lock)."""
    check = classes._check_unique

    async def slow(*args: Any, **kwargs: Any) -> None:
        await asyncio.sleep(0.3)
        await check(*args, **kwargs)

    monkeypatch.setattr(classes, "_check_unique", slow)


async def create(database, dataset_id: int, name: str) -> Any:
    async with database.session() as session:
        try:
            return await classes.create_class(session, dataset_id, name)
        except Conflict as refused:
            return refused


async def test_the_same_name_added_thrice_at_once_is_one_class_and_two_conflicts(
    session, settings, folder, database, monkeypatch
):
    dataset, _, _, _ = await cat_dog_dataset(session, settings, folder)
    slow_checks(monkeypatch)
    answers = await asyncio.gather(*(create(database, dataset.id, "bird") for _ in range(3)))
    refused = [a for a in answers if isinstance(a, Conflict)]
    # a conflict each, not a database error
    assert len(refused) == 2 and all("already exists" in str(r) for r in refused), answers
    names = [c.name for c in await classes.list_classes(session, dataset.id)]
    assert names.count("bird") == 1


async def test_classes_added_at_once_get_their_own_position_and_color(
    session, settings, folder, database, monkeypatch
):
    dataset, _, _, _ = await cat_dog_dataset(session, settings, folder)
    slow_checks(monkeypatch)
    added = await asyncio.gather(*(create(database, dataset.id, name) for name in ("bird", "fish", "frog")))
    assert not [a for a in added if isinstance(a, Exception)], added
    listed = await classes.list_classes(session, dataset.id)
    assert len({c.position for c in listed}) == len(listed) == 5
    assert len({c.color for c in listed}) == 5


async def test_a_class_deleted_twice_at_once_is_unlabeled_by_one_event(
    session, settings, folder, database, monkeypatch
):
    from backend.errors import NotFound
    from backend.labels import events
    from backend.storage.tables import TagEvent

    dataset, ids, cat, _ = await cat_dog_dataset(session, settings, folder)
    await events.record_event(session, events.TagRequest(dataset.id, "ann", ids[:2], cat.id))
    record = events.record_event

    async def slow_record(*args: Any, **kwargs: Any) -> Any:
        await asyncio.sleep(0.3)  # the other delete reads the class and its items meanwhile
        return await record(*args, **kwargs)

    monkeypatch.setattr(events, "record_event", slow_record)

    async def delete() -> Any:
        async with database.session() as other:
            try:
                return await classes.delete_class(other, cat.id, "ann")
            except NotFound as gone:
                return gone

    answers = await asyncio.gather(delete(), delete())
    assert len([a for a in answers if isinstance(a, NotFound)]) == 1, answers
    kinds = [
        e.kind
        for e in (
            await session.scalars(
                select(TagEvent).where(TagEvent.dataset_id == dataset.id).order_by(TagEvent.id)  # type: ignore[arg-type]
            )
        ).all()
    ]
    assert kinds == ["manual", "review"]  # the tagging, one unlabel


async def test_classes_added_at_once_without_keys_get_a_free_key_each(
    session, settings, folder, database, monkeypatch
):
    """The class panel's free key is read under the lock too: two tabs adding a class each were
    not to get the same key (the second would be refused, or hold a key another class has)."""
    dataset, _, _, _ = await cat_dog_dataset(session, settings, folder)
    slow_checks(monkeypatch)

    async def create_keyed(name: str) -> Any:
        async with database.session() as own:
            return await classes.create_class(own, dataset.id, name, auto_hotkey=True)

    added = await asyncio.gather(*(create_keyed(name) for name in ("bird", "fish", "frog")))
    keys = sorted(
        c.hotkey
        for c in await classes.list_classes(session, dataset.id)
        if c.name in {"bird", "fish", "frog"}
    )
    assert len(added) == 3 and len(set(keys)) == 3 and None not in keys, keys


def slow_import(monkeypatch) -> None:
    """The import takes a while between reading the dataset's classes and taking the write lock
    (a large file's items resolved meanwhile): a class added in the panel commits in between."""
    from backend.labels.transfer import importing

    lock = importing.lock_dataset

    async def slow(*args: Any, **kwargs: Any) -> Any:
        await asyncio.sleep(0.3)
        return await lock(*args, **kwargs)

    monkeypatch.setattr(importing, "lock_dataset", slow)


async def import_labels(database, dataset_id: int, data: bytes) -> Any:
    from backend.labels import transfer

    async with database.session() as own:
        return await transfer.import_labels_csv(own, dataset_id, data, "imp", create_classes=True)


async def added_in_panel(database, dataset_id: int, name: str) -> Any:
    """As the class panel adds one: the next free key."""
    async with database.session() as own:
        try:
            return await classes.create_class(own, dataset_id, name, auto_hotkey=True)
        except Conflict as refused:
            return refused


async def test_an_import_that_creates_a_class_the_panel_adds_at_once_uses_that_class(
    session, settings, folder, database, monkeypatch
):
    """The import read "no class bird", the panel then added one: the import labels with it (it was
    to fail on the unique name, a 500), and bird is one class."""
    from tests.helpers.labels import assert_consistent

    dataset, ids, _, _ = await cat_dog_dataset(session, settings, folder)
    slow_import(monkeypatch)
    data = f"item_id,label\n{ids[0]},bird\n{ids[1]},bird\n".encode()
    report, added = await asyncio.gather(
        import_labels(database, dataset.id, data), added_in_panel(database, dataset.id, "bird")
    )
    assert not isinstance(added, Exception), added
    birds = [c for c in await classes.list_classes(session, dataset.id) if c.name.lower() == "bird"]
    assert [c.id for c in birds] == [added.id]
    assert report.accepted == 2 and report.created_classes == []  # the panel made it, not the import
    labeled = await classes.class_item_count(session, added.id)
    assert labeled == 2
    await assert_consistent(session, dataset.id)


async def test_an_import_and_the_panel_naming_a_class_in_other_cases_make_one_class(
    session, settings, folder, database, monkeypatch
):
    """Names are unique regardless of case, which the database's index does not see: the import's
    "bird" and the panel's "Bird" were two classes."""
    dataset, ids, _, _ = await cat_dog_dataset(session, settings, folder)
    slow_import(monkeypatch)
    data = f"item_id,label\n{ids[0]},bird\n".encode()
    report, added = await asyncio.gather(
        import_labels(database, dataset.id, data), added_in_panel(database, dataset.id, "Bird")
    )
    names = [c.name for c in await classes.list_classes(session, dataset.id)]
    assert names == ["cat", "dog", "Bird"], (names, report, added)
    assert await classes.class_item_count(session, added.id) == 1


async def test_classes_an_import_and_the_panel_add_at_once_get_a_free_key_each(
    session, settings, folder, database, monkeypatch
):
    """Both pick the next free key under the dataset's lock: never the same key twice."""
    dataset, ids, _, _ = await cat_dog_dataset(session, settings, folder)
    slow_import(monkeypatch)
    data = f"item_id,label\n{ids[0]},fish\n{ids[1]},frog\n".encode()
    report, added = await asyncio.gather(
        import_labels(database, dataset.id, data), added_in_panel(database, dataset.id, "bird")
    )
    assert report.created_classes == ["fish", "frog"] and not isinstance(added, Exception), added
    listed = await classes.list_classes(session, dataset.id)
    keys = [c.hotkey for c in listed]
    assert len(listed) == 5 and None not in keys and len(set(keys)) == 5, keys
    assert len({c.position for c in listed}) == 5 and len({c.color for c in listed}) == 5
