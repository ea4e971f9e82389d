"""Revoking a model's labels, or one kind of batch in a time range: thin over ``backend.labels.revoke``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry
from strawberry.types import Info

from backend.api.graphql.context import context_of, use_session
from backend.api.graphql.labels import TagEvent
from backend.api.graphql.paging import as_utc
from backend.labels import revoke


@strawberry.type(description="The 'undo' event a revoke recorded, and what it did.")
class RevokeResult:
    event: TagEvent
    revoked: int = strawberry.field(description="Items whose labels went back to what they were before.")
    skipped: int = strawberry.field(description="Items changed since by another event: left as they are.")
    event_ids: list[int] = strawberry.field(description="The events taken back (the first 1000).")
    event_count: int


@strawberry.type
class Mutation:
    @strawberry.mutation(
        description="Take back every label a model (modelId) or a kind of batch in a time range (kind, "
        "since, until) produced in the dataset, as one undo event. Items changed since by another event "
        "are left and counted in 'skipped'. Undo the returned event to put the labels back."
    )
    async def revoke_labels(
        self,
        info: Info[Any, Any],
        dataset_id: int,
        model_id: int | None = None,
        kind: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> RevokeResult:
        tagger = context_of(info).tagger
        async with use_session(info) as session:
            result = await revoke.revoke_labels(
                session,
                dataset_id,
                tagger=tagger,
                model_id=model_id,
                kind=kind,
                since=as_utc(since),
                until=as_utc(until),
            )
        return RevokeResult(
            event=TagEvent.of(result.event),
            revoked=result.revoked,
            skipped=result.skipped,
            event_ids=result.event_ids,
            event_count=result.event_count,
        )
