"""Several classes' probability batches on one page (``suggest_math.mixed_batch``): which join."""

from __future__ import annotations

import numpy as np
import pytest

from backend.guided import suggest_math as sm


def _batch(label_id: int, count: int, precision: float) -> sm.ProbabilityBatch:
    ids = [label_id * 1000 + i for i in range(count)]
    cut = sm.Cut(np.arange(count), 0.5, precision, 20, "held-out items")
    return sm.ProbabilityBatch(label_id, ids, cut)


def test_batches_join_best_first_while_they_beat_the_page_so_far():
    a, b, c = _batch(1, 8, 0.95), _batch(2, 8, 0.9), _batch(3, 16, 0.55)
    page = sm.mixed_batch([c, b, a])
    assert page is not None and page.batches == 2
    assert page.item_ids == a.item_ids + b.item_ids and page.label_ids == [1] * 8 + [2] * 8
    # c's odds (0.55 / 0.45) are below the page's labels per action: it stays a batch of its own
    assert page.expected_labels == pytest.approx(8 * 0.95 + 8 * 0.9)
    assert page.expected_actions == pytest.approx(1 + 8 * 0.05 + 8 * 0.1)
    assert page.precision == pytest.approx((0.95 + 0.9) / 2)
    value = page.expected_labels / page.expected_actions
    assert value > max(x.cut.expected_labels / x.cut.expected_actions for x in (a, b, c))


def test_the_page_is_filled_to_its_size_with_the_top_of_a_batch_and_needs_two_classes():
    big, small = _batch(1, 90, 0.97), _batch(2, 48, 0.96)
    page = sm.mixed_batch([big, small], most=96)
    assert page is not None and page.count == 96
    assert page.item_ids == big.item_ids + small.item_ids[:6]  # the top of the second batch
    assert sm.mixed_batch([big]) is None  # one class: its own batch is the page
    assert sm.mixed_batch([]) is None
    assert sm.mixed_batch([_batch(1, 96, 0.99), small], most=96) is None  # no room for a second
