"""Keep models fresh: follow-up jobs the server queues by itself (the next-step button: next_step.py).

With a dataset's switch on (``Dataset.keep_models_fresh``):

- a succeeded training queues the model's inference on its dataset;
- a succeeded inference of a feature extractor queues its similarity index build;
- a ready classifier (the newest of its algorithm, trained on the current labels) is retrained
  once the dataset's labeled items grew by ``Dataset.fresh_growth`` (0.2: 20 %) since its
  training; its success then queues its inference as above. A retrain reuses the model's
  parameters, so one on the report's best features (``feature_model`` 0) takes the report's choice
  of then; it waits while a report or an inference of the best model is on its way;
- the feature report is run again once the labeled items doubled since the last one (the rule
  the queue suggests it by, ``report.report_due``), and a succeeded report queues the inference
  that makes its best model's vectors the variant it chose (with or without the intensity
  descriptors), which in turn queues that model's index.

A job submitted with ``chain`` (a queue suggestion's "train and apply": one click) is followed up
the same way, switch or not, and its follow-ups are chained in turn.

Every step is a normal job (listed, cancelable, retryable) whose ``caused_by_job_id`` names the
job it follows. A failed or canceled step stops the chain: the server writes why in that job's
log, and retrying it (which clears ``followed_up``) lets the chain go on after its success.

Where it runs: ``keep_fresh`` is called by the job runtime's ticker in the web process
(``workers.runtime.JobRuntime.tick``), which runs with the embedded broker and with
Dramatiq + Redis alike; remote workers never queue anything. Each finished job is claimed with
one conditional UPDATE (``followed_up``) and each retrain under the dataset's write lock, so two
processes ticking at once never queue a step twice. Only jobs finished after the switch was
turned on (``fresh_since``) are followed up: switching it on does not replay old history.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from backend.algorithms import get_algorithm
from backend.datasets.service import get_dataset
from backend.errors import Invalid, LabelwiseError
from backend.feature_report.report import KIND as REPORT_KIND
from backend.feature_report.report import FeatureReport, latest_report, report_due, report_outgrown
from backend.feature_report.service import submit_intensity_inference, submit_report
from backend.feature_report.sources import feature_candidates
from backend.jobs import states
from backend.jobs.enqueue import Enqueue
from backend.jobs.queries import get_job
from backend.jobs.submission import submit_job
from backend.labels.events import lock_dataset
from backend.models.queries import train_job_of
from backend.settings import Settings
from backend.storage.job_tables import Job, JobLog, Model
from backend.storage.tables import CurrentLabel, Dataset, Item
from backend.storage.types import utcnow

log = logging.getLogger("labelwise.jobs")

FRESH_BY = "keep-models-fresh"  # ``submitted_by`` of the jobs this module queues
# what a note in a job's log names as its cause: the dataset's switch, or the chain of an accepted
# queue suggestion (which runs with the switch off: its log once said "keep models fresh" there)
BY_SWITCH, BY_CHAIN = "keep models fresh", "train and apply"
DEFAULT_GROWTH = 0.2
SNAPSHOT_KEYS = ("label_snapshot", "labels_as_of", "labels_tagger")


@dataclass(frozen=True)
class FreshSettings:
    """Whether the server keeps the dataset's models fresh, and when a classifier is retrained."""

    dataset_id: int
    keep_models_fresh: bool
    growth: float  # retrain a classifier when labeled items grew by this fraction since it trained
    since: str | None  # ISO time it was last switched on


def _of(dataset: Dataset) -> FreshSettings:
    since = dataset.fresh_since.isoformat() if dataset.fresh_since and dataset.keep_models_fresh else None
    return FreshSettings(
        int(dataset.id or 0), bool(dataset.keep_models_fresh), float(dataset.fresh_growth), since
    )


async def fresh_settings(session: AsyncSession, dataset_id: int) -> FreshSettings:
    return _of(await get_dataset(session, dataset_id))


async def set_fresh(
    session: AsyncSession,
    dataset_id: int,
    *,
    keep_models_fresh: bool | None = None,
    growth: float | None = None,
) -> FreshSettings:
    """Switch it on or off and/or set the growth fraction (0 < growth <= 10)."""
    dataset = await get_dataset(session, dataset_id)
    if growth is not None:
        if not (0.0 < growth <= 10.0) or math.isnan(growth):
            raise Invalid(f"the growth fraction must be above 0 and at most 10, got {growth}", field="growth")
        dataset.fresh_growth = float(growth)
    if keep_models_fresh is not None and bool(keep_models_fresh) != bool(dataset.keep_models_fresh):
        dataset.keep_models_fresh = bool(keep_models_fresh)
        dataset.fresh_since = utcnow() if keep_models_fresh else None
    session.add(dataset)
    await session.commit()
    return _of(await get_dataset(session, dataset_id))


async def any_fresh_dataset(session: AsyncSession) -> bool:
    return (
        await session.scalar(select(col(Dataset.id)).where(col(Dataset.keep_models_fresh).is_(True)).limit(1))
        is not None
    )


# ---- the chain ---------------------------------------------------------------------------------


def _follow_up_kind(job: Job, model: Model | None) -> str | None:
    """The job kind that follows a succeeded ``job`` (None: the chain ends here)."""
    if model is None or model.state != states.MODEL_READY:
        return None
    if job.kind == "train":
        return "infer"
    if job.kind == "infer" and model.kind == "feature_extractor":
        return "build-index"
    return None


def _chained(job: Job) -> bool:
    """Whether a finished job is a step that would have been followed up on success."""
    return job.kind in ("train", "infer", REPORT_KIND)


def _note(
    session: AsyncSession,
    job_id: int,
    attempt: int,
    message: str,
    level: str = "info",
    cause: str = BY_SWITCH,
) -> None:
    """A line in the job's log, prefixed with what made the server act (``BY_SWITCH``/``BY_CHAIN``)."""
    text = f"{cause}: {message}"
    session.add(JobLog(job_id=job_id, attempt=attempt, level=level, message=text))


async def any_chained_job(session: AsyncSession) -> bool:
    """Whether a chained job waits to be followed up (queued, running, or finished unseen)."""
    return (
        await session.scalar(
            select(col(Job.id)).where(col(Job.chain).is_(True), col(Job.followed_up).is_(False)).limit(1)
        )
        is not None
    )


def _to_follow_up() -> ColumnElement[bool]:
    """SQL (over ``Job`` joined with its ``Dataset``): a job the server's round claims once it has
    finished, and has not claimed yet: it is chained, or its dataset keeps models fresh since before
    it finished (an unfinished job on a fresh dataset: it will finish after the switch went on)."""
    finished_fresh = or_(col(Job.finished_at).is_(None), col(Job.finished_at) >= col(Dataset.fresh_since))
    fresh = and_(col(Dataset.keep_models_fresh).is_(True), finished_fresh)
    return and_(or_(fresh, col(Job.chain).is_(True)), col(Job.followed_up).is_(False))


def _may_have_a_next_step() -> ColumnElement[bool]:
    """SQL (over ``Job`` outer-joined with its ``Model``): the kinds ``_follow_up_kind`` and
    ``_follow_report`` may follow on success (a training, an extractor's inference, a report)."""
    return or_(
        col(Job.kind).in_(("train", REPORT_KIND)),
        and_(col(Job.kind) == "infer", col(Model.kind) == "feature_extractor"),
    )


async def pending_follow_ups(session: AsyncSession, job_ids: list[int]) -> set[int]:
    """Those of ``job_ids`` whose next step the server may still queue (``follow_up_pending`` of
    REST and GraphQL): not followed up yet by the round of ``follow_up_finished_jobs`` (same rule:
    ``_to_follow_up``), of a kind that is followed up, and not failed or canceled (a failed step
    stops the chain; a retry clears ``followed_up`` and makes it pending again). One query."""
    if not job_ids:
        return set()
    rows = await session.scalars(
        select(col(Job.id))
        .join(Dataset, col(Dataset.id) == col(Job.dataset_id))
        .outerjoin(Model, col(Model.id) == col(Job.model_id))
        .where(
            col(Job.id).in_(job_ids),
            _to_follow_up(),
            _may_have_a_next_step(),
            col(Job.state).not_in((states.FAILED, states.CANCELED)),
        )
    )
    return {int(i) for i in rows.all() if i is not None}


async def follow_up_pending(session: AsyncSession, job_id: int) -> bool:
    """Whether the server may still queue the next step of one job (``pending_follow_ups``)."""
    return job_id in await pending_follow_ups(session, [job_id])


async def _claim(session: AsyncSession, job_id: int, *, only_once: bool = True) -> bool:
    """Mark the job followed up (not committed); ``only_once``: only where no one did (False:
    another process took it)."""
    claim = update(Job).where(col(Job.id) == job_id)
    if only_once:
        claim = claim.where(col(Job.followed_up).is_(False))
    claimed = await session.execute(claim.values(followed_up=True))
    return bool(claimed.rowcount == 1)  # type: ignore[attr-defined]


async def follow_up_finished_jobs(session: AsyncSession, settings: Settings) -> list[int]:
    """Queue the next step of every chained job and of every job finished since its dataset's
    switch went on; new job ids.

    The new jobs are committed as queued without a broker message: the caller sends them.
    """
    rows = await session.execute(
        select(col(Job.id))
        .join(Dataset, col(Dataset.id) == col(Job.dataset_id))
        .where(_to_follow_up(), col(Job.state).in_(states.FINISHED))
        .order_by(col(Job.id))
        .limit(50)
    )
    queued: list[int] = []
    for (job_id,) in rows.all():
        # the claim commits with the step it queues, in one transaction (the claimed row, or the
        # database, stays locked to other claimers until then): a job never reads as followed up
        # while its next step is not there yet, so a client that saw ``follow_up_pending`` turn
        # false finds the step by ``caused_by`` at once
        if not await _claim(session, job_id):
            await session.rollback()
            continue  # another process took it
        job = await get_job(session, job_id)
        # plain values: a rollback expires the row
        attempt, dataset_id, chained = job.attempt, job.dataset_id, bool(job.chain)
        by = job.submitted_by if chained and job.submitted_by else FRESH_BY
        cause = BY_CHAIN if chained else BY_SWITCH
        if job.state != states.SUCCEEDED:
            if _chained(job):
                _note(
                    session,
                    job_id,
                    attempt,
                    f"the chain stops here: this {job.kind} job {job.state}; retry it to go on",
                    "warning",
                    cause,
                )
            await session.commit()
            continue
        if job.kind == REPORT_KIND:
            new_id = await _follow_report(session, settings, job_id, attempt, int(dataset_id or 0), by, cause)
            if new_id is not None:
                queued.append(new_id)
            else:  # its rollbacks took the claim back with them
                await _claim(session, job_id, only_once=False)
                await session.commit()
            continue
        model = await session.get(Model, job.model_id, populate_existing=True) if job.model_id else None
        kind = _follow_up_kind(job, model)
        if kind is None or model is None:
            await session.commit()
            continue
        model_id = int(model.id or 0)
        try:
            new = await submit_job(
                session,
                settings,
                None,
                kind=kind,
                model_id=model_id,
                dataset_id=dataset_id,
                submitted_by=by,
                caused_by=job_id,
                chain=chained,
            )
        except LabelwiseError as exc:
            await session.rollback()
            await _claim(session, job_id, only_once=False)  # the rollback took it back
            _note(
                session,
                job_id,
                attempt,
                f"could not queue the {kind} that follows: {exc.message}",
                "warning",
                cause,
            )
            await session.commit()
            continue
        _note(session, job_id, attempt, f"queued {kind} job #{new.id}", cause=cause)
        await session.commit()
        queued.append(int(new.id))  # type: ignore[arg-type]
    return queued


async def _intensity_inference_advised(session: AsyncSession, dataset_id: int) -> bool:
    """Whether the newest report's choice of intensity descriptors differs from the vectors its
    best model has now (what the queue's "compute the features ... intensity descriptors" asks)."""
    report = await latest_report(session, dataset_id)
    if report.best_model_id is None or report.infer_intensity is None:
        return False
    newest = await session.scalar(
        select(Job)
        .where(
            col(Job.dataset_id) == dataset_id,
            col(Job.kind) == "infer",
            col(Job.model_id) == report.best_model_id,
            col(Job.state).in_([*states.ACTIVE, states.SUCCEEDED]),
        )
        .order_by(col(Job.id).desc())
        .limit(1)
        .execution_options(populate_existing=True)
    )
    if newest is None:
        return False  # no vectors of it on this dataset: not the report's business
    if newest.state in states.ACTIVE:
        return False  # an inference of it is on its way already
    return (newest.parameters or {}).get("intensity_descriptors") != report.infer_intensity


async def _follow_report(
    session: AsyncSession,
    settings: Settings,
    job_id: int,
    attempt: int,
    dataset_id: int,
    by: str,
    cause: str = BY_SWITCH,
) -> int | None:
    """After a succeeded report: the inference its intensity choice asks for, if any; the new job id."""
    if not await _intensity_inference_advised(session, dataset_id):
        await session.rollback()
        return None
    try:
        new = await submit_intensity_inference(session, settings, None, dataset_id, submitted_by=by)
    except LabelwiseError as exc:
        await session.rollback()
        _note(
            session,
            job_id,
            attempt,
            f"could not queue the inference that follows: {exc.message}",
            "warning",
            cause,
        )
        await session.commit()
        return None
    new.caused_by_job_id = job_id
    session.add(new)
    _note(
        session, job_id, attempt, f"queued infer job #{new.id} (the report's intensity choice)", cause=cause
    )
    await session.commit()
    return int(new.id or 0)


async def _report_if_due(
    session: AsyncSession, settings: Settings, dataset_id: int, labeled: int, enqueue: Enqueue | None
) -> int | None:
    """Queue the feature report of a fresh dataset where it is due (``report_due``); the new job id.

    The cheap half of the rule first (a report pending, labels not doubled since the last): most
    rounds end there, without counting classes or looking for feature models."""
    report = await latest_report(session, dataset_id)
    if not report_outgrown(report, labeled):
        return None
    rows = await session.execute(
        select(col(CurrentLabel.label_id), func.count())
        .where(col(CurrentLabel.dataset_id) == dataset_id)
        .group_by(col(CurrentLabel.label_id))
    )
    counts = {int(label): int(n) for label, n in rows.all()}
    candidates = len(await feature_candidates(session, dataset_id))
    if not report_due(report, labeled, counts, candidates):
        return None
    await lock_dataset(session, dataset_id)  # held until the job commits: no second report
    report = await latest_report(session, dataset_id)
    if not report_due(report, labeled, counts, candidates):
        await session.rollback()
        return None
    try:
        job = await submit_report(session, settings, enqueue, dataset_id, submitted_by=FRESH_BY)
    except LabelwiseError as exc:
        await session.rollback()
        log.info("keep models fresh: no feature report for dataset %s: %s", dataset_id, exc.message)
        return None
    seen = report.seen_labels or report.labeled_items
    _note(
        session,
        int(job.id or 0),
        1,
        "first feature report" if report.job_id is None else f"labeled items doubled: {seen} -> {labeled}",
    )
    await session.commit()
    return int(job.id or 0)


async def labeled_count(session: AsyncSession, dataset_id: int) -> int:
    """Readable items holding at least one label now (what a "current" training snapshot counts)."""
    return int(
        await session.scalar(
            select(func.count(func.distinct(col(CurrentLabel.item_id))))
            .join(Item, col(Item.id) == col(CurrentLabel.item_id))
            .where(col(CurrentLabel.dataset_id) == dataset_id, col(Item.status) == "ok")
        )
        or 0
    )


def retrain_at(trained_on: int, growth: float) -> int:
    """The labeled count at which a classifier trained on ``trained_on`` labeled items is retrained."""
    return max(trained_on + 1, math.ceil(trained_on * (1.0 + growth) - 1e-9))


def on_current_labels(model: Model) -> bool:
    return (model.trained_on.get("label_snapshot") or {}).get("mode", "current") == "current"


def retrain_due(model: Model, labeled: int, growth: float) -> bool:
    """Whether keeping models fresh retrains ``model``, the newest classifier of its algorithm on
    its dataset, now that ``labeled`` items hold labels (the queue asks the same, so as not to
    suggest the retrain the server is about to queue)."""
    trained_on = int(model.trained_on.get("labeled_count") or 0)
    return (
        model.state == states.MODEL_READY
        and on_current_labels(model)
        and labeled >= retrain_at(trained_on, growth)
    )


async def _newest_classifiers(session: AsyncSession, dataset_id: int) -> list[Model]:
    """The newest classifier of each algorithm on the dataset (any state)."""
    rows = await session.scalars(
        select(Model)
        .where(col(Model.dataset_id) == dataset_id, col(Model.kind) == "classifier")
        .order_by(col(Model.id).desc())
        .execution_options(populate_existing=True)
    )
    newest: dict[str, Model] = {}
    for model in rows.all():
        newest.setdefault(model.algorithm, model)
    return list(newest.values())


@dataclass(frozen=True)
class _Retrainable:
    """What a retrain needs of a model, read before any rollback (which expires ORM rows)."""

    model_id: int
    algorithm: str
    parameters: dict[str, Any]
    trained_on_labels: int
    best_features: bool  # it learns from the vectors of the feature report's best model


def asks_best_features(algorithm: str, parameters: dict[str, Any]) -> bool:
    """Whether a training learns from the feature report's best model (a feature-model field left 0)."""
    properties = get_algorithm(algorithm).schema.get("properties") or {}
    return any(spec.get("x-feature-model") and not parameters.get(name) for name, spec in properties.items())


async def _features_settling(session: AsyncSession, dataset_id: int) -> str | None:
    """Why the report's best features are about to change (None: they are not): a report queued or
    running may choose another model, an inference of its best model on its way computes new vectors
    (the variant the report chose, with or without the intensity descriptors). A retrain on them now
    would learn from the vectors of before, and stay on them until the labels grew again."""
    report = await latest_report(session, dataset_id)
    if report.pending_job_id is not None or report.best_model_id is None:
        return settling_reason(report, None)
    computing = await session.scalar(
        select(col(Job.id))
        .where(
            col(Job.dataset_id) == dataset_id,
            col(Job.kind) == "infer",
            col(Job.model_id) == report.best_model_id,
            col(Job.state).in_(states.ACTIVE),
        )
        .limit(1)
    )
    return settling_reason(report, computing)


def settling_reason(report: FeatureReport, computing: int | None) -> str | None:
    """Why a retrain on the report's best features waits (None: it does not): the report's job
    queued or running, or ``computing``, an inference job of its best model on its way. The
    server holds the retrain by it, and the queue says so."""
    if report.pending_job_id is not None:
        return f"feature report job #{report.pending_job_id} may choose other features"
    if computing is not None and report.best_model_id is not None:
        return f"inference job #{computing} computes the vectors of feature model {report.best_model_id}"
    return None


async def queue_due_steps(
    session: AsyncSession,
    settings: Settings,
    dataset_ids: list[int] | None = None,
    enqueue: Enqueue | None = None,
) -> list[int]:
    """On every fresh dataset (or those of ``dataset_ids`` that are fresh): run the feature report
    where it is due, and retrain each classifier whose labels grew by the set fraction; new job ids.
    Each dataset's labeled items are counted once a round.

    A classifier that learns from the report's best features waits while they are settling (a
    report queued, this round's included, or running; an inference of the best model on its way):
    it was queued first, on the report of before, and learned from the vectors the report was
    about to replace. A later round retrains it on the new ones (its labels have not shrunk)."""
    chosen = select(col(Dataset.id), col(Dataset.fresh_growth)).where(
        col(Dataset.keep_models_fresh).is_(True)
    )
    if dataset_ids is not None:
        chosen = chosen.where(col(Dataset.id).in_(dataset_ids or [-1]))
    rows = await session.execute(chosen)
    queued: list[int] = []
    for dataset_id, growth in [(int(i), float(g)) for i, g in rows.all()]:
        labeled = await labeled_count(session, dataset_id)
        report = await _report_if_due(session, settings, dataset_id, labeled, enqueue)
        if report is not None:
            queued.append(report)
        due = [
            _Retrainable(
                int(m.id or 0),
                m.algorithm,
                dict(m.parameters),
                int(m.trained_on.get("labeled_count") or 0),
                asks_best_features(m.algorithm, m.parameters),
            )
            for m in await _newest_classifiers(session, dataset_id)
            if retrain_due(m, labeled, growth)
        ]
        settling = None
        if any(m.best_features for m in due):
            settling = await _features_settling(session, dataset_id)
        for model in due:
            if model.best_features and settling is not None:
                log.info("keep models fresh: model %s retrains later: %s", model.model_id, settling)
                continue
            job = await _retrain(session, settings, dataset_id, model, labeled, growth, enqueue)
            if job is not None:
                queued.append(job)
        await session.rollback()  # end the read transaction
    return queued


async def _retrain(
    session: AsyncSession,
    settings: Settings,
    dataset_id: int,
    model: _Retrainable,
    labeled: int,
    growth: float,
    enqueue: Enqueue | None = None,
) -> int | None:
    await lock_dataset(session, dataset_id)  # held until submit_job commits: no second retrain
    newer = await session.scalar(
        select(col(Model.id)).where(
            col(Model.dataset_id) == dataset_id,
            col(Model.algorithm) == model.algorithm,
            col(Model.id) > model.model_id,
        )
    )
    if newer is not None:
        await session.rollback()
        return None
    cause = await train_job_of(session, model.model_id)
    parameters = {k: v for k, v in model.parameters.items() if k not in SNAPSHOT_KEYS}
    try:
        job = await submit_job(
            session,
            settings,
            enqueue,
            kind="train",
            dataset_id=dataset_id,
            algorithm=model.algorithm,
            parameters=parameters,
            submitted_by=FRESH_BY,
            caused_by=cause.id if cause else None,
        )
    except LabelwiseError as exc:
        await session.rollback()
        log.info("keep models fresh: cannot retrain model %s: %s", model.model_id, exc.message)
        return None
    base = model.trained_on_labels
    job_id = int(job.id or 0)
    _note(
        session,
        job_id,
        1,
        f"labeled items grew from {base} to {labeled} since model {model.model_id} "
        f"(retrain at +{growth:.0%}: {retrain_at(base, growth)})",
    )
    await session.commit()
    return job_id


async def keep_fresh(session: AsyncSession, settings: Settings) -> list[int]:
    """One round: follow up finished jobs, retrain classifiers whose labels grew; new job ids."""
    if not await any_fresh_dataset(session):
        if not await any_chained_job(session):
            return []
        return await follow_up_finished_jobs(session, settings)
    return [*await follow_up_finished_jobs(session, settings), *await queue_due_steps(session, settings)]
