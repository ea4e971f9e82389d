"""The web app's door to the job runtime (``workers.runtime.JobRuntime``), kept on ``app.state``.

``job_runtime_lifespan`` is the app's lifespan hook: at startup it makes the runtime and starts it
at once when there is work (queued or running jobs after a restart) or a real broker (the reaper
must watch remote workers); otherwise threads start with the first submitted job. At shutdown it
stops the runtime; running in-process jobs go back to the queue and run again at next start.
Only ``app.state`` is used, so this module needs no Litestar import.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from backend.jobs.enqueue import Enqueue
from backend.jobs.execution import has_active_jobs
from backend.jobs.fresh import any_fresh_dataset
from backend.jobs.presence import WorkerPresence

if TYPE_CHECKING:
    from workers.runtime import JobRuntime

STATE_KEY = "job_runtime"


def enqueue_for(state: Any) -> Enqueue | None:
    """The app's enqueue; None when the app runs no job runtime (``create_app(run_jobs=False)``):
    the job then waits in the database for a server that runs jobs."""
    runtime: JobRuntime | None = getattr(state, STATE_KEY, None)
    return runtime.enqueue if runtime is not None else None


async def worker_presence(state: Any) -> WorkerPresence | None:
    """Whether a worker consumes the app's queue (``backend/jobs/presence.py``); None when unknown
    (no job runtime in this app, or Redis cannot be asked)."""
    runtime: JobRuntime | None = getattr(state, STATE_KEY, None)
    if runtime is None:
        return None
    if runtime.embedded:
        return WorkerPresence(embedded=True)
    return await asyncio.to_thread(runtime.worker_presence)


async def ensure_running(state: Any) -> None:
    """Start the app's job runtime now (its ticker follows up keep-fresh jobs); no-op without one."""
    runtime: JobRuntime | None = getattr(state, STATE_KEY, None)
    if runtime is not None:
        await asyncio.to_thread(runtime.start)


@asynccontextmanager
async def job_runtime_lifespan(app: Any) -> AsyncIterator[None]:
    """Add to ``Litestar(lifespan=[...])``: runs jobs in process (embedded) or watches workers."""
    from workers.runtime import JobRuntime

    state = app.state
    runtime = JobRuntime(state.settings)
    setattr(state, STATE_KEY, runtime)
    async with state.database.session() as session:
        # A dataset that keeps models fresh needs the ticker: it queues the follow-up jobs.
        pending = await has_active_jobs(session) or await any_fresh_dataset(session)
    if pending or not runtime.embedded:
        await asyncio.to_thread(runtime.start)
    try:
        yield
    finally:
        await asyncio.to_thread(runtime.stop)
        setattr(state, STATE_KEY, None)
