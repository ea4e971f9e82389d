"""The Latent Space Explorer over REST: projection points, cluster ids, selection statistics and
labeling a selection. Projection and clustering jobs are submitted like any job (POST /jobs with
kind "project" or "cluster" and a model id)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, JSONBody, QueryParameter

from backend.api.identity import tagger_for
from backend.api.rest.common import API_PREFIX, AppSettings, Session, error_responses, from_view, rest_struct
from backend.api.rest.schemas import EventOut
from backend.datasets.display import display_preset, with_overrides
from backend.errors import Invalid
from backend.explorer import service
from backend.explorer.service import latest_output
from backend.explorer.views import ProjectionView, projection_view
from backend.images.colormap import heatmap_png
from backend.jobs import artifacts
from backend.paging import check_page
from backend.storage import npy

# a page of a projection's points as columns, row i of each list belonging to item_ids[i] (the
# shape GraphQL gives too; docs/decisions/0016)
if TYPE_CHECKING:  # handlers are checked against the read model itself
    ProjectionOut = ProjectionView
else:
    ProjectionOut = rest_struct(ProjectionView, "ProjectionOut")


class ClustersOut(msgspec.Struct, kw_only=True):
    cluster_job_id: int
    dataset_id: int
    method: str
    item_ids: list[int]
    clusters: list[int]


class SelectionIn(msgspec.Struct, kw_only=True):
    item_ids: list[int]
    projection_job_id: int | None = None


class HeatmapIn(msgspec.Struct, kw_only=True):
    item_ids: list[int]
    statistic: str = "mean"  # mean | std
    size: int = 128
    # The display of each item before averaging; what is not given comes from the dataset's preset.
    log: bool | None = None
    scale: str | None = None
    p_low: float | None = None
    p_high: float | None = None


class SelectionOut(msgspec.Struct, kw_only=True):  # filled from service.SelectionSummary by name
    count: int
    labels: dict[str, int]
    clusters: dict[str, int]


class LabelSelectionIn(msgspec.Struct, kw_only=True):
    projection_job_id: int
    item_ids: list[int]
    label_id: int | None = None
    op: str = "set"  # set | add | remove | clear
    selection: dict[str, Any] | None = None  # how it was drawn: box, lasso; null or absent: not said
    overwrite: bool = False  # replace labels that items hold; by default only unlabeled items are labeled
    seen_event_id: int | None = None  # the projection's labels_event_id: items changed since are left
    # taken out by hand: "not this class"; null or absent: none (as GraphQL reads it)
    rejected_item_ids: list[int] | None = None


DatasetQuery = Annotated[
    int | None, QueryParameter(description="dataset the model ran on (default: the one it trained on)")
]


class ExplorerController(Controller):
    path = API_PREFIX
    tags = ["explorer"]

    @get(
        "/models/{model_id:int}/projection",
        summary="A projection's coordinates per item, with cluster ids, labels and predictions, as columns",
        responses=error_responses(400, 404),
    )
    async def projection(
        self,
        session: Session,
        settings: AppSettings,
        model_id: FromPath[int],
        dataset_id: DatasetQuery = None,
        projection_job_id: Annotated[int | None, QueryParameter(description="default: the newest")] = None,
        cluster_job_id: Annotated[int | None, QueryParameter(description="default: the newest")] = None,
        offset: Annotated[int, QueryParameter(description="the first point of the page")] = 0,
        limit: Annotated[int | None, QueryParameter(description="points in the page (default: all)")] = None,
    ) -> ProjectionOut:
        check_page(offset, 1 if limit is None else limit, service.MAX_SELECTION)  # a page is a whole map
        points = await service.load_points(
            session,
            settings,
            model_id,
            dataset_id,
            projection_job_id=projection_job_id,
            cluster_job_id=cluster_job_id,
        )
        return from_view(ProjectionOut, projection_view(points, offset, limit))

    @get(
        "/models/{model_id:int}/clusters",
        summary="Cluster id per item (-1: noise) of a clustering job",
        responses=error_responses(400, 404),
    )
    async def clusters(
        self,
        session: Session,
        settings: AppSettings,
        model_id: FromPath[int],
        dataset_id: DatasetQuery = None,
        cluster_job_id: Annotated[int | None, QueryParameter(description="default: the newest")] = None,
    ) -> ClustersOut:
        job = await latest_output(session, model_id, dataset_id, "cluster", cluster_job_id)
        folder = settings.artifact_dir / job.outputs["dir"]
        return ClustersOut(
            cluster_job_id=job.id,  # type: ignore[arg-type]
            dataset_id=job.dataset_id,
            method=str(job.parameters.get("method", "")),
            item_ids=npy.load(folder / artifacts.ITEM_IDS).tolist(),
            clusters=npy.load(folder / artifacts.CLUSTERS).tolist(),
        )

    @post(
        "/models/{model_id:int}/projection/selection",
        summary="Statistics of selected points: count, labels and clusters represented",
        status_code=200,
        responses=error_responses(400, 404),
    )
    async def selection(
        self, session: Session, settings: AppSettings, model_id: FromPath[int], data: JSONBody[SelectionIn]
    ) -> SelectionOut:
        points = await service.load_points(
            session, settings, model_id, projection_job_id=data.projection_job_id
        )
        summary = await service.selection_summary(session, points, data.item_ids)
        return from_view(SelectionOut, summary)

    @post(
        "/datasets/{dataset_id:int}/explorer/label",
        summary="Label the points selected in a projection as one event of kind 'explorer'",
        description="Labeled items are left alone unless overwrite, and so are items changed after "
        "seen_event_id; the event's parameters count both (skipped_labeled, skipped_changed). 409 when "
        "nothing is left to label.",
        status_code=201,
        responses=error_responses(400, 404, 409),
    )
    async def label(
        self, request: Request, session: Session, settings: AppSettings, dataset_id: FromPath[int],
        data: JSONBody[LabelSelectionIn],
    ) -> EventOut:  # fmt: skip
        outcome = await service.label_selection(
            session,
            dataset_id,
            tagger=tagger_for(request, settings),
            item_ids=data.item_ids,
            label_id=data.label_id,
            projection_job_id=data.projection_job_id,
            selection=data.selection,
            op=data.op,
            overwrite=data.overwrite,
            seen_event_id=data.seen_event_id,
            rejected_item_ids=data.rejected_item_ids,
        )
        return EventOut.of(outcome.event)

    @post(
        "/datasets/{dataset_id:int}/explorer/heatmap",
        summary="Heat map (PNG) of the mean or standard deviation image of selected items",
        status_code=200,
        media_type="image/png",
        responses=error_responses(400, 404),
    )
    async def heatmap(
        self, session: Session, settings: AppSettings, dataset_id: FromPath[int], data: JSONBody[HeatmapIn]
    ) -> Response[bytes]:
        """Each item is transformed as on the pages and resized to ``size``; large selections use an
        even sample (the ``X-Labelwise-Items-Used`` header says how many items went in)."""
        if data.statistic not in ("mean", "std"):
            raise Invalid(f"statistic must be mean or std, got {data.statistic!r}")
        if not 16 <= data.size <= 512:
            raise Invalid(f"size must be between 16 and 512, got {data.size}")
        transform = with_overrides(
            await display_preset(session, dataset_id),
            log=data.log,
            scale=data.scale,
            p_low=data.p_low,
            p_high=data.p_high,
        )
        mean, std, used = await service.selection_images(
            session, settings, dataset_id, data.item_ids, size=data.size, transform=transform
        )
        png = heatmap_png(mean if data.statistic == "mean" else std)
        return Response(png, media_type="image/png", headers={"X-Labelwise-Items-Used": str(used)})


route_handlers = [ExplorerController]
