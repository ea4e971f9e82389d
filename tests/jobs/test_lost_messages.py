"""Queued jobs whose broker message is gone (issue 22): sent again once, counted, then failed.

Redis restarted without persistence loses every queued message; the database still says
"queued", and nothing would ever run those jobs. Here the namespace's keys are deleted (what a
FLUSH does) after a submit, through the real Redis broker and the real app, and the embedded
broker's in-memory queue is flushed under a runtime without worker threads.
"""

from __future__ import annotations

import asyncio

import pytest
import redis

from backend.jobs import submission
from backend.settings import Settings
from backend.storage.job_tables import Job, Model
from tests.helpers.jobs import serve, wait_for, wait_until
from tests.helpers.redis import REDIS_URL, redis_settings, start_worker, stop_worker  # noqa: F401
from tests.helpers.redis import pytestmark as redis_marks
from workers.runtime import JobRuntime

SLEEPER = {"algorithm": "test-sleeper", "parameters": {"steps": 2}}


def _flush(settings: Settings) -> int:
    """Delete the namespace's keys, as a Redis restarted without persistence would have none."""
    client = redis.Redis.from_url(REDIS_URL)
    try:
        keys = list(client.scan_iter(f"{settings.broker_namespace}:*"))
        return client.delete(*keys) if keys else 0
    finally:
        client.close()


def _queued_messages(settings: Settings) -> int:
    client = redis.Redis.from_url(REDIS_URL)
    try:
        return int(client.hlen(f"{settings.broker_namespace}:{settings.job_queue}.msgs"))
    finally:
        client.close()


@pytest.fixture
def lossy_settings(redis_settings: Settings) -> Settings:  # noqa: F811
    return redis_settings.model_copy(update={"lost_message_grace_seconds": 0.5})


async def _log(client, job_id: int) -> list[str]:  # type: ignore[no-untyped-def]
    return [line["message"] for line in (await client.get(f"/api/v1/jobs/{job_id}/log")).json()]


@redis_marks[0]
@redis_marks[1]
async def test_a_queued_job_whose_redis_message_was_flushed_is_sent_again_and_runs(
    lossy_settings, database, image_dataset
):
    async with serve(lossy_settings) as client:
        response = await client.post("/api/v1/jobs", json={"dataset_id": image_dataset.id, **SLEEPER})
        job_id = response.json()["id"]
        assert _queued_messages(lossy_settings) == 1
        assert _flush(lossy_settings) > 0
        await wait_until(
            lambda: asyncio.to_thread(_queued_messages, lossy_settings), timeout=30, what="the job sent again"
        )
        assert any("sent again (1 of at most 1)" in line for line in await _log(client, job_id))
        assert (await client.get(f"/api/v1/jobs/{job_id}")).json()["state"] == "queued"
        worker = start_worker(lossy_settings)
        try:
            job = await wait_for(client, job_id, timeout=120)
        finally:
            stop_worker(worker)
        assert job["state"] == "succeeded"


@redis_marks[0]
@redis_marks[1]
async def test_a_job_whose_redis_message_is_lost_twice_fails_saying_why(
    lossy_settings, database, image_dataset
):
    async with serve(lossy_settings) as client:
        response = await client.post(
            "/api/v1/jobs", json={"dataset_id": image_dataset.id, "algorithm": "pca", "parameters": {}}
        )
        job_id, model_id = response.json()["id"], response.json()["model_id"]
        _flush(lossy_settings)
        await wait_until(
            lambda: asyncio.to_thread(_queued_messages, lossy_settings), timeout=30, what="resend"
        )
        _flush(lossy_settings)
        job = await wait_for(client, job_id, timeout=30)
        assert job["state"] == "failed"
        assert "lost this job's queued message 2 time(s)" in job["error"] and "Retry" in job["error"]
        model = (await client.get(f"/api/v1/models/{model_id}")).json()
        assert model["state"] == "failed"
        assert _queued_messages(lossy_settings) == 0


async def test_a_job_lost_from_the_embedded_queue_is_sent_again_then_failed(
    job_settings, database, session, image_dataset
):
    settings = job_settings.model_copy(update={"lost_message_grace_seconds": 0.0})
    runtime = JobRuntime(settings)  # no worker threads: the message stays in the in-memory queue
    queue = runtime.broker.queues[settings.job_queue]

    def enqueue(job_id: int) -> str:
        return runtime.actor.send(job_id).message_id

    job = await submission.submit_job(
        session, settings, enqueue, kind="train", dataset_id=image_dataset.id, **SLEEPER
    )
    from workers.store import JobStore

    runtime.store = JobStore(settings)
    try:
        assert await asyncio.to_thread(runtime.sweep_lost_messages) == []  # its message is there
        runtime.broker.flush(settings.job_queue)
        assert await asyncio.to_thread(runtime.sweep_lost_messages) == [job.id]
        assert queue.qsize() == 1
        stored = await session.get(Job, job.id, populate_existing=True)
        assert stored is not None and stored.state == "queued" and stored.lost_messages == 1
        runtime.broker.flush(settings.job_queue)
        assert await asyncio.to_thread(runtime.sweep_lost_messages) == [job.id]
        stored = await session.get(Job, job.id, populate_existing=True)
        assert stored is not None and stored.state == "failed" and "2 time(s)" in (stored.error or "")
        model = await session.get(Model, stored.model_id, populate_existing=True)
        assert model is not None and model.state == "failed"
    finally:
        await asyncio.to_thread(runtime.stop)
