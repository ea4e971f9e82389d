"""Is any worker consuming the job queue? What a queued job says when none is.

With the embedded broker the server's own threads run the jobs: there is always a worker. With
Redis, separate `labelwise worker` processes do, and when none runs (the compose service is down,
it crashed, nobody started it) a queued job would only say "queued" forever. Each worker process
records a heartbeat in Redis (``workers/liveness.py``); the newest one is ``last_seen``. A job
queued for ``no_worker_grace_seconds`` while no heartbeat is that recent says so, with how to
start a worker. Dramatiq's own ``__heartbeats__`` set cannot tell: every process that talks to the
broker, the web server sending a job included, writes there.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from backend.jobs import states
from backend.settings import Settings
from backend.storage.job_tables import Job
from backend.storage.types import utcnow

START_HINT = "start one with `labelwise worker` (see README)"


@dataclass(frozen=True)
class WorkerPresence:
    """``embedded``: this server runs jobs itself. Else ``last_seen``: the newest heartbeat of any
    worker process on the broker (None: none ever seen, or none in the last week)."""

    embedded: bool
    last_seen: datetime | None = None

    def alive(self, settings: Settings, now: datetime | None = None) -> bool:
        if self.embedded:
            return True
        if self.last_seen is None:
            return False
        now = now or utcnow()
        return now - self.last_seen < timedelta(seconds=max(0.0, settings.no_worker_grace_seconds))


def no_worker_note(
    job: Job, presence: WorkerPresence | None, settings: Settings, now: datetime | None = None
) -> str | None:
    """What a job queued past the grace says when no worker is alive; None otherwise (and when
    whether one is alive is unknown: the broker cannot be asked)."""
    if presence is None or job.state != states.QUEUED:
        return None
    now = now or utcnow()
    if presence.alive(settings, now):
        return None
    if now - job.created_at < timedelta(seconds=max(0.0, settings.no_worker_grace_seconds)):
        return None
    if presence.last_seen is None:
        return f"no worker has been seen on the broker; {START_HINT}"
    return f"no worker has been seen since {presence.last_seen:%Y-%m-%d %H:%M:%S} UTC; {START_HINT}"
