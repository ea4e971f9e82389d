"""Worker heartbeats in Redis: each `labelwise worker` process says it is alive; the server reads
when one last did (``backend/jobs/presence.py`` says what a queued job shows without one).

One sorted set per queue, ``{namespace}:__labelwise_workers__.{queue}``: member the process
(``host:pid``), score the time of its last heartbeat (Unix seconds). Entries older than a week
are pruned at each beat, so the newest score stays "last seen" after every worker stopped.
Dramatiq's own ``__heartbeats__`` set is no help here: every process that sends through the
broker (the web server queueing a job) writes there too.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from datetime import UTC, datetime
from typing import Any

import dramatiq
from dramatiq.middleware import Middleware

from backend.jobs.presence import WorkerPresence
from backend.settings import Settings

log = logging.getLogger("labelwise.worker")

KEEP_SECONDS = 7 * 24 * 3600.0


def workers_key(settings: Settings) -> str:
    return f"{settings.broker_namespace}:__labelwise_workers__.{settings.job_queue}"


def beat(client: Any, settings: Settings, name: str, now: float | None = None) -> None:
    """Record one heartbeat of worker ``name`` (and forget workers silent for a week)."""
    now = time.time() if now is None else now
    key = workers_key(settings)
    pipe = client.pipeline(transaction=False)
    pipe.zadd(key, {name: now})
    pipe.zremrangebyscore(key, 0, now - KEEP_SECONDS)
    pipe.execute()


def last_seen(client: Any, settings: Settings) -> datetime | None:
    """When any worker of this queue last sent a heartbeat; None when none did (in a week)."""
    newest = client.zrevrange(workers_key(settings), 0, 0, withscores=True)
    return datetime.fromtimestamp(float(newest[0][1]), UTC) if newest else None


def presence_of(broker: dramatiq.Broker, settings: Settings) -> WorkerPresence | None:
    """Whether a worker consumes ``broker``'s queue; None when Redis cannot be asked."""
    if not settings.broker_url:
        return WorkerPresence(embedded=True)
    try:
        return WorkerPresence(embedded=False, last_seen=last_seen(broker.client, settings))
    except Exception as exc:  # an unreachable broker: unknown, not "no worker"
        log.debug("cannot read worker heartbeats: %s", type(exc).__name__)
        return None


class WorkerHeartbeat(Middleware):
    """In each worker process: a thread that beats every ``heartbeat_seconds`` from boot to shutdown."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.name = f"{socket.gethostname()}:{os.getpid()}"
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def after_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        self.name = f"{socket.gethostname()}:{os.getpid()}"  # after the fork: this process's id
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._loop, args=(broker,), name="labelwise-worker-heartbeat", daemon=True
        )
        self._thread.start()

    def before_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        self._stop.set()

    def _loop(self, broker: dramatiq.Broker) -> None:
        interval = max(0.05, self.settings.heartbeat_seconds)
        failing = False
        while not self._stop.is_set():
            try:
                beat(broker.client, self.settings, self.name)
                failing = False
            except Exception as exc:  # Redis away: the next beat tries again; say so once
                if not failing:
                    log.warning("worker heartbeat not recorded (%s); trying again", type(exc).__name__)
                failing = True
            self._stop.wait(interval)
