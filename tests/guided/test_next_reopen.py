"""A Next actions suggestion whose own items were labeled on its page since it was made: the key
names the newest event it was made after, so the first tile labeled in place (point at it, press
another class's key) put the suggestion out of date, and Back or a reload said "This suggestion is
out of date" (the batch, and every tile the person had left out of it, gone). It opens as it was
made now, those items drawn with their labels and left out, and accept labels the rest. Anything
else since (a label given elsewhere, the batch accepted) still says it is out of date, and offers
the queue's suggestion of that kind now."""

from __future__ import annotations

from typing import Any

import tests.guided.cluster_features  # noqa: F401  (registers the test-clusters extractor)
from tests.helpers.guided import API, add_class, item_ids, of_kind, queue, run_job, tag
from tests.helpers.pages import csrf_headers
from tests.html import all_of, attr, by_id, has_class, maybe_one, parse, text_of


async def _similarity_batches(server: Any, dataset_id: int) -> tuple[list[int], list[int], dict[str, Any]]:
    """Three classes, eight items labeled by the clusters' rule, the clusters' features: the queue
    offers a similarity batch per class (and items to label one by one)."""
    ids = await item_ids(server, dataset_id)
    classes = [await add_class(server, dataset_id, name) for name in ("a", "b", "c")]
    job = await run_job(server, {"kind": "train", "dataset_id": dataset_id, "algorithm": "test-clusters"})
    await run_job(server, {"kind": "infer", "model_id": job["model_id"]})
    for i in range(8):
        await tag(server, dataset_id, [ids[i]], classes[i % 3])
    return ids, classes, await queue(server, dataset_id)


def _tiles(html: str) -> list[tuple[int, bool, str]]:
    """Each batch tile: its item, drawn selected, the labels it shows."""
    figures = all_of(parse(html), f"//figure[{has_class('guided-tile')}]")
    return [
        (
            int(attr(f, "data-id")),
            "selected" in attr(f, "class").split(),
            " ".join(text_of(i) for i in f.xpath(".//span[@class='current']/i")),
        )
        for f in figures
    ]


async def test_a_batch_labeled_in_place_opens_again_as_it_was_and_accepts_the_rest(server, dataset):
    _ids, classes, found = await _similarity_batches(server, dataset.id)
    batch = of_kind(found, "similarity_batch")[0]
    members, label = batch["item_ids"], batch["label_id"]
    assert len(members) >= 4
    other = next(c for c in classes if c != label)
    opened = f"/datasets/{dataset.id}/next/open?key={batch['key']}"
    headers = await csrf_headers(server, opened)
    fixed, left_out = members[1], members[2]

    # a tile of another class labeled in place, as the page invites (point at it, press its key)
    data = {"item_id": str(fixed), "label_id": str(other), "tile": "batch", "score": "0.9"}
    answer = await server.post(f"/datasets/{dataset.id}/next/label-item", data=data, headers=headers)
    assert answer.status_code == 200, answer.text

    # Back or a reload: the batch as it was made, the tile labeled in place shown labeled, left out
    page = await server.get(opened)
    assert page.status_code == 200, page.text
    html = parse(page.text)
    assert not all_of(html, "//*[@id='next-stale']"), page.text
    assert "1 label(s) given on its page" in text_of(by_id(html, "next-reopened"))
    name = "abc"[classes.index(other)]
    assert _tiles(page.text) == [(i, i != fixed, name if i == fixed else "") for i in members]
    assert text_of(by_id(html, "batch-class")) == "abc"[classes.index(label)]
    assert attr(by_id(html, "next-main"), "data-repaint").endswith(batch["key"])

    # accept: the kept tiles (one more left out by hand), one event; the page is out of date after
    kept = [i for i in members if i not in (fixed, left_out)]
    form = {
        "key": batch["key"],
        "batch": "1",
        "label_id": str(label),
        "hand_deselected": str(left_out),
        "selected": [str(i) for i in kept],
    }
    accepted = await server.post(f"/datasets/{dataset.id}/next/accept", data=form, headers=headers)
    assert accepted.status_code == 200, accepted.text
    notice = text_of(by_id(parse(accepted.text), "next-notice"))
    assert notice.startswith(f"Labeled {len(kept)} item(s)"), notice
    labels = {
        r["item_id"]: r["label_ids"] for r in (await server.get(f"{API}/datasets/{dataset.id}/labels")).json()
    }
    assert labels[fixed] == [other] and left_out not in labels
    assert all(labels[i] == [label] for i in kept)
    again = parse((await server.get(opened)).text)
    assert by_id(again, "next-stale") is not None and maybe_one(again, "//*[@id='next-reopened']") is None


async def test_a_batch_labeled_elsewhere_is_out_of_date_and_its_kind_now_is_offered(server, dataset):
    """One of its items labeled by someone (not on its page), or a label given on its page to an
    item outside it: out of date as before, with a link to the queue's batch of that kind now (of
    its class where there is one).
    An item of it labeled since and kept is still refused at accept."""
    ids, classes, found = await _similarity_batches(server, dataset.id)
    batch = of_kind(found, "similarity_batch")[0]
    members, label = batch["item_ids"], batch["label_id"]
    opened = f"/datasets/{dataset.id}/next/open?key={batch['key']}"
    headers = await csrf_headers(server, opened)
    await tag(server, dataset.id, [members[0]], next(c for c in classes if c != label))
    page = parse((await server.get(opened)).text)
    assert by_id(page, "next-stale") is not None and maybe_one(page, "//*[@id='next-reopened']") is None
    alike = of_kind(await queue(server, dataset.id), "similarity_batch")  # its class's, else the first
    now = next((s for s in alike if s["label_id"] == label), alike[0])
    link = page.xpath("//*[@id='next-successor']//a")[0]
    assert attr(link, "href").endswith(now["key"]) and text_of(link) == now["title"]
    refused = await server.post(
        f"/datasets/{dataset.id}/next/accept",
        data={
            "key": batch["key"],
            "batch": "1",
            "label_id": str(label),
            "selected": [str(i) for i in members],
        },
        headers=headers,
    )
    assert "someone labeled 1 of these" in text_of(by_id(parse(refused.text), "next-warning"))

    # a label given on a suggestion's page, of an item outside this batch
    outside = next(i for i in ids[8:] if i not in now["item_ids"] and i not in members)
    data = {"item_id": str(outside), "label_id": str(label), "tile": "batch"}
    answer = await server.post(f"/datasets/{dataset.id}/next/label-item", data=data, headers=headers)
    assert answer.status_code == 200, answer.text
    stale = parse((await server.get(f"/datasets/{dataset.id}/next/open?key={now['key']}")).text)
    assert by_id(stale, "next-stale") is not None


async def test_items_to_label_one_by_one_open_again_after_labeling_some(server, dataset):
    """ "Label one by one": the items the key names, those labeled on the page shown done."""
    _ids, classes, found = await _similarity_batches(server, dataset.id)
    items = of_kind(found, "label_items")[0]
    first = items["item_ids"][0]
    opened = f"/datasets/{dataset.id}/next/open?key={items['key']}"
    headers = await csrf_headers(server, opened)
    data = {"item_id": str(first), "label_id": str(classes[0])}
    answer = await server.post(f"/datasets/{dataset.id}/next/label-item", data=data, headers=headers)
    assert answer.status_code == 200, answer.text
    page = parse((await server.get(opened)).text)
    assert maybe_one(page, "//*[@id='next-stale']") is None
    figures = all_of(page, f"//figure[{has_class('todo-tile')}]")
    assert [int(attr(f, "data-id")) for f in figures] == items["item_ids"]
    assert [f for f in figures if "done" in attr(f, "class").split()] == [figures[0]]
