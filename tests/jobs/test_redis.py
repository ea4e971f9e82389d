"""Jobs through Redis (127.0.0.1:6379) and `dramatiq` worker processes started apart from the app.

Each test run uses its own Redis key namespace and queue, removed afterwards.
"""

from __future__ import annotations

import io
import os
import signal
import socket
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import numpy as np
import pytest
from litestar.testing import AsyncTestClient

from backend.cli.jobs import worker_argv
from backend.settings import Settings
from tests.jobs.conftest import serve, wait_for
from tests.jobs.test_cli_jobs import env_of

ROOT = Path(__file__).resolve().parents[2]
REDIS_URL = "redis://127.0.0.1:6379/0"


def _redis_up() -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", 6379)) == 0


pytestmark = [
    pytest.mark.redis,
    # Required (fails rather than skips) in CI and in the LABELWISE_TEST_BROKER=redis pass.
    pytest.mark.skipif(
        not _redis_up()
        and os.environ.get("CI") != "true"
        and os.environ.get("LABELWISE_TEST_BROKER") != "redis",
        reason="no Redis on 127.0.0.1:6379 (CI has one)",
    ),
]


@pytest.fixture
def redis_settings(job_settings: Settings) -> Iterator[Settings]:
    run = uuid.uuid4().hex[:10]
    settings = job_settings.model_copy(
        update={"broker_url": REDIS_URL, "broker_namespace": f"lwtest-{run}", "job_queue": f"jobs-{run}"}
    )
    yield settings
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(f"{settings.broker_namespace}*"))
    if keys:
        client.delete(*keys)
    client.close()


def start_worker(settings: Settings) -> subprocess.Popen:
    env = env_of(
        settings,
        LABELWISE_BROKER_URL=settings.broker_url,
        LABELWISE_BROKER_NAMESPACE=settings.broker_namespace,
        LABELWISE_JOB_QUEUE=settings.job_queue,
    )
    return subprocess.Popen(
        worker_argv(settings, processes=1, threads=1),
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: the test can kill all of it
    )


def stop_worker(process: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    """SIGTERM to the dramatiq main process, which passes it on (a second SIGTERM straight to a
    worker process would make it kill itself instead of stopping gracefully); SIGKILL to all."""
    if process.poll() is None:
        if sig == signal.SIGKILL:
            os.killpg(process.pid, sig)
        else:
            os.kill(process.pid, sig)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)


@pytest.fixture
def redis_worker(redis_settings: Settings) -> Iterator[subprocess.Popen]:
    process = start_worker(redis_settings)
    yield process
    stop_worker(process)


@pytest.fixture
async def redis_client(redis_settings: Settings, database) -> AsyncIterator[AsyncTestClient]:  # type: ignore[no-untyped-def]
    async with serve(redis_settings) as client:  # its reaper watches the worker processes
        yield client


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
