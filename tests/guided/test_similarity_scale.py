"""The numpy half's factor on a similarity page's figures (``bench similarity_pages`` judges one
from what earlier pages held; the queue passes none, decision 0030): it lowers the page's promise
and the cut with it, and a factor low enough leaves no page."""

from __future__ import annotations

import numpy as np
import pytest

from backend.guided import suggest_math as sm


def test_a_scale_lowers_a_page_and_its_cut_and_a_low_one_drops_it():
    rng = np.random.default_rng(0)
    centre = rng.normal(size=8)
    near = [centre + rng.normal(scale=0.05, size=8) for _ in range(60)]
    vectors = np.vstack([*near, rng.normal(size=(60, 8))])
    unit = sm.unit(vectors)
    ids = np.arange(1, 121, dtype=np.int64)
    labeled_rows = np.asarray([0, 1, 2, 60, 61, 62], np.int64)
    labeled_classes = np.asarray([5, 5, 5, 6, 6, 6], np.int64)
    unlabeled = np.ones(120, bool)
    unlabeled[labeled_rows] = False
    args = (ids, unit, unlabeled, labeled_rows, labeled_classes)
    plain = sm.similarity_batches(*args, classes={5})
    assert len(plain) == 1
    halved = sm.similarity_batches(*args, classes={5}, scales=lambda c: 0.8)
    assert len(halved) == 1
    assert halved[0].cut.precision == pytest.approx(min(1.0, plain[0].cut.precision * 0.8), abs=0.05)
    assert halved[0].cut.precision < plain[0].cut.precision
    assert halved[0].cut.count <= plain[0].cut.count
    # below "more right than wrong": no page
    assert sm.similarity_batches(*args, classes={5}, scales=lambda c: 0.3) == []
