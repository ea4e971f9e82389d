"""What REST and GraphQL share: REST's path prefix (GraphQL answers link to REST's image URLs),
the paging limits, and how times without a zone are read."""

from __future__ import annotations

from datetime import UTC, datetime

from dateutil.parser import isoparse

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


TIME_FORMS = "ISO 8601: 2026-12-07, 2026-12-07T09:30, 2026-12-07T09:30:00+02:00; no zone: UTC"


def parse_time(text: str) -> datetime:
    """A time as both doors read it (GraphQL's DateTime and REST's time query parameters), so that
    one text means one moment in both: ISO 8601 by dateutil's ``isoparse``, a date alone its 00:00,
    no zone UTC. Raises ``ValueError`` naming the forms it takes."""
    try:
        moment = isoparse(text)
    except (ValueError, OverflowError) as exc:
        raise ValueError(f"{text!r} is not a time ({exc}); give {TIME_FORMS}") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
