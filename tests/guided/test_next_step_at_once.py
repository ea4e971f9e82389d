"""A model's next step run twice at once (two clicks, two scripts; runNextStep or POST
/models/{id}/next-step): one job, and the second is told the step changed (it queued two)."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import select

import backend.jobs.next_step as next_step
from backend.errors import Conflict
from backend.storage.job_tables import Job
from tests.helpers.guided import pca_model


async def test_a_next_step_run_twice_at_once_queues_one_job(
    server, dataset, database, guided_settings, monkeypatch
):
    model_id = await pca_model(server, dataset.id, infer=False)  # its next step: inference
    submit = next_step.submit_job

    async def slow_submit(*args: Any, **kwargs: Any) -> Any:
        await asyncio.sleep(0.3)  # the other request reads the model's jobs meanwhile
        return await submit(*args, **kwargs)

    monkeypatch.setattr(next_step, "submit_job", slow_submit)

    async def run() -> Any:
        async with database.session() as session:
            try:
                job = await next_step.run_model_next_step(
                    session, guided_settings, None, model_id, expected="infer", by="x"
                )
                return job.id
            except Conflict as refused:
                return refused

    answers = await asyncio.gather(run(), run())
    refused = [a for a in answers if isinstance(a, Conflict)]
    assert len(refused) == 1 and "now" in str(refused[0]), answers
    async with database.session() as session:
        infers = (
            await session.scalars(select(Job.id).where(Job.model_id == model_id, Job.kind == "infer"))
        ).all()
    assert len(infers) == 1
