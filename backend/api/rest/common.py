"""Small pieces every REST controller shares: the path prefix, paging limits, time parameters."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TypeAlias

from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from sqlalchemy.ext.asyncio import AsyncSession

from backend.errors import Invalid
from backend.images.thumbnails import ThumbnailCache
from backend.settings import Settings

API_PREFIX = "/api/v1"


def check_page(offset: int, limit: int, settings: Settings) -> None:
    """Refuse pages the server will not serve in one response, saying what is allowed."""
    if offset < 0:
        raise Invalid(f"offset must be >= 0, got {offset}")
    if limit < 1:
        raise Invalid(f"limit must be >= 1, got {limit}")
    if limit > settings.max_page_size:
        raise Invalid(
            f"limit {limit} is over the page size cap: at most {settings.max_page_size} per page",
            max_limit=settings.max_page_size,
        )


def as_utc(moment: datetime | None) -> datetime | None:
    """Times without a zone are taken as UTC, the zone every stored time is in."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


_ERROR_MEANINGS = {
    400: "Invalid input (code INVALID)",
    403: "Outside the data roots (code FORBIDDEN)",
    404: "Unknown id (code NOT_FOUND)",
    409: "Conflicts with what is stored (code CONFLICT)",
    413: "Too large (code TOO_LARGE)",
    422: "The file cannot be decoded (code UNREADABLE)",
    502: "The source cannot be reached (code SOURCE_UNAVAILABLE)",
}


def error_responses(*statuses: int) -> dict[int, ResponseSpec]:
    """OpenAPI descriptions of the error responses a handler can give, all with the one error body."""
    from backend.api.rest.schemas import Problem

    return {
        status: ResponseSpec(
            data_container=Problem,
            media_type="application/problem+json",
            description=_ERROR_MEANINGS[status],
            generate_examples=False,
        )
        for status in statuses
    }


# Dependencies the app provides by name (backend/app.py); marked so Litestar need not infer them.
Session: TypeAlias = NamedDependency[AsyncSession]
AppSettings: TypeAlias = NamedDependency[Settings]
Thumbnails: TypeAlias = NamedDependency[ThumbnailCache]
