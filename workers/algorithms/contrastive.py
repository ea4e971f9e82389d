"""Contrastive encoder (SimCLR): training without labels, and vectors for every item.

The pieces the autoencoder proved are reused, not repeated: ``ItemImages`` reads every item once
through the pages' transform into a scratch array, ``split`` and ``EpochSampler`` seed the split
and the batch order, checkpoints and fine-tuning load the same way. What is new: two augmented
views per image (``contrastive_views.Views``), the NT-Xent loss, a validation loss on fixed views
(the early-stopping and best-checkpoint signal) and ``val_accuracy``, the share of held-out views
whose nearest view is their partner.

Inference writes each item's encoder vector minus the training items' mean (cosine similarity
then compares how images differ), then the absolute-intensity descriptors when asked for.
"""

from __future__ import annotations

import json
import math
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from backend.algorithms.contrastive import grid_pooling
from backend.storage import npy
from workers.algorithms.autoencoder import (
    BEST,
    LAST,
    LOADER_CONTEXT,
    MODEL_JSON,
    EpochSampler,
    ItemImages,
    MappedImages,
    _fine_tune_weights,
    _scratch,
    load_weights,
    loader_workers,
    save_checkpoint,
    split,
)
from workers.algorithms.contrastive_net import Architecture, ContrastiveNet, build, nt_xent
from workers.algorithms.contrastive_views import Views
from workers.context import JobContext
from workers.images import load_batch, transform_from
from workers.intensity import append_intensity

FEATURE_MEAN = "feature_mean.npy"
MEAN_ROWS = 20_000
SMALLEST_BATCH = 32


def batch_for(params: dict[str, Any], count: int) -> int:
    """Images per step for ``count`` training items: the batch size, lowered on a small set so an
    epoch takes ``min_steps_per_epoch`` steps (never below 32 images nor below what was asked),
    and never more than the set."""
    size = params["batch_size"]
    if steps := params.get("min_steps_per_epoch", 0):
        size = min(size, max(SMALLEST_BATCH, math.ceil(count / steps)))
    return max(1, min(size, count))


class BatchRows(Dataset):
    """Rows of the image array, fetched a whole batch at a time (one slice, not B small copies)."""

    def __init__(self, images: np.ndarray, rows: np.ndarray) -> None:
        self._images, self.rows = MappedImages(images), rows

    @property
    def images(self) -> np.ndarray:
        return self._images.images

    def __len__(self) -> int:
        return len(self.rows)

    def __getitems__(self, indices: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        rows = np.sort(self.rows[np.asarray(indices)])  # sorted: memory-mapped reads run forward
        batch = np.ascontiguousarray(self.images[rows], dtype=np.float32)
        return torch.from_numpy(batch).unsqueeze(1), torch.from_numpy(rows.astype(np.int64))


def _as_is(batch: Any) -> Any:
    return batch


class Trainer:
    """The network on its device; a step, the validation pass and the mean vector, under autocast on CUDA."""

    def __init__(self, model: ContrastiveNet, device: str, temperature: float, grid: bool = False) -> None:
        self.device = torch.device(device)
        self.grid = grid  # the stored vectors pool quarters of the last feature map
        self.cuda = self.device.type == "cuda"
        self.model = model.to(self.device)
        self.temperature = temperature
        self.scaler = torch.amp.GradScaler("cuda") if self.cuda else None

    def autocast(self):
        return torch.autocast("cuda", dtype=torch.float16) if self.cuda else nullcontext()

    def loss(self, first: torch.Tensor, second: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        with self.autocast():
            projected = self.model(torch.cat([first, second]))
        a, b = projected.float().chunk(2)
        return nt_xent(a, b, self.temperature), projected

    def step(self, optimizer: torch.optim.Optimizer, first: torch.Tensor, second: torch.Tensor) -> float:
        optimizer.zero_grad(set_to_none=True)
        loss, _ = self.loss(first, second)
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
            self.scaler.step(optimizer)
            self.scaler.update()
        else:
            loss.backward()
            optimizer.step()
        return float(loss.detach())

    @torch.no_grad()
    def evaluate(
        self, images: np.ndarray, rows: np.ndarray, views: Views, batch_size: int
    ) -> tuple[float, float]:
        """(mean loss, share of views whose nearest other view is their partner) on fixed views."""
        self.model.eval()
        total, hits, seen = 0.0, 0, 0
        for step, start in enumerate(range(0, len(rows), batch_size)):
            chunk = rows[start : start + batch_size]
            if len(chunk) < 2:
                continue
            batch = torch.from_numpy(np.asarray(images[chunk], np.float32)).unsqueeze(1).to(self.device)
            index = torch.from_numpy(chunk.astype(np.int64))
            loss, projected = self.loss(views(batch, index, 0, step), views(batch, index, 1, step))
            z = torch.nn.functional.normalize(projected.float(), dim=1)
            similarity = z @ z.T
            similarity.fill_diagonal_(float("-inf"))
            n = len(chunk)
            partner = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(z.device)
            hits += int((similarity.argmax(dim=1) == partner).sum())
            total += float(loss) * n
            seen += n
        self.model.train()
        return total / max(1, seen), hits / max(1, 2 * seen)

    @torch.no_grad()
    def encode(self, images: np.ndarray | torch.Tensor) -> np.ndarray:
        self.model.eval()
        batch = torch.as_tensor(np.asarray(images, np.float32)).unsqueeze(1).to(self.device)
        with self.autocast():
            vectors = self.model.vectors(batch, self.grid)
        return vectors.float().cpu().numpy()

    @property
    def vector_length(self) -> int:
        return self.model.arch.vector_length * (4 if self.grid else 1)

    def mean_vector(self, images: np.ndarray, rows: np.ndarray, batch_size: int) -> np.ndarray:
        total = np.zeros(self.vector_length, np.float64)
        for start in range(0, len(rows), batch_size):
            total += self.encode(images[rows[start : start + batch_size]]).sum(axis=0)
        return (total / max(1, len(rows))).astype(np.float32)


def train(ctx: JobContext) -> None:
    p = ctx.params
    arch = Architecture.from_params(p)
    with _scratch(ctx) as scratch:
        ctx.log(f"reading {len(ctx.items)} items at {arch.image_size}x{arch.image_size}")
        data = ItemImages(ctx, list(ctx.items), (arch.image_size, arch.image_size), Path(scratch))
        if len(data) < 2:
            raise ValueError(
                f"{len(data)} of {len(ctx.items)} items could be read: contrastive training needs at "
                "least two images (each is told apart from the others)"
            )
        flat = np.asarray(data.images).reshape(len(data), -1)
        constant = int(np.sum(flat.max(axis=1) <= flat.min(axis=1)))
        if constant == len(data):
            raise ValueError(
                f"all {len(data)} readable images are constant (one value each) after the display "
                "transform: there is nothing to tell them apart by"
            )
        if constant:
            ctx.log(f"{constant} of {len(data)} images are constant: they train as blank images", "warning")
        train_rows, val_rows = split(len(data), p["validation_fraction"], p["seed"])
        if len(train_rows) < 2 or len(val_rows) == 1:
            train_rows, val_rows = np.arange(len(data)), np.zeros(0, np.int64)
            ctx.log("too few items to hold some out: training on all, without a validation loss")
        model = build(arch, p["seed"])
        fine_tune = _fine_tune_weights(ctx, arch)  # type: ignore[arg-type]
        if fine_tune is not None:
            model.load_state_dict(fine_tune[1])
            ctx.summary["fine_tuned_from"] = fine_tune[0]
            ctx.log(f"starting from the weights of model {fine_tune[0]}")
        fit(ctx, model, data.images, train_rows, val_rows)


def fit(
    ctx: JobContext, model: ContrastiveNet, images: np.ndarray, train_rows: np.ndarray, val_rows: np.ndarray
) -> None:
    """Epochs of seeded batches of two views each; losses per epoch, checkpoints, early stopping."""
    p = ctx.params
    epochs, patience = p["epochs"], p["early_stopping_patience"]
    batch_size = batch_for(p, len(train_rows))
    trainer = Trainer(model, ctx.device, p["temperature"], grid_pooling(p))
    optimizer = torch.optim.AdamW(
        trainer.model.parameters(), lr=p["learning_rate"], weight_decay=p["weight_decay"]
    )
    sampler = EpochSampler(len(train_rows), p["seed"])
    workers = loader_workers(len(train_rows)) if trainer.cuda else 0  # on the CPU they take the cores
    loader = DataLoader(
        BatchRows(images, train_rows),
        batch_size=batch_size,
        sampler=sampler,
        collate_fn=_as_is,
        num_workers=workers,
        multiprocessing_context=LOADER_CONTEXT if workers else None,
        persistent_workers=workers > 0,
        pin_memory=trainer.cuda,
        drop_last=len(train_rows) % batch_size == 1,  # one image alone has nothing to be told from
    )
    steps = len(loader)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, epochs * steps))
    views = Views(p, len(images))
    fixed = Views(p, len(images))  # epoch 0: the same validation views every epoch
    validation = len(val_rows) >= 2
    ctx.log(
        f"{len(train_rows)} training and {len(val_rows)} validation items; {steps} batches of {batch_size} "
        f"per epoch on {ctx.device}; {sum(t.numel() for t in model.parameters()):,} weights"
    )
    if validation and "fine_tuned_from" in ctx.summary:
        ctx.summary["initial_val_loss"] = trainer.evaluate(images, val_rows, fixed, batch_size)[0]

    best, best_epoch, stale, done, epoch = math.inf, 0, 0, 0, 0
    train_loss = watched = math.nan
    epoch_seconds: list[float] = []
    for epoch in range(1, epochs + 1):
        started = time.perf_counter()
        sampler.set_epoch(epoch)
        views.set_epoch(epoch)
        total, seen = 0.0, 0
        for step, (batch, rows) in enumerate(loader):
            ctx.check_canceled()
            batch = batch.to(trainer.device, non_blocking=True)
            first, second = views(batch, rows, 0, step), views(batch, rows, 1, step)
            total += trainer.step(optimizer, first, second) * len(batch)
            scheduler.step()
            seen += len(batch)
            done += 1
            ctx.progress(done, epochs * steps, epoch=epoch, epochs=epochs)
        train_loss = total / max(1, seen)
        if not math.isfinite(train_loss):
            raise ValueError(
                f"training diverged in epoch {epoch} (the loss is not a finite number): "
                "lower the learning rate or raise the temperature"
            )
        values = {"train_loss": train_loss, "learning_rate": optimizer.param_groups[0]["lr"]}
        watched = train_loss
        if validation:
            watched, values["val_accuracy"] = trainer.evaluate(images, val_rows, fixed, batch_size)
            values["val_loss"] = watched
        if watched < best:
            best, best_epoch, stale = watched, epoch, 0
            save_checkpoint(ctx.artifact_dir / BEST, trainer.model, epoch, watched)
        else:
            stale += 1
        epoch_seconds.append(time.perf_counter() - started)
        values["epoch_seconds"] = epoch_seconds[-1]
        ctx.metrics(epoch, values)
        if patience and stale >= patience:
            ctx.log(f"early stop after epoch {epoch}: no better validation loss for {patience} epochs")
            ctx.progress(epochs * steps, epochs * steps, epoch=epoch, epochs=epochs)
            break
    save_checkpoint(ctx.artifact_dir / LAST, trainer.model, epoch, watched)
    if best_epoch == 0:
        save_checkpoint(ctx.artifact_dir / BEST, trainer.model, epoch, watched)
    trainer.model.load_state_dict(load_weights(ctx.artifact_dir / BEST, trainer.model.arch))
    sample = train_rows[np.linspace(0, len(train_rows) - 1, min(MEAN_ROWS, len(train_rows))).astype(int)]
    np.save(ctx.artifact_dir / FEATURE_MEAN, trainer.mean_vector(images, np.unique(sample), batch_size))
    arch = trainer.model.arch
    (ctx.artifact_dir / MODEL_JSON).write_text(
        json.dumps(
            {
                "algorithm": "contrastive",
                "parameters": p,
                "architecture": arch.as_dict(),
                "input_shape": [arch.image_size, arch.image_size],
                "vector_length": trainer.vector_length,
            }
        )
    )
    ctx.summary.update(
        train_loss=train_loss,
        best_epoch=best_epoch,
        epochs_run=epoch,
        stopped_early=epoch < epochs,
        seconds_per_epoch=float(np.median(epoch_seconds)),
        weights=sum(t.numel() for t in model.parameters()),
    )
    if validation:
        ctx.summary.update(val_loss=watched, best_val_loss=best)
    ctx.log(f"trained {epoch} epochs; best {'validation' if validation else 'training'} "
            f"loss {best:.4f} at epoch {best_epoch}")  # fmt: skip


def load_model(model_dir: Path, params: dict[str, Any]) -> ContrastiveNet:
    """The trained network: the best checkpoint (lowest validation loss), else the last."""
    arch = Architecture.from_params(params)
    path = model_dir / BEST if (model_dir / BEST).exists() else model_dir / LAST
    model = ContrastiveNet(arch)
    model.load_state_dict(load_weights(path, arch))  # type: ignore[arg-type]
    return model.eval()


def infer(ctx: JobContext) -> None:
    assert ctx.model_dir is not None
    p = ctx.params
    trainer = Trainer(load_model(ctx.model_dir, p), ctx.device, p["temperature"], grid_pooling(p))
    arch = trainer.model.arch
    centre = npy.load(ctx.model_dir / FEATURE_MEAN) if (ctx.model_dir / FEATURE_MEAN).exists() else 0.0
    transform = transform_from(p)
    refs = list(ctx.items)
    step = ctx.options.get("batch_size", 256)
    partial = ctx.artifact_dir / "vectors.partial.npy"
    vectors = np.lib.format.open_memmap(
        partial, mode="w+", dtype=np.float32, shape=(len(refs), trainer.vector_length)
    )
    ids = np.zeros(len(refs), np.int64)
    filled = 0
    for start in range(0, len(refs), step):
        ctx.check_canceled()
        images, got = load_batch(ctx, refs[start : start + step], size=arch.image_size, transform=transform)
        if len(images):
            vectors[filled : filled + len(got)] = trainer.encode(images) - centre
            ids[filled : filled + len(got)] = got
            filled += len(got)
        ctx.progress(min(start + step, len(refs)), len(refs))
    vectors.flush()
    kept = np.array(vectors[:filled])
    del vectors
    partial.unlink()
    ctx.write_vectors(ids[:filled], kept)
    append_intensity(ctx)
    ctx.summary["items"] = filled
    ctx.log(f"encoded {filled} of {len(refs)} items into vectors of {trainer.vector_length}")
