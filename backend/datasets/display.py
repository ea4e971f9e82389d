"""A dataset's display preset: the colour map, scale and percentiles every page starts from.

One preset per dataset, used by the gallery, the item view, the similarity and probability pages,
the review page and the explorer's previews, heat maps and selection galleries; a viewer may still
change it for one page through the URL (``backend.pages.view_state``). A dataset made from
single-channel frames of more than 8 bits (detector frames: 16- and 32-bit integers, floats) starts
with the detector preset (log scale, a perceptual colour map); other datasets with a linear grey.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.ext.asyncio import AsyncSession

from backend.images.transforms import DisplayTransform
from backend.sources.base import SourceEntry
from backend.storage.tables import Dataset
from backend.storage.types import utcnow

PLAIN = DisplayTransform()
# Chosen on the demo frames at 96 px: the diffuse background dark, rings, arcs, spots and streaks
# clear of it (the 10th percentile of the log counts sits in the background of every frame).
DETECTOR = DisplayTransform(scale="log", colormap="inferno", p_low=10.0, p_high=99.9)
PHOTO_DTYPES = frozenset({"uint8", "int8", "bool", "L", "RGB", "RGBA", "P", "1", "LA", "CMYK", "YCbCr"})


def rendering_epoch_ms(dataset: Dataset) -> int:
    """Renderings made before this (ms since the epoch) are stale: the dataset was made again (SQLite
    reuses ids) or its display (preset, a source's mask) changed since. Goes into image URLs."""
    from backend.images.thumbnails import epoch_ms

    changed = dataset.display_changed_at
    latest = max(dataset.created_at, changed) if changed is not None else dataset.created_at
    return epoch_ms(latest)


def preset_of(dataset: Dataset) -> DisplayTransform:
    return DisplayTransform(
        scale=dataset.display_scale,
        colormap=dataset.display_colormap,
        p_low=dataset.display_p_low,
        p_high=dataset.display_p_high,
    )


async def display_preset(session: AsyncSession, dataset_id: int) -> DisplayTransform:
    from backend.datasets.service import get_dataset  # the service uses this module when creating

    return preset_of(await get_dataset(session, dataset_id))


def with_overrides(
    preset: DisplayTransform,
    *,
    log: bool | None = None,
    scale: str | None = None,
    colormap: str | None = None,
    p_low: float | None = None,
    p_high: float | None = None,
) -> DisplayTransform:
    """The preset with what a caller gave instead (``log`` is the older spelling of ``scale``)."""
    if scale is None and log is not None:
        scale = "log" if log else "linear"
    return DisplayTransform(
        scale=scale if scale is not None else preset.scale,
        colormap=colormap if colormap is not None else preset.colormap,
        p_low=p_low if p_low is not None else preset.p_low,
        p_high=p_high if p_high is not None else preset.p_high,
    )


def default_preset(entries: Iterable[SourceEntry]) -> DisplayTransform:
    """The preset a new dataset starts with, from the first readable frame a scan found."""
    for entry in entries:
        if entry.error is None:
            detector = (entry.channels or 1) == 1 and (entry.dtype or "") not in PHOTO_DTYPES
            return DETECTOR if detector else PLAIN
    return PLAIN


def store_preset(dataset: Dataset, preset: DisplayTransform) -> None:
    dataset.display_scale = preset.scale
    dataset.display_colormap = preset.colormap
    dataset.display_p_low = preset.p_low
    dataset.display_p_high = preset.p_high


async def set_display(
    session: AsyncSession,
    dataset_id: int,
    *,
    scale: str | None = None,
    colormap: str | None = None,
    p_low: float | None = None,
    p_high: float | None = None,
) -> Dataset:
    """Change what is given; a refused preset (unknown map, bounds out of order) changes nothing."""
    from backend.datasets.service import get_dataset

    dataset = await get_dataset(session, dataset_id)
    current = preset_of(dataset)
    preset = with_overrides(current, scale=scale, colormap=colormap, p_low=p_low, p_high=p_high)
    if preset != current:
        store_preset(dataset, preset)
        dataset.display_changed_at = utcnow()
        await session.commit()
        await session.refresh(dataset)
    return dataset
