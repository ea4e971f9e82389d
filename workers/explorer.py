"""Worker side of the explorer's jobs: projections and clusterings of a model's feature vectors.

Inputs are the model's latest inference output on the dataset (``ctx.input_dir``); outputs are
aligned with the same ``item_ids.npy``: ``coords.npy`` (N x d float32) or ``clusters.npy``
(N int32, -1 for noise).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from backend.storage import npy
from workers.context import JobContext

PCA_COVARIANCE_LIMIT = 4096  # features; above it (or with more features than rows) an SVD serves
CHUNK_ROWS = 20_000


def _inputs(ctx: JobContext) -> tuple[np.ndarray, np.ndarray]:
    if ctx.input_dir is None or not (ctx.input_dir / "vectors.npy").exists():
        raise FileNotFoundError("the model has no feature vectors on this dataset: run inference first")
    vectors = npy.load(ctx.input_dir / "vectors.npy", mmap_mode="r")
    ids = npy.load(ctx.input_dir / "item_ids.npy")
    if len(vectors) != len(ids):
        raise ValueError(f"{len(vectors)} vectors for {len(ids)} item ids: the inference output is broken")
    return np.asarray(vectors, dtype=np.float32), ids


def _normalised(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


def _save(ctx: JobContext, name: str, values: np.ndarray, ids: np.ndarray, meta: dict) -> None:
    out: Path = ctx.artifact_dir
    np.save(out / name, values)
    np.save(out / "item_ids.npy", ids)
    (out / "explorer.json").write_text(json.dumps(meta))


def pca_project(vectors: np.ndarray, dims: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact PCA by the eigen-decomposition of the covariance, accumulated in float64 over row
    chunks: for N items x D features with D small beside N (the usual latent vectors) it is ~10x
    faster than an SVD of the data and never holds a centred copy of it. Each axis is signed so
    that its largest component is positive: the same data always gives the same picture."""
    if vectors.shape[1] > PCA_COVARIANCE_LIMIT or vectors.shape[1] >= len(vectors):
        from sklearn.decomposition import PCA

        model = PCA(n_components=dims, svd_solver="full")
        return model.fit_transform(vectors), model.explained_variance_ratio_
    n, d = vectors.shape
    total = np.zeros(d)
    gram = np.zeros((d, d))
    for start in range(0, n, CHUNK_ROWS):
        chunk = np.asarray(vectors[start : start + CHUNK_ROWS], dtype=np.float64)
        total += chunk.sum(axis=0)
        gram += chunk.T @ chunk
    mean = total / n
    covariance = (gram - n * np.outer(mean, mean)) / (n - 1)
    values, axes = np.linalg.eigh(covariance)
    order = np.argsort(values)[::-1][:dims]
    values, axes = np.clip(values[order], 0, None), axes[:, order]
    axes *= np.sign(axes[np.abs(axes).argmax(axis=0), np.arange(dims)])
    coords = np.empty((n, dims))
    for start in range(0, n, CHUNK_ROWS):
        chunk = np.asarray(vectors[start : start + CHUNK_ROWS], dtype=np.float64)
        coords[start : start + CHUNK_ROWS] = (chunk - mean) @ axes
    variance = max(float(np.trace(covariance)), 1e-300)
    return coords, values / variance


def project_vectors(vectors: np.ndarray, p: dict) -> tuple[np.ndarray, dict]:
    """Coordinates (N x dimensions, float32) of the vectors, and what describes them."""
    dims = int(p["dimensions"])
    if len(vectors) <= dims:
        raise ValueError(f"{len(vectors)} items are too few for a {dims}-D projection")
    meta: dict = {"kind": "projection", "method": p["method"], "dimensions": dims, "count": len(vectors)}
    if p["method"] == "pca":
        coords, ratios = pca_project(vectors, min(dims, vectors.shape[1]))
        meta["explained_variance_ratio"] = [float(v) for v in ratios]
    else:
        import umap

        neighbors = min(int(p["n_neighbors"]), len(vectors) - 1)
        model = umap.UMAP(
            n_components=dims,
            n_neighbors=neighbors,
            min_dist=float(p["min_dist"]),
            metric=p["metric"],
            random_state=int(p["seed"]),
        )
        coords = model.fit_transform(vectors)
        meta.update(n_neighbors=neighbors, min_dist=p["min_dist"], metric=p["metric"])
    if coords.shape[1] < dims:  # fewer features than dimensions: pad so the plot has its axes
        coords = np.pad(coords, ((0, 0), (0, dims - coords.shape[1])))
    return np.asarray(coords, dtype=np.float32), meta


def cluster_vectors(vectors: np.ndarray, p: dict) -> np.ndarray:
    """A cluster id per vector (int32, -1 for noise), in cosine geometry as similarity search uses."""
    data = _normalised(vectors)
    if p["method"] == "kmeans":
        from sklearn.cluster import KMeans

        if len(data) < p["k"]:
            raise ValueError(f"k = {p['k']} clusters need at least {p['k']} items; there are {len(data)}")
        labels = KMeans(n_clusters=p["k"], n_init=3, random_state=p["seed"]).fit_predict(data)
    elif p["method"] == "dbscan":
        from sklearn.cluster import DBSCAN

        labels = DBSCAN(eps=p["eps"], min_samples=p["min_samples"], metric="cosine").fit_predict(data)
    else:
        from sklearn.cluster import HDBSCAN

        labels = HDBSCAN(
            min_cluster_size=p["min_cluster_size"], min_samples=p["min_samples"], copy=True
        ).fit_predict(data)
    return np.asarray(labels, dtype=np.int32)


def project(ctx: JobContext) -> None:
    p = ctx.options
    vectors, ids = _inputs(ctx)
    ctx.log(f"{p['method']} of {len(vectors)} x {vectors.shape[1]} vectors to {p['dimensions']}-D")
    ctx.progress(0, 1)
    ctx.check_canceled()
    coords, meta = project_vectors(vectors, p)
    _save(ctx, "coords.npy", coords, ids, meta)
    ctx.summary.update(points=len(ids), method=p["method"], dimensions=int(p["dimensions"]))
    ctx.progress(1, 1)


def cluster(ctx: JobContext) -> None:
    p = ctx.options
    vectors, ids = _inputs(ctx)
    ctx.log(f"{p['method']} clustering of {len(vectors)} vectors")
    ctx.progress(0, 1)
    ctx.check_canceled()
    labels = cluster_vectors(vectors, p)
    found = int(labels.max()) + 1 if len(labels) else 0
    noise = int(np.sum(labels < 0))
    meta = {"kind": "clustering", "method": p["method"], "clusters": found, "noise": noise, "count": len(ids)}
    _save(ctx, "clusters.npy", labels, ids, meta)
    ctx.summary.update(clusters=found, noise=noise)
    ctx.log(f"{found} clusters, {noise} noise points")
    ctx.progress(1, 1)
