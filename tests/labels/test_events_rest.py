"""REST: tagging, the event record, undo / redo, labels as of a time or by tagger, progress."""

from __future__ import annotations

from datetime import datetime, timedelta

from tests.helpers import graphql
from tests.helpers.rest import API, add_class, assert_error, create_dataset, item_ids, snapshot, tag


async def _labeled(client, folder, count: int = 6, *, multi_label: bool = False):
    dataset = (await create_dataset(client, folder, count=count, multi_label=multi_label))["dataset"]
    ids = await item_ids(client, dataset["id"])
    cat, dog = await add_class(client, dataset["id"], "cat"), await add_class(client, dataset["id"], "dog")
    return dataset["id"], ids, cat["id"], dog["id"]


async def _labels(client, dataset_id: int, **params) -> dict[int, list[int]]:
    response = await client.get(f"{API}/datasets/{dataset_id}/labels", params=params)
    assert response.status_code == 200, response.text
    return {row["item_id"]: row["label_ids"] for row in response.json()}


async def test_tagging_records_one_event_with_the_callers_tagger(client, folder):
    dataset_id, ids, cat, _ = await _labeled(client, folder)
    response = await client.post(
        f"{API}/datasets/{dataset_id}/tags",
        json={
            "item_ids": ids[:3],
            "label_id": cat,
            "kind": "import",
            "parameters": {"k": 3},
        },
        headers={"X-Labelwise-Tagger": "ann"},
    )
    assert response.status_code == 201, response.text
    event = response.json()
    assert (event["tagger"], event["kind"], event["tag_count"], event["model_id"]) == (
        "ann",
        "import",
        3,
        None,
    )
    assert event["parameters"] == {"k": 3} and event["dataset_id"] == dataset_id
    assert await _labels(client, dataset_id) == {i: [cat] for i in ids[:3]}
    default = await tag(client, dataset_id, ids[3:4], cat)
    assert default["tagger"] == "tester"  # the server's configured tagger
    by_cookie = await client.post(
        f"{API}/datasets/{dataset_id}/tags",
        json={"item_ids": ids[4:5], "label_id": cat},
        headers={"Cookie": "labelwise_tagger=cookie_monster"},
    )
    assert by_cookie.json()["tagger"] == "cookie_monster"


async def test_multi_label_add_and_remove_through_the_api(client, folder):
    dataset_id, ids, cat, dog = await _labeled(client, folder, multi_label=True)
    await tag(client, dataset_id, ids[:2], cat, op="add")
    await tag(client, dataset_id, ids[:1], dog, op="add")
    assert await _labels(client, dataset_id) == {ids[0]: sorted([cat, dog]), ids[1]: [cat]}
    await tag(client, dataset_id, ids[:2], cat, op="remove")
    await tag(client, dataset_id, ids[:1], None, op="clear")
    assert await _labels(client, dataset_id) == {}


async def test_bad_tag_requests_are_refused_and_change_nothing(client, data_root, folder):
    dataset_id, ids, cat, _ = await _labeled(client, folder)
    _, other_ids, other_cat, _ = await _labeled(client, data_root / f"{folder.name}-b", count=2)
    await tag(client, dataset_id, ids[:1], cat)
    before = await snapshot(client)
    base = f"{API}/datasets/{dataset_id}/tags"
    error = assert_error(
        await client.post(base, json={"item_ids": [999999], "label_id": cat}), 404, "NOT_FOUND"
    )
    assert error["details"]["unknown_items"] == [999999]
    assert_error(await client.post(base, json={"item_ids": other_ids, "label_id": cat}), 404, "NOT_FOUND")
    assert_error(await client.post(base, json={"item_ids": ids, "label_id": other_cat}), 404, "NOT_FOUND")
    assert_error(await client.post(base, json={"item_ids": ids, "label_id": 999999}), 404, "NOT_FOUND")
    assert_error(
        await client.post(base, json={"item_ids": [], "label_id": cat}), 400, "INVALID", "at least one"
    )
    assert_error(
        await client.post(base, json={"item_ids": ids, "op": "add"}), 400, "INVALID", "needs a label"
    )
    assert_error(await client.post(base, json={"item_ids": ids, "op": "toggle"}), 400, "INVALID", "op")
    assert_error(await client.post(base, json={"item_ids": ids, "kind": "undo"}), 400, "INVALID", "kind")
    assert_error(await client.post(base, json={"item_ids": "all"}), 400, "INVALID", "item_ids")
    assert_error(await client.post(base, json={"label_id": cat}), 400, "INVALID", "item_ids")
    bad_tagger = await client.post(
        base, json={"item_ids": ids, "label_id": cat}, headers={"X-Labelwise-Tagger": "<script>"}
    )
    assert_error(bad_tagger, 400, "INVALID", "tagger")
    response = await client.post(f"{API}/datasets/999999/tags", json={"item_ids": ids, "label_id": cat})
    assert_error(response, 404, "NOT_FOUND")
    assert await snapshot(client) == before


async def test_events_are_listed_newest_first_and_filtered(client, folder):
    dataset_id, ids, cat, dog = await _labeled(client, folder)
    first = await tag(client, dataset_id, ids[:2], cat)
    second = await client.post(
        f"{API}/datasets/{dataset_id}/tags",
        json={"item_ids": ids[2:3], "label_id": dog, "kind": "review"},
        headers={"X-Labelwise-Tagger": "bob"},
    )
    second = second.json()
    base = f"{API}/datasets/{dataset_id}/events"
    page = (await client.get(base)).json()
    assert [e["id"] for e in page["events"]] == [second["id"], first["id"]] and page["total"] == 2
    assert [e["id"] for e in (await client.get(base, params={"tagger": "bob"})).json()["events"]] == [
        second["id"]
    ]
    assert (await client.get(base, params={"kind": "manual"})).json()["total"] == 1
    one = (await client.get(base, params={"limit": 1, "offset": 1})).json()
    assert [e["id"] for e in one["events"]] == [first["id"]] and one["total"] == 2
    later = datetime.fromisoformat(second["created_at"]) + timedelta(seconds=1)
    naive = later.replace(tzinfo=None).isoformat()  # no zone: taken as UTC
    assert (await client.get(base, params={"since": naive})).json()["total"] == 0
    assert (await client.get(base, params={"until": naive})).json()["total"] == 2
    assert_error(
        await client.get(base, params={"since": naive, "until": first["created_at"]}), 400, "INVALID", "since"
    )


async def test_event_pages_over_the_cap_are_400(client, settings, folder):
    dataset_id, ids, cat, _ = await _labeled(client, folder)
    event = await tag(client, dataset_id, ids, cat)
    over = settings.max_page_size + 1
    error = assert_error(
        await client.get(f"{API}/datasets/{dataset_id}/events", params={"limit": over}), 400, "INVALID", "cap"
    )
    assert error["details"] == {"max_limit": settings.max_page_size}
    response = await client.get(f"{API}/events/{event['id']}", params={"tags_limit": over})
    assert_error(response, 400, "INVALID", "cap")


async def test_event_detail_pages_its_tags(client, folder):
    dataset_id, ids, cat, _ = await _labeled(client, folder)
    event = await tag(client, dataset_id, ids[:5], cat)
    detail = (
        await client.get(f"{API}/events/{event['id']}", params={"tags_offset": 1, "tags_limit": 3})
    ).json()
    assert detail["event"] == event
    assert [t["item_id"] for t in detail["tags"]] == ids[1:4]
    assert {(t["op"], t["label_id"]) for t in detail["tags"]} == {("set", cat)}
    assert_error(await client.get(f"{API}/events/999999"), 404, "NOT_FOUND", "999999")
    assert_error(await client.post(f"{API}/events/999999/undo"), 404, "NOT_FOUND")


async def test_undo_restores_labels_and_a_second_undo_is_a_conflict(client, folder):
    dataset_id, ids, cat, dog = await _labeled(client, folder)
    await tag(client, dataset_id, ids[:2], cat)
    event = await tag(client, dataset_id, ids[:2], dog)
    response = await client.post(f"{API}/events/{event['id']}/undo")
    assert response.status_code == 201, response.text
    undo = response.json()
    assert undo["kind"] == "undo" and undo["undoes_event_id"] == event["id"]
    assert await _labels(client, dataset_id) == {i: [cat] for i in ids[:2]}
    before = await snapshot(client)
    assert_error(await client.post(f"{API}/events/{event['id']}/undo"), 409, "CONFLICT", "already undone")
    assert await snapshot(client) == before


async def test_undo_last_and_redo_last_act_on_the_callers_own_work(client, folder):
    dataset_id, ids, cat, dog = await _labeled(client, folder)
    ann, bob = {"X-Labelwise-Tagger": "ann"}, {"X-Labelwise-Tagger": "bob"}
    base = f"{API}/datasets/{dataset_id}"
    mine = (
        await client.post(f"{base}/tags", json={"item_ids": ids[:1], "label_id": cat}, headers=ann)
    ).json()
    await client.post(f"{base}/tags", json={"item_ids": ids[1:2], "label_id": dog}, headers=bob)
    before = await snapshot(client)
    assert_error(await client.post(f"{base}/redo-last", headers=ann), 409, "CONFLICT", "nothing to redo")
    assert await snapshot(client) == before

    undone = await client.post(f"{base}/undo-last", headers=ann)
    assert undone.status_code == 201, undone.text
    assert undone.json()["undoes_event_id"] == mine["id"] and undone.json()["tagger"] == "ann"
    assert await _labels(client, dataset_id) == {ids[1]: [dog]}  # bob's work stays
    before = await snapshot(client)
    assert_error(await client.post(f"{base}/undo-last", headers=ann), 409, "CONFLICT", "nothing to undo")
    assert await snapshot(client) == before

    redone = await client.post(f"{base}/redo-last", headers=ann)
    assert redone.status_code == 201 and redone.json()["undoes_event_id"] == undone.json()["id"]
    assert await _labels(client, dataset_id) == {ids[0]: [cat], ids[1]: [dog]}
    assert_error(
        await client.post(f"{base}/undo-last"), 409, "CONFLICT", "tester"
    )  # nothing of the default's


async def test_labels_as_of_a_time_and_by_tagger_are_rebuilt_from_events(client, folder):
    dataset_id, ids, cat, dog = await _labeled(client, folder)
    base = f"{API}/datasets/{dataset_id}/tags"
    first = (
        await client.post(
            base, json={"item_ids": ids[:2], "label_id": cat}, headers={"X-Labelwise-Tagger": "ann"}
        )
    ).json()
    await client.post(
        base, json={"item_ids": ids[1:3], "label_id": dog}, headers={"X-Labelwise-Tagger": "bob"}
    )
    assert await _labels(client, dataset_id) == {ids[0]: [cat], ids[1]: [dog], ids[2]: [dog]}
    assert await _labels(client, dataset_id, as_of=first["created_at"]) == {ids[0]: [cat], ids[1]: [cat]}
    long_ago = (datetime.fromisoformat(first["created_at"]) - timedelta(days=1)).isoformat()
    assert await _labels(client, dataset_id, as_of=long_ago) == {}
    assert await _labels(client, dataset_id, tagger="bob") == {ids[1]: [dog], ids[2]: [dog]}
    assert await _labels(client, dataset_id, tagger="nobody") == {}
    response = await client.get(
        f"{API}/datasets/{dataset_id}/labels", params={"as_of": first["created_at"], "tagger": "ann"}
    )
    assert_error(response, 400, "INVALID", "not both")
    response = await client.get(f"{API}/datasets/{dataset_id}/labels", params={"as_of": "yesterday"})
    assert_error(response, 400, "INVALID", "as_of")
    assert_error(await client.get(f"{API}/datasets/999999/labels", params={"tagger": "x"}), 404, "NOT_FOUND")


async def _pages(client, dataset_id: int, limit: int, **params) -> list[list[tuple[int, list[int]]]]:
    """Every page of the labels, ``limit`` at a time, up to the first short one."""
    pages: list[list[tuple[int, list[int]]]] = []
    while not pages or len(pages[-1]) == limit:
        query = {**params, "offset": limit * len(pages), "limit": limit}
        response = await client.get(f"{API}/datasets/{dataset_id}/labels", params=query)
        assert response.status_code == 200, response.text
        pages.append([(row["item_id"], row["label_ids"]) for row in response.json()])
    return pages


async def test_labels_are_paged_by_item_id_with_offset_and_limit(client, folder, settings):
    """``limit`` gives one page of the labeled items by item id (an item with two labels is one
    entry), current or rebuilt, as GraphQL ``labels`` pages; without it every one, as before."""
    dataset_id, ids, cat, dog = await _labeled(client, folder, count=8, multi_label=True)
    first = await tag(client, dataset_id, ids[:5], cat, op="add")
    await tag(client, dataset_id, ids[1:2], dog, op="add")
    await tag(client, dataset_id, ids[6:7], dog, op="add")
    whole = (await client.get(f"{API}/datasets/{dataset_id}/labels")).json()
    assert [row["item_id"] for row in whole] == sorted([*ids[:5], ids[6]])  # no limit: all, a list
    pages = await _pages(client, dataset_id, 4)
    assert [len(p) for p in pages] == [4, 2]
    assert [entry for page in pages for entry in page] == [(r["item_id"], r["label_ids"]) for r in whole]
    assert dict(pages[0])[ids[1]] == sorted([cat, dog])
    assert [len(p) for p in await _pages(client, dataset_id, 3)] == [3, 3, 0]
    as_of = await _pages(client, dataset_id, 2, as_of=first["created_at"])
    assert [entry for page in as_of for entry in page] == [(i, [cat]) for i in sorted(ids[:5])]
    by_tagger = await _pages(client, dataset_id, 5, tagger="tester")
    assert [item for page in by_tagger for item, _ in page] == sorted([*ids[:5], ids[6]])

    query = "query($d: Int!, $o: Int!) { labels(datasetId: $d, offset: $o, limit: 4) { itemId labelIds } }"
    for number, page in enumerate(pages):
        rows = (await graphql.gql(client, query, {"d": dataset_id, "o": 4 * number}))["labels"]
        assert [(r["itemId"], r["labelIds"]) for r in rows] == page

    url = f"{API}/datasets/{dataset_id}/labels"
    over = settings.max_page_size + 1
    error = assert_error(await client.get(url, params={"limit": over}), 400, "INVALID", "cap")
    assert error["details"] == {"max_limit": settings.max_page_size}
    assert_error(await client.get(url, params={"limit": 0}), 400, "INVALID", "limit")
    assert_error(await client.get(url, params={"offset": -1, "limit": 2}), 400, "INVALID", "offset")
    assert (await client.get(url, params={"offset": 99, "limit": 2})).json() == []


async def test_progress_counts_labeled_items_and_items_per_class(client, folder):
    dataset_id, ids, cat, dog = await _labeled(client, folder)
    await tag(client, dataset_id, ids[:3], cat)
    await tag(client, dataset_id, ids[3:4], dog)
    progress = (await client.get(f"{API}/datasets/{dataset_id}/progress")).json()
    assert (progress["total"], progress["labeled"], progress["unlabeled"]) == (6, 4, 2)
    assert abs(progress["fraction"] - 4 / 6) < 1e-9
    assert [(c["id"], c["name"], c["count"]) for c in progress["classes"]] == [
        (cat, "cat", 3),
        (dog, "dog", 1),
    ]
    assert all(c["color"].startswith("#") for c in progress["classes"])


async def test_a_client_cannot_forge_a_model_made_event(client, folder):
    """Similarity/probability events, and any model id, come only from the server's batch endpoints."""
    dataset_id, ids, cat, _ = await _labeled(client, folder)
    url = f"{API}/datasets/{dataset_id}/tags"
    for kind in ("similarity", "probability"):
        forged = {"item_ids": ids[:2], "label_id": cat, "kind": kind, "parameters": {"threshold": 0.99}}
        assert_error(await client.post(url, json=forged), 400, "INVALID", "batch endpoints")
    named = {"item_ids": ids[:2], "label_id": cat, "kind": "manual", "model_id": 424242}
    assert_error(await client.post(url, json=named), 400, "INVALID", "cannot name a model")
    assert await _labels(client, dataset_id) == {}
    assert (await client.get(f"{API}/datasets/{dataset_id}/events")).json()["total"] == 0
