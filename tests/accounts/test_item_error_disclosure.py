"""An unreadable item's error through both doors (issue 23: one read model per concept).

REST's item detail gave viewers the one-line error without server paths (decision 0007), GraphQL's
``item`` the raw one; both now render the item's read model and its viewer form.
"""

from __future__ import annotations

from backend.datasets.items import list_items
from backend.datasets.service import create_dataset
from tests.factories import image_folder

TRACEBACK = 'Traceback (most recent call last):\n  File "/opt/venv/lib/python3.11/site-packages/x.py", line 3'


async def _unreadable_item(session, settings, folder, data_root):
    """A dataset whose first item failed with a traceback naming its server path: (dataset, item,
    the one line a viewer should read)."""
    image_folder(folder, count=2)
    dataset, _ = await create_dataset(session, settings, f"ds-{folder.name}", [str(folder)])
    item = (await list_items(session, dataset.id)).items[0].item
    path = f"{folder}/{item.uri}"
    item.status, item.error = "unreadable", f"{TRACEBACK}\nOSError: cannot read {path}"
    session.add(item)
    await session.commit()
    return dataset, item, f"OSError: cannot read {data_root.name}/{folder.name}/{item.uri}"


async def test_viewers_read_an_items_error_in_one_line_without_paths_through_both_doors(
    client, accounts, session, settings, folder, data_root
):
    _, item, one_line = await _unreadable_item(session, settings, folder, data_root)
    query = {"query": "query($i: Int!) { item(id: $i) { error } }", "variables": {"i": item.id}}

    viewer, labeler = accounts["viewer"].headers, accounts["labeler"].headers
    rest = (await client.get(f"/api/v1/items/{item.id}", headers=viewer)).json()
    graphql = (await client.post("/graphql", json=query, headers=viewer)).json()["data"]["item"]
    assert rest["error"] == graphql["error"] == one_line

    rest = (await client.get(f"/api/v1/items/{item.id}", headers=labeler)).json()
    graphql = (await client.post("/graphql", json=query, headers=labeler)).json()["data"]["item"]
    assert rest["error"] == graphql["error"] == item.error


async def test_viewers_read_the_same_error_in_item_lists_through_both_doors(
    client, accounts, session, settings, folder, data_root
):
    """Pages of items (REST ``/datasets/{id}/items``, GraphQL ``items``) follow the item's rule."""
    dataset, item, one_line = await _unreadable_item(session, settings, folder, data_root)
    query = {
        "query": "query($d: Int!) { items(datasetId: $d, filter: UNREADABLE) { items { id error } } }",
        "variables": {"d": dataset.id},
    }
    url = f"/api/v1/datasets/{dataset.id}/items?filter=unreadable"

    for who, expected in (("viewer", one_line), ("labeler", item.error)):
        headers = accounts[who].headers
        rest = (await client.get(url, headers=headers)).json()["items"]
        graphql = (await client.post("/graphql", json=query, headers=headers)).json()["data"]["items"][
            "items"
        ]
        assert [(i["id"], i["error"]) for i in rest] == [(item.id, expected)], who
        assert [(i["id"], i["error"]) for i in graphql] == [(item.id, expected)], who
