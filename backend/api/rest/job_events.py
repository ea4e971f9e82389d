"""REST: a job followed without polling, as a stream of server-sent events."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Annotated

import msgspec
from litestar import Controller, Request, get
from litestar.datastructures import State
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, QueryParameter
from litestar.response import ServerSentEvent, ServerSentEventMessage
from sqlalchemy.exc import DBAPIError

from backend.api.access import shows_internals
from backend.api.errors import DATABASE_DOWN, database_failure
from backend.api.rest.common import API_PREFIX, Session, error_responses
from backend.api.rest.jobs import LogLineOut, job_out
from backend.jobs import follow
from backend.jobs import queries as job_queries
from backend.jobs.runtime import worker_presence
from backend.settings import Settings

STREAM_DESCRIPTION = (
    "`text/event-stream`. `event: job` carries the job (as `GET /jobs/{id}`, with `progress`, "
    "`duration_seconds` and `latest_metrics`) whenever it changes, the first at once (a queued "
    "job's `no_worker` too: one message when it appears, after the grace with no worker alive, and "
    "one when it clears); `event: log` "
    "one log line; `event: end` the finished job, after which the stream closes. A comment line is "
    "sent every 10 s while nothing changes. The stream closes after `max_seconds` (at most 3600) "
    "even if the job runs on: poll `GET /jobs/{id}` or open the stream again. If the database goes "
    "away meanwhile, `event: error` (`code` DATABASE_UNAVAILABLE, `message`) ends the stream: open "
    "it again later."
)


def _json(value: object) -> str:
    return json.dumps(msgspec.to_builtins(value), separators=(",", ":"))


async def _messages(
    state: State, job_id: int, max_seconds: float, viewer_of: Settings | None
) -> AsyncIterator[ServerSentEventMessage]:
    """``viewer_of``: the caller is a viewer, who sees one-line errors and no traceback (decision 0007).

    The database going away mid-stream ends it with an ``error`` message (the response has started:
    no 503 can be sent any more; before, the stream broke off and the server logged a traceback)."""
    try:
        updates = follow.follow_job(
            state.database,
            job_id,
            max_seconds=max_seconds,
            presence=lambda: worker_presence(state),
            settings=state.settings,
        )
        async for now in updates:
            if now is None:
                yield ServerSentEventMessage(comment="keep-alive")
                continue
            job = _json(
                job_out(
                    now.job,
                    viewer_of,
                    now.latest_metrics,
                    follow_up_pending=now.follow_up_pending,
                    no_worker=now.no_worker,
                )
            )
            if not now.finished:
                yield ServerSentEventMessage(data=job, event="job")
            for line in now.new_log:
                yield ServerSentEventMessage(
                    data=_json(LogLineOut.of(line, viewer_of)), event="log", id=str(line.id)
                )
            if now.finished:  # after the last log lines: "end" is the last message
                yield ServerSentEventMessage(data=job, event="end")
    except (ConnectionError, DBAPIError) as exc:
        _status, code = database_failure(exc)  # logs one line; a refused statement stays DATABASE_ERROR
        message = DATABASE_DOWN if code == "DATABASE_UNAVAILABLE" else "the database refused a statement"
        yield ServerSentEventMessage(data=json.dumps({"code": code, "message": message}), event="error")


class JobEventsController(Controller):
    path = f"{API_PREFIX}/jobs"
    tags = ["jobs"]

    @get(
        "/{job_id:int}/events",
        summary="Follow a job: its changes, metrics and log lines as server-sent events until it ends",
        description=STREAM_DESCRIPTION,
        responses={
            200: ResponseSpec(
                data_container=str,
                media_type="text/event-stream",
                description="The event stream",
                generate_examples=False,
            ),
            **error_responses(404),
        },
    )
    async def job_events(
        self,
        request: Request,
        session: Session,
        settings: Settings,
        job_id: FromPath[int],
        max_seconds: Annotated[
            float,
            QueryParameter(gt=0, le=follow.MAX_STREAM_SECONDS, description="close the stream after this"),
        ] = follow.MAX_STREAM_SECONDS,
    ) -> ServerSentEvent:
        await job_queries.get_job(session, job_id)  # an unknown id is a 404 before the stream opens
        viewer = None if shows_internals(request) else settings
        return ServerSentEvent(_messages(request.app.state, job_id, max_seconds, viewer))


route_handlers = [JobEventsController]
