"""`labelwise jobs ...` through click, and a worker process killed with SIGKILL mid-job."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from click.testing import CliRunner

from backend.cli.jobs import main
from backend.jobs import queries as job_queries
from backend.settings import get_settings
from backend.storage.job_tables import Job
from tests.helpers.cli import ROOT, env_of
from tests.helpers.jobs import serve, wait_for, wait_until


def test_cli_trains_and_infers_and_shows_the_job(cli, image_dataset, database):
    result = cli.invoke(
        main,
        ["jobs", "submit", "--dataset", image_dataset.name, "--algorithm", "pca", "--param", "n_components=3",
         "--param", "batch_size=8", "--param", "image_size=12", "--param", "log_transform=false", "--wait"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "succeeded" in result.output
    job_id = int(result.output.split()[1])

    shown = cli.invoke(main, ["jobs", "show", str(job_id)])
    assert shown.exit_code == 0, shown.output
    assert '"log_transform": false' in shown.output and '"n_components": 3' in shown.output
    assert "epoch    1  train_loss=" in shown.output
    assert "queued by cli-user" in shown.output
    assert "pca.npz" in shown.output

    models = cli.invoke(main, ["jobs", "models", "--dataset", image_dataset.name])
    model_id = int(models.output.split()[0])
    assert "ready" in models.output
    inferred = cli.invoke(main, ["jobs", "submit", "--kind", "infer", "--model", str(model_id), "--wait"])
    assert inferred.exit_code == 0, inferred.output
    assert "succeeded" in inferred.output
    listed = cli.invoke(main, ["jobs", "list", "--state", "succeeded"])
    assert len(listed.output.strip().splitlines()) == 2


def test_cli_refuses_bad_parameters_with_every_reason(cli, image_dataset, database):
    result = cli.invoke(
        main,
        ["jobs", "submit", "--dataset", image_dataset.name, "--algorithm", "pca",
         "--param", "n_components=many", "--param", "image_size=4"],
    )  # fmt: skip
    assert result.exit_code == 1
    assert "Components must be a whole number, got 'many'" in result.output
    result = cli.invoke(
        main,
        ["jobs", "submit", "--dataset", image_dataset.name, "--algorithm", "pca", "--param", "image_size=4"],
    )
    assert "Image size must be at least 8, got 4" in result.output
    assert "no jobs" in cli.invoke(main, ["jobs", "list"]).output


def test_cli_cancels_a_queued_job_and_retries_it(cli, image_dataset, database):
    queued = cli.invoke(
        main,
        [
            "jobs",
            "submit",
            "--dataset",
            image_dataset.name,
            "--algorithm",
            "test-sleeper",
            "--param",
            "steps=2",
        ],
    )
    assert "picks it up" in queued.output
    job_id = queued.output.split()[1]
    assert "canceled" in cli.invoke(main, ["jobs", "cancel", job_id]).output
    retried = cli.invoke(main, ["jobs", "retry", job_id, "--wait"])
    assert retried.exit_code == 0, retried.output
    assert "attempt 2" in retried.output and "succeeded" in retried.output


def test_cli_submit_with_the_broker_down_says_so_and_creates_nothing(job_settings, image_dataset, database):
    get_settings.cache_clear()
    try:
        down = CliRunner(env=env_of(job_settings, LABELWISE_BROKER_URL="redis://:pw@127.0.0.1:9/0"))
        result = down.invoke(main, ["jobs", "submit", "--dataset", image_dataset.name, "--algorithm", "pca"])
        assert result.exit_code == 1
        assert "BROKER_UNAVAILABLE" in result.output and "redis://127.0.0.1:9" in result.output
        assert "nothing was submitted" in result.output and "pw" not in result.output
        assert "no jobs" in down.invoke(main, ["jobs", "list"]).output
        assert down.invoke(main, ["jobs", "models"]).output == ""
    finally:
        get_settings.cache_clear()


def test_worker_command_needs_a_redis_broker(cli):
    result = cli.invoke(main, ["worker"])
    assert result.exit_code == 1
    assert "needs LABELWISE_BROKER_URL=redis://" in result.output


async def test_a_killed_worker_process_leaves_its_job_failed_not_running(
    database, image_dataset, job_settings
):
    """A separate process runs the job (the CLI with the embedded broker); SIGKILL it mid-job."""
    command = [sys.executable, "-m", "backend.cli.jobs", "jobs", "submit", "--dataset", image_dataset.name,
               "--algorithm", "test-sleeper", "--param", "steps=2000", "--param", "step_seconds=0.05",
               "--wait"]  # fmt: skip
    process = subprocess.Popen(
        command, cwd=ROOT, env={**os.environ, **env_of(job_settings)}, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:

        async def running() -> Job | None:
            async with database.session() as session:
                jobs = (await job_queries.list_jobs(session)).jobs
            return jobs[0] if jobs and jobs[0].state == "running" and jobs[0].done >= 2 else None

        job = await wait_until(running, 60, "the job to run in the other process")
        assert f":{process.pid}:" in (job.worker or "")
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)
        time.sleep(0.3)
        assert (await running()) is not None  # nobody can tell yet
        async with serve(job_settings) as client:  # a server starts and watches heartbeats
            failed = await wait_for(client, job.id, timeout=20)
            model = (await client.get(f"/api/v1/models/{job.model_id}")).json()
        assert failed["state"] == "failed"
        assert "sent no heartbeat" in failed["error"] and "killed" in failed["error"]
        assert model["state"] == "failed" and model["files"] == []
        model_dir = job_settings.artifact_dir / "models" / str(job.model_id)
        assert not model_dir.exists() or list(model_dir.iterdir()) == []
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
        if process.stdout is not None:
            process.stdout.close()
