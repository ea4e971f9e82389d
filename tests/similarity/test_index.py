"""Similarity index: hnswlib agrees with exact search, persists, and fails clearly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from backend.errors import Invalid, NotFound
from backend.similarity.index import FeatureIndex, IndexCache, IndexParams, build_index
from backend.similarity.ranking import rank_by_similarity


def clustered(n: int = 600, dim: int = 32, clusters: int = 6, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(clusters, dim)) * 4
    return (centers[rng.integers(0, clusters, n)] + rng.normal(size=(n, dim))).astype(np.float32)


def features(directory: Path, vectors: np.ndarray, first_id: int = 1000) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    np.save(directory / "vectors.npy", vectors)
    np.save(directory / "item_ids.npy", np.arange(first_id, first_id + len(vectors), dtype=np.int64))
    return directory


def test_index_results_equal_exact_search_on_small_data(tmp_path):
    d = features(tmp_path / "f", clustered())
    build_index(d, IndexParams(m=16, ef_construction=200, ef=400))
    exact = FeatureIndex(d)  # below the threshold: exact
    approx = FeatureIndex(d, exact_threshold=0)  # forces the hnswlib index
    assert exact.exact and not approx.exact
    for query in ([1000], [1003, 1010], [1599]):
        for mode in ("mean", "union"):
            a = rank_by_similarity(exact, query, mode=mode, limit=20)
            b = rank_by_similarity(approx, query, mode=mode, limit=20)
            assert a.item_ids == b.item_ids
            np.testing.assert_allclose(a.similarities, b.similarities, atol=1e-4)


def test_query_item_ranks_first_with_similarity_one(tmp_path):
    d = features(tmp_path / "f", clustered())
    ranked = rank_by_similarity(FeatureIndex(d), [1042], limit=5)
    assert ranked.item_ids[0] == 1042 and ranked.similarities[0] == pytest.approx(1.0, abs=1e-5)
    assert ranked.similarities == sorted(ranked.similarities, reverse=True)


def test_pages_follow_each_other_and_excluded_items_are_left_out(tmp_path):
    d = features(tmp_path / "f", clustered(200))
    index = FeatureIndex(d)
    full = rank_by_similarity(index, [1000], limit=200)
    first, second = (rank_by_similarity(index, [1000], offset=o, limit=10) for o in (0, 10))
    assert first.item_ids + second.item_ids == full.item_ids[:20]
    excluded = set(full.item_ids[1:6])
    kept = rank_by_similarity(index, [1000], limit=10, exclude=excluded)
    assert not excluded & set(kept.item_ids)
    assert kept.item_ids[0] == 1000 and kept.total == 200 - 5


def test_index_persists_and_reloads(tmp_path):
    d = features(tmp_path / "f", clustered())
    build_index(d)
    assert (d / "index.bin").exists() and not list(d.glob("*.tmp*"))
    cache = IndexCache(capacity=1)
    first = cache.get(d)
    assert cache.get(d) is first  # kept in memory
    build_index(d, IndexParams(m=8))  # files changed: reloaded
    assert cache.get(d) is not first


def test_missing_vectors_and_unbuilt_index_give_clear_errors(tmp_path):
    with pytest.raises(NotFound, match="run inference first"):
        FeatureIndex(tmp_path / "nothing")
    d = features(tmp_path / "f", clustered(50))
    with pytest.raises(NotFound, match="not built yet"):
        FeatureIndex(d, exact_threshold=10)


def test_stale_index_is_refused(tmp_path):
    d = features(tmp_path / "f", clustered(50))
    build_index(d)
    features(d, clustered(60))
    with pytest.raises(Invalid, match="rebuild"):
        FeatureIndex(d, exact_threshold=10)


def test_unknown_query_item_and_bad_arguments(tmp_path):
    index = FeatureIndex(features(tmp_path / "f", clustered(50)))
    with pytest.raises(NotFound):
        rank_by_similarity(index, [1])
    with pytest.raises(Invalid):
        rank_by_similarity(index, [], limit=5)
    with pytest.raises(Invalid):
        rank_by_similarity(index, [1000], mode="median")
    with pytest.raises(Invalid):
        IndexParams(m=1)
