"""The Latent Space Explorer over GraphQL: projection points and cluster ids per item, selection
statistics, and labeling a selection. Thin over ``backend.explorer.service`` (as REST is).

Projection and clustering jobs are submitted like any job (``submitJob`` with kind "project" or
"cluster" and a model id).
"""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from backend.api.graphql.context import context_of, use_session
from backend.api.graphql.labels import TagEvent
from backend.api.graphql.views import from_view
from backend.explorer import service
from backend.paging import check_page


@strawberry.type(description="One point of a projection: an item, its coordinates and what colours it.")
class ProjectedPoint:
    item_id: int
    x: float
    y: float
    z: float | None
    cluster: int | None = strawberry.field(description="-1: noise; null: not clustered.")
    label_id: int | None = strawberry.field(description="The item's current label (lowest id if several).")
    predicted_label_id: int | None = strawberry.field(description="A classifier's arg-max class.")


@strawberry.type(description="A projection of a model's feature vectors of a dataset.")
class Projection:
    projection_job_id: int
    cluster_job_id: int | None
    dataset_id: int
    method: str
    dimensions: int
    total: int
    offset: int
    points: list[ProjectedPoint]
    labels_event_id: int = strawberry.field(
        description="The newest tag event the labels include: pass it as seenEventId when labeling."
    )


@strawberry.type(description="A selection's size and the labels and clusters it holds, with counts.")
class SelectionSummary:
    count: int
    labels: JSON
    clusters: JSON


def _maybe(value: int) -> int | None:
    return None if value < 0 else int(value)


@strawberry.type
class Query:
    @strawberry.field(
        description="A page of the newest (or the named) projection of a model on a dataset, with the "
        "newest clustering's cluster ids. Page size is capped at 100,000 points."
    )
    async def projection(
        self,
        info: Info[Any, Any],
        model_id: int,
        dataset_id: int | None = None,
        projection_job_id: int | None = None,
        cluster_job_id: int | None = None,
        offset: int = 0,
        limit: int = 100_000,
    ) -> Projection:
        check_page(offset, limit, 100_000)  # points of a projection: a page is a whole map
        settings = context_of(info).settings
        async with use_session(info) as session:
            p = await service.load_points(
                session,
                settings,
                model_id,
                dataset_id,
                projection_job_id=projection_job_id,
                cluster_job_id=cluster_job_id,
            )
        rows = range(offset, min(offset + limit, len(p.item_ids)))
        three = p.coords.shape[1] > 2
        points = [
            ProjectedPoint(
                item_id=int(p.item_ids[i]),
                x=float(p.coords[i, 0]),
                y=float(p.coords[i, 1]),
                z=float(p.coords[i, 2]) if three else None,
                cluster=int(p.clusters[i]) if p.clusters is not None else None,
                label_id=_maybe(p.labels[i]),
                predicted_label_id=_maybe(p.predicted[i]) if p.predicted is not None else None,
            )
            for i in rows
        ]
        return Projection(
            projection_job_id=p.projection_job_id,
            cluster_job_id=p.cluster_job_id,
            dataset_id=p.dataset_id,
            method=str(p.meta.get("method", "")),
            dimensions=int(p.coords.shape[1]),
            total=len(p.item_ids),
            offset=offset,
            points=points,
            labels_event_id=p.labels_event_id,
        )

    @strawberry.field(description="Count, labels and clusters represented in a selection of points.")
    async def projection_selection(
        self, info: Info[Any, Any], model_id: int, item_ids: list[int], projection_job_id: int | None = None
    ) -> SelectionSummary:
        settings = context_of(info).settings
        async with use_session(info) as session:
            points = await service.load_points(
                session, settings, model_id, projection_job_id=projection_job_id
            )
            summary = await service.selection_summary(session, points, item_ids)
        return from_view(SelectionSummary, summary)


@strawberry.type
class Mutation:
    @strawberry.mutation(
        description="Label (or with label_id null, unlabel) points selected in a projection: one event "
        "of kind 'explorer' recording the projection job and how the points were selected. Labeled items "
        "are left alone unless overwrite, and so are items changed after seenEventId (the projection's "
        "labelsEventId); the event's parameters count both. rejectedItemIds: items taken out of the "
        "selection by hand, recorded as rejected for the class."
    )
    async def label_projection_selection(
        self,
        info: Info[Any, Any],
        dataset_id: int,
        projection_job_id: int,
        item_ids: list[int],
        label_id: int | None = None,
        selection: JSON | None = None,
        overwrite: bool = False,
        seen_event_id: int | None = None,
        rejected_item_ids: list[int] | None = None,
    ) -> TagEvent:
        tagger = context_of(info).tagger
        async with use_session(info) as session:
            outcome = await service.label_selection(
                session,
                dataset_id,
                tagger=tagger,
                item_ids=item_ids,
                label_id=label_id,
                projection_job_id=projection_job_id,
                selection=dict(selection or {}),
                op="set" if label_id is not None else "clear",
                overwrite=overwrite,
                seen_event_id=seen_event_id,
                rejected_item_ids=rejected_item_ids,
            )
        return TagEvent.of(outcome.event)
