"""Image classifier (Keras 3): training from a label snapshot, inference of probabilities and features.

Training reads each labeled item once (``workers.images.load_batch``: the pages' transforms) into a
float32 array file in a scratch directory and draws seeded batches from it; the split is
stratified by label, the augmentations live in the model (``classifier_net``). Runs on
TensorFlow by default; ``KERAS_BACKEND=torch`` works too (NASNet excepted, a Keras limit).

Outputs of training (``ctx.artifact_dir``): ``model.keras``, ``model.json`` (classes, snapshot,
shapes) and the held-out quality report (``workers.algorithms.quality``: ``validation.npz``,
``confusion_matrix.json``, ``label_issues.npz`` and ``summary["quality"]``). Inference writes
``probabilities.npy`` (columns in ``ctx.classes`` order; classes without training items get 0)
and ``vectors.npy`` (penultimate layer), with ``item_ids.npy``.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from backend.algorithms.classifier import SMALL_CNN, input_size
from workers.algorithms.classifier_data import (
    Augment,
    LabeledImages,
    batches_class,
    callback_class,
    item_weights,
    snapshot_of,
    stratified_split,
    target_matrix,
    training_classes,
)
from workers.algorithms.classifier_net import build, device_scope, with_features
from workers.algorithms.quality import confusion_matrix, report_held_out
from workers.context import JobContext
from workers.images import load_batch, transform_from

MODEL_FILE, MODEL_JSON, CONFUSION = "model.keras", "model.json", "confusion_matrix.json"


# ---- training ------------------------------------------------------------------------------------


def make_optimizer(p: dict[str, Any], steps: int) -> Any:
    """The optimizer with its learning rate (cosine-decayed over ``steps`` unless constant)."""
    import keras

    lr = p["learning_rate"]
    if p.get("lr_schedule", "cosine") == "cosine":
        lr = keras.optimizers.schedules.CosineDecay(lr, decay_steps=max(1, steps))
    match p["optimizer"]:
        case "adam":
            return keras.optimizers.Adam(lr)
        case "adamw":
            return keras.optimizers.AdamW(lr)
        case "sgd":
            return keras.optimizers.SGD(lr, momentum=p["momentum"])
        case "rmsprop":
            return keras.optimizers.RMSprop(lr, momentum=p["momentum"])
    raise ValueError(f"unknown optimizer {p['optimizer']!r}")


def is_multi_label(ctx: JobContext) -> bool:
    return bool(ctx.spec.trained_on.get("multi_label")) or any(len(v) > 1 for v in ctx.labels.values())


def loss_of(p: dict[str, Any], multi_label: bool) -> str:
    if p["loss"] != "auto":
        return p["loss"]
    return "binary_crossentropy" if multi_label else "categorical_crossentropy"


def weights_file(p: dict[str, Any]) -> str | None:
    if p["weights"] == "none":
        return None
    path = Path(p["weights_path"]).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"weights file {path} does not exist on this worker (nothing is downloaded)")
    return str(path)


def _scratch(ctx: JobContext) -> tempfile.TemporaryDirectory:
    root = Path(ctx.settings.cache_dir) / "classifier"
    root.mkdir(parents=True, exist_ok=True)
    return tempfile.TemporaryDirectory(prefix=f"job-{ctx.job_id}-", dir=root)


def _check_backend(architecture: str) -> None:
    import keras

    if architecture.startswith("NASNet") and keras.backend.backend() != "tensorflow":
        raise ValueError(
            f"{architecture} runs on the TensorFlow backend only (a Keras limit); this worker uses "
            f"KERAS_BACKEND={keras.backend.backend()}: choose another architecture or a TensorFlow worker"
        )


def train(ctx: JobContext) -> None:
    import keras

    p = ctx.params
    arch, size, seed = p["architecture"], input_size(p), p["seed"]
    _check_backend(arch)
    keras.utils.set_random_seed(seed)
    classes = training_classes(ctx)
    if len(classes) < 2:
        raise ValueError(
            f"the label snapshot has labeled items of {len(classes)} class(es); a classifier needs two"
        )
    class_ids = [c["id"] for c in classes]
    multi_label = is_multi_label(ctx)
    loss = loss_of(p, multi_label)
    binary = loss == "binary_crossentropy"
    with _scratch(ctx) as scratch:
        ctx.log(f"reading {len(ctx.labels)} labeled items at {size}x{size}")
        data = LabeledImages(ctx, size, Path(scratch), class_ids)
        if len(data.item_ids) < 2:
            raise ValueError("fewer than two labeled items could be read: nothing to train on")
        targets = target_matrix(data.labels, class_ids, binary)
        strata = [tuple(sorted(labels)) for labels in data.labels]
        train_rows, val_rows = stratified_split(strata, p["validation_fraction"], seed)
        sample_weights = None
        if p["class_weights"] == "balanced":
            per_class, sample_weights = item_weights(targets, train_rows)
            ctx.log(
                "class weights: "
                + ", ".join(f"{c['name']} {w:.3g}" for c, w in zip(classes, per_class, strict=True))
            )
        counts = {c["name"]: int(targets[:, i].astype(bool).sum()) for i, c in enumerate(classes)}
        ctx.log(
            f"{len(train_rows)} training and {len(val_rows)} validation items of {len(classes)} classes "
            f"({', '.join(f'{k} {v}' for k, v in counts.items())}); loss {loss}; {arch} at {size}x{size} "
            f"on {ctx.device} with Keras {keras.__version__} ({keras.backend.backend()})"
        )
        Batches = batches_class()
        train_data = Batches(
            data.images,
            targets,
            train_rows,
            p["batch_size"],
            shuffle=True,
            seed=seed,
            weights=sample_weights,
            augment=Augment(p),
        )
        val_data = Batches(data.images, targets, val_rows, p["batch_size"]) if len(val_rows) else None
        report = callback_class()(ctx, len(train_data), p["epochs"])
        with device_scope(ctx.device):
            model = build(
                arch,
                size,
                len(classes),
                activation="sigmoid" if binary else "softmax",
                weights_path=weights_file(p),
                seed=seed,
            )
            accuracy = keras.metrics.BinaryAccuracy if binary else keras.metrics.CategoricalAccuracy
            steps = len(train_data) * p["epochs"]
            model.compile(optimizer=make_optimizer(p, steps), loss=loss, metrics=[accuracy(name="accuracy")])
            model.fit(train_data, validation_data=val_data, epochs=p["epochs"], callbacks=[report], verbose=0)
            eval_rows, split = (val_rows, "validation") if len(val_rows) else (train_rows, "training")
            predicted = _predict(model, data.images, eval_rows, p["batch_size"])
        model.save(ctx.artifact_dir / MODEL_FILE)
    figures = report_held_out(
        ctx, classes, data.item_ids[eval_rows], targets[eval_rows], predicted, targets[train_rows], split
    )
    names = [c["name"] for c in classes]
    snapshot = snapshot_of(ctx)
    (ctx.artifact_dir / MODEL_JSON).write_text(
        json.dumps(
            {
                "algorithm": "classifier",
                "parameters": p,
                "architecture": arch,
                "input_shape": [size, size],
                "classes": [{"label_id": c["id"], "name": c["name"]} for c in classes],
                "multi_label": multi_label,
                "loss": loss,
                "activation": "sigmoid" if binary else "softmax",
                "vector_length": int(model.get_layer("features").output.shape[-1]),
                "label_snapshot": snapshot,
                "label_counts": counts,
                "train_item_ids": data.item_ids[train_rows].tolist(),
                "validation_item_ids": data.item_ids[val_rows].tolist(),
                "keras_backend": keras.backend.backend(),
                "keras_version": keras.__version__,
            }
        )
    )
    last = report.history[-1] if report.history else {}
    ctx.summary.update(
        {k: last[k] for k in ("train_loss", "accuracy", "val_loss", "val_accuracy") if k in last},
        epochs_run=len(report.history),
        seconds_per_epoch=float(np.median(report.epoch_seconds)) if report.epoch_seconds else None,
        classes=names,
        label_counts=counts,
        label_snapshot=snapshot,
        train_items=len(train_rows),
        validation_items=len(val_rows),
        weights=int(model.count_params()),
        keras_backend=keras.backend.backend(),
    )
    ctx.log(
        f"trained {len(report.history)} epochs; {split} confusion matrix {figures['confusion']['matrix']}"
    )


def _predict(model: Any, images: np.ndarray, rows: np.ndarray, batch_size: int) -> np.ndarray:
    out = [
        np.asarray(model.predict_on_batch(np.asarray(images[rows[i : i + batch_size]])[..., None]))
        for i in range(0, len(rows), batch_size)
    ]
    return np.concatenate(out) if out else np.zeros((0, model.output.shape[-1]), np.float32)


# ---- inference -----------------------------------------------------------------------------------


def infer(ctx: JobContext) -> None:
    import keras

    assert ctx.model_dir is not None
    p = ctx.params
    meta = json.loads((ctx.model_dir / MODEL_JSON).read_text())
    _check_backend(meta["architecture"])
    size = int(meta["input_shape"][0])
    column = {c["id"]: i for i, c in enumerate(ctx.classes)}
    columns = np.asarray([column[c["label_id"]] for c in meta["classes"]], dtype=np.int64)
    transform = transform_from(p)
    refs = list(ctx.items)
    step = ctx.options.get("batch_size", 128)
    with device_scope(ctx.device):
        model = keras.saving.load_model(ctx.model_dir / MODEL_FILE, compile=False)
        both = with_features(model)
        length = int(meta["vector_length"])
        vectors_path = ctx.artifact_dir / "vectors.partial.npy"
        probs_path = ctx.artifact_dir / "probabilities.partial.npy"
        vectors = np.lib.format.open_memmap(
            vectors_path, mode="w+", dtype=np.float32, shape=(len(refs), length)
        )
        probabilities = np.lib.format.open_memmap(
            probs_path, mode="w+", dtype=np.float32, shape=(len(refs), len(ctx.classes))
        )
        ids = np.zeros(len(refs), np.int64)
        filled = 0
        for start in range(0, len(refs), step):
            ctx.check_canceled()
            images, got = load_batch(ctx, refs[start : start + step], size=size, transform=transform)
            if len(got):
                features, probs = both.predict_on_batch(images[..., None])
                vectors[filled : filled + len(got)] = np.asarray(features, np.float32)
                probabilities[filled : filled + len(got), columns] = np.asarray(probs, np.float32)
                ids[filled : filled + len(got)] = got
                filled += len(got)
            ctx.progress(min(start + step, len(refs)), len(refs))
    vectors.flush()
    probabilities.flush()
    ctx.write_vectors(ids[:filled], vectors[:filled])
    ctx.write_probabilities(ids[:filled], probabilities[:filled])
    del vectors, probabilities
    vectors_path.unlink()
    probs_path.unlink()
    ctx.summary.update(items=filled, unreadable=len(refs) - filled)
    ctx.log(
        f"classified {filled} of {len(refs)} items with {meta['architecture']} ({keras.backend.backend()})"
    )


__all__ = ["SMALL_CNN", "confusion_matrix", "infer", "train"]
