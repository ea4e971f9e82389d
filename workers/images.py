"""Reading items as model inputs: the pages' transforms, then a fixed square size, grayscale.

``prepare`` (``backend.images.transforms``) leaves each source's masked pixels out of the
statistics, as the pages do.

Shared by every algorithm so that a model sees images the way a person saw them while labeling.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import numpy as np

from backend.datasets.refs import ItemRef
from backend.errors import LabelwiseError
from backend.images.transforms import DisplayTransform, prepare
from workers.context import JobContext

READ_THREADS = 4
T = TypeVar("T")


def transform_from(params: dict) -> DisplayTransform:
    """The display transform named by the usual parameters (log_transform, percentile_low/high)."""
    return DisplayTransform(
        log=bool(params.get("log_transform", False)),
        p_low=float(params.get("percentile_low", 1.0)),
        p_high=float(params.get("percentile_high", 99.0)),
    )


def _stride_for(ref: ItemRef, size: int) -> int:
    """Read big images strided (cheap downsampling at the source), keeping 4x the target size."""
    if not ref.height or not ref.width:
        return 1
    return max(1, min(ref.height, ref.width) // (size * 4))


def map_readable(
    ctx: JobContext, refs: Sequence[ItemRef], work: Callable[[ItemRef], T]
) -> list[tuple[int, T]]:
    """(item id, ``work(ref)``) for the refs whose work succeeds, in order, on a few threads.

    An item that cannot be read (or whose pixels the work refuses: ValueError) is logged and left
    out, never fatal: one bad file in a hundred thousand must not fail a training run.
    """

    def one(ref: ItemRef) -> T | None:
        try:
            return work(ref)
        except (LabelwiseError, OSError, ValueError) as exc:
            ctx.log(f"item {ref.item_id} skipped: {getattr(exc, 'message', exc)}", level="warning")
            return None

    if len(refs) > 1:
        with ThreadPoolExecutor(min(READ_THREADS, len(refs))) as pool:
            results = list(pool.map(one, refs))
    else:
        results = [one(ref) for ref in refs]
    return [(ref.item_id, r) for ref, r in zip(refs, results, strict=True) if r is not None]


def load_batch(
    ctx: JobContext, refs: Sequence[ItemRef], *, size: int, transform: DisplayTransform
) -> tuple[np.ndarray, np.ndarray]:
    """(images N x size x size float32, item ids int64) of the refs that could be read."""

    def one(ref: ItemRef) -> np.ndarray:
        pixels, mask = ctx.reader.read_masked(ref, stride=_stride_for(ref, size))
        return prepare(pixels, size, transform, mask)

    kept = map_readable(ctx, refs, one)
    if not kept:
        return np.zeros((0, size, size), np.float32), np.zeros(0, np.int64)
    ids = np.asarray([i for i, _ in kept], dtype=np.int64)
    return np.stack([img for _, img in kept]).astype(np.float32, copy=False), ids
