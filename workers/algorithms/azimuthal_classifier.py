"""Scattering classifier: a small Keras dense network on azimuthal-integration descriptors.

Training describes the labeled items (``workers/algorithms/azimuthal.describe``), splits them
stratified by label, standardises the descriptors with the training split's mean and variance
(a ``Normalization`` layer, so the saved model is complete) and fits in memory: the descriptors
of 100,000 frames take 37 MB. A temperature fitted on the validation split then calibrates the
probabilities (a network fitted to few labels is over-confident, and probability labeling takes
its numbers at their word). Outputs match the image classifier's: ``model.keras``,
``model.json`` and the held-out quality report (``workers.algorithms.quality``); inference
writes ``probabilities.npy`` (columns in ``ctx.classes`` order) and ``vectors.npy`` (the hidden
layer), with ``item_ids.npy``.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np

from workers.algorithms.azimuthal import check_version, describe_all
from workers.algorithms.classifier import is_multi_label
from workers.algorithms.classifier_data import (
    callback_class,
    item_weights,
    labels_by_item,
    snapshot_of,
    stratified_split,
    target_matrix,
    training_classes,
)
from workers.algorithms.classifier_net import FEATURES, OUTPUT, device_scope, with_features
from workers.algorithms.quality import report_held_out
from workers.context import JobContext
from workers.scattering import DESCRIPTOR_VERSION

MODEL_FILE, MODEL_JSON, CONFUSION = "model.keras", "model.json", "confusion_matrix.json"
LOGITS = "logits"


def build(length: int, classes: int, p: dict[str, Any], mean: np.ndarray, variance: np.ndarray) -> Any:
    """descriptor -> standardise -> dense hidden layer (the features) -> class probabilities."""
    import keras
    from keras import layers

    inputs = keras.Input((length,), name="descriptor")
    x = layers.Normalization(mean=mean, variance=variance, name="standardise")(inputs)
    regularizer = keras.regularizers.L2(p["l2"]) if p["l2"] > 0 else None
    x = layers.Dense(p["hidden_units"], activation="relu", kernel_regularizer=regularizer)(x)
    features = layers.Identity(name=FEATURES)(x)
    x = layers.Dropout(p["dropout"])(features) if p["dropout"] > 0 else features
    logits = layers.Dense(classes, name=LOGITS, dtype="float32")(x)
    return keras.Model(inputs, with_temperature(logits, 1.0, p["activation"]), name="azimuthal_classifier")


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
        z = logits / temperature
        if multi_label:
            log_p = -np.logaddexp(0.0, -z)
            log_not = -np.logaddexp(0.0, z)
            loss = -np.mean(targets * log_p + (1 - targets) * log_not)
        else:
            z = z - z.max(axis=1, keepdims=True)
            log_softmax = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
            loss = -np.mean(np.sum(targets * log_softmax, axis=1))
        loss += prior_weight * np.log(temperature) ** 2
        if loss < best_loss:
            best, best_loss = float(temperature), loss
    return best


def train(ctx: JobContext) -> None:
    import keras

    p = ctx.params
    keras.utils.set_random_seed(p["seed"])
    classes = training_classes(ctx)
    if len(classes) < 2:
        raise ValueError(
            f"the label snapshot has labeled items of {len(classes)} class(es); a classifier needs two"
        )
    class_ids = [c["id"] for c in classes]
    wanted = labels_by_item(ctx, class_ids)
    labeled = [ref for ref in ctx.items if wanted.get(ref.item_id)]
    ctx.log(f"describing {len(labeled)} labeled items")
    descriptors, item_ids, _ = describe_all(ctx, labeled, p)
    if len(item_ids) < 2:
        raise ValueError("fewer than two labeled items could be read: nothing to train on")
    label_sets = [wanted[int(i)] for i in item_ids]
    multi_label = is_multi_label(ctx)
    targets = target_matrix(label_sets, class_ids, multi_label)
    train_rows, val_rows = stratified_split(
        [tuple(sorted(s)) for s in label_sets], p["validation_fraction"], p["seed"]
    )
    weights = None
    if p["class_weights"] == "balanced":
        _, weights = item_weights(targets, train_rows)
    fit = descriptors[train_rows]
    mean, variance = fit.mean(axis=0), np.maximum(fit.var(axis=0), 1e-6)
    loss = "binary_crossentropy" if multi_label else "categorical_crossentropy"
    activation = "sigmoid" if multi_label else "softmax"
    counts = {c["name"]: int(targets[:, i].astype(bool).sum()) for i, c in enumerate(classes)}
    ctx.log(
        f"{len(train_rows)} training and {len(val_rows)} validation items of {len(classes)} classes "
        f"({', '.join(f'{k} {v}' for k, v in counts.items())}); {descriptors.shape[1]} features"
    )
    steps = math.ceil(len(train_rows) / p["batch_size"])
    report = callback_class()(ctx, steps, p["epochs"])
    accuracy = keras.metrics.BinaryAccuracy if multi_label else keras.metrics.CategoricalAccuracy
    with device_scope(ctx.device):
        model = build(descriptors.shape[1], len(classes), {**p, "activation": activation}, mean, variance)
        model.compile(
            optimizer=keras.optimizers.Adam(p["learning_rate"]),
            loss=loss,
            metrics=[accuracy(name="accuracy")],
        )
        validation = (descriptors[val_rows], targets[val_rows]) if len(val_rows) else None
        model.fit(
            fit,
            targets[train_rows],
            sample_weight=weights[train_rows] if weights is not None else None,
            validation_data=validation,
            batch_size=p["batch_size"],
            epochs=p["epochs"],
            shuffle=True,
            callbacks=[report],
            verbose=0,
        )
        temperature = 1.0
        if p["calibrate"] and len(val_rows):
            logits = keras.Model(model.inputs, model.get_layer(LOGITS).output)
            held_out = np.asarray(logits.predict(descriptors[val_rows], verbose=0))
            temperature = fit_temperature(held_out, targets[val_rows], multi_label)
            model = keras.Model(
                model.inputs, with_temperature(model.get_layer(LOGITS).output, temperature, activation)
            )
            ctx.log(f"calibrated on {len(val_rows)} held-out items: temperature {temperature:.3g}")
        eval_rows, split = (val_rows, "validation") if len(val_rows) else (train_rows, "training")
        predicted = np.asarray(model.predict(descriptors[eval_rows], verbose=0))
    model.save(ctx.artifact_dir / MODEL_FILE)
    figures = report_held_out(
        ctx, classes, item_ids[eval_rows], targets[eval_rows], predicted, targets[train_rows], split
    )
    names = [c["name"] for c in classes]
    snapshot = snapshot_of(ctx)
    (ctx.artifact_dir / MODEL_JSON).write_text(
        json.dumps(
            {
                "algorithm": "azimuthal_classifier",
                "parameters": p,
                "descriptor_version": DESCRIPTOR_VERSION,
                "classes": [{"label_id": c["id"], "name": c["name"]} for c in classes],
                "multi_label": multi_label,
                "loss": loss,
                "activation": activation,
                "vector_length": p["hidden_units"],
                "temperature": temperature,
                "label_snapshot": snapshot,
                "label_counts": counts,
                "train_item_ids": item_ids[train_rows].tolist(),
                "validation_item_ids": item_ids[val_rows].tolist(),
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
        unreadable=len(labeled) - len(item_ids),
        weights=int(model.count_params()),
        temperature=temperature,
    )
    ctx.log(
        f"trained {len(report.history)} epochs; {split} confusion matrix {figures['confusion']['matrix']}"
    )


def infer(ctx: JobContext) -> None:
    import keras

    assert ctx.model_dir is not None
    meta = json.loads((ctx.model_dir / MODEL_JSON).read_text())
    check_version(meta)
    column = {c["id"]: i for i, c in enumerate(ctx.classes)}
    columns = np.asarray([column[c["label_id"]] for c in meta["classes"]], dtype=np.int64)
    refs = list(ctx.items)
    descriptors, item_ids, _ = describe_all(ctx, refs, ctx.params, step=ctx.options.get("batch_size", 64))
    features = np.zeros((0, int(meta["vector_length"])), np.float32)
    probs = np.zeros((0, len(columns)), np.float32)
    if len(item_ids):
        with device_scope(ctx.device):
            model = keras.saving.load_model(ctx.model_dir / MODEL_FILE, compile=False)
            features, probs = with_features(model).predict(descriptors, batch_size=1024, verbose=0)
    probabilities = np.zeros((len(item_ids), len(ctx.classes)), np.float32)
    probabilities[:, columns] = np.asarray(probs, np.float32)
    ctx.write_vectors(item_ids, np.asarray(features, np.float32))
    ctx.write_probabilities(item_ids, probabilities)
    ctx.summary.update(items=len(item_ids), unreadable=len(refs) - len(item_ids))
    ctx.log(f"classified {len(item_ids)} of {len(refs)} items from their azimuthal descriptors")
