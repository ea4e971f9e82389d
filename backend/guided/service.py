"""AI-guided labeling as the doors (REST, GraphQL, pages, CLI) call it: ids in, checked, answered.

Ties a model's latest inference on a dataset to the similarity index and the classifier outputs,
checks every id against the dataset first, and turns "nothing there yet" into an error that says
what to run. Indexes are loaded lazily and kept in an ``IndexCache`` on the app state.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.datasets.items import ItemWithLabels, items_by_ids
from backend.datasets.service import get_dataset
from backend.errors import Invalid, NotFound
from backend.guided.probability import (
    ClassifierOutputs,
    apply_threshold,
    candidates,
    labeled_item_ids,
    load_outputs,
)
from backend.guided.similar import label_similar_batch
from backend.jobs import states
from backend.jobs.service import get_model, latest_inference
from backend.labels.classes import get_class
from backend.settings import Settings
from backend.similarity.index import INDEX, VECTORS, FeatureIndex, IndexCache
from backend.similarity.ranking import MODES, rank_by_similarity
from backend.storage.job_tables import Job, Model
from backend.storage.tables import TagEvent

MAX_QUERY_ITEMS = 1000


def index_cache(state: Any) -> IndexCache:
    """The app's cache of loaded indexes, made on first use."""
    cache = getattr(state, "index_cache", None)
    if cache is None:
        cache = IndexCache()
        state.index_cache = cache
    return cache


@dataclass
class SimilarPage:
    dataset_id: int
    model_id: int
    query_item_ids: list[int]
    mode: str
    item_ids: list[int]
    similarities: list[float]
    total: int
    offset: int
    limit: int
    exact: bool  # exact search (small data) or the hnswlib index


@dataclass
class ProbabilityPage:
    dataset_id: int
    model_id: int
    threshold: float
    label_id: int | None  # None: every item's arg-max class
    overwrite: bool
    count: int  # how many items pass (and would be labeled)
    item_ids: list[int]
    label_ids: list[int]
    probabilities: list[float]
    offset: int
    limit: int


def build_hint(model_id: int, dataset_id: int) -> str:
    return (
        f'submit a build-index job: POST /api/v1/jobs {{"kind": "build-index", "model_id": {model_id}, '
        f'"dataset_id": {dataset_id}}}, or `labelwise jobs build-index --model {model_id}`'
    )


async def _model_on(session: AsyncSession, model_id: int, dataset_id: int) -> Model:
    await get_dataset(session, dataset_id)
    model = await get_model(session, model_id)
    if model.state != states.MODEL_READY:
        raise Invalid(f"model {model_id} is {model.state}; only a ready model can guide labeling")
    return model


async def _output_dir(session: AsyncSession, settings: Settings, model_id: int, dataset_id: int) -> Path:
    job = await latest_inference(session, model_id, dataset_id)
    return settings.artifact_dir / job.outputs["dir"]


async def _active_build(session: AsyncSession, model_id: int, dataset_id: int) -> int | None:
    return await session.scalar(
        select(Job.id)
        .where(
            Job.model_id == model_id,
            Job.dataset_id == dataset_id,
            Job.kind == "build-index",
            Job.state.in_(states.ACTIVE),
        )
        .order_by(Job.id.desc())
        .limit(1)
    )


async def load_index(
    session: AsyncSession, settings: Settings, cache: IndexCache, model_id: int, dataset_id: int
) -> FeatureIndex:
    """The model's index on the dataset; clear errors when it has no vectors or no index yet."""
    await _model_on(session, model_id, dataset_id)
    directory = await _output_dir(session, settings, model_id, dataset_id)
    if not (directory / VECTORS).exists():
        raise NotFound(
            f"model {model_id} wrote no feature vectors for dataset {dataset_id} (it is not a feature "
            "extractor, or its inference produced none): choose a model that produces vectors",
            reason="no_vectors",
        )
    try:
        return await asyncio.to_thread(cache.get, directory)
    except NotFound as exc:
        if (directory / INDEX).exists():
            raise
        running = await _active_build(session, model_id, dataset_id)
        if running is not None:
            raise NotFound(
                f"the similarity index of model {model_id} on dataset {dataset_id} is being built "
                f"(job {running}); try again when it has finished",
                reason="index_building",
                job_id=running,
            ) from exc
        raise NotFound(
            f"the similarity index of model {model_id} on dataset {dataset_id} is not built yet: "
            + build_hint(model_id, dataset_id),
            reason="index_not_built",
        ) from exc


def _check_queries(query_item_ids: list[int]) -> list[int]:
    queries = list(dict.fromkeys(int(i) for i in query_item_ids))
    if not queries:
        raise Invalid("give at least one query item")
    if len(queries) > MAX_QUERY_ITEMS:
        raise Invalid(f"at most {MAX_QUERY_ITEMS} query items")
    return queries


async def similar_items(
    session: AsyncSession,
    settings: Settings,
    cache: IndexCache,
    *,
    dataset_id: int,
    model_id: int,
    query_item_ids: list[int],
    mode: str = "mean",
    exclude_labeled: bool = False,
    offset: int = 0,
    limit: int = 48,
    ef: int | None = None,
    exclude_item_ids: list[int] | None = None,
) -> SimilarPage:
    """A page of the dataset's items ranked by cosine similarity to the query items.

    ``exclude_item_ids``: items already decided on (labeled or rejected from an earlier page), left
    out of the ranking so the next candidates come up."""
    queries = _check_queries(query_item_ids)
    if mode not in MODES:
        raise Invalid(f"unknown mode '{mode}' (use one of {', '.join(MODES)})")
    if offset < 0 or not 1 <= limit <= settings.max_page_size:
        raise Invalid(f"offset must be >= 0 and limit between 1 and {settings.max_page_size}")
    if ef is not None and not 1 <= ef <= 5000:
        raise Invalid("ef must be between 1 and 5000")
    index = await load_index(session, settings, cache, model_id, dataset_id)
    await items_by_ids(session, dataset_id, queries)  # unknown ids, or items of another dataset
    exclude = await labeled_item_ids(session, dataset_id) if exclude_labeled else set()
    exclude |= {int(i) for i in exclude_item_ids or ()}
    ranked = await asyncio.to_thread(
        rank_by_similarity, index, queries, mode=mode, offset=offset, limit=limit, exclude=exclude, ef=ef
    )
    return SimilarPage(
        dataset_id=dataset_id,
        model_id=model_id,
        query_item_ids=queries,
        mode=mode,
        item_ids=ranked.item_ids,
        similarities=ranked.similarities,
        total=ranked.total,
        offset=offset,
        limit=limit,
        exact=index.exact,
    )


async def page_items(session: AsyncSession, dataset_id: int, item_ids: list[int]) -> list[ItemWithLabels]:
    """The items of a ranking page in its order, with their current labels (for galleries)."""
    return await items_by_ids(session, dataset_id, item_ids)


async def label_similar(
    session: AsyncSession,
    *,
    dataset_id: int,
    model_id: int,
    query_item_ids: list[int],
    item_ids: list[int],
    label_id: int,
    shown: int,
    mode: str = "mean",
    tagger: str,
    seen_event_id: int | None = None,
) -> TagEvent:
    """Label the accepted items of a similarity page as one event of kind "similarity"; items changed
    after ``seen_event_id`` are left out (counted in the event's ``skipped_changed``)."""
    queries = _check_queries(query_item_ids)
    if mode not in MODES:
        raise Invalid(f"unknown mode '{mode}' (use one of {', '.join(MODES)})")
    if not item_ids:
        raise Invalid("select at least one item to label")
    # The event will name this model: it must be ready and have ranked this dataset's items.
    await _model_on(session, model_id, dataset_id)
    await latest_inference(session, model_id, dataset_id)
    await items_by_ids(session, dataset_id, queries)
    return await label_similar_batch(
        session,
        dataset_id,
        tagger=tagger,
        model_id=model_id,
        query_item_ids=queries,
        item_ids=list(dict.fromkeys(int(i) for i in item_ids)),
        label_id=label_id,
        shown=shown,
        mode=mode,
        seen_event_id=seen_event_id,
    )


async def classifier_outputs(
    session: AsyncSession, settings: Settings, model_id: int, dataset_id: int
) -> ClassifierOutputs:
    await _model_on(session, model_id, dataset_id)
    directory = await _output_dir(session, settings, model_id, dataset_id)
    try:
        return await asyncio.to_thread(load_outputs, directory)
    except NotFound:
        raise NotFound(
            f"model {model_id} wrote no class probabilities for dataset {dataset_id} (it is not a "
            "classifier): choose a classifier model",
            reason="no_probabilities",
        ) from None


async def _check_class(session: AsyncSession, dataset_id: int, label_id: int | None) -> None:
    if label_id is None:
        return
    label = await get_class(session, label_id)
    if label.dataset_id != dataset_id:
        raise Invalid(f"label class {label_id} belongs to another dataset")


async def probability_candidates(
    session: AsyncSession,
    settings: Settings,
    *,
    dataset_id: int,
    model_id: int,
    threshold: float,
    label_id: int | None = None,
    overwrite: bool = False,
    offset: int = 0,
    limit: int = 48,
) -> ProbabilityPage:
    """How many items pass the threshold and a page of them, most probable first.

    Labeled items are left out unless ``overwrite``: the count is what applying would label.
    """
    if offset < 0 or not 1 <= limit <= settings.max_page_size:
        raise Invalid(f"offset must be >= 0 and limit between 1 and {settings.max_page_size}")
    await _check_class(session, dataset_id, label_id)
    outputs = await classifier_outputs(session, settings, model_id, dataset_id)
    exclude = set() if overwrite else await labeled_item_ids(session, dataset_id)
    chosen = await asyncio.to_thread(candidates, outputs, threshold, label_id=label_id, exclude=exclude)
    page = chosen[offset : offset + limit]
    return ProbabilityPage(
        dataset_id=dataset_id,
        model_id=model_id,
        threshold=threshold,
        label_id=label_id,
        overwrite=overwrite,
        count=len(chosen),
        item_ids=[c.item_id for c in page],
        label_ids=[c.label_id for c in page],
        probabilities=[round(c.probability, 6) for c in page],
        offset=offset,
        limit=limit,
    )


async def apply_probability(
    session: AsyncSession,
    settings: Settings,
    *,
    dataset_id: int,
    model_id: int,
    threshold: float,
    label_id: int | None = None,
    all_classes: bool = False,
    overwrite: bool = False,
    tagger: str,
) -> TagEvent | None:
    """Label every passing item in one event of kind "probability"; None when none passes.

    Exactly one of ``label_id`` (one class) or ``all_classes`` (each item's arg-max class).
    """
    if (label_id is None) == (not all_classes):
        raise Invalid("give a label class or ask for all classes, not both and not neither")
    await _check_class(session, dataset_id, label_id)
    outputs = await classifier_outputs(session, settings, model_id, dataset_id)
    return await apply_threshold(
        session,
        dataset_id,
        outputs,
        tagger=tagger,
        model_id=model_id,
        threshold=threshold,
        label_id=label_id,
        overwrite=overwrite,
    )
