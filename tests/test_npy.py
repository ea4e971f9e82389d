"""Reading the jobs' .npy/.npz files from threads (backend.storage.npy): every header under one lock."""

from __future__ import annotations

import ast
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from backend.errors import Unreadable
from backend.guided.heldout import load_held_out
from backend.storage import npy


def _spy(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Whether the lock was held at each header parse (ast.literal_eval: the call gh-106905 breaks)."""
    held: list[bool] = []
    real = ast.literal_eval

    def literal_eval(*args, **kwargs):  # type: ignore[no-untyped-def]
        held.append(npy.HEADER_LOCK.locked())
        return real(*args, **kwargs)

    monkeypatch.setattr(ast, "literal_eval", literal_eval)
    return held


def test_arrays_and_archives_load_whole_from_many_threads_with_every_header_under_the_lock(
    tmp_path, monkeypatch
):
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(50, 8)).astype(np.float32)
    np.save(tmp_path / "vectors.npy", vectors)
    np.savez(tmp_path / "oof.npz", item_ids=np.arange(50), probabilities=rng.random((50, 3)))
    held = _spy(monkeypatch)

    def read(_: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        return npy.load(tmp_path / "vectors.npy", mmap_mode="r"), npy.load_archive(tmp_path / "oof.npz")

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(read, range(16)))
    assert len(held) == 16 * 3 and all(held)  # the array's header and each archive member's
    for mapped, archive in results:
        np.testing.assert_array_equal(mapped, vectors)
        assert sorted(archive) == ["item_ids", "probabilities"]
        np.testing.assert_array_equal(archive["item_ids"], np.arange(50))


def test_an_archive_where_one_array_is_wanted_is_refused_by_name(tmp_path):
    np.savez(tmp_path / "vectors.npy.npz", a=np.zeros(3))
    (tmp_path / "vectors.npy.npz").rename(tmp_path / "vectors.npy")
    with pytest.raises(Unreadable, match=r"vectors.npy is a .npz archive"):
        npy.load(tmp_path / "vectors.npy")


def test_a_pickled_array_is_never_loaded(tmp_path):
    np.save(tmp_path / "objects.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match="allow_pickle"):
        npy.load(tmp_path / "objects.npy")


def test_held_out_probabilities_are_read_through_the_lock(tmp_path, monkeypatch):
    """The estimates' file (oof.npz) is read by web requests in worker threads."""
    np.savez(
        tmp_path / "oof.npz",
        item_ids=np.array([4, 5]),
        probabilities=np.array([[0.9, 0.1], [0.2, 0.8]]),
        label_ids=np.array([7, 8]),
    )
    held = _spy(monkeypatch)
    found = load_held_out(tmp_path)
    assert held and all(held)
    assert found.item_ids.tolist() == [4, 5] and found.label_ids == [7, 8]
