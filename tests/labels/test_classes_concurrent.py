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
