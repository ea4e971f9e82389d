"""GraphQL's document limits (issue 22): size, expanded selections, fragment cycles, the cost of
unpaged ``labels`` per item and per alias. Each is refused before validation or execution runs."""

from __future__ import annotations

from pathlib import Path

from backend.api.graphql.cost import MAX_COST
from tests.helpers.graphql import (
    _add_items,
    add_class,
    create_dataset,
    gql,
    gql_error,
    item_ids,
    tag,
)


async def test_a_megabyte_of_fragment_spreads_is_refused_unparsed(client):
    query = "fragment F on Query { datasets { id } } { " + "...F " * 200_000 + "}"
    error = await gql_error(client, query, code="DOCUMENT_TOO_LARGE", fragments=("bytes", "variables"))
    assert error["extensions"]["size"] == len(query) and error["extensions"]["max_size"] == 64 * 1024


async def test_many_spreads_under_the_size_limit_are_refused_before_validation(client):
    query = "fragment F on Query { datasets { id } } { " + "...F " * 10_000 + "}"  # 50 KB
    error = await gql_error(client, query, code="QUERY_TOO_COMPLEX", fragments=("fragment spreads",))
    assert error["extensions"]["max_selections"] == 5_000


async def test_fragments_spreading_each_other_are_counted_without_expanding_them(client):
    # 2**60 fields once expanded: counting them by expansion would never finish.
    chain = " ".join(f"fragment A{i} on Query {{ ...A{i - 1} ...A{i - 1} }}" for i in range(1, 61))
    query = f"fragment A0 on Query {{ datasets {{ id }} }} {chain} {{ ...A60 }}"
    await gql_error(client, query, code="QUERY_TOO_COMPLEX")


async def test_a_fragment_cycle_is_refused_by_name(client):
    query = "fragment A on Query { ...B } fragment B on Query { datasets { id } ...A } { ...A }"
    error = await gql_error(client, query, code="FRAGMENT_CYCLE", fragments=("spreads itself",))
    assert error["extensions"]["fragment"] in ("A", "B")


async def test_unpaged_labels_cost_the_dataset_items_and_every_alias_counts(client, database, folder: Path):
    dataset = (await create_dataset(client, folder, count=2))["dataset"]
    dataset_id = int(dataset["id"])
    await _add_items(database, dataset_id, 50_000)
    one = "query($d: Int!) { labels(datasetId: $d) { itemId } }"
    assert await gql(client, one, {"d": dataset_id}) == {"labels": []}  # 50 002 entries: allowed
    five = (
        "query($d: Int!) { " + " ".join(f"a{i}: labels(datasetId: $d) {{ itemId }}" for i in range(5)) + " }"
    )
    error = await gql_error(client, five, {"d": dataset_id}, code="QUERY_TOO_COSTLY", fragments=("labels",))
    assert error["extensions"]["cost"] == 5 * 50_002 > MAX_COST
    paged = (
        "query($d: Int!) { "
        + " ".join(f"a{i}: labels(datasetId: $d, limit: 100) {{ itemId }}" for i in range(5))
        + " }"
    )
    assert (await gql(client, paged, {"d": dataset_id}))["a0"] == []


async def test_labels_are_paged_by_item_id(client, folder: Path):
    dataset_id = int((await create_dataset(client, folder, count=6))["dataset"]["id"])
    ids = await item_ids(client, dataset_id)
    label = (await add_class(client, dataset_id, "cat"))["id"]
    await tag(client, dataset_id, ids[:4], label)
    query = "query($d: Int!, $o: Int!) { labels(datasetId: $d, offset: $o, limit: 3) { itemId labelIds } }"
    first = (await gql(client, query, {"d": dataset_id, "o": 0}))["labels"]
    second = (await gql(client, query, {"d": dataset_id, "o": 3}))["labels"]
    assert [e["itemId"] for e in first + second] == sorted(ids[:4])
    assert all(e["labelIds"] == [label] for e in first + second)
