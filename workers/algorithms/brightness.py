"""Intensity features (``backend/algorithms/brightness.py``): the descriptors of
``workers.intensity``, z-scored with a mean and scale fitted on a seeded sample of the items.

A descriptor constant over the fitted items (no saturated pixel anywhere, say) gets scale 0 and
stays 0 in every vector, as where the descriptors are appended to another extractor's vectors.
A model's vectors hold the descriptors it was fitted on (``names`` in its scale file), so a model
fitted before descriptors were added infers the vectors it always did.
"""

from __future__ import annotations

import json

import numpy as np

from workers.context import JobContext
from workers.intensity import MIN_SCALE, NAMES, intensity_of

MODEL_FILE = "intensity_scale.json"


def _described(ctx: JobContext, refs: list, step: int) -> tuple[np.ndarray, np.ndarray]:
    """(item ids, descriptors) of the refs that can be read, ``step`` at a time."""
    found: dict[int, np.ndarray] = {}
    for start in range(0, len(refs), step):
        ctx.check_canceled()
        found.update(intensity_of(ctx, refs[start : start + step]))
        ctx.progress(min(start + step, len(refs)), len(refs))
    ids = np.asarray([ref.item_id for ref in refs if ref.item_id in found], np.int64)
    rows = [found[int(i)] for i in ids]
    return ids, (np.stack(rows) if rows else np.zeros((0, len(NAMES)))).astype(np.float64)


def train(ctx: JobContext) -> None:
    p = ctx.params
    refs = list(ctx.items)
    order = np.random.default_rng(p["seed"]).permutation(len(refs))[: p["fit_items"]]
    sample = [refs[i] for i in sorted(order)]
    ctx.log(f"reading {len(sample)} of {len(refs)} items to set the scale of each descriptor")
    _, described = _described(ctx, sample, 512)
    if len(described) < 2:
        raise ValueError(f"{len(described)} readable item(s) in the sample: at least two set a scale")
    mean = described.mean(axis=0)
    spread = described.std(axis=0)
    scale = np.where(spread > MIN_SCALE, spread, 0.0)
    constant = [name for name, s in zip(NAMES, scale, strict=True) if s == 0]
    (ctx.artifact_dir / MODEL_FILE).write_text(
        json.dumps({"names": list(NAMES), "mean": mean.tolist(), "scale": scale.tolist()})
    )
    (ctx.artifact_dir / "model.json").write_text(
        json.dumps({"algorithm": "intensity", "parameters": p, "vector_length": len(NAMES)})
    )
    ctx.summary.update(
        items_fitted=len(described), unreadable=len(sample) - len(described), constant=constant
    )
    if len(constant) == len(NAMES):
        ctx.log(
            "every descriptor is the same on every fitted item: these vectors cannot tell items apart",
            "warning",
        )
    ctx.log(
        f"fitted the scale of {len(NAMES)} descriptors on {len(described)} items"
        + (f" ({', '.join(constant)} constant: left at 0)" if constant else "")
    )


def fitted_columns(names: list[str]) -> list[int]:
    """The columns of ``NAMES`` a model was fitted on, in its order."""
    unknown = [name for name in names if name not in NAMES]
    if unknown:
        raise ValueError(
            f"this model was fitted on descriptors this worker does not compute ({', '.join(unknown)}): "
            "train a new intensity model"
        )
    return [NAMES.index(name) for name in names]


def infer(ctx: JobContext) -> None:
    assert ctx.model_dir is not None
    fitted = json.loads((ctx.model_dir / MODEL_FILE).read_text())
    columns = fitted_columns(list(fitted["names"]))
    mean, scale = np.asarray(fitted["mean"]), np.asarray(fitted["scale"])
    refs = list(ctx.items)
    ids, described = _described(ctx, refs, int(ctx.options.get("batch_size", 512)))
    described = described[:, columns]
    live = scale > 0
    vectors = np.where(live, (described - mean) / np.where(live, scale, 1.0), 0.0)
    ctx.write_vectors(ids, vectors.astype(np.float32))
    ctx.summary.update(items=len(ids), unreadable=len(refs) - len(ids))
    ctx.log(f"described {len(ids)} of {len(refs)} items by their absolute intensity")
