"""Changing a job's state on request: cancel (at once when queued, at the next step when running)
and retry (a failed or canceled job as its next attempt). No HTTP here."""

from __future__ import annotations

from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from backend.algorithms import validate_infer_options, validate_parameters
from backend.algorithms.validation import check_against
from backend.errors import Conflict
from backend.jobs import states
from backend.jobs.enqueue import Enqueue, queue_job
from backend.jobs.errors import BrokerUnavailable
from backend.jobs.queries import get_job
from backend.jobs.tasks import get_task
from backend.models.queries import get_model
from backend.settings import Settings
from backend.storage.job_tables import Job, JobLog, Model
from backend.storage.types import utcnow


async def _set_model_state(session: AsyncSession, job: Job, state: str, **values: Any) -> None:
    if job.kind == "train" and job.model_id is not None:
        await session.execute(
            update(Model).where(col(Model.id) == job.model_id).values(state=state, **values)
        )


async def cancel_job(session: AsyncSession, job_id: int, *, by: str = "") -> Job:
    """A queued job is canceled at once; a running one is asked to stop at its next step."""
    job = await get_job(session, job_id)
    who = f" by {by}" if by else ""
    if job.state == states.QUEUED:
        done = await session.execute(
            update(Job)
            .where(col(Job.id) == job_id, col(Job.state) == states.QUEUED)
            .values(state=states.CANCELED, cancel_requested=True, finished_at=utcnow())
        )
        if done.rowcount == 1:  # type: ignore[attr-defined]
            await _set_model_state(session, job, states.MODEL_CANCELED)
            session.add(
                JobLog(job_id=job_id, attempt=job.attempt, message=f"canceled{who} before it started")
            )
            await session.commit()
            return await get_job(session, job_id)
        job = await get_job(session, job_id)  # it started meanwhile
    if job.state == states.RUNNING:
        await session.execute(
            update(Job)
            .where(col(Job.id) == job_id, col(Job.state) == states.RUNNING)
            .values(cancel_requested=True)
        )
        session.add(
            JobLog(
                job_id=job_id,
                attempt=job.attempt,
                message=f"cancel requested{who}; stopping at the next step",
            )
        )
        await session.commit()
        return await get_job(session, job_id)
    states.require_move(job_id, job.state, states.CANCELED)
    return job


_RESET: dict[str, Any] = {
    "cancel_requested": False,
    "error": None,
    "traceback": None,
    "done": 0,
    "total": 0,
    "epoch": None,
    "epochs": None,
    "worker": None,
    "heartbeat_at": None,
    "progress_at": None,
    "started_at": None,
    "finished_at": None,
    "message_id": None,
    "outputs": {},
    "followed_up": False,  # a retried step of a keep-fresh chain is followed up again
}


def check_stored_parameters(job: Job) -> None:
    """A retry runs the job's stored parameters again: check them as a new job's would be (400,
    naming each field), since they may predate a rule (a NaN learning rate queued before NaN was
    refused) and would only fail again in the worker, or train on nonsense."""
    if job.kind == "train":
        validate_parameters(job.algorithm, job.parameters)
    elif job.kind == "infer":
        validate_infer_options(job.algorithm, job.parameters)
    else:
        check_against(get_task(job.kind).schema, job.parameters, None, f" for {job.kind}")


async def retry_job(
    session: AsyncSession, settings: Settings, enqueue: Enqueue | None, job_id: int, *, by: str = ""
) -> Job:
    """Run a failed or canceled job again, as its next attempt (earlier log lines are kept)."""
    job = await get_job(session, job_id)
    if job.state not in (states.FAILED, states.CANCELED):
        states.require_move(job_id, job.state, states.QUEUED)
    if job.kind != "train" and job.model_id is not None:
        model = await get_model(session, job.model_id)
        if model.state != states.MODEL_READY:
            raise Conflict(f"model {model.id} is {model.state}; retry its training first")
    check_stored_parameters(job)
    before = {name: getattr(job, name) for name in (*_RESET, "state", "attempt")}
    attempt = job.attempt + 1
    moved = await session.execute(
        update(Job)
        .where(col(Job.id) == job_id, col(Job.state) == job.state, col(Job.attempt) == job.attempt)
        .values(state=states.QUEUED, attempt=attempt, **_RESET)
    )
    if moved.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict(f"job {job_id} changed meanwhile; reload and try again")
    await _set_model_state(session, job, states.MODEL_TRAINING, artifact_path=None, ready_at=None)
    who = f" by {by}" if by else ""
    note = JobLog(job_id=job_id, attempt=attempt, message=f"retry{who}: attempt {attempt} queued")
    session.add(note)
    await session.commit()
    job = await get_job(session, job_id)
    try:
        return await queue_job(session, settings, job, enqueue)
    except BrokerUnavailable:
        await session.execute(update(Job).where(col(Job.id) == job_id).values(**before))
        previous = states.MODEL_STATE_OF_JOB[before["state"]]
        await _set_model_state(session, job, previous)
        await session.delete(note)
        await session.commit()
        raise
