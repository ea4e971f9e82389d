"""Absolute-intensity descriptors, appended to any extractor's vectors where brightness carries the class.

Every extractor sees images through the display transform (min-max, percentiles), which maps a
dim and a bright cell to the same [0, 1] picture; the classes of some data differ by exactly what
that throws away (cell-cycle phases by DNA content, exposures by dose). These few numbers, read
from the raw pixels, put it back:

- log(1 + total counts), the total estimated over the full frame when it was read strided;
- log(1 + intensity) at the 10th, 50th, 90th and 99th percentiles;
- the share of saturated pixels (at the integer type's largest value) and of zero pixels.

Non-finite pixels (NaN, Inf in float arrays) are left out of every figure; an image with none
finite gets zeros. ``append_intensity`` standardises each descriptor over the inferred items and
scales the block so that its total variance is ``weight`` times the total variance of the
extractor's own vector: the block's say in a distance does not depend on the vector's length or
units, and ``weight`` states it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from backend.datasets.refs import ItemRef
from workers.images import map_readable

NAMES = ("log_total", "log_p10", "log_p50", "log_p90", "log_p99", "saturated", "zero")
PERCENTILES = (10.0, 50.0, 90.0, 99.0)
MAX_SIDE = 256  # frames are read strided to about this shorter side: percentiles need no more
MIN_SCALE = 1e-6
INTENSITY_JSON = "intensity.json"


def describe_intensity(image: np.ndarray, stride: int = 1, mask: np.ndarray | None = None) -> np.ndarray:
    """The descriptors (``NAMES``, float64) of one image's raw pixels, read with ``stride``, its
    masked pixels (``mask`` True) left out."""
    pixels = np.asarray(image)
    if pixels.ndim == 3:  # colour: brightness is the mean of the channels
        pixels = pixels.mean(axis=-1)
    saturated_at = np.iinfo(pixels.dtype).max if np.issubdtype(pixels.dtype, np.integer) else None
    values = (pixels[~mask] if mask is not None else pixels).astype(np.float64, copy=False).ravel()
    finite = values[np.isfinite(values)]
    out = np.zeros(len(NAMES), np.float64)
    if not len(finite):
        return out
    counts = np.clip(finite, 0.0, None)
    out[0] = np.log1p(counts.sum() * stride * stride)
    out[1:5] = np.log1p(np.percentile(counts, PERCENTILES))
    out[5] = float(np.mean(finite >= saturated_at)) if saturated_at is not None else 0.0
    out[6] = float(np.mean(finite == 0))
    return out


def stride_for(ref: ItemRef) -> int:
    if not ref.height or not ref.width:
        return 1
    return max(1, min(ref.height, ref.width) // MAX_SIDE)


def intensity_of(ctx: object, refs: Sequence[ItemRef]) -> dict[int, np.ndarray]:
    """Item id -> descriptors for the refs that can be read (others are logged and left out)."""

    def one(ref: ItemRef) -> np.ndarray:
        stride = stride_for(ref)
        pixels, mask = ctx.reader.read_masked(ref, stride=stride)  # type: ignore[attr-defined]
        return describe_intensity(pixels, stride, mask)

    return dict(map_readable(ctx, refs, one))  # type: ignore[arg-type]


def standardise(descriptors: np.ndarray, vectors: np.ndarray, weight: float) -> tuple[np.ndarray, dict]:
    """The descriptor block, z-scored and scaled to ``weight`` x the vectors' total variance.

    A descriptor constant over the items (no saturated pixel anywhere, say) stays 0, not noise.
    """
    mean = descriptors.mean(axis=0)
    spread = descriptors.std(axis=0)
    live = spread > MIN_SCALE
    z = np.where(live, (descriptors - mean) / np.where(live, spread, 1.0), 0.0)
    total = float(np.sum(vectors.astype(np.float64).var(axis=0))) if len(vectors) else 0.0
    factor = float(np.sqrt(weight * total / max(1, int(live.sum())))) if total > 0 else 1.0
    fitted = {
        "names": list(NAMES),
        "mean": mean.tolist(),
        "scale": np.where(live, spread, 0.0).tolist(),
        "factor": factor,
        "weight": weight,
    }
    return (z * factor).astype(np.float32), fitted


def wanted(params: dict, options: dict | None = None) -> tuple[bool, float]:
    """(append descriptors?, their weight) from an extractor's parameters, unless the inference's
    ``intensity_descriptors`` option says "on" or "off"; older models: off."""
    on = bool(params.get("intensity_features", False))
    override = (options or {}).get("intensity_descriptors", "model")
    if override in ("on", "off"):
        on = override == "on"
    return on, float(params.get("intensity_weight", 0.5))


def append_intensity(ctx: object, directory: Path | None = None) -> None:
    """After an inference run wrote ``vectors.npy`` + ``item_ids.npy``: append the descriptors.

    Does nothing unless the model's parameters (or the inference's ``intensity_descriptors``
    option) ask for it. Items whose raw pixels cannot be read now (they could a moment ago) are
    dropped from both files, so rows stay aligned.
    """
    on, weight = wanted(ctx.params, getattr(ctx, "options", None))  # type: ignore[attr-defined]
    if not on:
        return
    out = Path(directory or ctx.artifact_dir)  # type: ignore[attr-defined]
    vectors = np.load(out / "vectors.npy")
    ids = np.load(out / "item_ids.npy")
    by_id = {ref.item_id: ref for ref in ctx.items}  # type: ignore[attr-defined]
    found: dict[int, np.ndarray] = {}
    step = 512
    refs = [by_id[int(i)] for i in ids if int(i) in by_id]
    for start in range(0, len(refs), step):
        ctx.check_canceled()  # type: ignore[attr-defined]
        found.update(intensity_of(ctx, refs[start : start + step]))
    keep = np.asarray([int(i) in found for i in ids], bool)
    vectors, ids = vectors[keep], ids[keep]
    descriptors = np.stack([found[int(i)] for i in ids]) if len(ids) else np.zeros((0, len(NAMES)))
    block, fitted = standardise(descriptors, vectors, weight)
    np.save(out / "vectors.npy", np.concatenate([vectors, block], axis=1).astype(np.float32))
    np.save(out / "item_ids.npy", ids.astype(np.int64))
    (out / INTENSITY_JSON).write_text(json.dumps(fitted))
    ctx.log(  # type: ignore[attr-defined]
        f"appended {len(NAMES)} intensity descriptors (weight {weight:g} of the vectors' variance)"
    )
