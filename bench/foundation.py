"""Foundation figures: ingest of 100,000 small files, a 10,000-item tag event, progress counts.

Baselines in the same run: a bare os.walk + sqlite3 executemany of the paths (no probing, no
ORM), a bare executemany of 10,000 rows, and a bare COUNT query.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

from bench._common import report, scratch_settings

FILES = int(os.environ.get("BENCH_FILES", "100000"))


def _write_chunk(args: tuple[str, int, int]) -> None:
    folder, start, stop = args
    rng = np.random.default_rng(start)
    for i in range(start, stop):
        sub = Path(folder) / f"run_{i // 1000:03d}"
        sub.mkdir(exist_ok=True)
        Image.fromarray(rng.integers(0, 255, (16, 16), dtype=np.uint8)).save(sub / f"img_{i:06d}.png")


def make_files(folder: Path, count: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    step = 5000
    with ProcessPoolExecutor(max_workers=os.cpu_count()) as pool:
        list(pool.map(_write_chunk, [(str(folder), s, min(s + step, count)) for s in range(0, count, step)]))


def baseline_walk_insert(folder: Path, db_path: Path) -> float:
    start = time.perf_counter()
    rows = [(str(Path(d) / f),) for d, _, files in os.walk(folder) for f in files]
    conn = sqlite3.connect(db_path)
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, uri TEXT)")
    conn.executemany("INSERT INTO t (uri) VALUES (?)", rows)
    conn.commit()
    conn.close()
    return time.perf_counter() - start


async def run(settings, root: Path) -> None:
    from sqlalchemy import text

    from backend.datasets import service
    from backend.labels import classes, events
    from backend.labels.progress import dataset_progress
    from backend.storage.database import Database

    folder = root / "roots" / "many"
    t0 = time.perf_counter()
    make_files(folder, FILES)
    print(f"(wrote {FILES} PNG files in {time.perf_counter() - t0:.1f} s; not counted)", flush=True)

    baseline = baseline_walk_insert(folder, root / "baseline.sqlite")
    db = Database(settings.database)
    async with db.session() as session:
        start = time.perf_counter()
        dataset, scan = await service.create_dataset(session, settings, "bench", [str(folder)])
        ingest = time.perf_counter() - start
    report(f"ingest {FILES} files (walk+probe+insert)", ingest, target=30.0, baseline=baseline)
    assert scan.added == FILES, scan

    async with db.session() as session:
        label = await classes.create_class(session, dataset.id, "ring")
        ids = list(
            (
                await session.scalars(text(f"SELECT id FROM item WHERE dataset_id={dataset.id} LIMIT 10000"))
            ).all()
        )
    async with db.session() as session:
        start = time.perf_counter()
        await events.record_event(session, events.TagRequest(dataset.id, "bench", ids, label.id))
        tag_time = time.perf_counter() - start
    conn = sqlite3.connect(root / "baseline.sqlite")
    conn.execute("CREATE TABLE tags (event INTEGER, item INTEGER, label INTEGER)")
    start = time.perf_counter()
    conn.executemany("INSERT INTO tags VALUES (1, ?, 1)", [(i,) for i in ids])
    conn.commit()
    raw_tag = time.perf_counter() - start
    report("tag event of 10,000 items", tag_time, target=0.5, baseline=raw_tag)

    async with db.session() as session:
        for _ in range(2):  # warm
            await dataset_progress(session, dataset.id)
        times = []
        for _ in range(20):
            start = time.perf_counter()
            await dataset_progress(session, dataset.id)
            times.append(time.perf_counter() - start)
    start = time.perf_counter()
    conn.execute("SELECT count(*) FROM t").fetchone()
    raw_count = time.perf_counter() - start
    conn.close()
    report(
        f"progress counts on {FILES} items (median of 20)",
        float(np.median(times)),
        target=0.05,
        baseline=raw_count,
    )
    await db.dispose()


def main(argv: list[str]) -> None:
    with scratch_settings() as (settings, root):
        asyncio.run(run(settings, root))


if __name__ == "__main__":
    main(sys.argv[1:])
