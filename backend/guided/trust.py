"""Trust in batches, as the doors call it: a model's fitness, the precision a probability batch
can expect, guardrail flags of a batch, and the review of suspected wrong labels.

Everything here reads files the workers wrote (held-out probabilities, ``label_issues.npz``,
feature vectors) with numpy; nothing imports scikit-learn or cleanlab (the web process).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import numpy as np
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from backend.datasets.service import get_dataset
from backend.errors import Invalid, NotFound
from backend.guided.guardrails import BatchFlags, flag_batch
from backend.guided.heldout import (
    BatchEstimate,
    HeldOut,
    estimate_batch,
    load_held_out,
    with_labeled_since,
    with_rejections,
)
from backend.guided.probability import Candidate, ClassifierOutputs, labeled_item_ids
from backend.guided.quality import ModelFitness, model_fitness
from backend.guided.review import Suspect, find_suspects, load_label_issues
from backend.jobs import states
from backend.labels import rejections
from backend.labels.classes import get_class
from backend.labels.events import TagChange, check_items, check_labels, current_state, record_changes
from backend.labels.history import snapshot_labels_of
from backend.models.queries import get_model, latest_inference
from backend.paging import check_batch, check_page
from backend.settings import Settings
from backend.similarity.index import ITEM_IDS, VECTORS
from backend.storage import npy
from backend.storage.job_tables import Model
from backend.storage.tables import CurrentLabel, Tag, TagEvent

REVIEW_ACTIONS = ("keep", "relabel")


def model_dir(settings: Settings, model: Model) -> Path | None:
    return settings.artifact_dir / model.artifact_path if model.artifact_path else None


async def classifier_of(session: AsyncSession, model_id: int, dataset_id: int) -> Model:
    """A ready classifier trained on this dataset (its classes are the dataset's)."""
    await get_dataset(session, dataset_id)
    model = await get_model(session, model_id)
    if model.kind != "classifier":
        raise Invalid(f"model {model_id} is a {model.kind}, not a classifier", reason="not_a_classifier")
    if model.dataset_id != dataset_id:
        raise Invalid(
            f"model {model_id} was trained on dataset {model.dataset_id}: its classes are not those of "
            f"dataset {dataset_id}",
            reason="model_of_another_dataset",
        )
    if model.state != states.MODEL_READY:
        raise Invalid(f"model {model_id} is {model.state}; only a ready model can guide labeling")
    return model


async def current_labels(session: AsyncSession, dataset_id: int) -> dict[int, frozenset[int]]:
    rows = await session.execute(
        select(col(CurrentLabel.item_id), col(CurrentLabel.label_id)).where(
            col(CurrentLabel.dataset_id) == dataset_id
        )
    )
    state: dict[int, set[int]] = {}
    for item_id, label_id in rows.all():
        state.setdefault(int(item_id), set()).add(int(label_id))
    return {k: frozenset(v) for k, v in state.items()}


def _held_out_or_none(directory: Path | None) -> HeldOut | None:
    if directory is None:
        return None
    try:
        return load_held_out(directory)
    except NotFound:
        return None


async def estimate(
    session: AsyncSession,
    settings: Settings,
    model: Model,
    *,
    threshold: float,
    label_id: int | None,
    batch: list[Candidate],
    outputs: ClassifierOutputs | None = None,
    labeled: set[int] | None = None,
) -> BatchEstimate:
    """Expected precision of a probability batch (``batch``: its items, each with its class and
    score), from the model's held-out probabilities and, with its ``outputs`` on the dataset it
    trained on, its scores of the items labeled since its training (``heldout.with_labeled_since``)
    and the classes it gives the unlabeled items (the calibrated figure's label-shift weights);
    ``labeled``: the dataset's labeled item ids where the caller has read them already."""
    held_out = await asyncio.to_thread(_held_out_or_none, model_dir(settings, model))
    if held_out is not None and outputs is not None and model.dataset_id is not None:
        scored = (outputs.item_ids, outputs.probabilities, outputs.label_ids)
        since = await labeled_after_training(session, model.dataset_id, model)
        held_out = with_labeled_since(held_out, scored, since)
        rejected = await rejections.rejected_by_class(session, model.dataset_id)
        if rejected:  # the items people left out of batches: the misses the kept items lack
            if labeled is None:
                labeled = await labeled_item_ids(session, model.dataset_id)
            held_out = with_rejections(held_out, scored, rejected, labeled)
    current = await current_state(session, held_out.item_ids.tolist()) if held_out is not None else {}
    pool = None  # the unlabeled items' predicted classes: what the label-shift weights compare with
    if (
        held_out is not None
        and outputs is not None
        and model.dataset_id is not None
        and len(outputs.item_ids)
    ):
        if labeled is None:
            labeled = await labeled_item_ids(session, model.dataset_id)
        unlabeled = ~np.isin(outputs.item_ids, np.fromiter(labeled, np.int64, len(labeled)))
        best = np.asarray(outputs.probabilities)[unlabeled].argmax(axis=1)
        pool = np.asarray(outputs.label_ids, np.int64)[best]
    items = (
        np.asarray([c.label_id for c in batch], np.int64),
        np.asarray([c.probability for c in batch], np.float64),
    )
    return estimate_batch(
        held_out,
        current,
        threshold=threshold,
        label_id=label_id,
        batch_size=len(batch),
        batch=items,
        pool_predicted=pool,
    )


def fitness(model: Model, settings: Settings) -> ModelFitness:
    return model_fitness(model, settings)


# ---- guardrails ------------------------------------------------------------------------------


@dataclass
class FeatureVectors:
    item_ids: np.ndarray
    vectors: np.ndarray


async def feature_vectors(
    session: AsyncSession, settings: Settings, model_id: int, dataset_id: int
) -> FeatureVectors | None:
    """The model's latest vectors on the dataset, or None (no inference yet, or none written)."""
    try:
        job = await latest_inference(session, model_id, dataset_id)
    except NotFound:
        return None
    directory = settings.artifact_dir / job.outputs.get("dir", "")
    if not (directory / VECTORS).is_file() or not (directory / ITEM_IDS).is_file():
        return None

    def load() -> FeatureVectors:
        return FeatureVectors(npy.load(directory / ITEM_IDS), npy.load(directory / VECTORS, mmap_mode="r"))

    return await asyncio.to_thread(load)


async def batch_flags(
    session: AsyncSession,
    settings: Settings,
    *,
    dataset_id: int,
    model_id: int,
    item_ids: list[int],
    label_ids: list[int | None],
) -> BatchFlags:
    """Guardrail flags of one batch (each item with the class the batch would give it)."""
    await get_dataset(session, dataset_id)
    await get_model(session, model_id)
    found = await feature_vectors(session, settings, model_id, dataset_id)
    if found is None:
        return BatchFlags(rule="no feature vectors for this model on this dataset: no flags")
    current = await current_labels(session, dataset_id)
    return await asyncio.to_thread(
        flag_batch,
        item_ids,
        label_ids,
        found.item_ids,
        found.vectors,
        current,
        mads=settings.guard_centroid_mads,
        neighbours=settings.guard_neighbours,
    )


async def asked_batch_flags(
    session: AsyncSession,
    settings: Settings,
    *,
    dataset_id: int,
    model_id: int,
    item_ids: list[int],
    label_ids: list[int | None],
) -> BatchFlags:
    """``batch_flags`` of a batch a caller names (REST, GraphQL), refused as labeling it would be:
    over the batch cap, a class per item that does not line up, an item that is not one of the
    dataset's (NotFound naming it, as tagging does), or a class that is not one of the
    dataset's (NotFound naming it; a class unknown would otherwise judge by distance alone, as if
    none were given). The pages and the services judge the batches they made themselves."""
    check_batch(len(item_ids), settings.max_page_size)
    if len(label_ids) != len(item_ids):
        raise Invalid("label_ids must have one class per item", field="label_ids")
    await get_dataset(session, dataset_id)
    await check_items(session, dataset_id, item_ids)  # another dataset's items: NotFound, as tagging
    await check_labels(session, dataset_id, {label for label in label_ids if label is not None})
    return await batch_flags(
        session, settings, dataset_id=dataset_id, model_id=model_id, item_ids=item_ids, label_ids=label_ids
    )


# ---- label-error review ----------------------------------------------------------------------


@dataclass
class SuspectPage:
    dataset_id: int
    model_id: int
    total: int
    offset: int
    limit: int
    suspects: list[Suspect] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)  # which witnesses were available
    fitness: ModelFitness | None = None  # the model's held-out verdict: an unfit one's suspects mislead
    # single labels set since the model's training: no suspects of it (review.py), until retrained
    labeled_since_training: int = 0


async def reviewed_since(session: AsyncSession, dataset_id: int, model: Model) -> set[int]:
    """Items with a ``review`` event since the model became ready: judged already."""
    query = (
        select(col(Tag.item_id))
        .join(TagEvent, col(TagEvent.id) == col(Tag.event_id))
        .where(col(TagEvent.dataset_id) == dataset_id, col(TagEvent.kind) == "review")
    )
    if model.ready_at is not None:
        query = query.where(col(TagEvent.created_at) >= model.ready_at)
    return set((await session.scalars(query.distinct())).all())


@dataclass(frozen=True)
class SinceTraining:
    """What the events after a classifier's label snapshot (``labels_as_of``) did, in its terms.

    ``held_out``: items they touched that the training had no label of: the model never trained on
    them, so its probabilities of them are held out. An item the training did see stays out of
    them whatever happened since (revoked and labeled again, relabeled): its score is the model's
    fit of it (a walk's revoked and relabeled items read as held out, their in-sample scores right).
    ``relabeled``: items whose labels now differ from the ones it trained on (held-out ones with a
    label now included): the model never judged those labels (the label review's ``unjudged``)."""

    held_out: np.ndarray  # int64, sorted
    relabeled: frozenset[int]


async def since_training(session: AsyncSession, dataset_id: int, model: Model) -> SinceTraining:
    """``SinceTraining`` of ``model`` on its dataset's events (nothing without a label snapshot)."""
    trained_on = model.trained_on or {}
    at = trained_on.get("labels_as_of")
    none = SinceTraining(np.zeros(0, np.int64), frozenset())
    if not at:
        return none
    try:
        since = datetime.fromisoformat(str(at).replace("Z", "+00:00"))
    except ValueError:
        return none
    since = since if since.tzinfo else since.replace(tzinfo=UTC)
    touched_query = (
        select(col(Tag.item_id))
        .join(TagEvent, col(TagEvent.id) == col(Tag.event_id))
        .where(col(TagEvent.dataset_id) == dataset_id, col(TagEvent.created_at) > since)
        .distinct()
    )
    touched = sorted(int(i) for i in (await session.scalars(touched_query)).all())
    if not touched:
        return none
    # the labels the training read of them: its snapshot (``snapshot_labels``), those items alone
    trained = await snapshot_labels_of(
        session, dataset_id, {**trained_on, "labels_as_of": since.isoformat()}, touched_query
    )
    now = await current_state(session, touched)
    held_out = [i for i in touched if i not in trained]
    relabeled = frozenset(i for i in touched if i in now and now[i] != trained.get(i))
    return SinceTraining(np.asarray(held_out, np.int64), relabeled)


async def labeled_after_training(session: AsyncSession, dataset_id: int, model: Model) -> np.ndarray:
    """Items labeled after ``model``'s label snapshot that it never trained on (``SinceTraining``):
    its probabilities of them are held out."""
    return (await since_training(session, dataset_id, model)).held_out


async def label_suspects(
    session: AsyncSession,
    settings: Settings,
    *,
    dataset_id: int,
    model_id: int,
    offset: int = 0,
    limit: int = 48,
) -> SuspectPage:
    """Suspected wrong labels of the dataset, most suspect first. Left out (still neighbours of the
    others): items reviewed since the model became ready, and those labeled since its training
    (``labeled_since_training`` says how many): the model judges only labels it trained on
    (``review`` module)."""
    check_page(offset, limit, settings.max_page_size)
    model = await classifier_of(session, model_id, dataset_id)
    directory = model_dir(settings, model)
    issues = await asyncio.to_thread(load_label_issues, directory) if directory else None
    found = await feature_vectors(session, settings, model_id, dataset_id)
    labels = await current_labels(session, dataset_id)
    done = await reviewed_since(session, dataset_id, model)
    single = {i: next(iter(s)) for i, s in labels.items() if len(s) == 1}
    since = set((await since_training(session, dataset_id, model)).relabeled) & set(single)
    # reviewed items are judged (no suspects) but stay neighbours of the others: a label a person
    # confirmed is the surest evidence there is (leaving them out, one keep took three other
    # suspects off the walk's page)
    suspects = await asyncio.to_thread(
        partial(find_suspects, unjudged=since | (done & set(single))),
        single,
        issues,
        found.item_ids if found else None,
        found.vectors if found else None,
        neighbours=max(settings.guard_neighbours, 5),
    )
    sources = (["confident learning (cleanlab)"] if issues is not None else []) + (
        ["latent-space neighbours"] if found is not None else []
    )
    return SuspectPage(
        dataset_id,
        model_id,
        len(suspects),
        offset,
        limit,
        suspects[offset : offset + limit],
        sources,
        model_fitness(model, settings),
        len(since),
    )


async def review_label(
    session: AsyncSession,
    *,
    dataset_id: int,
    model_id: int | None,
    item_id: int,
    action: str,
    label_id: int | None = None,
    tagger: str,
) -> TagEvent:
    """Keep (confirm the current label) or relabel one suspect: a tag event of kind ``review``.
    ``model_id``, when given, is the classifier whose suspicion this answers: one of the dataset's
    classifiers (a feature extractor suspects nothing: refused as ``label_suspects`` refuses it)."""
    if action not in REVIEW_ACTIONS:
        raise Invalid(f"unknown review action '{action}' (use keep or relabel)")
    await get_dataset(session, dataset_id)
    if model_id is not None:  # the model whose suspicion (or batch) this answers: one of this dataset's
        model = await get_model(session, model_id)
        if model.kind != "classifier":  # as label_suspects refuses it: no suspicion to answer
            raise Invalid(f"model {model_id} is a {model.kind}, not a classifier", reason="not_a_classifier")
        if model.dataset_id != dataset_id:
            raise Invalid(
                f"model {model_id} was trained on dataset {model.dataset_id}, not dataset {dataset_id}",
                reason="model_of_another_dataset",
            )
    # first: an unknown item (or another dataset's) is not "an item with 0 labels" to keep
    await check_items(session, dataset_id, [item_id])
    current = (await current_state(session, [item_id])).get(item_id, frozenset())
    if action == "keep":
        if len(current) != 1:
            raise Invalid(f"item {item_id} has {len(current)} labels: nothing single to keep")
        label_id = next(iter(current))
    else:
        if label_id is None:
            raise Invalid("relabel needs a label class")
        label = await get_class(session, label_id)
        if label.dataset_id != dataset_id:
            raise Invalid(f"label class {label_id} belongs to another dataset")
    return await record_changes(
        session,
        dataset_id,
        tagger=tagger,
        kind="review",
        changes=[TagChange(item_id, "set", label_id)],
        model_id=model_id,
        parameters={"action": action, "previous": sorted(current)},
    )
