"""One item: its details and source location, its labeling history, its image as PNG."""

from __future__ import annotations

from typing import Annotated, Literal

from litestar import Controller, Request, Response, get
from litestar.params import FromPath, QueryParameter

from backend.accounts.disclosure import public_location
from backend.api.access import shows_internals
from backend.api.rest.common import API_PREFIX, AppSettings, Session, Thumbnails, error_responses, from_view
from backend.api.rest.schemas import EventOut, HistoryEntry, ItemDetail
from backend.datasets.display import display_preset, with_overrides
from backend.datasets.items import get_item, item_location, labels_of
from backend.datasets.views import ItemView
from backend.images.service import item_png
from backend.images.thumbnails import MAX_SIZE, MIN_SIZE
from backend.labels.history import item_history


class ItemController(Controller):
    path = f"{API_PREFIX}/items"
    tags = ["items"]

    @get("/{item_id:int}", summary="One item with its labels and the place it is read from")
    async def get_item(
        self, request: Request, session: Session, settings: AppSettings, item_id: FromPath[int]
    ) -> ItemDetail:
        """Viewers get the location relative to its data root and a one-line error (decision 0007)."""
        item = await get_item(session, item_id)
        location = await item_location(session, settings, item)
        labels = (await labels_of(session, [item_id])).get(item_id, [])
        view = ItemView.of(item, labels)
        if not shows_internals(request):
            location = public_location(location, settings)
            view = view.for_viewer(settings)
        return from_view(ItemDetail, view, location=location)

    @get("/{item_id:int}/history", summary="Every tag event that touched the item, oldest first")
    async def history(self, session: Session, item_id: FromPath[int]) -> list[HistoryEntry]:
        await get_item(session, item_id)
        return [
            HistoryEntry(event=EventOut.of(event), op=tag.op, label_id=tag.label_id)
            for event, tag in await item_history(session, item_id)
        ]

    @get(
        "/{item_id:int}/image",
        summary="The item rendered as PNG (thumbnails are cached on disk)",
        media_type="image/png",
        responses=error_responses(400, 404, 413, 422, 502),
    )
    async def image(
        self,
        session: Session,
        settings: AppSettings,
        thumbnails: Thumbnails,
        item_id: FromPath[int],
        log: Annotated[
            bool | None,
            QueryParameter(
                description="log(r + 1e-12) of the min-max scaled image (older spelling of scale)"
            ),
        ] = None,
        scale: Annotated[
            Literal["linear", "log", "sqrt"] | None,
            QueryParameter(description="intensity scale; default: the dataset's display preset"),
        ] = None,
        colormap: Annotated[
            Literal["gray", "viridis", "magma", "inferno", "cividis"] | None,
            QueryParameter(description="colour map; default: the dataset's display preset"),
        ] = None,
        p_low: Annotated[
            float | None,
            QueryParameter(ge=0, le=100, description="lower percentile mapped to 0 (default: the preset's)"),
        ] = None,
        p_high: Annotated[
            float | None,
            QueryParameter(ge=0, le=100, description="upper percentile mapped to 1 (default: the preset's)"),
        ] = None,
        size: Annotated[
            int | None,
            QueryParameter(
                ge=MIN_SIZE, le=MAX_SIZE, description="longer side in pixels; none: full resolution"
            ),
        ] = None,
    ) -> Response[bytes]:
        """Percentiles are taken over the unmasked, positive pixels (the source's mask applies)."""
        item = await get_item(session, item_id)
        transform = with_overrides(
            await display_preset(session, item.dataset_id),
            log=log,
            scale=scale,
            colormap=colormap,
            p_low=p_low,
            p_high=p_high,
        )
        png = await item_png(session, settings, thumbnails, item_id, transform, size)
        return Response(png, media_type="image/png")


route_handlers = [ItemController]
