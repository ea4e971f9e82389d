"""Submitting, listing, canceling and retrying jobs; models and their files. No HTTP here.

``enqueue`` is how a job reaches the workers: a callable taking a job id and returning the broker's
message id (``JobRuntime.enqueue``), or ``None`` where a running server picks queued jobs up from
the database by itself (the embedded broker, seen from another process such as the CLI).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from backend.algorithms import get_algorithm, validate_infer_options, validate_parameters
from backend.algorithms.validation import check_against
from backend.datasets.service import get_dataset
from backend.errors import Conflict, Invalid, NotFound
from backend.jobs import states
from backend.jobs.artifacts import resolve_output
from backend.jobs.errors import BrokerUnavailable
from backend.jobs.tasks import get_task
from backend.labels.replay import replay
from backend.settings import Settings
from backend.storage.job_tables import Job, JobLog, JobMetric, Model
from backend.storage.tables import CurrentLabel, Dataset, Item, LabelClass, Tag, TagEvent
from backend.storage.types import utcnow

log = logging.getLogger("labelwise.jobs")

Enqueue = Callable[[int], str | None]


@dataclass
class JobPage:
    jobs: list[Job]
    total: int
    offset: int
    limit: int


def redact_url(url: str) -> str:
    """scheme://host:port of a broker URL: never a password in a message."""
    if not url:
        return "the embedded broker"
    parts = urlsplit(url)
    host = parts.hostname or ""
    return f"{parts.scheme}://{host}{f':{parts.port}' if parts.port else ''}"


# ---- reading -------------------------------------------------------------------------------------


async def get_job(session: AsyncSession, job_id: int) -> Job:
    job = await session.get(Job, job_id, populate_existing=True)
    if job is None:
        raise NotFound(f"job {job_id} does not exist", id=job_id)
    return job


async def list_jobs(
    session: AsyncSession,
    *,
    dataset_id: int | None = None,
    model_id: int | None = None,
    state: str | None = None,
    kind: str | None = None,
    offset: int = 0,
    limit: int = 50,
    max_limit: int = 500,
) -> JobPage:
    """Newest first."""
    if state is not None and state not in states.STATES:
        raise Invalid(f"unknown job state '{state}' (use one of {', '.join(states.STATES)})")
    if kind is not None and kind not in states.KINDS:
        raise Invalid(f"unknown job kind '{kind}' (use one of {', '.join(states.KINDS)})")
    if offset < 0 or not 1 <= limit <= max_limit:
        raise Invalid(f"offset must be >= 0 and limit between 1 and {max_limit}")
    query = select(Job)
    if dataset_id is not None:
        query = query.where(Job.dataset_id == dataset_id)
    if model_id is not None:
        query = query.where(Job.model_id == model_id)
    if state is not None:
        query = query.where(Job.state == state)
    if kind is not None:
        query = query.where(Job.kind == kind)
    total = await session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = await session.scalars(
        query.order_by(Job.id.desc()).offset(offset).limit(limit).execution_options(populate_existing=True)
    )
    return JobPage(list(rows.all()), total, offset, limit)


async def job_metrics(session: AsyncSession, job_id: int) -> list[JobMetric]:
    """Per-epoch metrics of the job's current attempt, by epoch."""
    job = await get_job(session, job_id)
    rows = await session.scalars(
        select(JobMetric)
        .where(JobMetric.job_id == job_id, JobMetric.attempt == job.attempt)
        .order_by(JobMetric.epoch, JobMetric.id)
    )
    return list(rows.all())


async def job_log(
    session: AsyncSession, job_id: int, *, after_id: int = 0, limit: int = 1000
) -> list[JobLog]:
    """Log lines of every attempt, oldest first; ``after_id`` pages on (live tails)."""
    await get_job(session, job_id)
    rows = await session.scalars(
        select(JobLog).where(JobLog.job_id == job_id, JobLog.id > after_id).order_by(JobLog.id).limit(limit)
    )
    return list(rows.all())


async def job_log_tail(session: AsyncSession, job_id: int, *, limit: int = 200) -> list[JobLog]:
    """The last ``limit`` log lines, oldest first (what a job page shows)."""
    rows = await session.scalars(
        select(JobLog).where(JobLog.job_id == job_id).order_by(JobLog.id.desc()).limit(limit)
    )
    return list(reversed(rows.all()))


async def dataset_names(session: AsyncSession) -> dict[int, str]:
    """Every dataset's name by id, for job and model listings (no item counts: pages poll this)."""
    rows = await session.execute(select(Dataset.id, Dataset.name))
    return {int(i): str(n) for i, n in rows.all()}


async def get_model(session: AsyncSession, model_id: int) -> Model:
    model = await session.get(Model, model_id, populate_existing=True)
    if model is None:
        raise NotFound(f"model {model_id} does not exist", id=model_id)
    return model


async def list_models(
    session: AsyncSession,
    *,
    dataset_id: int | None = None,
    state: str | None = None,
    kind: str | None = None,
    algorithm: str | None = None,
) -> list[Model]:
    """Newest first."""
    query = select(Model)
    if dataset_id is not None:
        query = query.where(Model.dataset_id == dataset_id)
    if state is not None:
        query = query.where(Model.state == state)
    if kind is not None:
        query = query.where(Model.kind == kind)
    if algorithm is not None:
        query = query.where(Model.algorithm == algorithm)
    rows = await session.scalars(query.order_by(Model.id.desc()).execution_options(populate_existing=True))
    return list(rows.all())


async def train_job_of(session: AsyncSession, model_id: int) -> Job | None:
    return await session.scalar(
        select(Job).where(Job.model_id == model_id, Job.kind == "train").order_by(Job.id).limit(1)
    )


# ---- files ---------------------------------------------------------------------------------------


async def model_file(session: AsyncSession, settings: Settings, model_id: int, name: str) -> Path:
    """A file of a ready model, by name."""
    model = await get_model(session, model_id)
    if model.state != states.MODEL_READY or not model.artifact_path:
        raise Conflict(f"model {model_id} is {model.state}; its files exist once it is ready")
    return resolve_output(settings.artifact_dir, model.artifact_path, name)


async def job_output_file(session: AsyncSession, settings: Settings, job_id: int, name: str) -> Path:
    """A file a succeeded job wrote, by name."""
    job = await get_job(session, job_id)
    if job.state != states.SUCCEEDED or not job.outputs.get("dir"):
        raise Conflict(f"job {job_id} is {job.state}; its outputs exist once it has succeeded")
    return resolve_output(settings.artifact_dir, job.outputs["dir"], name)


async def latest_inference(session: AsyncSession, model_id: int, dataset_id: int | None = None) -> Job:
    """The newest succeeded inference of a model on a dataset (default: the one it trained on)."""
    model = await get_model(session, model_id)
    dataset_id = dataset_id or model.dataset_id
    job = await session.scalar(
        select(Job)
        .where(
            Job.model_id == model_id,
            Job.dataset_id == dataset_id,
            Job.kind == "infer",
            Job.state == states.SUCCEEDED,
        )
        .order_by(Job.id.desc())
        .limit(1)
    )
    if job is None:
        raise NotFound(
            f"model {model_id} has no finished inference on dataset {dataset_id}: run inference first"
        )
    return job


async def feature_dir(
    session: AsyncSession, settings: Settings, model_id: int, dataset_id: int | None
) -> Path:
    """The directory holding ``vectors.npy`` + ``item_ids.npy`` of the latest inference."""
    job = await latest_inference(session, model_id, dataset_id)
    return settings.artifact_dir / job.outputs["dir"]


# ---- submitting ----------------------------------------------------------------------------------


def _clean_model_name(name: str | None) -> str | None:
    if name is None:
        return None
    name = name.strip()
    if not name:
        return None
    if len(name) > 200:
        raise Invalid("a model name has at most 200 characters")
    return name


async def _readable_count(session: AsyncSession, dataset_id: int) -> int:
    return int(
        await session.scalar(select(func.count()).where(Item.dataset_id == dataset_id, Item.status == "ok"))
        or 0
    )


async def _label_snapshot(session: AsyncSession, dataset_id: int, params: dict[str, Any]) -> dict[str, Any]:
    """Which labels a training run gets, recorded with the model (``trained_on``).

    Parameters ``label_snapshot`` (current | as_of | tagger), ``labels_as_of`` and
    ``labels_tagger`` pick them (default: the current labels). The worker rebuilds exactly these
    labels from the events with ``snapshot_labels``; ``label_counts`` says how many readable items
    each class had.
    """
    classes = (
        await session.scalars(
            select(LabelClass)
            .where(LabelClass.dataset_id == dataset_id, LabelClass.deleted_at.is_(None))
            .order_by(LabelClass.position, LabelClass.id)
        )
    ).all()
    mode = params.get("label_snapshot") or "current"
    now = utcnow()
    snapshot: dict[str, Any] = {"labels_as_of": now.isoformat(), "label_snapshot": {"mode": mode}}
    if mode == "current":
        labeled = await session.scalar(
            select(func.count(func.distinct(CurrentLabel.item_id)))
            .join(Item, Item.id == CurrentLabel.item_id)
            .where(CurrentLabel.dataset_id == dataset_id, Item.status == "ok")
        )
        rows = await session.execute(
            select(CurrentLabel.label_id, func.count())
            .join(Item, Item.id == CurrentLabel.item_id)
            .where(CurrentLabel.dataset_id == dataset_id, Item.status == "ok")
            .group_by(CurrentLabel.label_id)
        )
        counts = {int(label): int(n) for label, n in rows.all()}
    else:
        if mode == "as_of":
            at = datetime.fromisoformat(params["labels_as_of"].strip().replace("Z", "+00:00"))
            at = at if at.tzinfo else at.replace(tzinfo=UTC)
            if at > now:
                raise Invalid(f"labels as of {at.isoformat()} is in the future", field="labels_as_of")
            snapshot["labels_as_of"] = snapshot["label_snapshot"]["as_of"] = at.isoformat()
        else:
            snapshot["labels_tagger"] = snapshot["label_snapshot"]["tagger"] = params["labels_tagger"].strip()
        labels = await snapshot_labels(session, dataset_id, snapshot)
        unreadable = set(
            await session.scalars(select(Item.id).where(Item.dataset_id == dataset_id, Item.status != "ok"))
        )
        kept = [ids for item, ids in labels.items() if item not in unreadable]
        labeled = len(kept)
        counts = {}
        for ids in kept:
            for label in ids:
                counts[label] = counts.get(label, 0) + 1
    known = {c.id for c in classes}
    dataset = await get_dataset(session, dataset_id)
    return {
        **snapshot,
        "labeled_count": int(labeled or 0),
        "label_counts": {str(k): v for k, v in sorted(counts.items()) if k in known},
        "multi_label": bool(dataset.multi_label),
        "classes": [{"id": c.id, "name": c.name, "color": c.color} for c in classes],
    }


async def snapshot_labels(
    session: AsyncSession, dataset_id: int, trained_on: dict[str, Any]
) -> dict[int, frozenset[int]]:
    """The labels a snapshot names, replayed from the tag events up to its time (and of its tagger)."""
    query = (
        select(Tag.item_id, Tag.op, Tag.label_id)
        .join(TagEvent, TagEvent.id == Tag.event_id)
        .where(
            TagEvent.dataset_id == dataset_id,
            TagEvent.created_at <= datetime.fromisoformat(trained_on["labels_as_of"]),
        )
    )
    if trained_on.get("labels_tagger"):
        query = query.where(TagEvent.tagger == trained_on["labels_tagger"])
    rows = await session.execute(query.order_by(Tag.event_id, Tag.id))
    return replay((r[0], r[1], r[2]) for r in rows.all())


def _check_local_files(settings: Settings, schema: dict[str, Any], params: dict[str, Any]) -> None:
    """Parameters marked ``x-local-file`` name a file on this server: inside a data root or the
    artifact directory, and present now (nothing is fetched; a worker reads it at run time)."""
    for name, spec in schema.get("properties", {}).items():
        value = str(params.get(name) or "").strip()
        if not spec.get("x-local-file") or not value:
            continue
        title = spec.get("title", name)
        path = Path(value).expanduser().resolve()
        allowed = [*settings.roots, settings.artifact_dir.resolve()]
        if not any(path.is_relative_to(root) for root in allowed):
            raise Invalid(f"{title} {value} is outside the data roots and the artifact directory", field=name)
        if not path.is_file():
            raise Invalid(f"{title} {value} does not exist on the server (nothing is downloaded)", field=name)


async def _queue(session: AsyncSession, settings: Settings, job: Job, enqueue: Enqueue | None) -> Job:
    """Hand a committed job to the broker; if that fails, remove what was created and say why."""
    if enqueue is None:
        return job
    try:
        message_id = await asyncio.to_thread(enqueue, job.id)  # type: ignore[arg-type]
    except Exception as exc:
        log.warning("enqueue of job %s failed: %s", job.id, type(exc).__name__)
        raise BrokerUnavailable(
            f"cannot queue the job: the broker at {redact_url(settings.broker_url)} is unreachable "
            f"({type(exc).__name__}); nothing was submitted, try again when it is back"
        ) from exc
    job.message_id = message_id
    await session.commit()
    return job


async def _undo_submit(session: AsyncSession, job: Job, model: Model | None) -> None:
    await session.delete(job)
    if model is not None:
        await session.delete(model)
    await session.commit()


async def submit_job(
    session: AsyncSession,
    settings: Settings,
    enqueue: Enqueue | None,
    *,
    kind: str,
    dataset_id: int | None = None,
    algorithm: str | None = None,
    model_id: int | None = None,
    parameters: dict[str, Any] | None = None,
    name: str | None = None,
    submitted_by: str = "",
    caused_by: int | None = None,
) -> Job:
    """Check everything, create the job (and for training its model), then queue it.

    ``caused_by``: the finished job this one follows (keep models fresh, ``backend/jobs/fresh.py``).

    Bad parameters, a missing dataset or model, or too few items raise before anything is
    written; an unreachable broker leaves nothing behind either.
    """
    if kind not in states.KINDS:
        raise Invalid(f"unknown job kind '{kind}' (use one of {', '.join(states.KINDS)})")
    if kind == "train":
        job, model = await _training(session, dataset_id, algorithm, parameters, name, submitted_by)
        _check_local_files(settings, get_algorithm(model.algorithm).schema, model.parameters)
    elif kind != "infer" and get_task(kind).on == "dataset":
        model = None
        job = await _on_dataset(session, kind, dataset_id, parameters, submitted_by)
    else:
        if model_id is None:
            raise Invalid(f"a {kind} job needs a model")
        model = None
        job = await _on_model(session, kind, model_id, dataset_id, parameters, submitted_by)
    if model is not None:
        session.add(model)
        await session.flush()
        model.name = model.name or f"{model.algorithm}-{model.id}"
        job.model_id = model.id
    job.caused_by_job_id = caused_by
    session.add(job)
    await session.flush()
    session.add(JobLog(job_id=job.id, message=f"queued by {submitted_by or 'unknown'}"))  # type: ignore[arg-type]
    await session.commit()
    try:
        return await _queue(session, settings, job, enqueue)
    except BrokerUnavailable:
        await _undo_submit(session, job, model)
        raise


async def _training(
    session: AsyncSession,
    dataset_id: int | None,
    key: str | None,
    parameters: dict[str, Any] | None,
    name: str | None,
    submitted_by: str,
) -> tuple[Job, Model]:
    if not key:
        raise Invalid("a training job needs an algorithm")
    if dataset_id is None:
        raise Invalid("a training job needs a dataset")
    algorithm = get_algorithm(key)
    params = validate_parameters(key, parameters)
    name = _clean_model_name(name)
    dataset = await get_dataset(session, dataset_id)
    count = await _readable_count(session, dataset_id)
    trained_on: dict[str, Any] = {"dataset": dataset.name, "item_count": count}
    usable = count
    if algorithm.needs_labels:
        trained_on.update(await _label_snapshot(session, dataset_id, params))
        usable = trained_on["labeled_count"]
        if algorithm.kind == "classifier" and len(trained_on["label_counts"]) < 2:
            counts = trained_on["label_counts"]
            named = ", ".join(c["name"] for c in trained_on["classes"] if str(c["id"]) in counts) or "none"
            raise Invalid(
                f"a classifier needs labeled items of at least two classes; dataset '{dataset.name}' has "
                f"{len(counts)} labeled class(es) ({named}) in the chosen labels: label more first"
            )
    if params.get("fine_tune_from"):
        trained_on["fine_tune_from"] = await _fine_tune_source(session, key, algorithm.schema, params)
    for field, spec in algorithm.schema.get("properties", {}).items():
        if spec.get("x-feature-model"):  # whose vectors it learns from, fixed now, recorded
            from backend.feature_report.service import best_feature_model
            from backend.feature_report.sources import resolve_feature_source

            best = await best_feature_model(session, dataset_id)
            trained_on["features"] = await resolve_feature_source(session, dataset_id, params[field], best)
    need = algorithm.min_items(params)
    if usable < need:
        what = "labeled readable" if algorithm.needs_labels else "readable"
        raise Invalid(
            f"{algorithm.title} with these parameters needs at least {need} {what} items; "
            f"dataset '{dataset.name}' has {usable}"
        )
    model = Model(
        name=name or "",
        algorithm=key,
        kind=algorithm.kind,
        parameters=params,
        dataset_id=dataset_id,
        trained_on=trained_on,
    )
    job = Job(
        kind="train", algorithm=key, parameters=params, dataset_id=dataset_id, submitted_by=submitted_by
    )
    return job, model


async def _fine_tune_source(
    session: AsyncSession, key: str, schema: dict[str, Any], params: dict[str, Any]
) -> dict[str, Any]:
    """The ready model a training run starts from (parameter ``fine_tune_from``): its id and files.

    Its network must have the same shape: every parameter the schema marks ``x-architecture``
    must equal the new run's. The worker reads the weights from ``trained_on["fine_tune_from"]``.
    """
    source_id = params["fine_tune_from"]
    source = await session.get(Model, source_id, populate_existing=True)
    why = f"cannot fine-tune from model {source_id}"
    if source is None:
        raise Invalid(f"{why}: it does not exist", field="fine_tune_from")
    if source.algorithm != key:
        raise Invalid(f"{why}: it is a {source.algorithm} model, not {key}", field="fine_tune_from")
    if source.state != states.MODEL_READY or not source.artifact_path:
        raise Invalid(f"{why}: it is {source.state}, not ready", field="fine_tune_from")
    differ = [
        f"{spec.get('title', name)} {params.get(name)} (model {source_id}: {source.parameters.get(name)})"
        for name, spec in schema.get("properties", {}).items()
        if spec.get("x-architecture") and source.parameters.get(name) != params.get(name)
    ]
    if differ:
        raise Invalid(f"{why}: its network has another shape: {'; '.join(differ)}", field="fine_tune_from")
    return {"model_id": source.id, "artifact_path": source.artifact_path}


async def _on_model(
    session: AsyncSession,
    kind: str,
    model_id: int,
    dataset_id: int | None,
    parameters: dict[str, Any] | None,
    submitted_by: str,
) -> Job:
    model = await get_model(session, model_id)
    if model.state != states.MODEL_READY:
        raise Conflict(f"model {model_id} is {model.state}; only a ready model can be used")
    dataset_id = dataset_id or model.dataset_id
    await get_dataset(session, dataset_id)
    if kind == "infer":
        options = validate_infer_options(model.algorithm, parameters)
        features = model.trained_on.get("features")
        if features:  # a head on another model's vectors needs them on this dataset too
            await latest_inference(session, int(features["model_id"]), dataset_id)
    else:
        task = get_task(kind)
        options = check_against(task.schema, parameters, None, f" for {kind}")
        await latest_inference(session, model_id, dataset_id)  # tasks work on its vectors: say so now
    return Job(
        kind=kind,
        algorithm=model.algorithm,
        parameters=options,
        dataset_id=dataset_id,
        model_id=model_id,
        submitted_by=submitted_by,
    )


async def _on_dataset(
    session: AsyncSession,
    kind: str,
    dataset_id: int | None,
    parameters: dict[str, Any] | None,
    submitted_by: str,
) -> Job:
    if dataset_id is None:
        raise Invalid(f"a {kind} job needs a dataset")
    await get_dataset(session, dataset_id)
    options = check_against(get_task(kind).schema, parameters, None, f" for {kind}")
    return Job(
        kind=kind, algorithm=kind, parameters=options, dataset_id=dataset_id, submitted_by=submitted_by
    )


# ---- cancel / retry ------------------------------------------------------------------------------


async def _set_model_state(session: AsyncSession, job: Job, state: str, **values: Any) -> None:
    if job.kind == "train" and job.model_id is not None:
        await session.execute(update(Model).where(Model.id == job.model_id).values(state=state, **values))


async def cancel_job(session: AsyncSession, job_id: int, *, by: str = "") -> Job:
    """A queued job is canceled at once; a running one is asked to stop at its next step."""
    job = await get_job(session, job_id)
    who = f" by {by}" if by else ""
    if job.state == states.QUEUED:
        done = await session.execute(
            update(Job)
            .where(Job.id == job_id, Job.state == states.QUEUED)
            .values(state=states.CANCELED, cancel_requested=True, finished_at=utcnow())
        )
        if done.rowcount == 1:  # type: ignore[attr-defined]
            await _set_model_state(session, job, states.MODEL_CANCELED)
            session.add(
                JobLog(job_id=job_id, attempt=job.attempt, message=f"canceled{who} before it started")
            )
            await session.commit()
            return await get_job(session, job_id)
        job = await get_job(session, job_id)  # it started meanwhile
    if job.state == states.RUNNING:
        await session.execute(
            update(Job).where(Job.id == job_id, Job.state == states.RUNNING).values(cancel_requested=True)
        )
        session.add(
            JobLog(
                job_id=job_id,
                attempt=job.attempt,
                message=f"cancel requested{who}; stopping at the next step",
            )
        )
        await session.commit()
        return await get_job(session, job_id)
    states.require_move(job_id, job.state, states.CANCELED)
    return job


_RESET = {
    "cancel_requested": False,
    "error": None,
    "traceback": None,
    "done": 0,
    "total": 0,
    "epoch": None,
    "epochs": None,
    "worker": None,
    "heartbeat_at": None,
    "started_at": None,
    "finished_at": None,
    "message_id": None,
    "outputs": {},
    "followed_up": False,  # a retried step of a keep-fresh chain is followed up again
}


async def retry_job(
    session: AsyncSession, settings: Settings, enqueue: Enqueue | None, job_id: int, *, by: str = ""
) -> Job:
    """Run a failed or canceled job again, as its next attempt (earlier log lines are kept)."""
    job = await get_job(session, job_id)
    if job.state not in (states.FAILED, states.CANCELED):
        states.require_move(job_id, job.state, states.QUEUED)
    if job.kind != "train" and job.model_id is not None:
        model = await get_model(session, job.model_id)
        if model.state != states.MODEL_READY:
            raise Conflict(f"model {model.id} is {model.state}; retry its training first")
    before = {name: getattr(job, name) for name in (*_RESET, "state", "attempt")}
    attempt = job.attempt + 1
    moved = await session.execute(
        update(Job)
        .where(Job.id == job_id, Job.state == job.state, Job.attempt == job.attempt)
        .values(state=states.QUEUED, attempt=attempt, **_RESET)
    )
    if moved.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict(f"job {job_id} changed meanwhile; reload and try again")
    await _set_model_state(session, job, states.MODEL_TRAINING, artifact_path=None, ready_at=None)
    who = f" by {by}" if by else ""
    note = JobLog(job_id=job_id, attempt=attempt, message=f"retry{who}: attempt {attempt} queued")
    session.add(note)
    await session.commit()
    job = await get_job(session, job_id)
    try:
        return await _queue(session, settings, job, enqueue)
    except BrokerUnavailable:
        await session.execute(update(Job).where(Job.id == job_id).values(**before))
        previous = states.MODEL_STATE_OF_JOB[before["state"]]
        await _set_model_state(session, job, previous)
        await session.delete(note)
        await session.commit()
        raise


def job_duration(job: Job) -> float | None:
    """Seconds it ran (so far, while running)."""
    if job.started_at is None:
        return None
    end: datetime = job.finished_at or utcnow()
    return max(0.0, (end - job.started_at).total_seconds())
