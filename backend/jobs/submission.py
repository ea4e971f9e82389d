"""Submitting a job: check everything, create the job (and for training its model), queue it.

Bad parameters, a missing dataset or model, or too few items raise before anything is written; an
unreachable broker leaves nothing behind either. No HTTP here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from backend.algorithms import get_algorithm, suggestion_rank, validate_infer_options, validate_parameters
from backend.algorithms.validation import check_against
from backend.datasets.service import get_dataset
from backend.errors import Conflict, Invalid
from backend.feature_report.report import best_feature_model
from backend.feature_report.sources import resolve_feature_source
from backend.jobs import states
from backend.jobs.enqueue import Enqueue, queue_job
from backend.jobs.errors import BrokerUnavailable
from backend.jobs.tasks import get_task
from backend.labels.snapshot import label_snapshot
from backend.models.queries import get_model, latest_inference
from backend.settings import Settings
from backend.storage import npy
from backend.storage.job_tables import Job, JobLog, Model
from backend.storage.tables import Item


def _fewer_items_with(algorithm: Any, params: dict[str, Any], need: int) -> list[str]:
    """The numeric parameters that, set to their minimum, lower the items a training needs: what
    the refusal names, so that a small dataset knows which field to change."""
    levers = []
    for field, spec in algorithm.schema.get("properties", {}).items():
        low, value = spec.get("minimum"), params.get(field)
        if spec.get("type") not in ("integer", "number") or low is None or value is None or value <= low:
            continue
        try:
            lowered = algorithm.min_items({**params, field: low})
        except (ArithmeticError, ValueError, KeyError):
            continue
        if lowered < need:
            levers.append(f"{spec.get('title', field)} ({value:g})")
    return levers


async def _check_kmeans_k(session: AsyncSession, settings: Settings, job: Job) -> None:
    """KMeans with more clusters than vectors fails in the worker, and a retry fails the same way:
    refuse it now, naming k and how many vectors there are."""
    assert job.model_id is not None
    inference = await latest_inference(session, job.model_id, job.dataset_id)
    try:
        count = len(
            npy.load(settings.artifact_dir / inference.outputs["dir"] / "item_ids.npy", mmap_mode="r")
        )
    except (KeyError, OSError, ValueError):
        return  # the worker says what is wrong with the vectors
    k = int(job.parameters["k"])
    if k > count:
        raise Invalid(
            f"KMeans k = {k} clusters need at least {k} items; model {job.model_id}'s vectors on this "
            f"dataset cover {count}: choose k of {count} or less",
            errors=[{"field": "k", "message": f"KMeans k must be at most {count} (the items with vectors)"}],
        )


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
        await session.scalar(
            select(func.count()).where(col(Item.dataset_id) == dataset_id, col(Item.status) == "ok")
        )
        or 0
    )


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
    chain: bool = False,
) -> Job:
    """Check everything, create the job (and for training its model), then queue it.

    ``caused_by``: the finished job this one follows (keep models fresh, ``backend/jobs/fresh.py``).
    ``chain``: on success the server queues the next step (inference after training, the index
    after an extractor's inference) even where the dataset does not keep models fresh.

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
        if kind == "cluster" and job.parameters.get("method") == "kmeans":
            await _check_kmeans_k(session, settings, job)
    if model is not None:
        session.add(model)
        await session.flush()
        model.name = model.name or f"{model.algorithm}-{model.id}"
        job.model_id = model.id
    job.caused_by_job_id = caused_by
    job.chain = chain
    session.add(job)
    await session.flush()
    session.add(JobLog(job_id=job.id, message=f"queued by {submitted_by or 'unknown'}"))  # type: ignore[arg-type]
    await session.commit()
    try:
        return await queue_job(session, settings, job, enqueue)
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
        trained_on.update(await label_snapshot(session, dataset_id, params))
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
            best = await best_feature_model(session, dataset_id)
            trained_on["features"] = await resolve_feature_source(
                session, dataset_id, params[field], best, suggestion_rank
            )
    need = algorithm.min_items(params)
    if usable < need:
        what = "labeled readable" if algorithm.needs_labels else "readable"
        levers = _fewer_items_with(algorithm, params, need)
        raise Invalid(
            f"{algorithm.title} with these parameters needs at least {need} {what} items; "
            f"dataset '{dataset.name}' has {usable}"
            + (f"; fewer are needed with a lower {' or '.join(levers)}" if levers else "")
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
