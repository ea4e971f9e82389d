"""What REST and GraphQL share: REST's path prefix (GraphQL answers link to REST's image URLs),
the paging limits, and how times without a zone are read."""

from __future__ import annotations

from datetime import UTC, datetime

from backend.errors import Invalid
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
