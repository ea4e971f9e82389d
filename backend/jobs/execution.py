"""The worker's side of a job: claim it, load its inputs, report progress, finish it; and the reaper.

These coroutines are the only writes workers make. Every write after the claim names the job's
attempt and requires it to be running, so a worker that lost its job (reaped after missing
heartbeats, or retried elsewhere) can never overwrite the job's newer state.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from backend.algorithms import get_algorithm
from backend.datasets.refs import ItemRef, item_refs
from backend.jobs import states
from backend.jobs.artifacts import final_relpath, remove_temp_dirs
from backend.jobs.tasks import get_task
from backend.settings import Settings
from backend.storage.job_tables import Job, JobLog, JobMetric, Model
from backend.storage.types import utcnow

log = logging.getLogger("labelwise.jobs")

RUN, CANCEL, GONE = "run", "cancel", "gone"


@dataclass
class JobSpec:
    """Everything a worker needs to run a job, read once from the database (picklable)."""

    job_id: int
    attempt: int
    kind: str
    algorithm: str
    parameters: dict[str, Any]
    dataset_id: int
    model_id: int | None
    model_parameters: dict[str, Any]
    model_artifact: str | None  # relative to the artifact dir (infer, tasks)
    input_dir: str | None  # relative: the latest inference output (tasks)
    output_rel: str
    trained_on: dict[str, Any]
    items: list[ItemRef]
    labels: dict[int, list[int]] = field(default_factory=dict)
    classes: list[dict[str, Any]] = field(default_factory=list)
    inputs: list[dict[str, Any]] = field(default_factory=list)  # what a dataset task reads


@dataclass
class ProgressReport:
    """What a running job has to say since its last report; also its heartbeat."""

    done: int | None = None
    total: int | None = None
    epoch: int | None = None
    epochs: int | None = None
    logs: list[tuple[datetime, str, str]] = field(default_factory=list)  # (at, level, message)
    metrics: list[tuple[int, dict[str, float]]] = field(default_factory=list)
    active_at: datetime | None = None  # when the job's code last reported or checked for a cancel


async def claim_job(session: AsyncSession, job_id: int, worker: str) -> int | None:
    """Mark a queued job running on ``worker``; its attempt, or None when it is not queued."""
    now = utcnow()
    moved = await session.execute(
        update(Job)
        .where(col(Job.id) == job_id, col(Job.state) == states.QUEUED)
        .values(
            state=states.RUNNING,
            worker=worker[:200],
            started_at=now,
            heartbeat_at=now,
            progress_at=now,
            done=0,
        )
    )
    if moved.rowcount != 1:  # type: ignore[attr-defined]
        await session.rollback()
        return None
    attempt = await session.scalar(select(col(Job.attempt)).where(col(Job.id) == job_id))
    session.add(
        JobLog(job_id=job_id, attempt=attempt or 1, message=f"started on {worker} (attempt {attempt})")
    )
    await session.commit()
    return attempt


async def load_job_spec(session: AsyncSession, job_id: int) -> JobSpec:
    job = await session.get(Job, job_id, populate_existing=True)
    if job is None:
        raise LookupError(f"job {job_id} vanished")
    model = await session.get(Model, job.model_id) if job.model_id is not None else None
    items = await item_refs(session, job.dataset_id)
    spec = JobSpec(
        job_id=job_id,
        attempt=job.attempt,
        kind=job.kind,
        algorithm=job.algorithm,
        parameters=dict(job.parameters),
        dataset_id=job.dataset_id,
        model_id=job.model_id,
        model_parameters=dict(model.parameters) if model else {},
        model_artifact=model.artifact_path if model and job.kind != "train" else None,
        input_dir=None,
        output_rel=final_relpath(job.kind, job_id, job.model_id),
        trained_on=dict(model.trained_on) if model else {},
        items=items,
        classes=list(model.trained_on.get("classes", [])) if model else [],
    )
    if job.kind == "train" and get_algorithm(job.algorithm).needs_labels:
        from backend.labels.history import snapshot_labels  # as of a time, and of one tagger if named

        labels = await snapshot_labels(session, job.dataset_id, spec.trained_on)
        readable = {ref.item_id for ref in items}
        spec.labels = {item: sorted(ids) for item, ids in labels.items() if ids and item in readable}
    features = spec.trained_on.get("features")
    if job.kind == "train" and features:  # the feature model's vectors chosen at submit time
        spec.input_dir = features.get("dir")
    elif job.kind == "infer" and features:  # its latest vectors on the dataset at hand
        spec.input_dir = await _latest_output(session, int(features["model_id"]), job.dataset_id)
    if job.kind not in ("train", "infer"):
        task = get_task(job.kind)
        if task.prepare is not None:
            await task.prepare(session, job, spec)
    if job.kind not in ("train", "infer") and job.model_id is not None:
        spec.input_dir = await _latest_output(session, job.model_id, job.dataset_id)
    return spec


async def _latest_output(session: AsyncSession, model_id: int, dataset_id: int) -> str | None:
    """The output dir of a model's newest succeeded inference on a dataset (None: none yet)."""
    outputs = await session.scalar(
        select(col(Job.outputs))
        .where(
            col(Job.model_id) == model_id,
            col(Job.dataset_id) == dataset_id,
            col(Job.kind) == "infer",
            col(Job.state) == states.SUCCEEDED,
        )
        .order_by(col(Job.id).desc())
        .limit(1)
    )
    return (outputs or {}).get("dir")


async def report_progress(session: AsyncSession, job_id: int, attempt: int, report: ProgressReport) -> str:
    """Write a heartbeat with progress, log lines and metrics; say whether to go on.

    Returns ``RUN``, ``CANCEL`` (someone asked it to stop) or ``GONE`` (the job is no longer this
    worker's: reaped or moved on; stop without writing anything more).
    """
    values: dict[str, Any] = {"heartbeat_at": utcnow()}
    for name in ("done", "total", "epoch", "epochs"):
        if getattr(report, name) is not None:
            values[name] = getattr(report, name)
    if report.active_at is not None:
        values["progress_at"] = report.active_at
    moved = await session.execute(
        update(Job)
        .where(col(Job.id) == job_id, col(Job.attempt) == attempt, col(Job.state) == states.RUNNING)
        .values(**values)
    )
    if moved.rowcount != 1:  # type: ignore[attr-defined]
        await session.rollback()
        return GONE
    for at, level, message in report.logs:
        session.add(JobLog(job_id=job_id, attempt=attempt, at=at, level=level, message=message))
    for epoch, metrics in report.metrics:
        session.add(JobMetric(job_id=job_id, attempt=attempt, epoch=epoch, metrics=metrics))
    await session.commit()
    canceled = await session.scalar(select(col(Job.cancel_requested)).where(col(Job.id) == job_id))
    return CANCEL if canceled else RUN


async def finish_job(
    session: AsyncSession,
    job_id: int,
    attempt: int,
    state: str,
    *,
    message: str,
    error: str | None = None,
    traceback: str | None = None,
    outputs: dict[str, Any] | None = None,
    summary: dict[str, Any] | None = None,
) -> bool:
    """Move a running job to ``state`` (QUEUED: run it again later); False when it was not ours."""
    now = utcnow()
    values: dict[str, Any] = {"state": state, "heartbeat_at": now}
    if state == states.QUEUED:  # interrupted: it runs again as the next attempt, from the start
        values.update(started_at=None, worker=None, message_id=None, attempt=attempt + 1)
        # The next attempt reports its own progress; the last one's read "queued 0/360 epoch 9/40".
        values.update(done=0, total=0, epoch=None, epochs=None, progress_at=None)
    else:
        values.update(finished_at=now, error=error, traceback=traceback)
    if outputs is not None:
        values["outputs"] = outputs
    moved = await session.execute(
        update(Job)
        .where(col(Job.id) == job_id, col(Job.attempt) == attempt, col(Job.state) == states.RUNNING)
        .values(**values)
    )
    if moved.rowcount != 1:  # type: ignore[attr-defined]
        await session.rollback()
        return False
    job = await session.get(Job, job_id, populate_existing=True)
    assert job is not None
    if job.kind == "train" and job.model_id is not None:
        model_values: dict[str, Any] = {"state": states.MODEL_STATE_OF_JOB[state]}
        if state == states.SUCCEEDED:
            model_values.update(artifact_path=(outputs or {}).get("dir"), summary=summary or {}, ready_at=now)
        await session.execute(update(Model).where(col(Model.id) == job.model_id).values(**model_values))
    level = "error" if state == states.FAILED else "info"
    session.add(JobLog(job_id=job_id, attempt=attempt, level=level, message=message))
    await session.commit()
    return True


async def reap_stale_jobs(session: AsyncSession, settings: Settings) -> list[int]:
    """Mark failed every running job whose worker stopped sending heartbeats; their ids.

    A worker killed mid-job (SIGKILL, OOM, power) cannot say so itself; without this its job
    would read "running" forever.
    """
    timeout = settings.heartbeat_timeout_seconds
    cutoff = utcnow() - timedelta(seconds=timeout)
    stale = (
        await session.scalars(
            select(Job).where(col(Job.state) == states.RUNNING, col(Job.heartbeat_at) < cutoff).limit(100)
        )
    ).all()
    reaped = []
    for job in stale:
        reason = (
            f"the worker {job.worker or '?'} sent no heartbeat for more than {timeout:g} s: it was killed "
            "or crashed (out of memory, a stopped machine). Retry the job to run it again."
        )
        assert job.id is not None  # read back from the database
        moved = await session.execute(
            update(Job)
            .where(col(Job.id) == job.id, col(Job.attempt) == job.attempt, col(Job.state) == states.RUNNING)
            .where(col(Job.heartbeat_at) < cutoff)
            .values(state=states.FAILED, error=reason, finished_at=utcnow())
        )
        if moved.rowcount != 1:  # type: ignore[attr-defined]
            continue
        if job.kind == "train" and job.model_id is not None:
            await session.execute(
                update(Model).where(col(Model.id) == job.model_id).values(state=states.MODEL_FAILED)
            )
        session.add(JobLog(job_id=job.id, attempt=job.attempt, level="error", message=reason))
        reaped.append((job.id, job.kind, job.model_id))
    await session.commit()
    for job_id, kind, model_id in reaped:
        removed = remove_temp_dirs(settings.artifact_dir, final_relpath(kind, job_id, model_id), job_id)
        log.warning(
            "job %s failed: no heartbeat for %ss (%s partial outputs removed)", job_id, timeout, removed
        )
    return [job_id for job_id, _, _ in reaped]


async def queued_job_ids(session: AsyncSession, *, unsent_only: bool) -> list[int]:
    """Queued jobs, oldest first; ``unsent_only``: those no broker has a message for yet."""
    query = select(col(Job.id)).where(col(Job.state) == states.QUEUED)
    if unsent_only:
        query = query.where(col(Job.message_id).is_(None))
    return [
        job_id for job_id in (await session.scalars(query.order_by(col(Job.id)))).all() if job_id is not None
    ]


async def mark_sent(session: AsyncSession, job_id: int, message_id: str) -> None:
    await session.execute(
        update(Job)
        .where(col(Job.id) == job_id, col(Job.state) == states.QUEUED)
        .values(message_id=message_id)
    )
    await session.commit()


async def has_active_jobs(session: AsyncSession) -> bool:
    found = await session.scalar(select(col(Job.id)).where(col(Job.state).in_(states.ACTIVE)).limit(1))
    return found is not None
