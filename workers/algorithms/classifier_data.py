"""The classifier's training data: labels -> targets, the stratified split, class weights, the
labeled images in a scratch file, augmentations, the Keras batches drawn from them and the Keras
callback that reports progress and metrics to the job."""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import numpy as np

from backend.storage import npy
from workers.context import JobContext
from workers.images import load_batch, transform_from
from workers.memory import keep_freed_memory

READ_CHUNK = 256


# ---- labels and split ----------------------------------------------------------------------------


def training_classes(ctx: JobContext) -> list[dict[str, Any]]:
    """The classes (in ``ctx.classes`` order) that have at least one labeled item: the network's outputs."""
    used = {label for ids in ctx.labels.values() for label in ids}
    return [c for c in ctx.classes if c["id"] in used]


def labels_by_item(ctx: JobContext, class_ids: list[int]) -> dict[int, list[int]]:
    """Each labeled item's classes among ``class_ids`` (a class deleted since the snapshot is no target)."""
    known = set(class_ids)
    return {item: [c for c in ids if c in known] for item, ids in ctx.labels.items()}


def item_weights(targets: np.ndarray, train_rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(per-class balanced weights from the training rows, each item's weight: its classes' mean)."""
    per_class = balanced_weights(targets[train_rows])
    hot = targets.astype(bool)
    weights = np.asarray([per_class[row].mean() if row.any() else 1.0 for row in hot], dtype=np.float32)
    return per_class, weights


def snapshot_of(ctx: JobContext) -> dict[str, Any]:
    """The label snapshot the job was submitted with, as recorded in model.json and the summary."""
    trained_on = ctx.spec.trained_on
    return {k: trained_on[k] for k in ("label_snapshot", "labels_as_of", "labels_tagger") if k in trained_on}


def target_matrix(label_sets: list[list[int]], class_ids: list[int], multi_label: bool) -> np.ndarray:
    """One row per item: one-hot (single label), multi-hot (binary loss) or shared evenly (softmax on
    an item with several labels)."""
    column = {cid: i for i, cid in enumerate(class_ids)}
    targets = np.zeros((len(label_sets), len(class_ids)), np.float32)
    for row, labels in enumerate(label_sets):
        cols = [column[label] for label in labels if label in column]
        targets[row, cols] = 1.0 if multi_label else 1.0 / max(1, len(cols))
    return targets


def stratified_split(strata: list[Any], fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train rows, validation rows): ``fraction`` of each stratum held out, seeded.

    Each stratum keeps at least one training row; a class with a single item trains only.
    """
    rng = np.random.default_rng([seed, 0x5911])
    groups: dict[Any, list[int]] = {}
    for row, key in enumerate(strata):
        groups.setdefault(key, []).append(row)
    val: list[int] = []
    for key in sorted(groups, key=str):
        rows = np.asarray(groups[key])
        rows = rows[rng.permutation(len(rows))]
        n_val = min(len(rows) - 1, round(len(rows) * fraction)) if fraction > 0 else 0
        val.extend(rows[: max(0, n_val)].tolist())
    val_rows = np.asarray(sorted(val), dtype=np.int64)
    train_rows = np.setdiff1d(np.arange(len(strata)), val_rows)
    return train_rows, val_rows


def fold_of(strata: list[Any], folds: int, seed: int) -> tuple[np.ndarray, list[Any]]:
    """Each row's fold (-1: left out), stratified: each stratum's rows dealt round the folds in a
    seeded order, so every fold holds its share of each class. A stratum with one row cannot be
    predicted by a head that never saw its class: it is left out (and returned), and trains in
    every fold."""
    rng = np.random.default_rng([seed, 0x00F])
    fold = np.full(len(strata), -1, np.int64)
    groups: dict[Any, list[int]] = {}
    for row, key in enumerate(strata):
        groups.setdefault(key, []).append(row)
    left_out, start = [], 0
    for key in sorted(groups, key=str):
        rows = np.asarray(groups[key])
        if len(rows) < 2:
            left_out.append(key)
            continue
        rows = rows[rng.permutation(len(rows))]
        fold[rows] = (np.arange(len(rows)) + start) % folds
        start += len(rows)  # the next class starts where this one stopped: folds stay even
    return fold, left_out


def balanced_weights(targets: np.ndarray) -> np.ndarray:
    """Per class n / (classes x n_class) (scikit-learn's 'balanced')."""
    counts = targets.astype(bool).sum(axis=0).astype(np.float64)
    return (len(targets) / (len(counts) * np.maximum(counts, 1))).astype(np.float32)


# ---- data ----------------------------------------------------------------------------------------


class LabeledImages:
    """The readable labeled items as an (n, size, size) float32 array file, their ids and label sets."""

    def __init__(self, ctx: JobContext, size: int, directory: Path, class_ids: list[int]) -> None:
        wanted = labels_by_item(ctx, class_ids)
        labeled = [ref for ref in ctx.items if wanted.get(ref.item_id)]
        transform = transform_from(ctx.params)
        path = directory / "images.npy"
        store = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(len(labeled), size, size))
        ids = np.zeros(len(labeled), np.int64)
        filled = 0
        for start in range(0, len(labeled), READ_CHUNK):
            ctx.check_canceled()
            images, got = load_batch(ctx, labeled[start : start + READ_CHUNK], size=size, transform=transform)
            store[filled : filled + len(got)] = images
            ids[filled : filled + len(got)] = got
            filled += len(got)
            ctx.progress(min(start + READ_CHUNK, len(labeled)), len(labeled))
        store.flush()
        del store
        self.images = npy.load(path, mmap_mode="r")[:filled]
        self.item_ids = ids[:filled]
        self.labels = [wanted[int(i)] for i in self.item_ids]


class Augment:
    """Random flips and rotations, drawn from (seed, epoch, item row): any run repeats them exactly."""

    def __init__(self, params: dict[str, Any]) -> None:
        self.rotation = float(params.get("augment_rotation", 0.0))
        self.hflip = bool(params.get("augment_hflip"))
        self.vflip = bool(params.get("augment_vflip"))
        self.seed = int(params.get("seed", 0))

    @property
    def active(self) -> bool:
        return self.rotation > 0 or self.hflip or self.vflip

    def __call__(self, image: np.ndarray, epoch: int, row: int) -> np.ndarray:
        from scipy.ndimage import rotate

        draws = np.random.default_rng([self.seed, epoch, row]).random(3)
        if self.hflip and draws[0] < 0.5:
            image = image[:, ::-1]
        if self.vflip and draws[1] < 0.5:
            image = image[::-1, :]
        if self.rotation > 0:
            angle = self.rotation * (2 * draws[2] - 1)
            image = rotate(image, angle, reshape=False, order=1, mode="reflect")
        return np.ascontiguousarray(image, dtype=np.float32)


def batches_class() -> type:
    import keras

    class Batches(keras.utils.PyDataset):
        """Batches of rows of the image file: (x (B, s, s, 1), y[, sample weights]); a seeded shuffle
        per epoch when training."""

        def __init__(
            self,
            images: np.ndarray,
            targets: np.ndarray,
            rows: np.ndarray,
            batch_size: int,
            *,
            shuffle: bool = False,
            seed: int = 0,
            weights: np.ndarray | None = None,
            augment: Augment | None = None,
        ) -> None:
            super().__init__()
            self.images, self.targets, self.rows = images, targets, rows
            self.batch_size, self.shuffle, self.seed = batch_size, shuffle, seed
            self.weights = weights
            self.augment = augment if augment is not None and augment.active else None
            self.epoch = 0
            self.order = self._order()

        def _order(self) -> np.ndarray:
            if not self.shuffle:
                return self.rows
            return self.rows[np.random.default_rng([self.seed, self.epoch]).permutation(len(self.rows))]

        def __len__(self) -> int:
            return math.ceil(len(self.rows) / self.batch_size)

        def __getitem__(self, index: int) -> tuple:
            rows = np.sort(self.order[index * self.batch_size : (index + 1) * self.batch_size])
            x = np.asarray(self.images[rows], dtype=np.float32)
            if self.augment is not None:
                x = np.stack(
                    [self.augment(image, self.epoch, int(r)) for image, r in zip(x, rows, strict=True)]
                )
            x = x[..., None]
            y = self.targets[rows]
            if self.weights is None:
                return x, y
            return x, y, self.weights[rows]

        def on_epoch_end(self) -> None:
            self.epoch += 1
            self.order = self._order()

    return Batches


def callback_class() -> type:
    import keras

    class JobReport(keras.callbacks.Callback):
        """Cancel checks and progress per batch, metrics per epoch (epochs from 1)."""

        def __init__(self, ctx: JobContext, steps: int, epochs: int) -> None:
            super().__init__()
            self.ctx, self.steps, self.epochs = ctx, steps, epochs
            self.done, self.epoch, self.started = 0, 1, 0.0
            self.epoch_seconds: list[float] = []
            self.history: list[dict[str, float]] = []

        def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
            self.epoch, self.started = epoch + 1, time.perf_counter()

        def on_train_batch_begin(self, batch: int, logs: dict | None = None) -> None:
            self.ctx.check_canceled()  # raises JobCanceled: fit stops there
            if batch == 0:  # after TensorFlow's dataset set its malloc patch (workers/memory.py)
                keep_freed_memory()

        def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
            self.done += 1
            self.ctx.progress(self.done, self.steps * self.epochs, epoch=self.epoch, epochs=self.epochs)

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            logs = logs or {}
            self.epoch_seconds.append(time.perf_counter() - self.started)
            values = {
                "train_loss": logs.get("loss"),
                "accuracy": logs.get("accuracy"),
                "val_loss": logs.get("val_loss"),
                "val_accuracy": logs.get("val_accuracy"),
                "epoch_seconds": self.epoch_seconds[-1],
            }
            clean = {k: float(v) for k, v in values.items() if v is not None}
            self.history.append(clean)
            self.ctx.metrics(epoch + 1, clean)

    return JobReport
