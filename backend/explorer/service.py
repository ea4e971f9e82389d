"""Reading projections and clusterings back per item, summarising a selection, labeling it.

The page, REST and GraphQL all come here: points of a model's latest projection on a dataset
(with cluster ids, current labels and predicted classes aligned to them), statistics and mean /
standard-deviation images of a selection, and one tag event for a labeled selection.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from backend.datasets.refs import ItemReader, item_refs
from backend.errors import Invalid, LabelwiseError, NotFound
from backend.images.transforms import DisplayTransform, prepare
from backend.jobs import states
from backend.jobs.queries import get_job
from backend.labels.batches import BatchOutcome, latest_event_id, record_batch
from backend.labels.events import TagRequest
from backend.models.queries import get_model
from backend.settings import Settings
from backend.storage import npy
from backend.storage.job_tables import Job
from backend.storage.tables import CurrentLabel, LabelClass

MAX_SELECTION = 200_000  # a selection is at most the whole of a very large dataset
HEATMAP_SAMPLE = 400  # mean/std images from at most this many items (evenly spread): seconds, not minutes


@dataclass
class Points:
    """Per-item results of a projection, aligned row by row with ``item_ids``."""

    projection_job_id: int
    dataset_id: int
    item_ids: np.ndarray
    coords: np.ndarray
    clusters: np.ndarray | None = None
    cluster_job_id: int | None = None
    labels: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # label id or -1
    predicted: np.ndarray | None = None  # a classifier's arg-max label id, or None
    meta: dict[str, Any] = field(default_factory=dict)
    labels_event_id: int = 0  # the newest tag event when the labels were read (see label_selection)


@dataclass(frozen=True, kw_only=True)
class SelectionSummary:
    """A selection's size and the labels and clusters it holds, with counts (the read model)."""

    count: int
    labels: dict[str, int]  # class name ("unlabeled": none) -> selected items
    clusters: dict[str, int]  # cluster id ("noise": -1) -> selected items; empty: not clustered


async def latest_output(
    session: AsyncSession, model_id: int, dataset_id: int | None, kind: str, job_id: int | None = None
) -> Job:
    """A succeeded project/cluster job: the one named, or the newest for the model and dataset."""
    if job_id is not None:
        job = await get_job(session, job_id)
        if job.kind != kind or job.model_id != model_id:
            raise Invalid(f"job {job_id} is not a {kind} job of model {model_id}")
        if job.state != states.SUCCEEDED:
            raise Invalid(f"job {job_id} is {job.state}; its results exist once it has succeeded")
        return job
    model = await get_model(session, model_id)
    dataset_id = dataset_id or model.dataset_id
    newest = await session.scalar(
        select(Job)
        .where(
            col(Job.model_id) == model_id,
            col(Job.dataset_id) == dataset_id,
            col(Job.kind) == kind,
            col(Job.state) == states.SUCCEEDED,
        )
        .order_by(col(Job.id).desc())
        .limit(1)
    )
    if newest is None:
        what = "projection" if kind == "project" else "clustering"
        raise NotFound(f"model {model_id} has no finished {what} on dataset {dataset_id}: run a {kind} job")
    return newest


def _output_dir(settings: Settings, job: Job) -> Path:
    return settings.artifact_dir / job.outputs["dir"]


def _aligned(ids: np.ndarray, other_ids: np.ndarray, values: np.ndarray, fill: int) -> np.ndarray:
    """``values`` (aligned with ``other_ids``) re-ordered to ``ids``; ``fill`` where absent."""
    order = np.argsort(other_ids)
    pos = np.searchsorted(other_ids, ids, sorter=order)
    pos = np.clip(pos, 0, max(len(other_ids) - 1, 0))
    found = other_ids[order[pos]] == ids if len(other_ids) else np.zeros(len(ids), bool)
    out = np.full(len(ids), fill, dtype=values.dtype)
    out[found] = values[order[pos[found]]]
    return out


async def current_label_array(session: AsyncSession, dataset_id: int, ids: np.ndarray) -> np.ndarray:
    """One label id per item (the lowest where multi-label), -1 for unlabeled, aligned with ``ids``."""
    rows = (
        await session.execute(
            select(col(CurrentLabel.item_id), col(CurrentLabel.label_id))
            .where(col(CurrentLabel.dataset_id) == dataset_id)
            .order_by(col(CurrentLabel.item_id), col(CurrentLabel.label_id).desc())
        )
    ).all()
    if not rows:
        return np.full(len(ids), -1, np.int64)
    pairs = np.asarray(rows, dtype=np.int64)
    first = {int(i): int(label) for i, label in pairs}  # the last written wins: the lowest label id
    keys = np.fromiter(first.keys(), np.int64, len(first))
    values = np.fromiter(first.values(), np.int64, len(first))
    return _aligned(ids, keys, values, -1)


def _predictions(settings: Settings, job: Job | None, ids: np.ndarray) -> np.ndarray | None:
    if job is None:
        return None
    folder = _output_dir(settings, job)
    if not (folder / "probabilities.npy").exists():
        return None
    probabilities = npy.load(folder / "probabilities.npy", mmap_mode="r")
    columns = [int(c["label_id"]) for c in json.loads((folder / "classes.json").read_text())]
    arg = np.asarray(columns, np.int64)[np.argmax(probabilities, axis=1)]
    return _aligned(ids, npy.load(folder / "item_ids.npy"), arg, -1)


async def load_points(
    session: AsyncSession,
    settings: Settings,
    model_id: int,
    dataset_id: int | None = None,
    *,
    projection_job_id: int | None = None,
    cluster_job_id: int | None = None,
) -> Points:
    """The projection (newest unless named), its clustering if any, labels and predictions."""
    job = await latest_output(session, model_id, dataset_id, "project", projection_job_id)
    assert job.id is not None  # read back from the database
    folder = _output_dir(settings, job)
    ids = npy.load(folder / "item_ids.npy")
    coords = npy.load(folder / "coords.npy")
    meta = json.loads((folder / "explorer.json").read_text())
    points = Points(
        projection_job_id=int(job.id),
        dataset_id=int(job.dataset_id),
        item_ids=ids,
        coords=coords,
        meta=meta,
    )
    try:
        clustering = await latest_output(session, model_id, job.dataset_id, "cluster", cluster_job_id)
    except NotFound:
        clustering = None
    if clustering is not None:
        cfolder = _output_dir(settings, clustering)
        cluster_ids = npy.load(cfolder / "clusters.npy")
        points.clusters = _aligned(ids, npy.load(cfolder / "item_ids.npy"), cluster_ids, -1)
        assert clustering.id is not None  # read back from the database
        points.cluster_job_id = int(clustering.id)
    points.labels_event_id = await latest_event_id(session, int(job.dataset_id))
    points.labels = await current_label_array(session, job.dataset_id, ids)
    inference = await session.scalar(
        select(Job)
        .where(col(Job.model_id) == model_id, col(Job.dataset_id) == job.dataset_id)
        .where(col(Job.kind) == "infer", col(Job.state) == states.SUCCEEDED)
        .order_by(col(Job.id).desc())
        .limit(1)
    )
    points.predicted = _predictions(settings, inference, ids)
    return points


def _checked_selection(item_ids: list[int]) -> list[int]:
    if not item_ids:
        raise Invalid("the selection is empty: select points with the box or lasso first")
    if len(item_ids) > MAX_SELECTION:
        raise Invalid(f"a selection holds at most {MAX_SELECTION} items, got {len(item_ids)}")
    return list(dict.fromkeys(int(i) for i in item_ids))


async def selection_summary(session: AsyncSession, points: Points, item_ids: list[int]) -> SelectionSummary:
    """Count, clusters and labels represented (each with how many selected items it has)."""
    chosen = np.asarray(_checked_selection(item_ids), np.int64)
    inside = np.isin(points.item_ids, chosen)
    outside = len(chosen) - int(inside.sum())
    if outside:
        raise Invalid(f"{outside} selected items are not in this projection")
    rows = await session.execute(
        select(col(LabelClass.id), col(LabelClass.name)).where(
            col(LabelClass.dataset_id) == points.dataset_id
        )
    )
    names = dict(rows.tuples().all())
    labels = points.labels[inside]
    label_counts: dict[str, int] = {}
    for value, count in zip(*np.unique(labels, return_counts=True), strict=True):
        label_counts["unlabeled" if value < 0 else names.get(int(value), f"class {value}")] = int(count)
    cluster_counts: dict[str, int] = {}
    if points.clusters is not None:
        for value, count in zip(*np.unique(points.clusters[inside], return_counts=True), strict=True):
            cluster_counts["noise" if value < 0 else str(int(value))] = int(count)
    return SelectionSummary(count=int(inside.sum()), labels=label_counts, clusters=cluster_counts)


def _spread(ids: list[int], limit: int) -> list[int]:
    if len(ids) <= limit:
        return ids
    picks = np.linspace(0, len(ids) - 1, limit).round().astype(int)
    return [ids[i] for i in picks]


async def selection_images(
    session: AsyncSession,
    settings: Settings,
    dataset_id: int,
    item_ids: list[int],
    *,
    size: int = 128,
    transform: DisplayTransform | None = None,
) -> tuple[np.ndarray, np.ndarray, int]:
    """Mean and standard deviation images (size x size, float32) of the selected items, and how
    many items they were computed from (an even sample of large selections)."""
    chosen = _spread(_checked_selection(item_ids), HEATMAP_SAMPLE)
    refs = await item_refs(session, dataset_id, chosen)
    if not refs:
        raise NotFound("none of the selected items belongs to this dataset")
    transform = transform or DisplayTransform()

    def compute() -> tuple[np.ndarray, np.ndarray, int]:
        reader = ItemReader(settings)
        total = np.zeros((size, size), np.float64)
        squares = np.zeros((size, size), np.float64)
        used = 0
        for ref in refs:
            try:
                stride = max(1, min(ref.height or 1, ref.width or 1) // (size * 4))
                image, mask = reader.read_masked(ref, stride=stride)
            except LabelwiseError:
                continue  # an unreadable item is left out of the statistics
            if image.ndim == 3:
                image = image.mean(axis=-1)
            image = prepare(image, size, transform, mask)
            total += image
            squares += image.astype(np.float64) ** 2
            used += 1
        if used == 0:
            raise Invalid("none of the selected items could be read")
        mean = total / used
        std = np.sqrt(np.maximum(squares / used - mean**2, 0.0))
        return mean.astype(np.float32), std.astype(np.float32), used

    return await asyncio.to_thread(compute)


async def label_selection(
    session: AsyncSession,
    dataset_id: int,
    *,
    tagger: str,
    item_ids: list[int],
    label_id: int | None,
    projection_job_id: int,
    selection: dict[str, Any] | None = None,
    op: str = "set",
    overwrite: bool = False,
    seen_event_id: int | None = None,
    rejected_item_ids: list[int] | None = None,
) -> BatchOutcome:
    """Label (or unlabel with ``op="clear"``) the selected points as one event of kind "explorer"
    that records which projection they were picked from and how (box, lasso, its bounds).

    Items that hold a label are left alone unless ``overwrite``, and so are items changed after
    ``seen_event_id`` (the points' ``labels_event_id``): see ``backend.labels.batches``.
    ``rejected_item_ids``: items taken out of the selection gallery by hand, recorded as rejected
    for ``label_id`` (``backend.labels.rejections``)."""
    chosen = _checked_selection(item_ids)
    job = await get_job(session, projection_job_id)
    if job.kind != "project" or job.dataset_id != dataset_id:
        raise Invalid(f"job {projection_job_id} is not a projection of dataset {dataset_id}")
    return await record_batch(
        session,
        TagRequest(
            dataset_id=dataset_id,
            tagger=tagger,
            item_ids=chosen,
            label_id=label_id,
            op=op,
            kind="explorer",
            model_id=job.model_id,
            parameters={
                "projection_job_id": projection_job_id,
                "method": job.parameters.get("method"),
                "selected": len(chosen),
                "selection": selection or {},
                "overwrite": overwrite,
            },
        ),
        overwrite=overwrite,
        seen_event_id=seen_event_id,
        rejected_item_ids=rejected_item_ids or (),
    )
