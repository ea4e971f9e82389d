"""What the next-best-action queue knows of a dataset, read in a fixed handful of queries (never
one per item): its classes, current labels, the newest event, its models and jobs, the newest
inference of each model, the feature report; and the saved outputs it ranks with (numpy files).
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from backend.algorithms import suggestion_rank
from backend.datasets.service import get_dataset
from backend.errors import Invalid, NotFound
from backend.feature_report.report import KIND as REPORT_KIND
from backend.feature_report.report import FeatureReport, latest_report
from backend.guided.heldout import HeldOut, load_held_out
from backend.guided.probability import CLASSES, ITEM_IDS, PROBABILITIES
from backend.guided.trust import current_labels
from backend.jobs import states
from backend.labels.batches import latest_event_id
from backend.settings import Settings
from backend.similarity.index import INDEX, VECTORS
from backend.storage import npy
from backend.storage.ids import stored_id
from backend.storage.job_tables import Job, Model
from backend.storage.tables import Dataset, Item, LabelClass

RECENT_JOBS = 200


@dataclass
class QueueState:
    dataset: Dataset
    classes: dict[int, str]  # active classes, id -> name, in their order
    labels: dict[int, frozenset[int]]  # item -> current labels (labeled items only)
    item_count: int  # readable items
    watermark: int  # the newest tag event of the dataset when read
    models: dict[int, Model]  # trained on the dataset or applied to it, by id
    jobs: list[Job]  # the newest jobs of the dataset, newest first
    inferences: dict[int, Job]  # model id -> its newest succeeded inference on the dataset
    report: FeatureReport
    feature_model: Model | None = None  # whose vectors rank similarity and diversity
    classifier: Model | None = None  # whose probabilities make probability batches
    stale_classifiers: list[tuple[Model, list[str]]] = field(default_factory=list)  # deleted classes

    @property
    def dataset_id(self) -> int:
        return stored_id(self.dataset)

    def output_dir(self, settings: Settings, model_id: int) -> Path | None:
        job = self.inferences.get(model_id)
        return settings.artifact_dir / job.outputs["dir"] if job and job.outputs.get("dir") else None

    def has_file(self, model_id: int, name: str) -> bool:
        job = self.inferences.get(model_id)
        return job is not None and name in (job.outputs.get("files") or [])

    def active(self, kind: str, *, model_id: int | None = None, algorithm: str | None = None) -> Job | None:
        for job in self.jobs:
            if job.state not in states.ACTIVE or job.kind != kind:
                continue
            if model_id is not None and job.model_id != model_id:
                continue
            if algorithm is not None and job.algorithm != algorithm:
                continue
            return job
        return None

    def server_follows(self, job: Job) -> bool:
        """Whether the server is about to queue the step after ``job``: it succeeded, was chained or
        finished while the dataset keeps models fresh, and is not followed up yet (a few seconds;
        suggesting that step now would run it twice)."""
        fresh = (
            bool(self.dataset.keep_models_fresh)
            and self.dataset.fresh_since is not None
            and job.finished_at is not None
            and job.finished_at >= self.dataset.fresh_since
        )
        return job.state == states.SUCCEEDED and not job.followed_up and (bool(job.chain) or fresh)

    def following(self, model_id: int | None) -> bool:
        """Whether the model's inference is on its way: its training succeeded and the server has
        not queued the next step yet (``server_follows``)."""
        return any(
            job.kind == "train" and job.model_id == model_id and self.server_follows(job) for job in self.jobs
        )

    def report_following(self) -> bool:
        """Whether the server is about to queue the inference a succeeded report asks for."""
        return any(job.kind == REPORT_KIND and self.server_follows(job) for job in self.jobs)

    def with_vectors(self) -> list[Model]:
        """Ready feature extractors with vectors on the dataset, newest first (the report's candidates)."""
        return [m for m in self.ready("feature_extractor") if self.has_file(stored_id(m), VECTORS)]

    def ready(self, kind: str) -> list[Model]:
        """Ready models of a kind, newest first."""
        return sorted(
            (m for m in self.models.values() if m.kind == kind and m.state == states.MODEL_READY),
            key=lambda m: -stored_id(m),
        )


async def read_state(session: AsyncSession, dataset_id: int) -> QueueState:
    dataset = await get_dataset(session, dataset_id)
    classes = {
        stored_id(c): c.name
        for c in (
            await session.scalars(
                select(LabelClass)
                .where(col(LabelClass.dataset_id) == dataset_id, col(LabelClass.deleted_at).is_(None))
                .order_by(col(LabelClass.position), col(LabelClass.id))
            )
        ).all()
    }
    labels = await current_labels(session, dataset_id)
    item_count = int(
        await session.scalar(
            select(func.count()).where(col(Item.dataset_id) == dataset_id, col(Item.status) == "ok")
        )
        or 0
    )
    watermark = await latest_event_id(session, dataset_id)
    jobs = list(
        (
            await session.scalars(
                select(Job)
                .where(col(Job.dataset_id) == dataset_id)
                .order_by(col(Job.id).desc())
                .limit(RECENT_JOBS)
                .execution_options(populate_existing=True)
            )
        ).all()
    )
    inferences: dict[int, Job] = {}
    for job in (
        await session.scalars(
            select(Job)
            .where(
                col(Job.dataset_id) == dataset_id,
                col(Job.kind) == "infer",
                col(Job.state) == states.SUCCEEDED,
            )
            .order_by(col(Job.id).desc())
        )
    ).all():
        if job.model_id is not None and job.model_id not in inferences:
            inferences[int(job.model_id)] = job
    models = {
        stored_id(m): m
        for m in (
            await session.scalars(
                select(Model)
                .where(or_(col(Model.dataset_id) == dataset_id, col(Model.id).in_(list(inferences) or [-1])))
                .execution_options(populate_existing=True)
            )
        ).all()
    }
    report = await latest_report(session, dataset_id)
    state = QueueState(dataset, classes, labels, item_count, watermark, models, jobs, inferences, report)
    _choose_models(state)
    return state


def _choose_models(state: QueueState) -> None:
    """The feature model (the report's best, else the extractor with vectors whose algorithm the
    train page ranks first, newest first among equals: before labels say which features work,
    a quick one trained later for the report to compare is no better a guess) and the
    classifier (the newest ready one of this dataset with probabilities on it, whose classes
    all still exist; those with deleted classes are set aside)."""
    with_vectors = state.with_vectors()
    best = state.report.best_model_id
    ranked = sorted(with_vectors, key=lambda m: -suggestion_rank(m.algorithm))  # stable: newest first
    state.feature_model = next((m for m in with_vectors if m.id == best), ranked[0] if ranked else None)
    for model in state.ready("classifier"):
        if model.dataset_id != state.dataset_id:
            continue
        trained = model.trained_on.get("classes") or []
        gone = [str(c.get("name", c.get("id"))) for c in trained if int(c["id"]) not in state.classes]
        if gone:
            state.stale_classifiers.append((model, gone))
            continue
        if state.classifier is None and state.has_file(stored_id(model), PROBABILITIES):
            state.classifier = model


# ---- saved outputs -----------------------------------------------------------------------------


@dataclass
class Outputs:
    item_ids: np.ndarray
    probabilities: np.ndarray
    label_ids: list[int]


def load_probabilities(directory: Path) -> Outputs | None:
    paths = [directory / n for n in (PROBABILITIES, ITEM_IDS, CLASSES)]
    if not all(p.is_file() for p in paths):
        return None
    probs = npy.load(paths[0], mmap_mode="r")
    ids = npy.load(paths[1])
    label_ids = [int(c["label_id"]) for c in json.loads(paths[2].read_text())]
    if probs.shape != (len(ids), len(label_ids)):
        raise Invalid(f"probabilities {probs.shape} do not match {len(ids)} items x {len(label_ids)} classes")
    return Outputs(np.asarray(ids, np.int64), np.asarray(probs, np.float32), label_ids)


def load_vectors(directory: Path) -> tuple[np.ndarray, np.ndarray] | None:
    if not (directory / VECTORS).is_file() or not (directory / ITEM_IDS).is_file():
        return None
    return np.asarray(npy.load(directory / ITEM_IDS), np.int64), npy.load(directory / VECTORS, mmap_mode="r")


def load_held_out_or_none(model_dir: Path | None) -> HeldOut | None:
    if model_dir is None:
        return None
    try:
        return load_held_out(model_dir)
    except (NotFound, Invalid, OSError, ValueError, KeyError, zipfile.BadZipFile):
        return None


def index_built(directory: Path | None) -> bool:
    return directory is not None and (directory / INDEX).is_file()
