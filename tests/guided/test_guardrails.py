"""The batch guardrails' rules on generated vectors: a class with few labels keeps its right items
unflagged, a wrong item among them is flagged, a class with no labels is judged by distance alone."""

from __future__ import annotations

import numpy as np

from backend.guided.guardrails import flag_batch, rule_text

A, B = 1, 2


def _at(degrees: list[float]) -> np.ndarray:
    """Unit vectors in a plane at these angles (cosine distance grows with the angle between them)."""
    radians = np.radians(np.asarray(degrees, np.float64))
    return np.stack([np.cos(radians), np.sin(radians), np.zeros(len(radians))], axis=1)


def _world() -> tuple[np.ndarray, np.ndarray, dict[int, frozenset[int]], list[int]]:
    """Class A (3 labeled items at 0-10 degrees) beside class B (31 labeled at 15-45 degrees);
    a batch of A: ten right items at 1-12 degrees and one B item at 30 degrees."""
    labeled_a, labeled_b = [0.0, 5.0, 10.0], [15.0 + i for i in range(31)]
    batch = [1.0, 2.0, 3.0, 4.0, 6.0, 7.0, 8.0, 9.0, 11.0, 12.0, 30.5]
    vectors = _at(labeled_a + labeled_b + batch)
    ids = np.arange(1, len(vectors) + 1, dtype=np.int64)
    current = {int(i): frozenset({A}) for i in ids[:3]} | {int(i): frozenset({B}) for i in ids[3:34]}
    return ids, vectors, current, [int(i) for i in ids[34:]]


def test_right_items_of_a_class_with_few_labels_are_not_flagged_and_the_wrong_one_is():
    ids, vectors, current, batch = _world()
    # item at 12 degrees: 4 of its 5 nearest labeled items are B (the plain majority flagged it),
    # but its nearest is A and, weighed by labeled items per class, A holds most of the votes
    flags = flag_batch(batch, [A] * len(batch), ids, vectors, current, mads=3.0, neighbours=5)
    wrong = batch[-1]
    assert set(flags.flags) == {wrong}
    reasons = flags.flags[wrong]
    assert any(r.startswith("far from the batch") for r in reasons)
    assert any("5 of its 5 nearest labeled items carry another class" in r for r in reasons)


def test_a_far_item_whose_nearest_labeled_item_carries_its_class_is_not_flagged():
    ids, vectors, current, batch = _world()
    # an A item labeled among the B items, beside the far one: the far one may well be A too
    ids = np.append(ids, 999)
    vectors = np.vstack([vectors, _at([30.6])])
    current = current | {999: frozenset({A})}
    flags = flag_batch(batch, [A] * len(batch), ids, vectors, current, mads=3.0, neighbours=5)
    assert flags.distance_limit is not None and not flags.flags  # far from the batch, yet not flagged


def test_a_class_without_labels_is_judged_by_distance_alone():
    ids, vectors, current, batch = _world()
    only_b = {i: labels for i, labels in current.items() if labels == frozenset({B})}
    flags = flag_batch(batch, [A] * len(batch), ids, vectors, only_b, mads=3.0, neighbours=5)
    assert set(flags.flags) == {batch[-1]}  # every item's neighbours are B: only distance judges
    assert [r.startswith("far from the batch") for r in flags.flags[batch[-1]]] == [True]
    unchosen = flag_batch(batch, [None] * len(batch), ids, vectors, current)
    assert set(unchosen.flags) == {batch[-1]}


def test_the_rule_in_words_names_both_settings():
    text = rule_text(3.5, 7)
    assert "median + 3.5 x MAD" in text and "7 nearest labeled items" in text
    assert "1 / its labeled items" in text
