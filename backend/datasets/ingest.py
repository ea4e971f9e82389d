"""Scanning sources into item rows: probe files in parallel, insert in bulk, never stop on one bad file."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from multiprocessing import get_context
from typing import TypeVar

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from backend.errors import Unreadable
from backend.images.decode import FrameLimits
from backend.settings import Settings
from backend.sources import SourceEntry, open_source
from backend.sources.folder import FolderSource
from backend.storage.tables import Item, Source

Progress = Callable[[int, int], None]
INSERT_CHUNK = 5000
PARALLEL_THRESHOLD = 2000  # below this, a process pool costs more than it saves
CHUNK = 1000  # files a probing process takes at a time
log = logging.getLogger("labelwise.datasets")


@dataclass
class ScanReport:
    added: int = 0
    unreadable: int = 0
    missing: int = 0
    restored: int = 0


def _probe_chunk(args: tuple[str, list[str], list[str], int, FrameLimits]) -> list[SourceEntry]:
    root, roots, rels, max_pixels, limits = args
    from pathlib import Path

    source = FolderSource(Path(root), [Path(r) for r in roots], max_pixels, limits)
    out: list[SourceEntry] = []
    for rel in rels:
        out.extend(source.probe(rel))
    return out


T = TypeVar("T")


def _chunks(seq: Sequence[T], size: int) -> Iterator[list[T]]:
    for start in range(0, len(seq), size):
        yield list(seq[start : start + size])


def scan_entries(source: Source, settings: Settings, progress: Progress | None = None) -> list[SourceEntry]:
    """All entries of a source in stable order. Folder probing uses every core for big folders."""
    adapter = open_source(source, settings)
    if not isinstance(adapter, FolderSource):
        return list(adapter.scan())
    files = adapter.files()
    total = len(files)
    entries: list[SourceEntry] = []
    if total < PARALLEL_THRESHOLD:
        for done, rel in enumerate(files, 1):
            entries.extend(adapter.probe(rel))
            if progress and done % 500 == 0:
                progress(done, total)
    else:
        jobs = [
            (str(adapter.root), [str(r) for r in adapter.roots], chunk, adapter.max_pixels, adapter.limits)
            for chunk in _chunks(files, CHUNK)
        ]
        for chunk_entries in _probe_in_processes(jobs, total, progress):
            entries.extend(chunk_entries)
    if progress:
        progress(total, total)
    return entries


def _probe_in_processes(jobs: list, total: int, progress: Progress | None) -> Iterator[list[SourceEntry]]:
    """Each chunk's entries in order, probed by a pool of processes. A process that dies (killed
    for memory, a decoder that crashes on a file) breaks the pool: the chunks not yet done get a
    fresh pool once; a second break names the files of the chunk that was probing, and the scan
    writes nothing."""
    workers = max(1, min(os.cpu_count() or 1, 8))
    done = 0
    for attempt in (1, 2):
        try:
            # spawned, not forked: the server and the in-process worker run threads (uvicorn's,
            # TensorFlow's), and a child forked while one of them holds a lock can wait on it for
            # good (a classifier job hung so in cleanlab's forked pool)
            with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool:
                for chunk_entries in pool.map(_probe_chunk, jobs[done:]):
                    yield chunk_entries
                    done += 1
                    if progress:
                        progress(min(done * CHUNK, total), total)
            return
        except BrokenProcessPool:
            first, last = jobs[done][2][0], jobs[done][2][-1]
            if attempt == 2:
                raise Unreadable(
                    f"a process probing the files died twice, among {first} .. {last} (of {total} "
                    "files): a file there may crash the image decoder, or the machine ran out of "
                    "memory; nothing was added"
                ) from None
            log.warning(
                "a probing process died at %s .. %s: probing the rest again in new processes", first, last
            )
    return


def _rows(dataset_id: int, source_id: int, entries: Iterable[SourceEntry], start: int) -> list[dict]:
    return [
        {
            "dataset_id": dataset_id,
            "source_id": source_id,
            "uri": e.uri,
            "frame": e.frame,
            "position": start + i,
            "height": e.height,
            "width": e.width,
            "channels": e.channels,
            "dtype": e.dtype,
            "status": "unreadable" if e.error else "ok",
            "error": e.error,
            "meta": e.meta,
        }
        for i, e in enumerate(entries)
    ]


async def store_entries(session: AsyncSession, source: Source, entries: list[SourceEntry]) -> ScanReport:
    """Insert new entries after the dataset's last position; mark vanished ones missing. A known
    item takes the status its file has now: a file scanned while still being written (empty,
    truncated) reads on a later scan, a file that came back may no longer read."""
    report = ScanReport()
    rows = (
        await session.execute(
            select(
                col(Item.id),
                col(Item.uri),
                col(Item.frame),
                col(Item.status),
                col(Item.error),
                col(Item.meta).is_(None),
            ).where(col(Item.source_id) == source.id)
        )
    ).all()
    existing = {(uri, frame): (item_id, status, error) for item_id, uri, frame, status, error, _ in rows}
    without_meta = {item_id for item_id, _, _, _, _, empty in rows if empty}
    seen: set[tuple[str, int]] = set()
    new_entries: list[SourceEntry] = []
    readable: list[dict] = []  # known items whose file reads now (scanned while being written, back)
    unreadable: list[dict] = []  # known items whose file no longer reads, or says so differently
    described: list[dict] = []  # items scanned before header metadata was kept (migration 0006)
    for entry in entries:
        key = (entry.uri, entry.frame)
        seen.add(key)
        if key not in existing:
            new_entries.append(entry)
            continue
        item_id, status, error = existing[key]
        if entry.error and (status, error) != ("unreadable", entry.error):
            unreadable.append({"id": item_id, "status": "unreadable", "error": entry.error})
            report.unreadable += status != "unreadable"
        elif not entry.error and status != "ok":
            shape = {"height": entry.height, "width": entry.width, "channels": entry.channels}
            readable.append({"id": item_id, "status": "ok", "error": None, **shape, "dtype": entry.dtype})
            report.restored += 1
        if entry.meta and item_id in without_meta:
            described.append({"id": item_id, "meta": entry.meta})
    gone = [
        item_id for key, (item_id, status, _) in existing.items() if key not in seen and status != "missing"
    ]
    for chunk in _chunks(gone, INSERT_CHUNK):
        await session.execute(
            update(Item).where(col(Item.id).in_(chunk)).values(status="missing", error="file no longer found")
        )
    for changed in (readable, unreadable):
        for chunk in _chunks(changed, INSERT_CHUNK):
            await session.execute(update(Item), chunk)  # by primary key
    for chunk in _chunks(described, INSERT_CHUNK):
        await session.execute(update(Item), chunk)  # by primary key, one statement per chunk
    start = await session.scalar(
        select(func.max(col(Item.position))).where(col(Item.dataset_id) == source.dataset_id)
    )
    start = 0 if start is None else start + 1
    new_rows = _rows(source.dataset_id, source.id or 0, new_entries, start)
    for begin in range(0, len(new_rows), INSERT_CHUNK):
        await session.execute(insert(Item), new_rows[begin : begin + INSERT_CHUNK])
    report.added = len(new_entries)
    report.unreadable += sum(1 for e in new_entries if e.error)
    report.missing = len(gone)
    return report
