"""Reading trained models: one, a filtered list, their files, their training job and latest inference.

The table classes (``Model``, ``Job``) live in ``backend.storage.job_tables``; the jobs that train
and apply models are ``backend.jobs``. No HTTP here.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from backend.algorithms.base import KINDS as MODEL_KINDS
from backend.errors import Conflict, Invalid, NotFound
from backend.jobs import states
from backend.jobs.artifacts import resolve_output
from backend.settings import Settings
from backend.storage.job_tables import Job, Model

MODEL_STATES = (states.MODEL_TRAINING, states.MODEL_READY, states.MODEL_FAILED, states.MODEL_CANCELED)


async def get_model(session: AsyncSession, model_id: int) -> Model:
    model = await session.get(Model, model_id, populate_existing=True)
    if model is None:
        raise NotFound(f"model {model_id} does not exist", id=model_id)
    return model


async def list_models(
    session: AsyncSession,
    *,
    dataset_id: int | None = None,
    state: str | None = None,
    kind: str | None = None,
    algorithm: str | None = None,
) -> list[Model]:
    """Newest first. An unknown ``state`` or ``kind`` is refused (Invalid), naming those there are."""
    if state is not None and state not in MODEL_STATES:
        raise Invalid(f"unknown model state '{state}' (use one of {', '.join(MODEL_STATES)})", field="state")
    if kind is not None and kind not in MODEL_KINDS:
        raise Invalid(f"unknown model kind '{kind}' (use one of {', '.join(MODEL_KINDS)})", field="kind")
    query = select(Model)
    if dataset_id is not None:
        query = query.where(col(Model.dataset_id) == dataset_id)
    if state is not None:
        query = query.where(col(Model.state) == state)
    if kind is not None:
        query = query.where(col(Model.kind) == kind)
    if algorithm is not None:
        query = query.where(col(Model.algorithm) == algorithm)
    rows = await session.scalars(
        query.order_by(col(Model.id).desc()).execution_options(populate_existing=True)
    )
    return list(rows.all())


async def train_job_of(session: AsyncSession, model_id: int) -> Job | None:
    return await session.scalar(
        select(Job)
        .where(col(Job.model_id) == model_id, col(Job.kind) == "train")
        .order_by(col(Job.id))
        .limit(1)
    )


async def model_file(session: AsyncSession, settings: Settings, model_id: int, name: str) -> Path:
    """A file of a ready model, by name."""
    model = await get_model(session, model_id)
    if model.state != states.MODEL_READY or not model.artifact_path:
        raise Conflict(f"model {model_id} is {model.state}; its files exist once it is ready")
    return resolve_output(settings.artifact_dir, model.artifact_path, name)


async def latest_inference(session: AsyncSession, model_id: int, dataset_id: int | None = None) -> Job:
    """The newest succeeded inference of a model on a dataset (default: the one it trained on)."""
    model = await get_model(session, model_id)
    dataset_id = dataset_id or model.dataset_id
    job = await session.scalar(
        select(Job)
        .where(
            col(Job.model_id) == model_id,
            col(Job.dataset_id) == dataset_id,
            col(Job.kind) == "infer",
            col(Job.state) == states.SUCCEEDED,
        )
        .order_by(col(Job.id).desc())
        .limit(1)
    )
    if job is None:
        raise NotFound(
            f"model {model_id} has no finished inference on dataset {dataset_id}: run inference first"
        )
    return job


async def feature_dir(
    session: AsyncSession, settings: Settings, model_id: int, dataset_id: int | None
) -> Path:
    """The directory holding ``vectors.npy`` + ``item_ids.npy`` of the latest inference."""
    job = await latest_inference(session, model_id, dataset_id)
    return settings.artifact_dir / job.outputs["dir"]
