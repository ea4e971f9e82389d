"""The end of a job written through a moment without the database: a blip as a long training
finished left it 'running' until the reaper failed it, its result promoted but never recorded."""

from __future__ import annotations

import asyncio

from backend.jobs import queries as job_queries
from backend.jobs import submission
from backend.jobs.execution import finish_job
from workers.runner import run_job
from workers.store import JobStore


async def test_a_job_finishing_while_the_database_blinks_is_recorded_when_it_is_back(
    job_settings, database, session, image_dataset
):
    job = await submission.submit_job(
        session, job_settings, None, kind="train", dataset_id=image_dataset.id,
        algorithm="test-sleeper", parameters={"steps": 2, "step_seconds": 0},
    )  # fmt: skip
    store = JobStore(job_settings)
    real_call = store.call
    refused = []

    def call(fn, *args, **kwargs):  # type: ignore[no-untyped-def]
        if fn is finish_job and len(refused) < 2:  # PostgreSQL restarting as the job ends
            refused.append(fn)
            raise ConnectionRefusedError(111, "Connect call failed")
        return real_call(fn, *args, **kwargs)

    store.call = call  # type: ignore[method-assign]
    try:
        state = await asyncio.to_thread(run_job, job.id, job_settings, store)
    finally:
        store.close()
    assert len(refused) == 2 and state == "succeeded"
    done = await job_queries.get_job(session, job.id)
    assert done.state == "succeeded" and done.outputs.get("dir")
