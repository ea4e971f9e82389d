"""Bad input to the guided-labeling doors, as a careless or hostile script sends it: each is a clear
4xx naming the problem, the same over REST and GraphQL, and nothing is written."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import tests.guided.cluster_features  # noqa: F401  (registers the test feature model)
from backend.paging import BATCH_PAGES
from tests.helpers.graphql import gql_error
from tests.helpers.guided import (
    accept,
    add_class,
    classifier_model,
    events,
    folder_dataset,
    item_ids,
    of_kind,
    queue,
    run_job,
    tag,
)
from tests.helpers.rest import API, assert_error


async def _classified(server: Any, dataset_id: int) -> tuple[list[int], int, int, int]:
    """Classes a and b, four items of each labeled, the fixed test classifier trained and applied."""
    ids = await item_ids(server, dataset_id)
    a = await add_class(server, dataset_id, "a")
    b = await add_class(server, dataset_id, "b")
    await tag(server, dataset_id, ids[:4], a)
    await tag(server, dataset_id, ids[4:8], b)
    return ids, a, b, await classifier_model(server, dataset_id, [a, b])


async def other_dataset(server: Any, folder: Path) -> tuple[int, list[int]]:
    """A second dataset beside the fixture's, with one labeling event of its own."""
    other = folder.parent / f"other_{uuid.uuid4().hex[:8]}"
    other.mkdir()
    dataset_id, ids = await folder_dataset(server, other, other.name, count=3)
    await tag(server, dataset_id, ids[:1], await add_class(server, dataset_id, "x"))
    return dataset_id, ids


BATCH_FLAGS = """
query($d: Int!, $m: Int!, $items: [Int!]!, $label: Int) {
  batchFlags(datasetId: $d, modelId: $m, itemIds: $items, labelId: $label) { rule flags { itemId } }
}"""


async def test_batch_flags_refuse_an_unknown_class_and_an_oversized_batch_at_both_doors(
    server, dataset, guided_settings
):
    """``label_id`` 999999 (or a deleted class) was judged as "no class given" (200, the distance
    rule alone); GraphQL took a batch of any length, where REST stops at the batch cap."""
    ids, a, b, model = await _classified(server, dataset.id)
    url = f"{API}/datasets/{dataset.id}/batch-flags"
    unknown = await server.post(url, json={"model_id": model, "item_ids": ids[10:12], "label_id": 999999})
    assert_error(unknown, 404, "NOT_FOUND", "999999")
    per_item = await server.post(
        url, json={"model_id": model, "item_ids": ids[10:12], "label_ids": [a, 999999]}
    )
    assert_error(per_item, 404, "NOT_FOUND", "999999")
    both = await server.post(
        url, json={"model_id": model, "item_ids": ids[10:12], "label_id": a, "label_ids": [b, b]}
    )
    assert_error(both, 400, "INVALID", "not both")
    deleted = await server.delete(f"{API}/classes/{b}")
    assert deleted.status_code in (200, 204), deleted.text
    gone = await server.post(url, json={"model_id": model, "item_ids": ids[10:12], "label_id": b})
    assert_error(gone, 404, "NOT_FOUND", str(b))

    variables = {"d": dataset.id, "m": model, "items": ids[10:12], "label": 999999}
    await gql_error(server, BATCH_FLAGS, variables, code="NOT_FOUND", fragments=("999999",))
    cap = guided_settings.max_page_size * 20
    too_many = {"d": dataset.id, "m": model, "items": list(range(1, cap + 2)), "label": a}
    await gql_error(server, BATCH_FLAGS, too_many, code="INVALID", fragments=(f"at most {cap} items",))
    fine = await server.post(url, json={"model_id": model, "item_ids": ids[10:12], "label_id": a})
    assert fine.status_code == 200, fine.text


async def test_batch_flags_refuse_another_datasets_items_as_tagging_them_does(server, dataset, folder):
    """Another dataset's item ids were judged in silence (200, no flags for them); tagging them is
    NOT_FOUND naming them, and so are the guardrail flags now, at both doors."""
    ids, a, _b, model = await _classified(server, dataset.id)
    _other_id, foreign = await other_dataset(server, folder)
    asked = ids[10:11] + foreign[:2]
    tagging = await server.post(f"{API}/datasets/{dataset.id}/tags", json={"item_ids": asked, "label_id": a})
    expected = assert_error(tagging, 404, "NOT_FOUND", str(foreign[0]))
    url = f"{API}/datasets/{dataset.id}/batch-flags"
    flags = await server.post(url, json={"model_id": model, "item_ids": asked, "label_id": a})
    error = assert_error(flags, 404, "NOT_FOUND", str(foreign[0]), str(foreign[1]))
    assert error["details"]["unknown_items"] == expected["details"]["unknown_items"] == foreign[:2]
    variables = {"d": dataset.id, "m": model, "items": asked, "label": a}
    refused = await gql_error(server, BATCH_FLAGS, variables, code="NOT_FOUND", fragments=(str(foreign[0]),))
    assert refused["extensions"]["unknown_items"] == foreign[:2]


REVIEW = """
mutation($d: Int!, $item: Int!) {
  reviewLabel(datasetId: $d, itemId: $item, action: KEEP) { id }
}"""


async def test_reviewing_an_item_the_dataset_does_not_hold_is_not_found(server, dataset, folder):
    """It answered 400 "item 999999 has 0 labels: nothing single to keep", as of an unlabeled item."""
    ids = await item_ids(server, dataset.id)
    rings = await add_class(server, dataset.id, "rings")
    await tag(server, dataset.id, ids[:2], rings)
    other_id, other_items = await other_dataset(server, folder)
    url = f"{API}/datasets/{dataset.id}/review"
    for item in (999999, other_items[0]):
        for action in ({"action": "keep"}, {"action": "relabel", "label_id": rings}):
            response = await server.post(url, json={"item_id": item, **action})
            assert_error(response, 404, "NOT_FOUND", str(item), f"dataset {dataset.id}")
        await gql_error(
            server, REVIEW, {"d": dataset.id, "item": item}, code="NOT_FOUND", fragments=(str(item),)
        )
    assert [e["kind"] for e in await events(server, dataset.id)] == ["manual"]
    unlabeled = await server.post(url, json={"item_id": ids[5], "action": "keep"})
    assert_error(unlabeled, 400, "INVALID", "0 labels")  # an item of the dataset: as before
    assert other_id != dataset.id


async def test_accepting_a_job_with_items_or_a_batch_keeping_none_is_refused(server, dataset):
    """A job suggestion took ``item_ids``/``label_id`` in silence and started the job (201); a
    predicted batch or classifier-shown items accepted with ``item_ids: []`` answered 201 having
    done nothing, where a probability batch refuses (400) and the page says "nothing to label"."""
    ids, a, _b, _model = await _classified(server, dataset.id)
    found = await queue(server, dataset.id, limit=50)
    jobs = [s for s in found["suggestions"] if s["kind"] in ("train_extractor", "retrain", "run_inference")]
    batches = of_kind(found, "predicted_batch") + of_kind(found, "label_items")
    assert jobs and batches, [s["kind"] for s in found["suggestions"]]
    before = (await server.get(f"{API}/jobs")).json()["jobs"]
    job = jobs[0]
    with_items = await accept(server, dataset.id, {"key": job["key"], "item_ids": ids[10:12]})
    assert_error(with_items, 400, "INVALID", "starts a job", "no items")
    with_class = await accept(server, dataset.id, {"key": job["key"], "label_id": a})
    assert_error(with_class, 400, "INVALID", "starts a job")
    assert (await server.get(f"{API}/jobs")).json()["jobs"] == before
    for batch in batches:
        empty = await accept(server, dataset.id, {"key": batch["key"], "item_ids": []})
        assert_error(empty, 400, "INVALID", "keep at least one item")
    assert [e["kind"] for e in await events(server, dataset.id)] == ["manual", "manual"]


async def test_a_negative_expected_count_is_invalid_not_a_changed_batch(server, dataset):
    """``expected_count: -1`` answered 409 "the batch now has N items, not the -1 confirmed: look at
    it again", which no look again can satisfy."""
    _ids, a, _b, model = await _classified(server, dataset.id)
    base = f"{API}/datasets/{dataset.id}"
    apply = await server.post(
        f"{base}/probability/apply",
        json={"model_id": model, "threshold": 0.5, "label_id": a, "expected_count": -1, "confirm": True},
    )
    assert_error(apply, 400, "INVALID", "expected_count must be >= 0")
    rest = await server.post(
        f"{base}/auto-label-rest", json={"model_id": model, "threshold": 0.5, "expected_count": -1}
    )
    assert_error(rest, 400, "INVALID", "expected_count must be >= 0")
    assert len(await events(server, dataset.id)) == 2


APPLY_PROBABILITY = """
mutation($d: Int!, $m: Int!, $label: Int, $over: Int) {
  applyProbability(datasetId: $d, modelId: $m, threshold: 0.5, labelId: $label, confirmOver: $over) {
    labeled
  }
}"""

PROBABILITY_CANDIDATES = """
query($d: Int!, $m: Int!, $label: Int, $over: Int) {
  probabilityCandidates(datasetId: $d, modelId: $m, threshold: 0.5, labelId: $label, confirmOver: $over) {
    count confirmOver
  }
}"""


async def test_a_negative_confirm_over_is_invalid_not_zero(server, dataset):
    """``confirm_over: -1`` was read as 0 without a word (every batch needed a confirmation, and the
    preview answered ``confirmOver: 0``): bad input is a 400 naming the field, at both doors."""
    _ids, a, _b, model = await _classified(server, dataset.id)
    base = f"{API}/datasets/{dataset.id}"
    apply = await server.post(
        f"{base}/probability/apply",
        json={"model_id": model, "threshold": 0.5, "label_id": a, "confirm_over": -1, "confirm": True},
    )
    error = assert_error(apply, 400, "INVALID", "confirm_over must be >= 0")
    assert error["details"]["field"] == "confirm_over"
    variables = {"d": dataset.id, "m": model, "label": a, "over": -1}
    for document in (APPLY_PROBABILITY, PROBABILITY_CANDIDATES):
        error = await gql_error(
            server, document, variables, code="INVALID", fragments=("confirm_over must be >= 0",)
        )
        assert error["extensions"]["field"] == "confirm_over"
    assert len(await events(server, dataset.id)) == 2


LABEL_SIMILAR = """
mutation($d: Int!, $m: Int!, $q: [Int!]!, $items: [Int!]!, $label: Int!, $seen: Int) {
  labelSimilar(datasetId: $d, modelId: $m, queryItemIds: $q, itemIds: $items, labelId: $label,
               shown: 2, seenEventId: $seen) { id }
}"""


async def test_a_seen_event_id_no_preview_gave_is_refused_not_a_guard_switched_off(server, dataset, folder):
    """A ``seen_event_id`` past the dataset's newest event (made up, or another dataset's) found no
    item changed after it, and labeled everything: the "changed since you looked" guard was off."""
    ids, a, _b, model = await _classified(server, dataset.id)
    base = f"{API}/datasets/{dataset.id}"
    newest = (await events(server, dataset.id))[0]["id"]
    await other_dataset(server, folder)  # its events come after: ids no preview of this dataset gives
    for seen in (newest + 1, 999999, -1):
        rest = await server.post(
            f"{base}/auto-label-rest", json={"model_id": model, "threshold": 0.5, "seen_event_id": seen}
        )
        assert_error(rest, 400, "INVALID", f"seen_event_id {seen}", f"newest is {newest}")
        body = {
            "model_id": model, "query_item_ids": [ids[0]], "item_ids": ids[10:12], "label_id": a,
            "shown": 2, "seen_event_id": seen,
        }  # fmt: skip
        similar = await server.post(f"{base}/similar/label", json=body)
        assert_error(similar, 400, "INVALID", f"seen_event_id {seen}")
        variables = {
            "d": dataset.id,
            "m": model,
            "q": [ids[0]],
            "items": ids[10:12],
            "label": a,
            "seen": seen,
        }
        await gql_error(server, LABEL_SIMILAR, variables, code="INVALID", fragments=("seen_event_id",))
    assert (await events(server, dataset.id))[0]["id"] == newest  # nothing written
    # the id a preview gives (the newest event, or 0 before any) is taken as before
    estimate = (await server.get(f"{base}/stopping-estimate", params={"model_id": model})).json()
    assert estimate["seen_event_id"] == newest
    done = await server.post(
        f"{base}/auto-label-rest", json={"model_id": model, "threshold": 0.5, "seen_event_id": newest}
    )
    assert done.status_code == 201, done.text


LABEL_SIMILAR_SHOWN = """
mutation($d: Int!, $m: Int!, $q: [Int!]!, $items: [Int!]!, $label: Int!, $shown: Int!) {
  labelSimilar(datasetId: $d, modelId: $m, queryItemIds: $q, itemIds: $items, labelId: $label,
               shown: $shown) { id }
}"""


async def test_the_count_a_similarity_page_showed_is_capped_as_a_batch(server, dataset, guided_settings):
    """``shown`` took any count (a billion items "shown", as many recorded "deselected" on the
    event): past the batch cap it is an oversized request, a 400 naming the field at both doors."""
    ids, a, _b, model = await _classified(server, dataset.id)
    base = f"{API}/datasets/{dataset.id}"
    cap = guided_settings.max_page_size * BATCH_PAGES
    before = len(await events(server, dataset.id))
    body = {"model_id": model, "query_item_ids": [ids[0]], "item_ids": ids[10:12], "label_id": a}
    for shown in (cap + 1, 10**9):
        similar = await server.post(f"{base}/similar/label", json={**body, "shown": shown})
        error = assert_error(similar, 400, "INVALID", f"shown must be at most {cap}", str(shown))
        assert error["details"]["field"] == "shown"
        variables = {"d": dataset.id, "m": model, "q": [ids[0]], "items": ids[10:12], "label": a}
        variables["shown"] = shown
        refused = await gql_error(
            server, LABEL_SIMILAR_SHOWN, variables, code="INVALID", fragments=(f"at most {cap}",)
        )
        assert refused["extensions"]["field"] == "shown"
    assert len(await events(server, dataset.id)) == before  # nothing written
    done = await server.post(f"{base}/similar/label", json={**body, "shown": cap})
    assert done.status_code == 201, done.text
    assert done.json()["parameters"]["shown"] == cap


REVIEW_BY_MODEL = """
mutation($d: Int!, $item: Int!, $m: Int) {
  reviewLabel(datasetId: $d, itemId: $item, action: KEEP, modelId: $m) { id }
}"""


async def test_a_review_names_a_model_of_the_dataset_or_none(server, dataset, folder):
    """A review event records the classifier whose suspicion it answers: another dataset's
    classifier was taken as such (201) and recorded on the event, and so was a feature extractor,
    which label-suspects refuses (it suspects nothing)."""
    ids, a, _b, model = await _classified(server, dataset.id)
    features = await run_job(
        server, {"kind": "train", "dataset_id": dataset.id, "algorithm": "test-clusters"}
    )
    other_id, other_items = await other_dataset(server, folder)
    x = (await server.get(f"{API}/datasets/{other_id}/classes")).json()[0]["id"]
    y = await add_class(server, other_id, "y")
    await tag(server, other_id, other_items[1:2], y)
    foreign = await classifier_model(server, other_id, [x, y])
    url = f"{API}/datasets/{dataset.id}/review"
    before = len(await events(server, dataset.id))
    alien = await server.post(url, json={"item_id": ids[0], "action": "keep", "model_id": foreign})
    assert_error(alien, 400, "INVALID", f"dataset {other_id}")
    assert len(await events(server, dataset.id)) == before
    fine = await server.post(url, json={"item_id": ids[0], "action": "keep", "model_id": model})
    assert fine.status_code == 201 and fine.json()["model_id"] == model
    # a feature extractor suspects nothing (label-suspects refuses it): a review cannot answer it
    extractor = features["model_id"]
    refused = await server.post(url, json={"item_id": ids[1], "action": "keep", "model_id": extractor})
    error = assert_error(refused, 400, "INVALID", "not a classifier")
    suspects = await server.get(f"{API}/datasets/{dataset.id}/label-suspects", params={"model_id": extractor})
    assert error["details"]["reason"] == assert_error(suspects, 400, "INVALID")["details"]["reason"]
    await gql_error(
        server,
        REVIEW_BY_MODEL,
        {"d": dataset.id, "item": ids[1], "m": extractor},
        code="INVALID",
        fragments=("not a classifier",),
    )
    assert len(await events(server, dataset.id)) == before + 1
    bare = await server.post(url, json={"item_id": ids[2], "action": "keep"})
    assert bare.status_code == 201 and a
