"""Transfer figures: CSV export of 100,000 labels (target < 3 s), other formats, import, demo data.

Baselines in the same run: exports against the same join read with a bare sqlite3 cursor and
written with a plain ``csv.writer`` (no ORM, no streaming); the import against ``csv.reader`` and
a bare sqlite3 executemany of one tag row and one label row per line. The demo part times the
generation of the 2,000 synthetic X-ray images (target < 60 s) and a ZIP export of them after
importing their ground truth.

    python -m bench transfer [--rows 100000] [--demo 2000]   (--demo 0 skips the demo part)
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import sqlite3
import time
from pathlib import Path

from bench._common import report, scratch_settings


async def _fill(settings, rows: int) -> int:
    """A dataset of ``rows`` items (rows only, no files), every one labeled, over 20 events."""
    from backend.labels import classes, events
    from backend.labels.events import TagChange
    from backend.storage.database import Database
    from backend.storage.tables import Dataset, Item, Source

    db = Database(settings.database)
    try:
        async with db.session() as session:
            dataset = Dataset(name="bench")
            session.add(dataset)
            await session.flush()
            source = Source(dataset_id=dataset.id, kind="folder", uri=str(settings.data_dir / "nowhere"))
            session.add(source)
            await session.flush()
            for start in range(0, rows, 10000):
                await session.execute(
                    Item.__table__.insert(),
                    [
                        {
                            "dataset_id": dataset.id,
                            "source_id": source.id,
                            "uri": f"run_{i // 1000:03d}/scan_{i:06d}.tif",
                            "frame": 0,
                            "position": i,
                            "status": "ok",
                        }
                        for i in range(start, min(start + 10000, rows))
                    ],
                )
            await session.commit()
            dataset_id = dataset.id
            labels = [
                (await classes.create_class(session, dataset_id, name)).id for name in ("ring", "arc", "peak")
            ]
            ids = list((await session.scalars(Item.__table__.select().with_only_columns(Item.id))).all())
            step = max(1, len(ids) // 20)
            for start in range(0, len(ids), step):
                changes = [TagChange(i, "set", labels[i % 3]) for i in ids[start : start + step]]
                await events.record_changes(
                    session, dataset_id, tagger=f"tagger{start // step % 3}", kind="manual", changes=changes
                )
            return dataset_id
    finally:
        await db.dispose()


async def _export(settings, dataset_id: int, fmt: str, out: Path, **options) -> float:
    from backend.labels.transfer import export_labels
    from backend.storage.database import Database

    db = Database(settings.database)
    try:
        async with db.session() as session:
            start = time.perf_counter()
            stream = await export_labels(session, settings, dataset_id, fmt, **options)
            with out.open("wb") as handle:
                async for chunk in stream.chunks:
                    handle.write(chunk)
            return time.perf_counter() - start
    finally:
        await db.dispose()


def _baseline_csv(db_path: Path, dataset_id: int, out: Path) -> float:
    start = time.perf_counter()
    conn = sqlite3.connect(db_path)
    cursor = conn.execute(
        """SELECT item.id, source.uri, item.uri, item.frame, label_class.name, current_label.tagger,
                  current_label.updated_at
           FROM item JOIN source ON source.id = item.source_id
           LEFT JOIN current_label ON current_label.item_id = item.id
           LEFT JOIN label_class ON label_class.id = current_label.label_id
           WHERE item.dataset_id = ? ORDER BY item.position""",
        (dataset_id,),
    )
    with out.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["item_id", "source", "uri", "frame", "label", "tagger", "labeled_at"])
        writer.writerows(cursor)
    conn.close()
    return time.perf_counter() - start


def _baseline_import(data: bytes, db_path: Path) -> float:
    """csv.reader over the file, then bare executemany of a tag row and a label row per line."""
    start = time.perf_counter()
    rows = list(csv.reader(io.StringIO(data.decode())))[1:]
    conn = sqlite3.connect(db_path)
    conn.execute("CREATE TABLE tag (id INTEGER PRIMARY KEY, item_id INTEGER, op TEXT, label TEXT)")
    conn.execute("CREATE TABLE label (item_id INTEGER PRIMARY KEY, label TEXT)")
    conn.executemany(
        "INSERT INTO tag (item_id, op, label) VALUES (?, 'set', ?)", [(r[0], r[4]) for r in rows]
    )
    conn.executemany("INSERT INTO label (item_id, label) VALUES (?, ?)", [(r[0], r[4]) for r in rows])
    conn.commit()
    conn.close()
    return time.perf_counter() - start


async def _import(settings, dataset_id: int, data: bytes) -> tuple[float, int]:
    from backend.labels.transfer import import_labels_csv
    from backend.storage.database import Database

    db = Database(settings.database)
    try:
        async with db.session() as session:
            start = time.perf_counter()
            report_ = await import_labels_csv(session, dataset_id, data, "importer")
            return time.perf_counter() - start, report_.accepted
    finally:
        await db.dispose()


async def _demo(settings, root: Path, count: int) -> None:
    from backend import demo
    from backend.labels.transfer import import_labels_csv
    from backend.storage.database import Database

    start = time.perf_counter()
    truth = demo.ensure_demo_files(settings, count)  # the install below finds and reuses them
    report(f"demo: generate {count} images 256x256 uint16", time.perf_counter() - start, target=60.0)

    db = Database(settings.database)
    try:
        async with db.session() as session:
            start = time.perf_counter()
            dataset = await demo.install_demo(session, settings, count=count)
            report(f"demo: install (scan {count} files, make classes)", time.perf_counter() - start)
            lines = truth.read_text().splitlines()
            start = time.perf_counter()
            result = await import_labels_csv(
                session,
                dataset.id,
                "\n".join(["uri,label", *lines[1:]]).encode(),
                "truth",
                create_classes=True,
            )
            report(f"demo: import ground truth ({result.accepted} rows)", time.perf_counter() - start)
            dataset_id = dataset.id
    finally:
        await db.dispose()
    out = root / "demo.zip"
    seconds = await _export(settings, dataset_id, "zip", out)
    size = out.stat().st_size / 1e6
    report(f"demo: ZIP export of {count} labeled images ({size:.0f} MB)", seconds)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench transfer")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--demo", type=int, default=2000)
    args, _ = parser.parse_known_args(argv)

    with scratch_settings() as (settings, root):
        t0 = time.perf_counter()
        dataset_id = asyncio.run(_fill(settings, args.rows))
        print(
            f"(made {args.rows} labeled items in {time.perf_counter() - t0:.1f} s; not counted)", flush=True
        )
        db_path = Path(settings.database.split("///", 1)[1])

        baseline = min(_baseline_csv(db_path, dataset_id, root / "baseline.csv") for _ in range(2))
        csv_out = root / "labels.csv"
        seconds = min(asyncio.run(_export(settings, dataset_id, "csv", csv_out)) for _ in range(2))
        report(f"export CSV of {args.rows} labels", seconds, target=3.0, baseline=baseline)
        with csv_out.open() as lines:
            rows = sum(1 for _ in lines) - 1
        assert rows == args.rows, rows
        for fmt in ("parquet", "json"):
            seconds = asyncio.run(_export(settings, dataset_id, fmt, root / f"labels.{fmt}"))
            report(f"export {fmt} of {args.rows} labels", seconds, baseline=baseline)
        from datetime import UTC, datetime

        seconds = asyncio.run(
            _export(settings, dataset_id, "csv", root / "asof.csv", as_of=datetime.now(UTC))
        )
        report(f"export CSV as of now (replay of {args.rows} tags)", seconds, baseline=baseline)
        seconds = asyncio.run(_export(settings, dataset_id, "csv", root / "tagger.csv", tagger="tagger1"))
        report("export CSV by one tagger (replay)", seconds, baseline=baseline)

        data = csv_out.read_bytes()
        parse_baseline = _baseline_import(data, root / "baseline-import.sqlite")
        seconds, accepted = asyncio.run(_import(settings, dataset_id, data))
        assert accepted == args.rows, accepted
        report(f"import CSV of {accepted} rows (one event)", seconds, baseline=parse_baseline)

        if args.demo:
            asyncio.run(_demo(settings, root, args.demo))
