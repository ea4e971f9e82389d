"""``run_job``: one job from claim to its final state. A plain function: actors only wrap it.

Outcomes: the entry point returns -> outputs renamed into place, job succeeded (model ready);
``JobCanceled`` -> canceled; the worker stopping -> queued again; any other exception -> failed
with its message and traceback. Partial outputs are removed in every case but success.
"""

from __future__ import annotations

import importlib
import logging
import os
import shutil
import socket
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from backend.algorithms import get_algorithm
from backend.jobs import states
from backend.jobs.artifacts import list_files, make_temp_dir, promote
from backend.jobs.execution import JobSpec, claim_job, finish_job, load_job_spec
from backend.jobs.naming import job_title
from backend.jobs.tasks import get_task
from backend.settings import Settings
from workers.context import JobCanceled, JobContext, JobInterrupted, JobLost
from workers.store import JobStore

log = logging.getLogger("labelwise.worker")


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.current_thread().name}"


def entry_function(kind: str, algorithm: str) -> Callable[[JobContext], Any]:
    """The worker function a job runs: the algorithm's train/infer, or a task's function."""
    if kind in ("train", "infer"):
        module = importlib.import_module(get_algorithm(algorithm).entry_point)
        return getattr(module, kind)
    module_name, _, name = get_task(kind).entry_point.partition(":")
    return getattr(importlib.import_module(module_name), name)


def started(spec: JobSpec) -> str:
    """The job's first log line: what runs (``backend.jobs.naming.job_title``), on how many items."""
    return f"{job_title(spec)} on {len(spec.items)} items"


class Heartbeat(threading.Thread):
    """Flushes the job's progress every ``interval`` seconds, which also proves it is alive; marks
    the job canceled when a cancel request goes unanswered for ``cancel_grace`` seconds (its code
    is stuck in one call) and removes its partial outputs."""

    def __init__(
        self, ctx: JobContext, interval: float, cancel_grace: float, temp: Path | None = None
    ) -> None:
        super().__init__(name=f"heartbeat-job-{ctx.job_id}", daemon=True)
        self.ctx = ctx
        self.interval = interval
        self.cancel_grace = cancel_grace
        self.temp = temp
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(self.interval):
            self.ctx.flush()
            if self.ctx.abandon_if_stuck(self.cancel_grace):
                if self.temp is not None:
                    shutil.rmtree(self.temp, ignore_errors=True)
                return

    def stop(self) -> None:
        self.done.set()
        self.join(self.interval + 5)


def _describe(exc: BaseException, settings: Settings) -> str:
    name = type(exc).__name__
    if name == "TimeLimitExceeded":
        return f"the job ran longer than its time limit ({settings.job_timeout_seconds} s)"
    text = str(exc) or "(no message)"
    return f"{name}: {text}"


def run_job(job_id: int, settings: Settings, store: JobStore, stopping: threading.Event | None = None) -> str:
    """Run job ``job_id`` if it is still queued; returns its final state (or "skipped")."""
    attempt = store.call(claim_job, job_id, worker_name())
    if attempt is None:
        log.info("job %s is not queued any more; message skipped", job_id)
        return "skipped"
    root = settings.artifact_dir
    try:
        spec = store.call(load_job_spec, job_id)
        temp = make_temp_dir(root, spec.output_rel, job_id, attempt)
    except Exception as exc:  # without this the job would read "running" until reaped
        reason = f"failed to load its inputs: {_describe(exc, settings)}"
        store.call(
            finish_job, job_id, attempt, states.FAILED,
            message=reason, error=reason, traceback=traceback.format_exc(),
        )  # fmt: skip
        return states.FAILED
    ctx = JobContext(spec, settings, store, temp, stopping)
    beat = Heartbeat(ctx, settings.heartbeat_seconds, settings.cancel_grace_seconds, temp)
    beat.start()
    outcome: tuple[str, dict[str, Any]]
    try:
        entry = entry_function(spec.kind, spec.algorithm)
        ctx.log(started(spec))
        entry(ctx)
        if ctx.flush() != "run":  # a cancel that arrived during the last step still counts
            ctx.check_canceled()
        promote(temp, root / spec.output_rel)
        outputs: dict[str, Any] = {"dir": spec.output_rel, "files": list_files(root / spec.output_rel)}
        if spec.kind != "train" and ctx.summary:  # a task's result (models keep theirs in their row)
            outputs["summary"] = ctx.summary
        outcome = (states.SUCCEEDED, {"message": "succeeded", "outputs": outputs, "summary": ctx.summary})
    except JobInterrupted:
        outcome = (states.QUEUED, {"message": "interrupted by a worker shutdown; queued to run again"})
    except JobLost:
        outcome = ("lost", {})
    except JobCanceled:
        outcome = (states.CANCELED, {"message": "canceled; stopped at a step boundary"})
    except BaseException as exc:  # time limits arrive as BaseException
        text = _describe(exc, settings)
        log.exception("job %s failed", job_id)
        outcome = (
            states.FAILED,
            {"message": f"failed: {text}", "error": text, "traceback": traceback.format_exc()},
        )
        if not isinstance(exc, Exception) and type(exc).__name__ != "TimeLimitExceeded":
            _finish(store, ctx, beat, temp, outcome)
            raise
    return _finish(store, ctx, beat, temp, outcome)


def _finish(store: JobStore, ctx: JobContext, beat: Heartbeat, temp: Any, outcome: tuple[str, dict]) -> str:
    state, values = outcome
    beat.stop()
    if state != states.SUCCEEDED:
        shutil.rmtree(temp, ignore_errors=True)
    if state == "lost":
        log.warning("job %s was taken from this worker; its results are dropped", ctx.job_id)
        return "lost"
    written = _through_outage(ctx, lambda: _record_end(store, ctx, state, values))
    if not written:
        log.warning("job %s changed state under this worker; %s not recorded", ctx.job_id, state)
        return "lost"
    return state


def _record_end(store: JobStore, ctx: JobContext, state: str, values: dict) -> bool:
    ctx.flush()  # the last log lines and metrics before the final state
    return store.call(finish_job, ctx.job_id, ctx.attempt, state, **values)


def _outage(exc: BaseException) -> bool:
    """The database cannot be reached now (stopped, restarting, a network cut)."""
    from sqlalchemy.exc import DBAPIError, OperationalError

    return isinstance(exc, OSError | OperationalError) or (
        isinstance(exc, DBAPIError) and exc.connection_invalidated
    )


def _through_outage(ctx: JobContext, write: Callable[[], bool]) -> bool:
    """The end of a job, written even if the database is away for a moment: tried again until
    the heartbeat timeout, after which the reaper has failed the job anyway (the write then
    finds it not running: False). A blip at the end of a long training lost its result."""
    deadline = time.monotonic() + ctx.settings.heartbeat_timeout_seconds
    pause = 0.5
    while True:
        try:
            return write()
        except Exception as exc:
            if not _outage(exc) or time.monotonic() + pause > deadline:
                raise
            log.warning(
                "job %s: its end not recorded yet, the database cannot be reached (%s); trying again",
                ctx.job_id,
                type(exc).__name__,
            )
            time.sleep(pause)
            pause = min(pause * 2, 5.0)
