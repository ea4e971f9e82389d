"""Absolute-intensity descriptors, appended to any extractor's vectors where brightness carries the class.

Every extractor sees images through the display transform (min-max, percentiles), which maps a
dim and a bright cell to the same [0, 1] picture; the classes of some data differ by exactly what
that throws away (cell-cycle phases by DNA content, exposures by dose). These few numbers, read
from the raw pixels, put it back:

- log(1 + total counts), the total estimated over the full frame when it was read strided;
- log(1 + intensity) at the 10th, 50th, 90th and 99th percentiles;
- the share of saturated pixels (at the integer type's largest value) and of zero pixels;
- the bright object above the background (``signal_descriptors``): the background and its noise
  read from the frame's border (the median and MAD of a ring 1/16 of the side wide: where a
  centred object, a cell or a beam, is not), the log of the total counts above it (integrated
  intensity: DNA content without the camera's offset, a spot without the dark level), the share of
  pixels above 3 noise units and above half the peak (its size), and the gradient and Laplacian
  energy per count (its edges and texture: condensing chromatin, sharp or diffuse features).
  On the cell cycle these take a logistic head from 0.83 to 0.85 of the cells right from 10% of
  the labels (0.84 to 0.87 from 30%); on the digits and the demo the descriptors alone are weak
  features either way (decision 0024).

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
from scipy import ndimage

from backend.datasets.refs import ItemRef
from backend.storage import npy
from workers.images import map_readable

SIGNAL_NAMES = ("log_signal", "log_background", "signal_area", "bright_area", "edge", "texture")
NAMES = ("log_total", "log_p10", "log_p50", "log_p90", "log_p99", "saturated", "zero", *SIGNAL_NAMES)
PERCENTILES = (10.0, 50.0, 90.0, 99.0)
MAX_SIDE = 256  # frames are read strided to about this shorter side: percentiles need no more
MIN_SCALE = 1e-6
BORDER_SHARE = 16  # the background ring is 1/16 of the shorter side wide (one pixel at least)
SIGNAL_NOISE = 3.0  # a pixel is signal this many noise units above the background
SMOOTH_SIGMA = 0.7  # pixels of Gaussian smoothing before the Laplacian: shot noise is not texture
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
    valid = np.isfinite(pixels) if mask is None else np.isfinite(pixels) & ~mask
    out[7:] = signal_descriptors(pixels.astype(np.float64, copy=False), valid, stride)
    return out


def _border(shape: tuple[int, ...]) -> np.ndarray:
    ring = np.ones(shape, bool)
    width = max(1, min(shape) // BORDER_SHARE)
    ring[width:-width, width:-width] = False
    return ring


def signal_descriptors(pixels: np.ndarray, valid: np.ndarray, stride: int = 1) -> np.ndarray:
    """``SIGNAL_NAMES`` of one 2-D image whose ``valid`` pixels (finite, unmasked) count.

    The background is the median of the valid border pixels (of every valid pixel where the border
    has none), its noise 1.4826 x their median absolute deviation; a flat frame gives zeros. Edge
    and texture are per count of signal, so exposure does not move them.
    """
    out = np.zeros(len(SIGNAL_NAMES), np.float64)
    border = pixels[_border(pixels.shape) & valid]
    reference = border if len(border) else pixels[valid]
    if not len(reference):
        return out
    background = float(np.median(reference))
    noise = 1.4826 * float(np.median(np.abs(reference - background)))
    filled = np.where(valid, pixels, background)
    signal = np.clip(filled - background, 0.0, None)
    total, peak = float(signal.sum()), float(signal.max())
    out[0] = np.log1p(total * stride * stride)
    out[1] = np.log1p(max(background, 0.0))
    if total <= 0:
        return out
    count = max(1, int(valid.sum()))
    lit = (signal > SIGNAL_NOISE * noise) & valid
    out[2] = float(lit.sum()) / count
    out[3] = float(((signal > 0.5 * peak) & valid).sum()) / count
    if min(pixels.shape) >= 3:
        gy, gx = np.gradient(filled)
        out[4] = float((np.hypot(gy, gx) * lit).sum()) / total
        curvature = np.abs(ndimage.laplace(ndimage.gaussian_filter(filled, SMOOTH_SIGMA)))
        out[5] = float((curvature * signal).sum()) / total / peak
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
    vectors = npy.load(out / "vectors.npy")
    ids = npy.load(out / "item_ids.npy")
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
