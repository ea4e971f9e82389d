"""What REST and GraphQL share: REST's path prefix (GraphQL answers link to REST's image URLs),
the paging limits, and how times without a zone are read."""

from __future__ import annotations

from datetime import UTC, datetime

from backend import paging
from backend.settings import Settings

API_PREFIX = "/api/v1"


def check_page(offset: int, limit: int, settings: Settings) -> None:
    """Refuse pages over the server's page size cap (``backend.paging``, the one rule)."""
    paging.check_page(offset, limit, settings.max_page_size)


def as_utc(moment: datetime | None) -> datetime | None:
    """Times without a zone are taken as UTC, the zone every stored time is in."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)
