"""Request-scoped dependencies shared by REST, GraphQL and pages."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TypeAlias

from litestar.datastructures import State
from litestar.di import NamedDependency
from sqlalchemy.ext.asyncio import AsyncSession

from backend.images.thumbnails import ThumbnailCache
from backend.settings import Settings
from backend.storage.database import Database


async def provide_session(state: State) -> AsyncIterator[AsyncSession]:
    database: Database = state.database
    async with database.session() as session:
        yield session


def provide_settings(state: State) -> Settings:
    return state.settings


def provide_thumbnails(state: State) -> ThumbnailCache:
    return state.thumbnails


# Dependencies the app provides by name (backend/app.py); marked so Litestar need not infer them.
Session: TypeAlias = NamedDependency[AsyncSession]
AppSettings: TypeAlias = NamedDependency[Settings]
Thumbnails: TypeAlias = NamedDependency[ThumbnailCache]
