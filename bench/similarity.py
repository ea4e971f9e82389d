"""Similarity search: hnswlib vs exact brute force on clustered vectors that look like embeddings.

Prints build time, p50 query latency for k=100, recall@100 against brute force (same run), the
speed-up over numpy brute force, and for 1,000,000 x 300 the build time, memory and p50 query.
BENCH_SIM_LARGE=0 skips the 1M run (it takes several minutes on 2 cores).
"""

from __future__ import annotations

import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from backend.similarity.index import FeatureIndex, IndexParams, build_index, normalise


def clustered(n: int, dim: int, clusters: int = 200, seed: int = 0) -> np.ndarray:
    """Gaussian blobs around random centers: what real embeddings look like, unlike pure noise."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(clusters, dim)).astype(np.float32) * 3
    out = np.empty((n, dim), dtype=np.float32)
    step = 100_000
    for start in range(0, n, step):
        stop = min(start + step, n)
        out[start:stop] = centers[rng.integers(0, clusters, stop - start)]
        out[start:stop] += rng.normal(size=(stop - start, dim)).astype(np.float32)
    return out


def run(n: int, dim: int, queries: int, k: int, params: IndexParams, check_recall: bool) -> None:
    with tempfile.TemporaryDirectory(prefix="labelwise-sim-") as tmp:
        d = Path(tmp)
        vectors = clustered(n, dim)
        np.save(d / "vectors.npy", vectors)
        np.save(d / "item_ids.npy", np.arange(n, dtype=np.int64))
        rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        start = time.perf_counter()
        build_index(d, params)
        build = time.perf_counter() - start
        index = FeatureIndex(d, exact_threshold=0)
        rss = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0) / 1024
        rng = np.random.default_rng(1)
        picks = rng.choice(n, queries, replace=False)
        latencies, found = [], []
        for row in picks:
            t = time.perf_counter()
            ids, _ = index.search(vectors[row], k, params.ef)
            latencies.append(time.perf_counter() - t)
            found.append(ids[0])
        p50 = float(np.median(latencies))
        print(
            f"{n:>9} x {dim}: build {build:7.1f} s  (+{rss:,.0f} MiB peak)  hnsw p50 {p50 * 1000:6.2f} ms "
            f"(k={k}, ef={params.ef}, M={params.m}, efC={params.ef_construction})",
            flush=True,
        )
        if not check_recall:
            return
        unit = normalise(vectors)
        brute_times, recalls = [], []
        for row, got in zip(picks, found, strict=True):
            t = time.perf_counter()
            sims = unit @ unit[row]
            truth = np.argpartition(-sims, k)[:k]
            brute_times.append(time.perf_counter() - t)
            recalls.append(len(set(truth.tolist()) & set(got.tolist())) / k)
        brute = float(np.median(brute_times))
        recall = float(np.mean(recalls))
        print(
            f"{'':>15} brute p50 {brute * 1000:6.2f} ms  speed-up {brute / p50:5.1f}x (target >= 5x)   "
            f"recall@{k} {recall:.4f} (target >= 0.99)   build target < 60 s: "
            f"{'OK' if build < 60 else 'MISSED'}",
            flush=True,
        )


def main(argv: list[str]) -> None:
    run(100_000, 500, 200, 100, IndexParams(m=16, ef_construction=200, ef=200), check_recall=True)
    if os.environ.get("BENCH_SIM_LARGE", "1") != "0":
        run(1_000_000, 300, 100, 100, IndexParams(m=16, ef_construction=100, ef=200), check_recall=False)


if __name__ == "__main__":
    main(sys.argv[1:])
