"""Rendering an item's image for pages and the API: one function both doors call."""

from __future__ import annotations

import asyncio

import numpy as np
from sqlalchemy.ext.asyncio import AsyncSession

from backend.datasets.display import preset_of, rendering_epoch_ms
from backend.datasets.items import get_item
from backend.errors import Forbidden, Invalid, LabelwiseError, Unreadable
from backend.images.thumbnails import MAX_SIZE, MIN_SIZE, ThumbnailCache
from backend.images.transforms import DisplayTransform
from backend.settings import Settings
from backend.sources.detector import setup_of
from backend.sources.registry import open_source
from backend.storage.tables import Dataset, Item, Source


def check_size(size: int | None) -> None:
    if size is not None and not MIN_SIZE <= size <= MAX_SIZE:
        raise Invalid(f"size must be between {MIN_SIZE} and {MAX_SIZE} pixels, got {size}")


async def item_png(
    session: AsyncSession,
    settings: Settings,
    cache: ThumbnailCache,
    item_id: int,
    transform: DisplayTransform | None,
    size: int | None,
) -> bytes:
    """The item rendered as PNG with ``transform`` (None: its dataset's display preset), fitted into
    ``size`` (None: full resolution), its source's mask left out of the display statistics.

    A file that turns out to be unreadable is marked so on the item, with the reason.
    """
    check_size(size)
    item = await get_item(session, item_id)
    dataset = await session.get(Dataset, item.dataset_id)
    if transform is None:
        transform = preset_of(dataset) if dataset is not None else DisplayTransform()
    if dataset is not None:
        cache.drop_if_older(item_id, transform, size, rendering_epoch_ms(dataset))
    cached = cache.get(item_id, transform, size)
    if cached is not None:
        return cached
    if item.status == "unreadable":
        raise Unreadable(item.error or "this item cannot be read", id=item_id)
    source = await session.get(Source, item.source_id)
    assert source is not None
    adapter = open_source(source, settings)
    setup = setup_of(source)

    def mask_of(pixels: np.ndarray, stride: int) -> np.ndarray | None:
        return setup.frame_mask(
            pixels, settings.roots, max_pixels=settings.max_image_pixels, stride=stride, dtype=item.dtype
        )

    try:
        return await asyncio.to_thread(
            cache.render,
            adapter,
            item_id,
            item.uri,
            item.frame,
            transform,
            size,
            (item.height, item.width),
            mask_of if setup.masks else None,
        )
    except (Unreadable, Forbidden) as exc:  # Forbidden: the file now points outside the roots
        await _mark_unreadable(session, item, exc.message)
        raise
    except LabelwiseError:
        raise


async def _mark_unreadable(session: AsyncSession, item: Item, reason: str) -> None:
    item.status = "unreadable"
    item.error = reason
    await session.commit()
