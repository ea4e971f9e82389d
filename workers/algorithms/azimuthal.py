"""Azimuthal-integration features (``workers/scattering.py``) as a feature extractor job.

Training describes a seeded sample of the dataset's frames and keeps each feature's mean and
scale (``azimuthal.npz``): features in noise units spread over very different ranges, and
similarity search weighs every coordinate alike. Inference describes every frame, writes the
standardised descriptors as vectors and the beam centre found in each frame
(``beam_centres.npy``: row, column in pixels of the full frame, rows in ``item_ids`` order).
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from backend.algorithms.azimuthal import AUTO_CENTRE, DESCRIPTOR_PARAMETERS
from backend.datasets.refs import ItemRef
from backend.errors import LabelwiseError
from backend.storage import npy
from workers.context import JobContext
from workers.descriptor_cache import DescriptorCache, cache_key
from workers.images import map_readable
from workers.intensity import append_intensity
from workers.scattering import DESCRIPTOR_VERSION, Geometry, descriptor

MODEL_FILE = "azimuthal.npz"
MIN_SCALE = 1e-3  # a feature constant over the sample is kept, not blown up


def geometry_of(params: dict) -> Geometry:
    return Geometry(radial_bins=params["radial_bins"], angular_bins=params["angular_bins"])


def polar_in_q(
    integrator: Any, image: np.ndarray, valid: np.ndarray, geometry: Geometry
) -> tuple[np.ndarray, np.ndarray, float, tuple[float, float]]:
    """The polar cells in q of a source with a PONI geometry (pyFAI)."""
    from backend.images.geometry import polar_cells_q

    return polar_cells_q(image, valid, integrator, geometry.radial_bins, geometry.angular_bins)


def stride_for(ref: ItemRef, max_side: int) -> int:
    """Read big frames strided so that the shorter side is at most ``max_side``."""
    if not ref.height or not ref.width:
        return 1
    return max(1, math.ceil(min(ref.height, ref.width) / max_side))


def describe(
    ctx: JobContext, refs: Sequence[ItemRef], params: dict, cache: DescriptorCache | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """(descriptors, item ids, beam centres in full-frame pixels) of the refs that could be read,
    and how many of them came from the cache.

    Frames described before with the same parameters come from ``cache``; the others are read and
    described, and go into it. An unreadable or unusable frame is logged and left out: one bad file
    must not fail the job.
    """
    geometry = geometry_of(params)
    fixed = params["centre_row"] != AUTO_CENTRE

    def one(ref: ItemRef) -> tuple[np.ndarray, tuple[float, float]]:
        stride = stride_for(ref, params["max_side"])
        image, mask = ctx.reader.read_masked(ref, stride=stride)
        centre = (params["centre_row"] / stride, params["centre_column"] / stride) if fixed else None
        integrator = ref.source.detector.integrator((ref.height, ref.width), image.shape[:2])
        if centre is not None and integrator is None and not centre_reaches(*centre, *image.shape[:2]):
            raise ValueError(off_frame(params, ref.height or image.shape[0], ref.width or image.shape[1]))
        polar = partial(polar_in_q, integrator) if integrator is not None else None
        vector, found = descriptor(image, geometry, centre, mask=mask, polar=polar)
        return vector, (found[0] * stride, found[1] * stride)

    keys = _cache_keys(ctx, refs, params) if cache else {}
    cached = {}
    if cache and keys:
        try:
            cached = cache.get_many(list(keys.values()))
        except sqlite3.Error as exc:  # a damaged cache file: describe the frames again
            ctx.log(f"descriptor cache not read: {exc}", level="warning")
    results = {ref.item_id: cached[keys[ref.item_id]] for ref in refs if keys.get(ref.item_id) in cached}
    fresh = map_readable(ctx, [ref for ref in refs if ref.item_id not in results], one)
    if cache and fresh:
        try:
            cache.put_many([(keys[i], v, c) for i, (v, c) in fresh if i in keys])
        except sqlite3.Error as exc:  # a full disk, say: this job still has what it computed
            ctx.log(f"descriptor cache not written: {exc}", level="warning")
    results.update(fresh)
    kept = [(ref.item_id, results[ref.item_id]) for ref in refs if ref.item_id in results]
    if not kept:
        return np.zeros((0, geometry.length), np.float32), np.zeros(0, np.int64), np.zeros((0, 2)), 0
    ids = np.asarray([i for i, _ in kept], np.int64)
    vectors = np.stack([r[0] for _, r in kept]).astype(np.float32)
    centres = np.asarray([r[1] for _, r in kept], np.float64)
    return vectors, ids, centres, len(results) - len(fresh)


def _cache_keys(ctx: JobContext, refs: Sequence[ItemRef], params: dict) -> dict[int, str]:
    """Each ref's cache key: what its descriptor depends on. A ref whose version cannot be read
    (a missing file) gets none: it is read, and its error logged, like any other."""
    depends = [DESCRIPTOR_VERSION, *(params[name] for name in DESCRIPTOR_PARAMETERS)]
    keys = {}
    for ref in refs:
        try:
            version = ctx.reader.version(ref)
        except (LabelwiseError, OSError):
            continue
        item = [ref.source.kind, ref.source.uri, ref.uri, ref.frame, version]
        setup = ref.source.detector.version()  # a source without mask or geometry keeps its old keys
        if setup:
            item.append(setup)
        keys[ref.item_id] = cache_key([*depends, *item])
    return keys


def open_cache(ctx: JobContext) -> DescriptorCache | None:
    """The shared descriptor cache, or None (logged) when it cannot be used: a read-only or full
    cache directory slows the job down, it does not fail it."""
    try:
        return DescriptorCache(Path(ctx.settings.cache_dir))
    except (sqlite3.Error, OSError) as exc:
        ctx.log(f"descriptor cache unavailable, describing every frame: {exc}", level="warning")
        return None


def describe_all(
    ctx: JobContext, refs: Sequence[ItemRef], params: dict, step: int = 64
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``describe`` over many refs, a chunk at a time: cancel checks and progress between chunks."""
    parts, hits = [], 0
    cache = open_cache(ctx)
    try:
        for start in range(0, len(refs), step):
            ctx.check_canceled()
            *part, cached = describe(ctx, refs[start : start + step], params, cache)
            parts.append(part)
            hits += cached
            ctx.progress(min(start + step, len(refs)), len(refs))
    finally:
        if cache:
            cache.close()
    ctx.log(f"{hits} of {len(refs)} frames from the descriptor cache, the others read and described")
    if not parts:
        return np.zeros((0, geometry_of(params).length), np.float32), np.zeros(0, np.int64), np.zeros((0, 2))
    return tuple(np.concatenate(column) for column in zip(*parts, strict=True))  # type: ignore[return-value]


def check_version(meta: dict) -> None:
    """A model fitted on other descriptors would read this worker's as nonsense: refuse it."""
    if meta.get("descriptor_version") != DESCRIPTOR_VERSION:
        raise ValueError(
            f"this model was fitted on descriptor version {meta.get('descriptor_version')}; the worker "
            f"computes version {DESCRIPTOR_VERSION}: train a new {meta.get('algorithm', 'azimuthal')} model"
        )


def centre_reaches(row: float, column: float, height: int, width: int) -> bool:
    """Whether a beam centre has a pixel of a height x width frame within its rings' reach (half
    the shorter side): farther out every descriptor of the frame would be 0."""
    off_rows = max(0.0, -row, row - (height - 1))
    off_columns = max(0.0, -column, column - (width - 1))
    return math.hypot(off_rows, off_columns) < 0.5 * min(height, width)


def off_frame(params: dict, height: int, width: int) -> str:
    return (
        f"the beam centre (row {params['centre_row']:g}, column {params['centre_column']:g}) lies outside "
        f"the {height}x{width} frame, beyond its rings (half the shorter side): every descriptor would "
        "be 0; give a centre on or near the frames, or -1 to find it in each frame"
    )


def train(ctx: JobContext) -> None:
    p = ctx.params
    refs = list(ctx.items)
    order = np.random.default_rng(p["seed"]).permutation(len(refs))[: p["fit_items"]]
    sample = [refs[i] for i in sorted(order)]
    # a centre no frame's rings reach (no calibration to place it instead): refused before any read
    sized = [r for r in sample if r.height and r.width and not r.source.detector.poni_path]
    centre = (p["centre_row"], p["centre_column"])
    reached = any(centre_reaches(*centre, r.height, r.width) for r in sized)
    if p["centre_row"] != AUTO_CENTRE and sized and len(sized) == len(sample) and not reached:
        raise ValueError(off_frame(p, sized[0].height, sized[0].width))
    ctx.log(f"describing {len(sample)} of {len(refs)} items to set the scale of each feature")
    described, _, _ = describe_all(ctx, sample, p)
    if len(described) < 2:
        raise ValueError(f"{len(described)} readable frame(s) in the sample: at least two set a scale")
    mean = described.mean(axis=0)
    scale = np.maximum(described.std(axis=0), MIN_SCALE)
    np.savez(ctx.artifact_dir / MODEL_FILE, mean=mean.astype(np.float32), scale=scale.astype(np.float32))
    (ctx.artifact_dir / "model.json").write_text(
        json.dumps(
            {
                "algorithm": "azimuthal",
                "parameters": p,
                "descriptor_version": DESCRIPTOR_VERSION,
                "vector_length": len(mean),
            }
        )
    )
    ctx.summary.update(
        items_fitted=len(described),
        unreadable=len(sample) - len(described),
        vector_length=len(mean),
        descriptor_version=DESCRIPTOR_VERSION,
    )
    ctx.log(f"fitted the scale of {len(mean)} features on {len(described)} frames")


def infer(ctx: JobContext) -> None:
    assert ctx.model_dir is not None
    p = ctx.params
    check_version(json.loads((ctx.model_dir / "model.json").read_text()))
    model = npy.load_archive(ctx.model_dir / MODEL_FILE)
    mean, scale = model["mean"], model["scale"]
    refs = list(ctx.items)
    vectors, item_ids, centres = describe_all(ctx, refs, p, step=ctx.options.get("batch_size", 64))
    ctx.write_vectors(item_ids, (vectors - mean) / scale)
    np.save(ctx.artifact_dir / "beam_centres.npy", centres)
    append_intensity(ctx)  # rows it drops, if any, are logged: the centres keep the described rows
    ctx.summary.update(items=len(item_ids), unreadable=len(refs) - len(item_ids))
    ctx.log(f"described {len(item_ids)} of {len(refs)} frames")
