"""The queue's strategy rules that the labeling-efficiency study leans on: batches promise their
calibrated precision (not a lower bound that hides them), similarity pages are capped by their
candidates' labeled neighbours, and one extractor is not left alone: the quick ones are trained
beside it (one click) so the feature report has a choice, their vectors computed in one click."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import tests.guided.cluster_features  # noqa: F401  (registers the test extractor)
from backend.guided import suggest_math as sm
from backend.guided.next_actions import read_key, similarity_pages
from tests.helpers.guided import API, accept, add_class, kinds, of_kind, oracle, run_job, tag
from tests.helpers.jobs import follow_up, wait_for


def test_a_batch_promises_its_calibrated_precision_not_a_lower_bound():
    """Twelve held-out items, all right at p 0.97: the batch of unlabeled items at 0.97 is
    promised its fit (decision 0025), far above the 95% Wilson bound that ranked such batches
    behind labeling one by one, and at least what the model says (all twelve bear it out)."""
    ids = np.arange(100, 140, dtype=np.int64)
    probs = np.tile(np.asarray([[0.97, 0.03]], np.float32), (40, 1))
    held = np.arange(40) < 12
    batches = sm.probability_batches(
        ids,
        probs,
        [1, 2],
        ~held,
        (ids[held], probs[held], [1, 2]),
        np.ones(12, np.int64),
        classes={1, 2},
    )
    (batch,) = batches
    fitted = sm.PlattCalibration(probs[held, 0], np.ones(12, bool), "held-out items")
    assert batch.cut.precision == pytest.approx(float(fitted.item_precision(probs[~held, 0]).mean()))
    assert sm.wilson_lower(12, 12) + 0.1 < 0.97 <= batch.cut.precision < 1.0
    assert batch.cut.count == 28 and batch.cut.expected_labels / batch.cut.expected_actions > 4


def test_neighbour_votes_say_when_a_candidate_lies_among_another_class():
    rng = np.random.default_rng(4)
    a = sm.unit(np.asarray([1.0, 0.0, 0.0]) + rng.normal(0, 0.05, (6, 3)))
    b = sm.unit(np.asarray([0.0, 1.0, 0.0]) + rng.normal(0, 0.05, (6, 3)))
    labeled = np.vstack([a, b])
    is_a = np.arange(12) < 6
    near_a = sm.unit(np.asarray([[1.0, 0.05, 0.0]]))
    near_b = sm.unit(np.asarray([[0.2, 1.0, 0.0]]))
    votes = sm.neighbour_votes(np.vstack([near_a, near_b]), labeled, is_a)
    assert votes[0] > 0.9 and votes[1] < 0.2
    # a class with two labeled items fills two places of a neighbourhood, not five
    two = sm.neighbour_votes(near_a, np.vstack([a[:2], b]), np.arange(8) < 2)
    assert two[0] > 0.8
    assert sm.neighbour_votes(near_a, labeled[:0], is_a[:0])[0] == sm.SIMILARITY_PRIOR


def test_a_similarity_page_among_another_class_promises_no_more_than_its_neighbours_say():
    """Class a: three labeled items in a tight group; the unlabeled items next in the ranking lie
    among b's labeled items. Leave-one-out alone (a's items near their own mean) promised the
    page about 0.8; the candidates' neighbours keep the promise at what the page holds."""
    rng = np.random.default_rng(5)
    a_items = sm.unit(np.asarray([1.0, 0.0, 0.0]) + rng.normal(0, 0.01, (3, 3)))
    b_items = sm.unit(np.asarray([0.6, 0.8, 0.0]) + rng.normal(0, 0.01, (8, 3)))
    a_pool = sm.unit(np.asarray([1.0, 0.0, 0.0]) + rng.normal(0, 0.01, (4, 3)))
    b_pool = sm.unit(np.asarray([0.6, 0.8, 0.0]) + rng.normal(0, 0.01, (40, 3)))
    vectors = np.vstack([a_items, b_items, a_pool, b_pool]).astype(np.float32)
    ids = np.arange(len(vectors), dtype=np.int64) + 1
    unlabeled = np.arange(len(vectors)) >= 11
    labeled_rows = np.arange(11)
    classes = np.asarray([1] * 3 + [2] * 8)
    batches = sm.similarity_batches(ids, vectors, unlabeled, labeled_rows, classes, classes={1})
    for batch in batches:
        right = np.isin(batch.item_ids, ids[11:15]).mean()
        assert batch.cut.precision <= right + 0.15, (batch.cut.precision, right, batch.cut.count)


async def queue(client: Any, dataset_id: int) -> dict[str, Any]:
    response = await client.get(f"{API}/datasets/{dataset_id}/next-actions", params={"limit": 20})
    assert response.status_code == 200, response.text
    return response.json()


async def test_the_quick_extractors_are_trained_beside_the_first_in_one_click(server, dataset):
    await add_class(server, dataset.id, "a")
    await add_class(server, dataset.id, "b")
    trained = await run_job(server, {"kind": "train", "dataset_id": dataset.id, "algorithm": "test-clusters"})
    found = await queue(server, dataset.id)
    (infer,) = [s for s in found["suggestions"] if s["kind"] == "run_inference"]
    assert infer["model_id"] == trained["model_id"]
    (quick,) = [s for s in found["suggestions"] if s["kind"] == "train_extractor"]
    assert quick["params"]["algorithms"] == ["pca", "azimuthal", "intensity"]  # no network to train
    assert quick["title"] == "Train pca, azimuthal and intensity features too"
    assert "feature report" in quick["reason"]
    accept = f"{API}/datasets/{dataset.id}/next-actions/accept"
    response = await server.post(accept, json={"key": quick["key"]})
    assert response.status_code == 201, response.text
    job_ids = response.json()["job_ids"]
    jobs = [await wait_for(server, j) for j in job_ids]
    assert [j["algorithm"] for j in jobs] == ["pca", "azimuthal", "intensity"]
    assert all(j["kind"] == "train" and j["dataset_id"] == dataset.id for j in jobs)
    # tried once: not suggested again, whatever became of them
    found = await queue(server, dataset.id)
    assert not [s for s in found["suggestions"] if s["kind"] == "train_extractor"]
    # the quick ones were chained: their inferences follow by themselves; the vectors of the
    # extractor trained by hand are the one click left
    ready = [j for j in jobs if j["state"] == "succeeded"]
    assert ready and all(j["chain"] for j in jobs)
    for job in ready:
        infer_job = await follow_up(server, job["id"], dataset.id)
        assert infer_job["kind"] == "infer" and infer_job["model_id"] == job["model_id"]
        assert (await wait_for(server, infer_job["id"]))["state"] == "succeeded"
    found = await queue(server, dataset.id)
    (infer,) = [s for s in found["suggestions"] if s["kind"] == "run_inference"]
    assert infer["model_id"] == trained["model_id"] and "model_ids" not in infer["params"]
    response = await server.post(accept, json={"key": infer["key"]})
    assert response.status_code == 201, response.text
    assert len(response.json()["job_ids"]) == 1
    assert (await wait_for(server, response.json()["job_ids"][0]))["kind"] == "infer"


def _border_case() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Twelve labeled items of class 1 and twelve of class 2, twenty unlabeled class-2 items at
    the border nearer class 1; the classifier gives them one chance in ten of class 1."""
    rng = np.random.default_rng(6)
    labeled_a = sm.unit(np.asarray([1.0, 0.0, 0.0]) + rng.normal(0, 0.05, (12, 3)))
    labeled_b = sm.unit(np.asarray([0.0, 1.0, 0.0]) + rng.normal(0, 0.05, (12, 3)))
    pool = sm.unit(np.asarray([0.8, 0.6, 0.0]) + rng.normal(0, 0.02, (20, 3)))
    vectors = np.vstack([labeled_a, labeled_b, pool]).astype(np.float32)
    ids = np.arange(len(vectors), dtype=np.int64) + 1
    doubt = np.full(len(vectors), np.nan)
    doubt[24:] = 0.1
    return ids, vectors, np.arange(len(vectors)) >= 24, np.asarray([1] * 12 + [2] * 12), doubt


def test_a_classifier_that_doubts_the_class_caps_a_similarity_page():
    """A class mostly labeled already: its labeled items crowd the neighbourhood of the next
    nearest items (other classes'), so their votes say "the class"; the classifier's probability
    of the class for them says otherwise, and the page promises no more than it."""
    ids, vectors, unlabeled, classes, doubt = _border_case()
    free = sm.similarity_batches(ids, vectors, unlabeled, np.arange(24), classes, classes={1})
    capped = sm.similarity_batches(
        ids, vectors, unlabeled, np.arange(24), classes, classes={1}, class_probability={1: doubt}
    )
    assert free and free[0].cut.precision >= 0.7  # what the votes alone promise: wrong
    assert not capped  # below the floor: no page


def test_the_queue_caps_its_similarity_pages_whether_or_not_anything_was_rejected():
    """The queue's pages once went uncapped as soon as one item of any class had been deselected
    from a batch: the border items above were then offered as class 1, promised 0.7 or more."""
    ids, vectors, unlabeled, classes, doubt = _border_case()
    labeled = (np.arange(24), classes)
    rejected_once = {2: {int(ids[30])}}  # some item deselected from a class-2 batch
    for rejected in ({}, rejected_once):
        assert similarity_pages(ids, vectors, unlabeled, labeled, {1}, rejected, {1: doubt}) == []
        (page,) = similarity_pages(ids, vectors, unlabeled, labeled, {1}, rejected, None)
        assert page.cut.precision >= 0.7  # without a classifier the votes alone decide
    # an item rejected for the class is never on its page
    (page,) = similarity_pages(ids, vectors, unlabeled, labeled, {1}, {1: {int(ids[30])}}, None)
    assert int(ids[30]) not in page.item_ids and page.item_ids


def test_items_rejected_for_a_class_count_against_the_pages_promise_around_them():
    """A walk's page of G1 cells was promised 0.88 and held 0.42 beside 36 S-phase cells a person
    had rejected for G1: neither the leave-one-out share nor the neighbour votes saw them. Here
    six of the twenty border items (class 2) were rejected for class 1; the other fourteen lie
    among them, and the page promises them less (without a classifier, votes alone)."""
    ids, vectors, unlabeled, classes, _doubt = _border_case()
    labeled = (np.arange(24), classes)
    rejected = {1: {int(i) for i in ids[24:30]}}
    (before,) = similarity_pages(ids, vectors, unlabeled, labeled, {1}, {}, None)
    assert before.cut.precision >= 0.7
    saved = sm.REJECTED_AS_OTHER
    try:
        sm.REJECTED_AS_OTHER = False  # as before: the rejected items left out of the page, no more
        (blind,) = similarity_pages(ids, vectors, unlabeled, labeled, {1}, rejected, None)
    finally:
        sm.REJECTED_AS_OTHER = saved
    assert blind.cut.precision >= 0.7
    after = similarity_pages(ids, vectors, unlabeled, labeled, {1}, rejected, None)
    assert not after or after[0].cut.precision < blind.cut.precision - 0.2, after


def test_leave_one_out_votes_leave_each_item_out_of_its_own_neighbourhood():
    """An item of a class among many of its own gets the class's votes; a lone item of the class
    among others' items gets none of its own (it does not vote for itself)."""
    rng = np.random.default_rng(3)
    crowd = sm.unit(np.asarray([1.0, 0.0]) + rng.normal(0, 0.05, (10, 2)))
    others = sm.unit(np.asarray([0.0, 1.0]) + rng.normal(0, 0.05, (10, 2)))
    lone = sm.unit(np.asarray([[0.05, 1.0]]))  # class 1, among the others
    points = np.vstack([crowd, others, lone]).astype(np.float32)
    is_class = np.r_[np.ones(10, bool), np.zeros(10, bool), True]
    votes, scored = sm.leave_one_out_votes(points, is_class)
    assert (scored == is_class).all()
    low = sm.SIMILARITY_PRIOR * sm.VOTE_PRIOR_WEIGHT / (sm.NEIGHBOURS + sm.VOTE_PRIOR_WEIGHT)
    assert votes[:10].min() == pytest.approx(1.0 - low)  # all five neighbours of the class
    assert votes[20] == pytest.approx(low)  # none: its own vote is not counted
    assert votes[10:20].max() < 0.5


def _step(suggestion: dict[str, Any], dataset_id: int) -> dict[str, Any]:
    """What a suggestion's key says it does, without the label watermark (every label moves that)."""
    body = read_key(suggestion["key"], dataset_id)
    body.pop("w")
    return body


async def test_retraining_counts_from_the_newest_classifier_and_names_it(server, dataset):
    """Oracle model fit on 12 labels; 15 labels: retrain, naming it. A newer classifier trained on
    the 15 comes out unfit (the batches stay on the fit one): no retrain on the same 15 labels again
    (the old rule, counting from the fit one, suggested it after every run). Three more labels:
    retrain, now naming the newest model, a step of its own (not the same key body as before), with
    the fit one's algorithm. A fit retrain on 18 labels: nothing until the labels grow again."""
    ids, classes, fit = await oracle(server, dataset.id)
    for i in range(12, 15):  # 25% more labels (RETRAIN_GROWTH 20%)
        await tag(server, dataset.id, [ids[i]], classes[i % 3])
    found = await queue(server, dataset.id)
    (first,) = of_kind(found, "retrain")
    assert first["model_id"] == fit and f"since model {fit}" in first["title"], first
    assert "12 -> 15 labels" in first["reason"] and first["params"]["algorithm"] == "test-oracle"

    unfit = await run_job(server, {"kind": "train", "dataset_id": dataset.id, "algorithm": "test-one-class"})
    await run_job(server, {"kind": "infer", "model_id": unfit["model_id"]})
    found = await queue(server, dataset.id)
    assert any(f"classifier {unfit['model_id']}" in n and "unfit" in n for n in found["needs"])
    assert {s["model_id"] for s in of_kind(found, "probability_batch")} == {fit}  # batches: the fit one
    assert "retrain" not in kinds(found), of_kind(found, "retrain")  # the same 15 labels: no step

    for i in range(15, 18):  # 20% more since the unfit model's 15
        await tag(server, dataset.id, [ids[i]], classes[i % 3])
    (second,) = of_kind(await queue(server, dataset.id), "retrain")
    assert second["model_id"] == unfit["model_id"] and f"since model {unfit['model_id']}" in second["title"]
    assert "15 -> 18 labels" in second["reason"]
    assert second["params"]["algorithm"] == "test-oracle"  # the algorithm of the fit one
    assert _step(second, dataset.id) != _step(first, dataset.id)  # a new step, not the one passed over

    response = await accept(server, dataset.id, {"key": second["key"]})
    assert response.status_code == 201, response.text
    retrained = await wait_for(server, response.json()["job_ids"][0])
    assert retrained["state"] == "succeeded" and retrained["algorithm"] == "test-oracle", retrained["error"]
    # accepted from the queue, the training is chained: its own inference follows (a second one
    # submitted beside it raced it, and once the queue still read the older classifier)
    chained = await follow_up(server, retrained["id"], dataset.id)
    assert (await wait_for(server, chained["id"]))["state"] == "succeeded"
    found = await queue(server, dataset.id)
    assert "retrain" not in kinds(found)  # trained on these 18 labels
    assert {s["model_id"] for s in of_kind(found, "probability_batch")} == {retrained["model_id"]}
    for i in range(18, 22):  # 22%: the next retrain follows the newest model
        await tag(server, dataset.id, [ids[i]], classes[i % 3])
    (third,) = of_kind(await queue(server, dataset.id), "retrain")
    assert third["model_id"] == retrained["model_id"] and "18 -> 22 labels" in third["reason"]
    assert _step(third, dataset.id) not in (_step(first, dataset.id), _step(second, dataset.id))
    # a due retrain comes before labeling by hand, however small its prior gain (late in a study
    # session the prior fell below one label per action: 130 labels by hand, no retrain)
    found = await queue(server, dataset.id)
    order = kinds(found)
    assert order.index("retrain") < order.index("label_items"), order
    assert third["expected_labels"] >= 1.05 * third["expected_actions"]


def test_a_batch_is_suggested_when_it_beats_labeling_by_hand_not_above_a_fixed_floor():
    """0.6 right over 24 items: 14.4 labels for 10.6 actions, better than one by one (the 0.7
    floor hid it); 0.55 over 8 items: 4.4 labels for 4.6 actions, worse, so not suggested."""
    cut = sm.best_cut(np.full(24, 0.6), None, (8, 16, 24), sm.MIN_PROBABILITY_PRECISION, prior_of_scores=True)
    assert cut is not None and cut.count == 24
    assert cut.expected_labels / cut.expected_actions > 1.0
    assert (
        sm.best_cut(np.full(8, 0.55), None, (8,), sm.MIN_PROBABILITY_PRECISION, prior_of_scores=True) is None
    )
    assert (
        sm.best_cut(np.full(48, 0.45), None, (48,), sm.MIN_PROBABILITY_PRECISION, prior_of_scores=True)
        is None
    )
