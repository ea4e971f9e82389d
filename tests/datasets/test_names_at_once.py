"""Two requests naming two datasets alike at once (a create and a rename, two scripts), or adding one
folder twice: the second is told the name or folder is taken (CONFLICT), as when they come one after
the other, not DATABASE_ERROR nor the folder's items twice."""

from __future__ import annotations

import asyncio
from typing import Any

from backend.datasets import service
from backend.errors import Conflict
from tests.factories import image_folder


def slow_name_checks(monkeypatch) -> None:
    """The free-name check passes for both before either commits."""
    check = service._ensure_name_free
    calls = {"n": 0}

    async def slow(*args: Any, **kwargs: Any) -> None:
        calls["n"] += 1
        await check(*args, **kwargs)
        if calls["n"] <= 2:  # the two checks before the commits; the one after a refusal runs at once
            await asyncio.sleep(0.3)

    monkeypatch.setattr(service, "_ensure_name_free", slow)


async def attempt(database, call) -> Any:
    async with database.session() as session:
        try:
            return await call(session)
        except Conflict as refused:
            return refused


async def test_two_datasets_created_at_once_under_one_name(settings, database, folder, monkeypatch):
    image_folder(folder, count=2)
    slow_name_checks(monkeypatch)
    answers = await asyncio.gather(
        *(
            attempt(database, lambda s: service.create_dataset(s, settings, "same", [str(folder)]))
            for _ in range(2)
        )
    )
    refused = [a for a in answers if isinstance(a, Conflict)]
    assert len(refused) == 1 and "already exists" in str(refused[0]), answers
    async with database.session() as session:
        assert [d.dataset.name for d in await service.list_datasets(session)] == ["same"]


async def test_two_datasets_renamed_at_once_to_one_name(settings, database, folder, monkeypatch):
    image_folder(folder, count=2)
    async with database.session() as session:
        first, _ = await service.create_dataset(session, settings, "first", [str(folder)])
        second, _ = await service.create_dataset(session, settings, "second", [str(folder)])
    slow_name_checks(monkeypatch)
    answers = await asyncio.gather(
        *(
            attempt(database, lambda s, i=i: service.rename_dataset(s, i, "same"))
            for i in (first.id, second.id)
        )
    )
    refused = [a for a in answers if isinstance(a, Conflict)]
    assert len(refused) == 1 and "already exists" in str(refused[0]), answers
    async with database.session() as session:
        assert sorted(d.dataset.name for d in await service.list_datasets(session)) in (
            ["first", "same"],
            ["same", "second"],
        )


async def test_one_folder_added_twice_at_once_is_one_source(
    settings, database, folder, data_root, monkeypatch
):
    image_folder(folder, count=2)
    more = image_folder(data_root / f"{folder.name}-more", count=3)
    async with database.session() as session:
        dataset, _ = await service.create_dataset(session, settings, "one", [str(folder)])
    scan = service._scan_new_source

    async def slow_scan(*args: Any, **kwargs: Any) -> Any:
        entries = await scan(*args, **kwargs)
        await asyncio.sleep(0.3)  # the other request checks the sources meanwhile
        return entries

    monkeypatch.setattr(service, "_scan_new_source", slow_scan)
    answers = await asyncio.gather(
        *(
            attempt(database, lambda s: service.add_source(s, settings, dataset.id, str(more)))
            for _ in range(2)
        )
    )
    refused = [a for a in answers if isinstance(a, Conflict)]
    assert len(refused) == 1 and "already a source" in str(refused[0]), answers
    async with database.session() as session:
        assert len(await service.list_sources(session, dataset.id)) == 2
        [summary] = await service.list_datasets(session, dataset_id=dataset.id)
        assert summary.item_count == 5
