"""Items through GraphQL: pages, filters by label state and class, sorting, one item, the page cap."""

from __future__ import annotations

from pathlib import Path

from tests.helpers.graphql import add_class, create_dataset, gql, gql_error, item_ids, tag

ITEMS = """
query($d: Int!, $filter: ItemFilter! = ALL, $label: Int, $sort: ItemSort! = POSITION, $offset: Int! = 0,
      $limit: Int! = 48) {
  items(datasetId: $d, filter: $filter, labelId: $label, sort: $sort, offset: $offset, limit: $limit) {
    total offset limit
    items { id position status labelIds }
  }
}
"""


async def _labeled_dataset(client, folder: Path) -> tuple[int, list[int], dict, dict]:
    dataset = (await create_dataset(client, folder, count=6, corrupt=1))["dataset"]
    ids = await item_ids(client, dataset["id"])
    cat = await add_class(client, dataset["id"], "cat")
    dog = await add_class(client, dataset["id"], "dog")
    await tag(client, dataset["id"], [ids[4], ids[5]], cat["id"])
    await tag(client, dataset["id"], [ids[1]], dog["id"])
    return dataset["id"], ids, cat, dog


async def test_items_are_paged_in_dataset_order(client, folder: Path):
    dataset_id, ids, _, _ = await _labeled_dataset(client, folder)
    assert len(ids) == 7
    first = (await gql(client, ITEMS, {"d": dataset_id, "limit": 3}))["items"]
    second = (await gql(client, ITEMS, {"d": dataset_id, "limit": 3, "offset": 3}))["items"]
    assert (first["total"], first["offset"], first["limit"]) == (7, 0, 3)
    assert [i["id"] for i in first["items"] + second["items"]] == ids[:6]
    positions = [i["position"] for i in first["items"] + second["items"]]
    assert positions == sorted(positions)


async def test_items_filtered_by_label_state_and_class(client, folder: Path):
    dataset_id, ids, cat, dog = await _labeled_dataset(client, folder)

    async def listed(**variables) -> list[int]:
        return [i["id"] for i in (await gql(client, ITEMS, {"d": dataset_id, **variables}))["items"]["items"]]

    assert await listed(filter="LABELED") == [ids[1], ids[4], ids[5]]
    assert await listed(filter="UNLABELED") == [ids[0], ids[2], ids[3], ids[6]]
    assert await listed(label=cat["id"]) == [ids[4], ids[5]]
    assert await listed(filter="LABELED", label=dog["id"]) == [ids[1]]
    unreadable = (await gql(client, ITEMS, {"d": dataset_id, "filter": "UNREADABLE"}))["items"]["items"]
    assert [i["status"] for i in unreadable] == ["unreadable"]
    labels = {i["id"]: i["labelIds"] for i in (await gql(client, ITEMS, {"d": dataset_id}))["items"]["items"]}
    assert labels[ids[4]] == [cat["id"]] and labels[ids[1]] == [dog["id"]] and labels[ids[0]] == []


async def test_items_sorted_by_label_put_the_first_class_first_and_unlabeled_last(client, folder: Path):
    dataset_id, ids, _, _ = await _labeled_dataset(client, folder)
    page = (await gql(client, ITEMS, {"d": dataset_id, "sort": "LABEL"}))["items"]["items"]
    assert [i["id"] for i in page] == [ids[4], ids[5], ids[1], ids[0], ids[2], ids[3], ids[6]]


async def test_one_item_with_location_labels_and_image_url(client, folder: Path):
    dataset_id, ids, _, dog = await _labeled_dataset(client, folder)
    item = (
        await gql(
            client,
            "query($id: Int!) { item(id: $id) { id datasetId uri location labelIds imageUrl width height } }",
            {"id": ids[1]},
        )
    )["item"]
    assert item["datasetId"] == dataset_id and item["labelIds"] == [dog["id"]]
    assert item["location"] == str(folder / item["uri"])
    assert item["imageUrl"] == f"/api/v1/items/{ids[1]}/image"
    assert (item["width"], item["height"]) == (32, 32)
    png = await client.get(item["imageUrl"], params={"size": 16})
    assert png.status_code == 200 and png.content.startswith(b"\x89PNG")


async def test_unknown_item_and_dataset_are_not_found(client):
    await gql_error(client, "{ item(id: 424242) { id } }", code="NOT_FOUND", fragments=("424242",))
    await gql_error(client, ITEMS, {"d": 424242}, code="NOT_FOUND")


async def test_a_page_over_the_cap_is_refused_with_the_cap_and_bad_paging_is_invalid(
    client, folder, settings
):
    dataset_id, _, _, _ = await _labeled_dataset(client, folder)
    cap = settings.max_page_size
    error = await gql_error(
        client, ITEMS, {"d": dataset_id, "limit": cap + 1}, code="INVALID", fragments=(str(cap),)
    )
    assert error["extensions"]["max_limit"] == cap
    assert len((await gql(client, ITEMS, {"d": dataset_id, "limit": cap}))["items"]["items"]) == 7
    await gql_error(client, ITEMS, {"d": dataset_id, "offset": -1}, code="INVALID")
    await gql_error(client, ITEMS, {"d": dataset_id, "limit": 0}, code="INVALID")
    # an unknown enum value is refused before anything runs
    await gql_error(client, ITEMS, {"d": dataset_id, "filter": "SOMETIMES"}, code="GRAPHQL_VALIDATION_FAILED")
