"""AI-guided labeling as the doors (REST, GraphQL, pages, CLI) call it: ids in, checked, answered.

Ties a model's latest inference on a dataset to the similarity index and the classifier outputs,
checks every id against the dataset first, and turns "nothing there yet" into an error that says
what to run. Indexes are loaded lazily and kept in an ``IndexCache`` on the app state.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from backend.datasets.items import ItemWithLabels, items_by_ids
from backend.datasets.service import get_dataset
from backend.errors import Conflict, Invalid, NotFound
from backend.guided import trust
from backend.guided.guardrails import BatchFlags
from backend.guided.heldout import BatchEstimate
from backend.guided.probability import (
    Candidate,
    ClassifierOutputs,
    candidates,
    check_confirm_over,
    check_expected_count,
    check_threshold,
    labeled_item_ids,
    load_outputs,
    record_batch,
)
from backend.guided.quality import ModelFitness, check_batch_use
from backend.guided.similar import label_similar_batch
from backend.jobs import states
from backend.labels import rejections
from backend.labels.batches import check_seen_event, latest_event_id
from backend.labels.classes import get_class
from backend.models.queries import get_model, latest_inference
from backend.paging import BATCH_PAGES, check_page
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
    fitness: ModelFitness | None = None
    estimate: BatchEstimate | None = None
    confirm_over: int = 0  # batches over this many items need a confirmation
    flags: dict[int, list[str]] = field(default_factory=dict)  # guardrail flags of the page's items
    flag_rule: str = ""
    flagged_count: int = 0  # flagged items in the whole batch
    seen_event_id: int = 0  # the newest label event when it was read: apply's seen_event_id

    @property
    def needs_confirmation(self) -> bool:
        return self.count > self.confirm_over


@dataclass(frozen=True)
class AppliedBatch:
    """What apply_probability did: the event (None: nothing labeled) and how many of the named
    ``left_out_item_ids`` and ``rejected_item_ids`` the batch did not hold (nothing to leave out,
    no rejection recorded: said, not dropped silently)."""

    event: TagEvent | None
    left_out_not_in_batch: int = 0
    rejected_not_in_batch: int = 0

    @property
    def skipped_changed(self) -> int:
        """Items left out as changed after ``seen_event_id`` (by someone else, or in another tab; the
        event's count)."""
        return int(self.event.parameters.get("skipped_changed") or 0) if self.event else 0


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
        select(col(Job.id))
        .where(
            col(Job.model_id) == model_id,
            col(Job.dataset_id) == dataset_id,
            col(Job.kind) == "build-index",
            col(Job.state).in_(states.ACTIVE),
        )
        .order_by(col(Job.id).desc())
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


def check_shown(shown: int, max_page_size: int) -> None:
    """How many items a similarity page showed: no more than a batch may hold (``BATCH_PAGES`` page
    sizes, the cap of a batch's ``item_ids``); a count beyond it would be recorded as the event's
    ``shown`` and ``deselected`` as it came."""
    cap = max_page_size * BATCH_PAGES
    if shown > cap:
        raise Invalid(f"shown must be at most {cap} (items per batch), got {shown}", field="shown")


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
    label_id: int | None = None,
) -> SimilarPage:
    """A page of the dataset's items ranked by cosine similarity to the query items.

    ``exclude_item_ids``: items already decided on (labeled or rejected from an earlier page), left
    out of the ranking so the next candidates come up. ``label_id``: the class the page labels
    with; the items rejected for it (``backend.labels.rejections``) are left out too."""
    queries = _check_queries(query_item_ids)
    if mode not in MODES:
        raise Invalid(f"unknown mode '{mode}' (use one of {', '.join(MODES)})")
    check_page(offset, limit, settings.max_page_size)
    if ef is not None and not 1 <= ef <= 5000:
        raise Invalid("ef must be between 1 and 5000")
    index = await load_index(session, settings, cache, model_id, dataset_id)
    await items_by_ids(session, dataset_id, queries)  # unknown ids, or items of another dataset
    exclude = await labeled_item_ids(session, dataset_id) if exclude_labeled else set()
    exclude |= {int(i) for i in exclude_item_ids or ()}
    if label_id is not None:
        exclude |= await rejections.rejected_items(session, dataset_id, label_id)
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
    settings: Settings,
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
    rejected_item_ids: list[int] | None = None,
) -> TagEvent:
    """Label the accepted items of a similarity page as one event of kind "similarity"; items changed
    after ``seen_event_id`` are left out (counted in the event's ``skipped_changed``);
    ``rejected_item_ids`` (shown but deselected) are recorded as rejected for the class. ``shown``
    (how many items the page showed) is capped as a batch is: ``BATCH_PAGES`` page sizes."""
    queries = _check_queries(query_item_ids)
    check_shown(shown, settings.max_page_size)
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
        rejected_item_ids=rejected_item_ids or [],
    )


async def classifier_outputs(
    session: AsyncSession, settings: Settings, model_id: int, dataset_id: int
) -> ClassifierOutputs:
    model = await _model_on(session, model_id, dataset_id)
    if model.kind == "classifier" and model.dataset_id != dataset_id:
        raise Invalid(
            f"model {model_id} was trained on dataset {model.dataset_id}: its classes are not those of "
            f"dataset {dataset_id}",
            reason="model_of_another_dataset",
        )
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


async def _batch(
    session: AsyncSession,
    settings: Settings,
    *,
    dataset_id: int,
    model_id: int,
    threshold: float,
    label_id: int | None,
    overwrite: bool,
) -> tuple[Model, list[Candidate], BatchFlags, ClassifierOutputs, set[int]]:
    """The items a probability batch would label, most probable first, their guardrail flags, the
    model's outputs they come from and the dataset's labeled items (the estimate's pool is the rest)."""
    check_threshold(threshold)
    await _check_class(session, dataset_id, label_id)
    outputs = await classifier_outputs(session, settings, model_id, dataset_id)
    model = await get_model(session, model_id)
    labeled = await labeled_item_ids(session, dataset_id)
    exclude = set() if overwrite else labeled
    chosen = await asyncio.to_thread(candidates, outputs, threshold, label_id=label_id, exclude=exclude)
    # an item someone left out of a batch of its class stays out of that class's batches
    chosen = rejections.drop_rejected(
        chosen, await rejections.rejected_by_class(session, dataset_id, label_id)
    )
    flags = await trust.batch_flags(
        session,
        settings,
        dataset_id=dataset_id,
        model_id=model_id,
        item_ids=[c.item_id for c in chosen],
        label_ids=[c.label_id for c in chosen],
    )
    return model, chosen, flags, outputs, labeled


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
    confirm_over: int | None = None,
) -> ProbabilityPage:
    """How many items pass the threshold and a page of them, most probable first, with the model's
    fitness, the batch's expected precision (held-out items) and guardrail flags: the preview.

    Labeled items are left out unless ``overwrite``: the count is what applying would label.
    """
    check_page(offset, limit, settings.max_page_size)
    check_confirm_over(confirm_over)
    seen = await latest_event_id(session, dataset_id)  # read first: no later event is taken as seen
    model, chosen, flags, outputs, labeled = await _batch(
        session,
        settings,
        dataset_id=dataset_id,
        model_id=model_id,
        threshold=threshold,
        label_id=label_id,
        overwrite=overwrite,
    )
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
        fitness=trust.fitness(model, settings),
        estimate=await trust.estimate(
            session,
            settings,
            model,
            threshold=threshold,
            label_id=label_id,
            batch=chosen,
            outputs=outputs,
            labeled=labeled,
        ),
        confirm_over=settings.confirm_batch_over if confirm_over is None else confirm_over,
        flags={c.item_id: flags.flags[c.item_id] for c in page if c.item_id in flags.flags},
        flag_rule=flags.rule,
        flagged_count=len(flags.flags),
        seen_event_id=seen,
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
    override_unfit: bool = False,
    confirm: bool = False,
    expected_count: int | None = None,
    exclude_flagged: bool = False,
    confirm_over: int | None = None,
    rejected_item_ids: list[int] | None = None,
    left_out_item_ids: list[int] | None = None,
    seen_event_id: int | None = None,
) -> AppliedBatch:
    """Label every passing item in one event of kind "probability" (the event: None when none passes).

    Exactly one of ``label_id`` (one class) or ``all_classes`` (each item's arg-max class). An
    unfit model needs ``override_unfit``; a batch over ``confirm_over`` items (default: the
    setting) needs ``confirm``; ``expected_count`` (what the caller saw) must still hold;
    ``exclude_flagged`` leaves out the items the guardrails flag (not rejected: nobody judged
    them); ``rejected_item_ids`` (items of the batch deselected one by one on its page, flagged or
    not) are left out and recorded as rejected for their class, so later batches of it do not
    offer them again; ``left_out_item_ids`` (the page's tiles deselected in bulk: "Select none", a
    Shift-click range) are left out, not recorded. The answer counts the ids of either list that
    the batch did not hold (a mistyped id, a batch that moved on), each list on its own, so the
    caller hears it. With ``seen_event_id`` (the preview's), items changed after it are left out,
    counted in the event's ``skipped_changed`` as a similarity batch's are; one past the dataset's
    newest event is refused (400). Refusals label nothing.
    """
    if (label_id is None) == (not all_classes):
        raise Invalid("give a label class or ask for all classes, not both and not neither")
    check_expected_count(expected_count)
    check_confirm_over(confirm_over)
    await check_seen_event(session, dataset_id, seen_event_id)
    model, chosen, flags, outputs, labeled = await _batch(
        session,
        settings,
        dataset_id=dataset_id,
        model_id=model_id,
        threshold=threshold,
        label_id=label_id,
        overwrite=overwrite,
    )
    fitness = check_batch_use(model, settings, override_unfit)
    if expected_count is not None and expected_count != len(chosen):  # the count the preview showed
        raise Conflict(
            f"the batch now has {len(chosen)} items, not the {expected_count} confirmed: look at it again",
            reason="batch_changed",
            count=len(chosen),
        )
    in_batch = {c.item_id for c in chosen}
    rejected = set(rejections.check_disjoint((), rejected_item_ids or ()))
    # a flagged item deselected by hand too is a rejection: "f" leaves the rest out, no more
    left_out = [(c.item_id, c.label_id) for c in chosen if c.item_id in rejected]
    chosen = [c for c in chosen if c.item_id not in rejected]
    dropped = {int(i) for i in left_out_item_ids or ()}
    chosen = [c for c in chosen if c.item_id not in dropped]
    if exclude_flagged:
        chosen = [c for c in chosen if c.item_id not in flags.flags]
    limit = settings.confirm_batch_over if confirm_over is None else confirm_over
    if len(chosen) > limit and not confirm:
        guess = await trust.estimate(
            session,
            settings,
            model,
            threshold=threshold,
            label_id=label_id,
            batch=chosen,
            outputs=outputs,
            labeled=labeled,
        )
        raise Conflict(
            f"{len(chosen)} items is over {limit}: confirm the batch ({guess.lead_note()})",
            reason="confirmation_required",
            count=len(chosen),
            estimate=guess.as_dict(),
        )
    event = await record_batch(
        session,
        dataset_id,
        chosen,
        tagger=tagger,
        model_id=model_id,
        parameters={
            "threshold": threshold,
            "label_id": label_id,
            "overwrite": overwrite,
            "fitness": fitness.status,
            "override_unfit": bool(override_unfit and fitness.unfit),
            "confirmed": bool(confirm),
            "excluded_flagged": len(flags.flags) if exclude_flagged else 0,
        },
        rejected=left_out,
        seen_event_id=seen_event_id,
    )
    return AppliedBatch(
        event=event,
        left_out_not_in_batch=len(dropped - in_batch),
        rejected_not_in_batch=len(rejected - in_batch),
    )
