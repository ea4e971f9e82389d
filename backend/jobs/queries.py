"""Reading jobs: one job, a page of them, their metrics, log lines and output files. No HTTP here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from backend.errors import Conflict, Invalid, NotFound
from backend.jobs import states
from backend.jobs.artifacts import resolve_output
from backend.paging import check_page
from backend.settings import Settings
from backend.storage.job_tables import Job, JobLog, JobMetric
from backend.storage.tables import Dataset
from backend.storage.types import utcnow


@dataclass
class JobPage:
    jobs: list[Job]
    total: int
    offset: int
    limit: int


async def get_job(session: AsyncSession, job_id: int) -> Job:
    job = await session.get(Job, job_id, populate_existing=True)
    if job is None:
        raise NotFound(f"job {job_id} does not exist", id=job_id)
    return job


async def list_jobs(
    session: AsyncSession,
    *,
    dataset_id: int | None = None,
    model_id: int | None = None,
    state: str | None = None,
    kind: str | None = None,
    caused_by: int | None = None,
    offset: int = 0,
    limit: int = 50,
    max_limit: int = 500,
) -> JobPage:
    """Newest first; ``caused_by``: the jobs the server queued after that job (its follow-ups)."""
    if state is not None and state not in states.STATES:
        raise Invalid(f"unknown job state '{state}' (use one of {', '.join(states.STATES)})")
    if kind is not None and kind not in states.KINDS:
        raise Invalid(f"unknown job kind '{kind}' (use one of {', '.join(states.KINDS)})")
    check_page(offset, limit, max_limit)
    query = select(Job)
    if dataset_id is not None:
        query = query.where(col(Job.dataset_id) == dataset_id)
    if model_id is not None:
        query = query.where(col(Job.model_id) == model_id)
    if state is not None:
        query = query.where(col(Job.state) == state)
    if kind is not None:
        query = query.where(col(Job.kind) == kind)
    if caused_by is not None:
        query = query.where(col(Job.caused_by_job_id) == caused_by)
    total = await session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = await session.scalars(
        query.order_by(col(Job.id).desc())
        .offset(offset)
        .limit(limit)
        .execution_options(populate_existing=True)
    )
    return JobPage(list(rows.all()), total, offset, limit)


async def job_metrics(session: AsyncSession, job_id: int) -> list[JobMetric]:
    """Per-epoch metrics of the job's current attempt, by epoch."""
    job = await get_job(session, job_id)
    rows = await session.scalars(
        select(JobMetric)
        .where(col(JobMetric.job_id) == job_id, col(JobMetric.attempt) == job.attempt)
        .order_by(col(JobMetric.epoch), col(JobMetric.id))
    )
    return list(rows.all())


async def job_log(
    session: AsyncSession, job_id: int, *, after_id: int = 0, limit: int = 1000
) -> list[JobLog]:
    """Log lines of every attempt, oldest first; ``after_id`` pages on (live tails)."""
    await get_job(session, job_id)
    rows = await session.scalars(
        select(JobLog)
        .where(col(JobLog.job_id) == job_id, col(JobLog.id) > after_id)
        .order_by(col(JobLog.id))
        .limit(limit)
    )
    return list(rows.all())


async def job_log_tail(session: AsyncSession, job_id: int, *, limit: int = 200) -> list[JobLog]:
    """The last ``limit`` log lines, oldest first (what a job page shows)."""
    rows = await session.scalars(
        select(JobLog).where(col(JobLog.job_id) == job_id).order_by(col(JobLog.id).desc()).limit(limit)
    )
    return list(reversed(rows.all()))


async def dataset_names(session: AsyncSession) -> dict[int, str]:
    """Every dataset's name by id, for job and model listings (no item counts: pages poll this)."""
    rows = await session.execute(select(col(Dataset.id), col(Dataset.name)))
    return {int(i): str(n) for i, n in rows.all()}


async def job_output_file(session: AsyncSession, settings: Settings, job_id: int, name: str) -> Path:
    """A file a succeeded job wrote, by name."""
    job = await get_job(session, job_id)
    if job.state != states.SUCCEEDED or not job.outputs.get("dir"):
        raise Conflict(f"job {job_id} is {job.state}; its outputs exist once it has succeeded")
    return resolve_output(settings.artifact_dir, job.outputs["dir"], name)


def quiet_seconds(job: Job) -> float | None:
    """Seconds since a running job's code last reported (None: not running, or never reported).

    Its heartbeat comes from a thread of its own and goes on while the code is stuck in one call
    (a hung network file system), so "running" alone does not tell a slow step from a stuck one.
    """
    if job.state != states.RUNNING or job.progress_at is None:
        return None
    return max(0.0, (utcnow() - job.progress_at).total_seconds())


def job_duration(job: Job) -> float | None:
    """Seconds it ran (so far, while running)."""
    if job.started_at is None:
        return None
    end: datetime = job.finished_at or utcnow()
    return max(0.0, (end - job.started_at).total_seconds())
