"""Similarity search: hnswlib vs exact brute force on clustered vectors that look like embeddings.

Prints build time, p50 query latency for k=100, recall@100 against brute force (same run), the
speed-up over numpy brute force, for 1,000,000 x 300 the build time, memory and p50 query, and
"find similar" as a person sees it: the similarity page of a 100,000-item dataset requested
through the app in process, from the click to the sorted first page rendered (cold and warm),
beside numpy brute force of the same ranking and the REST JSON answer.

    python -m bench similarity                      # everything (the 1M case takes minutes)
    python -m bench.similarity --skip-large         # or BENCH_SIM_LARGE=0
    python -m bench.similarity --n 20000 --page-items 20000 --skip-large   # a quick look
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

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


async def _seed_dataset(settings: Any, vectors: np.ndarray) -> tuple[int, int, list[int]]:
    """A dataset of ``len(vectors)`` item rows (no image files: the page only links thumbnails),
    a ready model and a succeeded inference whose outputs are these vectors, indexed."""
    from sqlalchemy import insert, select

    from backend.storage.database import Database
    from backend.storage.job_tables import Job, Model
    from backend.storage.tables import Dataset, Item, LabelClass, Source

    database = Database(settings.database)
    try:
        async with database.session() as session:
            dataset = Dataset(name="similarity-bench")
            session.add(dataset)
            await session.flush()
            source = Source(dataset_id=dataset.id, kind="folder", uri=str(settings.data_dir / "none"))
            session.add(source)
            session.add(LabelClass(dataset_id=dataset.id, name="ring", color="#1f77b4"))
            await session.flush()
            rows = [
                {
                    "dataset_id": dataset.id,
                    "source_id": source.id,
                    "uri": f"run/img_{i:07d}.png",
                    "position": i,
                }
                for i in range(len(vectors))
            ]
            for start in range(0, len(rows), 20_000):
                await session.execute(insert(Item), rows[start : start + 20_000])
            ids = list(
                (
                    await session.scalars(
                        select(Item.id).where(Item.dataset_id == dataset.id).order_by(Item.position)
                    )
                ).all()
            )
            model = Model(
                name="bench", algorithm="pca", kind="feature_extractor", dataset_id=dataset.id, state="ready"
            )
            session.add(model)
            await session.flush()
            out = f"models/{model.id}/infer/job-bench"
            job = Job(
                kind="infer",
                state="succeeded",
                algorithm="pca",
                dataset_id=dataset.id,
                model_id=model.id,
                outputs={"dir": out, "files": ["vectors.npy", "item_ids.npy"]},
            )
            session.add(job)
            await session.commit()
            directory = settings.artifact_dir / out
            directory.mkdir(parents=True)
            np.save(directory / "vectors.npy", vectors)
            np.save(directory / "item_ids.npy", np.asarray(ids, dtype=np.int64))
            return int(dataset.id), int(model.id), ids
    finally:
        await database.dispose()


async def _page_requests(settings: Any, dataset_id: int, model_id: int, ids: list[int], repeat: int) -> dict:
    from litestar.testing import AsyncTestClient

    from backend.app import create_app

    rng = np.random.default_rng(3)
    picks = [ids[i] for i in rng.choice(len(ids), repeat + 1, replace=False)]
    times: dict[str, list[float]] = {"cold": [], "page": [], "rest": []}
    async with AsyncTestClient(app=create_app(settings, run_jobs=False)) as client:
        for n, item_id in enumerate(picks):
            start = time.perf_counter()
            page = await client.get(
                f"/datasets/{dataset_id}/similar", params={"item_id": item_id, "model_id": model_id}
            )
            took = time.perf_counter() - start
            assert page.status_code == 200 and 'id="tile-' in page.text, page.text[:500]
            times["cold" if n == 0 else "page"].append(took)
            start = time.perf_counter()
            rest = await client.get(
                f"/api/v1/datasets/{dataset_id}/similar",
                params={"item_id": item_id, "model_id": model_id, "limit": 48},
            )
            times["rest"].append(time.perf_counter() - start)
            assert rest.status_code == 200, rest.text
    return times


def run_page(items: int, dim: int, repeat: int) -> None:
    """From a click on "find similar" to the sorted first page of 48 rendered, on ``items`` items."""
    from bench._common import scratch_settings

    with scratch_settings() as (settings, _):
        vectors = clustered(items, dim)
        dataset_id, model_id, ids = asyncio.run(_seed_dataset(settings, vectors))
        directory = next((settings.artifact_dir / "models" / str(model_id) / "infer").iterdir())
        start = time.perf_counter()
        build_index(directory, IndexParams())
        build = time.perf_counter() - start
        times = asyncio.run(_page_requests(settings, dataset_id, model_id, ids, repeat))
        unit = normalise(vectors)
        brute = []
        for row in np.random.default_rng(4).choice(items, repeat, replace=False):
            t = time.perf_counter()
            sims = unit @ unit[row]
            top = np.argpartition(-sims, 48)[:48]
            top[np.argsort(-sims[top])]
            brute.append(time.perf_counter() - t)
        page = statistics.median(times["page"])
        rest = statistics.median(times["rest"])
        bare = statistics.median(brute)
        print(
            f"find similar page, {items:,} items x {dim}: index build {build:.1f} s; first click (loads the "
            f"index) {times['cold'][0] * 1000:.0f} ms; p50 {page * 1000:.1f} ms "
            f"(p90 {np.percentile(times['page'], 90) * 1000:.1f} ms) target < 300 ms: "
            f"{'OK' if page < 0.3 else 'MISSED'}",
            flush=True,
        )
        print(
            f"{'':>15} REST JSON p50 {rest * 1000:.1f} ms; numpy brute-force ranking alone p50 "
            f"{bare * 1000:.1f} ms (page / brute force {page / bare:.1f}x)",
            flush=True,
        )


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.similarity")
    parser.add_argument("--n", type=int, default=100_000, help="vectors in the recall/latency run")
    parser.add_argument("--dim", type=int, default=500)
    parser.add_argument("--skip-large", action="store_true", help="skip the 1,000,000 x 300 run")
    parser.add_argument("--large-n", type=int, default=1_000_000)
    parser.add_argument(
        "--page-items", type=int, default=100_000, help="items of the page benchmark (0: skip)"
    )
    parser.add_argument("--page-dim", type=int, default=256)
    parser.add_argument("--page-repeat", type=int, default=30)
    args = parser.parse_args(argv)
    run(args.n, args.dim, 200, 100, IndexParams(m=16, ef_construction=200, ef=200), check_recall=True)
    if not args.skip_large and os.environ.get("BENCH_SIM_LARGE", "1") != "0":
        run(args.large_n, 300, 100, 100, IndexParams(m=16, ef_construction=100, ef=200), check_recall=False)
    if args.page_items:
        run_page(args.page_items, args.page_dim, args.page_repeat)


if __name__ == "__main__":
    main(sys.argv[1:])
