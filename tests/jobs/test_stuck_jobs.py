"""A job stuck in one call (a hung network file system, a device): its heartbeat thread goes on, so
the reaper never sees it. Cancel still ends it, with either broker: without a step boundary within
the grace it is marked canceled without its code; "no progress" shows on its page meanwhile."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from backend.storage.job_tables import Job
from backend.storage.types import utcnow
from tests.helpers.cli import invoke
from tests.helpers.jobs import serve, wait_for
from tests.helpers.redis import start_worker, stop_worker
from tests.html import by_id, maybe_one, parse, text_of


async def _held_job_is_canceled_after_the_grace(
    client: Any, settings: Any, dataset_id: int, release: Path
) -> None:
    """Submit a sleeper held at step 1 until ``release`` exists; cancel it; the grace (1 s) ends it;
    then release the call: the code finds the job gone and writes nothing."""
    submitted = await client.post(
        "/api/v1/jobs",
        json={
            "dataset_id": dataset_id,
            "algorithm": "test-sleeper",
            "parameters": {"steps": 3, "step_seconds": 0.05, "hold_until": str(release)},
        },
    )
    job = await wait_for(client, submitted.json()["id"], ("running",), timeout=120)
    await asyncio.sleep(1.0)  # held at step 1: heartbeats go on, the code reports nothing
    job = (await client.get(f"/api/v1/jobs/{job['id']}")).json()
    assert job["state"] == "running" and job["progress_at"] < job["heartbeat_at"]

    assert (await client.post(f"/api/v1/jobs/{job['id']}/cancel")).status_code == 200
    note = by_id(parse((await client.get(f"/jobs/{job['id']}/live")).text), "cancel-note")
    assert "without one within 1 s it is marked canceled" in text_of(note)
    job = await wait_for(client, job["id"], timeout=20)
    assert job["state"] == "canceled" and job["error"] is None
    log = (await client.get(f"/api/v1/jobs/{job['id']}/log")).json()
    assert any("no step boundary within 1 s" in line["message"] for line in log)
    model = (await client.get(f"/api/v1/models/{job['model_id']}")).json()
    assert model["state"] == "canceled" and model["files"] == []
    model_dir = settings.artifact_dir / "models" / str(job["model_id"])
    assert list(model_dir.iterdir()) == []  # its partial outputs are gone

    release.touch()  # the call returns: the code finds the job gone and writes nothing
    second = await client.post(
        "/api/v1/jobs",
        json={"dataset_id": dataset_id, "algorithm": "test-sleeper", "parameters": {"steps": 2}},
    )
    assert (await wait_for(client, second.json()["id"], timeout=60))["state"] == "succeeded"
    again = (await client.get(f"/api/v1/jobs/{job['id']}")).json()
    assert again["state"] == "canceled" and again["finished_at"] == job["finished_at"]
    assert list(model_dir.iterdir()) == []
    assert (await client.get(f"/api/v1/models/{job['model_id']}")).json()["state"] == "canceled"


async def test_a_job_stuck_in_one_call_is_canceled_after_the_grace_in_process(
    job_settings, database, image_dataset, tmp_path
):
    settings = job_settings.model_copy(update={"cancel_grace_seconds": 1.0})
    release = tmp_path / "release"
    async with serve(settings) as client:
        try:
            await _held_job_is_canceled_after_the_grace(client, settings, image_dataset.id, release)
        finally:
            release.touch()  # a failed assertion must not leave the worker thread held


async def test_a_job_stuck_in_one_call_is_canceled_after_the_grace_on_a_redis_worker(
    redis_settings, database, image_dataset, tmp_path
):
    settings = redis_settings.model_copy(update={"cancel_grace_seconds": 1.0})
    release = tmp_path / "release"
    worker = start_worker(settings)  # its heartbeat thread is the one that gives up on the call
    try:
        async with serve(settings) as client:
            await _held_job_is_canceled_after_the_grace(client, settings, image_dataset.id, release)
    finally:
        release.touch()
        stop_worker(worker)


async def test_a_running_job_whose_code_is_quiet_says_so_on_its_page_and_in_the_cli(
    job_settings, database, session, image_dataset, cli
):
    settings = job_settings.model_copy(update={"heartbeat_timeout_seconds": 3600})  # no reaper here
    now = utcnow()
    quiet = Job(
        kind="train", state="running", algorithm="test-sleeper", dataset_id=image_dataset.id,
        worker="elsewhere", started_at=now - timedelta(minutes=30), heartbeat_at=now,
        progress_at=now - timedelta(minutes=12, seconds=5),
    )  # fmt: skip
    busy = Job(
        kind="train", state="running", algorithm="test-sleeper", dataset_id=image_dataset.id,
        worker="elsewhere", started_at=now - timedelta(minutes=30), heartbeat_at=now,
        progress_at=now - timedelta(seconds=20),
    )  # fmt: skip
    session.add_all([quiet, busy])
    await session.commit()
    async with serve(settings) as client:
        page = parse((await client.get(f"/jobs/{quiet.id}")).text)
        assert "No progress reported for 12 min" in text_of(by_id(page, "job-quiet"))
        live = parse((await client.get(f"/jobs/{busy.id}/live")).text)
        assert maybe_one(live, "//*[@id='job-quiet']") is None
        # running, no step reported yet: "starting" (it said "waiting for a worker" beside "running")
        status = text_of(by_id(live, "job-live"))
        assert "starting" in status and "waiting for a worker" not in status
        shown = (await client.get(f"/api/v1/jobs/{quiet.id}")).json()
        assert shown["progress_at"].startswith(
            (now - timedelta(minutes=12, seconds=5)).strftime("%Y-%m-%dT%H:%M")
        )
        graphql = await client.post("/graphql", json={"query": f"{{ job(id: {quiet.id}) {{ progressAt }} }}"})
        at = graphql.json()["data"]["job"]["progressAt"]
        assert datetime.fromisoformat(at) == datetime.fromisoformat(shown["progress_at"])
    shown_cli = await invoke(cli, ["jobs", "show", str(quiet.id)])
    assert shown_cli.exit_code == 0, shown_cli.output
    seconds = int(shown_cli.output.split("last progress ", 1)[1].split(" s ago", 1)[0])
    assert 725 <= seconds < 800
