"""Plain, picklable references to items, for code that reads pixels outside a request (workers).

A worker gets a list of ``ItemRef`` from the database once, then reads pixels through the
source adapters without touching the database again (data loader processes, Tiled streams).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from backend.images.frame_cache import FrameCache
from backend.settings import Settings
from backend.sources.detector import NO_SETUP, DetectorSetup, setup_of
from backend.sources.registry import open_source
from backend.storage.tables import Item, Source


@dataclass(frozen=True, slots=True)
class SourceRef:
    id: int
    kind: str
    uri: str
    api_key: str | None = None  # encrypted, as stored; server-side only, never serialised to clients
    detector: DetectorSetup = NO_SETUP  # mask and geometry (backend.sources.detector)

    def __repr__(self) -> str:  # keep secrets out of logs and tracebacks
        return f"SourceRef(id={self.id}, kind={self.kind!r}, uri={self.uri!r})"


@dataclass(frozen=True, slots=True)
class ItemRef:
    item_id: int
    source: SourceRef
    uri: str
    frame: int
    height: int | None
    width: int | None
    dtype: str | None = None  # as stored; says which value a saturated pixel holds


def _source_row(ref: SourceRef) -> Source:
    return Source(id=ref.id, dataset_id=0, kind=ref.kind, uri=ref.uri, api_key=ref.api_key)


async def item_refs(
    session: AsyncSession, dataset_id: int, item_ids: list[int] | None = None, *, readable_only: bool = True
) -> list[ItemRef]:
    """References to a dataset's items in dataset order (or in the order of ``item_ids``)."""
    query = (
        select(Item, Source)
        .join(Source, col(Source.id) == col(Item.source_id))
        .where(col(Item.dataset_id) == dataset_id)
    )
    if readable_only:
        query = query.where(col(Item.status) == "ok")
    if item_ids is not None:
        query = query.where(col(Item.id).in_(item_ids))
    rows = (await session.execute(query.order_by(col(Item.position)))).all()
    sources: dict[int, SourceRef] = {}
    refs = {}
    for item, source in rows:
        sref = sources.setdefault(
            source.id, SourceRef(source.id, source.kind, source.uri, source.api_key, setup_of(source))
        )
        refs[item.id] = ItemRef(item.id, sref, item.uri, item.frame, item.height, item.width, item.dtype)
    if item_ids is None:
        return list(refs.values())
    return [refs[i] for i in item_ids if i in refs]


# The item view asks for the raw value under the cursor on every mouse move: the frame (as stored)
# and its mask are kept, bounded by bytes (a 4k x 4k float32 frame is 64 MB).
READOUT_CACHE_BYTES = 256 * 1024 * 1024
Readout = tuple[np.ndarray, np.ndarray | None]
_readouts: FrameCache[Readout] = FrameCache(READOUT_CACHE_BYTES)


def _readout_bytes(readout: Readout) -> int:
    pixels, mask = readout
    return pixels.nbytes + (mask.nbytes if mask is not None else 0)


class ItemReader:
    """Reads pixels of ``ItemRef``s, keeping one open adapter per source."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._adapters: dict[int, object] = {}

    def _adapter(self, ref: ItemRef) -> Any:
        adapter = self._adapters.get(ref.source.id)
        if adapter is None:
            adapter = open_source(_source_row(ref.source), self.settings)
            self._adapters[ref.source.id] = adapter
        return adapter

    def read(self, ref: ItemRef, *, stride: int = 1, native: bool = False) -> np.ndarray:
        """float32 pixels, or with ``native`` the values as stored (``ImageSource.read``)."""
        if native:
            return self._adapter(ref).read(ref.uri, ref.frame, stride=stride, native=True)
        return self._adapter(ref).read(ref.uri, ref.frame, stride=stride)

    def mask(self, ref: ItemRef, pixels: np.ndarray, stride: int = 1) -> np.ndarray | None:
        """The mask (True: masked) of ``pixels`` read from ``ref`` at ``stride``; None: no mask."""
        return ref.source.detector.frame_mask(
            pixels,
            self.settings.roots,
            max_pixels=self.settings.max_image_pixels,
            stride=stride,
            dtype=ref.dtype,
        )

    def read_masked(self, ref: ItemRef, *, stride: int = 1) -> tuple[np.ndarray, np.ndarray | None]:
        """The pixels and their mask."""
        pixels = self.read(ref, stride=stride)
        return pixels, self.mask(ref, pixels, stride)

    def version(self, ref: ItemRef) -> str:
        """The source's version of the item's pixels (see ``ImageSource.version``)."""
        return self._adapter(ref).version(ref.uri)

    def readout(self, ref: ItemRef) -> Readout:
        """The pixels as stored (``native``) and their mask, for reading values one at a time:
        decoded once and kept while the item's file (its size and modification time) and the
        source's mask are unchanged, so that moving over a frame does not decode it per move."""
        key = (
            ref.source.id,
            ref.source.uri,
            ref.item_id,
            ref.uri,
            ref.frame,
            self.version(ref),
            ref.source.detector.version(),
        )

        def load() -> Readout:
            pixels = self.read(ref, native=True)
            mask = self.mask(ref, pixels)
            pixels.setflags(write=False)  # shared by every later readout
            if mask is not None:
                mask.setflags(write=False)
            return pixels, mask

        return _readouts.get(key, load, _readout_bytes)
