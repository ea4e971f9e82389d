"""A queued job with the Redis broker and no `labelwise worker` running says so (round two).

Before, it read "waiting for a worker" forever: a scientist who forgot to start the worker (the
compose service down, crashed) was never told. Each worker process now records a heartbeat in
Redis; a job queued past ``no_worker_grace_seconds`` while no heartbeat is that recent says since
when no worker was seen and how to start one: REST, GraphQL, the job page, the jobs list, the CLI.
Through a real Redis and the real app; the heartbeat of the last part comes from a real worker.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from click.testing import CliRunner

from backend.settings import Settings
from tests.helpers.cli import env_of, invoke
from tests.helpers.graphql import gql
from tests.helpers.jobs import serve, wait_for, wait_until
from tests.helpers.redis import last_seen, live_worker, redis_settings, start_worker, stop_worker  # noqa: F401
from tests.helpers.redis import pytestmark as redis_marks
from tests.html import all_of, by_id, has_class, maybe_one, parse, text_of

SLEEPER = {"algorithm": "test-sleeper", "parameters": {"steps": 2}}
GRACE = 0.5
JOB = "query($id: Int!) { job(id: $id) { state noWorker } }"
JOBS = "{ jobs { jobs { id noWorker } } }"


@pytest.fixture
def lonely_settings(redis_settings: Settings) -> Settings:  # noqa: F811
    return redis_settings.model_copy(update={"no_worker_grace_seconds": GRACE})


async def _notes(client, settings: Settings, job_id: int) -> dict[str, str | None]:  # type: ignore[no-untyped-def]
    """What each door says of the job's missing worker (None: nothing)."""
    rest = (await client.get(f"/api/v1/jobs/{job_id}")).json()["no_worker"]
    listed = {j["id"]: j["no_worker"] for j in (await client.get("/api/v1/jobs")).json()["jobs"]}
    graphql = (await gql(client, JOB, {"id": job_id}))["job"]["noWorker"]
    graphql_listed = {j["id"]: j["noWorker"] for j in (await gql(client, JOBS))["jobs"]["jobs"]}
    page = maybe_one(parse((await client.get(f"/jobs/{job_id}")).text), "//*[@id='job-no-worker']")
    table = parse((await client.get("/jobs")).text)
    marker = f".//tr[@data-job-id='{job_id}']//*[{has_class('no-worker')}]"
    row = all_of(by_id(table, "jobs-table"), marker)
    above = maybe_one(table, "//*[@id='jobs-no-worker']")
    cli_env = env_of(
        settings,
        LABELWISE_BROKER_URL=settings.broker_url,
        LABELWISE_BROKER_NAMESPACE=settings.broker_namespace,
        LABELWISE_JOB_QUEUE=settings.job_queue,
        LABELWISE_NO_WORKER_GRACE_SECONDS=str(settings.no_worker_grace_seconds),
    )
    shown = await invoke(CliRunner(env=cli_env), ["jobs", "show", str(job_id)])
    listing = await invoke(CliRunner(env=cli_env), ["jobs", "list"])
    assert shown.exit_code == 0 and listing.exit_code == 0, shown.output + listing.output
    waiting = [line for line in shown.output.splitlines() if line.startswith("waiting: ")]
    listed_cli = [line for line in listing.output.splitlines() if line.startswith("queued job(s) ")]
    return {
        "rest": rest,
        "rest list": listed[job_id],
        "graphql": graphql,
        "graphql list": graphql_listed[job_id],
        "page": text_of(page) if page is not None else None,
        "list row": row[0].get("title") if row else None,
        "list": text_of(above) if above is not None else None,
        "cli show": waiting[0] if waiting else None,
        "cli list": listed_cli[0] if listed_cli else None,
    }


@redis_marks[0]
@redis_marks[1]
async def test_a_job_queued_with_no_worker_alive_says_so_and_a_heartbeat_silences_it(
    lonely_settings, database, image_dataset
):
    async with serve(lonely_settings) as client:
        response = await client.post("/api/v1/jobs", json={"dataset_id": image_dataset.id, **SLEEPER})
        assert response.status_code == 201, response.text
        job_id = response.json()["id"]
        assert response.json()["no_worker"] is None  # just queued: within the grace
        await asyncio.sleep(GRACE + 0.2)

        notes = await _notes(client, lonely_settings, job_id)
        for door, note in notes.items():
            assert note is not None, f"{door}: no word of the missing worker ({notes})"
            assert "no worker has been seen" in note and "labelwise worker" in note, (door, note)
        assert notes["cli list"].startswith(f"queued job(s) {job_id} wait")

        # A worker's heartbeat: nothing is said any more, at any door.
        with live_worker(lonely_settings):
            notes = await _notes(client, lonely_settings, job_id)
        assert all(note is None for note in notes.values()), notes

        # Its heartbeats stop: once the grace has passed, the job says since when none was seen.
        seen = last_seen(lonely_settings)
        assert seen is not None
        await asyncio.sleep(GRACE + 0.2)
        note = (await client.get(f"/api/v1/jobs/{job_id}")).json()["no_worker"]
        assert note is not None and f"since {seen:%Y-%m-%d %H:%M:%S} UTC" in note


@redis_marks[0]
@redis_marks[1]
async def test_a_real_worker_process_records_its_heartbeat_and_runs_the_waiting_job(
    lonely_settings, database, image_dataset
):
    async with serve(lonely_settings) as client:
        response = await client.post("/api/v1/jobs", json={"dataset_id": image_dataset.id, **SLEEPER})
        job_id = response.json()["id"]
        await asyncio.sleep(GRACE + 0.2)
        assert (await client.get(f"/api/v1/jobs/{job_id}")).json()["no_worker"] is not None
        assert last_seen(lonely_settings) is None
        started = time.time()
        worker = start_worker(lonely_settings)
        try:
            await wait_until(
                lambda: asyncio.to_thread(last_seen, lonely_settings), timeout=60, what="a worker heartbeat"
            )
            seen = last_seen(lonely_settings)
            assert seen is not None and seen.timestamp() >= started - 1
            job = await wait_for(client, job_id, timeout=120)
        finally:
            stop_worker(worker)
        assert job["state"] == "succeeded" and job["no_worker"] is None
