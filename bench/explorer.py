"""Latent Space Explorer figures: PCA of 100,000 x 500, UMAP of 20,000 x 300, clustering, and the
explorer page with 100,000 points loaded in Chromium.

Baselines in the same run: PCA by a plain eigen-decomposition of the covariance with numpy; for
the page, fetching the projection JSON alone (what the browser must at least do).
`python -m bench explorer [--points N] [--umap N] [--no-browser]`
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import threading
import time
from pathlib import Path

import numpy as np

from bench._common import report, scratch_settings
from bench.similarity import clustered
from workers.explorer import cluster_vectors, project_vectors

CHROMIUM = Path("/usr/bin/chromium")


def numpy_pca(vectors: np.ndarray, dims: int) -> np.ndarray:
    centred = vectors - vectors.mean(axis=0)
    _, axes = np.linalg.eigh(centred.T @ centred)
    return centred @ axes[:, ::-1][:, :dims]


def projections(points: int, umap_points: int) -> None:
    vectors = clustered(points, 500, clusters=50)
    start = time.perf_counter()
    numpy_pca(vectors, 2)
    baseline = time.perf_counter() - start
    start = time.perf_counter()
    project_vectors(vectors, {"method": "pca", "dimensions": 2, "seed": 0})
    report(f"PCA {points} x 500 -> 2-D", time.perf_counter() - start, baseline=baseline)

    start = time.perf_counter()
    labels = cluster_vectors(vectors, {"method": "kmeans", "k": 50, "seed": 0})
    report(f"KMeans k=50 on {points} x 500", time.perf_counter() - start)
    assert len(set(labels.tolist())) == 50

    small = clustered(umap_points, 300, clusters=30)
    start = time.perf_counter()
    project_vectors(small, {"method": "pca", "dimensions": 2, "seed": 0})
    pca_small = time.perf_counter() - start
    start = time.perf_counter()
    project_vectors(
        small,
        {
            "method": "umap",
            "dimensions": 2,
            "n_neighbors": 15,
            "min_dist": 0.1,
            "metric": "cosine",
            "seed": 0,
        },
    )
    report(
        f"UMAP {umap_points} x 300 -> 2-D (baseline: PCA)", time.perf_counter() - start, baseline=pca_small
    )
    start = time.perf_counter()
    cluster_vectors(small, {"method": "hdbscan", "min_cluster_size": 15, "min_samples": 5})
    report(f"HDBSCAN on {umap_points} x 300", time.perf_counter() - start)


async def _seed(settings, points: int) -> tuple[int, int]:
    """A dataset of ``points`` item rows, a ready model and a succeeded projection job of them."""
    from sqlalchemy import insert

    from backend.storage.database import Database
    from backend.storage.job_tables import Job, Model
    from backend.storage.tables import Dataset, Item, Source

    db = Database(settings.database)
    async with db.session() as session:
        dataset = Dataset(name="explorer-bench")
        session.add(dataset)
        await session.flush()
        source = Source(dataset_id=dataset.id, kind="folder", uri=str(settings.data_dir))  # type: ignore[arg-type]
        session.add(source)
        await session.flush()
        rows = [
            {"dataset_id": dataset.id, "source_id": source.id, "uri": f"img_{i:06d}.png", "position": i}
            for i in range(points)
        ]
        for start in range(0, points, 20000):
            await session.execute(insert(Item), rows[start : start + 20000])
        model = Model(
            name="bench", algorithm="pca", kind="feature_extractor", dataset_id=dataset.id, state="ready"
        )  # type: ignore[arg-type]
        session.add(model)
        await session.flush()
        folder = Path("models") / str(model.id) / "project" / "bench"
        job = Job(
            kind="project",
            algorithm="pca",
            parameters={"method": "pca"},
            dataset_id=dataset.id,  # type: ignore[arg-type]
            model_id=model.id,
            state="succeeded",
            outputs={"dir": str(folder), "files": ["coords.npy", "item_ids.npy", "explorer.json"]},
        )
        session.add(job)
        await session.commit()
        ids = np.asarray((await session.scalars(Item.__table__.select().with_only_columns(Item.id))).all())
        dataset_id, model_id = int(dataset.id), int(model.id)  # type: ignore[arg-type]
    await db.dispose()
    out = settings.artifact_dir / folder
    out.mkdir(parents=True)
    coords, _ = project_vectors(
        clustered(points, 64, clusters=40), {"method": "pca", "dimensions": 2, "seed": 0}
    )
    np.save(out / "coords.npy", coords)
    np.save(out / "item_ids.npy", ids.astype(np.int64))
    (out / "explorer.json").write_text('{"kind": "projection", "method": "pca", "dimensions": 2}')
    return dataset_id, model_id


def page_load(points: int) -> None:
    import httpx
    import uvicorn
    from playwright.sync_api import sync_playwright

    from backend.app import create_app

    with scratch_settings() as (settings, _root):
        dataset_id, model_id = asyncio.run(_seed(settings, points))
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        server = uvicorn.Server(
            uvicorn.Config(
                create_app(settings, run_jobs=False), host="127.0.0.1", port=port, log_level="warning"
            )
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.05)
        base = f"http://127.0.0.1:{port}"
        try:
            with httpx.Client(base_url=base, timeout=120) as client:
                client.get(f"/api/v1/models/{model_id}/projection")  # warm the app and file cache
                start = time.perf_counter()
                body = client.get(f"/api/v1/models/{model_id}/projection").json()
                fetch = time.perf_counter() - start
            assert len(body["item_ids"]) == points
            with sync_playwright() as p:
                browser = p.chromium.launch(
                    executable_path=str(CHROMIUM),
                    args=["--no-sandbox", "--disable-background-networking", "--enable-unsafe-swiftshader"],
                )
                page = browser.new_page(viewport={"width": 1400, "height": 900})
                start = time.perf_counter()
                page.goto(f"{base}/datasets/{dataset_id}/explorer?model_id={model_id}")
                page.wait_for_selector("#explorer[data-ready='true']", timeout=120_000)
                load = time.perf_counter() - start
                renderer = page.get_attribute("#explorer", "data-renderer")
                box = page.locator("#overlay").bounding_box()
                start = time.perf_counter()
                page.mouse.move(box["x"] + 10, box["y"] + 10)
                page.mouse.down()
                page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2, steps=4)
                page.mouse.up()
                page.wait_for_function("Number(document.querySelector('#explorer').dataset.selected) > 0")
                select = time.perf_counter() - start
                browser.close()
            report(f"explorer page, {points} points, to first draw ({renderer})", load, baseline=fetch)
            report(f"box selection of {points} points (mouse drag to count)", select)
        finally:
            server.should_exit = True
            thread.join(30)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench explorer")
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--umap", type=int, default=20_000)
    parser.add_argument("--no-browser", action="store_true")
    args = parser.parse_args(argv)
    projections(args.points, args.umap)
    if args.no_browser or not CHROMIUM.exists():
        print("(explorer page load skipped: no /usr/bin/chromium or --no-browser)")
        return
    page_load(args.points)
