"""Similarity and probability labeling through REST, on real models made by real jobs."""

from __future__ import annotations

import numpy as np

from backend.similarity.index import IndexCache
from tests.guided.fixed_classifier import expected_probabilities
from tests.helpers.guided import (
    API,
    add_class,
    classifier_model,
    exact_ranking,
    feature_dir,
    item_ids,
    latest_infer,
    pca_model,
    run_job,
    tag,
)
from tests.helpers.rest import assert_error, snapshot


async def test_similar_items_are_ranked_like_brute_force_and_paged(server, dataset, guided_settings):
    model_id = await pca_model(server, dataset.id)
    ids = await item_ids(server, dataset.id)
    directory = feature_dir(guided_settings, await latest_infer(server, model_id))
    url = f"{API}/datasets/{dataset.id}/similar"

    response = await server.get(url, params={"model_id": model_id, "item_id": ids[3], "limit": 30})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["exact"] is True and body["total"] == 30 and body["query_item_ids"] == [ids[3]]
    want_ids, want_sims = exact_ranking(directory, [ids[3]])
    assert [r["item_id"] for r in body["items"]][:10] == want_ids[:10]
    assert body["items"][0] == {"item_id": ids[3], "similarity": 1.0}
    assert np.allclose([r["similarity"] for r in body["items"]], want_sims, atol=1e-5)

    pages = []
    for offset in (0, 10, 20):
        page = await server.get(
            url, params={"model_id": model_id, "item_id": ids[3], "offset": offset, "limit": 10}
        )
        pages += page.json()["items"]
    assert pages == body["items"]

    two = await server.get(url, params={"model_id": model_id, "item_id": [ids[3], ids[7]], "limit": 30})
    want_ids, _ = exact_ranking(directory, [ids[3], ids[7]])
    got = [r["item_id"] for r in two.json()["items"]]
    assert set(got[:2]) == set(want_ids[:2]) == {ids[3], ids[7]}  # equally close to their mean
    assert got[2:8] == want_ids[2:8]
    union = await server.get(
        url, params={"model_id": model_id, "item_id": [ids[3], ids[7]], "mode": "union", "limit": 2}
    )
    assert {r["item_id"] for r in union.json()["items"]} == {ids[3], ids[7]}  # each its own best match


async def test_labeled_items_are_left_out_when_asked(server, dataset):
    model_id = await pca_model(server, dataset.id)
    ids = await item_ids(server, dataset.id)
    ring = await add_class(server, dataset.id, "ring")
    await tag(server, dataset.id, ids[:10], ring)
    url = f"{API}/datasets/{dataset.id}/similar"
    params = {"model_id": model_id, "item_id": ids[0], "limit": 100}
    everything = (await server.get(url, params=params)).json()
    unlabeled = (await server.get(url, params={**params, "exclude_labeled": True})).json()
    assert len(everything["items"]) == 30
    got = [r["item_id"] for r in unlabeled["items"]]
    assert unlabeled["total"] == len(got) == 21  # 20 unlabeled + the (labeled) query item itself
    assert set(got) == {ids[0], *ids[10:]}
    assert got == [r["item_id"] for r in everything["items"] if r["item_id"] in set(got)]


async def test_a_similarity_batch_is_one_event_recording_what_was_used(server, dataset):
    model_id = await pca_model(server, dataset.id)
    ids = await item_ids(server, dataset.id)
    ring = await add_class(server, dataset.id, "ring")
    shown = [
        r["item_id"]
        for r in (
            await server.get(
                f"{API}/datasets/{dataset.id}/similar",
                params={"model_id": model_id, "item_id": [ids[0], ids[1]], "limit": 8},
            )
        ).json()["items"]
    ]
    accepted = shown[:6]  # two outliers deselected
    response = await server.post(
        f"{API}/datasets/{dataset.id}/similar/label",
        json={
            "model_id": model_id,
            "query_item_ids": [ids[0], ids[1]],
            "item_ids": accepted,
            "label_id": ring,
            "shown": len(shown),
        },
        headers={"X-Labelwise-Tagger": "ann"},
    )
    assert response.status_code == 201, response.text
    event = response.json()
    assert event["kind"] == "similarity" and event["model_id"] == model_id and event["tagger"] == "ann"
    assert event["tag_count"] == 6
    assert event["parameters"] == {
        "query_items": [ids[0], ids[1]],
        "mode": "mean",
        "shown": 8,
        "accepted": 6,
        "deselected": 2,
    }
    labels = (await server.get(f"{API}/datasets/{dataset.id}/labels")).json()
    assert {row["item_id"] for row in labels} == set(accepted)


async def test_refused_similarity_requests_say_why_and_change_nothing(server, dataset, folder):
    model_id = await pca_model(server, dataset.id)
    ids = await item_ids(server, dataset.id)
    ring = await add_class(server, dataset.id, "ring")
    url = f"{API}/datasets/{dataset.id}/similar"
    before = await snapshot(server)

    assert_error(
        await server.get(url, params={"model_id": 9999, "item_id": ids[0]}), 404, "NOT_FOUND", "model 9999"
    )
    assert_error(
        await server.get(url, params={"model_id": model_id, "item_id": 10**9}), 404, "NOT_FOUND", "item"
    )
    assert_error(
        await server.get(url, params={"model_id": model_id, "item_id": ids[0], "mode": "max"}),
        400,
        "INVALID",
        "mode",
    )
    assert_error(
        await server.get(f"{API}/datasets/9999/similar", params={"model_id": model_id, "item_id": ids[0]}),
        404,
        "NOT_FOUND",
        "dataset",
    )
    label = f"{url}/label"
    body = {
        "model_id": model_id,
        "query_item_ids": [ids[0]],
        "item_ids": ids[:5],
        "label_id": ring,
        "shown": 3,
    }
    assert_error(await server.post(label, json=body), 400, "INVALID", "only 3 were shown")
    assert_error(await server.post(label, json={**body, "shown": 5, "label_id": 9999}), 404, "NOT_FOUND")
    assert_error(
        await server.post(label, json={**body, "shown": 5, "item_ids": []}), 400, "INVALID", "select"
    )
    assert await snapshot(server) == before


async def test_model_without_vectors_or_inference_or_index_gives_clear_errors(server, app, dataset):
    ids = await item_ids(server, dataset.id)
    ring = await add_class(server, dataset.id, "ring")
    arc = await add_class(server, dataset.id, "arc")
    await tag(server, dataset.id, ids[:1], ring)
    await tag(server, dataset.id, ids[1:2], arc)
    url = f"{API}/datasets/{dataset.id}/similar"

    classifier = await classifier_model(server, dataset.id, [ring, arc])
    error = assert_error(
        await server.get(url, params={"model_id": classifier, "item_id": ids[0]}),
        404,
        "NOT_FOUND",
        "no feature vectors",
    )
    assert error["details"]["reason"] == "no_vectors"

    untried = await pca_model(server, dataset.id, infer=False)
    assert_error(
        await server.get(url, params={"model_id": untried, "item_id": ids[0]}),
        404,
        "NOT_FOUND",
        "run inference first",
    )

    model_id = await pca_model(server, dataset.id)
    server.app.state.index_cache = IndexCache(exact_threshold=0)  # as if the dataset were large
    error = assert_error(
        await server.get(url, params={"model_id": model_id, "item_id": ids[0]}),
        404,
        "NOT_FOUND",
        "not built yet",
    )
    assert error["details"]["reason"] == "index_not_built" and '"kind": "build-index"' in error["message"]
    await run_job(server, {"kind": "build-index", "model_id": model_id})
    response = await server.get(url, params={"model_id": model_id, "item_id": ids[0], "limit": 30})
    assert response.status_code == 200, response.text
    assert response.json()["exact"] is False and response.json()["items"][0]["item_id"] == ids[0]


async def _probability_setup(server, dataset):
    ids = await item_ids(server, dataset.id)
    ring = await add_class(server, dataset.id, "ring")
    arc = await add_class(server, dataset.id, "arc")
    await tag(server, dataset.id, [ids[28]], arc)  # the classifier says ring, 0.93 -- a person said arc
    await tag(server, dataset.id, [ids[1]], ring)  # (a classifier trains on two classes at least)
    model_id = await classifier_model(server, dataset.id, [ring, arc])
    return ids, ring, arc, model_id, expected_probabilities(30, 2)


async def test_probability_count_and_gallery_are_sorted_and_skip_labeled_items(server, dataset):
    ids, ring, _arc, model_id, probs = await _probability_setup(server, dataset)
    url = f"{API}/datasets/{dataset.id}/probability"
    body = (await server.get(url, params={"model_id": model_id, "label_id": ring, "threshold": 0.8})).json()
    want = [i for i in np.argsort(-probs[:, 0], kind="stable") if probs[i, 0] >= 0.8 and i != 28]
    assert body["count"] == len(want) > 0
    assert [c["item_id"] for c in body["items"]] == [ids[i] for i in want]
    assert [c["probability"] for c in body["items"]] == sorted(
        (c["probability"] for c in body["items"]), reverse=True
    )
    with_labeled = (
        await server.get(
            url, params={"model_id": model_id, "label_id": ring, "threshold": 0.8, "overwrite": True}
        )
    ).json()
    assert with_labeled["count"] == body["count"] + 1 and with_labeled["items"][0]["item_id"] == ids[28]
    page = (
        await server.get(url, params={"model_id": model_id, "threshold": 0.8, "limit": 2, "offset": 1})
    ).json()
    assert page["all_classes"] is True and len(page["items"]) == 2


async def test_applying_a_threshold_never_overwrites_unless_asked(server, dataset):
    ids, ring, arc, model_id, probs = await _probability_setup(server, dataset)
    url = f"{API}/datasets/{dataset.id}/probability/apply"
    response = await server.post(url, json={"model_id": model_id, "label_id": ring, "threshold": 0.8})
    assert response.status_code == 201, response.text
    applied = response.json()
    event = applied["event"]
    assert event["kind"] == "probability" and event["model_id"] == model_id
    assert event["parameters"]["threshold"] == 0.8 and event["parameters"]["label_id"] == ring
    labels = {
        r["item_id"]: r["label_ids"] for r in (await server.get(f"{API}/datasets/{dataset.id}/labels")).json()
    }
    assert labels[ids[28]] == [arc]
    assert applied["labeled"] == sum(1 for i in range(30) if probs[i, 0] >= 0.8 and i != 28)

    again = (await server.post(url, json={"model_id": model_id, "label_id": ring, "threshold": 0.8})).json()
    nothing = {
        "labeled": 0,
        "left_out_not_in_batch": 0,
        "rejected_not_in_batch": 0,
        "skipped_changed": 0,
        "event": None,
    }
    assert again == nothing  # everything passing is labeled already

    forced = await server.post(
        url, json={"model_id": model_id, "label_id": ring, "threshold": 0.8, "overwrite": True}
    )
    assert forced.json()["event"]["parameters"]["overwrite"] is True
    labels = {
        r["item_id"]: r["label_ids"] for r in (await server.get(f"{API}/datasets/{dataset.id}/labels")).json()
    }
    assert labels[ids[28]] == [ring]


async def test_an_overwrite_batch_applied_again_records_only_what_it_changes(server, dataset):
    """Two labelers apply the same overwrite batch one after the other. The second changed nothing
    and was recorded anyway: every item again, under the second tagger and the model, so the labels
    a person had made before became the batch's and a revoke could not give them back."""
    ids, ring, _arc, model_id, probs = await _probability_setup(server, dataset)
    url = f"{API}/datasets/{dataset.id}/probability/apply"
    body = {"model_id": model_id, "label_id": ring, "threshold": 0.8, "overwrite": True}
    passing = [i for i in range(30) if probs[i, 0] >= 0.8]
    held = next(i for i in passing if i != 28)
    await tag(server, dataset.id, [ids[held]], ring)  # a person's label, the batch's class
    first = await server.post(url, json=body)
    assert first.status_code == 201, first.text
    event = first.json()["event"]
    assert first.json()["labeled"] == event["tag_count"] == len(passing) - 1  # one holds ring already
    assert event["parameters"]["skipped_unchanged"] == 1
    history = (await server.get(f"{API}/items/{ids[held]}/history")).json()
    assert [h["event"]["kind"] for h in history] == ["manual"]  # still the person's label
    before = await snapshot(server)
    again = await server.post(url, json=body)
    error = assert_error(again, 409, "CONFLICT", "hold their class already")
    assert error["details"]["skipped_unchanged"] == len(passing)
    assert await snapshot(server) == before


async def test_apply_to_all_classes_gives_each_item_its_argmax(server, dataset):
    ids, ring, arc, model_id, probs = await _probability_setup(server, dataset)
    response = await server.post(
        f"{API}/datasets/{dataset.id}/probability/apply",
        json={"model_id": model_id, "all_classes": True, "threshold": 0.7},
    )
    assert response.status_code == 201, response.text
    assert response.json()["event"]["parameters"]["all_classes"] is True
    labels = {
        r["item_id"]: r["label_ids"] for r in (await server.get(f"{API}/datasets/{dataset.id}/labels")).json()
    }
    classes = [ring, arc]
    want = {
        ids[i]: [classes[int(np.argmax(probs[i]))]] for i in range(30) if probs[i].max() >= 0.7 and i != 28
    }
    assert labels == {**want, ids[28]: [arc], ids[1]: [ring]}


async def test_refused_probability_requests_say_why_and_change_nothing(server, dataset, folder):
    _ids, ring, _arc, model_id, _ = await _probability_setup(server, dataset)
    pca = await pca_model(server, dataset.id)
    url = f"{API}/datasets/{dataset.id}/probability"
    before = await snapshot(server)
    body = {"model_id": model_id, "threshold": 0.8}
    apply = f"{url}/apply"
    assert_error(await server.post(apply, json=body), 400, "INVALID", "all classes")
    assert_error(
        await server.post(apply, json={**body, "label_id": ring, "all_classes": True}), 400, "INVALID"
    )
    assert_error(
        await server.post(apply, json={**body, "label_id": ring, "threshold": 1.5}),
        400,
        "INVALID",
        "threshold",
    )
    assert_error(await server.post(apply, json={**body, "label_id": 9999}), 404, "NOT_FOUND")
    assert_error(
        await server.post(apply, json={**body, "model_id": pca, "label_id": ring}),
        404,
        "NOT_FOUND",
        "no class probabilities",
    )
    assert_error(
        await server.get(url, params={"model_id": 9999, "threshold": 0.5}), 404, "NOT_FOUND", "model 9999"
    )
    assert await snapshot(server) == before


async def test_a_similarity_batch_names_only_a_model_that_ranked_this_dataset(server, dataset):
    """The event records its model; so the model must exist, be ready and have been inferred here."""
    ids = await item_ids(server, dataset.id)
    ring = await add_class(server, dataset.id, "ring")
    untried = await pca_model(server, dataset.id, infer=False)
    label = f"{API}/datasets/{dataset.id}/similar/label"
    body = {"query_item_ids": [ids[0]], "item_ids": ids[:2], "label_id": ring, "shown": 2}
    before = await snapshot(server)
    assert_error(
        await server.post(label, json={**body, "model_id": 424242}), 404, "NOT_FOUND", "model 424242"
    )
    assert_error(await server.post(label, json={**body, "model_id": untried}), 404, "NOT_FOUND", "inference")
    assert await snapshot(server) == before
