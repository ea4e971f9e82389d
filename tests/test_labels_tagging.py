"""A client's labeling action (``backend.labels.tagging``): the rules the label page asks for (skip
unchanged items, skip missing ones) and the contract REST and GraphQL keep (every item recorded)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from backend.datasets.items import list_items
from backend.datasets.service import create_dataset
from backend.errors import Invalid, NotFound
from backend.labels import classes, history
from backend.labels.events import TagRequest
from backend.labels.tagging import record_client_event, tag_items
from backend.settings import Settings
from tests.factories import image_folder


async def _dataset(session: AsyncSession, settings: Settings, folder: Path) -> tuple[int, list[int], int]:
    image_folder(folder, count=4)
    dataset, _ = await create_dataset(session, settings, f"ds-{folder.name}", [str(folder)])
    page = await list_items(session, dataset.id, limit=500)
    cat = await classes.create_class(session, dataset.id, "cat", "#ff0000", "c")
    return dataset.id, [entry.item.id for entry in page.items], cat.id  # plain values


async def _event_count(session: AsyncSession, dataset_id: int) -> int:
    return (await history.list_events(session, dataset_id, limit=100)).total


async def test_unchanged_items_are_left_out_and_a_repeat_records_nothing(session, settings, folder):
    dataset_id, ids, cat = await _dataset(session, settings, folder)
    first = await tag_items(session, TagRequest(dataset_id, "ann", ids[:2], cat), skip_unchanged=True)
    assert first.event is not None and first.event.tag_count == 2 and first.unchanged == []
    again = await tag_items(session, TagRequest(dataset_id, "ann", ids[:3], cat), skip_unchanged=True)
    assert again.event is not None and again.event.tag_count == 1
    assert sorted(again.unchanged) == sorted(ids[:2])
    repeat = await tag_items(session, TagRequest(dataset_id, "ann", ids[:3], cat), skip_unchanged=True)
    assert repeat.event is None and sorted(repeat.unchanged) == sorted(ids[:3])
    assert await _event_count(session, dataset_id) == 2
    assert set(await history.current_labels(session, dataset_id)) == set(ids[:3])


async def test_missing_items_are_skipped_and_reported(session, settings, folder):
    dataset_id, ids, cat = await _dataset(session, settings, folder)
    gone = max(ids) + 1000
    tagged = await tag_items(session, TagRequest(dataset_id, "ann", [ids[0], gone], cat), skip_missing=True)
    assert tagged.event is not None and tagged.event.tag_count == 1 and tagged.missing == [gone]
    none_left = await tag_items(session, TagRequest(dataset_id, "ann", [gone], cat), skip_missing=True)
    assert none_left.event is None and none_left.missing == [gone]
    assert await _event_count(session, dataset_id) == 1


async def test_the_client_contract_records_every_item_and_refuses_unknown_ones(session, settings, folder):
    dataset_id, ids, cat = await _dataset(session, settings, folder)
    await record_client_event(session, TagRequest(dataset_id, "ann", ids[:2], cat))
    repeat = await record_client_event(session, TagRequest(dataset_id, "ann", ids[:2], cat))
    assert repeat.tag_count == 2  # an event that changes nothing is still an event
    with pytest.raises(NotFound):
        await record_client_event(session, TagRequest(dataset_id, "ann", [ids[0], max(ids) + 1000], cat))
    with pytest.raises(Invalid):
        await record_client_event(session, TagRequest(dataset_id, "ann", ids[:1], cat, kind="similarity"))
    assert await _event_count(session, dataset_id) == 2
