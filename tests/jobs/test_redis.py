"""Jobs through Redis (127.0.0.1:6379) and `dramatiq` worker processes started apart from the app.

Each test run uses its own Redis key namespace and queue, removed afterwards.
"""

from __future__ import annotations

import io
import os
import signal

import numpy as np

from tests.helpers.jobs import wait_for
from tests.helpers.redis import pytestmark, start_worker, stop_worker  # noqa: F401  (pytestmark: needs Redis)


async def test_train_and_infer_through_redis_and_a_separate_worker_process(
    redis_client, redis_worker, image_dataset
):
    response = await redis_client.post(
        "/api/v1/jobs",
        json={
            "dataset_id": image_dataset.id,
            "algorithm": "pca",
            "parameters": {"n_components": 3, "batch_size": 8},
        },
    )
    assert response.status_code == 201, response.text
    job = await wait_for(redis_client, response.json()["id"], timeout=120)
    assert job["state"] == "succeeded", job["error"]
    assert f":{redis_worker.pid}:" not in job["worker"]  # the worker is a child of the dramatiq process
    assert f":{os.getpid()}:" not in job["worker"]  # not this process
    assert len((await redis_client.get(f"/api/v1/jobs/{job['id']}/metrics")).json()) == 5  # 36 items / 8

    response = await redis_client.post("/api/v1/jobs", json={"kind": "infer", "model_id": job["model_id"]})
    infer = await wait_for(redis_client, response.json()["id"], timeout=120)
    assert infer["state"] == "succeeded", infer["error"]
    vectors = np.load(
        io.BytesIO((await redis_client.get(f"/api/v1/jobs/{infer['id']}/outputs/vectors.npy")).content)
    )
    assert vectors.shape == (40, 3) and vectors.dtype == np.float32


async def test_a_running_job_on_a_redis_worker_is_canceled(redis_client, redis_worker, image_dataset):
    response = await redis_client.post(
        "/api/v1/jobs",
        json={
            "dataset_id": image_dataset.id,
            "algorithm": "test-sleeper",
            "parameters": {"steps": 2000, "step_seconds": 0.05},
        },
    )
    job = await wait_for(redis_client, response.json()["id"], ("running",), timeout=120)
    await redis_client.post(f"/api/v1/jobs/{job['id']}/cancel")
    job = await wait_for(redis_client, job["id"], timeout=20)
    assert job["state"] == "canceled" and job["done"] < 2000


async def test_a_killed_redis_worker_leaves_its_job_failed(redis_client, redis_worker, image_dataset):
    response = await redis_client.post(
        "/api/v1/jobs",
        json={
            "dataset_id": image_dataset.id,
            "algorithm": "test-sleeper",
            "parameters": {"steps": 2000, "step_seconds": 0.05},
        },
    )
    job = await wait_for(redis_client, response.json()["id"], ("running",), timeout=120)
    stop_worker(redis_worker, signal.SIGKILL)
    job = await wait_for(redis_client, job["id"], timeout=30)  # the server's reaper fails it
    assert job["state"] == "failed"
    assert "sent no heartbeat for more than 4 s" in job["error"]


async def test_a_job_on_a_stopping_redis_worker_goes_back_to_the_queue_and_runs_again(
    redis_client, redis_settings, image_dataset
):
    worker = start_worker(redis_settings)
    response = await redis_client.post(
        "/api/v1/jobs",
        json={
            "dataset_id": image_dataset.id,
            "algorithm": "test-sleeper",
            "parameters": {"steps": 40, "step_seconds": 0.05},
        },
    )
    job = await wait_for(redis_client, response.json()["id"], ("running",), timeout=120)
    stop_worker(worker, signal.SIGTERM)  # e.g. a redeploy: the job must not be lost or failed
    job = (await redis_client.get(f"/api/v1/jobs/{job['id']}")).json()
    assert job["state"] == "queued" and job["attempt"] == 2
    worker = start_worker(redis_settings)
    try:
        job = await wait_for(redis_client, job["id"], timeout=120)
    finally:
        stop_worker(worker)
    assert job["state"] == "succeeded" and job["attempt"] == 2
    log = [line["message"] for line in (await redis_client.get(f"/api/v1/jobs/{job['id']}/log")).json()]
    assert "interrupted by a worker shutdown; queued to run again" in log


async def test_jobs_queued_while_no_worker_runs_wait_in_redis(redis_client, redis_settings, image_dataset):
    response = await redis_client.post(
        "/api/v1/jobs",
        json={"dataset_id": image_dataset.id, "algorithm": "test-sleeper", "parameters": {"steps": 2}},
    )
    job_id = response.json()["id"]
    assert (await redis_client.get(f"/api/v1/jobs/{job_id}")).json()["state"] == "queued"
    worker = start_worker(redis_settings)
    try:
        job = await wait_for(redis_client, job_id, timeout=120)
    finally:
        stop_worker(worker)
    assert job["state"] == "succeeded"
