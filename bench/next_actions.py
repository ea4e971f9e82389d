"""The next-best-action queue's first answer on a big dataset with a model: is it fast enough?

Builds (in a throwaway SQLite database) a dataset of ``--items`` item rows (no image files), a
feature extractor whose inference wrote clustered vectors, a classifier whose inference wrote
class probabilities (and out-of-fold probabilities of the labeled items, as the vector classifier
does), and ``--labeled`` labeled items. Then, in one app process:

- the queue's first answer through REST (``GET /api/v1/datasets/{id}/next-actions``) on a
  server that has answered one other request, then its median over ``--repeat`` more calls;
- opening the first batch it suggests (the page ``GET /datasets/{id}/next/open?key=...``, which
  computes the queue to find it, and shows its items with their guardrail flags), after each
  queue call: the first and the median;
- the baseline, in the same run: the plain probability-candidates call (``GET .../probability``,
  the preview of one class's batch) on the same dataset and classifier.

``python -m bench next_actions --items 100000`` (a minute, mostly the seeding). Target: the
first answer under 300 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
from typing import Any

import numpy as np

from bench._common import report, scratch_settings

TARGET = 0.3


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench next_actions", description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--classes", type=int, default=8)
    parser.add_argument("--dim", type=int, default=64, help="feature vector dimensions")
    parser.add_argument("--labeled", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


def synthetic(items: int, classes: int, dim: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(true class per item, clustered vectors, classifier probabilities that mostly agree)."""
    rng = np.random.default_rng(seed)
    truth = rng.choice(classes, size=items, p=np.linspace(2, 1, classes) / np.linspace(2, 1, classes).sum())
    centres = rng.normal(size=(classes, dim)).astype(np.float32) * 3
    vectors = centres[truth] + rng.normal(size=(items, dim)).astype(np.float32)
    logits = rng.normal(size=(items, classes)).astype(np.float32)
    logits[np.arange(items), truth] += rng.uniform(0.5, 6.0, size=items).astype(np.float32)
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    return truth, vectors, probs.astype(np.float32)


async def seed(settings: Any, args: argparse.Namespace) -> tuple[int, int]:
    """The dataset and its two models; returns (dataset id, classifier id)."""
    from sqlalchemy import insert, select

    from backend.labels.events import TagChange, record_changes
    from backend.storage.database import Database
    from backend.storage.job_tables import Job, Model
    from backend.storage.tables import Dataset, Item, LabelClass, Source

    truth, vectors, probs = synthetic(args.items, args.classes, args.dim, args.seed)
    database = Database(settings.database)
    try:
        async with database.session() as session:
            dataset = Dataset(name="next-actions-bench")
            session.add(dataset)
            await session.flush()
            source = Source(dataset_id=dataset.id, kind="folder", uri=str(settings.data_dir / "none"))
            session.add(source)
            classes = [
                LabelClass(dataset_id=dataset.id, name=f"class-{k}", color="#1f77b4", position=k)
                for k in range(args.classes)
            ]
            session.add_all(classes)
            await session.flush()
            rows = [
                {
                    "dataset_id": dataset.id,
                    "source_id": source.id,
                    "uri": f"run/img_{i:07d}.png",
                    "position": i,
                }
                for i in range(args.items)
            ]
            for start in range(0, len(rows), 20_000):
                await session.execute(insert(Item), rows[start : start + 20_000])
            ids = np.asarray(
                (
                    await session.scalars(
                        select(Item.id).where(Item.dataset_id == dataset.id).order_by(Item.position)
                    )
                ).all(),
                np.int64,
            )
            class_ids = [int(c.id) for c in classes]  # type: ignore[arg-type]
            labeled = np.random.default_rng(args.seed + 1).choice(args.items, args.labeled, replace=False)
            await session.commit()
        async with database.session() as session:
            await record_changes(
                session,
                int(dataset.id),  # type: ignore[arg-type]
                tagger="bench",
                kind="import",
                changes=[TagChange(int(ids[r]), "set", class_ids[int(truth[r])]) for r in labeled],
            )
        async with database.session() as session:
            snapshot = {
                "labeled_count": args.labeled,
                "classes": [
                    {"id": c, "name": f"class-{k}", "color": "#1f77b4"} for k, c in enumerate(class_ids)
                ],
            }
            features = Model(
                name="features",
                algorithm="pca",
                kind="feature_extractor",
                dataset_id=dataset.id,
                state="ready",
            )
            classifier = Model(
                name="classifier",
                algorithm="vector_classifier",
                kind="classifier",
                dataset_id=dataset.id,
                state="ready",
                trained_on=snapshot,
            )
            session.add_all([features, classifier])
            await session.flush()
            classifier.artifact_path = f"models/{classifier.id}/train"
            outputs = {}
            for model, files in (
                (features, ["vectors.npy", "item_ids.npy"]),
                (classifier, ["probabilities.npy", "item_ids.npy", "classes.json"]),
            ):
                out = f"models/{model.id}/infer/job-bench"
                outputs[model.id] = settings.artifact_dir / out
                session.add(
                    Job(
                        kind="infer",
                        state="succeeded",
                        algorithm=model.algorithm,
                        dataset_id=dataset.id,
                        model_id=model.id,
                        outputs={"dir": out, "files": files},
                    )
                )
            await session.commit()
            for directory in outputs.values():
                directory.mkdir(parents=True)
                np.save(directory / "item_ids.npy", ids)
            np.save(outputs[features.id] / "vectors.npy", vectors)
            np.save(outputs[classifier.id] / "probabilities.npy", probs)
            (outputs[classifier.id] / "classes.json").write_text(
                json.dumps([{"label_id": c, "name": f"class-{k}"} for k, c in enumerate(class_ids)])
            )
            train_dir = settings.artifact_dir / classifier.artifact_path
            train_dir.mkdir(parents=True)
            # out-of-fold: the labeled items scored a little less sharply than the rest
            oof = probs[labeled] ** 0.8
            oof /= oof.sum(axis=1, keepdims=True)
            np.savez(train_dir / "oof.npz", item_ids=ids[labeled], probabilities=oof, label_ids=class_ids)
            return int(dataset.id), int(classifier.id)  # type: ignore[arg-type]
    finally:
        await database.dispose()


async def measure(settings: Any, dataset_id: int, classifier_id: int, repeat: int) -> dict[str, list[float]]:
    from litestar.testing import AsyncTestClient

    from backend.app import create_app

    kinds = ("first", "queue", "open", "baseline", "cpu", "cpu_open", "cpu_baseline")
    times: dict[str, list[float]] = {k: [] for k in kinds}
    opened = ""
    url = f"/api/v1/datasets/{dataset_id}/next-actions"
    async with AsyncTestClient(app=create_app(settings, run_jobs=False)) as client:
        # a running server: it has answered something before (not the queue, nor these files)
        assert (await client.get(f"/api/v1/datasets/{dataset_id}")).status_code == 200
        for n in range(repeat + 1):
            start, cpu = time.perf_counter(), time.process_time()
            response = await client.get(url)
            took = time.perf_counter() - start
            times["cpu"].append(time.process_time() - cpu)
            assert response.status_code == 200, response.text
            times["first" if n == 0 else "queue"].append(took)
            if n == 0:
                found = response.json()
                for s in found["suggestions"]:
                    figures = f"{s['expected_labels']:>8.1f} labels / {s['expected_actions']:>6.1f} actions"
                    print(f"  {s['kind']:<18} {figures}  {s['title']}")
                for need in found["needs"]:
                    print(f"  needs: {need}")
                batches = [s for s in found["suggestions"] if s["kind"].endswith("_batch")]
                if batches:
                    opened = f"/datasets/{dataset_id}/next/open?key={batches[0]['key']}"
                    print(f"  opening: {batches[0]['kind']} {batches[0]['title']}")
            if opened:
                start, cpu = time.perf_counter(), time.process_time()
                page = await client.get(opened)
                times["open"].append(time.perf_counter() - start)
                times["cpu_open"].append(time.process_time() - cpu)
                assert page.status_code == 200 and 'id="next-stale"' not in page.text, page.text[:2000]
            start, cpu = time.perf_counter(), time.process_time()
            baseline = await client.get(
                f"/api/v1/datasets/{dataset_id}/probability",
                params={"model_id": classifier_id, "threshold": 0.9, "limit": 48},
            )
            times["baseline"].append(time.perf_counter() - start)
            times["cpu_baseline"].append(time.process_time() - cpu)
            assert baseline.status_code == 200, baseline.text
    return times


def main(argv: list[str]) -> None:
    args = parse(argv)
    with scratch_settings() as (settings, _):
        start = time.perf_counter()
        dataset_id, classifier_id = asyncio.run(seed(settings, args))
        what = f"{args.items} items, {args.classes} classes, {args.labeled} labeled, vectors {args.dim}-d"
        print(f"seeded {what} in {time.perf_counter() - start:.1f} s")
        times = asyncio.run(measure(settings, dataset_id, classifier_id, args.repeat))
    baseline = statistics.median(times["baseline"])
    report("next-actions, first answer (REST)", times["first"][0], target=TARGET, baseline=baseline)
    report(
        f"next-actions, median of {args.repeat} more", statistics.median(times["queue"]), baseline=baseline
    )
    if times["open"]:  # the queue once more, the batch's items and their guardrail flags
        report("open its first batch (page), first", times["open"][0], baseline=baseline)
        report(f"open its first batch, median of {args.repeat} more", statistics.median(times["open"][1:]))
    report("baseline: probability candidates (REST)", baseline)
    # On a shared machine wall time includes waiting for the CPU: the process's CPU time (all
    # threads) is what the answer itself costs.
    cpu_baseline = statistics.median(times["cpu_baseline"])
    report("next-actions, first answer, CPU time", times["cpu"][0], target=TARGET, baseline=cpu_baseline)
    report(f"next-actions, median CPU time of {args.repeat} more", statistics.median(times["cpu"][1:]))
    if times["cpu_open"]:
        report("open its first batch, CPU time", times["cpu_open"][0], baseline=cpu_baseline)
        report(
            f"open its first batch, median CPU time of {args.repeat} more",
            statistics.median(times["cpu_open"][1:]),
        )
    report("baseline: probability candidates, CPU time", cpu_baseline)
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
