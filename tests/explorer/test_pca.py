"""The explorer's PCA: the covariance route gives sklearn's exact answer, and the same picture twice."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.decomposition import PCA

from workers.explorer import CHUNK_ROWS, pca_project


@pytest.mark.parametrize("rows", [500, CHUNK_ROWS + 1234])  # one chunk, and several
def test_pca_matches_an_exact_svd_up_to_the_sign_of_each_axis(rows):
    rng = np.random.default_rng(rows)
    vectors = (rng.normal(size=(rows, 24)) @ rng.normal(size=(24, 24)) + 5).astype(np.float32)
    coords, ratios = pca_project(vectors, 3)
    reference = PCA(3, svd_solver="full")
    expected = reference.fit_transform(vectors.astype(np.float64))
    signs = np.sign((coords * expected).sum(axis=0))
    np.testing.assert_allclose(coords * signs, expected, atol=1e-6 * np.abs(expected).max())
    np.testing.assert_allclose(ratios, reference.explained_variance_ratio_, rtol=1e-6)


def test_each_axis_is_signed_the_same_way_whatever_the_row_order():
    rng = np.random.default_rng(7)
    vectors = rng.normal(size=(800, 10)).astype(np.float32) * np.arange(1, 11, dtype=np.float32)
    coords, _ = pca_project(vectors, 2)
    order = rng.permutation(len(vectors))
    shuffled, _ = pca_project(vectors[order], 2)
    np.testing.assert_allclose(shuffled, coords[order], atol=1e-6 * np.abs(coords).max())


def test_more_features_than_rows_still_projects():
    vectors = np.random.default_rng(1).normal(size=(20, 50)).astype(np.float32)
    coords, ratios = pca_project(vectors, 2)
    assert coords.shape == (20, 2) and 0 < ratios.sum() <= 1
