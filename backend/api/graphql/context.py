"""What every resolver gets: the request's database session, the settings, the app state, the tagger.

GraphQL resolves sibling fields concurrently, and one ``AsyncSession`` must never run two
statements at once; so resolvers reach the session only through ``use_session``, which takes the
request's lock for the duration of one domain call.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import msgspec
from litestar.datastructures import State
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.litestar import BaseContext
from strawberry.types import Info

from backend.api.identity import tagger_for
from backend.settings import Settings


class GraphQLContext(BaseContext, kw_only=True):
    session: AsyncSession
    settings: Settings
    state: State
    lock: asyncio.Lock = msgspec.field(default_factory=asyncio.Lock)
    # Per-request DataLoaders by name (backend/api/graphql/loaders.py): one batched call per field.
    loaders: dict[str, Any] = msgspec.field(default_factory=dict)

    @property
    def connection(self) -> Any:
        """The HTTP request, or the websocket a subscription (graphql-transport-ws) runs on: the
        guard found the caller on either."""
        return self.request if self.request is not None else self.websocket

    @property
    def tagger(self) -> str:
        """Who is tagging: the ``X-Labelwise-Tagger`` header or cookie, else the server's tagger."""
        assert self.connection is not None
        return tagger_for(self.connection, self.settings)


async def graphql_context(session: AsyncSession, settings: Settings, state: State) -> GraphQLContext:
    """Litestar dependency: the app's ``session`` and ``settings`` dependencies, per request."""
    return GraphQLContext(session=session, settings=settings, state=state)


def context_of(info: Info[Any, Any]) -> GraphQLContext:
    return info.context


@asynccontextmanager
async def use_session(info: Info[Any, Any]) -> AsyncIterator[AsyncSession]:
    """The request's session, held alone for one domain call."""
    context = context_of(info)
    async with context.lock:
        yield context.session
