"""Batch guardrails: flag the items of a batch that do not look like the rest of it.

Two rules, both in the model's feature space (cosine), numpy only (this runs in the web process):

- *far*: the item's cosine distance to the batch centroid (mean of the unit vectors) exceeds
  median + ``k`` x MAD of the batch's distances (MAD scaled to a standard deviation; batches
  under ``MIN_BATCH`` items are not judged; an arg-max batch is judged class by class);
- *neighbours*: most of the item's ``n`` nearest labeled items (itself excluded) carry a class
  other than the one the batch would give it.

A flag is a hint to look, not a verdict: the pages badge flagged items and one key deselects
them; the rule is shown beside the gallery.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

MIN_BATCH = 5
CHUNK = 256


@dataclass
class BatchFlags:
    """Flag reasons per item id (only flagged items appear) and the rule in words."""

    flags: dict[int, list[str]] = field(default_factory=dict)
    rule: str = ""
    distance_limit: float | None = None

    def flagged(self) -> set[int]:
        return set(self.flags)


def _unit(vectors: np.ndarray) -> np.ndarray:
    data = np.asarray(vectors, np.float32)
    norms = np.linalg.norm(data, axis=1, keepdims=True)
    return data / np.maximum(norms, 1e-12)


def rule_text(mads: float, neighbours: int) -> str:
    return (
        f"flagged when its cosine distance to the batch centroid exceeds median + {mads:g} x MAD of the "
        f"batch, or when most of its {neighbours} nearest labeled items carry another class"
    )


def _flag_far(result: BatchFlags, items: list[int], unit: np.ndarray, mads: float) -> None:
    """The distance rule on one class's part of the batch (too small a part is not judged)."""
    if len(items) < MIN_BATCH:
        return
    centroid = unit.mean(axis=0)
    centroid /= max(float(np.linalg.norm(centroid)), 1e-12)
    distance = 1.0 - unit @ centroid
    median = float(np.median(distance))
    mad = 1.4826 * float(np.median(np.abs(distance - median)))
    limit = median + mads * max(mad, 1e-6)
    result.distance_limit = round(limit, 4)
    for item, d in zip(items, distance, strict=True):
        if d > limit:
            result.flags.setdefault(item, []).append(f"far from the batch (distance {d:.3f} > {limit:.3f})")


def flag_batch(
    batch_ids: list[int],
    batch_labels: list[int | None],
    vector_ids: np.ndarray,
    vectors: np.ndarray,
    current: dict[int, frozenset[int]],
    *,
    mads: float = 3.0,
    neighbours: int = 5,
) -> BatchFlags:
    """Flags for the batch items (``batch_labels[i]``: the class item ``batch_ids[i]`` would get,
    None when not chosen yet).

    Items without a vector are not judged. ``current``: item id -> its current labels."""
    result = BatchFlags(rule=rule_text(mads, neighbours))
    row_of = {int(i): r for r, i in enumerate(np.asarray(vector_ids, np.int64))}
    rows = [(i, lab, row_of[i]) for i, lab in zip(batch_ids, batch_labels, strict=True) if i in row_of]
    if not rows:
        return result
    unit = _unit(vectors[[r for _, _, r in rows]])
    groups: dict[int | None, list[int]] = {}
    for k, (_, label, _) in enumerate(rows):
        groups.setdefault(label, []).append(k)
    for members in groups.values():  # an arg-max batch is one batch per class
        _flag_far(result, [rows[k][0] for k in members], unit[members], mads)
    labeled = [(i, row_of[i]) for i in current if i in row_of and current[i]]
    if not labeled:
        return result
    labeled_ids = np.asarray([i for i, _ in labeled], np.int64)
    labeled_unit = _unit(vectors[[r for _, r in labeled]])
    for start in range(0, len(rows), CHUNK):
        part = rows[start : start + CHUNK]
        sims = unit[start : start + len(part)] @ labeled_unit.T
        for k, (item, label, _) in enumerate(part):
            if label is None:  # the batch's class is not chosen yet: only the distance rule
                continue
            s = sims[k].copy()
            s[labeled_ids == item] = -np.inf  # an item is not its own neighbour
            take = min(neighbours, int(np.isfinite(s).sum()))
            if take == 0:
                continue
            nearest = labeled_ids[np.argpartition(-s, take - 1)[:take]]
            agree = sum(label in current[int(n)] for n in nearest)
            if agree * 2 < take:
                result.flags.setdefault(item, []).append(
                    f"{take - agree} of its {take} nearest labeled items carry another class"
                )
    return result
