"""bench promises: its tally says the gap and which way it points, and a tiny demo run judges the
batches of every way of promising, with the queue's labels and with random ones, and the
similarity pages of every way of promising them."""

from __future__ import annotations

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
    for way in promises.WAYS + promises.SIMILARITY_WAYS:
        assert f"queue all, {way}" in out, out
    assert "random all, all/wilson" in out, out


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
