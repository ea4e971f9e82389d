"""Faults while the server runs: Redis stops and comes back; PostgreSQL drops every connection;
the disk fills up under an export or a job's artifacts. Each ends with a clear error or a retry,
a consistent database, and no artifact marked valid that is not.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import create_async_engine

from backend.labels import history
from backend.storage.job_tables import Job, Model
from tests.helpers.database import PG_ADMIN_URL, _backend
from tests.helpers.jobs import serve, wait_for
from tests.helpers.rest import add_class, create_dataset, item_ids


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RedisServer:
    """A redis-server of the test's own on a free port (never the shared one on 6379)."""

    def __init__(self, directory: Path) -> None:
        self.port = _free_port()
        self.directory = directory
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        argv = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no", "--dir", str(self.directory)]  # fmt: skip
        self.process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        self.process = None


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    if shutil.which("redis-server") is None:
        pytest.skip("no redis-server binary")
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()


async def _job_count(session) -> int:
    session.expire_all()
    return await session.scalar(select(func.count()).select_from(Job))


@pytest.mark.redis
async def test_redis_stopping_and_coming_back(redis_server, job_settings, image_dataset, session):
    settings = job_settings.model_copy(
        update={"broker_url": redis_server.url, "broker_namespace": f"lwfault-{uuid.uuid4().hex[:8]}"}
    )
    body = {"dataset_id": image_dataset.id, "algorithm": "test-sleeper", "parameters": {"steps": 1}}
    async with serve(settings) as client:
        first = await client.post("/api/v1/jobs", json=body)
        assert first.status_code == 201, first.text
        redis_server.stop()
        started = time.monotonic()
        down = await client.post("/api/v1/jobs", json=body)
        assert time.monotonic() - started < 15  # a clear answer, not a hang
        assert down.status_code == 503, down.text
        error = down.json()["error"]
        assert error["code"] == "BROKER_UNAVAILABLE" and "nothing was submitted" in error["message"]
        assert await _job_count(session) == 1  # the refused job left nothing behind
        reads = await client.get("/api/v1/jobs")
        assert reads.status_code == 200 and reads.json()["total"] == 1  # the rest of the app works

        redis_server.start()  # back, on the same port, empty (no persistence): a retry works
        again = await client.post("/api/v1/jobs", json=body)
        assert again.status_code == 201, again.text
        assert await _job_count(session) == 2
        queued = (await client.get(f"/api/v1/jobs/{again.json()['id']}")).json()
        assert queued["state"] == "queued" and queued["error"] is None


async def _terminate_connections(database_url: str) -> int:
    name = database_url.rsplit("/", 1)[1]
    engine = create_async_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            result = await conn.execute(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = :name AND pid <> pg_backend_pid()"
                ),
                {"name": name},
            )
            return int(result.scalar() or 0)
    finally:
        await engine.dispose()


@pytest.mark.skipif(_backend() != "postgres", reason="PostgreSQL only (LABELWISE_TEST_DATABASE=postgres)")
async def test_postgres_dropping_every_connection_mid_run(client, folder, settings, session):
    ds = (await create_dataset(client, folder, count=6))["dataset"]["id"]
    label = await add_class(client, ds, "a")
    ids = await item_ids(client, ds)
    accepted = 0
    for round_ in range(3):
        killed = await _terminate_connections(settings.database)
        assert killed >= 1  # the app's pooled connections (and the test's own session)
        for item in ids[round_ * 2 : round_ * 2 + 2]:
            started = time.monotonic()
            response = await client.post(
                f"/api/v1/datasets/{ds}/tags", json={"item_ids": [item], "label_id": label["id"]}
            )
            assert time.monotonic() - started < 30
            assert response.status_code in (201, 503), response.text
            if response.status_code == 503:
                error = response.json()["error"]
                assert error["code"] == "DATABASE_UNAVAILABLE" and "postgres" not in error["message"].lower()
            else:
                accepted += 1
        listing = await client.get(f"/api/v1/datasets/{ds}/labels")
        assert listing.status_code in (200, 503)
    assert accepted >= 4  # pre-ping replaces the dead connections: most requests just work
    await session.close()
    await asyncio.sleep(0)
    events = (await client.get(f"/api/v1/datasets/{ds}/events")).json()
    assert events["total"] == accepted  # every answered 201 is stored, no 503 left half an event
    assert await history.current_labels(session, ds) == await history.replayed_labels(session, ds)


# -- disk full ------------------------------------------------------------------------------------


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 256 KiB tmpfs: a real ENOSPC. Needs root with mount rights; otherwise the test is skipped."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("a tiny tmpfs needs root")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode()[:200]}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(disk: Path, leave: int) -> None:
    """Fill the disk but ``leave`` bytes."""
    stat = os.statvfs(disk)
    free = stat.f_bavail * stat.f_frsize
    with (disk / "filler").open("wb") as handle:
        handle.write(b"\0" * max(free - leave, 0))


def test_an_export_onto_a_full_disk_fails_clearly_and_leaves_no_file(tiny_disk, run_cli, folder):
    from tests.factories import image_folder

    image_folder(folder, count=60)
    run_cli("dataset", "add", "full-disk", str(folder))
    _fill(tiny_disk, leave=1024)
    target = tiny_disk / "labels.csv"
    result = run_cli("export", "full-disk", "--format", "csv", "-o", str(target), ok=False)
    assert "No space left on device" in result.output
    assert "Traceback" not in result.output
    assert not target.exists() and not (tiny_disk / "labels.csv.part").exists()


async def test_a_job_whose_artifacts_do_not_fit_fails_and_no_model_is_ready(
    tiny_disk,
    job_settings,
    image_dataset,
    session,
):
    settings = job_settings.model_copy(update={"data_dir": tiny_disk / "data"})
    settings.ensure_dirs()
    _fill(tiny_disk, leave=4 * 1024)
    params = {"n_components": 8, "batch_size": 8, "image_size": 32, "validation_fraction": 0.2}
    body = {"kind": "train", "dataset_id": image_dataset.id, "algorithm": "pca", "parameters": params}
    async with serve(settings) as client:
        submitted = await client.post("/api/v1/jobs", json=body)
        assert submitted.status_code == 201, submitted.text
        job = await wait_for(client, submitted.json()["id"], timeout=60)
    assert job["state"] == "failed"
    assert "space" in (job["error"] or "").lower(), job["error"]
    session.expire_all()
    model = await session.get(Model, job["model_id"])
    assert model is not None and model.state != "ready" and model.ready_at is None
    final = settings.artifact_dir / "models" / str(model.id)
    assert not final.exists() or not any(final.iterdir())
