"""The read model of a projection, as every door shows it: columns (docs/decisions/0016).

One list per quantity, row ``i`` of each belonging to ``item_ids[i]``: a map of 100,000 points
is 3 MB of JSON, where one object per point was 11 MB and twice the time through GraphQL. The
explorer page, numpy and data frames take columns as they come.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from backend.explorer.service import Points

DECIMALS = 5  # coordinates: a map drawn on a screen needs no more, and the JSON is a third smaller


@dataclass(frozen=True, kw_only=True)
class ProjectionView:
    """A page of a projection's points (``offset`` into ``total``), as parallel columns."""

    projection_job_id: int
    cluster_job_id: int | None
    dataset_id: int
    method: str
    dimensions: int
    total: int  # points in the whole projection
    offset: int  # the first point of this page
    item_ids: list[int]
    x: list[float]
    y: list[float]
    z: list[float] | None = None  # 3-D projections only
    clusters: list[int] | None = None  # -1: noise; None: not clustered
    labels: list[int]  # the item's current label id (the lowest if several), -1 unlabeled
    predicted: list[int] | None = (
        None  # a classifier's arg-max label id; None: no inference with probabilities
    )
    labels_event_id: int = 0  # the newest tag event the labels include: send it back when labeling


def projection_view(points: Points, offset: int = 0, limit: int | None = None) -> ProjectionView:
    """Points ``offset`` to ``offset + limit`` (all from ``offset`` when ``limit`` is None)."""
    rows = slice(offset, None if limit is None else offset + limit)
    coords = np.round(points.coords[rows].astype(np.float64), DECIMALS)
    return ProjectionView(
        projection_job_id=points.projection_job_id,
        cluster_job_id=points.cluster_job_id,
        dataset_id=points.dataset_id,
        method=str(points.meta.get("method", "")),
        dimensions=int(points.coords.shape[1]),
        total=len(points.item_ids),
        offset=offset,
        item_ids=points.item_ids[rows].tolist(),
        x=coords[:, 0].tolist(),
        y=coords[:, 1].tolist(),
        z=coords[:, 2].tolist() if coords.shape[1] > 2 else None,
        clusters=points.clusters[rows].tolist() if points.clusters is not None else None,
        labels=points.labels[rows].tolist(),
        predicted=points.predicted[rows].tolist() if points.predicted is not None else None,
        labels_event_id=points.labels_event_id,
    )
