"""The module ``dramatiq`` worker processes load: ``dramatiq workers.entry`` (``labelwise worker``).

Settings come from ``LABELWISE_*`` environment variables. The broker is set before the actor is
declared, as Dramatiq requires. Each worker process opens its own ``JobStore`` on first use
(after the fork, so no event loop or connection crosses a process boundary).

When the process is asked to stop (SIGTERM, SIGINT), running jobs stop at their next step, go
back to the queue as their next attempt and are sent again, so another worker (or this one after
its restart) runs them; a process killed outright leaves its jobs to the server's reaper.

Each process records a heartbeat in Redis (``workers/liveness.py``), so the server can tell a
queued job that no worker runs (``backend/jobs/presence.py``).
"""

from __future__ import annotations

import logging
import threading

import dramatiq
from dramatiq.middleware import Middleware

from backend.jobs import states
from backend.jobs.execution import mark_sent
from backend.settings import get_settings
from workers.broker import declare_actor, make_broker
from workers.liveness import WorkerHeartbeat
from workers.runner import run_job
from workers.store import JobStore

settings = get_settings()
if not settings.broker_url:
    raise SystemExit(
        "labelwise worker needs LABELWISE_BROKER_URL=redis://...; with the embedded broker "
        "`labelwise serve` runs jobs itself"
    )
log = logging.getLogger("labelwise.worker")
logging.getLogger("labelwise").setLevel(logging.INFO)

stopping = threading.Event()


class StopJobsOnShutdown(Middleware):
    """Tell running jobs that this worker is shutting down (they check at every step)."""

    def before_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        stopping.set()


broker = make_broker(settings)
broker.add_middleware(StopJobsOnShutdown())
broker.add_middleware(WorkerHeartbeat(settings))  # the server tells when no worker runs
dramatiq.set_broker(broker)

_store: JobStore | None = None
_store_lock = threading.Lock()


def _job_store() -> JobStore:
    global _store
    with _store_lock:
        if _store is None:
            _store = JobStore(settings)
        return _store


def _run(job_id: int) -> None:
    store = _job_store()
    if run_job(job_id, settings, store, stopping) == states.QUEUED:
        message = run_job_actor.send(job_id)  # consumers elsewhere pick it up; Redis keeps it meanwhile
        store.call(mark_sent, job_id, message.message_id)
        log.info("job %s interrupted by this worker's shutdown; queued again", job_id)


run_job_actor = declare_actor(broker, settings, _run)
