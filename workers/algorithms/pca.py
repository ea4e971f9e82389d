"""PCA feature extractor: ``IncrementalPCA`` over downsampled, transformed images.

Training fits batch by batch; after each batch (one point of the loss curve, reported as an
epoch) it records the reconstruction error on that batch (train_loss), on held-out items
(val_loss) and the variance explained so far. The model file is plain arrays (``pca.npz``), so
inference needs numpy only.
"""

from __future__ import annotations

import itertools
import json
import os

import numpy as np

from backend.storage import npy
from workers.context import JobContext
from workers.images import load_batch, transform_from
from workers.intensity import append_intensity

MAX_VALIDATION_ITEMS = 1000
RECONSTRUCTIONS = 16


def _batches(count: int, size: int, minimum: int) -> list[slice]:
    """Consecutive slices of ``size``; a short tail joins the previous batch if below ``minimum``."""
    bounds = [*range(0, count, size), count]
    slices = [slice(a, b) for a, b in itertools.pairwise(bounds) if b > a]
    if len(slices) > 1 and slices[-1].stop - slices[-1].start < minimum:
        tail = slices.pop()
        slices[-1] = slice(slices[-1].start, tail.stop)
    return slices


def _mse(model: object, data: np.ndarray) -> float:
    restored = model.inverse_transform(model.transform(data))  # type: ignore[attr-defined]
    return float(np.mean((data - restored) ** 2))


def train(ctx: JobContext) -> None:
    from sklearn.decomposition import IncrementalPCA

    p = ctx.params
    size, k = p["image_size"], p["n_components"]
    transform = transform_from(p)
    refs = list(ctx.items)
    order = np.random.default_rng(p["seed"]).permutation(len(refs))
    n_val = 0
    if p["validation_fraction"] > 0 and len(refs) > k + 1:
        n_val = min(MAX_VALIDATION_ITEMS, max(1, round(len(refs) * p["validation_fraction"])), len(refs) - k)
    val_refs = [refs[i] for i in order[:n_val]]
    train_refs = [refs[i] for i in order[n_val:]]
    slices = _batches(len(train_refs), p["batch_size"], k)
    ctx.log(
        f"{len(train_refs)} training and {n_val} validation items, {len(slices)} batches of {p['batch_size']}"
    )

    val_images, _ = load_batch(ctx, val_refs, size=size, transform=transform)
    validation = val_images.reshape(len(val_images), size * size)
    model = IncrementalPCA(n_components=k, whiten=p["whiten"])
    carry = np.zeros((0, size * size), np.float32)  # images held back until a batch has >= k
    done, epoch, train_loss = 0, 0, float("nan")
    for batch in slices:
        ctx.check_canceled()
        images, _ = load_batch(ctx, train_refs[batch], size=size, transform=transform)
        data = np.concatenate([carry, images.reshape(len(images), size * size)])
        done += batch.stop - batch.start
        if len(data) < k:
            carry = data
            ctx.progress(done, len(train_refs), epoch=epoch, epochs=len(slices))
            continue
        carry = carry[:0]
        model.partial_fit(data)
        epoch += 1
        train_loss = _mse(model, data)
        values = {
            "train_loss": train_loss,
            "explained_variance": float(np.sum(model.explained_variance_ratio_)),
        }
        if len(validation):
            values["val_loss"] = _mse(model, validation)
        ctx.metrics(epoch, values)
        ctx.progress(done, len(train_refs), epoch=epoch, epochs=len(slices))
    if epoch == 0:
        raise ValueError(f"fewer than {k} readable training images: cannot fit {k} components")

    np.savez(
        ctx.artifact_dir / "pca.npz",
        components=model.components_.astype(np.float32),
        mean=model.mean_.astype(np.float32),
        explained_variance=model.explained_variance_.astype(np.float32),
        explained_variance_ratio=model.explained_variance_ratio_.astype(np.float32),
        whiten=np.asarray(p["whiten"]),
    )
    (ctx.artifact_dir / "model.json").write_text(
        json.dumps({"algorithm": "pca", "parameters": p, "input_shape": [size, size], "vector_length": k})
    )
    ctx.summary.update(
        train_loss=train_loss,
        explained_variance=float(np.sum(model.explained_variance_ratio_)),
        images_seen=int(model.n_samples_seen_),
    )
    if len(validation):
        ctx.summary["val_loss"] = _mse(model, validation)
    ctx.log(f"fitted {k} components on {int(model.n_samples_seen_)} images")


class PCAModel:
    """The saved arrays, applied with numpy alone."""

    def __init__(self, path: os.PathLike[str]) -> None:
        data = npy.load_archive(path)
        self.components = data["components"]
        self.mean = data["mean"]
        self.scale = np.sqrt(data["explained_variance"]) if bool(data["whiten"]) else None

    def encode(self, flat: np.ndarray) -> np.ndarray:
        codes = (flat - self.mean) @ self.components.T
        return codes / self.scale if self.scale is not None else codes

    def decode(self, codes: np.ndarray) -> np.ndarray:
        if self.scale is not None:
            codes = codes * self.scale
        return codes @ self.components + self.mean


def infer(ctx: JobContext) -> None:
    assert ctx.model_dir is not None
    model = PCAModel(ctx.model_dir / "pca.npz")
    size, k = ctx.params["image_size"], ctx.params["n_components"]
    transform = transform_from(ctx.params)
    refs = ctx.items
    step = ctx.options.get("batch_size", 256)
    partial = ctx.artifact_dir / "vectors.partial.npy"
    vectors = np.lib.format.open_memmap(partial, mode="w+", dtype=np.float32, shape=(len(refs), k))
    ids = np.zeros(len(refs), np.int64)
    filled, errors = 0, []
    recon: list[tuple[np.ndarray, np.ndarray]] = []  # (item ids, images) of the first reconstructions
    for start in range(0, len(refs), step):
        ctx.check_canceled()
        images, got = load_batch(ctx, refs[start : start + step], size=size, transform=transform)
        flat = images.reshape(len(images), size * size)
        codes = model.encode(flat).astype(np.float32)
        vectors[filled : filled + len(codes)] = codes
        ids[filled : filled + len(got)] = got
        filled += len(got)
        if len(flat):
            restored = model.decode(codes)
            errors.append(float(np.mean((flat - restored) ** 2)) * len(flat))
            if sum(len(r[0]) for r in recon) < RECONSTRUCTIONS:
                keep = RECONSTRUCTIONS - sum(len(r[0]) for r in recon)
                recon.append((got[:keep], restored[:keep].reshape(-1, size, size)))
        ctx.progress(min(start + step, len(refs)), len(refs))
    vectors.flush()
    if filled == len(refs):  # the usual case: the file is complete as written
        del vectors
        partial.rename(ctx.artifact_dir / "vectors.npy")
        np.save(ctx.artifact_dir / "item_ids.npy", ids)
    else:
        ctx.write_vectors(ids[:filled], vectors[:filled])
        del vectors
        partial.unlink()
    if recon:
        np.save(
            ctx.artifact_dir / "reconstructions.npy", np.concatenate([r[1] for r in recon]).astype(np.float32)
        )
        np.save(ctx.artifact_dir / "reconstruction_item_ids.npy", np.concatenate([r[0] for r in recon]))
    append_intensity(ctx)
    mean_error = sum(errors) / filled if filled else float("nan")
    ctx.log(f"encoded {filled} of {len(refs)} items; mean reconstruction error {mean_error:.5f}")
