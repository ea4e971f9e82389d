"""Per-item fields of GraphQL lists are batched: a page of items with ``location`` reads the
sources once, not once per item; items by many ids come in one call."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import Engine

import backend.datasets.items as items_module
from tests.helpers.graphql import create_dataset, gql, gql_error, item_ids

PAGE = """
query($d: Int!) { items(datasetId: $d, limit: 200) { items { id uri location } } }
"""
BY_IDS = "query($d: Int!, $ids: [Int!]!) { itemsByIds(datasetId: $d, ids: $ids) { id labelIds location } }"


@contextmanager
def statements() -> Iterator[list[str]]:
    """Every SQL statement any engine of this process runs meanwhile (the app has its own engine)."""
    seen: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    event.listen(Engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(Engine, "before_cursor_execute", record)


def _source_reads(seen: list[str]) -> int:
    return sum(1 for s in seen if "FROM source" in s and "FROM item" not in s)


async def test_a_page_of_locations_reads_the_sources_once(client, folder: Path, monkeypatch):
    dataset = (await create_dataset(client, folder, count=30))["dataset"]
    opened: list[int] = []
    real_open = items_module.open_source

    def counting_open(source, settings):
        opened.append(source.id)
        return real_open(source, settings)

    monkeypatch.setattr(items_module, "open_source", counting_open)
    with statements() as seen:
        items = (await gql(client, PAGE, {"d": dataset["id"]}))["items"]["items"]
    assert len(items) == 30
    assert all(item["location"] == str(folder / item["uri"]) for item in items)
    assert _source_reads(seen) == 1, [s for s in seen if "FROM source" in s]
    assert len(opened) == 1  # a Tiled source opened per item was the 10 s of a 500-item page
    assert sum(1 for s in seen if "FROM item" in s) <= 3  # the page and its count, not one per item


async def test_items_by_many_ids_in_one_call_keep_the_order_asked(client, folder: Path):
    dataset = (await create_dataset(client, folder, count=8))["dataset"]
    ids = await item_ids(client, dataset["id"])
    wanted = [ids[5], ids[0], ids[3]]
    found = (await gql(client, BY_IDS, {"d": dataset["id"], "ids": wanted}))["itemsByIds"]
    assert [item["id"] for item in found] == wanted
    assert all(item["location"].startswith(str(folder)) for item in found)
    await gql_error(
        client, BY_IDS, {"d": dataset["id"], "ids": [ids[0], 999999]}, code="NOT_FOUND", fragments=("999999",)
    )
