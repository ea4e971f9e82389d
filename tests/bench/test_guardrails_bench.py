"""bench guardrails: its tally counts what "f" would leave out, and a tiny demo run prints both rules."""

from __future__ import annotations

import numpy as np

from backend.guided.guardrails import BatchFlags
from bench import guardrails


def test_the_tally_counts_flags_on_wrong_and_right_items_and_what_f_leaves():
    truth = np.array([0, 0, 0, 1, 1])
    batch = guardrails.Batch("similarity", np.arange(5), [0] * 5)  # items 3 and 4 are wrong
    flags = BatchFlags(flags={3: ["far from the batch"], 1: ["2 of its 5 nearest labeled items ..."]})
    tally = guardrails.Tally()
    tally.add(batch, truth, flags)
    assert (tally.items, tally.wrong, tally.flagged_wrong, tally.flagged_right) == (5, 2, 1, 1)
    assert tally.reasons == {"far": [1, 0], "neighbours": [0, 1]}
    fields = tally.line("x").split()
    # wrong 0.4; 2 flags, precision 0.5, recall 0.5; with f: 1 wrong of 3 left; 1 right lost per catch
    assert fields[1:9] == ["5", "0.400", "2", "0.500", "0.500", "0.333", "0.83", "1.00"]


def test_a_small_demo_run_judges_the_batches_with_both_rules(capsys):
    guardrails.main(["--demo-count", "90", "--shares", "0.1", "--seeds", "1", "--explorers", "2"])
    out = capsys.readouterr().out
    for key in ("similarity, before", "similarity, now", "all, before", "all, now"):
        assert key in out, out


def test_the_bound_takes_the_lowest_ratio_that_loses_at_most_one_right_item_per_catch():
    # three wrong items among ten; flagging the top four catches all three and loses one right one
    score = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.0])
    wrong = np.array([1, 1, 0, 1, 0, 0, 0, 0, 0, 0], bool)
    assert guardrails.bound(score, wrong) == "auc 0.952  best ratio 0.00 (recall 1.00, lost/1 0.33)"
    # a score that ranks every right item first: no threshold is worth it
    assert "no threshold" in guardrails.bound(-score - 10.0 * wrong, wrong)


def test_label_spreading_carries_each_seed_over_its_own_cluster():
    rng = np.random.default_rng(0)
    centres = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    vectors = np.concatenate([c + 0.05 * rng.standard_normal((30, 3)) for c in centres])
    shares = guardrails.label_spreading(vectors, np.array([0, 30]), np.array([0, 1]), 2)
    assert shares.shape == (60, 2)
    assert (shares[:30, 0] > 0.5).all() and (shares[30:, 1] > 0.5).all()
    assert np.allclose(shares.sum(axis=1), 1.0)


def test_a_ceiling_run_prints_the_bound_of_each_score(capsys):
    guardrails.main(
        ["--demo-count", "90", "--shares", "0.1", "--seeds", "1", "--explorers", "2", "--ceiling"]
    )
    out = capsys.readouterr().out
    assert "ceiling (all batches)" in out and "all, spreading" in out, out
    for score in ("rules now", "neighbour votes (5)", "classifier 1 - p(class)", "label spreading", "summed"):
        assert score in out, out


def test_the_spreading_candidate_flags_the_items_whose_largest_share_is_another_class():
    spread = np.array([[0.9, 0.1], [0.4, 0.6], [0.5, 0.5], [0.2, 0.8]])
    batch = guardrails.Batch("explorer", np.arange(4), [0, 0, 0, 1])
    assert guardrails.spreading_flags(batch, spread).flagged() == {1}
