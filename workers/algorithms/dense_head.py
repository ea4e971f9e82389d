"""A small dense head (Keras 3) on fixed feature vectors: the shared core of the vector classifiers.

The scattering classifier (azimuthal descriptors) and the vector classifier (any feature model's
vectors) differ only in where their vectors come from. Both then: split the labeled items
stratified, standardise with the training split's statistics (a ``Normalization`` layer, so the
saved model is complete), fit one hidden layer (or none: a logistic head), and fit a temperature
on the validation split, because a network fitted to few labels is over-confident and probability
labeling takes its numbers at their word. ``train_head`` writes ``model.keras``, ``model.json``
and ``confusion_matrix.json``; with ``folds`` it also writes ``oof.npz``: out-of-fold probabilities
of every labeled item, each from a head that never saw it (what quality estimates must use).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from backend.guided.quality import OUT_OF_FOLD, VALIDATION_SPLIT
from backend.storage import npy
from workers.algorithms.classifier import is_multi_label
from workers.algorithms.classifier_data import (
    callback_class,
    fold_of,
    item_weights,
    labels_by_item,
    snapshot_of,
    stratified_split,
    target_matrix,
    training_classes,
)
from workers.algorithms.classifier_net import FEATURES, OUTPUT, device_scope, with_features
from workers.algorithms.quality import report_held_out, write_label_issues
from workers.context import JobContext

MODEL_FILE, MODEL_JSON, CONFUSION, OOF_FILE = "model.keras", "model.json", "confusion_matrix.json", "oof.npz"
LOGITS = "logits"


def build(length: int, classes: int, p: dict[str, Any], mean: np.ndarray, variance: np.ndarray) -> Any:
    """vector -> standardise -> dense hidden layer (the features; none: logistic) -> probabilities."""
    import keras
    from keras import layers

    inputs = keras.Input((length,), name="descriptor")
    x = layers.Normalization(mean=mean, variance=variance, name="standardise")(inputs)
    regularizer = keras.regularizers.L2(p["l2"]) if p["l2"] > 0 else None
    if p["hidden_units"] > 0:
        x = layers.Dense(p["hidden_units"], activation="relu", kernel_regularizer=regularizer)(x)
    features = layers.Identity(name=FEATURES)(x)
    x = layers.Dropout(p["dropout"])(features) if p["dropout"] > 0 else features
    logits = layers.Dense(classes, name=LOGITS, dtype="float32", kernel_regularizer=regularizer)(x)
    return keras.Model(inputs, with_temperature(logits, 1.0, p["activation"]), name="dense_head")


def with_temperature(logits: Any, temperature: float, activation: str) -> Any:
    """Probabilities from logits divided by ``temperature`` (1: as trained)."""
    from keras import layers

    scaled = layers.Rescaling(1.0 / temperature, name="temperature")(logits)
    return layers.Activation(activation, name=OUTPUT, dtype="float32")(scaled)


def fit_temperature(logits: np.ndarray, targets: np.ndarray, multi_label: bool) -> float:
    """The temperature that minimises the negative log-likelihood of held-out items (Guo et al.,
    2017): a network trained to fit few labels is over-confident, and probability labeling takes
    its numbers at their word. A grid in log space; T > 1 softens, T < 1 sharpens.

    The fit is a MAP estimate with a standard normal prior on log T: a few held-out items that
    the network gets all right say little, and without the prior their likelihood keeps growing
    as T shrinks, down to probabilities that round to 1.0 and no longer rank the items."""
    best, best_loss = 1.0, np.inf
    prior_weight = 1.0 / (2.0 * max(1, len(targets)))
    for temperature in np.exp(np.linspace(np.log(0.05), np.log(50.0), 241)):
        loss = _nll(logits / temperature, targets, multi_label) + prior_weight * np.log(temperature) ** 2
        if loss < best_loss:
            best, best_loss = float(temperature), loss
    return best


def _nll(z: np.ndarray, targets: np.ndarray, multi_label: bool) -> float:
    if multi_label:
        return float(-np.mean(targets * -np.logaddexp(0.0, -z) + (1 - targets) * -np.logaddexp(0.0, z)))
    z = z - z.max(axis=1, keepdims=True)
    log_softmax = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return float(-np.mean(np.sum(targets * log_softmax, axis=1)))


def _probabilities(logits: np.ndarray, temperature: float, multi_label: bool) -> np.ndarray:
    z = logits / temperature
    if multi_label:
        return 1.0 / (1.0 + np.exp(-z))
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def cancel_callback(ctx: JobContext) -> Any:
    """Checks for a cancel each epoch (the out-of-fold fits report no metrics of their own)."""
    import keras

    class CheckCanceled(keras.callbacks.Callback):
        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            ctx.check_canceled()

    return CheckCanceled()


@dataclass
class LabeledVectors:
    """The labeled items' vectors and targets, rows aligned."""

    vectors: np.ndarray
    item_ids: np.ndarray
    targets: np.ndarray
    strata: list[tuple[int, ...]]
    classes: list[dict[str, Any]]
    multi_label: bool


def labeled_rows(ctx: JobContext, vectors: np.ndarray, item_ids: np.ndarray) -> LabeledVectors:
    """The rows of labeled items (of the label snapshot) and their targets."""
    classes = training_classes(ctx)
    if len(classes) < 2:
        raise ValueError(
            f"the label snapshot has labeled items of {len(classes)} class(es); a classifier needs two"
        )
    class_ids = [c["id"] for c in classes]
    wanted = labels_by_item(ctx, class_ids)
    rows = np.asarray([i for i, item in enumerate(item_ids) if wanted.get(int(item))], np.int64)
    if len(rows) < 2:
        raise ValueError("fewer than two labeled items have vectors: nothing to train on")
    ids = np.asarray(item_ids, np.int64)[rows]
    label_sets = [wanted[int(i)] for i in ids]
    multi_label = is_multi_label(ctx)
    return LabeledVectors(
        vectors=np.asarray(vectors, np.float32)[rows],
        item_ids=ids,
        targets=target_matrix(label_sets, class_ids, multi_label),
        strata=[tuple(sorted(s)) for s in label_sets],
        classes=classes,
        multi_label=multi_label,
    )


MIN_STEPS_PER_EPOCH = 8  # optimizer steps an epoch takes at least (few labels: rows repeated)


def epoch_rows(rows: np.ndarray, batch_size: int) -> np.ndarray:
    """The training rows of one epoch: repeated until they fill ``MIN_STEPS_PER_EPOCH`` batches.

    With tens of labels an epoch is one step, so a head's 150 epochs were 150 steps and a capped
    run (40 epochs) stopped undertrained: on 100 labeled digits (PCA features) 0.69 accuracy at
    40 epochs, 0.74 with the floor, as 150 plain epochs give (Keras' per-epoch overhead, not the
    steps, sets the time)."""
    need = MIN_STEPS_PER_EPOCH * batch_size
    if not len(rows) or len(rows) >= need:
        return rows
    return np.tile(rows, math.ceil(need / len(rows)))


def _fit(
    ctx: JobContext,
    data: LabeledVectors,
    rows: np.ndarray,
    val_rows: np.ndarray,
    p: dict[str, Any],
    report: Any,
) -> Any:
    import keras

    weights = item_weights(data.targets, rows)[1] if p["class_weights"] == "balanced" else None
    fit = data.vectors[rows]
    mean, variance = fit.mean(axis=0), np.maximum(fit.var(axis=0), 1e-6)
    rows = epoch_rows(rows, p["batch_size"])  # after the statistics: repeats do not change them
    activation = "sigmoid" if data.multi_label else "softmax"
    model = build(data.vectors.shape[1], len(data.classes), {**p, "activation": activation}, mean, variance)
    accuracy = keras.metrics.BinaryAccuracy if data.multi_label else keras.metrics.CategoricalAccuracy
    model.compile(
        optimizer=keras.optimizers.Adam(p["learning_rate"]),
        loss="binary_crossentropy" if data.multi_label else "categorical_crossentropy",
        metrics=[accuracy(name="accuracy")],
    )
    model.fit(
        data.vectors[rows],
        data.targets[rows],
        sample_weight=weights[rows] if weights is not None else None,
        validation_data=(data.vectors[val_rows], data.targets[val_rows]) if len(val_rows) else None,
        batch_size=p["batch_size"],
        epochs=p["epochs"],
        shuffle=True,
        callbacks=[report],
        verbose=0,
    )
    return model


def _logits(model: Any, vectors: np.ndarray) -> np.ndarray:
    import keras

    head = keras.Model(model.inputs, model.get_layer(LOGITS).output)
    return np.asarray(head.predict(vectors, batch_size=1024, verbose=0), np.float64)


@dataclass(frozen=True)
class OutOfFold:
    """What the folds give: the summary's ``oof_*`` figures, and each held-out row's probability."""

    summary: dict[str, Any]
    rows: np.ndarray  # rows of the labeled items scored (a class of one item is left out)
    probabilities: np.ndarray


def held_out_by_folds(data: LabeledVectors, p: dict[str, Any]) -> bool:
    """Whether the folds will score some labeled item: then they measure the model (accuracy,
    baseline, recall, confusion, calibration) and the model learns from every label."""
    return p.get("folds", 0) >= 2 and bool((fold_of(data.strata, p["folds"], p["seed"])[0] >= 0).any())


def out_of_fold(ctx: JobContext, data: LabeledVectors, p: dict[str, Any]) -> OutOfFold:
    """Fit one head per fold and predict the fold it did not see; the temperature is fitted on
    all the out-of-fold logits (every labeled item, held out). Writes ``oof.npz``."""
    fold, left_out = fold_of(data.strata, p["folds"], p["seed"])
    folds = sorted(set(fold[fold >= 0].tolist()))
    logits = np.zeros(data.targets.shape, np.float64)
    for k in folds:
        ctx.check_canceled()
        held = np.flatnonzero(fold == k)
        train_rows = np.flatnonzero(fold != k)  # left-out rows (fold -1) train in every fold
        model = _fit(ctx, data, train_rows, np.zeros(0, np.int64), p, cancel_callback(ctx))
        logits[held] = _logits(model, data.vectors[held])
        ctx.log(f"out-of-fold: fold {k + 1} of {len(folds)} ({len(held)} items held out)")
    rows = np.flatnonzero(fold >= 0)
    temperature = (
        fit_temperature(logits[rows], data.targets[rows], data.multi_label) if p["calibrate"] else 1.0
    )
    probabilities = _probabilities(logits[rows], temperature, data.multi_label).astype(np.float32)
    np.savez(
        ctx.artifact_dir / OOF_FILE,
        item_ids=data.item_ids[rows],
        probabilities=probabilities,
        label_ids=np.asarray([c["id"] for c in data.classes], np.int64),  # each column's class
    )
    truth = data.targets[rows].argmax(axis=1)
    accuracy = float((probabilities.argmax(axis=1) == truth).mean()) if len(rows) else None
    if left_out:
        ctx.log(left_out_note(data.classes, left_out))
    return OutOfFold(
        {
            "oof_items": len(rows),
            "oof_folds": len(folds),
            "oof_accuracy": accuracy,
            "oof_temperature": temperature,
            "oof_left_out": int(len(data.strata) - len(rows)),
        },
        rows,
        probabilities,
    )


def left_out_note(classes: list[dict[str, Any]], left_out: list[tuple[int, ...]]) -> str:
    """The log line for the strata ``fold_of`` left out, named by class (a stratum is a tuple of
    label ids: the log once read "(['9'])" for the class named "8")."""
    names = {c["id"]: str(c["name"]) for c in classes}
    groups = [" + ".join(names.get(label, f"label {label}") for label in key) for key in left_out]
    what = "class" if all(len(key) == 1 for key in left_out) else "class or label combination"
    if len(groups) == 1:
        return f"out-of-fold: left out the one labeled item of {what} {groups[0]} (it trains in every fold)"
    return (
        f"out-of-fold: left out {len(groups)} items, the one labeled item of each {what}: "
        f"{', '.join(groups)} (they train in every fold)"
    )


def _label_issues_from_oof(ctx: JobContext, data: LabeledVectors) -> None:
    """Rewrite ``label_issues.npz`` from the out-of-fold probabilities (every labeled item)."""
    found = npy.load_archive(ctx.artifact_dir / OOF_FILE)
    rows = {int(item_id): row for row, item_id in enumerate(data.item_ids)}
    given = data.targets[[rows[int(i)] for i in found["item_ids"]]].argmax(axis=1)
    flagged = write_label_issues(
        ctx.artifact_dir, found["item_ids"], given, found["probabilities"], found["label_ids"]
    )
    ctx.summary["label_issues_oof"] = flagged


def train_head(ctx: JobContext, data: LabeledVectors, algorithm: str, meta: dict[str, Any]) -> Any:
    """Fit, calibrate and save the head (and ``oof.npz`` when ``folds`` >= 2); returns the model."""
    import keras

    p = ctx.params
    keras.utils.set_random_seed(p["seed"])
    by_folds = held_out_by_folds(data, p)
    if by_folds:  # the folds hold every item out once: a validation fifth would only be labels unused
        train_rows, val_rows = np.arange(len(data.item_ids)), np.zeros(0, np.int64)
    else:
        train_rows, val_rows = stratified_split(data.strata, p["validation_fraction"], p["seed"])
    names = [c["name"] for c in data.classes]
    counts = {c["name"]: int(data.targets[:, i].astype(bool).sum()) for i, c in enumerate(data.classes)}
    ctx.log(
        f"{len(train_rows)} training and {len(val_rows)} validation items of {len(data.classes)} classes "
        f"({', '.join(f'{k} {v}' for k, v in counts.items())}); {data.vectors.shape[1]} features"
    )
    steps = math.ceil(len(epoch_rows(train_rows, p["batch_size"])) / p["batch_size"])
    report = callback_class()(ctx, steps, p["epochs"])
    activation = "sigmoid" if data.multi_label else "softmax"
    oof: dict[str, Any] = {}
    folds: OutOfFold | None = None
    with device_scope(ctx.device):
        model = _fit(ctx, data, train_rows, val_rows, p, report)
        if by_folds:
            folds = out_of_fold(ctx, data, p)
            oof = folds.summary
        temperature = 1.0
        if p["calibrate"] and oof.get("oof_items"):
            # the temperature fitted on every labeled item, held out: the same one oof.npz's
            # probabilities carry, so the model's scores of unlabeled items are on the scale the
            # precision and accuracy estimates read from oof.npz (a second temperature fitted on
            # the validation fifth alone, often a handful of items all right, made the model far
            # surer than the held-out probabilities it was judged by)
            temperature = float(oof["oof_temperature"])
            ctx.log(f"calibrated on {oof['oof_items']} out-of-fold items: temperature {temperature:.3g}")
        elif p["calibrate"] and len(val_rows):
            held_out = _logits(model, data.vectors[val_rows])
            temperature = fit_temperature(held_out, data.targets[val_rows], data.multi_label)
            ctx.log(f"calibrated on {len(val_rows)} held-out items: temperature {temperature:.3g}")
        if temperature != 1.0:
            model = keras.Model(
                model.inputs, with_temperature(model.get_layer(LOGITS).output, temperature, activation)
            )
        if folds is not None and len(folds.rows):
            eval_rows, split, predicted = folds.rows, OUT_OF_FOLD, folds.probabilities
        else:
            eval_rows, split = (val_rows, VALIDATION_SPLIT) if len(val_rows) else (train_rows, "training")
            predicted = np.asarray(model.predict(data.vectors[eval_rows], verbose=0))
    model.save(ctx.artifact_dir / MODEL_FILE)
    # The quality gate's figures and confusion_matrix.json (decision 0011; out of fold: decision
    # 0029): each from a head that did not learn the item
    figures = report_held_out(
        ctx,
        data.classes,
        data.item_ids[eval_rows],
        data.targets[eval_rows],
        predicted,
        data.targets[eval_rows] if split == OUT_OF_FOLD else data.targets[train_rows],
        split,
    )
    if oof.get("oof_items"):  # confident learning over every labeled item, not just the held-out fifth
        _label_issues_from_oof(ctx, data)
    snapshot = snapshot_of(ctx)
    (ctx.artifact_dir / MODEL_JSON).write_text(
        json.dumps(
            {
                "algorithm": algorithm,
                "parameters": p,
                **meta,
                "classes": [{"label_id": c["id"], "name": c["name"]} for c in data.classes],
                "multi_label": data.multi_label,
                "loss": "binary_crossentropy" if data.multi_label else "categorical_crossentropy",
                "activation": activation,
                "vector_length": p["hidden_units"] or data.vectors.shape[1],
                "temperature": temperature,
                "label_snapshot": snapshot,
                "label_counts": counts,
                "train_item_ids": data.item_ids[train_rows].tolist(),
                "validation_item_ids": data.item_ids[val_rows].tolist(),
                "keras_backend": keras.backend.backend(),
            }
        )
    )
    last = report.history[-1] if report.history else {}
    ctx.summary.update(
        {k: last[k] for k in ("train_loss", "accuracy", "val_loss", "val_accuracy") if k in last},
        epochs_run=len(report.history),
        classes=names,
        label_counts=counts,
        label_snapshot=snapshot,
        train_items=len(train_rows),
        validation_items=len(val_rows),
        weights=int(model.count_params()),
        temperature=temperature,
        **oof,
    )
    matrix = figures["confusion"]["matrix"]
    ctx.log(f"trained {len(report.history)} epochs; {split} confusion matrix {matrix}")
    return model


def predict_all(ctx: JobContext, vectors: np.ndarray, item_ids: np.ndarray, model_dir: Any) -> None:
    """Probabilities (columns in ``ctx.classes`` order) and head features of every item."""
    import keras

    meta = json.loads((model_dir / MODEL_JSON).read_text())
    column = {c["id"]: i for i, c in enumerate(ctx.classes)}
    columns = np.asarray([column[c["label_id"]] for c in meta["classes"]], dtype=np.int64)
    features = np.zeros((0, int(meta["vector_length"])), np.float32)
    probs = np.zeros((0, len(columns)), np.float32)
    if len(item_ids):
        with device_scope(ctx.device):
            model = keras.saving.load_model(model_dir / MODEL_FILE, compile=False)
            features, probs = with_features(model).predict(vectors, batch_size=1024, verbose=0)
    probabilities = np.zeros((len(item_ids), len(ctx.classes)), np.float32)
    probabilities[:, columns] = np.asarray(probs, np.float32)
    ctx.write_vectors(item_ids, np.asarray(features, np.float32))
    ctx.write_probabilities(item_ids, probabilities)
