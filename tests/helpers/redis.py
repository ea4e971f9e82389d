"""Redis for the job tests: the marks that require it, settings on the Redis broker, worker processes."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import datetime

import pytest
from litestar.testing import AsyncTestClient

from backend.cli.jobs import worker_argv
from backend.settings import Settings
from tests.helpers.cli import ROOT, env_of
from tests.helpers.jobs import serve
from workers import liveness

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


@contextmanager
def live_worker(settings: Settings, name: str = "gpu-node:1") -> Iterator[None]:
    """A worker's heartbeats, every 0.1 s as a worker process sends them, while the block runs
    (no worker process: a queued job stays queued, but a worker is alive)."""
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            liveness.beat(client, settings, name)
            stop.wait(0.1)

    liveness.beat(client, settings, name)
    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(5)
        client.close()


def last_seen(settings: Settings) -> datetime | None:
    """When a worker of ``settings``' queue last beat, as the server reads it."""
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        return liveness.last_seen(client, settings)
    finally:
        client.close()
