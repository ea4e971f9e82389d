"""Rejections through REST and GraphQL: an item left out of a batch of a class is not offered again
in that class's probability batches, queue suggestions or similarity pages, and auto-labeling the
rest does not give it that class; an undo or an explicit label of that class clears it."""

from __future__ import annotations

from typing import Any

from tests.helpers.graphql import gql
from tests.helpers.guided import API, accept, of_kind, oracle, pca_model, queue, tag


async def rejected(client: Any, dataset_id: int, **params: Any) -> list[tuple[int, int]]:
    response = await client.get(f"{API}/datasets/{dataset_id}/rejections", params=params)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["total"] == len(body["rejections"])
    return [(r["item_id"], r["label_id"]) for r in body["rejections"]]


async def labels_of(client: Any, dataset_id: int) -> dict[int, list[int]]:
    listed = (await client.get(f"{API}/datasets/{dataset_id}/items", params={"limit": 100})).json()["items"]
    return {i["id"]: i["label_ids"] for i in listed}


async def test_an_item_left_out_of_a_queue_batch_is_not_offered_again_nor_auto_labeled(server, dataset):
    _ids, classes, model = await oracle(server, dataset.id)
    batch = of_kind(await queue(server, dataset.id), "probability_batch")[0]
    label, members = batch["label_id"], batch["item_ids"]
    assert len(members) >= 2
    out = members[0]  # the most probable one: every later batch of the class would start with it
    response = await accept(server, dataset.id, {"key": batch["key"], "item_ids": members[1:]})
    assert response.status_code == 201, response.text
    assert await rejected(server, dataset.id) == [(out, label)]
    assert (
        await rejected(server, dataset.id, label_id=classes[0] if label != classes[0] else classes[1]) == []
    )
    # a second user accepting the same suggestion whole: the usual conflict (the rejection came
    # after the suggestion, so its members are as they were), not "not in this suggestion"
    second = await accept(server, dataset.id, {"key": batch["key"]})
    assert second.status_code == 409, second.text

    # not in the class's next queue batch, probability preview (REST and GraphQL)
    for suggestion in of_kind(await queue(server, dataset.id), "probability_batch"):
        assert suggestion["label_id"] != label or out not in suggestion["item_ids"]
    page = await server.get(
        f"{API}/datasets/{dataset.id}/probability",
        params={"model_id": model, "threshold": 0.0, "label_id": label, "limit": 100},
    )
    assert page.status_code == 200, page.text
    assert out not in [c["item_id"] for c in page.json()["items"]]
    listed = await gql(
        server,
        "query($d: Int!, $m: Int!, $l: Int) { probabilityCandidates(datasetId: $d, modelId: $m, "
        "threshold: 0.0, labelId: $l, limit: 100) { items { itemId } } "
        "rejections(datasetId: $d) { total rejections { itemId labelId eventId } } }",
        {"d": dataset.id, "m": model, "l": label},
    )
    assert out not in [c["itemId"] for c in listed["probabilityCandidates"]["items"]]
    assert listed["rejections"]["total"] == 1
    assert listed["rejections"]["rejections"][0]["eventId"] == response.json()["batch_id"]

    # auto-label the rest: the rejected item is not labeled with its predicted class
    url = f"{API}/datasets/{dataset.id}/stopping-estimate"
    estimate = (await server.get(url, params={"threshold": 0.5})).json()
    unlabeled = [i for i, held in (await labels_of(server, dataset.id)).items() if not held]
    assert estimate["auto_label_count"] == len(unlabeled) - 1  # all but the rejected one
    done = await server.post(
        f"{API}/datasets/{dataset.id}/auto-label-rest",
        json={
            "model_id": model,
            "threshold": 0.5,
            "expected_count": estimate["auto_label_count"],
            "seen_event_id": estimate["seen_event_id"],
        },
    )
    assert done.status_code == 201, done.text
    labels = await labels_of(server, dataset.id)
    assert labels[out] == [] and all(labels[i] for i in unlabeled if i != out)

    # undo of the batch clears the rejection; redo brings it back; labeling it that class clears it
    undo = await server.post(f"{API}/events/{response.json()['batch_id']}/undo")
    assert undo.status_code in (200, 201), undo.text
    assert await rejected(server, dataset.id) == []
    redo = await server.post(f"{API}/events/{undo.json()['id']}/undo")
    assert redo.status_code in (200, 201), redo.text
    assert await rejected(server, dataset.id) == [(out, label)]
    await tag(server, dataset.id, [out], label)
    assert await rejected(server, dataset.id) == []


async def test_the_probability_and_similarity_doors_take_the_deselected_ids(server, dataset):
    ids, classes, model = await oracle(server, dataset.id)
    a = classes[0]
    url = f"{API}/datasets/{dataset.id}/probability"
    preview = (await server.get(url, params={"model_id": model, "threshold": 0.5, "label_id": a})).json()
    batch = [c["item_id"] for c in preview["items"]]
    out = batch[-1]
    body = {"model_id": model, "threshold": 0.5, "label_id": a, "expected_count": preview["count"]}
    both = await server.post(f"{url}/apply", json={**body, "rejected_item_ids": [out, out]})
    assert both.status_code == 201, both.text  # a repeated id is one rejection
    assert both.json()["labeled"] == len(batch) - 1 and both.json()["event"]["parameters"]["rejected"] == 1
    assert await rejected(server, dataset.id) == [(out, a)]
    again = (await server.get(url, params={"model_id": model, "threshold": 0.5, "label_id": a})).json()
    assert again["count"] == 0  # without the rejection: the deselected item again

    # similarity: the page's class leaves out the items rejected for it
    features = await pca_model(server, dataset.id)
    query = ids[3]  # labeled a
    params = {"model_id": features, "item_id": [query], "limit": 100}
    plain = (await server.get(f"{API}/datasets/{dataset.id}/similar", params=params)).json()
    assert out in [i["item_id"] for i in plain["items"]]
    only = (await server.get(f"{API}/datasets/{dataset.id}/similar", params={**params, "label_id": a})).json()
    assert out not in [i["item_id"] for i in only["items"]]
    assert plain["total"] - only["total"] == 1

    b = classes[1]
    unlabeled = [i for i, held in (await labels_of(server, dataset.id)).items() if not held and i != out]
    label = {"model_id": features, "query_item_ids": [query], "label_id": b, "shown": 3}
    clash = await server.post(
        f"{API}/datasets/{dataset.id}/similar/label",
        json={**label, "item_ids": unlabeled[:1], "rejected_item_ids": unlabeled[:2]},
    )
    assert clash.status_code == 400 and "both kept and rejected" in clash.text
    done = await server.post(
        f"{API}/datasets/{dataset.id}/similar/label",
        json={**label, "item_ids": unlabeled[:1], "rejected_item_ids": unlabeled[1:3]},
    )
    assert done.status_code == 201, done.text
    assert set(await rejected(server, dataset.id, label_id=b)) == {(i, b) for i in unlabeled[1:3]}
    skipped = (
        await server.get(f"{API}/datasets/{dataset.id}/similar", params={**params, "label_id": b})
    ).json()
    assert not {i["item_id"] for i in skipped["items"]} & set(unlabeled[1:3])
    assert (await server.get(f"{API}/datasets/999999/rejections")).status_code == 404


async def test_the_probability_apply_leaves_out_items_deselected_in_bulk_without_recording_them(
    server, dataset
):
    """``left_out_item_ids`` (the page's "Select none" or Shift-click range; GraphQL
    ``leftOutItemIds``): out of the batch, not labeled and not recorded, so the class's next batch
    offers them again; the ``rejected_item_ids`` sent beside them are recorded."""
    _ids, classes, model = await oracle(server, dataset.id)
    url = f"{API}/datasets/{dataset.id}/probability"
    mutation = (
        "mutation($d: Int!, $m: Int!, $l: Int, $n: Int, $r: [Int!], $o: [Int!]) { applyProbability("
        "datasetId: $d, modelId: $m, threshold: 0.5, labelId: $l, expectedCount: $n, rejectedItemIds: $r, "
        "leftOutItemIds: $o) { labeled event { id parameters } } }"
    )
    for door, label in (("rest", classes[0]), ("graphql", classes[1])):
        params = {"model_id": model, "threshold": 0.5, "label_id": label, "limit": 100}
        preview = (await server.get(url, params=params)).json()
        batch = [c["item_id"] for c in preview["items"]]
        assert len(batch) == preview["count"] >= 4, door
        out, no = batch[:2], batch[2]
        if door == "rest":
            body = {"model_id": model, "threshold": 0.5, "label_id": label, "expected_count": len(batch)}
            response = await server.post(
                f"{url}/apply", json={**body, "rejected_item_ids": [no], "left_out_item_ids": out}
            )
            assert response.status_code == 201, response.text
            applied = response.json()
        else:
            variables = {"d": dataset.id, "m": model, "l": label, "n": len(batch), "r": [no], "o": out}
            applied = (await gql(server, mutation, variables))["applyProbability"]
        assert applied["labeled"] == len(batch) - 3, door
        assert applied["event"]["parameters"]["rejected"] == 1, door
        labels = await labels_of(server, dataset.id)
        assert not any(labels[i] for i in [*out, no]) and all(labels[i] == [label] for i in batch[3:]), door
        assert await rejected(server, dataset.id, label_id=label) == [(no, label)], door
        again = (await server.get(url, params=params)).json()
        assert sorted(c["item_id"] for c in again["items"]) == sorted(out), door  # offered again


async def test_the_probability_apply_counts_the_left_out_ids_the_batch_did_not_hold(server, dataset):
    """A named ``left_out_item_ids`` the batch does not hold (a mistyped id, a batch that moved on)
    leaves nothing out: REST ``left_out_not_in_batch`` and GraphQL ``leftOutNotInBatch`` say how
    many, where they used to be dropped without a word."""
    _ids, classes, model = await oracle(server, dataset.id)
    url = f"{API}/datasets/{dataset.id}/probability"
    mutation = (
        "mutation($d: Int!, $m: Int!, $l: Int, $o: [Int!]) { applyProbability(datasetId: $d, modelId: $m, "
        "threshold: 0.5, labelId: $l, leftOutItemIds: $o) { labeled leftOutNotInBatch } }"
    )
    for door, label in (("rest", classes[0]), ("graphql", classes[1])):
        params = {"model_id": model, "threshold": 0.5, "label_id": label, "limit": 100}
        batch = [c["item_id"] for c in (await server.get(url, params=params)).json()["items"]]
        out = [batch[0], 999998, 999999]  # one of the batch, two not
        if door == "rest":
            body = {"model_id": model, "threshold": 0.5, "label_id": label, "left_out_item_ids": out}
            response = await server.post(f"{url}/apply", json=body)
            assert response.status_code == 201, response.text
            applied = response.json()
            assert applied["left_out_not_in_batch"] == 2, door
        else:
            variables = {"d": dataset.id, "m": model, "l": label, "o": out}
            applied = (await gql(server, mutation, variables))["applyProbability"]
            assert applied["leftOutNotInBatch"] == 2, door
        assert applied["labeled"] == len(batch) - 1, door


async def test_the_probability_apply_counts_the_rejected_ids_the_batch_did_not_hold(server, dataset):
    """A named ``rejected_item_ids`` the batch does not hold records no rejection: REST
    ``rejected_not_in_batch`` and GraphQL ``rejectedNotInBatch`` say how many, apart from the
    left-out ids, where they used to be dropped without a word."""
    _ids, classes, model = await oracle(server, dataset.id)
    url = f"{API}/datasets/{dataset.id}/probability"
    mutation = (
        "mutation($d: Int!, $m: Int!, $l: Int, $r: [Int!], $o: [Int!]) { applyProbability(datasetId: $d, "
        "modelId: $m, threshold: 0.5, labelId: $l, rejectedItemIds: $r, leftOutItemIds: $o) "
        "{ labeled leftOutNotInBatch rejectedNotInBatch event { parameters } } }"
    )
    for door, label in (("rest", classes[0]), ("graphql", classes[1])):
        params = {"model_id": model, "threshold": 0.5, "label_id": label, "limit": 100}
        batch = [c["item_id"] for c in (await server.get(url, params=params)).json()["items"]]
        rejected = [batch[0], 999995, 999996, 999997]  # one of the batch, three not
        left_out = [batch[1], 999998]
        if door == "rest":
            body = {
                "model_id": model,
                "threshold": 0.5,
                "label_id": label,
                "rejected_item_ids": rejected,
                "left_out_item_ids": left_out,
            }
            response = await server.post(f"{url}/apply", json=body)
            assert response.status_code == 201, response.text
            applied = response.json()
            counts = (applied["rejected_not_in_batch"], applied["left_out_not_in_batch"])
        else:
            variables = {"d": dataset.id, "m": model, "l": label, "r": rejected, "o": left_out}
            applied = (await gql(server, mutation, variables))["applyProbability"]
            counts = (applied["rejectedNotInBatch"], applied["leftOutNotInBatch"])
        assert counts == (3, 1), door
        assert applied["labeled"] == len(batch) - 2, door
        assert applied["event"]["parameters"]["rejected"] == 1, door  # batch[0] alone recorded
        again = (await server.get(url, params=params)).json()["items"]
        assert batch[0] not in [c["item_id"] for c in again], door


async def test_an_item_rejected_for_its_top_class_is_offered_and_shown_its_next_class(server, dataset):
    """Deselected from a batch of its most probable class, an item goes to the batch of its next
    class, and the classifier's class shown on it to label by hand is that next class: accepting
    either as shown labels it (the accept reckons with the rejections the suggestion saw)."""
    _ids, classes, _model = await oracle(server, dataset.id)
    batch = of_kind(await queue(server, dataset.id), "probability_batch")[0]
    label, members = batch["label_id"], batch["item_ids"]
    out = members[0]
    response = await accept(server, dataset.id, {"key": batch["key"], "item_ids": members[1:]})
    assert response.status_code == 201, response.text

    found = await queue(server, dataset.id)
    (by_hand,) = of_kind(found, "label_items")
    assert out in by_hand["item_ids"]
    shown = dict(zip(by_hand["item_ids"], by_hand["params"]["predicted_label_ids"], strict=True))
    assert shown[out] in classes and shown[out] != label  # never the class a person said it is not
    (elsewhere,) = [s for s in of_kind(found, "probability_batch") if out in s["item_ids"]]
    assert elsewhere["label_id"] == shown[out]
    kept = await accept(server, dataset.id, {"key": elsewhere["key"], "item_ids": elsewhere["item_ids"]})
    assert kept.status_code == 201, kept.text  # was 400: "not in this suggestion"
    assert (await labels_of(server, dataset.id))[out] == [shown[out]]


async def test_a_queue_accept_records_only_the_rejected_items_it_names(server, dataset):
    """``rejected_item_ids`` says which members left out are not the class (those clicked out one
    by one); the others left out (flagged ones taken out in bulk, a tail nobody read) stay out of
    the batch without a rejection. Each named item must be a member left out (400 otherwise)."""
    _ids, _classes, model = await oracle(server, dataset.id)
    batch = of_kind(await queue(server, dataset.id), "probability_batch")[0]
    label, members = batch["label_id"], batch["item_ids"]
    assert len(members) >= 3
    other = next(i for i in await labels_of(server, dataset.id) if i not in members)
    body = {"key": batch["key"], "item_ids": members[2:]}
    for wrong, says in (
        ([members[0], members[2]], "both kept and rejected"),
        ([members[0], other], "not in this suggestion"),
    ):
        refused = await accept(server, dataset.id, {**body, "rejected_item_ids": wrong})
        assert refused.status_code == 400, refused.text
        assert says in refused.text and "rejected_item_ids" in refused.text
    labels = await labels_of(server, dataset.id)
    assert await rejected(server, dataset.id) == [] and not any(labels[i] for i in members)

    done = await accept(server, dataset.id, {**body, "rejected_item_ids": [members[0]]})
    assert done.status_code == 201, done.text
    assert done.json()["labeled"] == len(members) - 2
    assert await rejected(server, dataset.id) == [(members[0], label)]  # members[1]: out, not rejected
    events = (await server.get(f"{API}/datasets/{dataset.id}/events", params={"limit": 1})).json()["events"]
    assert events[0]["parameters"]["rejected"] == 1 and events[0]["parameters"]["deselected"] == 2
    # the class's next batch offers the item left out unjudged again, not the rejected one
    params = {"model_id": model, "threshold": 0.0, "label_id": label, "limit": 100}
    page = (await server.get(f"{API}/datasets/{dataset.id}/probability", params=params)).json()
    offered = [c["item_id"] for c in page["items"]]
    assert members[1] in offered and members[0] not in offered


async def test_a_queue_accept_without_the_list_rejects_every_member_left_out_graphql_too(server, dataset):
    """Clients that do not send ``rejectedItemIds`` keep today's answer: every member left out is
    rejected. A list on a suggestion that is no batch is refused."""
    await oracle(server, dataset.id)
    found = await queue(server, dataset.id)
    batch = of_kind(found, "probability_batch")[0]
    label, members = batch["label_id"], batch["item_ids"]
    (by_hand,) = of_kind(found, "label_items")
    refused = await accept(server, dataset.id, {"key": by_hand["key"], "rejected_item_ids": members[:1]})
    assert refused.status_code == 400 and "only a similarity or probability batch" in refused.text
    mutation = (
        "mutation($d: Int!, $k: String!, $i: [Int!], $r: [Int!]) { acceptSuggestion(datasetId: $d, "
        "key: $k, itemIds: $i, rejectedItemIds: $r) { labeled batchId } }"
    )
    done = await gql(server, mutation, {"d": dataset.id, "k": batch["key"], "i": members[2:], "r": None})
    assert done["acceptSuggestion"]["labeled"] == len(members) - 2
    assert set(await rejected(server, dataset.id)) == {(members[0], label), (members[1], label)}
