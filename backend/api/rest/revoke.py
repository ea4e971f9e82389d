"""Revoking a model's labels, or one kind of batch in a time range, as one 'undo' event.
Thin over ``backend.labels.revoke``; undoing one event is ``POST /events/{id}/undo``."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from litestar import Controller, Request, post
from litestar.params import FromPath, JSONBody

from backend.api.common import TIME_FORMS
from backend.api.identity import tagger_for
from backend.api.rest.common import API_PREFIX, AppSettings, Session, body_time, error_responses
from backend.api.rest.schemas import EventOut
from backend.labels import revoke


class RevokeIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Give ``model_id`` (every label that model produced here) or ``kind`` (with an optional
    ``since`` / ``until``, ISO 8601 as the time query parameters and GraphQL read them: a date
    alone is its 00:00, no zone means UTC), not both."""

    model_id: int | None = None
    kind: Literal["manual", "similarity", "probability", "explorer", "import", "review"] | None = None
    since: Annotated[str, msgspec.Meta(description=f"events made at or after ({TIME_FORMS})")] | None = None
    until: Annotated[str, msgspec.Meta(description=f"events made at or before ({TIME_FORMS})")] | None = None


class RevokeOut(msgspec.Struct, kw_only=True):
    event: EventOut  # the 'undo' event that took the labels back (undo it to put them back)
    revoked: int  # items whose labels went back to what they were before
    skipped: int  # items changed since by another event: left as they are
    event_ids: list[int]  # the events taken back (the first 1000)
    event_count: int

    @classmethod
    def of(cls, result: revoke.RevokeResult) -> RevokeOut:
        return cls(
            event=EventOut.of(result.event),
            revoked=result.revoked,
            skipped=result.skipped,
            event_ids=result.event_ids,
            event_count=result.event_count,
        )


class RevokeController(Controller):
    path = API_PREFIX
    tags = ["events"]

    @post(
        "/datasets/{dataset_id:int}/revoke",
        summary="Take back the labels a model (or one kind of batch in a time range) made, in one undo event",
        description="Only items whose labels still come from those events (labels an undone revoke or a "
        "redo put back included) go back to their earlier labels; "
        "items changed since by another event are left and counted in 'skipped'. 409 when nothing is left.",
        status_code=201,
        responses=error_responses(400, 404, 409),
    )
    async def revoke(
        self,
        request: Request,
        session: Session,
        settings: AppSettings,
        dataset_id: FromPath[int],
        data: JSONBody[RevokeIn],
    ) -> RevokeOut:
        result = await revoke.revoke_labels(
            session,
            dataset_id,
            tagger=tagger_for(request, settings),
            model_id=data.model_id,
            kind=data.kind,
            since=body_time(data.since, "since"),
            until=body_time(data.until, "until"),
        )
        return RevokeOut.of(result)


route_handlers = [RevokeController]
