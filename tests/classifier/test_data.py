"""The classifier's data rules as plain functions: stratified split, targets, class weights,
augmentations, confusion matrix. No Keras, no training."""

from __future__ import annotations

import numpy as np

from workers.algorithms.classifier import confusion_matrix
from workers.algorithms.classifier_data import Augment, balanced_weights, stratified_split, target_matrix


def test_the_split_holds_out_the_same_share_of_every_class_and_repeats_with_the_seed():
    strata = ["a"] * 40 + ["b"] * 20 + ["c"] * 4 + ["d"]
    train, val = stratified_split(strata, 0.25, seed=3)
    held = [strata[i] for i in val]
    assert {k: held.count(k) for k in "abcd"} == {"a": 10, "b": 5, "c": 1, "d": 0}  # a lone item trains
    assert sorted([*train, *val]) == list(range(len(strata)))
    again, _ = stratified_split(strata, 0.25, seed=3)
    other, _ = stratified_split(strata, 0.25, seed=4)
    assert train.tolist() == again.tolist() and train.tolist() != other.tolist()
    assert len(stratified_split(strata, 0.0, seed=3)[1]) == 0


def test_targets_are_one_hot_multi_hot_or_shared():
    labels = [[7], [9], [7, 9]]
    assert target_matrix(labels, [7, 9], multi_label=True).tolist() == [[1, 0], [0, 1], [1, 1]]
    assert target_matrix(labels, [7, 9], multi_label=False).tolist() == [[1, 0], [0, 1], [0.5, 0.5]]


def test_balanced_class_weights_even_out_the_classes():
    targets = np.asarray([[1, 0]] * 30 + [[0, 1]] * 10, dtype=np.float32)
    weights = balanced_weights(targets)
    assert np.allclose(weights, [40 / (2 * 30), 40 / (2 * 10)])
    assert np.isclose(weights[0] * 30, weights[1] * 10)


def test_augmentations_are_drawn_from_seed_epoch_and_item():
    image = np.random.default_rng(0).random((16, 16)).astype(np.float32)
    augment = Augment({"augment_rotation": 90.0, "augment_hflip": True, "augment_vflip": True, "seed": 1})
    first = augment(image, epoch=2, row=5)
    assert first.shape == (16, 16) and first.dtype == np.float32
    assert np.array_equal(first, augment(image, epoch=2, row=5))
    assert not np.array_equal(first, augment(image, epoch=3, row=5))
    assert not Augment({}).active


def test_the_confusion_matrix_counts_true_rows_against_predicted_columns():
    matrix = confusion_matrix(np.asarray([0, 0, 1, 2, 2]), np.asarray([0, 1, 1, 2, 0]), 3)
    assert matrix.tolist() == [[1, 1, 0], [0, 1, 0], [1, 0, 1]]
