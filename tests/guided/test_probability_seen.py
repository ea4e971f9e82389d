"""A probability batch applied with overwrite after someone else relabeled one of its items.

Alice previews the batch; Bob labels one of its items as another class; Alice applies with
overwrite. The batch's size did not change, so ``expected_count`` passed, and Bob's label was
overwritten without a word. With the preview's ``seen_event_id`` (every door: REST, GraphQL, the
page's form) the item keeps Bob's label and the answer counts it, as a similarity batch does."""

from __future__ import annotations

from tests.guided.fixed_classifier import expected_probabilities
from tests.helpers.graphql import gql, gql_error
from tests.helpers.guided import API, add_class, classifier_model, item_ids, tag
from tests.helpers.pages import csrf_headers
from tests.helpers.rest import assert_error
from tests.html import all_of, attr, has_class, one, parse, text_of

BOB = {"x-labelwise-tagger": "bob"}

CANDIDATES = """
query($d: Int!, $m: Int!, $t: Float!, $label: Int) {
  probabilityCandidates(datasetId: $d, modelId: $m, threshold: $t, labelId: $label, overwrite: true) {
    count seenEventId
  }
}
"""

APPLY = """
mutation($d: Int!, $m: Int!, $t: Float!, $label: Int, $count: Int, $seen: Int) {
  applyProbability(
    datasetId: $d, modelId: $m, threshold: $t, labelId: $label, overwrite: true, confirm: true,
    expectedCount: $count, seenEventId: $seen
  ) {
    labeled skippedChanged event { parameters }
  }
}
"""


async def _setup(server, dataset):
    """Two classes, a classifier, and the index of a ring candidate a person will relabel."""
    ids = await item_ids(server, dataset.id)
    ring = await add_class(server, dataset.id, "ring")
    arc = await add_class(server, dataset.id, "arc")
    await tag(server, dataset.id, [ids[28]], arc)
    await tag(server, dataset.id, [ids[1]], ring)
    model_id = await classifier_model(server, dataset.id, [ring, arc])
    probs = expected_probabilities(30, 2)
    passing = [i for i in range(30) if probs[i, 0] >= 0.8 and i not in (1, 28)]
    return ids, ring, arc, model_id, passing


async def _labels(server, dataset_id: int) -> dict[int, list[int]]:
    rows = (await server.get(f"{API}/datasets/{dataset_id}/labels")).json()
    return {r["item_id"]: r["label_ids"] for r in rows}


async def _bob_labels(server, dataset_id: int, item_id: int, label_id: int) -> None:
    response = await server.post(
        f"{API}/datasets/{dataset_id}/tags", json={"item_ids": [item_id], "label_id": label_id}, headers=BOB
    )
    assert response.status_code == 201, response.text


async def test_rest_an_overwrite_batch_leaves_an_item_relabeled_since_the_preview(server, dataset):
    ids, ring, arc, model_id, passing = await _setup(server, dataset)
    base = f"{API}/datasets/{dataset.id}"
    params = {"model_id": model_id, "threshold": 0.8, "label_id": ring, "overwrite": True}
    preview = (await server.get(f"{base}/probability", params=params)).json()
    newest = (await server.get(f"{base}/events")).json()["events"][0]["id"]
    assert preview["seen_event_id"] == newest
    bobs = ids[passing[0]]
    await _bob_labels(server, dataset.id, bobs, arc)  # after alice looked: the batch's count is the same

    body = {
        **params,
        "confirm": True,
        "expected_count": preview["count"],
        "seen_event_id": preview["seen_event_id"],
    }
    applied = await server.post(f"{base}/probability/apply", json=body)
    assert applied.status_code == 201, applied.text
    answer = applied.json()
    assert answer["skipped_changed"] == 1 and answer["labeled"] == preview["count"] - 1
    parameters = answer["event"]["parameters"]
    assert parameters["skipped_changed"] == 1 and parameters["seen_event_id"] == newest
    labels = await _labels(server, dataset.id)
    assert labels[bobs] == [arc]  # bob's label stands
    assert all(labels[ids[i]] == [ring] for i in passing[1:])


async def test_rest_a_batch_whose_every_item_changed_since_the_preview_is_refused_with_the_count(
    server, dataset
):
    ids, ring, arc, model_id, _passing = await _setup(server, dataset)
    base = f"{API}/datasets/{dataset.id}"
    params = {"model_id": model_id, "threshold": 0.8, "label_id": ring, "overwrite": True}
    preview = (await server.get(f"{base}/probability", params=params)).json()
    response = await server.post(f"{base}/tags", json={"item_ids": ids, "label_id": arc}, headers=BOB)
    assert response.status_code == 201, response.text
    refused = await server.post(
        f"{base}/probability/apply",
        json={**params, "confirm": True, "seen_event_id": preview["seen_event_id"]},
    )
    error = assert_error(refused, 409, "CONFLICT", "were changed since you looked")
    assert error["details"]["skipped_changed"] == preview["count"]
    assert set(map(tuple, (await _labels(server, dataset.id)).values())) == {(arc,)}  # nothing labeled


async def test_a_seen_event_id_past_the_newest_event_is_refused_at_rest_and_graphql(server, dataset):
    _ids, ring, _arc, model_id, _passing = await _setup(server, dataset)
    base = f"{API}/datasets/{dataset.id}"
    newest = (await server.get(f"{base}/events")).json()["events"][0]["id"]
    body = {"model_id": model_id, "threshold": 0.8, "label_id": ring, "overwrite": True, "confirm": True}
    response = await server.post(f"{base}/probability/apply", json={**body, "seen_event_id": newest + 1})
    assert_error(response, 400, "INVALID", f"seen_event_id {newest + 1}", f"newest is {newest}")
    variables = {"d": dataset.id, "m": model_id, "t": 0.8, "label": ring, "count": None, "seen": newest + 1}
    await gql_error(server, APPLY, variables, code="INVALID", fragments=("seen_event_id",))
    assert (await server.get(f"{base}/events")).json()["events"][0]["id"] == newest  # nothing written


async def test_graphql_an_overwrite_batch_leaves_an_item_relabeled_since_the_preview(server, dataset):
    ids, ring, arc, model_id, passing = await _setup(server, dataset)
    variables = {"d": dataset.id, "m": model_id, "t": 0.8, "label": ring}
    preview = (await gql(server, CANDIDATES, variables))["probabilityCandidates"]
    await _bob_labels(server, dataset.id, ids[passing[0]], arc)
    applied = (
        await gql(server, APPLY, {**variables, "count": preview["count"], "seen": preview["seenEventId"]})
    )["applyProbability"]
    assert applied["skippedChanged"] == 1 and applied["labeled"] == preview["count"] - 1
    assert applied["event"]["parameters"]["skipped_changed"] == 1
    assert (await _labels(server, dataset.id))[ids[passing[0]]] == [arc]


async def test_the_probability_page_sends_the_event_it_saw_and_says_what_was_left(server, dataset):
    ids, ring, arc, model_id, passing = await _setup(server, dataset)
    params = {"model_id": model_id, "label": ring, "threshold": 0.8, "overwrite": 1, "confirm_over": 100}
    page = await server.get(f"/datasets/{dataset.id}/probability", params=params)
    assert page.status_code == 200, page.text
    form = one(parse(page.text), "//form[@id='apply-form']")
    fields = {attr(i, "name"): i.get("value") for i in all_of(form, ".//input[@type='hidden']")}
    newest = (await server.get(f"{API}/datasets/{dataset.id}/events")).json()["events"][0]["id"]
    assert fields["seen"] == str(newest)

    bobs = ids[passing[0]]
    await _bob_labels(server, dataset.id, bobs, arc)
    headers = await csrf_headers(server, f"/datasets/{dataset.id}/probability")
    applied = await server.post(
        f"/datasets/{dataset.id}/probability/apply",
        # the form's fields without shown_ids: no tile deselected (htmx sends the selected tiles too)
        data={k: v for k, v in fields.items() if v is not None and k != "shown_ids"},
        headers=headers,
    )
    assert applied.status_code == 200, applied.text
    notice = text_of(one(parse(applied.text), f"//p[{has_class('notice')}]"))
    assert f"Labeled {int(fields['expected_count'] or 0) - 1} items" in notice  # all but bob's
    assert "1 were changed since you looked" in notice
    assert (await _labels(server, dataset.id))[bobs] == [arc]
    answer_form = one(parse(applied.text), "//form[@id='apply-form']")
    seen = one(answer_form, ".//input[@name='seen']").get("value")
    assert int(seen) > newest  # the answer's form names the newest event now: its own
