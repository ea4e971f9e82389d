"""The next step of a job or model, as one button on its page (and in REST and GraphQL).

Finished training: run inference; an extractor's inference: build the similarity index, then open
similarity; a classifier's inference: review probability batches, or retrain once its labels grew
by the dataset's growth fraction; an unfit classifier (``backend/guided/quality.py``): never batches,
whose use it would refuse, but label more, then retrain; a failed or canceled job: retry; a running
one: follow it or the job that keeps its models fresh after it (``backend/jobs/fresh.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from backend.datasets.service import get_dataset
from backend.errors import Conflict, Invalid
from backend.guided.quality import model_fitness
from backend.jobs import states
from backend.jobs.control import retry_job
from backend.jobs.enqueue import Enqueue
from backend.jobs.fresh import SNAPSHOT_KEYS, labeled_count, retrain_due
from backend.jobs.submission import submit_job
from backend.labels.events import lock_dataset
from backend.models.queries import get_model, train_job_of
from backend.settings import Settings
from backend.storage.job_tables import Job, Model


@dataclass(frozen=True)
class NextStep:
    """What to do next with a job or model: one button on its page.

    ``method`` "post": ``href`` carries the step out (a form with no fields); "get": a link.
    """

    # retry | infer | build-index | retrain | label | follow | probability | similarity | explorer | wait
    action: str
    title: str
    reason: str
    href: str
    method: str = "get"
    job_id: int | None = None  # the job a "follow" link opens


async def follow_up_of(session: AsyncSession, job_id: int) -> Job | None:
    """The newest job queued as the follow-up of ``job_id``."""
    return await session.scalar(
        select(Job).where(col(Job.caused_by_job_id) == job_id).order_by(col(Job.id).desc()).limit(1)
    )


async def _latest(session: AsyncSession, model: Model, kind: str, *, active: bool = False) -> Job | None:
    query = select(Job).where(
        col(Job.model_id) == model.id, col(Job.dataset_id) == model.dataset_id, col(Job.kind) == kind
    )
    query = query.where(col(Job.state).in_(states.ACTIVE if active else (states.SUCCEEDED,)))
    return await session.scalar(query.order_by(col(Job.id).desc()).limit(1))


def _follow(job: Job, why: str) -> NextStep:
    return NextStep("follow", f"Follow the {job.kind} job #{job.id}", why, f"/jobs/{job.id}", job_id=job.id)


async def model_next_step(session: AsyncSession, settings: Settings, model: Model) -> NextStep:
    """The next step of a model: finish training, run inference, build the index, use it; an unfit
    classifier's: more labels and a retraining."""
    dataset_id = model.dataset_id
    if model.state != states.MODEL_READY:
        train = await train_job_of(session, int(model.id or 0))
        if train is not None and model.state in (states.MODEL_FAILED, states.MODEL_CANCELED):
            return NextStep(
                "retry",
                "Retry the training",
                f"its training {train.state}",
                f"/jobs/{train.id}/retry",
                "post",
                train.id,
            )
        if train is not None:
            return _follow(train, "it is still training")
        return NextStep("wait", "Wait for the training", "no training job found", f"/models/{model.id}")
    running = await _latest(session, model, "infer", active=True) or await _latest(
        session, model, "build-index", active=True
    )
    if running is not None:
        return _follow(running, f"its {running.kind} is running")
    fitness = model_fitness(model, settings)
    if fitness.unfit:
        return await _unfit_step(session, model, fitness.reason)
    inference = await _latest(session, model, "infer")
    if inference is None:
        return NextStep(
            "infer",
            "Run inference",
            "it has no outputs on its dataset yet",
            f"/models/{model.id}/next",
            "post",
        )
    if model.kind == "classifier":
        grown = await _labels_grown(session, model)
        if grown is not None:
            return _retrain(model, f"labeled items grew from {grown[0]} to {grown[1]} since its training")
        return NextStep(
            "probability",
            "Review probability batches",
            "its class probabilities are ready",
            f"/datasets/{dataset_id}/probability?model_id={model.id}",
        )
    index = await _latest(session, model, "build-index")
    if index is None or int(index.id or 0) < int(inference.id or 0):
        return NextStep(
            "build-index",
            "Build the similarity index",
            "its vectors are ready; the index makes similarity pages fast",
            f"/models/{model.id}/next",
            "post",
        )
    return NextStep(
        "similarity",
        "Open similarity",
        "its index is built",
        f"/datasets/{dataset_id}/similar?model_id={model.id}",
    )


def _retrain(model: Model, why: str) -> NextStep:
    return NextStep("retrain", "Retrain", why, f"/models/{model.id}/next", "post")


async def _unfit_step(session: AsyncSession, model: Model, why: str) -> NextStep:
    """Retrain an unfit classifier once its labels grew; until then label more (the queue picks the
    items that help most): its batches would be refused, so neither inference nor batches help."""
    grown = await _labels_grown(session, model)
    if grown is not None:
        return _retrain(
            model, f"it is unfit ({why}); labeled items grew from {grown[0]} to {grown[1]} since its training"
        )
    return NextStep(
        "label",
        "Label more items, then retrain",
        f"it is unfit for batch labeling ({why})",
        f"/datasets/{model.dataset_id}/next",
    )


async def _labels_grown(session: AsyncSession, model: Model) -> tuple[int, int] | None:
    """(labels at training, labels now) when the newest classifier of its algorithm on the current
    labels is due for retraining by its dataset's growth fraction (``retrain_due``); else None."""
    newer = await session.scalar(
        select(col(Model.id)).where(
            col(Model.dataset_id) == model.dataset_id,
            col(Model.algorithm) == model.algorithm,
            col(Model.id) > model.id,
        )
    )
    if newer is not None:
        return None
    dataset = await get_dataset(session, model.dataset_id)
    base, now = (
        int(model.trained_on.get("labeled_count") or 0),
        await labeled_count(session, model.dataset_id),
    )
    return (base, now) if retrain_due(model, now, float(dataset.fresh_growth)) else None


async def job_next_step(session: AsyncSession, settings: Settings, job: Job) -> NextStep:
    """The next step after a job: wait, retry, follow its follow-up, or its model's next step."""
    if job.state in states.ACTIVE:
        return NextStep("wait", "Wait for this job", f"it is {job.state}", f"/jobs/{job.id}", job_id=job.id)
    if job.state in (states.FAILED, states.CANCELED):
        return NextStep("retry", "Retry", f"this job {job.state}", f"/jobs/{job.id}/retry", "post", job.id)
    follow_up = await follow_up_of(session, int(job.id or 0))
    if follow_up is not None and follow_up.state in states.ACTIVE:
        return _follow(follow_up, "queued to keep models fresh")
    if job.model_id is None:
        return NextStep(
            "explorer", "Open the explorer", "its figures are ready", f"/datasets/{job.dataset_id}/explorer"
        )
    model = await get_model(session, job.model_id)
    if job.kind in ("project", "cluster"):
        return NextStep(
            "explorer", "Open the explorer", "its projection is ready", f"/datasets/{job.dataset_id}/explorer"
        )
    return await model_next_step(session, settings, model)


async def run_model_next_step(
    session: AsyncSession,
    settings: Settings,
    enqueue: Enqueue | None,
    model_id: int,
    *,
    expected: str,
    by: str,
) -> Job:
    """Carry out a model's "infer", "build-index", "retrain" or "retry" step; 409 when it changed."""
    model = await get_model(session, model_id)
    # the dataset's write lock until the job is submitted: the same step run twice at once (two
    # clicks, two scripts) is one job and one CONFLICT, the second reading the job the first queued
    await lock_dataset(session, model.dataset_id)
    await session.refresh(model)
    step = await model_next_step(session, settings, model)
    if step.action != expected:
        raise Conflict(
            f"the next step of model {model_id} is now '{step.title}', not {expected}: look again",
            reason="next_step_changed",
            action=step.action,
        )
    if step.action == "retry" and step.job_id is not None:
        return await retry_job(session, settings, enqueue, step.job_id, by=by)
    if step.action == "retrain":
        return await submit_job(
            session,
            settings,
            enqueue,
            kind="train",
            dataset_id=model.dataset_id,
            algorithm=model.algorithm,
            parameters={k: v for k, v in model.parameters.items() if k not in SNAPSHOT_KEYS},
            submitted_by=by,
        )
    if step.action not in ("infer", "build-index"):
        raise Invalid(f"'{step.title}' is a page to open, not a job to run")
    return await submit_job(
        session,
        settings,
        enqueue,
        kind=step.action,
        model_id=model_id,
        dataset_id=model.dataset_id,
        submitted_by=by,
    )
