"""Algorithms (with their JSON parameter schemas), models and jobs: submit, cancel, retry, progress,
metrics, log. Thin resolvers over ``backend.algorithms`` and ``backend.jobs`` and ``backend.models``."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import datetime
from typing import Any

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.scalars import JSON
from strawberry.types import Info

from backend.accounts.disclosure import public_error
from backend.algorithms import Algorithm as DomainAlgorithm
from backend.algorithms import get_algorithm, list_algorithms
from backend.algorithms.views import AlgorithmView
from backend.api.access import shows_internals
from backend.api.graphql.context import context_of, use_session
from backend.api.graphql.inputs import json_object
from backend.api.graphql.review import ModelFitness
from backend.api.graphql.views import from_view
from backend.errors import Invalid
from backend.jobs import control, follow, fresh, submission
from backend.jobs import queries as job_queries
from backend.jobs.presence import WorkerPresence
from backend.jobs.runtime import enqueue_for, worker_presence
from backend.jobs.views import JobView, LogLineView, ModelView
from backend.models import queries as model_queries
from backend.settings import Settings
from backend.storage import job_tables


@strawberry.type(description="A trainable algorithm; parameters must meet 'parametersSchema' (JSON schema).")
class Algorithm:
    key: str
    kind: str = strawberry.field(description="feature_extractor or classifier")
    title: str
    description: str
    parameters_schema: JSON
    infer_schema: JSON = strawberry.field(description="The JSON schema of inference options.")
    defaults: JSON = strawberry.field(description="The parameters used when none are given.")
    needs_labels: bool
    outputs: list[str] = strawberry.field(description="What inference writes: vectors, probabilities, ...")

    @classmethod
    def of(cls, a: DomainAlgorithm) -> Algorithm:
        return from_view(cls, AlgorithmView.of(a))


@strawberry.type(description="An algorithm + parameters trained on a dataset.")
class Model:
    id: int
    name: str
    algorithm: str
    kind: str
    state: str
    dataset_id: int
    parameters: JSON
    trained_on: JSON
    summary: JSON
    files: list[str] = strawberry.field(description="Files of a ready model: REST /models/{id}/files/{name}.")
    created_at: datetime
    ready_at: datetime | None
    fitness: ModelFitness | None = strawberry.field(
        description="Classifiers: held-out accuracy vs. the majority baseline (unfit: never a default)."
    )

    @classmethod
    def of(cls, m: job_tables.Model, settings: Settings) -> Model:
        return from_view(cls, ModelView.of(m, settings))


@strawberry.type(description="The metrics of one epoch (train_loss, val_loss, accuracy, ...).")
class Metric:
    epoch: int
    metrics: JSON


@strawberry.type
class LogLine:
    id: int
    attempt: int
    at: datetime
    level: str
    message: str

    @classmethod
    def of(cls, line: job_tables.JobLog, viewer_of: Settings | None = None) -> LogLine:
        """``viewer_of``: the caller is a viewer, who reads each line without the server's paths."""
        return from_view(cls, LogLineView.of(line, viewer_of))


def _viewer_settings(info: Info[Any, Any]) -> Settings | None:
    """The settings when the caller is a viewer (who sees no server internals), else None."""
    context = context_of(info)
    if context.connection is None or shows_internals(context.connection):
        return None
    return context.settings


@strawberry.type(description="Background work: train, infer, build-index, project.")
class Job:
    id: int
    kind: str
    state: str = strawberry.field(description="queued, running, succeeded, failed or canceled")
    algorithm: str = strawberry.field(
        description="Train/infer: the model's algorithm; a task (project, cluster, build-index) has its "
        "model's algorithm here, its own method in parameters: title says what the job runs."
    )
    title: str = strawberry.field(
        description='What the job runs, as people read it: "train pca", "project umap of model 5 (pca)".'
    )
    dataset_id: int
    model_id: int | None
    parameters: JSON
    attempt: int
    cancel_requested: bool
    done: int
    total: int
    epoch: int | None
    epochs: int | None
    worker: str | None
    raw_error: strawberry.Private[str | None]
    raw_traceback: strawberry.Private[str | None]
    outputs: list[str] = strawberry.field(description="Files of a succeeded job: /jobs/{id}/outputs/{name}")
    submitted_by: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    heartbeat_at: datetime | None
    progress_at: datetime | None = strawberry.field(
        description="When the job's code last reported (a step, a log line, metrics); the heartbeat goes on "
        "while it is stuck in one call."
    )
    progress: float = strawberry.field(
        description="done / total of the current attempt (0 before it starts)."
    )
    duration_seconds: float | None = strawberry.field(description="How long it ran (so far, while running).")
    latest_metrics: JSON | None = strawberry.field(
        default=None,
        description="The current attempt's latest epoch metrics (one job and its updates; null in lists).",
    )
    caused_by_job_id: int | None = strawberry.field(
        default=None, description="The job this one follows (keep models fresh); null: submitted by a person."
    )
    chain: bool = strawberry.field(
        default=False,
        description="On success the server queues its next step (inference after training), switch or not.",
    )
    follow_up_pending: bool = strawberry.field(
        default=False,
        description="The server may still queue a step after this job (it is chained or its dataset keeps "
        "models fresh, and its round has not followed it up yet); the steps it queued: jobs(causedBy).",
    )
    no_worker: str | None = strawberry.field(
        default=None,
        description="Queued past a short grace while no worker is alive (Redis broker, no `labelwise "
        "worker` running): since when none was seen and how to start one; null otherwise.",
    )

    @classmethod
    def of(
        cls,
        j: job_tables.Job,
        latest_metrics: dict[str, float] | None = None,
        *,
        follow_up_pending: bool = False,
        workers: WorkerPresence | None = None,
        settings: Settings | None = None,
        no_worker: str | None = None,
    ) -> Job:
        """``workers``, ``settings``: whether a worker consumes the queue (``noWorker``); or the
        note itself, as ``jobEvents``' follower worked it out."""
        view = JobView.of(
            j,
            latest_metrics,
            follow_up_pending=follow_up_pending,
            workers=workers,
            settings=settings,
            no_worker=no_worker,
        )
        return from_view(cls, view, raw_error=view.error, raw_traceback=view.traceback)

    @classmethod
    async def now(cls, info: Info[Any, Any], session: AsyncSession, j: job_tables.Job) -> Job:
        """``of`` with whether the server may still queue a step after the job (``fresh``) and
        whether a worker runs it."""
        context = context_of(info)
        return cls.of(
            j,
            follow_up_pending=await fresh.follow_up_pending(session, int(j.id or 0)),
            workers=await worker_presence(context.state),
            settings=context.settings,
        )

    @strawberry.field(description="Why it failed (viewers: one line, without server paths).")
    def error(self, info: Info[Any, Any]) -> str | None:
        viewer = _viewer_settings(info)
        return self.raw_error if viewer is None else public_error(self.raw_error, viewer)

    @strawberry.field(description="The failure's traceback: for labelers and above (null for viewers).")
    def traceback(self, info: Info[Any, Any]) -> str | None:
        return self.raw_traceback if _viewer_settings(info) is None else None

    @strawberry.field(description="Per-epoch metrics of the current attempt.")
    async def metrics(self, info: Info[Any, Any]) -> list[Metric]:
        async with use_session(info) as session:
            rows = await job_queries.job_metrics(session, self.id)
        return [Metric(epoch=m.epoch, metrics=m.metrics) for m in rows]

    @strawberry.field(description="Log lines of every attempt, oldest first; afterId: the last id seen.")
    async def log(self, info: Info[Any, Any], after_id: int = 0) -> list[LogLine]:
        viewer = _viewer_settings(info)  # viewers: one line each, without server paths (decision 0007)
        async with use_session(info) as session:
            return [
                LogLine.of(line, viewer)
                for line in await job_queries.job_log(session, self.id, after_id=after_id)
            ]


@strawberry.type
class JobPage:
    jobs: list[Job]
    total: int
    offset: int
    limit: int


@strawberry.input(
    description="'train': datasetId + algorithm (+ parameters, name). 'infer', 'build-index', 'project': "
    "modelId (+ datasetId, default the training dataset, + options in parameters)."
)
class SubmitJobInput:
    kind: str = "train"
    dataset_id: int | None = None
    algorithm: str | None = None
    model_id: int | None = None
    parameters: JSON | None = None
    name: str | None = None


@strawberry.type
class Query:
    @strawberry.field(description="Registered algorithms with the JSON schema of their parameters.")
    def algorithms(self, kind: str | None = None) -> list[Algorithm]:
        return [Algorithm.of(a) for a in list_algorithms(kind)]

    @strawberry.field(description="One algorithm (NOT_FOUND when unknown).")
    def algorithm(self, key: str) -> Algorithm:
        return Algorithm.of(get_algorithm(key))

    @strawberry.field(description="Models, newest first.")
    async def models(
        self,
        info: Info[Any, Any],
        dataset_id: int | None = None,
        state: str | None = None,
        kind: str | None = None,
        algorithm: str | None = None,
    ) -> list[Model]:
        settings = context_of(info).settings
        async with use_session(info) as session:
            rows = await model_queries.list_models(
                session, dataset_id=dataset_id, state=state, kind=kind, algorithm=algorithm
            )
        return [Model.of(m, settings) for m in rows]

    @strawberry.field(description="One model (NOT_FOUND when unknown).")
    async def model(self, info: Info[Any, Any], id: int) -> Model:
        settings = context_of(info).settings
        async with use_session(info) as session:
            return Model.of(await model_queries.get_model(session, id), settings)

    @strawberry.field(
        description="Jobs, newest first. The page size is capped by the server. causedBy: the jobs the "
        "server queued after that job (its follow-ups)."
    )
    async def jobs(
        self,
        info: Info[Any, Any],
        dataset_id: int | None = None,
        model_id: int | None = None,
        state: str | None = None,
        kind: str | None = None,
        caused_by: int | None = None,
        offset: int = 0,
        limit: int = 50,
    ) -> JobPage:
        max_limit = context_of(info).settings.max_page_size
        async with use_session(info) as session:
            page = await job_queries.list_jobs(
                session,
                dataset_id=dataset_id,
                model_id=model_id,
                state=state,
                kind=kind,
                caused_by=caused_by,
                offset=offset,
                limit=limit,
                max_limit=max_limit,
            )
            pending = await fresh.pending_follow_ups(session, [int(j.id or 0) for j in page.jobs])
        workers = await worker_presence(context_of(info).state)
        settings = context_of(info).settings
        jobs = [
            Job.of(j, follow_up_pending=j.id in pending, workers=workers, settings=settings)
            for j in page.jobs
        ]
        return JobPage(jobs=jobs, total=page.total, offset=page.offset, limit=page.limit)

    @strawberry.field(description="One job with its state and progress (NOT_FOUND when unknown).")
    async def job(self, info: Info[Any, Any], id: int) -> Job:
        async with use_session(info) as session:
            now = await follow.snapshot(session, id)
        context = context_of(info)
        return Job.of(
            now.job,
            now.latest_metrics,
            follow_up_pending=now.follow_up_pending,
            workers=await worker_presence(context.state),
            settings=context.settings,
        )


@strawberry.type
class Mutation:
    @strawberry.mutation(
        description="Queue a job. Invalid parameters are refused (INVALID, every problem in "
        "extensions.errors), an unreachable broker too (BROKER_UNAVAILABLE); nothing is created then."
    )
    async def submit_job(self, info: Info[Any, Any], input: SubmitJobInput) -> Job:
        context = context_of(info)
        async with use_session(info) as session:
            job = await submission.submit_job(
                session,
                context.settings,
                enqueue_for(context.state),
                kind=input.kind,
                dataset_id=input.dataset_id,
                algorithm=input.algorithm,
                model_id=input.model_id,
                parameters=json_object(input.parameters, "parameters"),
                name=input.name,
                submitted_by=context.tagger,
            )
            return await Job.now(info, session, job)

    @strawberry.mutation(description="Cancel a job: a queued one at once, a running one at its next step.")
    async def cancel_job(self, info: Info[Any, Any], id: int) -> Job:
        tagger = context_of(info).tagger
        async with use_session(info) as session:
            return await Job.now(info, session, await control.cancel_job(session, id, by=tagger))

    @strawberry.mutation(description="Run a failed or canceled job again as its next attempt.")
    async def retry_job(self, info: Info[Any, Any], id: int) -> Job:
        context = context_of(info)
        async with use_session(info) as session:
            job = await control.retry_job(
                session, context.settings, enqueue_for(context.state), id, by=context.tagger
            )
            return await Job.now(info, session, job)


@strawberry.type(
    description="One change of a followed job: the job now, its latest epoch's metrics, and the log "
    "lines written since the previous update (the same as REST's event stream GET /jobs/{id}/events)."
)
class JobUpdate:
    job: Job
    latest_metrics: JSON | None = strawberry.field(description="The current attempt's latest epoch metrics.")
    log: list[LogLine] = strawberry.field(description="Log lines new since the previous update, in order.")
    finished: bool = strawberry.field(description="The job ended: this is the last update.")


@strawberry.type
class Subscription:
    @strawberry.subscription(
        description="Follow a job (graphql-transport-ws on /graphql): an update at once, then one per "
        "change (state, progress, epoch, metrics, new log lines, and job.noWorker of a queued job: when "
        "it appears after the grace with no worker alive, and when it clears) until the job ends, or "
        "until maxSeconds "
        "(at most 3600) pass. An unknown id is NOT_FOUND. Viewers may follow (one-line errors, no paths). If "
        "the database goes away meanwhile, an error DATABASE_UNAVAILABLE ends it: subscribe again later."
    )
    async def job_events(
        self, info: Info[Any, Any], id: int, max_seconds: float = follow.MAX_STREAM_SECONDS
    ) -> AsyncGenerator[JobUpdate, None]:
        if not 0 < max_seconds <= follow.MAX_STREAM_SECONDS:
            raise Invalid(f"maxSeconds must be over 0 and at most {follow.MAX_STREAM_SECONDS:g}")
        context = context_of(info)
        async with use_session(info) as session:
            await job_queries.get_job(session, id)  # NOT_FOUND before anything is followed
        viewer = _viewer_settings(info)
        updates = follow.follow_job(
            context.state.database,
            id,
            max_seconds=max_seconds,
            presence=lambda: worker_presence(context.state),
            settings=context.settings,
        )
        async for now in updates:
            if now is None:  # a keep-alive: graphql-transport-ws has its own pings
                continue
            lines = [LogLine.of(line, viewer) for line in now.new_log]
            yield JobUpdate(
                job=Job.of(
                    now.job,
                    now.latest_metrics,
                    follow_up_pending=now.follow_up_pending,
                    no_worker=now.no_worker,
                ),
                latest_metrics=now.latest_metrics,
                log=lines,
                finished=now.finished,
            )
