"""Read models of a job and of a model: what every door shows of one, built once from the rows.

REST and GraphQL each mapped the rows field by field and drifted apart (one door had a job's
duration, the other its latest metrics; their progress differed before a job started). Now each
door renders these views: REST converts them into its structs, GraphQL copies them into its
types, both by field name (``backend/api/rest/common.py::from_view``,
``backend/api/graphql/views.py::from_view``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from backend.accounts.disclosure import public_error
from backend.guided.quality import ModelFitness, model_fitness
from backend.jobs.artifacts import job_output_names, model_files
from backend.jobs.naming import job_title
from backend.jobs.presence import WorkerPresence, no_worker_note
from backend.jobs.queries import job_duration
from backend.settings import Settings
from backend.storage.job_tables import Job, JobLog, Model


@dataclass(frozen=True, kw_only=True)
class JobView:
    """A job now: its row, ``outputs`` (the files a succeeded job wrote), ``progress`` (done /
    total, 0 before it starts), ``duration_seconds`` (so far, while running) and, where the caller
    read them (one job, its event stream), the current attempt's ``latest_metrics``."""

    id: int
    kind: str
    state: str
    algorithm: str  # a task's is its model's: ``title`` says what the job runs
    title: str  # what it runs, as people read it: "project umap of model 5 (pca)" (jobs/naming.py)
    dataset_id: int
    model_id: int | None
    parameters: dict[str, Any]
    attempt: int
    cancel_requested: bool
    done: int
    total: int
    epoch: int | None
    epochs: int | None
    worker: str | None
    error: str | None
    traceback: str | None
    outputs: list[str]
    submitted_by: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    heartbeat_at: datetime | None
    progress_at: datetime | None  # when its code last reported; an old one while running: stuck?
    progress: float
    duration_seconds: float | None = None
    latest_metrics: dict[str, float] | None = None
    caused_by_job_id: int | None = None  # the job this one follows (keep models fresh)
    chain: bool = False  # on success the server queues its next step (a "train and apply" click)
    # the server may still queue a step after this one (``fresh.pending_follow_ups``): a client
    # waiting for the whole chain looks for the jobs it caused (``caused_by_job_id``) once it is false
    follow_up_pending: bool = False
    # queued past the grace while no worker is alive (Redis broker, `labelwise worker` not running):
    # since when none was seen and how to start one (``backend/jobs/presence.py``); None otherwise
    no_worker: str | None = None

    @classmethod
    def of(
        cls,
        job: Job,
        latest_metrics: dict[str, float] | None = None,
        *,
        follow_up_pending: bool = False,
        workers: WorkerPresence | None = None,
        settings: Settings | None = None,
        no_worker: str | None = None,
    ) -> JobView:
        """``workers`` and ``settings``: whether a worker consumes the queue. Without ``settings``,
        ``no_worker`` is the note as given (a follower worked it out: ``follow``), None by default."""
        assert job.id is not None, "a job read back from the database has an id"
        return cls(
            id=job.id,
            kind=job.kind,
            state=job.state,
            algorithm=job.algorithm,
            title=job_title(job),
            dataset_id=job.dataset_id,
            model_id=job.model_id,
            parameters=job.parameters,
            attempt=job.attempt,
            cancel_requested=job.cancel_requested,
            done=job.done,
            total=job.total,
            epoch=job.epoch,
            epochs=job.epochs,
            worker=job.worker,
            error=job.error,
            traceback=job.traceback,
            outputs=job_output_names(job),
            submitted_by=job.submitted_by,
            created_at=job.created_at,
            started_at=job.started_at,
            finished_at=job.finished_at,
            heartbeat_at=job.heartbeat_at,
            progress_at=job.progress_at,
            progress=round(job.done / job.total, 4) if job.total else 0.0,
            duration_seconds=job_duration(job),
            latest_metrics=latest_metrics,
            caused_by_job_id=job.caused_by_job_id,
            chain=bool(job.chain),
            follow_up_pending=follow_up_pending,
            no_worker=no_worker_note(job, workers, settings) if settings is not None else no_worker,
        )

    def for_viewer(self, settings: Settings) -> JobView:
        """What a viewer sees (decision 0007): the error in one line without paths, no traceback."""
        return replace(self, error=public_error(self.error, settings), traceback=None)


@dataclass(frozen=True, kw_only=True)
class LogLineView:
    """One log line of a job's attempt."""

    id: int
    attempt: int
    at: datetime
    level: str
    message: str

    @classmethod
    def of(cls, line: JobLog, viewer_of: Settings | None = None) -> LogLineView:
        """``viewer_of``: the caller is a viewer, who reads each line without the server's paths."""
        assert line.id is not None, "a log line read back from the database has an id"
        message = line.message if viewer_of is None else public_error(line.message, viewer_of) or ""
        return cls(id=line.id, attempt=line.attempt, at=line.at, level=line.level, message=message)


@dataclass(frozen=True, kw_only=True)
class ModelView:
    """A model: training -> ready (``files`` downloadable) | failed | canceled; classifiers carry
    their ``fitness`` (held-out accuracy beside the majority baseline)."""

    id: int
    name: str
    algorithm: str
    kind: str
    state: str
    dataset_id: int
    parameters: dict[str, Any]
    trained_on: dict[str, Any]
    summary: dict[str, Any]
    files: list[str]
    created_at: datetime
    ready_at: datetime | None
    fitness: ModelFitness | None = None

    @classmethod
    def of(cls, model: Model, settings: Settings) -> ModelView:
        assert model.id is not None, "a model read back from the database has an id"
        return cls(
            id=model.id,
            name=model.name,
            algorithm=model.algorithm,
            kind=model.kind,
            state=model.state,
            dataset_id=model.dataset_id,
            parameters=model.parameters,
            trained_on=model.trained_on,
            summary=model.summary,
            files=model_files(model, settings),
            created_at=model.created_at,
            ready_at=model.ready_at,
            fitness=model_fitness(model, settings) if model.kind == "classifier" else None,
        )
