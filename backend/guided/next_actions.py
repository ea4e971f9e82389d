"""The next-best-action queue: what to do next on a dataset, ranked by expected labels per action.

``next_actions`` reads the dataset's state (``suggest_state``) and its models' saved outputs, and
proposes concrete, one-click suggestions (``suggest_math`` cuts the batches):

- *probability batches*: a class's unlabeled items at or above a threshold, the precision expected
  from labeled items the classifier scored without training on them (``oof.npz`` /
  ``validation.npz``, as ``trust.estimate``), else from its own probabilities;
- *similarity batches*: unlabeled items nearest a class's labeled items in the feature report's
  best features, the precision from the labeled items ranked the same way (leave one out);
- *items to label one by one*: the least certain items, chosen for diversity (greedy k-center
  over the labeled items and the items picked so far), so rare classes come up early; with no
  labels yet, the items nearest k-means centres; with no features, a spread sample; with a
  classifier's class shown on each they cost one click plus a key per expected wrong class;
- *a review of suspected wrong labels* when there are suspects (``trust.label_suspects``' witnesses);
- jobs: *retrain* when labels grew by ``RETRAIN_GROWTH`` since the newest classifier (with its
  expected gain; a need instead where keeping models fresh retrains it by itself), *train an
  extractor*, *run inference*, *build the index*, *run the feature report* where they are missing.

What it cannot suggest without more is said in ``needs`` (no classes, one class, no models, models
of deleted classes, failing jobs), never raised. ``accept_suggestion`` carries one out: a batch as
one event naming its model (409 when someone labeled one of its items since the suggestion was
made), a job as a normal job.

Expected figures of jobs are rough priors, stated in their ``reason``; batches' are measured.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import math
import zipfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from backend.accounts.roles import TRAINER, allows
from backend.algorithms import get_algorithm, validate_parameters
from backend.errors import Conflict, Forbidden, Invalid, LabelwiseError
from backend.feature_report.report import report_due
from backend.feature_report.service import submit_report, suggest_training
from backend.guided import suggest_math as sm
from backend.guided.heldout import HeldOut, with_labeled_since, with_rejections
from backend.guided.predicted import label_as_predicted, predicted_classes, predictions
from backend.guided.quality import MIN_PER_CLASS, model_fitness
from backend.guided.review import find_suspects, load_label_issues, review_hit_rate, wrong_probability
from backend.guided.stopping import StoppingEstimate, auto_label_rest, stopping_estimate
from backend.guided.suggest_state import (
    QueueState,
    index_built,
    load_held_out_or_none,
    load_probabilities,
    load_vectors,
    read_state,
)
from backend.guided.trust import SinceTraining, model_dir, reviewed_since, since_training
from backend.jobs import states
from backend.jobs.enqueue import Enqueue
from backend.jobs.fresh import asks_best_features, queue_due_steps, retrain_due, set_fresh, settling_reason
from backend.jobs.naming import job_method, job_title
from backend.jobs.submission import submit_job
from backend.labels import rejections
from backend.labels.batches import changed_since, record_batch
from backend.labels.events import TagRequest, lock_dataset
from backend.settings import Settings
from backend.similarity.index import EXACT_THRESHOLD
from backend.storage.ids import stored_id
from backend.storage.job_tables import Job, Model
from backend.storage.tables import Tag, TagEvent

KINDS = (
    "label_items",
    "similarity_batch",
    "probability_batch",
    "predicted_batch",
    "review_suspects",
    "keep_fresh",
    "retrain",
    "train_extractor",
    "run_inference",
    "build_index",
    "feature_report",
    "auto_label_rest",
    "add_classes",
)
JOB_KINDS = ("retrain", "train_extractor", "run_inference", "build_index", "feature_report")
RETRAIN_GROWTH = 0.2  # labels grown by this share since the newest classifier: suggest retraining
RETRAIN_OVER_MANUAL = 1.05  # a due retrain's labels per action at least: just above labeling by hand
REVIEW_HISTORY = 500  # recent reviews whose outcomes say how often a suspect is wrong
LABEL_ONE_BY_ONE = 10  # items the "label these" suggestion holds
MAX_SUSPECTS = 20
NEIGHBOUR_SUSPECTS_UP_TO = 500  # labeled items up to which neighbour disagreement is computed (L^2)
DEFAULT_CLASSIFIER = "vector_classifier"
# a class's Platt fit on fewer held-out items than this is mostly its prior, "the model keeps its word"
# (a walk on 600 digits: 97.1% promised by a fit on 1 item, for a batch that held 5 of 16)
FEW_FIT_ITEMS = 10


@dataclass(frozen=True)
class Suggestion:
    key: str
    kind: str
    title: str
    reason: str
    expected_labels: float
    expected_actions: float
    expected_precision: float | None
    item_ids: list[int]
    label_id: int | None
    model_id: int | None
    threshold: float | None
    params: dict[str, Any]

    @property
    def expected_yield(self) -> float:
        return self.expected_labels / max(self.expected_actions, 1e-9)


@dataclass(frozen=True)
class NextActions:
    dataset_id: int
    suggestions: list[Suggestion]
    needs: list[str]
    stopping: StoppingEstimate | None = None
    running_job_ids: list[int] = field(default_factory=list)  # the dataset's jobs queued or running
    server_steps_due: bool = False  # the server queues a step by itself on its next round


@dataclass
class AcceptResult:
    labeled: int
    job_ids: list[int] = field(default_factory=list)
    batch_id: int | None = None  # the tag event recorded
    skipped: int = 0  # kept items left out (labeled already)
    rejected: int = 0  # batch members left out, recorded as "not this class" (labels.rejections)


# ---- keys -------------------------------------------------------------------------------------


def _digest(payload: bytes) -> str:
    return hashlib.sha256(b"labelwise-next-action\0" + payload).hexdigest()[:16]


def make_key(dataset_id: int, watermark: int, kind: str, **params: Any) -> str:
    """An opaque token: the suggestion's kind and parameters, the label-state watermark, hashed."""
    body = {"d": dataset_id, "w": watermark, "k": kind, **{k: v for k, v in params.items() if v is not None}}
    payload = json.dumps(body, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(payload).decode().rstrip("=") + "." + _digest(payload)


def read_key(key: str, dataset_id: int) -> dict[str, Any]:
    """The key's parameters; 400 when it is not one this server made, or names another dataset."""
    try:
        encoded, digest = key.strip().split(".")
        payload = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
        if _digest(payload) != digest:
            raise ValueError("digest")
        body = json.loads(payload)
        if not isinstance(body, dict) or body.get("k") not in KINDS:
            raise ValueError("kind")
    except (ValueError, TypeError, UnicodeDecodeError):
        raise Invalid("not a suggestion key of this server (copy it from the queue)", field="key") from None
    if body.get("d") != dataset_id:
        raise Invalid(f"this suggestion is for dataset {body.get('d')}, not {dataset_id}", field="key")
    return body


# ---- building the queue ----------------------------------------------------------------------


@dataclass
class _Work:
    """Everything numpy computes for one answer (in a thread)."""

    probability: list[sm.ProbabilityBatch] = field(default_factory=list)
    similarity: list[sm.SimilarityBatch] = field(default_factory=list)
    one_by_one: list[int] = field(default_factory=list)
    one_by_one_how: str = ""
    one_by_one_predicted: list[int | None] = field(default_factory=list)  # the classifier's class
    one_by_one_right: float = 0.0  # of them, the classes shown expected right (their probabilities)
    covered: int = 0  # unlabeled items the probability batches would label
    unlabeled: int = 0
    suspects: list[Any] = field(default_factory=list)  # the first MAX_SUSPECTS of them
    suspect_total: int = 0  # all of them, as the review page counts them
    hit_rate: float = 0.25  # share of reviewed suspects found wrong (review_hit_rate)
    reviewed: int = 0  # suspects reviewed so far (relabeled or kept), behind hit_rate
    problems: list[str] = field(default_factory=list)  # outputs that could not be read
    server_due: bool = False  # keeping models fresh: a retrain or report the server queues itself

    @property
    def one_by_one_actions(self) -> float:
        """What labeling them costs: a key each; with the classifier's classes shown and at least
        two expected right, one click accepts those and a key fixes each of the others."""
        n = len(self.one_by_one)
        if self.one_by_one_right < 2:
            return float(n)
        return min(float(n), 1.0 + n - self.one_by_one_right)

    @property
    def by_hand_yield(self) -> float:
        """Labels per action of labeling them (1 without classes shown)."""
        return len(self.one_by_one) / self.one_by_one_actions if self.one_by_one else 1.0


def _readable(work: _Work, model: Any, load: Any, directory: Any) -> Any:
    """``load(directory)``, or None with a line in ``problems`` when the files are broken."""
    if directory is None:
        return None
    try:
        return load(directory)
    except (LabelwiseError, OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
        message = exc.message if isinstance(exc, LabelwiseError) else type(exc).__name__
        work.problems.append(
            f"the saved outputs of model {model.id} ({model.name}) cannot be read ({message}): "
            "run its inference again (or retrain it)"
        )
        return None


def _compute(
    state: QueueState,
    settings: Settings,
    reviewed: set[int],
    rejected: dict[int, set[int]] | None = None,
    since: SinceTraining | None = None,
) -> _Work:
    """``since``: what the events after the classifier's training did (``trust.SinceTraining``):
    the items it never trained on are held out from it too, the labels it never saw unjudged."""
    work = _Work(unlabeled=max(0, state.item_count - len(state.labels)))
    labeled_ids = np.fromiter(state.labels, np.int64, len(state.labels))
    single = {i: next(iter(s)) for i, s in state.labels.items() if len(s) == 1}
    active = set(state.classes)
    outputs = None
    if state.classifier is not None:
        directory = state.output_dir(settings, stored_id(state.classifier))
        outputs = _readable(work, state.classifier, load_probabilities, directory)
    vectors = None
    if state.feature_model is not None:
        directory = state.output_dir(settings, stored_id(state.feature_model))
        vectors = _readable(work, state.feature_model, load_vectors, directory)
    elif state.classifier is not None:  # its hidden-layer features, if it wrote them
        directory = state.output_dir(settings, stored_id(state.classifier))
        vectors = _readable(work, state.classifier, load_vectors, directory)

    margin_by_id: tuple[np.ndarray, np.ndarray] | None = None
    calibration: dict[int, sm.PlattCalibration] | None = None  # per class, of its probability
    if outputs is not None and len(outputs.item_ids):
        unlabeled = ~np.isin(outputs.item_ids, labeled_ids)
        assert state.classifier is not None  # the outputs are its
        held = load_held_out_or_none(model_dir(settings, state.classifier))
        held_labels = None
        scored = (outputs.item_ids, outputs.probabilities, outputs.label_ids)
        if held is not None and since is not None:
            held = with_labeled_since(held, scored, since.held_out)
        if held is not None and rejected:  # the items people left out of batches: their misses
            held = with_rejections(held, scored, rejected, frozenset(state.labels))
        if held is not None:
            held_labels = np.asarray([single.get(int(i), -1) for i in held.item_ids], np.int64)
            if sm.SIMILARITY_CAP == "mean":  # only that way of capping reads them (bench promises)
                calibration = sm.one_against_rest(
                    held.probabilities, held.label_ids, held_labels, _held_source(held)
                )
        work.probability = sm.probability_batches(
            outputs.item_ids,
            rejections.mask_scores(
                outputs.item_ids, outputs.probabilities, outputs.label_ids, rejected or {}
            ),
            outputs.label_ids,
            unlabeled,
            (held.item_ids, held.probabilities, held.label_ids) if held is not None else None,
            held_labels,
            classes=active,
            held_out_source=_held_source(held),
            held_out_rejected=held.rejected_labels() if held is not None else None,
        )
        work.covered = sum(b.cut.count for b in work.probability)
        rows = np.nonzero(unlabeled)[0]
        if len(rows):
            m = sm.margins(outputs.probabilities[rows])
            take = min(sm.POOL, len(rows))
            pool = np.argpartition(m, take - 1)[:take] if take < len(rows) else np.arange(len(rows))
            margin_by_id = (outputs.item_ids[rows[pool]], m[pool])

    if vectors is not None and len(vectors[0]):
        vector_ids, raw = vectors
        unlabeled_v = ~np.isin(vector_ids, labeled_ids)
        labeled_rows = sm.rows_of(vector_ids, np.fromiter(single, np.int64, len(single)))
        labeled_classes = np.fromiter(single.values(), np.int64, len(single))
        ok = labeled_rows >= 0
        labeled_rows, labeled_classes = labeled_rows[ok], labeled_classes[ok]
        # similarity pages for the classes no probability batch serves (all, without a classifier)
        uncovered = active - {b.label_id for b in work.probability}
        if uncovered:
            work.similarity = similarity_pages(
                vector_ids,
                sm.unit(raw),
                unlabeled_v,
                (labeled_rows, labeled_classes),
                uncovered,
                rejected or {},
                _class_probability(outputs, vector_ids, uncovered),
                calibration,
            )
        _one_by_one(work, vector_ids, raw, unlabeled_v, labeled_rows, margin_by_id, state.watermark)
    elif margin_by_id is not None:  # no vectors: the least certain alone
        order = np.argsort(margin_by_id[1], kind="stable")[:LABEL_ONE_BY_ONE]
        work.one_by_one = [int(i) for i in margin_by_id[0][order]]
        work.one_by_one_how = "the items the classifier is least sure of (smallest top-two margin)"
    if work.one_by_one and outputs is not None:
        shown = predictions(outputs, work.one_by_one, active, rejected)
        work.one_by_one_predicted = [p[0] if p is not None else None for p in shown]
        work.one_by_one_right = sum(p[1] for p in shown if p is not None)

    if state.classifier is not None and len(single) >= 2:
        issues = _readable(work, state.classifier, load_label_issues, model_dir(settings, state.classifier))
        # the review page's witnesses (``trust.label_suspects``): the classifier's own vectors, not a
        # feature extractor's (another set of suspects than the page it opens listed)
        own = vectors
        if state.feature_model is not None:
            own = _readable(
                work, state.classifier, load_vectors, state.output_dir(settings, stored_id(state.classifier))
            )
        use_vectors = own is not None and len(single) <= NEIGHBOUR_SUSPECTS_UP_TO
        if set(single) - reviewed and (issues is not None or use_vectors):
            # reviewed items are judged, still neighbours of the others (as on the review page)
            found = find_suspects(
                single,
                issues,
                own[0] if use_vectors and own is not None else None,
                own[1] if use_vectors and own is not None else None,
                neighbours=max(settings.guard_neighbours, 5),
                unjudged=reviewed | (set(since.relabeled) if since is not None else set()),
            )
            work.suspects = found[:MAX_SUSPECTS]
            work.suspect_total = len(found)
    return work


def _held_source(held: HeldOut | None) -> str:
    """Where a probability batch's promise comes from, as its reason says it."""
    if held is None:
        return ""
    if held.since_training:  # "a fit on 40 labeled items from ..."
        return f"labeled items from {held.source} or labeled since the training"
    return f"labeled items from {held.source}"


def similarity_pages(
    vector_ids: np.ndarray,
    unit: np.ndarray,
    unlabeled: np.ndarray,
    labeled: tuple[np.ndarray, np.ndarray],
    classes: set[int],
    rejected: dict[int, set[int]],
    class_probability: dict[int, np.ndarray] | None,
    class_calibration: dict[int, sm.PlattCalibration] | None = None,
    scales: Callable[[int], float] | None = None,
) -> list[sm.SimilarityBatch]:
    """Per class, its similarity page among the unlabeled items not rejected for it, capped by the
    classifier's probability of the class where there is one (whether or not anything was ever
    rejected: the cap once went missing once a single item had been).

    ``scales``: label id -> a factor on its page's figures; the queue passes none (``bench
    similarity_pages`` judges a factor from what earlier pages held: it did not help, decision 0030)."""
    labeled_rows, labeled_classes = labeled
    return [
        batch
        for c in sorted(classes)
        for batch in sm.similarity_batches(
            vector_ids,
            unit,
            unlabeled & rejections.not_rejected(vector_ids, rejected.get(c, set())),
            labeled_rows,
            labeled_classes,
            classes={c},
            class_probability=class_probability,
            class_calibration=class_calibration,
            rejected_rows=_rows_present(vector_ids, rejected.get(c, set())),
            scales=scales,
        )
    ]


def _rows_present(vector_ids: np.ndarray, item_ids: set[int]) -> np.ndarray:
    """The vector rows of ``item_ids`` that have vectors."""
    rows = sm.rows_of(vector_ids, np.fromiter(item_ids, np.int64, len(item_ids)))
    return rows[rows >= 0]


def _class_probability(
    outputs: Any, vector_ids: np.ndarray, classes: set[int]
) -> dict[int, np.ndarray] | None:
    """The classifier's probability of each class per vector row (NaN where it scored no item)."""
    if outputs is None or not len(outputs.item_ids):
        return None
    rows = sm.rows_of(outputs.item_ids, vector_ids)
    found = {}
    for label_id in classes:
        if label_id not in outputs.label_ids:
            continue
        column = np.asarray(outputs.probabilities[:, outputs.label_ids.index(label_id)], np.float64)
        found[label_id] = np.where(rows >= 0, column[np.maximum(rows, 0)], np.nan)
    return found


def _one_by_one(
    work: _Work,
    vector_ids: np.ndarray,
    raw: np.ndarray,
    unlabeled: np.ndarray,
    labeled_rows: np.ndarray,
    margin_by_id: tuple[np.ndarray, np.ndarray] | None,
    seed: int,
) -> None:
    """Uncertain and diverse items (k-center over the labeled ones), or k-means centres at zero labels."""
    rng = np.random.default_rng(seed)
    if margin_by_id is not None:
        pool_rows = sm.rows_of(vector_ids, margin_by_id[0])
        keep = pool_rows >= 0
        pool_rows, weights = pool_rows[keep], 1.0 - margin_by_id[1][keep]
        how = "the least certain items (smallest top-two margin), spread over the feature space (k-center)"
    else:
        rows = np.nonzero(unlabeled)[0]
        pool_rows = rows if len(rows) <= sm.SAMPLE else np.sort(rng.choice(rows, sm.SAMPLE, replace=False))
        weights = None
        how = ""
    if not len(pool_rows):
        return
    points = np.asarray(raw[np.sort(pool_rows)], np.float32)
    order = np.argsort(pool_rows)
    pool_sorted = pool_rows[order]
    weights = weights[order] if weights is not None else None
    if len(labeled_rows):
        sample = (
            labeled_rows if len(labeled_rows) <= sm.CENTRES else rng.choice(labeled_rows, sm.CENTRES, False)
        )
        picks = sm.k_center(points, np.asarray(raw[np.sort(sample)], np.float32), LABEL_ONE_BY_ONE, weights)
        how = how or "items far from every labeled item (k-center over a sample of unlabeled items)"
    else:
        picks = sm.k_means_centres(points, LABEL_ONE_BY_ONE, seed=seed)
        how = "items nearest the centres of the main groups (k-means over a sample of unlabeled items)"
    work.one_by_one = [int(vector_ids[pool_sorted[p]]) for p in picks]
    work.one_by_one_how = how


async def next_actions(
    session: AsyncSession, settings: Settings, dataset_id: int, *, limit: int = 10
) -> NextActions:
    """The dataset's suggestions, best expected labels per action first, and what it needs."""
    if not 1 <= limit <= 100:
        raise Invalid("limit must be between 1 and 100")
    state = await read_state(session, dataset_id)
    unfit = None
    if state.classifier is not None and model_fitness(state.classifier, settings).unfit:
        # its batches would be refused: an older classifier that is not unfit, else none
        unfit, stale = state.classifier, {m.id for m, _ in state.stale_classifiers}
        state.classifier = next(
            (
                m
                for m in state.ready("classifier")
                if m.dataset_id == dataset_id
                and m.id not in stale
                and state.has_file(stored_id(m), "probabilities.npy")
                and not model_fitness(m, settings).unfit
            ),
            None,
        )
    reviewed: set[int] = set()
    if state.classifier is not None:
        reviewed = await reviewed_since(session, dataset_id, state.classifier)
    rejected = await rejections.rejected_by_class(session, dataset_id)
    since = await since_training(session, dataset_id, state.classifier) if state.classifier else None
    work = await asyncio.to_thread(_compute, state, settings, reviewed, rejected, since)
    if work.suspects:
        outcomes = await _review_outcomes(session, dataset_id)
        work.hit_rate, work.reviewed = review_hit_rate(*outcomes), sum(outcomes)
    needs: list[str] = []
    suggestions: list[Suggestion] = []
    key = _keyer(state)
    _needs(state, needs)
    needs.extend(work.problems)
    if unfit is not None:
        needs.append(
            f"classifier {unfit.id} ({unfit.name}) is unfit for batches "
            f"({model_fitness(unfit, settings).reason}): label more, then retrain"
        )
    for batch in work.probability:
        suggestions.append(_probability_suggestion(state, key, batch))
    mixed = sm.mixed_batch(work.probability)
    if mixed is not None:
        suggestions.append(_predicted_suggestion(state, key, mixed))
    for similar in work.similarity:
        suggestions.append(_similarity_suggestion(state, key, similar))
    if work.one_by_one and state.classes:
        suggestions.append(_one_by_one_suggestion(state, key, work))
    elif state.item_count > len(state.labels) and state.classes:
        suggestions.append(await _spread_suggestion(session, state, key))
    if work.suspects:
        suggestions.append(_suspects_suggestion(state, key, work))
    suggestions.extend(await _job_suggestions(session, state, settings, key, work, needs))
    if len(state.classes) < 2:
        suggestions.append(
            Suggestion(
                key(kind="add_classes"),
                "add_classes",
                "Add label classes" if not state.classes else "Add a second label class",
                "labels need classes, and a classifier needs at least two",
                0.0,
                1.0,
                None,
                [],
                None,
                None,
                None,
                {},
            )
        )
    stopping = None
    try:
        stopping = await stopping_estimate(session, settings, dataset_id)
    except LabelwiseError as exc:  # the queue never fails for want of a model: it says so
        needs.append(f"no stopping estimate: {exc.message}")
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:  # broken saved outputs
        needs.append(
            f"no stopping estimate: a classifier's saved outputs cannot be read ({type(exc).__name__})"
        )
    if stopping is not None:
        rest = _auto_label_rest_suggestion(state, key, stopping)
        if rest is not None:
            suggestions.append(rest)
    suggestions.sort(key=lambda s: (-s.expected_yield, KINDS.index(s.kind)))
    running = [stored_id(j) for j in state.jobs if j.state in states.ACTIVE]
    due = work.server_due or any(state.server_follows(j) for j in state.jobs)
    return NextActions(dataset_id, suggestions[:limit], needs, stopping, running, due)


def _auto_label_rest_suggestion(state: QueueState, key: Any, stopping: StoppingEstimate) -> Suggestion | None:
    """Stop here: every unlabeled item at >= p labeled by the classifier, as one event. Its wrong
    labels count as the fixes a careful user would make (so it ranks after cleaner batches)."""
    accuracy, count = stopping.expected_accuracy, stopping.auto_label_count
    if stopping.model_id is None or accuracy is None or count <= 0:
        return None
    more = "; ".join(f"+{k} labels: {a:.1%}" for k, a in stopping.with_more_labels)
    return Suggestion(
        key(kind="auto_label_rest", m=stopping.model_id, t=stopping.threshold, n=count),
        "auto_label_rest",
        f"Auto-label the rest: {count} of {stopping.unlabeled} unlabeled items "
        f"at p >= {stopping.threshold:g}",
        f"classifier {stopping.model_id}: expected accuracy {accuracy:.1%} ({stopping.reason})"
        + (f"; with more labels {more}" if more else ""),
        round(count * accuracy, 2),
        round(1.0 + count * (1.0 - accuracy), 2),
        round(accuracy, 4),
        [],  # every unlabeled item at >= threshold (GET .../probability lists them)
        None,
        stopping.model_id,
        stopping.threshold,
        {"count": count, "unlabeled": stopping.unlabeled},
    )


def _keyer(state: QueueState) -> Any:
    def key(**params: Any) -> str:
        return make_key(state.dataset_id, state.watermark, **params)

    return key


def _name(state: QueueState, label_id: int | None) -> str:
    return state.classes.get(label_id, str(label_id)) if label_id is not None else "?"


def _probability_suggestion(state: QueueState, key: Any, batch: sm.ProbabilityBatch) -> Suggestion:
    model = state.classifier
    assert model is not None
    cut = batch.cut
    threshold = round(cut.threshold, 6)
    return Suggestion(
        key(kind="probability_batch", m=model.id, l=batch.label_id, t=threshold, n=cut.count),
        "probability_batch",
        _probability_title(state, cut.count, batch.label_id, threshold),
        f"classifier {model.id} ({model.name}): {_probability_precision(cut)}",
        round(cut.expected_labels, 2),
        round(cut.expected_actions, 2),
        round(cut.precision, 4),
        batch.item_ids,
        batch.label_id,
        model.id,
        threshold,
        {"support": cut.support, "source": cut.source},
    )


def _probability_title(state: QueueState, count: int, label_id: int | None, threshold: float) -> str:
    return f"Label {count} items as '{_name(state, label_id)}' (p >= {threshold:.3f})"


def _similarity_title(state: QueueState, count: int, label_id: int | None) -> str:
    return f"Label {count} items similar to '{_name(state, label_id)}'"


def _probability_precision(cut: sm.Cut) -> str:
    """A probability batch's promise in words: the mean of its items' probabilities as a fit on
    held-out items calibrates them, not a share of those items ("from 40 items" read as one)."""
    if not cut.support:
        return f"expected precision {cut.precision:.1%} (the mean of {cut.source} over the batch)"
    source = cut.source.replace("labeled items", "labeled item", 1) if cut.support == 1 else cut.source
    few = (
        "; few, so the promise is mostly the model's own probabilities: read the page"
        if cut.support < FEW_FIT_ITEMS
        else ""
    )
    return (
        f"expected precision {cut.precision:.1%} (its items' probabilities calibrated by a fit on "
        f"{cut.support} {source}{few})"
    )


def _similarity_precision(cut: sm.Cut) -> str:
    """A similarity page's promise in words: a share smoothed towards a prior (9 of 9 labeled items
    right promise 90.9%, which no share of 9 items is), capped by the candidates' neighbours."""
    capped = "capped by the candidates' labeled neighbours"
    if not cut.support:
        return f"expected precision {cut.precision:.1%} (a prior: no labeled item ranks as high; {capped})"
    return (
        f"expected precision {cut.precision:.1%} (an estimate: the class's share of the {cut.support} "
        f"labeled item{'' if cut.support == 1 else 's'} ranked as high, leave one out, smoothed towards "
        f"{sm.SIMILARITY_PRIOR:.0%}; {capped})"
    )


def _predicted_suggestion(state: QueueState, key: Any, mixed: sm.MixedBatch) -> Suggestion:
    """Several classes' probability batches as one page, the classifier's class shown on each
    item; accepted as the classes shown on items to label one by one are (``_accept_predicted``)."""
    model = state.classifier
    assert model is not None
    spread = ", ".join(f"{n} '{_name(state, c)}'" for c, n in Counter(mixed.label_ids).items())
    return Suggestion(
        key(kind="predicted_batch", c=model.id, i=mixed.item_ids, p=mixed.label_ids),
        "predicted_batch",
        f"Check {mixed.count} items in the classifier's classes ({mixed.batches} classes)",
        f"classifier {model.id} ({model.name}): {spread}, the top of each class's probability batch; "
        f"expected precision {mixed.precision:.1%} (each class's batch estimate, weighted by its items "
        "here); its class is shown on each item: press "
        "a key where it is wrong, accept the rest in one click",
        round(mixed.expected_labels, 2),
        round(mixed.expected_actions, 2),
        round(mixed.precision, 4),
        mixed.item_ids,
        None,
        model.id,
        None,
        {"classifier_id": model.id, "predicted_label_ids": mixed.label_ids},
    )


def _queried(state: QueueState, label_id: int | None, sampled: int) -> str:
    """Which labeled items of the class a similarity batch is near: all of them, or an even sample
    (a walk read "nearest its 32 labeled items" of a class that had 124)."""
    labeled = sum(1 for labels in state.labels.values() if label_id in labels)
    if labeled > sampled:
        return f"an even sample of {sampled} of its {labeled} labeled items"
    return f"its {sampled} labeled item(s)"


def _similarity_suggestion(state: QueueState, key: Any, batch: sm.SimilarityBatch) -> Suggestion:
    model = state.feature_model or state.classifier
    assert model is not None
    cut = batch.cut
    floor = round(cut.threshold, 6)
    return Suggestion(
        key(
            kind="similarity_batch",
            m=model.id,
            l=batch.label_id,
            t=floor,
            n=cut.count,
            q=batch.query_item_ids,
        ),
        "similarity_batch",
        _similarity_title(state, cut.count, batch.label_id),
        f"nearest {_queried(state, batch.label_id, len(batch.query_item_ids))} in {model.name}'s features; "
        + _similarity_precision(cut),
        round(cut.expected_labels, 2),
        round(cut.expected_actions, 2),
        round(cut.precision, 4),
        batch.item_ids,
        batch.label_id,
        model.id,
        None,
        {"query_item_ids": batch.query_item_ids, "min_similarity": floor, "mode": "mean"},
    )


def _one_by_one_suggestion(state: QueueState, key: Any, work: _Work) -> Suggestion:
    first = not state.labels
    shown = state.classifier is not None and any(p is not None for p in work.one_by_one_predicted)
    params: dict[str, Any] = {"how": work.one_by_one_how}
    how = work.one_by_one_how
    if shown:
        assert state.classifier is not None
        params.update(classifier_id=state.classifier.id, predicted_label_ids=work.one_by_one_predicted)
        how += (
            f"; classifier {state.classifier.id}'s class is shown on each: press a key where it is "
            "wrong, accept the rest in one click"
        )
    return Suggestion(
        key(
            kind="label_items",
            i=work.one_by_one,
            c=state.classifier.id if shown and state.classifier is not None else None,
            p=work.one_by_one_predicted if shown else None,
        ),
        "label_items",
        f"Label {len(work.one_by_one)} {'diverse ' if first else ''}items one by one",
        ("no labels yet: " if first else "they teach the classifier most: ") + how,
        float(len(work.one_by_one)),
        round(work.one_by_one_actions, 2),
        None,
        work.one_by_one,
        None,
        m.id if (m := state.feature_model or state.classifier) else None,
        None,
        params,
    )


def _training_extractor(state: QueueState) -> Job | None:
    """The dataset's feature extractor training queued or running now, if any."""
    return next(
        (
            j
            for j in state.jobs
            if j.kind == "train"
            and j.state in states.ACTIVE
            and j.model_id in state.models
            and state.models[j.model_id].kind == "feature_extractor"
        ),
        None,
    )


async def _spread_suggestion(session: AsyncSession, state: QueueState, key: Any) -> Suggestion:
    """No features at all: unlabeled items spread evenly over the dataset's order."""
    from sqlalchemy import select

    from backend.storage.tables import Item

    ids = list(
        (
            await session.scalars(
                select(col(Item.id))
                .where(col(Item.dataset_id) == state.dataset_id, col(Item.status) == "ok")
                .order_by(col(Item.position), col(Item.id))
            )
        ).all()
    )
    ids = [i for i in ids if i not in state.labels]
    picked = [int(ids[p]) for p in sm.spread(LABEL_ONE_BY_ONE, len(ids))]
    training = _training_extractor(state)
    how = "no features yet: items spread evenly over the dataset " + (
        f"(a feature extractor is training, job #{training.id}: better picks once it is ready)"
        if training is not None
        else "(train the suggested extractor for better picks)"
    )
    return Suggestion(
        key(kind="label_items", i=picked),
        "label_items",
        f"Label {len(picked)} items spread over the dataset",
        how,
        float(len(picked)),
        float(len(picked)),
        None,
        picked,
        None,
        None,
        None,
        {"how": how},
    )


async def _review_outcomes(session: AsyncSession, dataset_id: int) -> tuple[int, int]:
    """(relabeled, kept) over the dataset's recent reviews of suspects."""
    rows = await session.scalars(
        select(col(TagEvent.parameters))
        .where(col(TagEvent.dataset_id) == dataset_id, col(TagEvent.kind) == "review")
        .order_by(col(TagEvent.id).desc())
        .limit(REVIEW_HISTORY)
    )
    actions = [(p or {}).get("action") for p in rows.all()]
    return actions.count("relabel"), actions.count("keep")


def _suspects_suggestion(state: QueueState, key: Any, work: _Work) -> Suggestion:
    model = state.classifier
    assert model is not None
    ids = [s.item_id for s in work.suspects]
    wrong = float(sum(wrong_probability(s, hit_rate=work.hit_rate) for s in work.suspects))
    return Suggestion(
        key(kind="review_suspects", m=model.id, n=len(ids)),
        "review_suspects",
        f"Review {len(ids)} suspected wrong labels"
        if work.suspect_total <= len(ids)
        else f"Review the {len(ids)} most suspect of {work.suspect_total} suspected wrong labels",
        f"confident learning and neighbours of classifier {model.id} doubt them; "
        f"about {wrong:.0f} may be wrong (their doubt weighed against the person's label, and "
        + (
            f"{work.hit_rate:.0%} of reviewed suspects found wrong so far)"
            if work.reviewed
            else f"a prior of {work.hit_rate:.0%} of suspects found wrong: none reviewed yet)"
        ),
        round(wrong, 2),
        float(len(ids)),
        None,
        ids,
        None,
        model.id,
        None,
        {"scores": [s.score for s in work.suspects]},
    )


def _needs(state: QueueState, needs: list[str]) -> None:
    if not state.item_count:
        needs.append("add a source with items: the dataset has no readable items")
    if not state.classes:
        needs.append("add at least two label classes: the dataset has none")
    elif len(state.classes) == 1:
        needs.append("add a second label class: a classifier needs at least two")
    if not state.models:
        needs.append("train a feature extractor: no model has been trained on this dataset")
    for model, gone in state.stale_classifiers:
        needs.append(
            f"classifier {model.id} ({model.name}) was trained on classes deleted since "
            f"({', '.join(gone)}): retrain it on the current classes"
        )
    counts: dict[int, int] = {}
    for labels in state.labels.values():
        for label in labels:
            counts[label] = counts.get(label, 0) + 1
    if len(state.classes) >= 2 and sum(1 for c in state.classes if counts.get(c, 0) >= 2) < 2:
        needs.append(
            "label at least two items of each of two classes: then similarity batches and a classifier"
        )
    seen: set[tuple[str, str, str | None, int | None]] = set()
    for job in state.jobs:  # the newest job of each kind, algorithm, method and model: a PCA projection
        # that succeeded says nothing of a UMAP one of the same model that failed
        what = (job.kind, job.algorithm, job_method(job), job.model_id if job.kind != "train" else None)
        if what in seen:
            continue
        seen.add(what)
        if job.state == states.FAILED:
            error = (job.error or "no error recorded").strip().splitlines()[0][:200]
            needs.append(f"job {job.id} ({job_title(job)}) failed: {error}; retry it or change it")


PAGE, PAGE_PRECISION, FIX_SHARE = 24, 0.8, 0.05  # priors of what a job unlocks (see _pages)


def _pages(n_classes: int, jobs: int) -> tuple[float, float]:
    """(labels, actions) of a job that unlocks a similarity page per class: ``PAGE`` items each at
    ``PAGE_PRECISION``, the job clicks, a click per page and a fix per wrong item. A prior."""
    labels = PAGE * PAGE_PRECISION * n_classes
    return labels, jobs + n_classes * (1.0 + PAGE * (1.0 - PAGE_PRECISION))


def _fresh_actions(gain: float, n_classes: int, jobs: int) -> float:
    """Actions a new classifier costs to turn ``gain`` labels: its jobs, a batch per class, fixes."""
    return jobs + n_classes + FIX_SHARE * gain


def _report_score(state: QueueState) -> float | None:
    """The feature report's score of its best model (None: no report, or none scored)."""
    score = next(
        (m.get("score") for m in state.report.models if m.get("model_id") == state.report.best_model_id), None
    )
    return float(score) if isinstance(score, (int, float)) else None


def _gain_prior(state: QueueState, work: _Work) -> float:
    """Labels a fresh classifier could be expected to unlock: the unlabeled items no batch covers,
    times the feature report's score (else one half). A prior, said as such (``_prior_note``)."""
    score = _report_score(state)
    return max(0.0, (work.unlabeled - work.covered) * (0.5 if score is None else score) * 0.8)


def _prior_note(state: QueueState) -> str:
    """Where ``_gain_prior`` comes from, in the suggestion's words."""
    if _report_score(state) is None:
        return "expected labels: a prior of one half, no feature report yet"
    return "expected labels: a prior from the feature report's score"


async def _job_suggestions(
    session: AsyncSession, state: QueueState, settings: Settings, key: Any, work: _Work, needs: list[str]
) -> list[Suggestion]:
    out: list[Suggestion] = []
    n_classes = max(1, len(state.classes))

    def job(
        kind: str, title: str, reason: str, labels: float, actions: float, model_id: int | None, params: dict
    ) -> None:
        out.append(
            Suggestion(
                key(kind=kind, m=model_id, j=params),
                kind,
                title,
                reason,
                round(labels, 2),
                round(actions, 2),
                None,
                [],
                None,
                model_id,
                None,
                params,
            )
        )

    # feature extractors: train one, or infer the newest without vectors
    extractors = state.ready("feature_extractor")
    training_extractor = _training_extractor(state)
    if not extractors and training_extractor is None and state.item_count:
        suggestion = await suggest_training(session, state.dataset_id)
        algorithm = (suggestion.untrained or ["pca"])[0]
        job(
            "train_extractor",
            f"Train a {algorithm} feature extractor",
            f"{suggestion.reason} Its features rank similarity batches and pick diverse items "
            "(expected: a similarity page per class, a prior)",
            *_pages(n_classes, jobs=1),
            None,
            {"algorithm": algorithm, "then": ["run_inference"]},
        )
    elif extractors and training_extractor is None and state.item_count:
        # one extractor is no choice: the quick ones too (seconds each), so the feature report
        # compares them against the labels (a short self-supervised run can lose to PCA or to
        # azimuthal descriptors, and the report's pick feeds every batch)
        quick = await _quick_extractors(session, state)
        if quick:
            job(
                "train_extractor",
                f"Train {_listed(quick)} features too",
                f"{', '.join(quick)}: no network to train (seconds each); the feature report then "
                "picks the features that separate your labels best (expected: a prior)",
                *_pages(n_classes, jobs=1),
                None,
                {"algorithm": quick[0], "algorithms": quick, "then": ["run_inference"]},
            )
    missing = [
        m
        for m in extractors
        if m.id not in state.inferences
        and not state.active("infer", model_id=m.id)
        and not state.following(m.id)
    ]
    if missing:
        names = ", ".join(m.name for m in missing)
        job(
            "run_inference",
            f"Compute the features of {names}",
            f"feature extractor{'s' if len(missing) > 1 else ''} {', '.join(str(m.id) for m in missing)} "
            "trained but without vectors on this dataset yet",
            *_pages(n_classes, jobs=1),  # one click for all of them
            missing[0].id,
            {
                "model_id": missing[0].id,
                **({"model_ids": [m.id for m in missing]} if len(missing) > 1 else {}),
            },
        )
    # the report found the best features better with (or without) the intensity descriptors:
    # their vectors are made so by running the inference again with that option
    report = state.report
    awaited = _awaited_features(state)
    best = state.models.get(report.best_model_id) if report.best_model_id is not None else None
    if awaited is not None and best is not None and state.report_following():
        needs.append(
            f"the feature report chose {best.name}'s vectors "
            f"{'with' if report.infer_intensity == 'on' else 'without'} intensity descriptors: keeping "
            "models fresh, the server computes them by itself"
        )
    elif awaited is not None and best is not None and not state.active("infer", model_id=best.id):
        with_or = "with" if report.infer_intensity == "on" else "without"
        page_labels, page_actions = _pages(n_classes, jobs=1)
        waits = _vector_classifier_next(state)
        job(
            "run_inference",
            f"Compute the features of {best.name} {with_or} intensity descriptors",
            f"the feature report found them separating your labels better {with_or} the absolute-"
            "intensity descriptors: similarity batches and the next classifier use these vectors"
            + (" (the classifier waits for them: what it would unlock comes after this)" if waits else ""),
            # the classifier's step waits on this one, so this one carries what that would unlock
            # (a cell-cycle session trained its classifier on the plain vectors first, scored 0.44
            # against 0.62 with the descriptors, and its first page of several classes held 0.33)
            max(page_labels, _gain_prior(state, work)) if waits else page_labels,
            page_actions,
            best.id,
            {"model_id": best.id, "parameters": {"intensity_descriptors": report.infer_intensity}},
        )
    # the similarity index where exact search would be slow
    fm = state.feature_model
    if fm is not None and state.item_count >= EXACT_THRESHOLD:
        directory = state.output_dir(settings, stored_id(fm))
        if not index_built(directory) and not state.active("build-index", model_id=fm.id):
            job(
                "build_index",
                f"Build the similarity index of {fm.name}",
                f"{state.item_count} items: similarity pages need the index (exact search is for under "
                f"{EXACT_THRESHOLD})",
                *_pages(1, jobs=1),
                fm.id,
                {"model_id": fm.id},
            )
    # the feature report: several extractors, labels enough, none yet or labels doubled since
    counts: dict[int, int] = {}
    for labels in state.labels.values():
        for label in labels:
            counts[label] = counts.get(label, 0) + 1
    two_classes = sum(1 for c in state.classes if counts.get(c, 0) >= 2) >= 2
    class_counts = {c: counts.get(c, 0) for c in state.classes}
    # as feature_candidates counts them, without the queries
    # due: keeping models fresh (switched on now, or on) runs it before any retrain
    report_first = report_due(report, len(state.labels), class_counts, len(state.with_vectors()))
    if report_first:
        again = "" if report.job_id is None else f" (labels doubled since report {report.job_id})"
        if state.dataset.keep_models_fresh:
            work.server_due = True
            needs.append(
                f"the feature report is due{again}: keeping models fresh, the server runs it by itself"
            )
        else:
            job(
                "feature_report",
                "Run the feature report",
                "it finds which features separate your labels best: similarity batches and the next "
                "classifier use them" + again,
                PAGE * 0.1 * n_classes,  # better features: a tenth more per page (a prior)
                1.0,
                None,
                {},
            )
    # classifiers: infer a trained one, retrain when labels grew, train a first one
    ready = [m for m in state.ready("classifier") if m.dataset_id == state.dataset_id]
    newest = ready[0] if ready else None
    stale_ids = {m.id for m, _ in state.stale_classifiers}
    training_classifier = next(
        (
            j
            for j in state.jobs
            if j.kind == "train"
            and j.state in states.ACTIVE
            and j.model_id in state.models
            and state.models[j.model_id].kind == "classifier"
        ),
        None,
    )
    if (
        newest is not None
        and newest.id not in stale_ids
        and not state.has_file(stored_id(newest), "probabilities.npy")
    ):
        if state.following(newest.id):
            needs.append(f"classifier {newest.id} is trained: its inference follows by itself")
        elif not state.active("infer", model_id=newest.id):
            job(
                "run_inference",
                f"Apply classifier {newest.name} to the dataset",
                f"classifier {newest.id} is trained but has no probabilities on this dataset: its "
                "batches come after (expected labels: a prior)",
                _gain_prior(state, work),
                _fresh_actions(_gain_prior(state, work), n_classes, jobs=1),
                newest.id,
                {"model_id": newest.id},
            )
        return out
    if training_classifier is not None:
        needs.append(
            f"classifier training job {training_classifier.id} is running: its batches come when it ends"
        )
        return out
    labeled = len(state.labels)
    base = state.classifier or newest
    feature_source = state.feature_model.id if state.feature_model is not None else None
    algorithm = base.algorithm if base is not None else DEFAULT_CLASSIFIER
    if awaited is not None and algorithm == DEFAULT_CLASSIFIER and two_classes:
        needs.append(
            f"the classifier waits for the features of {awaited.name} "
            f"{'with' if report.infer_intensity == 'on' else 'without'} intensity descriptors: "
            "it learns from those vectors"
        )
        return out
    if base is not None and base.id not in stale_ids:
        # growth since the newest classifier on these classes, even when it came out unfit and the
        # batches rest on an older one: retraining on the same labels again is a repeat, not a step
        # (a cell-cycle session retrained three times "since model 9")
        latest = newest if newest is not None and newest.id not in stale_ids else base
        before = max(
            int(base.trained_on.get("labeled_count") or 0), int(latest.trained_on.get("labeled_count") or 0)
        )
        growth = (labeled - before) / max(1, before)
        moved = _features_moved(state, latest) if algorithm == DEFAULT_CLASSIFIER else None
        if growth > 0 and _server_retrains(state, latest, labeled):
            work.server_due = True
            held = _retrain_waits(state, latest, report_first)
            needs.append(
                f"labels grew {growth:.0%} since classifier {latest.id}: keeping models fresh, the "
                + (
                    "server retrains it by itself"
                    if held is None
                    else f"server's retrain waits for {held} and follows it"
                )
            )
            return out
        if (growth >= RETRAIN_GROWTH or moved) and two_classes:
            uncertain = max(0, work.unlabeled - work.covered)
            shrink = 1.0 - math.sqrt(before / max(labeled, 1))
            # the covered items too: the wrong items its batches expect, fewer by the same shrink
            wrong = sum(b.cut.count * (1.0 - b.cut.precision) for b in work.probability)
            gain = (uncertain + wrong) * shrink
            actions = _fresh_actions(gain, n_classes, jobs=1)
            # labels per action: a due retrain ranks above labeling by hand (with the classes
            # shown, above what that yields), whatever the prior says: the items to label one by
            # one are picked by the stale model's doubts (late in a session the prior fell below
            # one label per action and the rest went by hand)
            retrain_labels = max(gain, RETRAIN_OVER_MANUAL * actions * work.by_hand_yield)
            # (due on the server's rule too, so the switch runs this retrain at once); not while the
            # switch is on: the server stopped its chain (a step canceled or failed), the retrain is
            # what is left to offer
            if (
                not state.dataset.keep_models_fresh
                and latest.id is not None
                and retrain_due(latest, labeled, float(state.dataset.fresh_growth))
            ):
                # the same retrain now, and each later one (and the report) without a click:
                # ranked just above the retrain it includes (KINDS order breaks the tie)
                growth_fresh = float(state.dataset.fresh_growth)
                held = _retrain_waits(state, latest, report_first)
                job(
                    "keep_fresh",
                    "Keep models fresh: retrain "
                    + ("now" if held is None else "next")
                    + f" and each time the labels grow {growth_fresh:.0%}",
                    "one switch for this dataset: the server retrains the classifier (and applies it) "
                    f"whenever the labeled items grew {growth_fresh:.0%} since its training, and runs the "
                    "feature report again when they doubled; each step is a job you can see and cancel "
                    "(expected now: as the retrain)"
                    + ("" if held is None else f"; this retrain waits for {held} and follows it"),
                    retrain_labels,
                    actions,
                    latest.id,
                    {"growth": growth_fresh},
                )
            job(
                "retrain",
                f"Retrain the classifier: labels grew {growth:.0%} since model {latest.id}"
                if growth >= RETRAIN_GROWTH or not moved
                else f"Retrain the classifier: its features changed since model {latest.id}",
                (f"{moved}; " if moved else "")
                + f"{before} -> {labeled} labels; expected gain about {gain:.0f} more items it labels "
                f"confidently (its errors shrink about as 1/sqrt(labels): a prior)",
                retrain_labels,
                actions,
                latest.id,  # the model it follows: each retrain a new step, not the same one again
                _train_params(
                    algorithm, base.parameters if base.algorithm == algorithm else {}, feature_source
                ),
            )
        return out
    if state.stale_classifiers and two_classes:
        model, gone = state.stale_classifiers[0]
        job(
            "retrain",
            f"Retrain classifier {model.name} on the current classes",
            f"it was trained on classes deleted since ({', '.join(gone)})",
            _gain_prior(state, work),
            _fresh_actions(_gain_prior(state, work), n_classes, jobs=1),
            model.id,
            _train_params(model.algorithm, model.parameters, feature_source),
        )
        return out
    ready_classes = sum(1 for c in state.classes if counts.get(c, 0) >= MIN_PER_CLASS)
    enough = ready_classes >= 2
    if base is None and not enough:  # say what a first classifier waits for (no step offered)
        needs.append(
            f"a first classifier waits for {MIN_PER_CLASS} labeled items in each of two classes "
            f"({ready_classes} {'class has' if ready_classes == 1 else 'classes have'} them): label more"
        )
    elif base is None and feature_source is None and algorithm == DEFAULT_CLASSIFIER:
        needs.append(
            "a first classifier learns from a feature extractor's features: it waits for one to be ready "
            "(the feature report, once run, picks the best one)"
        )
    if enough and (feature_source is not None or algorithm != DEFAULT_CLASSIFIER):
        job(
            "retrain",
            "Train a classifier on the best features",
            f"{labeled} labels of {sum(1 for c in state.classes if counts.get(c, 0))} classes: a classifier "
            f"turns them into probability batches ({_prior_note(state)})",
            _gain_prior(state, work),
            _fresh_actions(_gain_prior(state, work), n_classes, jobs=1),
            None,
            _train_params(algorithm, {}, feature_source),
        )
    return out


def _server_retrains(state: QueueState, model: Model, labeled: int) -> bool:
    """Whether keeping models fresh retrains ``model`` on the server's next round (``retrain_due``
    of the newest classifier of its algorithm): suggesting the same retrain would run it twice."""
    if not state.dataset.keep_models_fresh:
        return False
    newer = any(
        m.id is not None and model.id is not None and m.id > model.id
        for m in state.models.values()
        if m.dataset_id == state.dataset_id and m.kind == "classifier" and m.algorithm == model.algorithm
    )
    return not newer and retrain_due(model, labeled, float(state.dataset.fresh_growth))


def _retrain_waits(state: QueueState, model: Model, report_first: bool) -> str | None:
    """What keeping models fresh holds the retrain of ``model`` for (None: nothing), on the server's
    rule (``fresh.settling_reason``: a classifier on the report's best features waits while they
    settle), with the report its next round queues before the retrain where one is due
    (``report_first``)."""
    if not asks_best_features(model.algorithm, dict(model.parameters)):
        return None
    report = state.report
    best = report.best_model_id
    computing = state.active("infer", model_id=best) if best is not None else None
    why = settling_reason(report, computing.id if computing is not None else None)
    if report.pending_job_id is not None:
        return f"the feature report ({why})"
    if report_first:
        return "the feature report the server runs first (it may choose other features)"
    if computing is not None:
        return f"the inference of model {best} ({why})"
    # (the inference of another intensity variant, queued or about to be: the queue's need "the
    # classifier waits for the features of ..." comes first, and says so)
    return None


def _schema_properties(algorithm: str) -> dict[str, Any]:
    return dict(get_algorithm(algorithm).schema.get("properties") or {})


async def _quick_extractors(session: AsyncSession, state: QueueState) -> list[str]:
    """Suggested feature extractors not trained on the dataset yet that have no network to train
    (no ``epochs`` parameter: PCA, azimuthal descriptors): seconds each, worth comparing."""
    suggestion = await suggest_training(session, state.dataset_id)
    quick = [a for a in suggestion.untrained if "epochs" not in _schema_properties(a)]
    tried = {m.algorithm for m in state.models.values() if m.kind == "feature_extractor"}
    return [a for a in quick if a not in tried]


def _listed(names: list[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    return " and ".join([", ".join(names[:-1]), names[-1]] if len(names) > 1 else names)


def _awaited_features(state: QueueState) -> Model | None:
    """The report's best feature model while its vectors lack the intensity variant the report
    chose (an inference with it not yet run, or running); None once they hold it, or where that
    inference failed last (then the failure is the need, and nothing waits on it)."""
    report = state.report
    best = state.models.get(report.best_model_id) if report.best_model_id is not None else None
    if best is None or report.infer_intensity is None or best.id not in state.inferences:
        return None
    if (state.inferences[best.id].parameters or {}).get("intensity_descriptors") == report.infer_intensity:
        return None
    last = next((j for j in state.jobs if j.kind == "infer" and j.model_id == best.id), None)
    return None if last is not None and last.state == states.FAILED else best


def _vector_classifier_next(state: QueueState) -> bool:
    """Whether the queue's next classifier learns from the feature model's vectors (it trains the
    algorithm of the classifier in use, else of the newest one on the dataset, else the default)."""
    ready = [m for m in state.ready("classifier") if m.dataset_id == state.dataset_id]
    base = state.classifier or (ready[0] if ready else None)
    return base is None or base.algorithm == DEFAULT_CLASSIFIER


def _features_moved(state: QueueState, classifier: Model) -> str | None:
    """Why a vector classifier's features are out of date, or None: it learned from another model's
    vectors than the report's choice now, or from an older inference of that model (the
    intensity descriptors turned on or off since). A user's explicit feature model is kept."""
    learned = classifier.trained_on.get("features") or {}
    fm = state.feature_model
    if not learned or learned.get("chosen_by") == "given" or fm is None or fm.id not in state.inferences:
        return None
    if fm.id != state.report.best_model_id:  # no report's choice: nothing to follow
        return None
    now = state.inferences[fm.id]
    if learned.get("model_id") != fm.id:
        return (
            f"model {classifier.id} learned from the vectors of {learned.get('name')}; "
            f"the feature report now picks {fm.name}"
        )
    if learned.get("inference_job") != now.id:
        return (
            f"model {classifier.id} learned from the vectors of inference {learned.get('inference_job')}; "
            f"{fm.name}'s are now those of inference {now.id}"
        )
    return None


def _train_params(algorithm: str, parameters: dict[str, Any], feature_model: int | None) -> dict[str, Any]:
    params = dict(parameters)
    if algorithm == DEFAULT_CLASSIFIER:
        params["feature_model"] = 0  # the feature report's best at training time
    return {
        "algorithm": algorithm,
        "parameters": params,
        "then": ["run_inference"],
        "features": feature_model,
    }


# ---- accepting --------------------------------------------------------------------------------


async def accept_suggestion(
    session: AsyncSession,
    settings: Settings,
    dataset_id: int,
    key: str,
    *,
    item_ids: list[int] | None,
    label_id: int | None,
    tagger: str,
    enqueue: Enqueue | None = None,
    role: str | None = None,
    parameters: dict[str, Any] | None = None,
    rejected_item_ids: list[int] | None = None,
) -> AcceptResult:
    """Carry a suggestion out: a batch (the kept ``item_ids``, default all of its items) as one
    event naming its model, 409 when any kept item was labeled since the suggestion was made; a
    job as a normal job (trainers; 409 while the same job is queued or running). ``label_items``
    with the classifier's classes shown, and ``predicted_batch``: the kept items (default: those
    still unlabeled) take the class shown for each (``predicted``). Other ``label_items``
    and ``review_suspects`` are done by labeling and reviewing (400). ``parameters`` change a
    training suggestion's algorithm parameters (as the train form lets a person do, e.g. fewer
    epochs on a slow machine); checked like any job's.

    ``rejected_item_ids`` (a batch only): the members left out that the person judged not of the
    class, recorded as rejections (``backend.labels.rejections``); a subset of the members not
    kept (400 otherwise). None: every member left out is one, as before. Members left out in bulk
    (the guardrails' flagged items) or never looked at (a tail past where the person stopped) are
    not a judgement of the class: a client leaves them out of this list."""
    body = read_key(key, dataset_id)
    state = await read_state(session, dataset_id)
    kind = body["k"]
    if parameters and kind not in ("retrain", "train_extractor"):
        raise Invalid(f"only a training suggestion takes parameters, not '{kind}'", field="parameters")
    if rejected_item_ids and kind not in ("similarity_batch", "probability_batch"):
        raise Invalid(
            f"only a similarity or probability batch records rejected items, not '{kind}'",
            field="rejected_item_ids",
        )
    if kind in ("label_items", "predicted_batch"):
        if "c" not in body:
            raise Invalid("label these items one by one (the label page), there is no batch to accept")
        if label_id is not None:
            raise Invalid(
                "each item takes the class the classifier showed for it: no label_id", field="label_id"
            )
        return await _accept_predicted(session, settings, state, body, item_ids, tagger)
    if kind == "review_suspects":
        raise Invalid("open the review page: each suspect is kept or relabeled on its own")
    if kind == "add_classes":
        raise Invalid("add classes on the dataset's classes page (or POST .../classes)")
    if kind == "auto_label_rest":
        if item_ids is not None or label_id is not None:
            raise Invalid("auto-label the rest takes the whole rest at its own classes: no items or class")
        done = await auto_label_rest(
            session,
            settings,
            dataset_id,
            model_id=int(body["m"]),
            threshold=float(body["t"]),
            tagger=tagger,
            expected_count=int(body["n"]),
            seen_event_id=int(body["w"]),
        )
        return AcceptResult(labeled=done.labeled, batch_id=stored_id(done.event))
    if kind == "keep_fresh":
        if item_ids is not None or label_id is not None:
            raise Invalid("keeping models fresh is a switch of the dataset: no items or class")
        if role is not None and not allows(role, TRAINER):
            raise Forbidden(
                f"keeping models fresh starts jobs, which needs the trainer role; you are a {role}"
            )
        return await _accept_keep_fresh(session, settings, state, enqueue)
    if kind in JOB_KINDS:
        if item_ids is not None or label_id is not None:
            raise Invalid(
                f"'{kind}' starts a job: it takes no items or class",
                field="item_ids" if item_ids is not None else "label_id",
            )
        if role is not None and not allows(role, TRAINER):
            raise Forbidden(f"starting jobs needs the trainer role; you are a {role}")
        return await _accept_job(session, settings, state, body, enqueue, tagger, parameters or {})
    return await _accept_batch(session, settings, state, body, item_ids, label_id, tagger, rejected_item_ids)


async def _accept_keep_fresh(
    session: AsyncSession, settings: Settings, state: QueueState, enqueue: Enqueue | None
) -> AcceptResult:
    """The switch on, then what it makes due at once (the retrain, a report) queued now, not on
    the server's next round: the answer names those jobs, as a job suggestion's does."""
    dataset_id = state.dataset_id
    await set_fresh(session, dataset_id, keep_models_fresh=True)
    jobs = await queue_due_steps(session, settings, [dataset_id], enqueue)
    return AcceptResult(labeled=0, job_ids=jobs)


async def _accept_job(
    session: AsyncSession,
    settings: Settings,
    state: QueueState,
    body: dict[str, Any],
    enqueue: Enqueue | None,
    tagger: str,
    parameters: dict[str, Any],
) -> AcceptResult:
    kind, params = body["k"], body.get("j") or {}
    if kind in ("retrain", "train_extractor"):  # bad parameters say so before any conflict does
        validate_parameters(params["algorithm"], {**(params.get("parameters") or {}), **parameters})
    # the dataset's write lock, held until the job is submitted (committed): a second accept of the
    # same suggestion at once waits here, then reads the job this one queued (not the jobs its
    # state read before, which both would have found without it and queued the job twice)
    await lock_dataset(session, state.dataset_id)
    state.jobs = list(
        (
            await session.scalars(
                select(Job)
                .where(col(Job.dataset_id) == state.dataset_id, col(Job.state).in_(states.ACTIVE))
                .order_by(col(Job.id).desc())
                .execution_options(populate_existing=True)
            )
        ).all()
    )
    running = {
        "feature_report": lambda: state.active("feature-report"),
        "retrain": lambda: state.active("train", algorithm=params.get("algorithm")),
        "train_extractor": lambda: state.active("train", algorithm=params.get("algorithm")),
        "run_inference": lambda: state.active("infer", model_id=params.get("model_id")),
        "build_index": lambda: state.active("build-index", model_id=params.get("model_id")),
    }[kind]()
    if running is not None:  # someone accepted it already: one job, not two
        raise Conflict(
            f"job {running.id} ({job_title(running)}) is {running.state} already: "
            "wait for it, or cancel it first",
            reason="job_active",
            job_id=running.id,
        )
    if kind == "feature_report":
        jobs = [await submit_report(session, settings, enqueue, state.dataset_id, submitted_by=tagger)]
    elif kind in ("retrain", "train_extractor"):
        # one click, one or several trainings (the quick extractors go together); the changed
        # parameters are the first's, and the others take those their schemas know. "then":
        # each training is chained, so its inference follows by itself (one action, not two)
        chain = "run_inference" in (params.get("then") or [])
        jobs = []
        for algorithm in params.get("algorithms") or [params["algorithm"]]:
            first = algorithm == params["algorithm"]
            known = _schema_properties(algorithm)
            jobs.append(
                await submit_job(
                    session,
                    settings,
                    enqueue,
                    kind="train",
                    dataset_id=state.dataset_id,
                    algorithm=algorithm,
                    parameters={
                        **((params.get("parameters") or {}) if first else {}),
                        **{k: v for k, v in parameters.items() if first or k in known},
                    },
                    submitted_by=tagger,
                    chain=chain,
                )
            )
    else:
        infer = kind == "run_inference"
        jobs = []
        for model_id in params.get("model_ids") or [params["model_id"]]:
            jobs.append(
                await submit_job(
                    session,
                    settings,
                    enqueue,
                    kind="infer" if infer else "build-index",
                    dataset_id=state.dataset_id,
                    model_id=int(model_id),
                    parameters=(params.get("parameters") or None) if infer else None,
                    submitted_by=tagger,
                )
            )
    return AcceptResult(labeled=0, job_ids=[stored_id(j) for j in jobs])


async def _accept_predicted(
    session: AsyncSession,
    settings: Settings,
    state: QueueState,
    body: dict[str, Any],
    item_ids: list[int] | None,
    tagger: str,
) -> AcceptResult:
    """Items to label one by one with the classifier's classes shown, or a page of several classes'
    batches: the items (default: those still unlabeled) take the class shown for each, as one
    event naming the classifier."""
    classifier_id = int(body["c"])
    model = state.models.get(classifier_id)
    directory = state.output_dir(settings, classifier_id) if model is not None else None
    if model is None or model.state != states.MODEL_READY or directory is None:
        raise Conflict(f"classifier {classifier_id} is gone or has no outputs: ask the queue again")
    suggested = [int(i) for i in body["i"]]
    outputs = await asyncio.to_thread(load_probabilities, directory)
    # the classes as the suggestion showed them: with the rejections it saw
    rejected = await rejections.rejected_by_class(session, state.dataset_id, as_of=int(body["w"]))
    done = await label_as_predicted(
        session,
        state.dataset_id,
        suggested=suggested,
        predicted=list(body["p"]),
        now=predicted_classes(outputs, suggested, set(state.classes), rejected),
        item_ids=item_ids,
        classifier_id=classifier_id,
        classes=set(state.classes),
        tagger=tagger,
        suggestion=str(body["k"]),
    )
    event = done.event
    return AcceptResult(
        labeled=int(event.tag_count) if event is not None else 0,
        batch_id=stored_id(event) if event is not None else None,
        skipped=done.skipped,
    )


def _members(
    state: QueueState,
    settings: Settings,
    body: dict[str, Any],
    now_labeled: set[int],
    rejected: dict[int, set[int]] | None = None,
) -> dict[int, float]:
    """The batch's items as the suggestion defined them, id -> score: items scoring at or above its
    threshold (class probability, or similarity to its query), best first, at most its count,
    leaving out items labeled before the suggestion (those labeled since stay in: a conflict) and
    those ``rejected`` (class id -> item ids) for its class. A probability batch holds the items
    whose most probable class not rejected for them is its class, as ``_compute`` formed it."""
    model_id = int(body["m"])
    directory = state.output_dir(settings, model_id)
    if directory is None:
        raise Conflict(f"model {model_id} has no outputs on this dataset any more: ask the queue again")
    if body["k"] == "probability_batch":
        outputs = load_probabilities(directory)
        if outputs is None or int(body["l"]) not in outputs.label_ids:
            raise Conflict(f"classifier {model_id} no longer scores this class: ask the queue again")
        column = outputs.label_ids.index(int(body["l"]))
        ids = outputs.item_ids
        masked = rejections.mask_scores(ids, outputs.probabilities, outputs.label_ids, rejected or {})
        scores = np.asarray(masked)[:, column]
        # the class's batch holds the items the classifier gives it first (``probability_batches``):
        # under a flat head's threshold (0.17 of seven classes) another class's items score above
        # it too, and ranked in would push the suggestion's own items out of its count
        eligible = np.asarray(masked).argmax(axis=1) == column
    else:
        vectors = load_vectors(directory)
        if vectors is None:
            raise Conflict(f"model {model_id} has no vectors on this dataset any more: ask the queue again")
        ids, raw = vectors
        query = sm.rows_of(ids, np.asarray(body["q"], np.int64))
        query = query[query >= 0]
        if not len(query):
            raise Conflict("the batch's query items have no vectors any more: ask the queue again")
        total = sm.unit(raw[query]).sum(axis=0)
        scores = np.asarray(raw, np.float32) @ (total / max(float(np.linalg.norm(total)), 1e-12))
        scores = scores / np.maximum(np.linalg.norm(np.asarray(raw, np.float32), axis=1), 1e-12)
        eligible = np.ones(len(ids), bool)
    keep = (
        eligible
        & (scores >= float(body["t"]) - 1e-6)
        & ~np.isin(ids, np.fromiter(now_labeled, np.int64, len(now_labeled)))
    )
    keep &= rejections.not_rejected(ids, (rejected or {}).get(int(body["l"]), set()))
    rows = np.nonzero(keep)[0]
    rows = rows[np.argsort(-scores[rows], kind="stable")][: int(body["n"])]
    return {int(ids[r]): float(scores[r]) for r in rows}


def _rejected_members(members: dict[int, float], kept: list[int], wanted: list[int] | None) -> list[int]:
    """The members a batch's accept records as rejected: ``wanted`` (checked to be members left
    out), or every member left out when the caller does not say (``wanted`` None)."""
    left_out = sorted(set(members) - set(kept))
    if wanted is None:
        return left_out
    chosen = rejections.check_disjoint(kept, wanted)
    outside = [i for i in chosen if i not in members]
    if outside:
        raise Invalid(
            f"{len(outside)} rejected item(s) are not in this suggestion (e.g. {outside[0]}): only "
            "its members left out of the batch can be rejected",
            field="rejected_item_ids",
        )
    return sorted(chosen)


async def _accept_batch(
    session: AsyncSession,
    settings: Settings,
    state: QueueState,
    body: dict[str, Any],
    item_ids: list[int] | None,
    label_id: int | None,
    tagger: str,
    rejected_item_ids: list[int] | None = None,
) -> AcceptResult:
    watermark = int(body["w"])
    label = int(label_id if label_id is not None else body["l"])
    if label not in state.classes:
        raise Invalid(f"label class {label} is not a class of dataset {state.dataset_id}", field="label_id")
    model_id = int(body["m"])
    if model_id not in state.models or state.models[model_id].state != states.MODEL_READY:
        raise Conflict(f"model {model_id} is gone or not ready: ask the queue again")
    labeled_now = set(state.labels)
    changed = await changed_since(session, list(labeled_now), watermark) if labeled_now else set()
    before = labeled_now - changed  # labeled when the suggestion was made
    # rejected when the suggestion was made (one rejected since stays in: its batch is a conflict)
    rejected = await rejections.rejected_by_class(session, state.dataset_id, as_of=watermark)
    members = await asyncio.to_thread(_members, state, settings, body, before, rejected)
    kept = list(dict.fromkeys(int(i) for i in (item_ids if item_ids is not None else members)))
    if not kept:
        raise Invalid("keep at least one item of the batch", field="item_ids")
    outside = [i for i in kept if i not in members]
    if outside:
        raise Invalid(
            f"{len(outside)} kept item(s) are not in this suggestion (e.g. {outside[0]})", field="item_ids"
        )
    not_of_class = _rejected_members(members, kept, rejected_item_ids)
    probability = body["k"] == "probability_batch"
    parameters: dict[str, Any] = {
        "suggestion": body["k"],
        "suggested": len(members),
        "accepted": len(kept),
        "deselected": len(members) - len(kept),
    }
    if probability:
        parameters.update({"threshold": body["t"], "label_id": label, "overwrite": False, "count": len(kept)})
    else:
        parameters.update({"query_items": body["q"], "mode": "mean", "shown": len(members)})
    if label != int(body["l"]):
        parameters["suggested_label_id"] = int(body["l"])
    outcome = await record_batch(
        session,
        TagRequest(
            dataset_id=state.dataset_id,
            tagger=tagger,
            item_ids=kept,
            label_id=label,
            op="set" if probability else "add",
            kind="probability" if probability else "similarity",
            model_id=model_id,
            parameters=parameters,
        ),
        seen_event_id=watermark,
        refuse_changed=True,
        rejected_item_ids=not_of_class,  # left out and judged: "not this class"
    )
    skipped = len(outcome.skipped_labeled)
    return AcceptResult(
        labeled=int(outcome.event.tag_count),
        batch_id=stored_id(outcome.event),
        skipped=skipped,
        rejected=outcome.rejected,
    )


# ---- opening a suggestion again --------------------------------------------------------------

BY_HAND_HERE = {"via": "next actions"}  # the parameters of a label given on a suggestion's page
REOPEN_KINDS = ("similarity_batch", "probability_batch", "label_items", "predicted_batch")
REOPEN_EVENTS = 1000  # events since a suggestion past which it is out of date whatever they were


@dataclass(frozen=True)
class Reopened:
    suggestion: Suggestion
    labeled_since: frozenset[int]  # its items labeled on its page since it was made


async def reopen_suggestion(
    session: AsyncSession, settings: Settings, dataset_id: int, key: str
) -> Reopened | None:
    """The suggestion of ``key`` as it was made, where the queue no longer offers it only because
    its own items were labeled by hand on its page since: a batch tile of another class labeled
    in place (decision 0019), an item of "label one by one". Each such label is an event, and the
    key holds the newest event it was made after (its watermark), so the person's first key on
    the page put the suggestion out of date, and Back or a reload lost the batch and the tiles
    left out of it.

    The rule: every event after the watermark is a label given on such a page (``BY_HAND_HERE``)
    to one of the suggestion's items. Those items are the ones its key names, or for a batch
    the members ``accept_suggestion`` takes (computed from the key's parameters as of its
    watermark: the page offers exactly what accept labels). The items labeled since are drawn
    labeled and left out; accept is unchanged, so a kept item someone labeled since still
    refuses the batch (409). Anything else since (another label, a batch accepted, this one
    too), nothing since (the models or jobs changed), a model gone: None, out of date."""
    try:
        body = read_key(key, dataset_id)
    except Invalid:
        return None
    kind, watermark = body["k"], int(body["w"])
    if kind not in REOPEN_KINDS or (kind == "label_items" and "i" not in body):
        return None
    labeled_since = await _labeled_here_since(session, dataset_id, watermark)
    if not labeled_since:
        return None
    state = await read_state(session, dataset_id)
    if kind in ("similarity_batch", "probability_batch"):
        model = state.models.get(int(body["m"]))
        if model is None or model.state != states.MODEL_READY:
            return None
        labeled_now = set(state.labels)
        changed = await changed_since(session, list(labeled_now), watermark) if labeled_now else set()
        rejected = await rejections.rejected_by_class(session, dataset_id, as_of=watermark)
        try:
            members = await asyncio.to_thread(
                _members, state, settings, body, labeled_now - changed, rejected
            )
        except LabelwiseError:
            return None
        items = list(members)
    else:
        items = [int(i) for i in body["i"]]
    if not labeled_since <= set(items):
        return None
    return Reopened(_reopened(state, key, body, items), frozenset(labeled_since))


async def _labeled_here_since(session: AsyncSession, dataset_id: int, watermark: int) -> set[int]:
    """The items labeled since ``watermark`` where every event since is a label given on a
    suggestion's page; empty where there is none, or any other."""
    events = (
        await session.execute(
            select(col(TagEvent.id), col(TagEvent.kind), col(TagEvent.parameters))
            .where(col(TagEvent.dataset_id) == dataset_id, col(TagEvent.id) > watermark)
            .order_by(col(TagEvent.id))
            .limit(REOPEN_EVENTS + 1)
        )
    ).all()
    if len(events) > REOPEN_EVENTS or any(
        kind != "manual" or (parameters or {}).get("via") != BY_HAND_HERE["via"]
        for _, kind, parameters in events
    ):
        return set()
    ids = [int(event_id) for event_id, _, _ in events]
    return (
        set((await session.scalars(select(col(Tag.item_id)).where(col(Tag.event_id).in_(ids)))).all())
        if ids
        else set()
    )


def _reopened(state: QueueState, key: str, body: dict[str, Any], items: list[int]) -> Suggestion:
    """The suggestion drawn from its key: no expected figures (the page shows none)."""
    kind = body["k"]
    label_id = int(body["l"]) if "l" in body else None
    model_id = int(body["m"]) if "m" in body else (int(body["c"]) if "c" in body else None)
    threshold: float | None = None
    params: dict[str, Any] = {}
    if kind == "probability_batch":
        threshold = float(body["t"])
        title = _probability_title(state, len(items), label_id, threshold)
        how = f"classifier {model_id}'s probability of the class at or above {threshold:.3f}"
    elif kind == "similarity_batch":
        title = _similarity_title(state, len(items), label_id)
        how = f"nearest {_queried(state, label_id, len(body['q']))} in model {model_id}'s features"
        params = {"query_item_ids": body["q"], "min_similarity": body["t"], "mode": "mean"}
    else:
        title = f"Label {len(items)} items one by one"
        if kind == "predicted_batch":
            title = f"Check {len(items)} items in the classifier's classes"
        how = f"classifier {model_id}'s class is shown on each" if "c" in body else "items to label by hand"
        if "c" in body:
            params = {"classifier_id": int(body["c"]), "predicted_label_ids": list(body["p"])}
    reason = f"as it was suggested: {how}"
    return Suggestion(key, kind, title, reason, 0.0, 1.0, None, items, label_id, model_id, threshold, params)


__all__ = [
    "AcceptResult",
    "NextActions",
    "Reopened",
    "Suggestion",
    "accept_suggestion",
    "next_actions",
    "read_key",
    "reopen_suggestion",
]
