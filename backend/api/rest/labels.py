"""A dataset's labels (current, as of a time, or by one tagger) and its labeling progress."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get
from litestar.params import FromPath, QueryParameter

from backend.api.rest.common import (
    API_PREFIX,
    AppSettings,
    Session,
    check_page,
    error_responses,
    query_time,
    time_parameter,
)
from backend.api.rest.schemas import ItemLabels, ProgressOut
from backend.labels import history
from backend.labels.progress import dataset_progress


class LabelController(Controller):
    path = f"{API_PREFIX}/datasets"
    tags = ["labels"]

    @get(
        "/{dataset_id:int}/labels",
        summary="Labels per labeled item: current, or rebuilt from the events as of a time or by a tagger",
        description="By item id. With `limit` (capped by the server's max_page_size) one page of the "
        "labeled items from `offset`: a page shorter than `limit` is the last. Without `limit` every "
        "labeled item, as this list always answered (GraphQL `labels` pages alike).",
        responses=error_responses(400, 404),
    )
    async def labels(
        self,
        session: Session,
        settings: AppSettings,
        dataset_id: FromPath[int],
        as_of: Annotated[str | None, time_parameter("labels as they stood then")] = None,
        tagger: Annotated[
            str | None, QueryParameter(description="labels one tagger's events alone add up to")
        ] = None,
        offset: Annotated[int, QueryParameter(ge=0, description="labeled items to skip, by item id")] = 0,
        limit: Annotated[
            int | None,
            QueryParameter(
                ge=1,
                description="labeled items in the page, capped by the server's max_page_size (default: all)",
            ),
        ] = None,
    ) -> list[ItemLabels]:
        if limit is not None:
            check_page(offset, limit, settings)
        when = query_time(as_of, "as_of")
        page = await history.labels_page(
            session, dataset_id, as_of=when, tagger=tagger, offset=offset, limit=limit
        )
        return [ItemLabels(item_id=i, label_ids=label_ids) for i, label_ids in page]

    @get(
        "/{dataset_id:int}/progress",
        summary="Labeled and unlabeled counts, and items per class",
        responses=error_responses(404),
    )
    async def progress(self, session: Session, dataset_id: FromPath[int]) -> ProgressOut:
        return ProgressOut.of(await dataset_progress(session, dataset_id))


route_handlers = [LabelController]
