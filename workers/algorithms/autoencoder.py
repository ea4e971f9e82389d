"""Convolutional autoencoder: training (per-epoch losses, best/last checkpoints, fine-tuning) and inference.

Images are read once per run through ``workers.images.load_batch`` (the pages' transforms) into
a float32 array file in a scratch directory (``ItemImages``); the DataLoader draws batches from
it. (When ``workers/data.py`` offers a Dataset over any source, ``ItemImages`` is the one class
to swap.) Everything random is derived from the seed: the weights' start, the
split, the batch order (a seeded generator) and each augmentation (from seed, epoch and item),
so a run on the CPU repeats exactly, with or without loader worker processes.

Inference writes each item's latent vector minus the mean code of the training items
(``latent_mean.npy``): cosine similarity, which the similarity index uses, then compares how
images differ rather than the offset they all share (on the demo data this lifts precision@10
markedly; see bench/autoencoder.py).
"""

from __future__ import annotations

import json
import math
import mmap
import os
import tempfile
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, Sampler

from backend.storage import npy
from workers.algorithms.autoencoder_net import Architecture, ConvAutoencoder, build
from workers.context import JobContext
from workers.images import load_batch, transform_from
from workers.intensity import append_intensity

READ_CHUNK = 256  # items read (and checked for cancel) at a time
RECONSTRUCTIONS = 16
LOADER_WORKERS_FROM = 1024  # training items from which batches are prepared in worker processes
BEST, LAST, MODEL_JSON, LATENT_MEAN = "best.pt", "last.pt", "model.json", "latent_mean.npy"
MEAN_ROWS = 20_000  # training items (at most) whose mean latent vector centres the outputs


# ---- data ----------------------------------------------------------------------------------------


class ItemImages:
    """Every readable item of ``refs`` as an (n, M, N) float32 array in a file, with its item ids.

    Read in chunks through ``load_batch`` (threads; unreadable items are logged and left out).
    The file lives in ``directory`` so that large datasets do not have to fit in memory, and
    loader worker processes share it without copying.
    """

    def __init__(self, ctx: JobContext, refs: list, size: tuple[int, int], directory: Path) -> None:
        height, width = size
        transform = transform_from(ctx.params)
        path = directory / "images.npy"
        store = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(len(refs), height, width))
        ids = np.zeros(len(refs), np.int64)
        filled = 0
        for start in range(0, len(refs), READ_CHUNK):
            ctx.check_canceled()
            images, got = _load(ctx, refs[start : start + READ_CHUNK], size, transform)
            store[filled : filled + len(got)] = images
            ids[filled : filled + len(got)] = got
            filled += len(got)
            ctx.progress(min(start + READ_CHUNK, len(refs)), len(refs))
        store.flush()
        del store
        self.images = npy.load(path, mmap_mode="r")[:filled]
        self.item_ids = ids[:filled]

    def __len__(self) -> int:
        return len(self.item_ids)


def _load(
    ctx: JobContext, refs: list, size: tuple[int, int], transform: Any
) -> tuple[np.ndarray, np.ndarray]:
    """``load_batch`` resizes to a square; for M != N read at the larger side and resample."""
    height, width = size
    if height == width:
        return load_batch(ctx, refs, size=height, transform=transform)
    images, got = load_batch(ctx, refs, size=max(height, width), transform=transform)
    if not len(images):
        return np.zeros((0, height, width), np.float32), got
    tensor = torch.from_numpy(images).unsqueeze(1)
    resized = nn.functional.interpolate(tensor, size=(height, width), mode="area")
    return resized.squeeze(1).numpy(), got


class Augment:
    """Flips, brightness and contrast on a batch, drawn from (seed, epoch, item).

    Applied to whole batches with tensor operations in the training process (microseconds per
    batch, where per-image numpy cost a third of an epoch); the draws depend on the item, not on
    the batch it lands in, so a run repeats with or without loader workers.
    """

    def __init__(self, params: dict[str, Any], count: int) -> None:
        self.hflip = bool(params.get("augment_hflip"))
        self.vflip = bool(params.get("augment_vflip"))
        self.brightness = float(params.get("augment_brightness", 0.0))
        self.contrast = float(params.get("augment_contrast", 0.0))
        self.target_too = params.get("augment_target") == "input_and_target"
        self.seed = int(params.get("seed", 0))
        self.count = count
        self.draws = torch.zeros(0, 4)

    @property
    def active(self) -> bool:
        return self.hflip or self.vflip or self.brightness > 0 or self.contrast > 0

    def set_epoch(self, epoch: int) -> None:
        rng = np.random.default_rng((self.seed, epoch))
        self.draws = torch.from_numpy(rng.random((self.count, 4), dtype=np.float32))

    def __call__(self, images: torch.Tensor, rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(input, target) of a (batch, 1, M, N) batch of the image rows ``rows``."""
        if not self.active:
            return images, images
        draws = self.draws[rows].to(images.device)
        out = images
        if self.hflip:
            out = torch.where((draws[:, 0] < 0.5).view(-1, 1, 1, 1), out.flip(-1), out)
        if self.vflip:
            out = torch.where((draws[:, 1] < 0.5).view(-1, 1, 1, 1), out.flip(-2), out)
        if self.contrast > 0:
            factor = (1.0 + self.contrast * (2 * draws[:, 2] - 1)).view(-1, 1, 1, 1)
            mean = out.mean(dim=(1, 2, 3), keepdim=True)
            out = (out - mean) * factor + mean
        if self.brightness > 0:
            out = out + (self.brightness * (2 * draws[:, 3] - 1)).view(-1, 1, 1, 1)
        out = out.clamp(0.0, 1.0)
        return out, (out if self.target_too else images)


LOADER_CONTEXT = "forkserver"  # how loader worker processes start (``MappedImages`` says why)


def _mapping_start(images: np.ndarray) -> int | None:
    """Address of the file mapping an array is a view of (None: not a view of a mapped file)."""
    base: Any = images
    while base is not None and not isinstance(base, mmap.mmap):
        base = getattr(base, "base", None)
    return None if base is None else int(np.frombuffer(base, np.uint8).ctypes.data)


class MappedImages:
    """How an image array reaches a loader worker process: a run of rows of a memory-mapped .npy
    file (``ItemImages``' scratch file) as the file's name and the rows, mapped again there; any
    other array as itself. The workers start from a clean server process (``LOADER_CONTEXT``), not
    forked from this one (the in-process worker's threads may hold a lock at the fork: cleanlab's
    forked pool hung a training that way), so what they read travels pickled, and a pickled memmap
    is a full copy."""

    def __init__(self, images: np.ndarray) -> None:
        self.images = images

    def __getstate__(self) -> dict[str, Any]:
        images = self.images
        if not isinstance(images, np.memmap) or not images.filename or not images.flags.c_contiguous:
            return {"images": images}
        start = _mapping_start(images)
        if start is None:
            return {"images": images}
        first_byte = images.ctypes.data - start - images.offset
        row_bytes = images[:1].nbytes or 1
        return {
            "file": images.filename,
            "first": first_byte // row_bytes,
            "count": len(images),
            "check": (images.dtype.str, images.shape[1:]),
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        if "images" in state:
            self.images = state["images"]
            return
        whole = npy.load(state["file"], mmap_mode="r")
        images = whole[state["first"] : state["first"] + state["count"]]
        if (images.dtype.str, images.shape[1:]) != state["check"] or len(images) != state["count"]:
            raise RuntimeError(f"the image file {Path(state['file']).name} changed under the loader")
        self.images = images


class ImageRows(Dataset):
    """(image, row) of rows ``rows`` of the image array: what the loader's workers copy out."""

    def __init__(self, images: np.ndarray, rows: np.ndarray) -> None:
        self._images = MappedImages(images)
        self.rows = rows

    @property
    def images(self) -> np.ndarray:
        return self._images.images

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        row = int(self.rows[index])
        return torch.from_numpy(np.array(self.images[row], dtype=np.float32)).unsqueeze(0), row


class EpochSampler(Sampler[int]):
    """A seeded shuffle per epoch."""

    def __init__(self, n: int, seed: int) -> None:
        self.n, self.seed, self.epoch = n, seed, 1

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.n

    def __iter__(self):
        generator = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        return iter(torch.randperm(self.n, generator=generator).tolist())


def loader_workers(train_count: int) -> int:
    """Worker processes for the DataLoader: one per core, but none for small sets (start-up costs more)."""
    if train_count < LOADER_WORKERS_FROM:
        return 0
    return max(0, min(2, (os.cpu_count() or 1)))


# ---- training ------------------------------------------------------------------------------------


def make_optimizer(model: nn.Module, p: dict[str, Any]) -> torch.optim.Optimizer:
    lr, decay = p["learning_rate"], p.get("weight_decay", 0.0)
    match p["optimizer"]:
        case "adam":
            return torch.optim.Adam(model.parameters(), lr=lr, weight_decay=decay)
        case "adamw":
            return torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=decay)
        case "sgd":
            return torch.optim.SGD(model.parameters(), lr=lr, momentum=p["momentum"], weight_decay=decay)
        case "rmsprop":
            return torch.optim.RMSprop(model.parameters(), lr=lr, momentum=p["momentum"], weight_decay=decay)
    raise ValueError(f"unknown optimizer {p['optimizer']!r}")


def make_criterion(name: str) -> nn.Module:
    return {"mse": nn.MSELoss, "l1": nn.L1Loss, "smooth_l1": nn.SmoothL1Loss}[name]()


class Runner:
    """Moves batches to the device and runs them, with autocast + gradient scaling on CUDA."""

    def __init__(self, model: nn.Module, device: str, criterion: nn.Module) -> None:
        self.device = torch.device(device)
        self.cuda = self.device.type == "cuda"
        self.model = model.to(self.device)
        self.criterion = criterion
        self.scaler = torch.amp.GradScaler("cuda") if self.cuda else None

    def autocast(self):
        return torch.autocast("cuda", dtype=torch.float16) if self.cuda else nullcontext()

    def step(self, optimizer: torch.optim.Optimizer, inputs: torch.Tensor, targets: torch.Tensor) -> float:
        inputs = inputs.to(self.device, non_blocking=True)
        targets = targets.to(self.device, non_blocking=True)
        optimizer.zero_grad(set_to_none=True)
        with self.autocast():
            loss = self.criterion(self.model(inputs), targets)
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
            self.scaler.step(optimizer)
            self.scaler.update()
        else:
            loss.backward()
            optimizer.step()
        return float(loss.detach())

    @torch.no_grad()
    def mean_code(self, images: np.ndarray, rows: np.ndarray, batch_size: int) -> np.ndarray:
        """The mean latent vector of ``images[rows]`` (float64 sums)."""
        self.model.eval()
        total = np.zeros(self.model.arch.latent_size, np.float64)
        for start in range(0, len(rows), batch_size):
            batch = torch.from_numpy(images[rows[start : start + batch_size]]).unsqueeze(1).to(self.device)
            with self.autocast():
                codes = self.model.encode(batch)
            total += codes.float().sum(0).cpu().numpy()
        self.model.train()
        return (total / max(1, len(rows))).astype(np.float32)

    @torch.no_grad()
    def evaluate(self, images: np.ndarray, rows: np.ndarray, batch_size: int) -> float:
        """Mean loss over ``images[rows]`` (unaugmented), read a batch at a time."""
        self.model.eval()
        total = 0.0
        for start in range(0, len(rows), batch_size):
            batch = torch.from_numpy(images[rows[start : start + batch_size]]).unsqueeze(1)
            batch = batch.to(self.device)
            with self.autocast():
                loss = self.criterion(self.model(batch), batch)
            total += float(loss) * len(batch)
        self.model.train()
        return total / max(1, len(rows))


def _scratch(ctx: JobContext) -> tempfile.TemporaryDirectory:
    root = Path(ctx.settings.cache_dir) / "autoencoder"
    root.mkdir(parents=True, exist_ok=True)
    return tempfile.TemporaryDirectory(prefix=f"job-{ctx.job_id}-", dir=root)


def split(count: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train rows, validation rows), a seeded shuffle; at least one training row is kept."""
    order = np.random.default_rng(seed).permutation(count)
    n_val = min(count - 1, round(count * fraction)) if fraction > 0 else 0
    if fraction > 0 and count > 1:
        n_val = max(1, n_val)
    return np.sort(order[n_val:]), np.sort(order[:n_val])


def load_weights(path: Path, arch: Architecture) -> dict[str, torch.Tensor]:
    """A checkpoint's weights, after checking it was made for the same network shape."""
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    saved = checkpoint.get("architecture", {})
    if saved != arch.as_dict():
        raise ValueError(f"checkpoint {path.name} is for the network {saved}, not {arch.as_dict()}")
    return checkpoint["state_dict"]


def _fine_tune_weights(ctx: JobContext, arch: Architecture) -> tuple[int, dict[str, torch.Tensor]] | None:
    source = ctx.spec.trained_on.get("fine_tune_from")
    if not source:
        return None
    directory = ctx.settings.artifact_dir / source["artifact_path"]
    path = directory / BEST if (directory / BEST).exists() else directory / LAST
    if not path.exists():
        raise FileNotFoundError(f"model {source['model_id']} has no checkpoint to fine-tune from")
    return int(source["model_id"]), load_weights(path, arch)


def train(ctx: JobContext) -> None:
    p = ctx.params
    arch = Architecture.from_params(p)
    with _scratch(ctx) as scratch:
        ctx.log(f"reading {len(ctx.items)} items at {arch.height}x{arch.width}")
        data = ItemImages(ctx, list(ctx.items), (arch.height, arch.width), Path(scratch))
        if len(data) < 1:
            raise ValueError("no item of the dataset could be read: nothing to train on")
        train_rows, val_rows = split(len(data), p["validation_fraction"], p["seed"])
        model = build(arch, p["seed"])
        fine_tune = _fine_tune_weights(ctx, arch)
        if fine_tune is not None:
            model.load_state_dict(fine_tune[1])
            ctx.summary["fine_tuned_from"] = fine_tune[0]
            ctx.log(f"starting from the weights of model {fine_tune[0]}")
        fit(ctx, model, data.images, train_rows, val_rows)


def fit(
    ctx: JobContext, model: ConvAutoencoder, images: np.ndarray, train_rows: np.ndarray, val_rows: np.ndarray
) -> None:
    """The training loop: epochs of seeded batches, losses per epoch, checkpoints, early stopping."""
    p = ctx.params
    epochs, batch_size, patience = p["epochs"], p["batch_size"], p["early_stopping_patience"]
    runner = Runner(model, ctx.device, make_criterion(p["criterion"]))
    optimizer = make_optimizer(runner.model, p)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=p["lr_step_size"], gamma=p["lr_factor"])
    dataset = ImageRows(images, train_rows)
    augment = Augment(p, len(images))
    sampler = EpochSampler(len(train_rows), p["seed"])
    workers = loader_workers(len(train_rows))
    loader = DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=sampler,
        num_workers=workers,
        multiprocessing_context=LOADER_CONTEXT if workers else None,
        persistent_workers=workers > 0,
        pin_memory=runner.cuda,
    )
    validation = len(val_rows) > 0
    steps = math.ceil(len(train_rows) / batch_size)
    ctx.log(
        f"{len(train_rows)} training and {len(val_rows)} validation items; {steps} batches of {batch_size} "
        f"per epoch on {ctx.device}; {sum(t.numel() for t in model.parameters()):,} weights; "
        f"{workers} loader workers"
    )
    if validation and "fine_tuned_from" in ctx.summary:
        ctx.summary["initial_val_loss"] = runner.evaluate(images, val_rows, batch_size)

    best, best_epoch, stale, done = math.inf, 0, 0, 0
    train_loss = val_loss = math.nan
    epoch_seconds: list[float] = []
    for epoch in range(1, epochs + 1):
        started = time.perf_counter()
        sampler.set_epoch(epoch)
        augment.set_epoch(epoch)
        total, seen = 0.0, 0
        for batch, rows in loader:
            ctx.check_canceled()
            inputs, targets = augment(batch, rows)
            total += runner.step(optimizer, inputs, targets) * len(inputs)
            seen += len(inputs)
            done += 1
            ctx.progress(done, epochs * steps, epoch=epoch, epochs=epochs)
        train_loss = total / seen
        if not math.isfinite(train_loss):
            raise ValueError(
                f"training diverged in epoch {epoch} (the loss is not a finite number): "
                "lower the learning rate or use another optimizer"
            )
        values = {"train_loss": train_loss, "learning_rate": optimizer.param_groups[0]["lr"]}
        scheduler.step()
        watched = train_loss
        if validation:
            val_loss = watched = runner.evaluate(images, val_rows, batch_size)
            values["val_loss"] = val_loss
        if watched < best:
            best, best_epoch, stale = watched, epoch, 0
            save_checkpoint(ctx.artifact_dir / BEST, runner.model, epoch, watched)
        else:
            stale += 1
        epoch_seconds.append(time.perf_counter() - started)
        values["epoch_seconds"] = epoch_seconds[-1]
        ctx.metrics(epoch, values)
        if patience and stale >= patience:
            ctx.log(f"early stop after epoch {epoch}: no better validation loss for {patience} epochs")
            ctx.progress(epochs * steps, epochs * steps, epoch=epoch, epochs=epochs)
            break
    save_checkpoint(ctx.artifact_dir / LAST, runner.model, epoch, watched)
    if best_epoch == 0:  # the validation loss was never finite: the last weights are all there is
        save_checkpoint(ctx.artifact_dir / BEST, runner.model, epoch, watched)
    # Centre the output vectors on the training items' mean code (of the weights inference uses):
    # cosine similarity then compares how images differ, not the offset they all share.
    runner.model.load_state_dict(load_weights(ctx.artifact_dir / BEST, runner.model.arch))
    sample = train_rows[np.linspace(0, len(train_rows) - 1, min(MEAN_ROWS, len(train_rows))).astype(int)]
    np.save(ctx.artifact_dir / LATENT_MEAN, runner.mean_code(images, np.unique(sample), batch_size))
    (ctx.artifact_dir / MODEL_JSON).write_text(
        json.dumps(
            {
                "algorithm": "autoencoder",
                "parameters": p,
                "architecture": runner.model.arch.as_dict(),
                "input_shape": [runner.model.arch.height, runner.model.arch.width],
                "vector_length": runner.model.arch.latent_size,
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
        ctx.summary.update(val_loss=val_loss, best_val_loss=best)
    ctx.log(f"trained {epoch} epochs; best {'validation' if validation else 'training'} "
            f"loss {best:.5f} at epoch {best_epoch}")  # fmt: skip


def save_checkpoint(path: Path, model: ConvAutoencoder, epoch: int, loss: float) -> None:
    state = {k: v.detach().to("cpu") for k, v in model.state_dict().items()}
    torch.save(
        {"architecture": model.arch.as_dict(), "state_dict": state, "epoch": epoch, "loss": loss}, path
    )


# ---- inference -----------------------------------------------------------------------------------


def load_model(model_dir: Path, params: dict[str, Any]) -> ConvAutoencoder:
    """The trained network: the best checkpoint (lowest validation loss), else the last."""
    arch = Architecture.from_params(params)
    path = model_dir / BEST if (model_dir / BEST).exists() else model_dir / LAST
    model = ConvAutoencoder(arch)
    model.load_state_dict(load_weights(path, arch))
    return model.eval()


def _sample_rows(count: int, size: int = RECONSTRUCTIONS) -> set[int]:
    """Positions spread over the whole dataset, for reconstructions shown beside the originals."""
    return set(np.linspace(0, count - 1, min(size, count)).round().astype(int).tolist()) if count else set()


def infer(ctx: JobContext) -> None:
    assert ctx.model_dir is not None
    p = ctx.params
    runner = Runner(load_model(ctx.model_dir, p), ctx.device, make_criterion(p["criterion"]))
    model = runner.model
    arch = model.arch
    centre = npy.load(ctx.model_dir / LATENT_MEAN) if (ctx.model_dir / LATENT_MEAN).exists() else 0.0
    transform = transform_from(p)
    refs = list(ctx.items)
    step = ctx.options.get("batch_size", 128)
    partial = ctx.artifact_dir / "vectors.partial.npy"
    vectors = np.lib.format.open_memmap(
        partial, mode="w+", dtype=np.float32, shape=(len(refs), arch.latent_size)
    )
    ids = np.zeros(len(refs), np.int64)
    sample = _sample_rows(len(refs))
    filled, error_sum = 0, 0.0
    recon_ids: list[int] = []
    recon: list[np.ndarray] = []
    with torch.no_grad():
        for start in range(0, len(refs), step):
            ctx.check_canceled()
            chunk = refs[start : start + step]
            images, got = _load(ctx, chunk, (arch.height, arch.width), transform)
            if len(images):
                batch = torch.from_numpy(images).unsqueeze(1).to(runner.device)
                with runner.autocast():
                    codes = model.encode(batch)
                    restored = model.decode(codes)
                codes_np = codes.float().cpu().numpy()
                restored_np = restored.float().squeeze(1).cpu().numpy()
                vectors[filled : filled + len(got)] = codes_np - centre
                ids[filled : filled + len(got)] = got
                error_sum += float(np.mean((restored_np - images) ** 2, axis=(1, 2)).sum())
                wanted = {ref.item_id for n, ref in enumerate(chunk, start) if n in sample}
                for row, item_id in enumerate(got.tolist()):
                    if item_id in wanted:
                        recon_ids.append(item_id)
                        recon.append(restored_np[row])
                filled += len(got)
            ctx.progress(min(start + step, len(refs)), len(refs))
    vectors.flush()
    if filled == len(refs):
        del vectors
        partial.rename(ctx.artifact_dir / "vectors.npy")
        np.save(ctx.artifact_dir / "item_ids.npy", ids)
    else:  # some items could not be read: keep only the rows written
        ctx.write_vectors(ids[:filled], np.array(vectors[:filled]))
        del vectors
        partial.unlink()
    if recon:
        np.save(ctx.artifact_dir / "reconstructions.npy", np.stack(recon).astype(np.float32))
        np.save(ctx.artifact_dir / "reconstruction_item_ids.npy", np.asarray(recon_ids, np.int64))
    append_intensity(ctx)
    mean_error = error_sum / filled if filled else float("nan")
    ctx.summary["reconstruction_mse"] = mean_error
    ctx.log(f"encoded {filled} of {len(refs)} items; mean reconstruction error (MSE) {mean_error:.5f}")
