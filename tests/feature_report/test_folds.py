"""The report's folds: the classifier head's, so that a small class does not halve every model's
training share."""

from __future__ import annotations

import numpy as np

from workers.feature_report import report_folds


def test_a_class_of_two_items_keeps_five_folds_each_training_on_four_fifths():
    labels = np.r_[np.zeros(60), np.ones(33), np.full(2, 2)].astype(np.int64)
    folds = report_folds(labels, 5, seed=3)
    assert len(folds) == 5  # k = the smallest class (2) halved every training set before
    tested = np.concatenate([test for _, test in folds])
    assert sorted(tested.tolist()) == list(range(len(labels)))  # every item scored exactly once
    for train, test in folds:
        assert set(np.unique(labels[train])) == {0, 1, 2}  # every class trains in every fold
        assert len(train) >= 0.75 * len(labels) and np.intersect1d(train, test).size == 0
        assert abs((labels[test] == 0).sum() - 12) <= 1 and abs((labels[test] == 1).sum() - 6.6) <= 1
    assert report_folds(labels, 5, seed=3)[0][1].tolist() == folds[0][1].tolist()  # seeded


def test_fewer_items_than_folds_leave_no_empty_fold():
    labels = np.asarray([0, 0, 1, 1], np.int64)
    folds = report_folds(labels, 5, seed=0)
    assert len(folds) == 4 and all(len(test) == 1 for _, test in folds)
    assert all(set(labels[train]) == {0, 1} for train, _ in folds)
