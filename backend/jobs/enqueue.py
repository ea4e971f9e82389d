"""Handing a committed job to the broker, and what to say when it cannot be reached.

``Enqueue`` is how a job reaches the workers: a callable taking a job id and returning the broker's
message id (``JobRuntime.enqueue``), or ``None`` where a running server picks queued jobs up from
the database by itself (the embedded broker, seen from another process such as the CLI).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from urllib.parse import urlsplit

from sqlalchemy.ext.asyncio import AsyncSession

from backend.jobs.errors import BrokerUnavailable
from backend.settings import Settings
from backend.storage.job_tables import Job

log = logging.getLogger("labelwise.jobs")

Enqueue = Callable[[int], str | None]


def redact_url(url: str) -> str:
    """scheme://host:port of a broker URL: never a password in a message."""
    if not url:
        return "the embedded broker"
    parts = urlsplit(url)
    host = parts.hostname or ""
    return f"{parts.scheme}://{host}{f':{parts.port}' if parts.port else ''}"


async def queue_job(session: AsyncSession, settings: Settings, job: Job, enqueue: Enqueue | None) -> Job:
    """Hand a committed job to the broker; if that fails, raise ``BrokerUnavailable`` saying why
    (the caller removes or restores what it wrote)."""
    if enqueue is None:
        return job
    assert job.id is not None  # committed
    job_id = job.id
    try:
        message_id = await asyncio.to_thread(enqueue, job_id)
    except Exception as exc:
        log.warning("enqueue of job %s failed: %s", job_id, type(exc).__name__)
        raise BrokerUnavailable(
            f"cannot queue the job: the broker at {redact_url(settings.broker_url)} is unreachable "
            f"({type(exc).__name__}); nothing was submitted, try again when it is back"
        ) from exc
    job.message_id = message_id
    await session.commit()
    return job
