"""Following one job as it runs: what changed since the last look, until it ends.

The event stream (``GET /api/v1/jobs/{id}/events``) and the one-request job view both read here.
The stream looks at the database every ``poll_seconds`` (jobs report through rows: the worker
may be another process) with one small query, reads the job fully only when that moved, sends
only changes, a keep-alive while nothing changes (so proxies and
clients' read timeouts see traffic), and stops when the job ends or its lifetime is spent.
A queued job's follower also asks, every ``PRESENCE_SECONDS``, whether a worker is alive: when the
job's ``no_worker_note`` appears (the grace passed, none alive) or clears (one appeared) the
follower sends a snapshot, without the job's row having moved (``backend/jobs/presence.py``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from backend.jobs import fresh, states
from backend.jobs import queries as job_queries
from backend.jobs.presence import WorkerPresence, no_worker_note
from backend.settings import Settings
from backend.storage.database import Database
from backend.storage.job_tables import Job, JobLog, JobMetric

# An hour bounds a stream a client forgot; the client then polls (or reconnects) for longer jobs.
MAX_STREAM_SECONDS = 3600.0
KEEPALIVE_SECONDS = 10.0
# How often a follower looks: one small indexed query (``signature``), a full read only on change.
POLL_SECONDS = 0.05
# How often a follower of a queued job asks the broker whether a worker is alive (one Redis read).
PRESENCE_SECONDS = 1.0

Presence = Callable[[], Awaitable[WorkerPresence | None]]


@dataclass
class JobSnapshot:
    """The job now, its latest epoch's metrics, and the log lines written since the last snapshot."""

    job: Job
    latest_metrics: dict[str, float] | None
    new_log: list[JobLog] = field(default_factory=list)
    follow_up_pending: bool = False  # the server may still queue a step after it (``fresh``)
    no_worker: str | None = None  # queued past the grace with no worker alive (``no_worker_note``)

    @property
    def finished(self) -> bool:
        return self.job.state in states.FINISHED

    def key(self) -> tuple[Any, ...]:
        j = self.job
        return (
            j.state,
            j.attempt,
            j.done,
            j.total,
            j.epoch,
            j.cancel_requested,
            self.latest_metrics,
            self.no_worker,
        )


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


class _WorkerWatch:
    """A queued job's ``no_worker_note``, the broker asked at most every ``every`` seconds (the
    note itself follows the clock: the grace passes between two asks)."""

    def __init__(self, presence: Presence, settings: Settings, every: float) -> None:
        self.presence, self.settings, self.every = presence, settings, every
        self.known: WorkerPresence | None = None
        self.asked_at: float | None = None

    async def note(self, job: Job) -> str | None:
        if job.state != states.QUEUED:
            self.asked_at = None  # asked afresh should it be queued again (a retry)
            return None
        if self.asked_at is None or time.monotonic() - self.asked_at >= self.every:
            self.known = await self.presence()
            self.asked_at = time.monotonic()
        return no_worker_note(job, self.known, self.settings)


async def _with_note(
    watch: _WorkerWatch, current: JobSnapshot | None, last: JobSnapshot | None
) -> JobSnapshot | None:
    """``current`` (a fresh snapshot) with the job's note now; without one, ``last`` again (no log
    lines) when its note moved, else None: nothing to send."""
    seen = current if current is not None else replace(last, new_log=[]) if last is not None else None
    if seen is None:
        return None
    note = await watch.note(seen.job)
    if current is None and note == seen.no_worker:
        return None
    return replace(seen, no_worker=note)


async def follow_job(
    database: Database,
    job_id: int,
    *,
    poll_seconds: float = POLL_SECONDS,
    max_seconds: float = MAX_STREAM_SECONDS,
    keepalive_seconds: float = KEEPALIVE_SECONDS,
    presence: Presence | None = None,
    settings: Settings | None = None,
    presence_seconds: float = PRESENCE_SECONDS,
) -> AsyncIterator[JobSnapshot | None]:
    """Snapshots when something changed (the first at once), None as a keep-alive; ends with the
    job's end (the last snapshot is finished) or after ``max_seconds``. ``presence`` and
    ``settings``: whether a worker is alive, so that a queued job's snapshots carry its
    ``no_worker`` note and one is sent when it appears or clears (without them: never a note)."""
    deadline = time.monotonic() + max_seconds
    watch = _WorkerWatch(presence, settings, presence_seconds) if presence and settings else None
    last_key: tuple[Any, ...] | None = None
    last_log_id = 0
    last_sent = time.monotonic()
    last_signature: tuple[Any, ...] | None = None
    last: JobSnapshot | None = None  # the latest snapshot read (its log lines already sent)
    while True:
        async with database.session() as session:
            now_signature = await signature(session, job_id)
            current = None
            if now_signature is None or now_signature != last_signature:
                current = await snapshot(session, job_id, after_log_id=last_log_id)  # 404 when gone
                last_signature = now_signature
        if watch is not None:
            current = await _with_note(watch, current, last)
        if current is None:  # nothing moved since the last look
            if time.monotonic() - last_sent >= keepalive_seconds:
                last_sent = time.monotonic()
                yield None
            if time.monotonic() + poll_seconds > deadline:
                return
            await asyncio.sleep(poll_seconds)
            continue
        last = current
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
