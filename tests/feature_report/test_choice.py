"""The report's choice between the top scorer and the train page's first choice (``choose``)."""

from __future__ import annotations

import numpy as np
from sklearn.model_selection import StratifiedKFold

from workers.feature_report import choose, clear_lead, explain, scores_of


def _model(model_id: int, score: float, rank: int) -> dict:
    return {"model_id": model_id, "name": f"m{model_id}", "score": score, "suggestion_rank": rank}


def test_a_lead_counts_only_where_the_two_disagree_and_must_beat_chance():
    both = np.ones(40, bool)
    assert not clear_lead(both, both)  # the same predictions: no lead
    few = np.array([True, True, True, True]), np.array([False, False, True, True])
    assert not clear_lead(*few)  # two discordant items: chance
    many = np.r_[np.ones(28, bool), np.zeros(10, bool)], np.r_[np.zeros(18, bool), np.ones(20, bool)]
    assert not clear_lead(*many)  # 18 wins, 10 losses: 8 < 1.645 sqrt(29) = 8.9
    more = np.r_[np.ones(30, bool), np.zeros(8, bool)], np.r_[np.zeros(22, bool), np.ones(16, bool)]
    assert clear_lead(*more)  # 22 wins, 8 losses: 14 > 1.645 sqrt(31) = 9.2
    # one-sided 95% (decision 0023): 20 wins, 10 losses is a lead (10 > 9.2), where z = 2 asked 11.1
    just = np.r_[np.ones(30, bool), np.zeros(10, bool)], np.r_[np.zeros(20, bool), np.ones(20, bool)]
    assert clear_lead(*just) and not clear_lead(just[1], just[0])
    wins = np.r_[np.ones(30, bool), np.zeros(10, bool)], np.r_[np.zeros(30, bool), np.zeros(10, bool)]
    assert clear_lead(*wins) and not clear_lead(wins[1], wins[0])


def test_the_first_choice_stays_unless_the_top_scorer_leads_clearly():
    top, prior = _model(3, 0.9, 1), _model(1, 0.7, 4)
    close = {3: np.array([True, True, True]), 1: np.array([True, False, True])}
    models, note = choose([top, prior], close)
    assert [m["model_id"] for m in models] == [1, 3] and "within chance" in note and "m3" in note
    clear = {3: np.ones(60, bool), 1: np.r_[np.ones(20, bool), np.zeros(40, bool)]}
    models, note = choose([top, prior], clear)
    assert [m["model_id"] for m in models] == [3, 1] and note == ""
    # the first choice scoring highest, or one model only: nothing to weigh
    assert choose([prior, top], close) == ([prior, top], "")
    assert choose([top], close) == ([top], "")
    # the features in use (the newest report's choice) stay against an unclear lead, whatever
    # the train page ranks first; a clear lead replaces them
    used, first = {**_model(4, 0.6, 2), "in_use": True}, _model(6, 0.5, 4)
    models, note = choose([top, used, first], {3: close[3], 4: close[1], 6: close[1]})
    assert [m["model_id"] for m in models] == [4, 3, 6] and "the features in use" in note
    models, note = choose([top, used, first], {3: clear[3], 4: clear[1], 6: clear[1]})
    assert [m["model_id"] for m in models] == [3, 4, 6] and note == ""
    # equal ranks: the newest (highest id) is the first choice
    older, newer = _model(2, 0.9, 4), _model(5, 0.8, 4)
    models, note = choose([older, newer], {2: np.ones(3, bool), 5: np.zeros(3, bool)})
    assert [m["model_id"] for m in models] == [5, 2] and note


def test_the_intensity_variant_replaces_what_the_vectors_hold_only_on_a_clear_lead():
    from workers.feature_report import choose_intensity

    def scored(score: float, right: np.ndarray) -> dict:
        return {"score": score, "right": right}

    few_right, few_wrong = np.array([True, True, True, False]), np.array([True, False, True, False])
    many_right, many_wrong = np.ones(80, bool), np.r_[np.ones(40, bool), np.zeros(40, bool)]
    # plain vectors: the descriptors must win clearly, not by one item
    assert not choose_intensity(scored(0.5, few_wrong), scored(0.75, few_right))
    assert choose_intensity(scored(0.5, many_wrong), scored(1.0, many_right))
    assert not choose_intensity(scored(0.5, many_wrong), scored(0.505, many_right))  # under the margin
    # descriptors appended by an inference: they stay unless plain vectors win clearly
    assert choose_intensity(scored(0.75, few_right), scored(0.5, few_wrong), in_vectors=True)
    assert not choose_intensity(scored(1.0, many_right), scored(0.5, many_wrong), in_vectors=True)
    assert not choose_intensity(scored(0.9, many_right), None)  # no descriptors to compare


def test_the_score_counts_items_so_features_right_on_the_frequent_classes_rank_first():
    """Two classes of 40 and one of 6: one model's vectors tell the two big classes apart and put
    the small one among the first; the other's find the small class and blur the big ones. The
    second has the higher balanced accuracy, the first is right on far more items, which is what
    a batch gains (decision 0022); the balanced figures stay in the report and its line."""
    rng = np.random.default_rng(0)
    labels = np.r_[np.zeros(40), np.ones(40), np.full(6, 2)].astype(np.int64)
    axes, column = np.eye(8) * 3, labels[:, None]
    frequent = np.where(column == 1, axes[1], axes[0]) + rng.normal(0, 0.6, (len(labels), 8))
    blurred = np.where(column == 2, axes[2], axes[0] + np.where(column == 1, 0.5, 0.0) * axes[1] / 3)
    rare = blurred + rng.normal(0, 0.6, (len(labels), 8))
    folds = list(StratifiedKFold(5, shuffle=True, random_state=0).split(labels, labels))
    a, b = (scores_of(v, labels, folds, 5, [0, 1, 2]) for v in (frequent, rare))
    balanced = {name: (s["knn_balanced"] + s["linear_balanced"]) / 2 for name, s in (("a", a), ("b", b))}
    assert balanced["b"] > balanced["a"]  # each class the same: the small class's finder leads
    assert min(a["knn_accuracy"], a["linear_accuracy"]) > 0.85 > max(b["knn_accuracy"], b["linear_accuracy"])
    assert a["score"] == (a["knn_accuracy"] + a["linear_accuracy"]) / 2 and a["score"] > b["score"] + 0.2
    assert clear_lead(a["right"], b["right"])
    entries = [{"model_id": i, "name": f"m{i}", "algorithm": "pca", **s} for i, s in ((1, a), (2, b))]
    line = explain(sorted(entries, key=lambda e: -e["score"]), len(labels), len(folds))
    assert line.startswith("m1 (pca) separates the current labels best: accuracy kNN")
    assert f"balanced: kNN {a['knn_balanced']:.0%}" in line and "next: m2" in line


def test_when_no_model_could_be_scored_the_line_names_them_and_why():
    """A dataset whose only extractor gives every item one vector has vectors: the line said to
    train one and run its inference, as if there were none."""
    skipped = [{"model_id": 3, "name": "azimuthal-3", "skipped": "every labeled item has the same vector"}]
    line = explain([], 6, 3, "", skipped)
    assert "azimuthal-3: every labeled item has the same vector" in line
    assert "No feature model with vectors" not in line
    assert explain([], 6, 3).startswith("No feature model with vectors to compare")
