"""Job helpers and fixtures shared by the tests: fast heartbeats, servers whose jobs run in process,
image datasets, waiting for a job.

A "server" here is the real app in an ``AsyncTestClient``: entering it runs the app's lifespan
(the job runtime starts), leaving it stops the runtime as ``labelwise serve`` does at exit.
Each server opens its own database engine: the client runs the app on another event loop."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncSession

import tests.jobs.sleeper  # noqa: F401  (registers the test algorithm)
from backend.datasets.service import create_dataset
from backend.settings import Settings
from backend.storage.tables import Dataset
from tests.factories import image_folder

FINISHED = ("succeeded", "failed", "canceled")

# The first UMAP projection in a process waits on ``import umap`` (which imports TensorFlow for its
# parametric model) and on numba compiling UMAP's kernels, whatever the number of items: 17 to 36 s
# on a 2-core machine, over 60 s on a busy CI one; the next one on 30 items takes half a second.
# A wait for a UMAP job allows for that.
FIRST_UMAP_SECONDS = 300.0

# The queue's first suggestion trains a CNN extractor (contrastive, 30 epochs on 30 items): 8 to 15 s
# on an idle 2-core machine, over 80 s with the load at 9 (epoch 23 of 30 after 60 s) and up to about
# 190 s at 13. A test that waits for such a training, or for what the server does after it, allows
# for that (inside pytest's 600 s per test).
CNN_TRAINING_SECONDS = 450.0


@pytest.fixture
def job_settings(settings: Settings) -> Settings:
    """Heartbeats every 0.1 s, a dead worker noticed after 4 s (shorter fails live jobs on a busy
    2-core CI machine, where a heartbeat can lag a second or more)."""
    return settings.model_copy(update={"heartbeat_seconds": 0.1, "heartbeat_timeout_seconds": 4.0})


@asynccontextmanager
async def serve(settings: Settings) -> AsyncIterator[AsyncTestClient]:
    """A server start and, at the end of the block, its stop."""
    from backend.app import create_app

    async with AsyncTestClient(app=create_app(settings)) as client:
        yield client


@pytest.fixture
async def jobs_client(job_settings: Settings, database: Any) -> AsyncIterator[AsyncTestClient]:
    async with serve(job_settings) as client:
        yield client


async def make_dataset(session: AsyncSession, settings: Settings, folder: Path, count: int = 40) -> Dataset:
    image_folder(folder / "images", count=count)
    dataset, _ = await create_dataset(session, settings, f"ds-{folder.name}", [str(folder / "images")])
    return dataset


@pytest.fixture
async def image_dataset(session: AsyncSession, job_settings: Settings, folder: Path) -> Dataset:
    return await make_dataset(session, job_settings, folder)


async def wait_for(client: Any, job_id: int, states: tuple[str, ...] = FINISHED, timeout: float = 60) -> dict:
    """Poll the REST API until the job is in one of ``states``."""
    deadline = time.monotonic() + timeout
    while True:
        job = (await client.get(f"/api/v1/jobs/{job_id}")).json()
        if job["state"] in states:
            return job
        if time.monotonic() > deadline:
            raise AssertionError(f"job {job_id} still {job['state']} after {timeout}s: {job}")
        await asyncio.sleep(0.05)


async def wait_until(check: Any, timeout: float = 30, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


API = "/api/v1"


FAST = {"steps": 1, "step_seconds": 0}


async def switch(client: Any, dataset_id: int, on: bool, **extra: Any) -> dict[str, Any]:
    response = await client.put(
        f"{API}/datasets/{dataset_id}/keep-fresh", json={"keep_models_fresh": on, **extra}
    )
    assert response.status_code == 200, response.text
    return response.json()


async def train(client: Any, dataset_id: int, algorithm: str, parameters: dict | None = None) -> dict:
    body = {"dataset_id": dataset_id, "algorithm": algorithm, "parameters": parameters or {}}
    response = await client.post(f"{API}/jobs", json=body)
    assert response.status_code == 201, response.text
    return response.json()


async def follow_up(client: Any, job_id: int, dataset_id: int, timeout: float = 30) -> dict[str, Any]:
    async def found() -> dict | None:
        jobs = (await client.get(f"{API}/jobs", params={"dataset_id": dataset_id})).json()["jobs"]
        return next((j for j in jobs if j["caused_by_job_id"] == job_id), None)

    return await wait_until(found, timeout, f"the follow-up of job {job_id}")
