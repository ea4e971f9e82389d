"""Where to stop: how many items are left, how well a classifier would label them now, and with
K more labels; and the final "auto-label the rest at >= p" as one batch.

**Accuracy now.** The classifier's held-out probabilities of labeled items (``oof.npz`` or
``validation.npz``, ``backend/guided/heldout.py``) say how often its arg-max class is right
(against the labels as they are now) at each confidence. The unlabeled items are usually less
sure than the labeled ones (people label the easy, typical items first), so one pooled figure
over the held-out items at >= p would over-promise. ``calibrated_accuracy`` therefore bins the
held-out items above p by confidence (equal-count bins, at least ``MIN_BIN`` items each) and
weighs each bin's accuracy by how many unlabeled items fall in it: the accuracy the unlabeled
items at >= p can expect, given their own confidence mix. What is promised is the lower end of
that share's Wilson interval over the held-out items behind it (one-sided 95%): 9 held-out
items all right support about 77%, not 100% (the study's demo once auto-labeled 9 items, all
wrong, at a promised 1.00 resting on a handful of held-out items).

**Guarded like any batch.** Nobody looks at an auto-labeled item, so the items of the rest that
the batch guardrails flag (``backend/guided/guardrails.py``, each judged with the class it would
get) are left out and stay for the person: on the study's 1,200 digits the final auto-label wrote
3 wrong labels of 5, items batches had not taken; the guardrails' ``f`` leaves items out of a batch
without recording a rejection, so they came back here. The check costs one pass per item over
the labeled items, and the queue asks for the estimate at every answer: a rest of more than
``GUARDED_REST`` items at >= p is not checked (the reason says so); it is, once it is that small.

**With K more labels.** A learning curve: held-out error falls as a power law of the training set
size, ``error(n) = a * n ** -b`` (the shape measured across models and tasks, e.g. Cortes et
al. 1994, Hestness et al. 2017). Its exponent is fitted by least squares in log-log space on the
dataset's own classifiers of the same algorithm on the same features: each ready fit one with
held-out figures is a point (its labeled count, its held-out accuracy), so the curve is measured on
this data rather than assumed; the exponent is at most ``MAX_EXPONENT`` (1). With fewer than two
distinct label counts, ``b = DEFAULT_EXPONENT`` (0.5, the classic rate of estimation error, a
middle of published exponents) and the reason says so. The error at
the threshold is scaled by ``(n / (n + K)) ** b``. Subsampling the out-of-fold figures instead
would need retraining on subsets, which the web process cannot do (no ML libraries here).
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from backend.datasets.service import get_dataset
from backend.errors import Conflict, Invalid, LabelwiseError, NotFound
from backend.guided import service, trust
from backend.guided.heldout import HeldOut
from backend.guided.probability import (
    Candidate,
    candidates,
    check_expected_count,
    check_threshold,
    labeled_item_ids,
    record_batch,
)
from backend.guided.quality import (
    FIT,
    HELD_OUT_SPLITS,
    MIN_PER_CLASS,
    UNMEASURED,
    check_batch_use,
    model_fitness,
)
from backend.guided.suggest_math import wilson_lower
from backend.jobs import states
from backend.jobs.fresh import labeled_count
from backend.labels import rejections
from backend.labels.batches import changed_since, check_seen_event, latest_event_id
from backend.labels.events import current_state, lock_dataset
from backend.settings import Settings
from backend.storage.ids import stored_id
from backend.storage.job_tables import Model
from backend.storage.tables import Item, TagEvent

DEFAULT_THRESHOLD = 0.9
DEFAULT_EXPONENT = 0.5
# error ~ 1 / n: the fast rate of a problem a model can fit exactly; a steeper slope fitted on a few
# models is the noise of their small validation splits (it projected 96.6% from 21 more labels)
MAX_EXPONENT = 1.0
MIN_BIN, MAX_BINS = 10, 5
FEW_HELD_OUT = 100  # fewer held-out items at >= p than this: the reason says the bound is wide
GUARDED_REST = 2000  # the rest at >= p is checked by the guardrails up to this many items (cost)
MORE_LABELS = (0.25, 0.5, 1.0)  # K as fractions of the labels now


@dataclass(frozen=True)
class StoppingEstimate:
    unlabeled: int
    model_id: int | None  # the classifier it rests on (None: no fit classifier with outputs yet)
    threshold: float  # p of "auto-label the rest at >= p"
    auto_label_count: int  # unlabeled items whose top probability is >= threshold
    expected_accuracy: float | None  # of those (calibrated on held-out labeled items)
    with_more_labels: list[tuple[int, float]]  # (K more labels, projected accuracy)
    reason: str
    labeled: int = 0
    held_out_items: int = 0  # held-out labeled items at >= threshold behind the accuracy
    exponent: float | None = None  # of the learning curve
    curve: list[tuple[int, float]] = field(default_factory=list)  # (labeled, held-out accuracy) fitted
    fitness: str | None = None  # fit | unmeasured (an unfit model is never chosen by default)
    seen_event_id: int = 0  # the newest label event it saw: auto_label_rest checks it

    def as_dict(self) -> dict[str, Any]:
        return {
            "unlabeled": self.unlabeled,
            "model_id": self.model_id,
            "threshold": self.threshold,
            "auto_label_count": self.auto_label_count,
            "expected_accuracy": self.expected_accuracy,
            "with_more_labels": [list(p) for p in self.with_more_labels],
            "reason": self.reason,
            "labeled": self.labeled,
            "held_out_items": self.held_out_items,
            "exponent": self.exponent,
            "curve": [list(p) for p in self.curve],
            "fitness": self.fitness,
            "seen_event_id": self.seen_event_id,
        }


# ---- the arithmetic (pure) ---------------------------------------------------------------------


def calibrated_accuracy(
    held_confidence: np.ndarray,
    held_correct: np.ndarray,
    unlabeled_confidence: np.ndarray,
    threshold: float,
) -> tuple[float | None, int]:
    """Expected accuracy on the unlabeled items at >= threshold, and the held-out support.

    Held-out items at >= threshold are cut into equal-count confidence bins; each unlabeled item
    at >= threshold gets its bin's accuracy; the mean is the answer. None without support.
    """
    above = held_confidence >= threshold
    conf, correct = held_confidence[above], held_correct[above].astype(np.float64)
    if not len(conf):
        return None, 0
    order = np.argsort(conf, kind="stable")
    conf, correct = conf[order], correct[order]
    bins = max(1, min(MAX_BINS, len(conf) // MIN_BIN))
    parts = np.array_split(np.arange(len(conf)), bins)
    accuracy = np.array([correct[p].mean() for p in parts])
    inner = np.array([conf[p[0]] for p in parts[1:]])  # lower edge of each bin after the first
    targets = unlabeled_confidence[unlabeled_confidence >= threshold]
    point = (
        float(accuracy[np.searchsorted(inner, targets, side="right")].mean())
        if len(targets)
        else float(correct.mean())
    )
    # a handful of held-out items that happen to be all right must not promise 100%: the promise
    # is the lower end of the Wilson interval of that share over the held-out items behind it
    return wilson_lower(point * len(conf), len(conf)), len(conf)


def fit_exponent(points: list[tuple[int, float]]) -> float | None:
    """``b`` of ``error = a * n ** -b`` by least squares on log-log (None: fewer than two sizes)."""
    usable = [(n, 1.0 - acc) for n, acc in points if n > 0 and 1.0 - acc > 0.0]
    sizes = {n for n, _ in usable}
    if len(sizes) < 2:
        return None
    x = np.log([n for n, _ in usable])
    y = np.log([e for _, e in usable])
    slope = float(np.polyfit(x, y, 1)[0])
    return float(min(MAX_EXPONENT, max(0.0, -slope)))


def project(accuracy: float, labeled: int, more: list[int], exponent: float) -> list[tuple[int, float]]:
    """Accuracy with K more labels: the error now scaled by ``(n / (n + K)) ** exponent``."""
    error = 1.0 - accuracy
    base = max(1, labeled)
    return [(k, round(1.0 - error * (base / (base + k)) ** exponent, 4)) for k in more]


def more_label_steps(labeled: int, unlabeled: int) -> list[int]:
    steps = sorted({min(unlabeled, max(10, math.ceil(labeled * f))) for f in MORE_LABELS})
    return [k for k in steps if k > 0]


def held_out_figures(held_out: HeldOut, current: dict[int, frozenset[int]]) -> tuple[np.ndarray, np.ndarray]:
    """Top probability and "arg-max class is a current label" of each still-labeled held-out item."""
    keep = np.asarray([int(i) in current for i in held_out.item_ids], bool)
    probs = held_out.probabilities[keep]
    ids = held_out.item_ids[keep]
    if not len(ids):
        return np.zeros(0, np.float32), np.zeros(0, bool)
    best = probs.argmax(axis=1)
    label_of = np.asarray(held_out.label_ids, np.int64)[best]
    correct = np.asarray([int(label_of[r]) in current[int(ids[r])] for r in range(len(ids))], bool)
    return probs[np.arange(len(best)), best], correct


# ---- reading the dataset -----------------------------------------------------------------------


async def _readable(session: AsyncSession, dataset_id: int) -> int:
    return int(
        await session.scalar(
            select(func.count()).where(col(Item.dataset_id) == dataset_id, col(Item.status) == "ok")
        )
        or 0
    )


async def _chosen_model(
    session: AsyncSession, settings: Settings, dataset_id: int, model_id: int | None
) -> tuple[Model | None, str]:
    """The classifier to rest on: the given one, else the newest fit (then unmeasured) ready one
    with probabilities on the dataset."""
    if model_id is not None:
        return await trust.classifier_of(session, model_id, dataset_id), ""
    rows = await session.scalars(
        select(Model)
        .where(
            col(Model.dataset_id) == dataset_id,
            col(Model.kind) == "classifier",
            col(Model.state) == states.MODEL_READY,
        )
        .order_by(col(Model.id).desc())
    )
    models = list(rows.all())
    for model in [m for m in models if model_fitness(m, settings).status == FIT] + [
        m for m in models if model_fitness(m, settings).status == UNMEASURED
    ]:
        try:
            await service.classifier_outputs(session, settings, stored_id(model), dataset_id)
        except LabelwiseError:
            continue
        return model, ""
    if models:
        return None, "no fit classifier with class probabilities on this dataset: run inference or retrain"
    training = await session.scalar(
        select(Model)
        .where(
            col(Model.dataset_id) == dataset_id,
            col(Model.kind) == "classifier",
            col(Model.state) == states.MODEL_TRAINING,
        )
        .order_by(col(Model.id).desc())
        .limit(1)
    )
    if training is not None:  # the rule below is met already: it was suggested, or trained by hand
        return (
            None,
            f"no classifier yet: classifier {training.id} is training; the estimate comes when it is ready",
        )
    return None, (
        f"no classifier yet: Next actions suggests one once two classes have {MIN_PER_CLASS} labeled "
        "items each and a feature extractor is ready (the feature report, once run, picks the best one)"
    )


async def _curve(session: AsyncSession, settings: Settings, model: Model) -> list[tuple[int, float]]:
    """(labeled count, held-out accuracy) of the dataset's ready classifiers on ``model``'s curve."""
    rows = await session.scalars(
        select(Model).where(
            col(Model.dataset_id) == model.dataset_id,
            col(Model.algorithm) == model.algorithm,
            col(Model.state) == states.MODEL_READY,
        )
    )
    return curve_points(list(rows.all()), model, settings)


def curve_points(models: list[Model], model: Model, settings: Settings) -> list[tuple[int, float]]:
    """The points of ``model``'s learning curve among ``models``: those of its algorithm that learned
    from the same features (two vector classifiers on different extractors lie on two curves: a
    fit across them read 37.5% on one and 85% on the other as a slope, and clamped), fit ones only
    (an unfit model's figure is a failed training, not a point of the curve), each with held-out
    held-out figures (a validation split or out of fold)."""
    features = _features_of(model)
    points = []
    for other in models:
        if other.algorithm != model.algorithm or _features_of(other) != features:
            continue
        verdict = model_fitness(other, settings)
        count = int(other.trained_on.get("labeled_count") or 0)
        held_out = verdict.split in HELD_OUT_SPLITS
        if verdict.status == FIT and verdict.accuracy is not None and held_out and count:
            points.append((count, float(verdict.accuracy)))
    return sorted(points)


def _features_of(model: Model) -> int | None:
    """The feature model a vector classifier learned from (None: an image classifier)."""
    found = (model.trained_on.get("features") or {}).get("model_id")
    return None if found is None else int(found)


async def stopping_estimate(
    session: AsyncSession,
    settings: Settings,
    dataset_id: int,
    *,
    threshold: float | None = None,
    model_id: int | None = None,
) -> StoppingEstimate:
    """How many items are left, how accurately the classifier would label them at >= p now, and
    how that changes with K more labels. Never raises for a dataset without a model: ``reason``."""
    threshold = DEFAULT_THRESHOLD if threshold is None else float(threshold)
    check_threshold(threshold)
    await get_dataset(session, dataset_id)
    labeled = await labeled_count(session, dataset_id)
    unlabeled = max(0, await _readable(session, dataset_id) - labeled)
    seen = await latest_event_id(session, dataset_id)
    model, why = await _chosen_model(session, settings, dataset_id, model_id)
    if model is None:
        return StoppingEstimate(unlabeled, None, threshold, 0, None, [], why, labeled, seen_event_id=seen)
    mid = stored_id(model)
    outputs = await service.classifier_outputs(session, settings, mid, dataset_id)
    done = await labeled_item_ids(session, dataset_id)
    rest = ~np.isin(outputs.item_ids, np.fromiter(done, np.int64, len(done)))
    rejected = await rejections.rejected_by_class(session, dataset_id)  # not offered with that class
    rest &= rejections.top_not_rejected(outputs.item_ids, outputs.probabilities, outputs.label_ids, rejected)
    top = outputs.probabilities.max(axis=1) if len(outputs.item_ids) else np.zeros(0, np.float32)
    sure = np.nonzero(rest & (top >= threshold))[0]
    if len(sure) > GUARDED_REST:  # not checked: the note says so (and the final batch does the same)
        guarded = await _guard(session, settings, dataset_id, mid, [], unchecked=len(sure))
    else:
        best = np.asarray(outputs.label_ids)[outputs.probabilities[sure].argmax(axis=1)]
        sure_rest = [
            Candidate(int(i), int(b), 0.0) for i, b in zip(outputs.item_ids[sure], best, strict=True)
        ]
        guarded = await _guard(session, settings, dataset_id, mid, sure_rest)
    if guarded.flagged:  # left for the person: neither counted nor labeled
        rest &= ~np.isin(outputs.item_ids, np.fromiter(guarded.flagged, np.int64, len(guarded.flagged)))
    confidence = top[rest]
    count = int((confidence >= threshold).sum())
    verdict = model_fitness(model, settings)
    directory = trust.model_dir(settings, model)
    held_out = await asyncio.to_thread(trust._held_out_or_none, directory)
    if held_out is None:
        reason = f"model {mid} kept no held-out probabilities: the accuracy is unknown (retrain it)"
        return StoppingEstimate(
            unlabeled,
            mid,
            threshold,
            count,
            None,
            [],
            reason,
            labeled,
            fitness=verdict.status,
            seen_event_id=seen,
        )
    current = await current_state(session, held_out.item_ids.tolist())
    held_conf, held_correct = held_out_figures(held_out, current)
    accuracy, support = calibrated_accuracy(held_conf, held_correct, confidence, threshold)
    curve = await _curve(session, settings, model)
    exponent = fit_exponent(curve)
    measured = exponent is not None
    exponent = DEFAULT_EXPONENT if exponent is None else exponent
    more = (
        project(accuracy, labeled, more_label_steps(labeled, unlabeled), exponent)
        if accuracy is not None
        else []
    )
    if not unlabeled:  # not "none reaches p yet": nothing is left (a walk labeled all 500)
        reason = "every item is labeled: nothing is left to auto-label" + (
            f" (model {mid}'s held-out items at p >= {threshold:g} are at least {accuracy:.1%} right)"
            if accuracy is not None
            else ""
        )
    elif accuracy is None:
        reason = f"none of model {mid}'s held-out labeled items reaches p >= {threshold:g}: accuracy unknown"
    else:
        # with no item to label, the figure is the held-out items' (what more labels project), not theirs
        reason = (
            (
                f"{count} of {unlabeled} unlabeled items at p >= {threshold:g}, expected at least "
                if count
                else f"no unlabeled item at p >= {threshold:g} to auto-label yet; the held-out items there "
                "are at least "
            )
            + f"{accuracy:.1%} right (the 95% lower bound from {support} held-out labeled items"
            + (": few, so the bound is wide" if support < FEW_HELD_OUT else "")
            + "); learning curve "
            + (
                f"fitted on {len(curve)} models (exponent {exponent:.2f})"
                if measured
                else f"assumed (exponent {exponent:g}: fewer than two models with held-out figures)"
            )
            + guarded.note
        )
    return StoppingEstimate(
        unlabeled,
        mid,
        threshold,
        count,
        None if accuracy is None else round(accuracy, 4),
        more,
        reason,
        labeled,
        support,
        round(exponent, 4),
        curve,
        verdict.status,
        seen,
    )


# ---- the final batch ---------------------------------------------------------------------------


@dataclass
class GuardedRest:
    """The rest at >= p without the items the guardrails flag; what the estimate says of it."""

    kept: list[Candidate]
    flagged: set[int] = field(default_factory=set)
    note: str = ""


async def _guard(
    session: AsyncSession,
    settings: Settings,
    dataset_id: int,
    model_id: int,
    chosen: list[Candidate],
    unchecked: int = 0,
) -> GuardedRest:
    """Leave out the items of the rest the batch guardrails flag (each with the class it would get).
    ``unchecked``: the rest's size where the caller did not list it (more than ``GUARDED_REST``)."""
    if len(chosen) > GUARDED_REST or unchecked > GUARDED_REST:
        return GuardedRest(
            chosen, note=f"; the guardrails check the rest once it is at most {GUARDED_REST:,} items"
        )
    if not chosen:
        return GuardedRest(chosen)
    flags = await trust.batch_flags(
        session,
        settings,
        dataset_id=dataset_id,
        model_id=model_id,
        item_ids=[c.item_id for c in chosen],
        label_ids=[c.label_id for c in chosen],
    )
    flagged = flags.flagged()
    if not flagged:
        return GuardedRest(chosen)
    kept = [c for c in chosen if c.item_id not in flagged]
    return GuardedRest(
        kept, flagged, f"; {len(flagged)} flagged by the batch guardrails stay for you to label"
    )


@dataclass
class AutoLabelResult:
    event: TagEvent
    labeled: int
    threshold: float
    model_id: int
    expected_accuracy: float | None
    flagged: int = 0  # left out by the batch guardrails, for the person to label


async def auto_label_rest(
    session: AsyncSession,
    settings: Settings,
    dataset_id: int,
    *,
    model_id: int,
    threshold: float,
    tagger: str,
    override_unfit: bool = False,
    expected_count: int | None = None,
    seen_event_id: int | None = None,
) -> AutoLabelResult:
    """Label every unlabeled item whose top class probability is >= threshold with that class, as
    ONE event of kind "probability" (model id, threshold and expected accuracy in its parameters;
    revocable like any batch). An unfit model needs ``override_unfit``; 409 when the batch is no
    longer ``expected_count`` items or any of its items changed after ``seen_event_id`` (what the
    preview, ``stopping_estimate``, saw)."""
    check_threshold(threshold)
    check_expected_count(expected_count)
    model = await trust.classifier_of(session, model_id, dataset_id)
    await check_seen_event(session, dataset_id, seen_event_id)
    fitness = check_batch_use(model, settings, override_unfit)
    estimate = await stopping_estimate(session, settings, dataset_id, threshold=threshold, model_id=model_id)
    outputs = await service.classifier_outputs(session, settings, model_id, dataset_id)
    await lock_dataset(session, dataset_id)  # nobody labels between the checks and the event
    chosen = candidates(outputs, threshold, exclude=await labeled_item_ids(session, dataset_id))
    chosen = rejections.drop_rejected(chosen, await rejections.rejected_by_class(session, dataset_id))
    guarded = await _guard(session, settings, dataset_id, model_id, chosen)
    chosen = guarded.kept
    if expected_count is not None and expected_count != len(chosen):
        await session.rollback()
        raise Conflict(
            f"the rest now has {len(chosen)} items at p >= {threshold:g}, not the {expected_count} "
            "confirmed: look at the estimate again",
            reason="batch_changed",
            count=len(chosen),
        )
    if seen_event_id is not None:
        changed = await changed_since(session, [c.item_id for c in chosen], seen_event_id)
        if changed:
            await session.rollback()
            raise Conflict(
                f"{len(changed)} of the items were changed since you looked at the estimate (by someone "
                "else, or in another tab): look again",
                reason="batch_changed",
                count=len(chosen),
            )
    if not chosen:
        await session.rollback()
        if guarded.flagged:
            raise Invalid(
                f"the unlabeled items at p >= {threshold:g} are all {len(guarded.flagged)} flagged by the "
                "batch guardrails: nothing to label (label them on the probability page)"
            )
        raise Invalid(f"no unlabeled item has a class probability >= {threshold:g}: nothing to label")
    event = await record_batch(
        session,
        dataset_id,
        chosen,
        tagger=tagger,
        model_id=model_id,
        parameters={
            "auto_label_rest": True,
            "threshold": threshold,
            "label_id": None,
            "expected_accuracy": estimate.expected_accuracy,
            "fitness": fitness.status,
            "override_unfit": bool(override_unfit and fitness.unfit),
            "seen_event_id": seen_event_id,
            "guardrail_flagged": len(guarded.flagged),  # left out, for the person to label
        },
    )
    if event is None:  # pragma: no cover - chosen is not empty
        raise NotFound("nothing labeled")
    return AutoLabelResult(
        event, event.tag_count, threshold, model_id, estimate.expected_accuracy, len(guarded.flagged)
    )
