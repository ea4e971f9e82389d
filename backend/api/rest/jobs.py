"""REST: algorithms, models, jobs (submit, cancel, retry, metrics, log) and their output files."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import msgspec
from litestar import Controller, Request, get, post
from litestar.datastructures import State
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from litestar.response import File
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED
from sqlalchemy.ext.asyncio import AsyncSession

from backend.algorithms import get_algorithm, list_algorithms
from backend.algorithms.views import AlgorithmView
from backend.api.access import shows_internals
from backend.api.identity import tagger_for
from backend.api.rest.common import API_PREFIX, error_responses, from_view, rest_struct
from backend.api.rest.schemas import Problem
from backend.jobs import control, follow, fresh, submission
from backend.jobs import queries as job_queries
from backend.jobs.features import item_ids_file, vectors_file
from backend.jobs.presence import WorkerPresence
from backend.jobs.runtime import enqueue_for, worker_presence
from backend.jobs.views import JobView, LogLineView, ModelView
from backend.models import queries as model_queries
from backend.settings import Settings
from backend.storage.job_tables import Job

if TYPE_CHECKING:  # handlers are checked against the read models themselves
    AlgorithmOut = AlgorithmView
    ModelOut = ModelView
    JobOut = JobView
    LogLineOut = LogLineView
else:
    AlgorithmOut = rest_struct(AlgorithmView, "AlgorithmOut")
    ModelOut = rest_struct(ModelView, "ModelOut")
    JobOut = rest_struct(JobView, "JobOut")
    LogLineOut = rest_struct(LogLineView, "LogLineOut")


def job_out(
    job: Job,
    viewer_of: Settings | None = None,
    latest_metrics: dict[str, float] | None = None,
    *,
    follow_up_pending: bool = False,
    workers: WorkerPresence | None = None,
    settings: Settings | None = None,
    no_worker: str | None = None,
) -> JobOut:
    """``viewer_of``: the caller is a viewer (decision 0007): a one-line error, no traceback.
    ``follow_up_pending``: as ``fresh.pending_follow_ups`` says (``job_now`` asks it).
    ``workers``, ``settings``: whether a worker consumes the queue (``no_worker``); or the note
    itself, as the event stream's follower worked it out."""
    view = JobView.of(
        job,
        latest_metrics,
        follow_up_pending=follow_up_pending,
        workers=workers,
        settings=settings,
        no_worker=no_worker,
    )
    return from_view(JobOut, view if viewer_of is None else view.for_viewer(viewer_of))


async def job_now(session: AsyncSession, state: State, settings: Settings, job: Job) -> JobOut:
    """``job_out`` with whether the server may still queue a step after the job, and whether a
    worker runs it."""
    pending = await fresh.follow_up_pending(session, int(job.id or 0))
    workers = await worker_presence(state)
    return job_out(job, follow_up_pending=pending, workers=workers, settings=settings)


class JobPageOut(msgspec.Struct, kw_only=True):
    jobs: list[JobOut]
    total: int
    offset: int
    limit: int


class MetricOut(msgspec.Struct, kw_only=True):
    epoch: int
    metrics: dict[str, float]


class SubmitJobIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """``train``: dataset_id + algorithm (+ parameters, name). ``infer``: model_id (+ dataset_id,
    default the training dataset, + inference options in ``parameters``)."""

    kind: str = "train"
    dataset_id: int | None = None
    algorithm: str | None = None
    model_id: int | None = None
    parameters: dict[str, Any] | None = None  # null or absent: the defaults (as GraphQL reads it)
    name: str | None = None


BROKER_DOWN = {
    503: ResponseSpec(
        data_container=Problem,
        media_type="application/problem+json",
        description="The job broker cannot be reached; nothing was created (code BROKER_UNAVAILABLE)",
        generate_examples=False,
    )
}


StateFilter = Annotated[str | None, QueryParameter(name="state", description="queued, running, ...")]


class AlgorithmsController(Controller):
    path = f"{API_PREFIX}/algorithms"
    tags = ["jobs"]

    @get("/", summary="Registered algorithms with their parameter schemas", sync_to_thread=False)
    def list_algorithms(self, kind: FromQuery[str | None] = None) -> list[AlgorithmOut]:
        """Registered algorithms with the JSON schema of their parameters."""
        return [AlgorithmOut.of(a) for a in list_algorithms(kind)]

    @get("/{key:str}", summary="One algorithm", sync_to_thread=False, responses=error_responses(404))
    def get_algorithm(self, key: FromPath[str]) -> AlgorithmOut:
        return AlgorithmOut.of(get_algorithm(key))


class ModelsController(Controller):
    path = f"{API_PREFIX}/models"
    tags = ["jobs"]

    @get("/", summary="Models, newest first")
    async def list_models(
        self,
        session: AsyncSession,
        settings: Settings,
        dataset_id: FromQuery[int | None] = None,
        model_state: StateFilter = None,
        kind: FromQuery[str | None] = None,
    ) -> list[ModelOut]:
        """Models, newest first; state is training, ready, failed or canceled."""
        models = await model_queries.list_models(session, dataset_id=dataset_id, state=model_state, kind=kind)
        return [ModelOut.of(m, settings) for m in models]

    @get("/{model_id:int}", summary="One model", responses=error_responses(404))
    async def get_model(self, session: AsyncSession, settings: Settings, model_id: FromPath[int]) -> ModelOut:
        return ModelOut.of(await model_queries.get_model(session, model_id), settings)

    @get(
        "/{model_id:int}/files/{name:str}",
        summary="Download a file of a ready model",
        media_type="application/octet-stream",
        responses=error_responses(404, 409),
    )
    async def model_file(
        self, session: AsyncSession, settings: Settings, model_id: FromPath[int], name: FromPath[str]
    ) -> File:
        """Download one file of a ready model (e.g. ``pca.npz``)."""
        path = await model_queries.model_file(session, settings, model_id, name)
        return File(path=path, filename=f"model-{model_id}-{name}")

    @get(
        "/{model_id:int}/vectors",
        summary="Feature vectors of the latest inference (Parquet or .npy)",
        media_type="application/octet-stream",
        responses=error_responses(400, 404),
    )
    async def model_vectors(
        self,
        session: AsyncSession,
        settings: Settings,
        model_id: FromPath[int],
        dataset_id: FromQuery[int | None] = None,
        fmt: Annotated[str, QueryParameter(name="format", description="parquet or npy")] = "parquet",
    ) -> File:
        """Feature vectors of the latest inference: Parquet (item_id, vector) or ``vectors.npy``
        (rows aligned with ``/item-ids``)."""
        directory = await model_queries.feature_dir(session, settings, model_id, dataset_id)
        path = vectors_file(directory, fmt)
        return File(path=path, filename=f"model-{model_id}-{path.name}")

    @get(
        "/{model_id:int}/item-ids",
        summary="Item ids aligned with the .npy feature vectors",
        media_type="application/octet-stream",
        responses=error_responses(404),
    )
    async def model_item_ids(
        self,
        session: AsyncSession,
        settings: Settings,
        model_id: FromPath[int],
        dataset_id: FromQuery[int | None] = None,
    ) -> File:
        """``item_ids.npy`` (int64) aligned row by row with ``vectors.npy``."""
        directory = await model_queries.feature_dir(session, settings, model_id, dataset_id)
        path = item_ids_file(directory)
        return File(path=path, filename=f"model-{model_id}-{path.name}")


class JobsController(Controller):
    path = f"{API_PREFIX}/jobs"
    tags = ["jobs"]

    @get("/", summary="Jobs, newest first", responses=error_responses(400))
    async def list_jobs(
        self,
        request: Request,
        session: AsyncSession,
        settings: Settings,
        dataset_id: FromQuery[int | None] = None,
        model_id: FromQuery[int | None] = None,
        job_state: StateFilter = None,
        kind: FromQuery[str | None] = None,
        caused_by: Annotated[
            int | None,
            QueryParameter(
                name="caused_by", description="Only the jobs the server queued after this job (follow-ups)"
            ),
        ] = None,
        offset: FromQuery[int] = 0,
        limit: FromQuery[int] = 50,
    ) -> JobPageOut:
        """Jobs, newest first. ``follow_up_pending``: the server may still queue a step after the
        job; the steps it queued list with ``caused_by``."""
        page = await job_queries.list_jobs(
            session,
            dataset_id=dataset_id,
            model_id=model_id,
            state=job_state,
            kind=kind,
            caused_by=caused_by,
            offset=offset,
            limit=limit,
        )
        viewer = None if shows_internals(request) else settings
        pending = await fresh.pending_follow_ups(session, [int(j.id or 0) for j in page.jobs])
        workers = await worker_presence(request.app.state)
        return JobPageOut(
            jobs=[
                job_out(j, viewer, follow_up_pending=j.id in pending, workers=workers, settings=settings)
                for j in page.jobs
            ],
            total=page.total,
            offset=page.offset,
            limit=page.limit,
        )

    @post(
        "/",
        summary="Submit a train, infer, build-index or project job",
        status_code=HTTP_201_CREATED,
        responses={**error_responses(400, 404, 409), **BROKER_DOWN},
    )
    async def submit_job(
        self,
        request: Request,
        state: State,
        session: AsyncSession,
        settings: Settings,
        data: JSONBody[SubmitJobIn],
    ) -> JobOut:
        """Queue a job. Invalid parameters are refused (400, every problem listed in
        ``error.details.errors``) and an unreachable broker (503) before anything is created."""
        job = await submission.submit_job(
            session,
            settings,
            enqueue_for(state),
            kind=data.kind,
            dataset_id=data.dataset_id,
            algorithm=data.algorithm,
            model_id=data.model_id,
            parameters=data.parameters,
            name=data.name,
            submitted_by=tagger_for(request, settings),
        )
        return await job_now(session, state, settings, job)

    @get("/{job_id:int}", summary="One job with its state and progress", responses=error_responses(404))
    async def get_job(
        self, request: Request, session: AsyncSession, settings: Settings, job_id: FromPath[int]
    ) -> JobOut:
        viewer = None if shows_internals(request) else settings
        now = await follow.snapshot(session, job_id)
        return job_out(
            now.job,
            viewer,
            now.latest_metrics,
            follow_up_pending=now.follow_up_pending,
            workers=await worker_presence(request.app.state),
            settings=settings,
        )

    @get("/{job_id:int}/metrics", summary="Per-epoch metrics of a job", responses=error_responses(404))
    async def job_metrics(self, session: AsyncSession, job_id: FromPath[int]) -> list[MetricOut]:
        """Per-epoch metrics of the current attempt (train_loss, val_loss, accuracy, ...)."""
        return [
            MetricOut(epoch=m.epoch, metrics=m.metrics)
            for m in await job_queries.job_metrics(session, job_id)
        ]

    @get("/{job_id:int}/log", summary="Log lines of a job", responses=error_responses(404))
    async def job_log(
        self,
        request: Request,
        session: AsyncSession,
        settings: Settings,
        job_id: FromPath[int],
        after_id: FromQuery[int] = 0,
    ) -> list[LogLineOut]:
        """Log lines of every attempt, oldest first; pass the last id seen as ``after_id``."""
        viewer = None if shows_internals(request) else settings
        lines = await job_queries.job_log(session, job_id, after_id=after_id)
        return [LogLineOut.of(line, viewer) for line in lines]

    @post(
        "/{job_id:int}/cancel",
        summary="Cancel a queued or running job",
        status_code=HTTP_200_OK,
        responses=error_responses(404, 409),
    )
    async def cancel_job(
        self, request: Request, state: State, session: AsyncSession, settings: Settings, job_id: FromPath[int]
    ) -> JobOut:
        """A queued job is canceled at once; a running one stops at its next step."""
        job = await control.cancel_job(session, job_id, by=tagger_for(request, settings))
        return await job_now(session, state, settings, job)

    @post(
        "/{job_id:int}/retry",
        summary="Run a failed or canceled job again",
        status_code=HTTP_200_OK,
        responses={**error_responses(404, 409), **BROKER_DOWN},
    )
    async def retry_job(
        self, request: Request, state: State, session: AsyncSession, settings: Settings, job_id: FromPath[int]
    ) -> JobOut:
        """Run a failed or canceled job again as its next attempt."""
        job = await control.retry_job(
            session, settings, enqueue_for(state), job_id, by=tagger_for(request, settings)
        )
        return await job_now(session, state, settings, job)

    @get(
        "/{job_id:int}/outputs/{name:str}",
        summary="Download a file a succeeded job wrote",
        media_type="application/octet-stream",
        responses=error_responses(404, 409),
    )
    async def job_output(
        self, session: AsyncSession, settings: Settings, job_id: FromPath[int], name: FromPath[str]
    ) -> File:
        """Download a file a succeeded job wrote (``vectors.npy``, ``item_ids.npy``, ...)."""
        path = await job_queries.job_output_file(session, settings, job_id, name)
        return File(path=path, filename=f"job-{job_id}-{name}")


route_handlers = [AlgorithmsController, ModelsController, JobsController]
