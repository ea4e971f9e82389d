"""Load: N concurrent taggers (each a user with an API token) tag a dataset while pages are read.

`python -m bench taggers [--taggers 20 --events 500 --items 20 --database sqlite|postgres]`

Serves the real app with uvicorn on 127.0.0.1. Each tagger sends ``--events`` REST tag requests of
``--items`` random items; a reader meanwhile renders the label page and reads the labels. Prints
p50/p99 latency of tagging and of page renders, against a baseline measured in the same run: one
tagger alone sending the same kind of requests. Afterwards it checks that nothing was lost: the
materialised labels equal the replayed events and every accepted request is exactly one event.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import random
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import numpy as np
from PIL import Image

from bench._common import scratch_settings

PG_ADMIN = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else float("nan")


def _line(name: str, values: list[float], baseline: list[float] | None = None) -> None:
    p50, p99 = _pct(values, 0.5) * 1000, _pct(values, 0.99) * 1000
    text = f"{name:<40} n={len(values):>6}  p50 {p50:>8.1f} ms  p99 {p99:>8.1f} ms"
    if baseline:
        alone = _pct(baseline, 0.5) * 1000
        text += f"   alone: p50 {alone:>7.1f} ms  ratio {p50 / alone:.2f}x"
    print(text, flush=True)


@contextmanager
def _served(settings) -> Iterator[str]:
    import uvicorn

    from backend.app import create_app

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings, run_jobs=False), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)


@contextmanager
def _postgres_database() -> Iterator[str]:
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    name = f"labelwise_bench_{uuid.uuid4().hex[:8]}"

    async def admin(sql: str) -> None:
        engine = create_async_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        try:
            async with engine.connect() as conn:
                await conn.execute(text(sql))
        finally:
            await engine.dispose()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _setup(settings, folder: Path, taggers: int) -> tuple[int, list[int], list[int], dict[str, str]]:
    from backend.accounts import service
    from backend.datasets.items import list_items
    from backend.datasets.service import create_dataset
    from backend.labels import classes
    from backend.storage.database import Database

    db = Database(settings.database)
    try:
        async with db.session() as session:
            dataset, _ = await create_dataset(session, settings, "load", [str(folder)], multi_label=True)
            labels = [(await classes.create_class(session, dataset.id, n)).id for n in ("a", "b", "c", "d")]
            ids: list[int] = []
            while True:
                page = await list_items(session, dataset.id, offset=len(ids), limit=500)
                ids += [entry.item.id for entry in page.items]
                if not page.items:
                    break
            tokens = {}
            for n in range(taggers + 1):  # +1: the baseline tagger
                user = await service.add_user(session, f"tagger-{n}", "labeler")
                tokens[user.name] = (await service.create_token(session, user.id))[1]
            await service.add_user(session, "reader", "viewer")
            reader = await service.get_user(session, "reader")
            tokens["reader"] = (await service.create_token(session, reader.id))[1]
            return dataset.id, ids, labels, tokens
    finally:
        await db.dispose()


async def _check(settings, dataset_id: int, accepted: dict[str, int]) -> None:
    from sqlalchemy import func, select

    from backend.labels import history
    from backend.storage.database import Database
    from backend.storage.tables import TagEvent

    db = Database(settings.database)
    try:
        async with db.session() as session:
            current = await history.current_labels(session, dataset_id)
            replayed = await history.replayed_labels(session, dataset_id)
            rows = await session.execute(
                select(TagEvent.tagger, func.count())
                .where(TagEvent.dataset_id == dataset_id)
                .group_by(TagEvent.tagger)
            )
            counts = dict(rows.all())
    finally:
        await db.dispose()
    same = current == replayed
    exact = counts == {k: v for k, v in accepted.items() if v}
    print(f"consistency: labels == replayed events: {same}; events per tagger exact: {exact}", flush=True)
    if not (same and exact):
        raise SystemExit("LOST UPDATES: the materialised labels or the event counts do not add up")


async def _tagger(base, token, dataset_id, ids, labels, events, items, seed, latencies, accepted, name):
    rng = random.Random(seed)
    async with httpx.AsyncClient(
        base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=120
    ) as http:
        for _ in range(events):
            body = {
                "item_ids": rng.sample(ids, items),
                "label_id": rng.choice(labels),
                "op": rng.choice(["set", "add", "remove"]),
            }
            start = time.perf_counter()
            response = await http.post(f"/api/v1/datasets/{dataset_id}/tags", json=body)
            latencies.append(time.perf_counter() - start)
            if response.status_code != 201:
                raise SystemExit(f"tagging refused: {response.status_code} {response.text[:300]}")
            accepted[name] = accepted.get(name, 0) + 1


async def _reader(base, token, dataset_id, stop: asyncio.Event, pages: list[float], api: list[float]) -> None:
    async with httpx.AsyncClient(
        base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=120
    ) as http:
        while not stop.is_set():
            start = time.perf_counter()
            page = await http.get(f"/datasets/{dataset_id}/label")
            pages.append(time.perf_counter() - start)
            start = time.perf_counter()
            labels = await http.get(f"/api/v1/datasets/{dataset_id}/labels", params={"limit": 500})
            api.append(time.perf_counter() - start)
            if page.status_code != 200 or labels.status_code != 200:
                raise SystemExit(f"read failed: {page.status_code} {labels.status_code}")


async def _load(base, dataset_id, ids, labels, tokens, args) -> dict[str, int]:
    accepted: dict[str, int] = {}
    alone: list[float] = []
    pages_alone: list[float] = []
    api_alone: list[float] = []
    # Baseline: one tagger alone, then pages alone.
    await _tagger(
        base,
        tokens["tagger-0"],
        dataset_id,
        ids,
        labels,
        min(args.events, 100),
        args.items,
        0,
        alone,
        accepted,
        "tagger-0",
    )
    stop = asyncio.Event()
    reader = asyncio.create_task(_reader(base, tokens["reader"], dataset_id, stop, pages_alone, api_alone))
    await asyncio.sleep(2)
    stop.set()
    await reader
    # The load: all taggers at once while the reader reads.
    busy: list[float] = []
    pages: list[float] = []
    api: list[float] = []
    stop = asyncio.Event()
    reader = asyncio.create_task(_reader(base, tokens["reader"], dataset_id, stop, pages, api))
    start = time.perf_counter()
    await asyncio.gather(
        *(
            _tagger(
                base,
                tokens[f"tagger-{n}"],
                dataset_id,
                ids,
                labels,
                args.events,
                args.items,
                n,
                busy,
                accepted,
                f"tagger-{n}",
            )
            for n in range(1, args.taggers + 1)
        )
    )
    took = time.perf_counter() - start
    stop.set()
    await reader
    total = args.taggers * args.events
    print(
        f"{args.taggers} taggers x {args.events} events x {args.items} items: {total} events in {took:.1f} s "
        f"({total / took:.0f} events/s)",
        flush=True,
    )
    _line("tag request (under load)", busy, alone)
    _line("label page render (under load)", pages, pages_alone)
    _line("labels API read (under load)", api, api_alone)
    return accepted


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="bench taggers")
    parser.add_argument("--taggers", type=int, default=20)
    parser.add_argument("--events", type=int, default=500)
    parser.add_argument("--items", type=int, default=20)
    parser.add_argument("--dataset-size", type=int, default=1000)
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    args = parser.parse_args(argv)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request would drown the figures

    def run(database_url: str | None) -> None:
        with scratch_settings(database_url=database_url) as (settings, root):
            folder = root / "roots" / "images"
            folder.mkdir(parents=True)
            rng = np.random.default_rng(0)
            for i in range(args.dataset_size):
                Image.fromarray(rng.integers(0, 255, (16, 16), dtype=np.uint8)).save(folder / f"{i:05d}.png")
            dataset_id, ids, labels, tokens = asyncio.run(_setup(settings, folder, args.taggers))
            print(f"database: {args.database}; dataset of {len(ids)} items", flush=True)
            with _served(settings) as base:
                accepted = asyncio.run(_load(base, dataset_id, ids, labels, tokens, args))
            asyncio.run(_check(settings, dataset_id, accepted))

    if args.database == "postgres":
        with _postgres_database() as url:
            run(url)
    else:
        run(None)
