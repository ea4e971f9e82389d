"""A source's detector setup: its mask (a file and/or derived rules) and its geometry (a PONI file).

Files are named like folders (``backend.sources.paths``): inside the data roots, ``..`` refused,
symlinks resolved, and stored as absolute paths. Setting a mask or PONI file checks it against the
frames the source holds, so a mask of another shape or a PONI for another detector is refused
with a message naming both sizes. A file that changes later is checked again where it is used:
``problems`` says what is wrong on the datasets page and in the API, and reading never fails
because of it (the mask or geometry is left out, the items stay usable).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from backend.errors import Forbidden, Invalid, LabelwiseError, NotFound
from backend.images import decode, masks
from backend.settings import Settings
from backend.sources.paths import is_within
from backend.storage.tables import Dataset, Item, Source
from backend.storage.types import utcnow

log = logging.getLogger("labelwise.sources")
PONI_SUFFIXES = (".poni",)


@dataclass(frozen=True, slots=True)
class DetectorSetup:
    """What a source's frames need besides their pixels (picklable: workers get it in refs)."""

    mask_path: str | None = None
    mask_rules: tuple[str, ...] = ()
    poni_path: str | None = None

    def version(self) -> str:
        """What changes when the mask or geometry changes (for caches of what was computed)."""
        if not (self.masks or self.poni_path):
            return ""
        parts = [",".join(self.mask_rules)]
        for name in (self.mask_path, self.poni_path):
            try:
                stat = Path(name).stat() if name else None
            except OSError:
                stat = None
            parts.append(f"{name}:{stat.st_size}:{stat.st_mtime_ns}" if stat else str(name or ""))
        return "|".join(parts)

    @property
    def masks(self) -> bool:
        return bool(self.mask_path or self.mask_rules)

    def file_mask(self, roots: Sequence[Path], max_pixels: int) -> np.ndarray | None:
        """The mask file's mask, None where there is none or it cannot be read (logged)."""
        if not self.mask_path:
            return None
        try:
            return masks.load_mask_file(Path(self.mask_path), roots, max_pixels=max_pixels)
        except LabelwiseError as exc:
            log.warning("mask left out: %s", exc.message)
            return None

    def frame_mask(
        self,
        image: np.ndarray,
        roots: Sequence[Path],
        *,
        max_pixels: int,
        stride: int = 1,
        dtype: str | None = None,
    ) -> np.ndarray | None:
        """The mask of one frame as read (True: masked), None when nothing is masked; a mask file
        is held to the data's pixel limit (``max_pixels``)."""
        if not self.masks:
            return None
        file_mask = self.file_mask(roots, max_pixels)
        return masks.frame_mask(image, file_mask, self.mask_rules, stride=stride, dtype=dtype)

    def integrator(self, full_shape: tuple[int | None, int | None], read_shape: tuple[int, int]) -> Any:
        """A pyFAI integrator for a frame read at ``read_shape`` of ``full_shape``, or None where
        the source has no usable PONI file (logged)."""
        if not self.poni_path:
            return None
        from backend.images import geometry

        try:
            integrator = geometry.load_poni(Path(self.poni_path))
            height, width = full_shape
            geometry.check_fits(integrator, height, width, PurePath(self.poni_path).name)
        except LabelwiseError as exc:
            log.warning("geometry left out: %s", exc.message)
            return None
        stride = max(1, round((height or read_shape[0]) / read_shape[0]))
        return geometry.strided(integrator, stride, read_shape)


NO_SETUP = DetectorSetup()


def setup_of(source: Source) -> DetectorSetup:
    rules = tuple(r for r in (source.mask_rules or "").split(",") if r)
    return DetectorSetup(source.mask_path, rules, source.poni_path)


def resolve_file(raw: str, roots: list[Path], suffixes: Sequence[str], what: str) -> Path:
    """A file a user named, confined to the data roots like a folder; relative to each root in turn.
    Its format is its suffix in any case (``decode.format_of``: ``mask.EDF.GZ`` is an EDF file)."""
    if not raw or "\x00" in raw:
        raise Invalid(f"a {what} path is required")
    given = PurePath(raw)
    if ".." in given.parts:
        raise Forbidden(f"'..' is not allowed in {what} paths: {raw}")
    if decode.format_of(given.name) not in suffixes:
        raise Invalid(f"a {what} is a {', '.join(suffixes)} file, not '{given.name}'")
    candidates = [Path(raw)] if given.is_absolute() else [root / given for root in roots]
    for candidate in candidates:
        try:
            resolved = candidate.resolve()
        except (OSError, ValueError) as exc:
            raise Invalid(f"'{raw[:200]}' is not a usable path ({exc})") from None
        if not any(is_within(resolved, root) for root in roots):
            if candidate.exists():
                raise Forbidden(f"{what} '{raw}' is outside the data roots")
            continue
        if resolved.is_file():
            return resolved
    if given.is_absolute() and not any(is_within(Path(raw).resolve(), r) for r in roots):
        raise Forbidden(f"{what} '{raw}' is outside the data roots")
    raise NotFound(f"{what} '{raw}' does not exist under the data roots")


async def frame_shapes(session: AsyncSession, source_id: int) -> list[tuple[int, int]]:
    """The (height, width) of the source's readable frames, each shape once."""
    rows = await session.execute(
        select(col(Item.height), col(Item.width))
        .where(col(Item.source_id) == source_id, col(Item.status) == "ok", col(Item.height).is_not(None))
        .distinct()
    )
    return sorted({(int(h), int(w)) for h, w in rows.tuples().all() if h and w})


def check_mask(mask: np.ndarray, shapes: Sequence[tuple[int, int]], name: str) -> None:
    wrong = [s for s in shapes if s != mask.shape]
    if wrong:
        h, w = wrong[0]
        raise Invalid(
            f"mask {name} is {mask.shape[1]}x{mask.shape[0]} pixels; the source's frames are {w}x{h} pixels"
        )


def problems(source: Source, settings: Settings, shapes: Sequence[tuple[int, int]]) -> list[str]:
    """What is wrong with the source's mask or geometry now (a file gone, changed or of the wrong
    size); the items stay usable without it."""
    from backend.images import geometry

    found: list[str] = []
    if source.mask_path:
        name = PurePath(source.mask_path).name
        try:
            mask = masks.load_mask_file(
                Path(source.mask_path), settings.roots, max_pixels=settings.max_image_pixels
            )
            check_mask(mask, shapes, name)
        except LabelwiseError as exc:
            found.append(f"mask not applied: {exc.message}")
    if source.poni_path:
        name = PurePath(source.poni_path).name
        try:
            integrator = geometry.load_poni(Path(source.poni_path))
            for h, w in shapes:
                geometry.check_fits(integrator, h, w, name)
        except LabelwiseError as exc:
            found.append(f"geometry not applied: {exc.message}")
    return found


async def source_problems(session: AsyncSession, settings: Settings, source: Source) -> list[str]:
    """``problems`` of a stored source (nothing to check: no query, no file read)."""
    if not (source.mask_path or source.poni_path):
        return []
    assert source.id is not None
    return problems(source, settings, await frame_shapes(session, source.id))


async def set_detector(
    session: AsyncSession,
    settings: Settings,
    source_id: int,
    *,
    mask_path: str | None = None,
    mask_rules: Sequence[str] | None = None,
    poni_path: str | None = None,
) -> Source:
    """Set what is given (None: leave as it is; "": clear) after checking it against the frames.

    A refused change changes nothing. Renderings made before are dropped (the dataset's display
    changes), since masked pixels are shown and scaled differently."""
    from backend.images import geometry

    source = await session.get(Source, source_id)
    if source is None:
        raise NotFound(f"source {source_id} does not exist", id=source_id)
    shapes = await frame_shapes(session, source_id)
    if mask_path:
        path = resolve_file(mask_path, settings.roots, masks.MASK_SUFFIXES, "mask file")
        mask = masks.load_mask_file(path, settings.roots, max_pixels=settings.max_image_pixels)
        check_mask(mask, shapes, path.name)
        source.mask_path = str(path)
    elif mask_path == "":
        source.mask_path = None
    if mask_rules is not None:
        source.mask_rules = ",".join(masks.check_rules(mask_rules))
    if poni_path:
        path = resolve_file(poni_path, settings.roots, PONI_SUFFIXES, "PONI file")
        integrator = geometry.load_poni(path)
        for h, w in shapes:
            geometry.check_fits(integrator, h, w, path.name)
        source.poni_path = str(path)
    elif poni_path == "":
        source.poni_path = None
    dataset = await session.get(Dataset, source.dataset_id)
    if dataset is not None:
        dataset.display_changed_at = utcnow()
    await session.commit()
    await session.refresh(source)
    return source
