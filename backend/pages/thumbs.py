"""Gallery thumbnails and full views as PNG with HTTP caching: a page of 200 costs nothing twice.

The URL holds everything that decides the pixels (item, transform, size), so browsers may keep a
thumbnail for a day; the ETag lets them revalidate without a transfer after that.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get
from litestar.params import FromPath
from sqlalchemy.ext.asyncio import AsyncSession

from backend.images.service import check_size, item_png
from backend.images.thumbnails import ThumbnailCache
from backend.pages.common import PAGE_EXCEPTION_HANDLERS
from backend.pages.view_state import ViewState
from backend.settings import Settings

CACHE_SECONDS = 24 * 3600


def _etag(cache: ThumbnailCache, item_id: FromPath[int], state: ViewState, size: int | None) -> str | None:
    stat = cache.stat(item_id, state.transform, size)
    if stat is None:
        return None
    return f"{item_id}-{state.transform.key}-{size or 'full'}-{stat.st_mtime_ns:x}-{stat.st_size:x}"


def _int_or_zero(raw: str) -> int:
    return int(raw) if raw.isdigit() else 0


def _etags(header: str) -> set[str]:
    return {part.strip().removeprefix("W/").strip('"') for part in header.split(",") if part.strip()}


@get("/thumbs/{item_id:int}", include_in_schema=False, exception_handlers=PAGE_EXCEPTION_HANDLERS)
async def thumbnail(
    request: Request,
    session: AsyncSession,
    settings: Settings,
    thumbnails: ThumbnailCache,
    item_id: FromPath[int],
) -> Response[Any]:
    """``size`` absent or 0: full resolution (the item view)."""
    values = dict(request.query_params)
    raw_size = values.pop("size", "")
    size = int(raw_size) if raw_size not in ("", "0") and raw_size.isdigit() else None
    if raw_size not in ("", "0") and size is None:
        from backend.errors import Invalid

        raise Invalid(f"size must be a whole number of pixels, got '{raw_size}'")
    check_size(size)
    made_after = _int_or_zero(values.pop("v", ""))
    state = ViewState.parse(values)
    thumbnails.drop_if_older(item_id, state.transform, size, made_after)
    headers = {"Cache-Control": f"private, max-age={CACHE_SECONDS}"}
    tag = _etag(thumbnails, item_id, state, size)
    if tag is not None:
        # Fast path: a cached file answers without a database query.
        headers["ETag"] = f'"{tag}"'
        if tag in _etags(request.headers.get("if-none-match", "")):
            return Response(b"", status_code=304, headers=headers)
        png = thumbnails.get(item_id, state.transform, size)
        if png is not None:
            return Response(png, media_type="image/png", headers=headers)
    png = await item_png(session, settings, thumbnails, item_id, state.transform, size)
    tag = _etag(thumbnails, item_id, state, size)
    if tag is not None:
        headers["ETag"] = f'"{tag}"'
    return Response(png, media_type="image/png", headers=headers)


route_handlers = [thumbnail]
