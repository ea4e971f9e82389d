"""Fixtures for job tests: fast heartbeats, servers whose jobs run in process, image datasets.

A "server" here is the real app in an ``AsyncTestClient``: entering it runs the app's lifespan
(the job runtime starts), leaving it stops the runtime as ``labelwise serve`` does at exit.
Each server opens its own database engine: the client runs the app on another event loop.
"""

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
