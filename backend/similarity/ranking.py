"""Ranking a dataset's items by similarity to one or several query items."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import numpy as np

from backend.errors import Invalid
from backend.similarity.index import FeatureIndex

MODES = ("mean", "union")


@dataclass(frozen=True)
class Ranked:
    item_ids: list[int]
    similarities: list[float]
    total: int  # how many items the full ranking holds (after exclusions)


def rank_by_similarity(
    index: FeatureIndex,
    query_item_ids: list[int],
    *,
    mode: str = "mean",
    offset: int = 0,
    limit: int = 48,
    exclude: Collection[int] = (),
    ef: int | None = None,
) -> Ranked:
    """A page of the ranking. ``mean``: one query, the mean of the query vectors; ``union``: the
    neighbours of each query item merged, each scored by its best similarity to any query item.
    ``exclude`` (e.g. labeled items) is left out; the query items themselves are kept."""
    if not query_item_ids:
        raise Invalid("give at least one query item")
    if mode not in MODES:
        raise Invalid(f"unknown mode '{mode}' (use one of {', '.join(MODES)})")
    if offset < 0 or limit < 1:
        raise Invalid("offset must be >= 0 and limit >= 1")
    excluded = set(exclude) - set(query_item_ids)
    queries = index.vectors_of(query_item_ids)
    total = len(index.item_ids) - sum(1 for i in excluded if i in index.row_of)
    want = min(offset + limit + len(excluded), len(index.item_ids))
    if mode == "mean":
        ids, sims = index.search(queries.mean(axis=0), want, ef)
        pairs = list(zip(ids[0].tolist(), sims[0].tolist(), strict=True))
    else:
        ids, sims = index.search(queries, want, ef)
        best: dict[int, float] = {}
        for item_id, sim in zip(ids.ravel().tolist(), sims.ravel().tolist(), strict=True):
            if sim > best.get(item_id, -np.inf):
                best[item_id] = sim
        pairs = list(best.items())
    # Ties (several query items at 1.0, duplicates) go by item id. Similarities are compared at
    # 1e-5 so that hnswlib's and the exact search's float rounding give the same order.
    pairs.sort(key=lambda p: (-round(p[1], 5), p[0]))
    kept = [(i, s) for i, s in pairs if i not in excluded]
    page = kept[offset : offset + limit]
    return Ranked([i for i, _ in page], [round(float(s), 6) for _, s in page], total)
