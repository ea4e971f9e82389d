"""Temperature scaling of the scattering classifier recovers how over-confident logits are."""

from __future__ import annotations

import numpy as np
import pytest

from workers.algorithms.azimuthal_classifier import fit_temperature


def _draw(rng: np.random.Generator, logits: np.ndarray) -> np.ndarray:
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    labels = np.asarray([rng.choice(len(row), p=row) for row in p])
    return np.eye(logits.shape[1])[labels]


@pytest.mark.parametrize("inflation", [0.5, 1.0, 4.0])
def test_softmax_logits_inflated_by_a_factor_come_back_with_that_temperature(inflation):
    rng = np.random.default_rng(1)
    honest = rng.normal(0, 2.0, (4000, 4))
    targets = _draw(rng, honest)
    assert fit_temperature(honest * inflation, targets, multi_label=False) == pytest.approx(
        inflation, rel=0.15
    )


def test_sigmoid_logits_are_calibrated_per_output():
    rng = np.random.default_rng(2)
    honest = rng.normal(0, 2.0, (4000, 3))
    targets = (rng.random(honest.shape) < 1 / (1 + np.exp(-honest))).astype(np.float64)
    assert fit_temperature(honest * 3.0, targets, multi_label=True) == pytest.approx(3.0, rel=0.15)


def test_a_few_held_out_items_all_right_do_not_sharpen_the_probabilities_into_ties():
    """Thirty well-separated items: their likelihood alone would keep falling as T shrinks, down to
    float32 probabilities of exactly 1.0 that no longer rank a gallery."""
    rng = np.random.default_rng(3)
    classes = rng.integers(0, 6, 30)
    logits = rng.normal(0, 1.0, (30, 6))
    logits[np.arange(30), classes] += 6.0
    temperature = fit_temperature(logits, np.eye(6)[classes], multi_label=False)
    assert 0.3 < temperature <= 1.0
    z = (logits / temperature).astype(np.float32)
    top = np.exp(z - z.max(axis=1, keepdims=True))
    top = (1.0 / top.sum(axis=1)).astype(np.float32)
    assert len(set(top.tolist())) > 25  # still a ranking, not a block of ties at 1.0
