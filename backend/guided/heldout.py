"""Held-out probabilities of labeled items, and the precision a batch can expect from them.

A classifier's training directory may hold ``oof.npz`` (out-of-fold: every labeled item scored
by a fold that did not train on it) and/or ``validation.npz`` (the held-out split). Both carry
``item_ids`` (int64) and ``probabilities`` (float32, n x classes, columns in the model's class
order; ``label_ids`` names the columns where written, else ``model.json`` does). ``oof.npz`` is
preferred: it covers every labeled item, the split only a fifth of them.

The estimate of a batch "class c at threshold t": of the labeled held-out items the model
scores >= t for c, the share whose *current* label is c (labels corrected since training count
as they are now). Wrong labels expected = batch size x (1 - precision). Never from training fit.

Items labeled after the model's training are held out from it as well: ``with_labeled_since`` adds
the model's own probabilities of them. Not the items the training had labels of, whatever happened
to them since (revoked and labeled again, relabeled): its scores of those are its fit of them
(``trust.SinceTraining``). They come from the batches the model's probabilities made,
wrong tiles labeled in place included, so they say how its batches fare on the unlabeled items; the
out-of-fold items alone came mostly from similarity pages near each class's centre and promised a
cell-cycle batch 0.97 that held 0.33.

Given the batch's own items (their classes and scores), ``estimate_batch`` also gives what the
next-actions queue would promise for them: each class's Platt fit on the held-out items the model
calls it (``suggest_math.PlattCalibration``), averaged over the batch's scores, each held-out item
weighed by how much more (or less) often its class is among the unlabeled items
(``suggest_math.label_shift_weights``; decision 0026). The share above the threshold judges the
batch by the held-out items that passed it, the easy typical ones people label first; the fit
judges the batch's items by their own scores (``bench promises``, mean gap per batch on the same
batches of the queue, share / calibrated: demo 0.266 / 0.197, digits 0.334 / 0.209, cell cycle
0.414 / 0.349; on labels drawn at random 0.020 / 0.016, 0.090 / 0.076, 0.126 / 0.088).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from backend.errors import Invalid, NotFound
from backend.guided.suggest_math import PlattCalibration, label_shift_weights
from backend.storage import npy

OOF, VALIDATION, MODEL_JSON = "oof.npz", "validation.npz", "model.json"


@dataclass
class HeldOut:
    item_ids: np.ndarray  # int64, n
    probabilities: np.ndarray  # float32, n x classes
    label_ids: list[int]  # column -> label class id
    source: str  # "oof.npz" | "validation.npz"
    since_training: int = 0  # of them, items labeled after the training (the model's own scores)
    # per row: the class a person left the (unlabeled) item out of a batch of, -1: none
    # (``with_rejections``); such a row is a miss of that class, its true class unknown
    rejected_for: np.ndarray | None = None

    def rejected_labels(self) -> np.ndarray:
        """``rejected_for``, -1 for every row where there is none."""
        if self.rejected_for is None:
            return np.full(len(self.item_ids), -1, np.int64)
        return self.rejected_for


@dataclass(frozen=True)
class BatchEstimate:
    """What the held-out items say about a batch; ``precision`` None when none of them passes."""

    source: str | None
    support: int  # held-out labeled items passing the same rule
    correct: int
    precision: float | None
    batch_size: int
    expected_wrong: int | None
    since_training: int = 0  # of the support, items labeled after the model's training
    rejected: int = 0  # of the support, items left out of a batch of their predicted class by hand
    # the queue's promise for the batch's own items: each class's Platt fit on held-out items (weighed
    # to the unlabeled items' classes), averaged over the batch's scores; None: no batch given
    calibrated_precision: float | None = None
    calibrated_expected_wrong: int | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "source": self.source,
            "since_training": self.since_training,
            "rejected": self.rejected,
            "support": self.support,
            "correct": self.correct,
            "precision": self.precision,
            "batch_size": self.batch_size,
            "expected_wrong": self.expected_wrong,
            "calibrated_precision": self.calibrated_precision,
            "calibrated_expected_wrong": self.calibrated_expected_wrong,
        }

    @property
    def lead_precision(self) -> float | None:
        """The figure a batch is promised by: the calibrated one where there is one (it judges the
        batch's own items by their scores), else the plain share above the threshold."""
        return self.precision if self.calibrated_precision is None else self.calibrated_precision

    @property
    def lead_expected_wrong(self) -> int | None:
        """The wrong labels expected at ``lead_precision``."""
        return self.expected_wrong if self.calibrated_precision is None else self.calibrated_expected_wrong

    def lead_note(self) -> str:
        """``lead_precision`` and its wrong labels in words, the plain share after it where the
        calibrated figure leads (refusals that ask for a confirmation)."""
        if self.lead_precision is None:
            return "estimated precision unknown"
        if self.calibrated_precision is None:
            return f"estimated precision {self.precision:.1%}, about {self.expected_wrong} wrong labels"
        note = (
            f"estimated precision {self.calibrated_precision:.1%} (calibrated to the batch's scores and "
            f"the unlabeled items' classes), about {self.calibrated_expected_wrong} wrong labels"
        )
        if self.precision is None:
            return note
        return (
            f"{note}; of the {self.support} held-out labeled items above the threshold, "
            f"{self.correct} right ({self.precision:.1%})"
        )


def _column_ids(model_dir: Path, data: Mapping[str, np.ndarray], width: int) -> list[int]:
    if "label_ids" in data:
        return [int(i) for i in data["label_ids"]]
    meta_path = model_dir / MODEL_JSON
    if meta_path.is_file():
        classes = json.loads(meta_path.read_text()).get("classes") or []
        ids = [int(c.get("label_id", c.get("id"))) for c in classes]
        if len(ids) == width:
            return ids
    raise Invalid(f"the held-out probabilities in {model_dir.name} do not name their classes")


def load_held_out(model_dir: Path) -> HeldOut:
    """``oof.npz`` if present, else ``validation.npz``; NotFound when the model wrote neither."""
    for name in (OOF, VALIDATION):
        path = model_dir / name
        if not path.is_file():
            continue
        data = npy.load_archive(path)
        ids = np.asarray(data["item_ids"], np.int64)
        probs = np.asarray(data["probabilities"], np.float32)
        if probs.ndim != 2 or len(probs) != len(ids):
            raise Invalid(f"{name}: probabilities {probs.shape} do not match {len(ids)} item ids")
        return HeldOut(ids, probs, _column_ids(model_dir, data, probs.shape[1]), name)
    raise NotFound(
        "this model kept no held-out probabilities (oof.npz or validation.npz): retrain it to get "
        "precision estimates",
        reason="no_held_out",
    )


def with_labeled_since(
    held_out: HeldOut,
    outputs: tuple[np.ndarray, np.ndarray, list[int]],
    labeled_since: np.ndarray,
) -> HeldOut:
    """``held_out`` and the items of ``labeled_since`` it lacks, scored by ``outputs`` (item ids,
    probabilities, column label ids: the model's inference, which may name classes the model had no
    labels of). ``labeled_since``: items labeled after the training's label snapshot that it had no
    label of (``trust.SinceTraining.held_out``), so the model never trained on them. Outputs lacking
    a held-out column add nothing."""
    item_ids, _, label_ids = outputs
    if not set(held_out.label_ids) <= set(label_ids) or not len(labeled_since) or not len(item_ids):
        return held_out
    wanted = np.setdiff1d(np.asarray(labeled_since, np.int64), held_out.item_ids)
    found, scores = _scored(held_out, outputs, wanted)
    if not found.any():
        return held_out
    return HeldOut(
        np.concatenate([held_out.item_ids, wanted[found]]),
        np.concatenate([held_out.probabilities, scores]),
        held_out.label_ids,
        held_out.source,
        held_out.since_training + int(found.sum()),
        np.concatenate([held_out.rejected_labels(), np.full(int(found.sum()), -1, np.int64)]),
    )


def _scored(
    held_out: HeldOut, outputs: tuple[np.ndarray, np.ndarray, list[int]], wanted: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Which of ``wanted`` the outputs score (a mask), and their scores in the held-out columns.

    The held-out columns are the classes the model trained on; the outputs may name more (classes
    without labels then, scored near zero): their share goes to the trained ones."""
    item_ids, probabilities, label_ids = outputs
    order = np.argsort(item_ids, kind="stable")
    at = np.minimum(np.searchsorted(item_ids[order], wanted), len(item_ids) - 1)
    found = item_ids[order][at] == wanted
    columns = [label_ids.index(c) for c in held_out.label_ids]
    scores = np.asarray(probabilities[order[at][found]][:, columns], np.float64)
    scores /= np.maximum(scores.sum(axis=1, keepdims=True), 1e-12)
    return found, scores.astype(np.float32)


def with_rejections(
    held_out: HeldOut,
    outputs: tuple[np.ndarray, np.ndarray, list[int]],
    rejected: dict[int, set[int]],
    labeled: set[int] | frozenset[int],
) -> HeldOut:
    """``held_out`` and a row per active rejection of an unlabeled item ("not class c", recorded
    when a person left it out of a batch of c; decision 0015), scored by ``outputs``.

    A batch's kept items become labels and so held-out items; without its left-out ones the
    evidence was the right half of the batch alone: a walk's "peaks" page, 45 of 211 left out,
    then read 249 of 251 right. Each row is a miss for its class where the model calls the item
    that class, and says nothing of any other class. Classes the model has no column of add nothing."""
    item_ids, _, label_ids = outputs
    if not rejected or not len(item_ids) or not set(held_out.label_ids) <= set(label_ids):
        return held_out
    pairs = sorted(
        (int(item), int(label))
        for label, items in rejected.items()
        if int(label) in held_out.label_ids
        for item in items
        if int(item) not in labeled
    )
    if not pairs:
        return held_out
    wanted = np.asarray([item for item, _ in pairs], np.int64)
    found, scores = _scored(held_out, outputs, wanted)
    if not found.any():
        return held_out
    not_labels = np.asarray([label for _, label in pairs], np.int64)[found]
    return HeldOut(
        np.concatenate([held_out.item_ids, wanted[found]]),
        np.concatenate([held_out.probabilities, scores]),
        held_out.label_ids,
        held_out.source,
        held_out.since_training,
        np.concatenate([held_out.rejected_labels(), not_labels]),
    )


def _true_columns(held_out: HeldOut, current: dict[int, frozenset[int]]) -> np.ndarray:
    """Each held-out item's current class as a column (its predicted one where it holds several of
    them and that is one); -1: unlabeled now, or no class the model knows."""
    columns = {label: column for column, label in enumerate(held_out.label_ids)}
    best = held_out.probabilities.argmax(axis=1)
    true = np.full(len(held_out.item_ids), -1, np.int64)
    for row, item_id in enumerate(held_out.item_ids.tolist()):
        known = sorted(columns[label] for label in current.get(int(item_id), ()) if label in columns)
        if known:
            true[row] = int(best[row]) if int(best[row]) in known else known[0]
    return true


def estimate_batch(
    held_out: HeldOut | None,
    current: dict[int, frozenset[int]],
    *,
    threshold: float,
    label_id: int | None,
    batch_size: int,
    batch: tuple[np.ndarray, np.ndarray] | None = None,
    pool_predicted: np.ndarray | None = None,
) -> BatchEstimate:
    """Precision of "label_id at >= threshold" (None: each item's arg-max class) on held-out items.

    ``batch``: (class label id, score) of each of the batch's items; with it the estimate also
    gives the calibrated precision (``calibrated_precision``). ``pool_predicted``: the unlabeled
    items' predicted classes (label ids), which that fit's label-shift weights compare with."""
    if held_out is None or not len(held_out.item_ids):
        return BatchEstimate(None, 0, 0, None, batch_size, None)
    calibrated = _calibrated_precision(held_out, current, batch, pool_predicted)
    extra = (
        (None, None) if calibrated is None else (round(calibrated, 4), round(batch_size * (1 - calibrated)))
    )
    probs = held_out.probabilities
    if label_id is not None:
        if label_id not in held_out.label_ids:
            return BatchEstimate(held_out.source, 0, 0, None, batch_size, None)
        column = held_out.label_ids.index(label_id)
        scores = probs[:, column]
        predicted = np.full(len(scores), label_id, np.int64)
    else:
        best = probs.argmax(axis=1)
        scores = probs[np.arange(len(best)), best]
        predicted = np.asarray(held_out.label_ids, np.int64)[best]
    not_label = held_out.rejected_labels()
    missed = (not_label >= 0) & (not_label == predicted)  # left out of a batch of that class by hand
    labeled = np.asarray([int(i) in current for i in held_out.item_ids], bool) & (not_label < 0)
    rows = np.nonzero((labeled | missed) & (scores >= threshold))[0]
    correct = sum(not missed[r] and int(predicted[r]) in current[int(held_out.item_ids[r])] for r in rows)
    if not len(rows):
        return BatchEstimate(held_out.source, 0, 0, None, batch_size, None, 0, 0, *extra)
    precision = correct / len(rows)
    return BatchEstimate(
        held_out.source,
        len(rows),
        int(correct),
        round(precision, 4),
        batch_size,
        round(batch_size * (1 - precision)),
        int(((not_label[rows] < 0) & (rows >= _first_since(held_out))).sum()),
        int(missed[rows].sum()),
        *extra,
    )


def _first_since(held_out: HeldOut) -> int:
    """The first row of the items labeled since the training (they follow the held-out ones; the
    rejection rows, if any, follow them)."""
    return len(held_out.item_ids) - int((held_out.rejected_labels() >= 0).sum()) - held_out.since_training


def _columns_of(label_ids: np.ndarray, columns: list[int]) -> np.ndarray:
    """Each label id's column in ``columns`` (-1: none), vectorised: the pool may be 100,000 items."""
    named = np.asarray(columns, np.int64)
    order = np.argsort(named, kind="stable")
    at = np.minimum(np.searchsorted(named[order], label_ids), len(named) - 1)
    return np.where(named[order][at] == label_ids, order[at], -1)


def _calibrated_precision(
    held_out: HeldOut,
    current: dict[int, frozenset[int]],
    batch: tuple[np.ndarray, np.ndarray] | None,
    pool_predicted: np.ndarray | None,
) -> float | None:
    """The mean over the batch's items of their class's Platt fit (as ``probability_batches`` fits
    it): the held-out items the model calls the class, right where it is their class now, each
    weighed by its class's label-shift weight. None: no batch, or a class the model has no column of."""
    if batch is None or not len(batch[0]):
        return None
    classes, scores = np.asarray(batch[0], np.int64), np.asarray(batch[1], np.float64)
    columns = _columns_of(classes, held_out.label_ids)
    if (columns < 0).any():
        return None
    true = _true_columns(held_out, current)
    best = held_out.probabilities.argmax(axis=1)
    shift = None
    if pool_predicted is not None and len(pool_predicted):
        pool = _columns_of(np.asarray(pool_predicted, np.int64), held_out.label_ids)
        shift = label_shift_weights(best, true, pool[pool >= 0], len(held_out.label_ids))
    not_label = held_out.rejected_labels()
    missed_column = _columns_of(not_label, held_out.label_ids)
    missed_column[not_label < 0] = -1
    total = 0.0
    for column in np.unique(columns).tolist():
        # right or wrong by a label, or wrong by a person leaving it out of a batch of the class
        mine = (best == column) & ((true >= 0) | (missed_column == column))
        weights = None if shift is None else np.where(true[mine] >= 0, shift[np.maximum(true[mine], 0)], 1.0)
        fit = PlattCalibration(
            held_out.probabilities[mine, column], true[mine] == column, held_out.source, weights=weights
        )
        total += float(fit.item_precision(scores[columns == column]).sum())
    return total / len(columns)
