"""Every classifier's quality report on its held-out items, written the same way by each one.

A classifier that "succeeded" may still predict one class for everything (a Keras network with
default settings on 74 labels did: 13% validation accuracy). So each training run ends with
``report_held_out``: accuracy beside the majority-class baseline, per-class recall and the
confusion matrix, computed on items the network did not train on, plus the files the web
process reads later (it never imports scikit-learn or cleanlab):

- ``validation.npz``: ``item_ids`` (int64), ``probabilities`` (float32, n x classes, columns in
  the model's class order) and ``label_ids`` (the class id of each column): the held-out
  probabilities behind the batch precision estimates (``backend.guided.heldout``);
- ``confusion_matrix.json``: {"labels", "matrix", "split"} (rows true, columns predicted);
- ``label_issues.npz``: confident learning (cleanlab) on the same probabilities: ``item_ids``,
  ``given_label_ids``, ``label_quality`` (cleanlab's self-confidence score, low = suspect) and
  ``is_issue`` (cleanlab's ``find_label_issues``), read by the label-error review.

``ctx.summary["quality"]`` carries the figures; ``backend.guided.quality`` judges them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from workers.context import JobContext

VALIDATION, LABEL_ISSUES, CONFUSION = "validation.npz", "label_issues.npz", "confusion_matrix.json"


def confusion_matrix(true: np.ndarray, predicted: np.ndarray, classes: int) -> np.ndarray:
    """Counts: row = true class, column = predicted class."""
    matrix = np.zeros((classes, classes), np.int64)
    np.add.at(matrix, (np.asarray(true, np.int64), np.asarray(predicted, np.int64)), 1)
    return matrix


def quality_figures(
    true: np.ndarray, probabilities: np.ndarray, train_true: np.ndarray, names: list[str]
) -> dict[str, Any]:
    """Accuracy, the majority-class baseline (always answer the training split's commonest
    class), per-class recall and the confusion matrix of held-out items."""
    classes = len(names)
    predicted = probabilities.argmax(axis=1) if len(probabilities) else np.zeros(0, np.int64)
    matrix = confusion_matrix(true, predicted, classes)
    n = len(true)
    majority = (
        int(np.bincount(np.asarray(train_true, np.int64), minlength=classes).argmax())
        if len(train_true)
        else 0
    )
    support = matrix.sum(axis=1)
    recall = {
        name: (float(matrix[i, i] / support[i]) if support[i] else None) for i, name in enumerate(names)
    }
    return {
        "items": n,
        "accuracy": float(np.trace(matrix) / n) if n else None,
        "baseline_accuracy": float(np.mean(np.asarray(true) == majority)) if n else None,
        "baseline_class": names[majority] if names else None,
        "predicted_classes": len(np.unique(predicted)),
        "per_class_recall": recall,
        "confusion": {"labels": names, "matrix": matrix.tolist()},
    }


def report_held_out(
    ctx: JobContext,
    classes: list[dict[str, Any]],
    item_ids: np.ndarray,
    targets: np.ndarray,
    probabilities: np.ndarray,
    train_targets: np.ndarray,
    split: str,
) -> dict[str, Any]:
    """Write ``validation.npz``, ``confusion_matrix.json`` and ``label_issues.npz`` and put the
    figures in ``ctx.summary["quality"]``. ``targets`` / ``train_targets`` are (n x classes)
    target rows (one-hot or shared); ``split`` names where the figures come from ("validation",
    or "training" when nothing could be held out: then they say nothing of generalisation)."""
    names = [c["name"] for c in classes]
    label_ids = np.asarray([int(c["id"]) for c in classes], np.int64)
    probabilities = np.asarray(probabilities, np.float32)
    true = np.asarray(targets).argmax(axis=1) if len(targets) else np.zeros(0, np.int64)
    train_true = np.asarray(train_targets).argmax(axis=1) if len(train_targets) else np.zeros(0, np.int64)
    figures = {"split": split, **quality_figures(true, probabilities, train_true, names)}
    ids = np.asarray(item_ids, np.int64)
    if split == "validation":
        np.savez(
            ctx.artifact_dir / VALIDATION, item_ids=ids, probabilities=probabilities, label_ids=label_ids
        )
        figures["label_issues"] = write_label_issues(ctx.artifact_dir, ids, true, probabilities, label_ids)
    (ctx.artifact_dir / CONFUSION).write_text(json.dumps({**figures["confusion"], "split": split}))
    ctx.summary["quality"] = figures
    accuracy, baseline = figures["accuracy"], figures["baseline_accuracy"]
    if accuracy is not None:
        ctx.log(
            f"{split} accuracy {accuracy:.3f} on {figures['items']} held-out items; majority-class "
            f"baseline ({figures['baseline_class']}) {baseline:.3f}; "
            f"{figures['predicted_classes']} of {len(names)} classes ever predicted"
        )
    return figures


def write_label_issues(
    directory: Path,
    item_ids: np.ndarray,
    given: np.ndarray,
    probabilities: np.ndarray,
    label_ids: np.ndarray,
) -> int | None:
    """Confident learning on held-out (or out-of-fold) probabilities -> ``label_issues.npz``.

    Returns how many items cleanlab flags, or None when it cannot judge (under two classes or
    too few items per class): then no file is written and the review relies on neighbours."""
    given = np.asarray(given, np.int64)
    if len(given) < 4 or len(np.unique(given)) < 2:
        return None
    from cleanlab.filter import find_label_issues
    from cleanlab.rank import get_label_quality_scores

    probs = np.clip(np.asarray(probabilities, np.float64), 1e-9, None)
    probs = probs / probs.sum(axis=1, keepdims=True)
    quality = get_label_quality_scores(given, probs, method="self_confidence")
    try:
        # n_jobs=1: cleanlab would fork a multiprocessing pool (one process per core) from a
        # worker with threads (the in-process worker, TensorFlow's): a forked child that inherits a
        # held lock hangs, and the training job with it (seen: "running" for good after its last
        # epoch). A few thousand rows need no pool.
        issues = find_label_issues(given, probs, filter_by="prune_by_noise_rate", n_jobs=1)
    except ValueError:  # a class without held-out items in the probabilities' columns
        issues = quality < 0.5
    np.savez(
        directory / LABEL_ISSUES,
        item_ids=np.asarray(item_ids, np.int64),
        given_label_ids=np.asarray(label_ids, np.int64)[given],
        label_quality=np.asarray(quality, np.float32),
        is_issue=np.asarray(issues, bool),
    )
    return int(np.sum(issues))
