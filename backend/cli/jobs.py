"""`labelwise jobs ...` (submit, list, show, cancel, retry, wait, algorithms, models) and
`labelwise worker` (real Dramatiq worker processes for a Redis broker).

With the embedded broker a job submitted here is queued in the database and a running
`labelwise serve` picks it up; `--wait` runs it in this process instead if no server does first.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import click

from backend.cli.common import (
    _call,
    _enqueuer,
    _line,
    _no_worker_notes,
    _parse_params,
    _prepare,
    _report,
    _wait,
)
from backend.settings import Settings, get_settings
from backend.storage.ids import stored_id


@click.group("jobs")
def jobs() -> None:
    """Train and apply models: submit, follow, cancel and retry background jobs."""


@jobs.command("algorithms")
@click.option("--schema", "show_schema", is_flag=True, help="Print each algorithm's JSON schema.")
def algorithms_cmd(show_schema: bool) -> None:
    """List the registered algorithms and their parameters."""
    from backend.algorithms import list_algorithms

    for algorithm in list_algorithms():
        click.echo(f"{algorithm.key}  ({algorithm.kind})  {algorithm.title}: {algorithm.description}")
        if show_schema:
            click.echo(json.dumps(algorithm.schema, indent=2))
            continue
        for name, spec in algorithm.schema.get("properties", {}).items():
            bounds = ""
            if "minimum" in spec or "maximum" in spec:
                bounds = f" [{spec.get('minimum', '')}..{spec.get('maximum', '')}]"
            if "enum" in spec:
                bounds = f" {{{', '.join(map(str, spec['enum']))}}}"
            click.echo(
                f"    {name}={spec.get('default', '')!s:<8} {spec.get('type', '')}{bounds}  "
                f"{spec.get('description', '')}"
            )


@jobs.command("submit")
@click.option(
    "--kind",
    type=click.Choice(["train", "infer", "project", "cluster", "build-index"]),
    default="train",
    show_default=True,
    help="train an algorithm; infer, project, cluster or build-index on a trained model.",
)
@click.option(
    "--dataset", "dataset_name", default=None, help="Dataset name (train; infer: default the model's)."
)
@click.option("--algorithm", default=None, help="Algorithm key (train), see `labelwise jobs algorithms`.")
@click.option("--model", "model_id", type=int, default=None, help="Model id (all kinds but train).")
@click.option("--param", "params", multiple=True, metavar="NAME=VALUE", help="A parameter; repeat for more.")
@click.option("--params-json", default=None, help="Parameters as a JSON object.")
@click.option("--name", default=None, help="Name of the model to train.")
@click.option("--wait", is_flag=True, help="Follow the job to its end (embedded broker: run it here).")
def submit_cmd(
    kind: str,
    dataset_name: str | None,
    algorithm: str | None,
    model_id: int | None,
    params: tuple[str, ...],
    params_json: str | None,
    name: str | None,
    wait: bool,
) -> None:
    """Queue a job (training, inference, projection, clustering, index); invalid parameters are
    refused with every reason before anything is queued."""
    from backend.algorithms import get_algorithm
    from backend.datasets.service import get_dataset_by_name
    from backend.jobs import submission
    from backend.jobs.naming import job_title
    from backend.models import queries as model_queries

    settings = get_settings()
    _prepare(settings)

    async def work(session: Any) -> Any:
        dataset_id = (await get_dataset_by_name(session, dataset_name)).id if dataset_name else None
        if kind == "train":
            if not algorithm:
                raise click.UsageError("--algorithm is required to train")
            schema = get_algorithm(algorithm).schema
        elif model_id is None:
            raise click.UsageError(f"--model is required for {kind}")
        elif kind == "infer":
            schema = get_algorithm((await model_queries.get_model(session, model_id)).algorithm).infer_schema
        else:
            from backend.jobs.tasks import get_task

            schema = get_task(kind).schema
        parameters = _parse_params(schema, params, params_json)
        return await submission.submit_job(
            session,
            settings,
            _enqueuer(settings),
            kind=kind,
            dataset_id=dataset_id,
            algorithm=algorithm,
            model_id=model_id,
            parameters=parameters,
            name=name,
            submitted_by=settings.tagger,
        )

    job = _call(settings, work)
    model = f", model {job.model_id}" if job.kind in ("train", "infer") else ""  # a task's title names it
    click.echo(f"job {job.id} queued ({job_title(job)}{model})")
    if wait:
        _report(_wait(settings, stored_id(job), run_here=True))
    elif not settings.broker_url:
        click.echo("a running `labelwise serve` picks it up; or follow it with `labelwise jobs wait`")


@jobs.command("wait")
@click.argument("job_id", type=int)
@click.option(
    "--run-here/--no-run-here", default=True, help="Embedded broker: run queued jobs in this process."
)
def wait_cmd(job_id: int, run_here: bool) -> None:
    """Follow a job to its end; exits 1 if it failed."""
    settings = get_settings()
    _prepare(settings)
    _report(_wait(settings, job_id, run_here))


@jobs.command("list")
@click.option("--dataset", "dataset_name", default=None)
@click.option("--state", default=None, help="queued, running, succeeded, failed or canceled.")
@click.option("--limit", default=50, show_default=True)
def list_cmd(dataset_name: str | None, state: str | None, limit: int) -> None:
    """Jobs, newest first."""
    from backend.datasets.service import get_dataset_by_name
    from backend.jobs import queries as job_queries

    settings = get_settings()
    _prepare(settings)

    async def work(session: Any) -> Any:
        dataset_id = (await get_dataset_by_name(session, dataset_name)).id if dataset_name else None
        return await job_queries.list_jobs(session, dataset_id=dataset_id, state=state, limit=limit)

    page = _call(settings, work)
    if not page.jobs:
        click.echo("no jobs")
    for job in page.jobs:
        click.echo(_line(job))
    notes = _no_worker_notes(settings, page.jobs)
    if notes:  # the same words for each: once, naming the jobs
        ids = ", ".join(str(i) for i in sorted(notes))
        click.echo(f"queued job(s) {ids} wait: {next(iter(notes.values()))}")


@jobs.command("show")
@click.argument("job_id", type=int)
def show_cmd(job_id: int) -> None:
    """A job's state, parameters, metrics, log and outputs."""
    from backend.jobs import queries as job_queries

    settings = get_settings()

    async def work(session: Any) -> Any:
        return (
            await job_queries.get_job(session, job_id),
            await job_queries.job_metrics(session, job_id),
            await job_queries.job_log(session, job_id),
        )

    job, metrics, log = _call(settings, work)
    click.echo(_line(job))
    click.echo(f"parameters: {json.dumps(job.parameters)}")
    note = _no_worker_notes(settings, [job]).get(job.id)
    if note:
        click.echo(f"waiting: {note}")
    quiet = job_queries.quiet_seconds(job)
    if quiet is not None:  # a long step, or stuck in one call: its heartbeat does not tell
        click.echo(f"last progress {quiet:.0f} s ago")
    click.echo(
        f"attempt {job.attempt}, submitted by {job.submitted_by or '?'} at {job.created_at:%Y-%m-%d %H:%M:%S}"
    )
    for metric in metrics:
        values = "  ".join(f"{k}={v:.5g}" for k, v in metric.metrics.items())
        click.echo(f"  epoch {metric.epoch:>4}  {values}")
    for line in log:
        click.echo(f"  {line.at:%H:%M:%S} [{line.level}] {line.message}")
    if job.error:
        click.echo(f"error: {job.error}")
    if job.outputs.get("files"):
        click.echo(
            f"outputs in {settings.artifact_dir / job.outputs['dir']}: {', '.join(job.outputs['files'])}"
        )


@jobs.command("cancel")
@click.argument("job_id", type=int)
def cancel_cmd(job_id: int) -> None:
    """Cancel a queued job, or ask a running one to stop at its next step."""
    from backend.jobs import control

    settings = get_settings()
    job = _call(settings, control.cancel_job, job_id, by=settings.tagger)
    click.echo(
        f"job {job.id} canceled"
        if job.state == "canceled"
        else f"job {job.id}: cancel requested, it stops soon"
    )


@jobs.command("retry")
@click.argument("job_id", type=int)
@click.option("--wait", is_flag=True, help="Follow the job to its end (embedded broker: run it here).")
def retry_cmd(job_id: int, wait: bool) -> None:
    """Run a failed or canceled job again."""
    from backend.jobs import control

    settings = get_settings()
    _prepare(settings)
    job = _call(settings, control.retry_job, settings, _enqueuer(settings), job_id, by=settings.tagger)
    click.echo(f"job {job.id} queued again (attempt {job.attempt})")
    if wait:
        _report(_wait(settings, stored_id(job), run_here=True))


@jobs.command("models")
@click.option("--dataset", "dataset_name", default=None)
def models_cmd(dataset_name: str | None) -> None:
    """Trained models, newest first."""
    from backend.datasets.service import get_dataset_by_name
    from backend.models import queries as model_queries

    settings = get_settings()
    _prepare(settings)

    async def work(session: Any) -> Any:
        dataset_id = (await get_dataset_by_name(session, dataset_name)).id if dataset_name else None
        return await model_queries.list_models(session, dataset_id=dataset_id)

    for model in _call(settings, work):
        click.echo(
            f"{model.id:>6}  {model.name:<30} {model.algorithm:<16} {model.state:<9} {model.dataset_id}"
        )


def worker_argv(settings: Settings, processes: int, threads: int) -> list[str]:
    """The `dramatiq` command line that serves this installation's job queue."""
    return [
        sys.executable, "-m", "dramatiq", "workers.entry",
        "--processes", str(processes), "--threads", str(threads), "--queues", settings.job_queue,
    ]  # fmt: skip


@click.command("worker")
@click.option("--processes", default=1, show_default=True, help="Worker processes (one per GPU is usual).")
@click.option("--threads", default=1, show_default=True, help="Jobs at a time per process.")
def worker(processes: int, threads: int) -> None:
    """Run Dramatiq worker processes for LABELWISE_BROKER_URL=redis://... (GPU nodes)."""
    settings = get_settings()
    if not settings.broker_url:
        raise click.ClickException(
            "`labelwise worker` needs LABELWISE_BROKER_URL=redis://...; with the embedded broker "
            "`labelwise serve` runs jobs itself"
        )
    _prepare(settings)
    argv = worker_argv(settings, processes, threads)
    click.echo(f"starting {processes} worker process(es) x {threads} thread(s) on queue {settings.job_queue}")
    os.execv(argv[0], argv)


@click.group()
def main() -> None:
    """Jobs and workers alone (the full CLI is `labelwise`)."""


main.add_command(jobs)
main.add_command(worker)

if __name__ == "__main__":
    main()
