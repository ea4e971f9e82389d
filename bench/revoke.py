"""Revoking a model's labels on a large dataset, and counting the labels still a model's (the History
page and the model page ask for that count on every render).

The count follows each item's chain of decisions where its latest change is an undo (decision 0028):
after "Undo revoke" every item the revoke touched is such an item. Figures: the count with the batch
as every item's latest change (the plain baseline, one SQL query), the revoke, the count after the
revoke was undone, and a second revoke. The History page also asks, for the events it lists, which
an undo would change nothing of (``backend.labels.undoable``): after the revoke the batch is one of
them, and every one of its items is checked.

    python -m bench revoke [--items 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from typing import Any

from bench._common import report, scratch_settings


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench revoke")
    parser.add_argument("--items", type=int, default=100_000)
    return parser.parse_args(argv)


async def seed(settings: Any, items: int) -> tuple[int, int]:
    """A dataset whose every item one model's probability batch labeled; (dataset id, model id)."""
    from sqlalchemy import insert, select

    from backend.labels.events import TagChange, record_changes
    from backend.storage.database import Database
    from backend.storage.job_tables import Model
    from backend.storage.tables import Dataset, Item, LabelClass, Source

    database = Database(settings.database)
    try:
        async with database.session() as session:
            dataset = Dataset(name="revoke-bench")
            session.add(dataset)
            await session.flush()
            source = Source(dataset_id=dataset.id, kind="folder", uri=str(settings.data_dir / "none"))
            label = LabelClass(dataset_id=dataset.id, name="a", color="#1f77b4", position=0)
            model = Model(
                name="classifier", algorithm="vector_classifier", kind="classifier", dataset_id=dataset.id
            )
            session.add_all([source, label, model])
            await session.flush()
            rows = [
                {"dataset_id": dataset.id, "source_id": source.id, "uri": f"run/{i:07d}.png", "position": i}
                for i in range(items)
            ]
            for start in range(0, len(rows), 20_000):
                await session.execute(insert(Item), rows[start : start + 20_000])
            ids = (await session.scalars(select(Item.id).where(Item.dataset_id == dataset.id))).all()
            dataset_id, model_id, label_id = int(dataset.id), int(model.id), int(label.id)  # type: ignore[arg-type]
            await session.commit()
        async with database.session() as session:
            await record_changes(
                session,
                dataset_id,
                tagger="bench",
                kind="probability",
                model_id=model_id,
                changes=[TagChange(int(i), "set", label_id) for i in ids],
            )
        return dataset_id, model_id
    finally:
        await database.dispose()


async def history_rows(session: Any, dataset_id: int) -> dict[int, str]:
    """What the History page asks of its first page of events: which an undo would change nothing of."""
    from backend.labels.history import list_events
    from backend.labels.revoke import undone_by
    from backend.labels.undoable import nothing_left

    listed = await list_events(session, dataset_id, limit=50)
    undone = await undone_by(session, [int(e.id or 0) for e in listed.events])
    return await nothing_left(session, listed.events, undone)


async def measure(settings: Any, dataset_id: int, model_id: int) -> dict[str, float]:
    from backend.labels.events import undo_event
    from backend.labels.revoke import labels_still_models, revoke_model
    from backend.storage.database import Database

    database = Database(settings.database)
    times: dict[str, float] = {}

    async def timed(name: str, work: Any) -> Any:
        async with database.session() as session:
            start = time.perf_counter()
            result = await work(session)
            times[name] = time.perf_counter() - start
            return result

    try:
        counted = await timed("count", lambda s: labels_still_models(s, dataset_id=dataset_id))
        revoked = await timed("revoke", lambda s: revoke_model(s, dataset_id, model_id, tagger="bench"))
        rows = await timed("history_after_revoke", lambda s: history_rows(s, dataset_id))
        if list(rows.values()) != [f"nothing left to undo: revoked by #{revoked.event.id}"]:
            raise SystemExit(f"the History page's rows after the revoke: {rows}")
        await timed("undo", lambda s: undo_event(s, int(revoked.event.id), "bench"))
        again = await timed("count_after_undo", lambda s: labels_still_models(s, dataset_id=dataset_id))
        if [(m.items, m.events) for m in again] != [(m.items, m.events) for m in counted]:
            raise SystemExit(f"the count after the undo differs: {again} against {counted}")
        await timed("revoke_again", lambda s: revoke_model(s, dataset_id, model_id, tagger="bench"))
        await timed("history_after_revoke_again", lambda s: history_rows(s, dataset_id))
        return times
    finally:
        await database.dispose()


def main(argv: list[str]) -> None:
    args = parse(argv)
    with scratch_settings() as (settings, _):
        start = time.perf_counter()
        dataset_id, model_id = asyncio.run(seed(settings, args.items))
        took = time.perf_counter() - start
        print(f"seeded {args.items} items labeled by one model's batch in {took:.1f} s")
        times = asyncio.run(measure(settings, dataset_id, model_id))
    baseline = times["count"]
    report("baseline: labels still the model's (batch latest)", baseline)
    report("labels still the model's after Undo revoke", times["count_after_undo"], baseline=baseline)
    report("revoke the model's labels", times["revoke"], baseline=baseline)
    report("undo the revoke", times["undo"], baseline=baseline)
    report("revoke again after the undo", times["revoke_again"], baseline=baseline)
    report("history page: undos that change nothing", times["history_after_revoke"], baseline=baseline)
    report("history page: the same after the second revoke", times["history_after_revoke_again"])
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
