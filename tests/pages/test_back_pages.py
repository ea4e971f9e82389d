"""Pages where batches are applied or items labeled are kept by no browser (Back asks for them
again, and for no partial htmx had asked for at a pushed address), and the item view's labels are
asked for alone (Back to the item view in the back-forward cache). The walks in Chromium are in
tests/batches/test_back_walk.py."""

from __future__ import annotations

from tests.helpers.pages import make_dataset
from tests.html import by_id, parse, text_of

API = "/api/v1"


async def test_the_pages_where_items_are_labeled_are_kept_by_no_browser(client, folder):
    dataset_id = await make_dataset(client, folder, count=3)
    items = (await client.get(f"{API}/datasets/{dataset_id}/items")).json()["items"]
    pages = [
        f"/datasets/{dataset_id}/similar?item_id={items[0]['id']}",
        f"/datasets/{dataset_id}/probability",
        f"/datasets/{dataset_id}/next",
        f"/datasets/{dataset_id}/next/open?key=no-such-suggestion",
        f"/datasets/{dataset_id}/review",
        f"/items/{items[0]['id']}",
    ]
    for page in pages:
        for headers in ({}, {"hx-request": "true"}):
            answer = await client.get(page, headers=headers)
            assert answer.status_code == 200, (page, answer.text)
            assert answer.headers.get("cache-control") == "no-store", (page, headers)


async def test_the_item_views_labels_alone(client, folder):
    dataset_id = await make_dataset(client, folder, count=2)
    item = (await client.get(f"{API}/datasets/{dataset_id}/items")).json()["items"][0]["id"]
    made = await client.post(f"{API}/datasets/{dataset_id}/classes", json={"name": "ring"})
    ring = made.json()["id"]
    part = await client.get(f"/items/{item}/labels")
    assert part.status_code == 200 and "none" in text_of(by_id(parse(part.text), "item-labels"))
    tagged = await client.post(
        f"{API}/datasets/{dataset_id}/tags", json={"item_ids": [item], "label_id": ring}
    )
    assert tagged.status_code == 201, tagged.text
    labels = by_id(parse((await client.get(f"/items/{item}/labels")).text), "item-labels")
    assert text_of(labels).strip() == "ring" and labels.get("data-labels") == str(ring)
    assert (await client.get("/items/987654/labels")).status_code == 404
