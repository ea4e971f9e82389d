"""A batch applied after its preview (the explorer's selection): labeled items are left alone unless
overwrite, items someone relabeled since the preview are left and counted, and a batch with nothing
left is refused with the counts. REST and GraphQL."""

from __future__ import annotations

from tests.helpers.graphql import gql
from tests.helpers.guided import API, add_class, item_ids, pca_model, run_job
from tests.helpers.rest import assert_error


async def test_explorer_batch_applies_what_is_still_true_and_says_what_changed(server, dataset):
    model = await pca_model(server, dataset.id)
    job = await run_job(server, {"kind": "project", "model_id": model, "parameters": {"method": "pca"}})
    ids = await item_ids(server, dataset.id)
    a, b = await add_class(server, dataset.id, "A"), await add_class(server, dataset.id, "B")
    assert (
        await server.post(f"{API}/datasets/{dataset.id}/tags", json={"item_ids": ids[:3], "label_id": a})
    ).status_code == 201
    seen = (await server.get(f"{API}/models/{model}/projection")).json()["labels_event_id"]
    assert seen > 0
    bob = await server.post(
        f"{API}/datasets/{dataset.id}/tags",
        json={"item_ids": [ids[5]], "label_id": a},
        headers={"X-Labelwise-Tagger": "bob"},
    )
    assert bob.status_code == 201
    url = f"{API}/datasets/{dataset.id}/explorer/label"
    body = {"projection_job_id": job["id"], "item_ids": ids[:10], "label_id": b, "seen_event_id": seen}
    done = await server.post(url, json=body)
    assert done.status_code == 201, done.text
    event = done.json()
    assert event["tag_count"] == 6
    assert (event["parameters"]["skipped_labeled"], event["parameters"]["skipped_changed"]) == (3, 1)

    again = await server.post(url, json={**body, "seen_event_id": None})
    assert_error(again, 409, "CONFLICT", "10 are labeled already", "overwrite")
    stale = await server.post(url, json={**body, "overwrite": True})  # the preview before Bob and B
    assert stale.status_code == 201, stale.text
    assert (stale.json()["tag_count"], stale.json()["parameters"]["skipped_changed"]) == (3, 7)

    query = """mutation($d: Int!, $j: Int!, $i: [Int!]!, $l: Int, $s: Int) {
      labelProjectionSelection(datasetId: $d, projectionJobId: $j, itemIds: $i, labelId: $l,
                               overwrite: true, seenEventId: $s) { tagCount parameters } }"""
    fresh = await gql(server, "query($m: Int!) { projection(modelId: $m) { labelsEventId } }", {"m": model})
    data = await gql(
        server,
        query,
        {"d": dataset.id, "j": job["id"], "i": ids[:10], "l": a, "s": fresh["projection"]["labelsEventId"]},
    )
    assert data["labelProjectionSelection"]["tagCount"] == 10
    labels = {
        r["item_id"]: r["label_ids"] for r in (await server.get(f"{API}/datasets/{dataset.id}/labels")).json()
    }
    assert all(labels[i] == [a] for i in ids[:10])


async def test_similarity_leaves_out_decided_items_and_what_changed_since_the_page(server, dataset):
    model = await pca_model(server, dataset.id)
    ids = await item_ids(server, dataset.id)
    ring = await add_class(server, dataset.id, "ring")
    url = f"{API}/datasets/{dataset.id}/similar"
    first = await server.get(url, params={"model_id": model, "item_id": ids[0], "limit": 10})
    shown = [r["item_id"] for r in first.json()["items"]]
    rest = await server.get(
        url, params={"model_id": model, "item_id": ids[0], "limit": 30, "exclude_item_id": shown[1:]}
    )
    assert rest.json()["total"] == 30 - 9
    assert not set(shown[1:]) & {r["item_id"] for r in rest.json()["items"]}

    seen = (await server.get(f"{API}/datasets/{dataset.id}/events", params={"limit": 1})).json()["events"]
    seen_id = seen[0]["id"] if seen else 0
    bob = await server.post(
        f"{API}/datasets/{dataset.id}/tags",
        json={"item_ids": shown[:2], "label_id": ring},
        headers={"X-Labelwise-Tagger": "bob"},
    )
    assert bob.status_code == 201
    body = {
        "model_id": model,
        "query_item_ids": [ids[0]],
        "item_ids": shown,
        "label_id": ring,
        "shown": len(shown),
        "seen_event_id": seen_id,
    }
    labeled = await server.post(f"{url}/label", json=body)
    assert labeled.status_code == 201, labeled.text
    assert (labeled.json()["tag_count"], labeled.json()["parameters"]["skipped_changed"]) == (8, 2)
    refused = await server.post(f"{url}/label", json={**body, "item_ids": shown[:2]})
    assert_error(refused, 409, "CONFLICT", "2 were changed since you looked")
