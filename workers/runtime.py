"""``JobRuntime``: the job machinery inside one process (the web server, or the CLI with --wait).

It owns the broker and the actor (to enqueue), a ``JobStore`` and a ticker thread that reaps jobs
whose worker died and, with the embedded broker, runs ``dramatiq.Worker`` threads in process and
re-sends jobs that are queued in the database but not in its in-memory queue (after a restart,
or submitted by another process such as the CLI). Threads start on first need, not on creation.

The ticker also sweeps lost messages: a queued job whose message the broker no longer holds
(Redis restarted without persistence) for ``lost_message_grace_seconds`` is sent again, at most
``lost_message_resends`` times, then failed with the reason (``backend/jobs/lost.py``).
"""

from __future__ import annotations

import logging
import threading
import time

import dramatiq

from backend.jobs.execution import mark_sent, queued_job_ids, reap_stale_jobs
from backend.jobs.fresh import keep_fresh
from backend.jobs.lost import RESEND, QueuedJob, queued_jobs, resend_or_fail
from backend.jobs.presence import WorkerPresence
from backend.settings import Settings
from workers.broker import declare_actor, make_broker
from workers.liveness import presence_of
from workers.queue_audit import MessageAudit
from workers.runner import run_job
from workers.store import JobStore

log = logging.getLogger("labelwise.worker")


def _outage(exc: BaseException) -> bool:
    """A database or broker that cannot be reached (stopped, restarting, a network cut), not a bug."""
    from sqlalchemy.exc import DBAPIError, OperationalError

    if isinstance(exc, OSError):  # a refused or dropped connection, a name not resolved, a timeout
        return True
    if isinstance(exc, OperationalError) or (isinstance(exc, DBAPIError) and exc.connection_invalidated):
        return True
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError

    return isinstance(exc, RedisConnectionError | RedisTimeoutError)


def _reason(exc: BaseException) -> str:
    """One short line: the driver's own error where SQLAlchemy wraps it (not its SQL)."""
    error = getattr(exc, "orig", None) or exc
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return f"{type(error).__name__}: {text[:200]}" if text else type(error).__name__


class JobRuntime:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.broker = make_broker(settings)
        self.audit = MessageAudit(self.broker, settings.job_queue)
        self.actor = declare_actor(self.broker, settings, self._run)
        self._missing_since: dict[QueuedJob, float] = {}  # queued jobs seen without a message
        self.stopping = threading.Event()
        self.store: JobStore | None = None
        self.worker: dramatiq.Worker | None = None
        self._ticker: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def embedded(self) -> bool:
        """True with the in-memory broker: this process runs the jobs itself."""
        return not self.settings.broker_url

    @property
    def started(self) -> bool:
        return self.store is not None

    def enqueue(self, job_id: int) -> str:
        """Send a job's message; the broker's message id. Raises when the broker is unreachable."""
        message = self.actor.send(job_id)
        if self.embedded:
            self.start()
        return message.message_id

    def worker_presence(self) -> WorkerPresence | None:
        """Embedded: this process's threads (always there). Redis: when a `labelwise worker`
        process last sent a heartbeat; None when Redis cannot be asked."""
        return presence_of(self.broker, self.settings)

    def start(self) -> JobRuntime:
        """Start the store, the ticker and (embedded) the worker threads; safe to call again."""
        with self._lock:
            if self.store is not None or self.stopping.is_set():
                return self
            self.store = JobStore(self.settings)
            if self.embedded:
                self.worker = dramatiq.Worker(
                    self.broker,
                    queues={self.settings.job_queue},
                    worker_threads=max(1, self.settings.worker_threads),
                    worker_timeout=200,
                )
                self.worker.start()
                self.audit.worker = self.worker
            self._ticker = threading.Thread(target=self._tick_loop, name="labelwise-job-ticker", daemon=True)
            self._ticker.start()
            log.info("job runtime started (%s)", "in-process worker" if self.embedded else "enqueue only")
        return self

    def stop(self, timeout: float = 30.0) -> None:
        """Ask running jobs to stop (they go back to the queue), then stop the threads."""
        self.stopping.set()
        with self._lock:
            if self._ticker is not None:
                self._ticker.join(timeout)
            if self.worker is not None:
                self.worker.stop(timeout=int(timeout * 1000))
                self.worker = None
            if self.store is not None:
                self.store.close()
            self.broker.close()

    def tick(self, *, resend_all: bool = False) -> None:
        """One round of housekeeping: reap dead jobs; (embedded) send jobs the queue lacks."""
        assert self.store is not None
        reaped = self.store.call(reap_stale_jobs, self.settings)
        if reaped:
            log.warning("jobs %s failed: their workers stopped sending heartbeats", reaped)
        self.keep_models_fresh()
        if self.embedded:
            for job_id in self.store.call(queued_job_ids, unsent_only=not resend_all):
                message = self.actor.send(job_id)
                self.store.call(mark_sent, job_id, message.message_id)
        self.sweep_lost_messages()

    def keep_models_fresh(self) -> list[int]:
        """Queue and send the follow-up jobs of datasets that keep models fresh (backend/jobs/fresh.py).

        Here, in the process that owns the runtime, so it works with either broker; the ids sent."""
        assert self.store is not None
        new_jobs = self.store.call(keep_fresh, self.settings)
        for job_id in new_jobs:
            message = self.actor.send(job_id)
            self.store.call(mark_sent, job_id, message.message_id)
        return new_jobs

    def sweep_lost_messages(self) -> list[int]:
        """Send again (or fail) queued jobs the broker has held no message for since the grace; their ids."""
        assert self.store is not None
        queued = self.store.call(queued_jobs)
        if not queued:
            self._missing_since.clear()
            return []
        present = self.audit.job_ids()
        now = time.monotonic()
        grace = max(0.0, self.settings.lost_message_grace_seconds)
        # Embedded, an unsent job is sent by tick() itself; with Redis, it lost its message when a
        # worker stopped between putting it back in the queue and sending it.
        missing = {job for job in queued if job.id not in present and (job.sent or not self.embedded)}
        self._missing_since = {job: self._missing_since.get(job, now) for job in missing}
        handled = []
        for job, since in list(self._missing_since.items()):
            if now - since < grace:
                continue
            del self._missing_since[job]
            outcome = self.store.call(resend_or_fail, self.settings, job)
            if outcome == RESEND:
                message = self.actor.send(job.id)
                self.store.call(mark_sent, job.id, message.message_id)
            if outcome is not None:
                handled.append(job.id)
        return handled

    def _tick_loop(self) -> None:
        first = True
        interval = max(0.05, min(self.settings.heartbeat_seconds, 5.0))
        # A database or broker down fails every round until it is back: say so once (one line for
        # an outage, the traceback for anything else), then once more when a round works again;
        # a traceback every few seconds buried the log of a night's outage.
        failing: str | None = None
        failed_rounds = 0
        while not self.stopping.is_set():
            try:
                # After a (re)start the in-memory queue is empty: send every queued job once.
                self.tick(resend_all=first)
                first = False
                if failing is not None:
                    log.warning("job housekeeping works again, after %d failed round(s)", failed_rounds)
                    failing, failed_rounds = None, 0
            except Exception as exc:
                failed_rounds += 1
                kind = type(exc).__name__
                if kind != failing:
                    failing = kind
                    if _outage(exc):
                        log.warning(
                            "job housekeeping paused: the database or the broker cannot be reached "
                            "(%s); trying again every %g s, logged again once it works",
                            _reason(exc),
                            interval,
                        )
                    else:
                        log.exception("job housekeeping failed; trying again every %g s", interval)
            self.stopping.wait(interval)

    def _run(self, job_id: int) -> None:
        assert self.store is not None  # the worker threads start after the store
        run_job(job_id, self.settings, self.store, self.stopping)
