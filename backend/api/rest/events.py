"""Labeling actions: tag events, their record, undo and redo. Thin over ``backend.labels``."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from litestar import Controller, Request, get, post
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from backend.api.identity import tagger_for
from backend.api.rest.common import (
    API_PREFIX,
    AppSettings,
    Session,
    check_page,
    error_responses,
    query_time,
    time_parameter,
)
from backend.api.rest.schemas import EventDetail, EventOut, EventPageOut, TagOut
from backend.labels import events, history, tagging


class TagCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """One labeling action: the same operation on every item listed.

    ``set`` replaces an item's labels with ``label_id`` (none: clears them), ``add`` and ``remove``
    change one label (``add`` acts as ``set`` on single-label datasets), ``clear`` removes all.
    ``kind`` is manual, import or review: similarity and probability events are recorded by the
    batch endpoints, which set their model and parameters; ``model_id`` must stay empty here.
    """

    item_ids: list[int]
    label_id: int | None = None
    op: Literal["set", "add", "remove", "clear"] = "set"
    kind: Literal["manual", "similarity", "probability", "import", "review"] = "manual"
    model_id: int | None = None
    parameters: dict[str, Any] | None = None  # null or absent: none (as GraphQL reads it)


class EventController(Controller):
    path = API_PREFIX
    tags = ["events"]

    @post(
        "/datasets/{dataset_id:int}/tags",
        summary="Record a labeling action on many items as one tag event",
        status_code=201,
        responses=error_responses(404),
    )
    async def tag(
        self,
        request: Request,
        session: Session,
        settings: AppSettings,
        dataset_id: FromPath[int],
        data: JSONBody[TagCreate],
    ) -> EventOut:
        event = await tagging.record_client_event(
            session,
            events.TagRequest(
                dataset_id=dataset_id,
                tagger=tagger_for(request, settings),
                item_ids=data.item_ids,
                label_id=data.label_id,
                op=data.op,
                kind=data.kind,
                model_id=data.model_id,
                parameters=data.parameters or {},
            ),
        )
        return EventOut.of(event)

    @get("/datasets/{dataset_id:int}/events", summary="The dataset's tag events, newest first")
    async def list_events(
        self,
        session: Session,
        settings: AppSettings,
        dataset_id: FromPath[int],
        tagger: FromQuery[str | None] = None,
        kind: FromQuery[str | None] = None,
        since: Annotated[str | None, time_parameter("events made at or after")] = None,
        until: Annotated[str | None, time_parameter("events made at or before")] = None,
        offset: Annotated[int, QueryParameter(ge=0)] = 0,
        limit: Annotated[int, QueryParameter(ge=1, description="capped by the server's max_page_size")] = 50,
    ) -> EventPageOut:
        check_page(offset, limit, settings)
        page = await history.list_events(
            session,
            dataset_id,
            tagger=tagger,
            kind=kind,
            since=query_time(since, "since"),
            until=query_time(until, "until"),
            offset=offset,
            limit=limit,
        )
        return EventPageOut(
            events=[EventOut.of(e) for e in page.events], total=page.total, offset=offset, limit=limit
        )

    @get("/events/{event_id:int}", summary="One tag event with a page of its tags")
    async def get_event(
        self,
        session: Session,
        settings: AppSettings,
        event_id: FromPath[int],
        tags_offset: Annotated[int, QueryParameter(ge=0)] = 0,
        tags_limit: Annotated[
            int, QueryParameter(ge=1, description="capped by the server's max_page_size")
        ] = 100,
    ) -> EventDetail:
        check_page(tags_offset, tags_limit, settings)
        event = await events.get_event(session, event_id)
        tags = await history.event_tags(session, event_id, offset=tags_offset, limit=tags_limit)
        return EventDetail(
            event=EventOut.of(event),
            tags=[TagOut.of(t) for t in tags],
            tags_offset=tags_offset,
            tags_limit=tags_limit,
        )

    @post(
        "/events/{event_id:int}/undo",
        summary="Undo an event by a new 'undo' event (items changed since are left alone)",
        status_code=201,
        responses=error_responses(404, 409),
    )
    async def undo(
        self, request: Request, session: Session, settings: AppSettings, event_id: FromPath[int]
    ) -> EventOut:
        return EventOut.of(await events.undo_event(session, event_id, tagger_for(request, settings)))

    @post(
        "/datasets/{dataset_id:int}/undo-last",
        summary="Undo the caller's latest labeling action in the dataset",
        status_code=201,
        responses=error_responses(404, 409),
    )
    async def undo_last(
        self, request: Request, session: Session, settings: AppSettings, dataset_id: FromPath[int]
    ) -> EventOut:
        return EventOut.of(await events.undo_last(session, dataset_id, tagger_for(request, settings)))

    @post(
        "/datasets/{dataset_id:int}/redo-last",
        summary="Redo the caller's latest undo in the dataset",
        status_code=201,
        responses=error_responses(404, 409),
    )
    async def redo_last(
        self, request: Request, session: Session, settings: AppSettings, dataset_id: FromPath[int]
    ) -> EventOut:
        return EventOut.of(await events.redo_last(session, dataset_id, tagger_for(request, settings)))


route_handlers = [EventController]
