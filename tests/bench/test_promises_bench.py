"""bench promises: its tally says the gap and which way it points, and a tiny demo run judges the
batches of every way of promising, with the queue's labels and with random ones, and the
similarity pages of every way of promising them."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from bench import promises
from bench.guardrails import demo_set


def test_the_gaps_are_the_mean_absolute_and_signed_differences_per_batch():
    gaps = promises.Gaps()
    gaps.add(0.9, 0.7, 8)  # over-promised by 0.2
    gaps.add(0.5, 0.9, 16)  # under-promised by 0.4
    fields = gaps.line("x").split()
    assert fields[1:] == ["2", "12.0", "0.700", "0.800", "0.300", "-0.100", "0.50"]


def test_representativeness_weighs_up_the_labeled_items_among_the_candidates():
    rng = np.random.default_rng(0)
    near = rng.normal(0, 0.1, (40, 3)) + np.asarray([1.0, 0.0, 0.0])  # where the candidates are
    far = rng.normal(0, 0.1, (40, 3)) + np.asarray([0.0, 1.0, 0.0])
    vectors = np.vstack([near[:30], far, near[30:]]).astype(np.float32)  # 30 near + 40 far labeled
    ids = np.arange(len(vectors), dtype=np.int64)
    labeled = np.r_[np.arange(0, 10), np.arange(30, 70)]
    weights = promises.representativeness(
        (ids, vectors), labeled, np.r_[np.arange(10, 30), np.arange(70, 80)]
    )
    assert weights is not None and weights.mean() == pytest.approx(1.0)
    assert weights[:10].min() > weights[10:].max()


def test_a_small_demo_run_judges_every_way(capsys):
    promises.main(["--demo-count", "150", "--seeds", "1", "--max-share", "0.6"])
    out = capsys.readouterr().out
    for way in promises.WAYS + promises.SIMILARITY_WAYS + ("page/plain", "page/calibrated"):
        assert f"queue all, {way}" in out, out
    assert "random all, all/wilson" in out and "random all, page/calibrated" in out, out


def test_the_page_estimates_are_judged_on_the_batches_where_both_are_known():
    """The page's plain and weighted estimates of the same batches (one pair per batch)."""
    vectors, names = demo_set(150)
    _, truth = np.unique(names, return_inverse=True)
    judged: dict[str, list] = {}

    def tally(mode, way, count, batches, truth):  # type: ignore[no-untyped-def]
        if way.startswith("page/"):
            judged.setdefault(way, []).extend(batches)

    args = promises.parse(["--demo-count", "150", "--max-share", "0.6"])
    promises.run_queue(vectors, truth, 0, args, ["shifted/point"], tally)
    plain, calibrated = judged["page/plain"], judged["page/calibrated"]
    assert plain and [b.item_ids for b in plain] == [b.item_ids for b in calibrated]
    assert all(0.0 <= b.cut.precision <= 1.0 for b in plain + calibrated)


def test_the_first_page_start_accepts_a_similarity_page_before_any_classifier():
    """``--first-page``: after the k-means items, the best similarity page is accepted (its wrong
    items rejected), as the study's first suggestion is: the first round rests on more labels."""
    vectors, names = demo_set(150)
    _, truth = np.unique(names, return_inverse=True)
    firsts = []
    for flag in ([], ["--first-page"]):
        args = promises.parse(["--demo-count", "150", "--max-share", "0.6", *flag])
        counts = promises.run_queue(vectors, truth, 0, args, ["all/posterior"], lambda *_: None)
        firsts.append(counts[0])
    assert firsts[0] == promises.ONE_BY_ONE < firsts[1]


def test_retrain_growth_keeps_a_classifier_and_holds_out_the_items_labeled_since(monkeypatch):
    """``--retrain-growth``: the classifier is retrained only once the labels grew by that share,
    as the queue's retrain is; in between, the items labeled since its training are held out with
    its own scores beside the out-of-fold ones (as the product's fit, decision 0025)."""
    vectors, names = demo_set(150)
    _, truth = np.unique(names, return_inverse=True)
    trainings: list[int] = []
    held: list[tuple[int, int, int]] = []  # (labeled, held out, trained on) at each round
    real_fit, real_promise = promises.fit_predict, promises.promise_batches

    def fit(vectors, rows, *rest):  # type: ignore[no-untyped-def]
        trainings.append(len(rows))
        return real_fit(vectors, rows, *rest)

    def promise(way, vectors, truth, labeled, doubt, probs, held_out):  # type: ignore[no-untyped-def]
        held.append((int(labeled.sum()), len(held_out[0]), trainings[-1]))
        return real_promise(way, vectors, truth, labeled, doubt, probs, held_out)

    monkeypatch.setattr(promises, "fit_predict", fit)
    monkeypatch.setattr(promises, "promise_batches", promise)
    for growth in ("0", "3"):  # the demo's labels grow fast: retrain at four times as many
        trainings.clear()
        held.clear()
        args = promises.parse(["--demo-count", "150", "--max-share", "0.9", "--retrain-growth", growth])
        rounds = promises.run_queue(vectors, truth, 0, args, ["all/point"], lambda *_: None)
        assert all(labeled == out for labeled, out, _ in held)  # every labeled item is held out
        if growth == "0":
            assert trainings == rounds and all(labeled == trained for labeled, _, trained in held)
        else:
            assert len(trainings) < len(rounds)
            assert all(b >= 4 * a for a, b in itertools.pairwise(trainings))
            assert any(labeled > trained for labeled, _, trained in held)  # items labeled since


def test_one_batch_per_round_takes_the_best_and_labels_in_smaller_steps():
    vectors, names = demo_set(150)
    _, truth = np.unique(names, return_inverse=True)
    rounds = {}
    for k in ("0", "1"):
        args = promises.parse(["--demo-count", "150", "--max-share", "0.9", "--batches-per-round", k])
        rounds[k] = promises.run_queue(vectors, truth, 0, args, ["all/point"], lambda *_: None)
    assert len(rounds["1"]) > len(rounds["0"])
    steps = [b - a for a, b in itertools.pairwise(rounds["1"])]
    assert max(steps) < max(b - a for a, b in itertools.pairwise(rounds["0"])), rounds
