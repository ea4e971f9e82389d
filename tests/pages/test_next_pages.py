"""The next-action pages through the test client: a dataset the queue cannot help yet says what it
needs (never an error page), an out-of-date suggestion says so, one item of a "label one by one"
suggestion is labeled from its tile, and the label page carries the panel."""

from __future__ import annotations

from tests.helpers.pages import csrf_headers, make_dataset
from tests.html import all_of, attr, by_id, classes, parse, text_of

API = "/api/v1"


async def test_a_dataset_without_classes_shows_what_the_queue_needs(client, folder):
    dataset_id = await make_dataset(client, folder, count=4)
    page = await client.get(f"/datasets/{dataset_id}/next")
    assert page.status_code == 200, page.text
    assert "Needed first" in text_of(by_id(parse(page.text), "next-needs"))
    panel = await client.get(f"/datasets/{dataset_id}/next/panel")
    assert panel.status_code == 200 and "Needed first" in panel.text
    label = await client.get(f"/datasets/{dataset_id}/label")
    assert all_of(parse(label.text), f"//*[@hx-get='/datasets/{dataset_id}/next/panel']")
    missing = await client.get("/datasets/999999/next")
    assert missing.status_code == 404


async def test_an_unknown_or_stale_suggestion_says_it_is_out_of_date(client, folder):
    dataset_id = await make_dataset(client, folder, count=4)
    page = await client.get(f"/datasets/{dataset_id}/next/open", params={"key": "no-such-suggestion"})
    assert page.status_code == 200, page.text
    assert by_id(parse(page.text), "next-stale") is not None and "out of date" in page.text
    headers = await csrf_headers(client)
    refused = await client.post(
        f"/datasets/{dataset_id}/next/accept",
        data={"key": "no-such-suggestion", "batch": "1", "selected": ["1"]},
        headers=headers,
    )
    assert refused.status_code == 200, refused.text
    assert by_id(parse(refused.text), "next-warning") is not None and "Nothing was" in refused.text
    assert (await client.get(f"{API}/datasets/{dataset_id}/labels")).json() == []


async def test_one_item_is_labeled_from_its_tile_as_a_manual_event(client, folder):
    dataset_id = await make_dataset(client, folder, count=4)
    ring = (await client.post(f"{API}/datasets/{dataset_id}/classes", json={"name": "ring"})).json()["id"]
    item = (await client.get(f"{API}/datasets/{dataset_id}/items")).json()["items"][2]["id"]
    headers = await csrf_headers(client)
    url = f"/datasets/{dataset_id}/next/label-item"
    answer = await client.post(url, data={"item_id": str(item), "label_id": str(ring)}, headers=headers)
    assert answer.status_code == 200, answer.text
    assert {"todo-tile", "done"} <= classes(by_id(parse(answer.text), f"todo-{item}"))
    labels = (await client.get(f"{API}/datasets/{dataset_id}/labels")).json()
    assert labels == [{"item_id": item, "label_ids": [ring]}]
    events = (await client.get(f"{API}/datasets/{dataset_id}/events")).json()["events"]
    assert [e["kind"] for e in events] == ["manual"]
    again = await client.post(url, data={"item_id": str(item), "label_id": str(ring)}, headers=headers)
    assert again.status_code == 200
    assert len((await client.get(f"{API}/datasets/{dataset_id}/events")).json()["events"]) == 1
    gone = await client.post(url, data={"item_id": str(item), "label_id": "999999"}, headers=headers)
    assert gone.status_code == 400 and "no longer exists" in gone.text


async def test_a_batch_tile_labeled_in_place_comes_back_deselected_with_its_label(client, folder):
    """``tile=batch``: the answer is the batch gallery's tile (its score kept, its box unticked, the
    new label shown), so the batch leaves the item out; bad ids say what is wrong."""
    dataset_id = await make_dataset(client, folder, count=4)
    ring = (await client.post(f"{API}/datasets/{dataset_id}/classes", json={"name": "ring"})).json()["id"]
    item = (await client.get(f"{API}/datasets/{dataset_id}/items")).json()["items"][1]["id"]
    headers = await csrf_headers(client)
    url = f"/datasets/{dataset_id}/next/label-item"
    data = {"item_id": str(item), "label_id": str(ring), "tile": "batch", "score": "0.913"}
    answer = await client.post(url, data=data, headers=headers)
    assert answer.status_code == 200, answer.text
    tile = by_id(parse(answer.text), f"tile-{item}")
    assert tile is not None and "guided-tile" in classes(tile) and "selected" not in classes(tile)
    box = tile.xpath(".//input[@name='selected']")[0]
    assert box.get("value") == str(item) and box.get("checked") is None
    assert "0.913" in text_of(tile) and "ring" in text_of(tile)
    assert (await client.get(f"{API}/datasets/{dataset_id}/labels")).json() == [
        {"item_id": item, "label_ids": [ring]}
    ]
    missing = await client.post(url, data={**data, "item_id": "999999"}, headers=headers)
    assert missing.status_code == 404
    gone = await client.post(url, data={**data, "label_id": "999999"}, headers=headers)
    assert gone.status_code == 400 and "no longer exists" in gone.text


async def test_the_queue_pages_show_items_in_the_datasets_display_preset(client, folder):
    """A detector set is shown log-scaled in a colour map; the queue's pages drew its items linear
    and grey (a default view, not the dataset's preset), unlike every other page."""
    dataset_id = await make_dataset(client, folder, count=4)
    patched = await client.patch(
        f"{API}/datasets/{dataset_id}", json={"display": {"scale": "log", "colormap": "inferno"}}
    )
    assert patched.status_code == 200, patched.text
    ring = (await client.post(f"{API}/datasets/{dataset_id}/classes", json={"name": "ring"})).json()["id"]
    item = (await client.get(f"{API}/datasets/{dataset_id}/items")).json()["items"][0]["id"]
    headers = await csrf_headers(client)
    answer = await client.post(
        f"/datasets/{dataset_id}/next/label-item",
        data={"item_id": str(item), "label_id": str(ring)},
        headers=headers,
    )
    (src,) = [attr(img, "src") for img in all_of(parse(answer.text), f"//*[@id='todo-{item}']//img")]
    assert "cmap=inferno" in src and "scale=log" in src, src
    label_page = parse((await client.get(f"/datasets/{dataset_id}/label")).text)
    gallery = attr(all_of(label_page, f"//*[@id='tile-{item}']//img")[0], "src")
    assert src.split("?")[1].split("&v=")[0] in gallery, (src, gallery)  # as the label page shows it


async def test_the_label_pages_panel_asks_again_once_labels_change(client, folder):
    """The panel loaded once and kept saying "30 items unlabeled" while the Progress box counted the
    labels: every labeling answer now fires ``labels-changed`` once its panels are repainted, and the
    panel asks the queue again a second after the last one (a burst of keys asks once)."""
    dataset_id = await make_dataset(client, folder, count=4)
    ring = (await client.post(f"{API}/datasets/{dataset_id}/classes", json={"name": "ring"})).json()["id"]
    item = (await client.get(f"{API}/datasets/{dataset_id}/items")).json()["items"][0]["id"]
    label = parse((await client.get(f"/datasets/{dataset_id}/label")).text)
    panel = by_id(label, "next-actions")
    assert attr(panel, "hx-get") == f"/datasets/{dataset_id}/next/panel"
    assert attr(panel, "hx-trigger") == "load, labels-changed from:body delay:1s"
    headers = await csrf_headers(client)
    tagged = await client.post(
        f"/datasets/{dataset_id}/label/tag",
        data={"items": str(item), "label": str(ring), "op": "set", "visible": str(item)},
        headers=headers,
    )
    assert tagged.status_code == 200, tagged.text
    assert tagged.headers.get("hx-trigger-after-settle") == "labels-changed"


async def test_each_queue_page_computes_the_queue_once(client, folder, monkeypatch):
    """The queue costs a few hundred ms on a big dataset; opening a suggestion computed it twice
    (once for the suggestions listed, once to find the one opened)."""
    from backend.guided import next_actions as queue

    dataset_id = await make_dataset(client, folder, count=4)
    await client.post(f"{API}/datasets/{dataset_id}/classes", json={"name": "ring"})
    offered = (await client.get(f"{API}/datasets/{dataset_id}/next-actions")).json()["suggestions"]
    todo = next(s for s in offered if s["kind"] == "label_items")
    key = todo["key"]
    calls: list[int] = []
    compute = queue.next_actions

    async def counted(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(kwargs.get("limit", 10))
        return await compute(*args, **kwargs)

    monkeypatch.setattr(queue, "next_actions", counted)
    for path, params in (
        ("next", {}),
        ("next/panel", {}),
        ("next/open", {"key": key}),
        ("next/open", {"key": "no-such-suggestion"}),
    ):
        calls.clear()
        page = await client.get(f"/datasets/{dataset_id}/{path}", params=params)
        assert page.status_code == 200, page.text
        assert len(calls) == 1, (path, params, calls)
        html = parse(page.text)
        if params.get("key") == key:  # found in the one queue computed
            assert not all_of(html, "//*[@id='next-stale']")
            assert [attr(t, "data-id") for t in all_of(html, "//*[@id='todo-gallery']/*")] == [
                str(i) for i in todo["item_ids"]
            ]
        elif params:  # out of date: the queue computed lists the current suggestions
            assert by_id(html, "next-stale") is not None and key in page.text
    calls.clear()
    refused = await client.post(
        f"/datasets/{dataset_id}/next/accept",
        data={"key": "no-such-suggestion", "batch": "1", "selected": ["1"]},
        headers=await csrf_headers(client),
    )
    assert refused.status_code == 200 and len(calls) == 1, calls
