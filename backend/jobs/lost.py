"""Queued jobs whose broker message is gone: sent again once (counted), then failed, saying why.

The message carries only the job id and the database holds the rest, so a lost message loses no
state, but nothing would ever run the job: it would read "queued" forever. That happens when Redis
restarts without persistence (or its keys are flushed). The job runtime's ticker compares the
queued jobs with the messages the broker holds (``workers/queue_audit.py``); a job missing its
message for ``settings.lost_message_grace_seconds`` comes here. Each move is a conditional update
on (id, attempt, state, count), so two servers sweeping at once act once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from backend.jobs import states
from backend.settings import Settings
from backend.storage.job_tables import Job, JobLog, Model
from backend.storage.types import utcnow

log = logging.getLogger("labelwise.jobs")

RESEND, FAILED = "resend", "failed"


@dataclass(frozen=True)
class QueuedJob:
    id: int
    attempt: int
    lost_messages: int
    sent: bool  # a broker took a message for it (message_id set)


async def queued_jobs(session: AsyncSession, limit: int = 1000) -> list[QueuedJob]:
    rows = await session.execute(
        select(col(Job.id), col(Job.attempt), col(Job.lost_messages), col(Job.message_id))
        .where(col(Job.state) == states.QUEUED)
        .order_by(col(Job.id))
        .limit(limit)
    )
    return [QueuedJob(int(i), int(a), int(n or 0), m is not None) for i, a, n, m in rows.all()]


async def resend_or_fail(session: AsyncSession, settings: Settings, job: QueuedJob) -> str | None:
    """``RESEND`` (counted; the caller sends it), ``FAILED``, or None when the job moved meanwhile."""
    same = (
        col(Job.id) == job.id,
        col(Job.attempt) == job.attempt,
        col(Job.state) == states.QUEUED,
        col(Job.lost_messages) == job.lost_messages,
    )
    most = max(0, settings.lost_message_resends)
    lost = job.lost_messages + 1
    if job.lost_messages < most:
        moved = await session.execute(update(Job).where(*same).values(lost_messages=lost, message_id=None))
        outcome, level = RESEND, "warning"
        message = (
            "the broker lost this job's queued message (was Redis restarted without persistence?); "
            f"sent again ({lost} of at most {most})"
        )
    else:
        message = (
            f"the broker lost this job's queued message {lost} time(s) (Redis restarted without "
            "persistence, or its keys were flushed); it was not run. Retry the job when the broker "
            "keeps its data"
        )
        moved = await session.execute(
            update(Job)
            .where(*same)
            .values(state=states.FAILED, lost_messages=lost, error=message, finished_at=utcnow())
        )
        outcome, level = FAILED, "error"
    if moved.rowcount != 1:  # type: ignore[attr-defined]
        await session.rollback()
        return None
    if outcome == FAILED:
        model_id = await session.scalar(
            select(col(Job.model_id)).where(col(Job.id) == job.id, col(Job.kind) == "train")
        )
        if model_id is not None:
            await session.execute(
                update(Model).where(col(Model.id) == model_id).values(state=states.MODEL_FAILED)
            )
    session.add(JobLog(job_id=job.id, attempt=job.attempt, level=level, message=message))
    await session.commit()
    log.warning("job %s: %s", job.id, message)
    return outcome
