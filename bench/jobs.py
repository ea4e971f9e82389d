"""Job overhead: submit -> running, finish -> visible, and a PCA training job against the bare loop.

Everything runs in this process with the embedded broker (Dramatiq worker threads), as under
``labelwise serve``. Baselines measured in the same run on the same images:
- the IncrementalPCA loop (same batches, same per-batch losses) on arrays already in memory;
- the same loop plus reading and transforming the images with the worker's own ``prepare``.

Options: ``--items N`` (default 1000), ``--size PX`` of the generated images (64), ``--repeat R``
overhead samples (10).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from pathlib import Path

import numpy as np
from PIL import Image

from bench._common import report, scratch_settings

PARAMS = {"n_components": 16, "image_size": 32, "batch_size": 128, "validation_fraction": 0.1}


def make_images(folder: Path, count: int, size: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:size, :size] - size / 2
    for i in range(count):
        ring = np.exp(-((np.hypot(yy, xx) - rng.uniform(4, size / 2)) ** 2) / 8)
        noise = rng.random((size, size)) * 0.3
        Image.fromarray(((ring + noise) / 1.3 * 255).astype(np.uint8)).save(folder / f"img_{i:05d}.png")


def direct_loop(data: np.ndarray, validation: np.ndarray, batch: int, k: int) -> float:
    """What the PCA worker computes, called directly: partial_fit + train/val loss per batch."""
    from sklearn.decomposition import IncrementalPCA

    from workers.algorithms.pca import _batches, _mse

    start = time.perf_counter()
    model = IncrementalPCA(n_components=k)
    for part in _batches(len(data), batch, k):
        model.partial_fit(data[part])
        _mse(model, data[part])
        _mse(model, validation)
    return time.perf_counter() - start


async def run(settings, root: Path, items: int, size: int, repeat: int) -> None:  # type: ignore[no-untyped-def]
    from backend.datasets.refs import ItemReader, item_refs
    from backend.datasets.service import create_dataset
    from backend.jobs import queries as job_queries
    from backend.jobs import submission
    from backend.storage.database import Database
    from workers.images import prepare, transform_from
    from workers.runtime import JobRuntime

    folder = root / "roots" / "rings"
    make_images(folder, items, size)
    database = Database(settings.database)
    runtime = JobRuntime(settings).start()
    try:
        async with database.session() as session:
            dataset, _ = await create_dataset(session, settings, "bench-jobs", [str(folder)])

        async def submit(params: dict) -> tuple[float, int]:
            async with database.session() as session:
                t0 = time.perf_counter()
                job = await submission.submit_job(
                    session, settings, runtime.enqueue, kind="train", dataset_id=dataset.id,
                    algorithm="pca", parameters=params,
                )  # fmt: skip
                return t0, job.id  # type: ignore[return-value]

        async def follow(job_id: int) -> tuple[float, float]:
            """Poll as a page would, but every 2 ms: (perf_counter, wall clock) when seen finished."""
            while True:
                async with database.session() as session:
                    job = await job_queries.get_job(session, job_id)
                if job.state in ("succeeded", "failed", "canceled"):
                    assert job.state == "succeeded", job.error
                    return time.perf_counter(), time.time()
                await asyncio.sleep(0.002)

        # Overhead: a job of two tiny batches, so the run itself is short.
        tiny = {**PARAMS, "n_components": 2, "batch_size": 8, "image_size": 8}
        await submit(tiny)  # warm up: imports, first connections
        to_running, to_visible, submit_call = [], [], []
        for _ in range(repeat):
            t0, job_id = await submit(tiny)
            submit_call.append(time.perf_counter() - t0)
            _, seen_wall = await follow(job_id)
            async with database.session() as session:
                job = await job_queries.get_job(session, job_id)
            assert job.started_at and job.finished_at  # the worker's clock: the same machine
            to_running.append((job.started_at - job.created_at).total_seconds())
            to_visible.append(seen_wall - job.finished_at.timestamp())
        report("submit call (validate, insert, enqueue)", statistics.median(submit_call))
        report("submit -> running (created_at -> started_at)", statistics.median(to_running))
        report("finished -> visible to a poller", statistics.median(to_visible))

        # A real training run against the bare loop on the same images.
        t0, job_id = await submit(PARAMS)
        seen_done, _ = await follow(job_id)
        async with database.session() as session:
            job = await job_queries.get_job(session, job_id)
            refs = await item_refs(session, dataset.id)
        assert job.started_at and job.finished_at
        job_run = (job.finished_at - job.started_at).total_seconds()
        end_to_end = seen_done - t0

        reader = ItemReader(settings)
        transform = transform_from({**PARAMS, "log_transform": True})
        side = PARAMS["image_size"]
        load_start = time.perf_counter()
        flat = np.stack([prepare(reader.read(r), side, transform).reshape(-1) for r in refs])
        load = time.perf_counter() - load_start
        rng = np.random.default_rng(0)
        order = rng.permutation(len(flat))
        n_val = round(len(flat) * PARAMS["validation_fraction"])
        validation, data = flat[order[:n_val]], flat[order[n_val:]]
        loop = direct_loop(data, validation, PARAMS["batch_size"], PARAMS["n_components"])
        print(f"PCA on {items} images of {size}x{size} px -> {side}x{side}, {PARAMS}")
        report("PCA job: started -> finished", job_run, baseline=loop)
        report("PCA job: started -> finished vs load + loop", job_run, baseline=load + loop)
        report("PCA job: submit -> visible as succeeded", end_to_end, baseline=load + loop)
        report("baseline: IncrementalPCA loop on arrays", loop)
        report("baseline: read + transform the images", load)
    finally:
        await asyncio.to_thread(runtime.stop)
        await database.dispose()


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="bench.jobs")
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args(argv)
    with scratch_settings() as (settings, root):
        settings = settings.model_copy(update={"data_roots": str(root / "roots")})
        asyncio.run(run(settings, root, args.items, args.size, args.repeat))


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
