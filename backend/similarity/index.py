"""Building, saving and querying cosine indexes over feature vectors.

A feature directory holds ``vectors.npy`` (float32, N x D) and ``item_ids.npy`` (int64, N),
aligned row by row. ``build_index`` adds ``index.bin`` and ``index.json`` beside them, written
under temporary names and renamed, so a killed build never leaves a half index that looks whole.
Below ``exact_threshold`` items, queries use exact search; the ranking is the same either way.
"""

from __future__ import annotations

import json
import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from backend.errors import Invalid, NotFound
from backend.storage import npy

VECTORS, ITEM_IDS, INDEX, INDEX_META = "vectors.npy", "item_ids.npy", "index.bin", "index.json"
EXACT_THRESHOLD = 20_000


@dataclass(frozen=True)
class IndexParams:
    """hnswlib parameters: graph degree M, build-time ef, and the default query ef."""

    m: int = 16
    ef_construction: int = 200
    ef: int = 200

    def __post_init__(self) -> None:
        if not 2 <= self.m <= 100:
            raise Invalid("M must be between 2 and 100")
        if not 10 <= self.ef_construction <= 2000:
            raise Invalid("ef_construction must be between 10 and 2000")
        if not 1 <= self.ef <= 5000:
            raise Invalid("ef must be between 1 and 5000")


def normalise(vectors: np.ndarray) -> np.ndarray:
    """Unit-length rows (zero rows stay zero), float32: cosine similarity becomes a dot product."""
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms == 0, 1.0, norms)


def load_features(directory: Path) -> tuple[np.ndarray, np.ndarray]:
    """(vectors, item_ids) of a feature directory, memory-mapped; clear errors when absent."""
    vectors_path, ids_path = directory / VECTORS, directory / ITEM_IDS
    if not vectors_path.exists() or not ids_path.exists():
        raise NotFound("this model has no feature vectors for the dataset yet: run inference first")
    vectors = npy.load(vectors_path, mmap_mode="r")
    item_ids = npy.load(ids_path)
    if vectors.ndim != 2 or len(vectors) != len(item_ids):
        raise Invalid(f"feature vectors {vectors.shape} do not match {len(item_ids)} item ids")
    return vectors, item_ids


def _atomic_write_bytes(path: Path, write: Callable[[str], object]) -> None:
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    try:
        write(str(tmp))
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def build_index(
    directory: Path,
    params: IndexParams | None = None,
    progress: Callable[[int, int], None] | None = None,
    chunk: int = 50_000,
) -> dict:
    """Build the hnswlib index of a feature directory and save it beside the vectors.

    ``progress(done, total)`` is called after each ``chunk`` of vectors is added; a job passes
    one that also checks for cancellation (raising there stops the build, nothing is written).
    """
    import hnswlib

    params = params or IndexParams()
    vectors, _ = load_features(directory)
    data = normalise(np.asarray(vectors))
    index = hnswlib.Index(space="cosine", dim=data.shape[1])
    index.init_index(max_elements=max(1, len(data)), ef_construction=params.ef_construction, M=params.m)
    index.set_num_threads(os.cpu_count() or 1)
    for start in range(0, len(data), chunk):
        stop = min(start + chunk, len(data))
        index.add_items(data[start:stop], np.arange(start, stop))
        if progress is not None:
            progress(stop, len(data))
    _atomic_write_bytes(directory / INDEX, index.save_index)
    meta = {**asdict(params), "count": len(data), "dim": int(data.shape[1])}
    _atomic_write_bytes(directory / INDEX_META, lambda p: Path(p).write_text(json.dumps(meta)))
    return meta


class FeatureIndex:
    """Ranks a dataset's items by cosine similarity to query vectors."""

    def __init__(self, directory: Path, exact_threshold: int = EXACT_THRESHOLD) -> None:
        self.directory = directory
        vectors, self.item_ids = load_features(directory)
        self.vectors = normalise(np.asarray(vectors))
        self.row_of = {int(item_id): row for row, item_id in enumerate(self.item_ids)}
        self.params = IndexParams()
        self.hnsw = None
        self._lock = threading.Lock()  # hnswlib's set_ef + knn_query is not one atomic call
        if len(self.vectors) >= exact_threshold:
            meta_path = directory / INDEX_META
            if not (directory / INDEX).exists() or not meta_path.exists():
                raise NotFound("the similarity index is not built yet: run a build-index job first")
            import hnswlib

            meta = json.loads(meta_path.read_text())
            if meta["count"] != len(self.vectors):
                raise Invalid("the similarity index is older than the vectors: rebuild it")
            self.params = IndexParams(meta["m"], meta["ef_construction"], meta["ef"])
            self.hnsw = hnswlib.Index(space="cosine", dim=self.vectors.shape[1])
            self.hnsw.load_index(str(directory / INDEX), max_elements=len(self.vectors))

    @property
    def exact(self) -> bool:
        return self.hnsw is None

    def vectors_of(self, item_ids: list[int]) -> np.ndarray:
        missing = [i for i in item_ids if i not in self.row_of]
        if missing:
            raise NotFound(f"item(s) {missing[:20]} have no feature vector in this model")
        return self.vectors[[self.row_of[i] for i in item_ids]]

    def search(self, query: np.ndarray, k: int, ef: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (item ids, cosine similarities) for each query row, best first."""
        query = normalise(np.atleast_2d(query))
        k = min(k, len(self.vectors))
        if self.hnsw is None:
            sims = query @ self.vectors.T
            if k < len(self.vectors):
                top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
            else:
                top = np.tile(np.arange(len(self.vectors)), (len(query), 1))
            order = np.take_along_axis(sims, top, axis=1).argsort(axis=1, kind="stable")[:, ::-1]
            rows = np.take_along_axis(top, order, axis=1)
            return self.item_ids[rows], np.take_along_axis(sims, rows, axis=1)
        with self._lock:
            self.hnsw.set_ef(max(ef or self.params.ef, k))
            labels, distances = self.hnsw.knn_query(query, k=k)
        return self.item_ids[labels.astype(np.int64)], (1.0 - distances).astype(np.float32)


class IndexCache:
    """Recently used indexes kept in memory; reloaded when their files change."""

    def __init__(self, capacity: int = 4, exact_threshold: int = EXACT_THRESHOLD) -> None:
        self.capacity = capacity
        self.exact_threshold = exact_threshold
        self._items: OrderedDict[tuple[str, float], FeatureIndex] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, directory: Path) -> FeatureIndex:
        stamp = max((p.stat().st_mtime for p in directory.glob("*") if p.is_file()), default=0.0)
        key = (str(directory), stamp)
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        index = FeatureIndex(directory, self.exact_threshold)
        with self._lock:
            for old in [k for k in self._items if k[0] == key[0]]:
                del self._items[old]
            self._items[key] = index
            while len(self._items) > self.capacity:
                self._items.popitem(last=False)
        return index
