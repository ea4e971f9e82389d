"""Following one job as it runs: what changed since the last look, until it ends.

The event stream (``GET /api/v1/jobs/{id}/events``) and the one-request job view both read here.
The stream looks at the database every ``poll_seconds`` (jobs report through rows: the worker
may be another process) with one small query, reads the job fully only when that moved, sends
only changes, a keep-alive while nothing changes (so proxies and
clients' read timeouts see traffic), and stops when the job ends or its lifetime is spent.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from backend.jobs import fresh, states
from backend.jobs import queries as job_queries
from backend.storage.database import Database
from backend.storage.job_tables import Job, JobLog, JobMetric

# An hour bounds a stream a client forgot; the client then polls (or reconnects) for longer jobs.
MAX_STREAM_SECONDS = 3600.0
KEEPALIVE_SECONDS = 10.0
# How often a follower looks: one small indexed query (``signature``), a full read only on change.
POLL_SECONDS = 0.05


@dataclass
class JobSnapshot:
    """The job now, its latest epoch's metrics, and the log lines written since the last snapshot."""

    job: Job
    latest_metrics: dict[str, float] | None
    new_log: list[JobLog] = field(default_factory=list)
    follow_up_pending: bool = False  # the server may still queue a step after it (``fresh``)

    @property
    def finished(self) -> bool:
        return self.job.state in states.FINISHED

    def key(self) -> tuple[Any, ...]:
        j = self.job
        return (j.state, j.attempt, j.done, j.total, j.epoch, j.cancel_requested, self.latest_metrics)


async def latest_metrics(session: AsyncSession, job: Job) -> dict[str, float] | None:
    """The metrics of the job's latest epoch in its current attempt (one indexed row), or None."""
    row = await session.scalar(
        select(JobMetric)
        .where(col(JobMetric.job_id) == job.id, col(JobMetric.attempt) == job.attempt)
        .order_by(col(JobMetric.epoch).desc(), col(JobMetric.id).desc())
        .limit(1)
    )
    return dict(row.metrics) if row is not None else None


async def snapshot(session: AsyncSession, job_id: int, *, after_log_id: int | None = None) -> JobSnapshot:
    """The job as one read model; log lines only when ``after_log_id`` is given."""
    job = await job_queries.get_job(session, job_id)
    await session.refresh(job)  # a long-lived stream session must not answer from its identity map
    lines = (
        await job_queries.job_log(session, job_id, after_id=after_log_id) if after_log_id is not None else []
    )
    pending = await fresh.follow_up_pending(session, job_id)
    return JobSnapshot(job, await latest_metrics(session, job), lines, pending)


async def signature(session: AsyncSession, job_id: int) -> tuple[Any, ...] | None:
    """What a snapshot would show, in one indexed query: the job's changing columns and its newest
    log line and metric ids (None: no such job). Read every poll; a snapshot only when it moved."""
    last_log = select(func.max(col(JobLog.id))).where(col(JobLog.job_id) == job_id).scalar_subquery()
    last_metric = select(func.max(col(JobMetric.id))).where(col(JobMetric.job_id) == job_id).scalar_subquery()
    row = (
        await session.execute(
            select(
                col(Job.state),
                col(Job.attempt),
                col(Job.done),
                col(Job.total),
                col(Job.epoch),
                col(Job.cancel_requested),
                col(Job.error),
                col(Job.finished_at),
                last_log,
                last_metric,
            ).where(col(Job.id) == job_id)
        )
    ).one_or_none()
    return tuple(row) if row is not None else None


async def follow_job(
    database: Database,
    job_id: int,
    *,
    poll_seconds: float = POLL_SECONDS,
    max_seconds: float = MAX_STREAM_SECONDS,
    keepalive_seconds: float = KEEPALIVE_SECONDS,
) -> AsyncIterator[JobSnapshot | None]:
    """Snapshots when something changed (the first at once), None as a keep-alive; ends with the
    job's end (the last snapshot is finished) or after ``max_seconds``."""
    deadline = time.monotonic() + max_seconds
    last_key: tuple[Any, ...] | None = None
    last_log_id = 0
    last_sent = time.monotonic()
    last_signature: tuple[Any, ...] | None = None
    while True:
        async with database.session() as session:
            now_signature = await signature(session, job_id)
            current = None
            if now_signature is None or now_signature != last_signature:
                current = await snapshot(session, job_id, after_log_id=last_log_id)  # 404 when gone
                last_signature = now_signature
        if current is None:  # nothing moved since the last look
            if time.monotonic() - last_sent >= keepalive_seconds:
                last_sent = time.monotonic()
                yield None
            if time.monotonic() + poll_seconds > deadline:
                return
            await asyncio.sleep(poll_seconds)
            continue
        if current.new_log:
            last_log_id = current.new_log[-1].id or last_log_id
        if current.key() != last_key or current.new_log or current.finished:
            last_key = current.key()
            last_sent = time.monotonic()
            yield current
            if current.finished:
                return
        elif time.monotonic() - last_sent >= keepalive_seconds:
            last_sent = time.monotonic()
            yield None
        if time.monotonic() + poll_seconds > deadline:
            return
        await asyncio.sleep(poll_seconds)
