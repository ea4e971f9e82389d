"""Batch guardrails: flag the items of a batch that do not look like the rest of it.

Two rules in the model's feature space (cosine), numpy only (this runs in the web process). Each
asks the labeled items too: on their own, the batch's spread and plain neighbour votes flagged
right items about as often as wrong ones (``python -m bench guardrails``):

- *neighbours*: the item's nearest labeled item (itself excluded) carries another class than the
  one the batch would give it, and so do most of its ``n`` nearest labeled items, each class's
  votes weighed by 1 / its labeled items (a class with few labels yet is not outvoted because
  others have more);
- *far*: its cosine distance to the batch centroid (mean of the unit vectors) exceeds median +
  ``k`` x MAD of the batch's distances (MAD scaled to a standard deviation; batches under
  ``MIN_BATCH`` items are not judged; an arg-max batch is judged class by class), and its nearest
  labeled item carries another class or every labeled item of its class lies that far too (the
  natural spread of a class has labeled items of the class near it).

Where the batch's class is not chosen yet, or has no labeled item to compare with, the distance
alone judges. ``python -m bench guardrails`` measures both rules on the demo
and real sets against the rules they replaced.

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
        "batch and its nearest labeled item carries another class (or every labeled item of its class "
        f"lies that far too), or when its nearest labeled item and most of its {neighbours} nearest "
        "labeled items carry another class, each class's votes weighed by 1 / its labeled items "
        "(a class without labeled items yet: by the distance alone)"
    )


def _far(items: list[int], unit: np.ndarray, mads: float) -> tuple[dict[int, str], float | None]:
    """The distance rule on one class's part of the batch (too small a part is not judged):
    item id -> reason for the items past the limit, and the limit."""
    if len(items) < MIN_BATCH:
        return {}, None
    centroid = unit.mean(axis=0)
    centroid /= max(float(np.linalg.norm(centroid)), 1e-12)
    distance = 1.0 - unit @ centroid
    median = float(np.median(distance))
    mad = 1.4826 * float(np.median(np.abs(distance - median)))
    limit = median + mads * max(mad, 1e-6)
    far = {
        item: f"far from the batch (distance {d:.3f} > {limit:.3f})"
        for item, d in zip(items, distance, strict=True)
        if d > limit
    }
    return far, round(limit, 4)


@dataclass
class _Labeled:
    """The labeled items (unit vectors), their labels and each class's count of labeled items."""

    ids: np.ndarray
    unit: np.ndarray
    labels: list[frozenset[int]]
    counts: dict[int, int]

    def has(self, label: int) -> np.ndarray:
        """Which labeled items carry ``label``."""
        return np.fromiter((label in labels for labels in self.labels), bool, len(self.labels))


def _labeled(vectors: np.ndarray, row_of: dict[int, int], current: dict[int, frozenset[int]]) -> _Labeled:
    pairs = [(i, row_of[i]) for i in current if i in row_of and current[i]]
    counts: dict[int, int] = {}
    for i, _ in pairs:
        for label in current[i]:
            counts[label] = counts.get(label, 0) + 1
    unit = _unit(vectors[[r for _, r in pairs]]) if pairs else np.zeros((0, vectors.shape[1]), np.float32)
    return _Labeled(np.asarray([i for i, _ in pairs], np.int64), unit, [current[i] for i, _ in pairs], counts)


def _neighbour_reason(
    label: int, similarity: np.ndarray, labeled: _Labeled, neighbours: int
) -> tuple[bool, str | None]:
    """(its nearest labeled item carries another class, the neighbours rule's reason or None)."""
    take = min(neighbours, int(np.isfinite(similarity).sum()))
    if take == 0:
        return False, None
    nearest = np.argpartition(-similarity, take - 1)[:take]
    nearest = nearest[np.argsort(-similarity[nearest], kind="stable")]
    first_other = label not in labeled.labels[int(nearest[0])]
    weight: dict[int, float] = {}
    for n in nearest:
        for other in labeled.labels[int(n)]:
            weight[other] = weight.get(other, 0.0) + 1.0 / labeled.counts[other]
    total = sum(weight.values())
    mine = weight.get(label, 0.0)
    if not first_other or mine * 2 >= total:
        return first_other, None
    agree = sum(label in labeled.labels[int(n)] for n in nearest)
    return True, (
        f"{take - agree} of its {take} nearest labeled items carry another class, the nearest too "
        f"(weighed by each class's labeled items: {1 - mine / total:.0%} another class)"
    )


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
    far: dict[int, str] = {}
    limits: dict[int | None, float] = {}
    for group, members in groups.items():  # an arg-max batch is one batch per class
        found, limit = _far([rows[k][0] for k in members], unit[members], mads)
        far |= found
        if limit is not None:
            limits[group] = result.distance_limit = limit
    labeled = _labeled(vectors, row_of, current)
    holders: dict[int, np.ndarray] = {}  # class -> which labeled items carry it
    for start in range(0, len(rows), CHUNK):
        part = rows[start : start + CHUNK]
        sims = unit[start : start + len(part)] @ labeled.unit.T
        for k, (item, label, _) in enumerate(part):
            if label is None or not labeled.counts.get(label):  # nothing to compare with
                if item in far:
                    result.flags.setdefault(item, []).append(far[item])
                continue
            s = sims[k].copy()
            s[labeled.ids == item] = -np.inf  # an item is not its own neighbour
            first_other, reason = _neighbour_reason(label, s, labeled, neighbours)
            if label not in holders:
                holders[label] = labeled.has(label)
            reasons = result.flags.setdefault(item, [])
            if item in far and first_other:
                reasons.append(f"{far[item]}; its nearest labeled item: another class")
            elif item in far and 1.0 - float(s[holders[label]].max(initial=-1.0)) > limits[label]:
                reasons.append(f"{far[item]}; as far from its class's labeled items")
            if reason:
                reasons.append(reason)
            if not reasons:
                del result.flags[item]
    return result
