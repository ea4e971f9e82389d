"""Jobs across server restarts, a stopping server, and workers that die without a word."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from backend.jobs import queries as job_queries
from backend.jobs import submission
from backend.jobs.artifacts import make_temp_dir
from backend.jobs.execution import claim_job, finish_job, reap_stale_jobs
from backend.models import queries as model_queries
from backend.storage.job_tables import Job
from backend.storage.types import utcnow
from tests.helpers.jobs import serve, wait_for


async def test_a_job_queued_while_no_server_ran_is_run_after_start(
    job_settings, database, image_dataset, session
):
    # Queued in the database only, as when the server was down or the CLI submitted it.
    job = await submission.submit_job(
        session, job_settings, None, kind="train", dataset_id=image_dataset.id,
        algorithm="test-sleeper", parameters={"steps": 2, "step_seconds": 0},
    )  # fmt: skip
    assert job.message_id is None
    async with serve(job_settings) as client:
        done = await wait_for(client, job.id)
    assert done["state"] == "succeeded"


async def test_a_job_running_when_the_server_stops_runs_again_after_restart(
    job_settings, database, image_dataset
):
    async with serve(job_settings) as client:
        response = await client.post(
            "/api/v1/jobs",
            json={
                "dataset_id": image_dataset.id,
                "algorithm": "test-sleeper",
                "parameters": {"steps": 40, "step_seconds": 0.02},
            },
        )
        job = await wait_for(client, response.json()["id"], ("running",))
        while job["done"] < 2:
            job = await wait_for(client, job["id"], ("running",))
    async with serve(job_settings) as client:
        # the first server stopped: the job went back to the queue, as its next attempt
        stopped = (await client.get(f"/api/v1/jobs/{job['id']}")).json()
        assert stopped["attempt"] == 2 and stopped["state"] in ("queued", "running")
        job = await wait_for(client, job["id"])
        assert job["state"] == "succeeded" and job["attempt"] == 2
        metrics = (await client.get(f"/api/v1/jobs/{job['id']}/metrics")).json()
        assert [m["epoch"] for m in metrics] == list(range(1, 41))  # this attempt's, no repeats
        log = [line["message"] for line in (await client.get(f"/api/v1/jobs/{job['id']}/log")).json()]
        assert "interrupted by a worker shutdown; queued to run again" in log


async def test_a_running_job_without_heartbeats_is_failed_by_the_reaper(image_dataset, session, job_settings):
    job = await submission.submit_job(
        session, job_settings, None, kind="train", dataset_id=image_dataset.id, algorithm="test-sleeper"
    )
    attempt = await claim_job(session, job.id, "gone-host:1234:worker")
    assert attempt == 1
    temp = make_temp_dir(job_settings.artifact_dir, f"models/{job.model_id}/model", job.id, attempt)
    (temp / "half.bin").write_bytes(b"x" * 10)

    assert await reap_stale_jobs(session, job_settings) == []  # a fresh heartbeat: alive
    await session.execute(
        update(Job).where(Job.id == job.id).values(heartbeat_at=utcnow() - timedelta(seconds=10))
    )
    await session.commit()
    assert await reap_stale_jobs(session, job_settings) == [job.id]

    job = await job_queries.get_job(session, job.id)
    assert job.state == "failed"
    assert "gone-host:1234:worker sent no heartbeat for more than 4 s" in (job.error or "")
    model = await model_queries.get_model(session, job.model_id)  # type: ignore[arg-type]
    assert model.state == "failed"
    assert not temp.exists()
    assert await reap_stale_jobs(session, job_settings) == []


def test_promote_replaces_an_older_result_whole(tmp_path):
    from backend.jobs.artifacts import promote

    final = tmp_path / "models/7/infer/job-3"
    first = make_temp_dir(tmp_path, "models/7/infer/job-3", 3, 1)
    (first / "vectors.npy").write_bytes(b"old")
    promote(first, final)
    second = make_temp_dir(tmp_path, "models/7/infer/job-3", 3, 2)
    (second / "vectors.npy").write_bytes(b"new")
    promote(second, final)
    assert (final / "vectors.npy").read_bytes() == b"new"
    assert [p.name for p in final.parent.iterdir()] == ["job-3"]  # no temporary or old copy left


async def test_a_job_put_back_by_a_stopping_worker_shows_no_progress_of_the_attempt_before(
    image_dataset, session, job_settings
):
    """A worker stopped mid-training puts its job back in the queue as the next attempt, which
    starts from the beginning: the list read 'queued 0/360 epoch 9/40' until it ran again."""
    job = await submission.submit_job(
        session, job_settings, None, kind="train", dataset_id=image_dataset.id, algorithm="test-sleeper"
    )
    attempt = await claim_job(session, job.id, "host:1:worker")
    assert attempt == 1
    await session.execute(
        update(Job)
        .where(Job.id == job.id)
        .values(done=80, total=360, epoch=9, epochs=40, progress_at=utcnow())
    )
    await session.commit()
    assert await finish_job(session, job.id, attempt, "queued", message="interrupted")
    queued = await job_queries.get_job(session, job.id)
    assert queued.state == "queued" and queued.attempt == 2
    assert (queued.done, queued.total, queued.epoch, queued.epochs, queued.progress_at) == (
        0,
        0,
        None,
        None,
        None,
    )
