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
from backend.explorer.views import projection_view
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


def _maybe(value: int) -> int | None:
    return None if value < 0 else int(value)


@strawberry.type(
    description="A page of a projection of a model's feature vectors of a dataset, as columns: row i of "
    "each list belongs to itemIds[i] (the shape REST gives; docs/decisions/0016)."
)
class Projection:
    projection_job_id: int
    cluster_job_id: int | None
    dataset_id: int
    method: str
    dimensions: int
    total: int = strawberry.field(description="Points in the whole projection.")
    offset: int = strawberry.field(description="The first point of this page.")
    item_ids: list[int]
    x: list[float]
    y: list[float]
    z: list[float] | None = strawberry.field(description="3-D projections only.")
    clusters: list[int] | None = strawberry.field(description="-1: noise; null: not clustered.")
    labels: list[int] = strawberry.field(
        description="The item's current label id (the lowest if several), -1 unlabeled."
    )
    predicted: list[int] | None = strawberry.field(
        description="A classifier's arg-max label id; null: no inference with class probabilities."
    )
    labels_event_id: int = strawberry.field(
        description="The newest tag event the labels include: pass it as seenEventId when labeling."
    )

    @strawberry.field(
        description="The page as one object per point.",
        deprecation_reason="Read the columns (itemIds, x, y, z, clusters, labels, predicted): one object "
        "per point is 3 times the bytes and twice the time (docs/decisions/0016).",
    )
    def points(self) -> list[ProjectedPoint]:
        rows = range(len(self.item_ids))
        return [
            ProjectedPoint(
                item_id=self.item_ids[i],
                x=self.x[i],
                y=self.y[i],
                z=self.z[i] if self.z is not None else None,
                cluster=self.clusters[i] if self.clusters is not None else None,
                label_id=_maybe(self.labels[i]),
                predicted_label_id=_maybe(self.predicted[i]) if self.predicted is not None else None,
            )
            for i in rows
        ]


@strawberry.type(description="A selection's size and the labels and clusters it holds, with counts.")
class SelectionSummary:
    count: int
    labels: JSON
    clusters: JSON


@strawberry.type
class Query:
    @strawberry.field(
        description="A page of the newest (or the named) projection of a model on a dataset, with the "
        "newest clustering's cluster ids, as columns. Page size is capped at 100,000 points."
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
        return from_view(Projection, projection_view(p, offset, limit))

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
