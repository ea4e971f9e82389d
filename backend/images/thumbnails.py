"""PNG thumbnails and views, cached on disk by (item, transform, size), within bounds.

What a viewer can make the server spend is bounded (docs/decisions/0004): a view is never larger
than its source and never reads more than ``max_view_pixels``; only the sizes and percentiles the
pages use are written to the cache; the cache evicts least recently used files beyond ``max_bytes`` or
``max_entries``; and a cache that cannot be written (full disk) costs the cache, not the image.
"""

from __future__ import annotations

import contextlib
import io
import logging
import math
import os
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from backend.images.colormap import apply_colormap
from backend.images.transforms import (
    DisplayTransform,
    apply_transform,
    block_reduce,
    fill_masked,
    fit_size,
    resize,
    to_uint8,
)
from backend.sources.base import ImageSource

if TYPE_CHECKING:
    from backend.settings import Settings

log = logging.getLogger("labelwise.images")

MIN_SIZE, MAX_SIZE = 16, 4096
# Sizes up to 1024 and percentiles on the 0.1 grid of the pages' inputs are cached; bigger sizes
# and other percentiles (1.2345: a new file per value) are rendered and served, never written.
CACHED_SIZE_MAX = 1024
PERCENTILE_GRID = 0.1
SWEEP_TO = 0.9  # a sweep evicts down to this share of each bound, so it does not run every put
ATIME_GRANULARITY_NS = 60 * 10**9  # a hit marks the file used at most once a minute


def epoch_ms(created_at: datetime) -> int:
    """A dataset's creation time in milliseconds. A cached file older than it belongs to an
    earlier item that had the same id (SQLite reuses the ids of deleted rows)."""
    return int(created_at.timestamp() * 1000)


def view_stride(height: int | None, width: int | None, max_view_pixels: int) -> int:
    """The read stride that brings a full view within ``max_view_pixels``."""
    if not height or not width or height * width <= max_view_pixels:
        return 1
    return math.ceil(math.sqrt(height * width / max_view_pixels))


def is_cacheable(transform: DisplayTransform, size: int | None) -> bool:
    """Whether a rendering is written to disk: thumbnail sizes and the pages' percentile steps."""
    if size is not None and size > CACHED_SIZE_MAX:
        return False
    return all(
        abs(p / PERCENTILE_GRID - round(p / PERCENTILE_GRID)) < 1e-6
        for p in (transform.p_low, transform.p_high)
    )


def render_png(
    image: np.ndarray,
    transform: DisplayTransform,
    size: int | None,
    *,
    owned: bool = False,
    mask: np.ndarray | None = None,
) -> bytes:
    """Transform an item's pixels and encode them as an 8-bit PNG, fitted into ``size`` (never
    larger than the pixels given). ``owned``: ``image`` is the caller's to lose, and is worked on
    in place (a full view then costs one float32 copy of the pixels, not four). ``mask`` (True:
    masked, same height and width): pixels left out of the display statistics."""
    if size is not None and size >= max(image.shape[0], image.shape[1]):
        size = None
    if size is not None:
        factor = min(image.shape[0], image.shape[1]) // size
        if mask is not None and factor > 1:  # masked pixels take the low value before averaging
            image, owned = fill_masked(image, mask, in_place=owned), True
            mask = block_reduce(mask.astype(np.float32), factor) > 0.5  # mostly masked blocks
        owned = owned or factor > 1  # block_reduce made a new array
        image = block_reduce(image, factor)
    shown = apply_transform(image, transform, in_place=owned, mask=mask)
    if size is not None:
        shown = resize(shown, *fit_size(shown.shape[0], shown.shape[1], size))
    pixels = apply_colormap(to_uint8(shown, in_place=True), transform.colormap)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


class ThumbnailCache:
    """A directory of rendered PNGs; writes are atomic so readers never see half a file.

    Usage is tracked per process from a scan of the directory, rescanned at each sweep; several
    web processes may each overshoot the bounds by what the others wrote since their last sweep.
    """

    def __init__(
        self,
        root: Path,
        *,
        max_bytes: int = 1024**3,
        max_entries: int = 200_000,
        max_view_pixels: int = 25_000_000,
    ) -> None:
        self.root = root
        self.max_bytes = max_bytes
        self.max_entries = max_entries
        self.max_view_pixels = max_view_pixels
        self._lock = threading.Lock()
        self._sweeping = threading.Lock()
        self._bytes: int | None = None  # unknown until the first sweep
        self._entries = 0
        self._puts = 0
        self._warned_at = 0.0

    @classmethod
    def from_settings(cls, settings: Settings) -> ThumbnailCache:
        return cls(
            settings.cache_dir,
            max_bytes=settings.thumbnail_cache_max_bytes,
            max_entries=settings.thumbnail_cache_max_entries,
            max_view_pixels=settings.max_view_pixels,
        )

    def path(self, item_id: int, transform: DisplayTransform, size: int | None) -> Path:
        bucket = f"{item_id // 1000:06d}"
        return self.root / "thumbs" / bucket / f"{item_id}_{transform.key}_{size or 'full'}.png"

    def stat(self, item_id: int, transform: DisplayTransform, size: int | None) -> os.stat_result | None:
        """The cached file's stat, or None when there is none (or the cache cannot be read)."""
        try:
            return self.path(item_id, transform, size).stat()
        except OSError:
            return None

    def get(self, item_id: int, transform: DisplayTransform, size: int | None) -> bytes | None:
        path = self.path(item_id, transform, size)
        try:
            png = path.read_bytes()
            stat = path.stat()
        except OSError:  # missing, evicted meanwhile, or an unreadable cache: render instead
            return None
        now = time.time_ns()
        if now - stat.st_atime_ns > ATIME_GRANULARITY_NS:
            with contextlib.suppress(OSError):  # recently used, for eviction; mtime (the ETag) stays
                os.utime(path, ns=(now, stat.st_mtime_ns))
        return png

    def drop_if_older(
        self, item_id: int, transform: DisplayTransform, size: int | None, made_after_ms: int
    ) -> None:
        """Forget a cached file made before ``made_after_ms`` (see ``epoch_ms``): render it again."""
        if not made_after_ms:
            return
        path = self.path(item_id, transform, size)
        try:
            if path.stat().st_mtime_ns // 1_000_000 < made_after_ms:
                path.unlink(missing_ok=True)
        except OSError:
            pass

    def put(self, item_id: int, transform: DisplayTransform, size: int | None, png: bytes) -> bool:
        """Write a rendering; False (logged, at most once a minute) when the cache cannot take it."""
        target = self.path(item_id, transform, size)
        tmp: str | None = None
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".tmp")
            with os.fdopen(fd, "wb") as handle:
                handle.write(png)
            os.replace(tmp, target)
        except OSError as exc:
            if tmp is not None:
                Path(tmp).unlink(missing_ok=True)
            if time.monotonic() - self._warned_at > 60:
                self._warned_at = time.monotonic()
                log.warning(
                    "thumbnail cache not written, images are served uncached: %s", exc.strerror or exc
                )
            return False
        self._account(len(png))
        return True

    def _account(self, size: int) -> None:
        with self._lock:
            self._puts += 1
            due = self._bytes is None or self._puts >= max(1000, self.max_entries // 10)
            if self._bytes is not None:
                self._bytes += size
                self._entries += 1
                due = due or self._bytes > self.max_bytes or self._entries > self.max_entries
        if due:
            self.sweep()

    def sweep(self) -> None:
        """Evict least recently used files while either bound is exceeded; count what is left."""
        if not self._sweeping.acquire(blocking=False):
            return  # another thread is sweeping
        try:
            files: list[tuple[int, int, str]] = []
            stale = time.time_ns() - 600 * 10**9
            for bucket in _scandir(self.root / "thumbs"):
                for entry in _scandir(Path(bucket.path)):
                    try:
                        stat = entry.stat()
                    except OSError:
                        continue
                    if entry.name.endswith(".tmp"):  # left by a process that died mid-write
                        if stat.st_mtime_ns < stale:
                            _unlink(entry.path)
                        continue
                    files.append((stat.st_atime_ns, stat.st_size, entry.path))
            total = sum(size for _, size, _ in files)
            count = len(files)
            if total > self.max_bytes or count > self.max_entries:
                files.sort()
                keep_bytes, keep_entries = self.max_bytes * SWEEP_TO, self.max_entries * SWEEP_TO
                for _, size, path in files:
                    if total <= keep_bytes and count <= keep_entries:
                        break
                    if _unlink(path):
                        total -= size
                        count -= 1
            with self._lock:
                self._bytes, self._entries, self._puts = total, count, 0
        finally:
            self._sweeping.release()

    def render(
        self,
        source: ImageSource,
        item_id: int,
        uri: str,
        frame: int,
        transform: DisplayTransform,
        size: int | None,
        shape: tuple[int | None, int | None] = (None, None),
        mask_of: Callable[[np.ndarray, int], np.ndarray | None] | None = None,
    ) -> bytes:
        """The cached PNG, or render it now (reading a strided slice where the source allows).

        ``mask_of(pixels, stride)``: the mask of the pixels read (``backend.sources.detector``)."""
        height, width = shape
        cached = self.get(item_id, transform, size)
        if cached is not None:
            return cached
        stride = view_stride(height, width, self.max_view_pixels)
        if size is not None and height and width:
            # Read every stride-th pixel: local files keep twice the target size to average noise
            # away; remote sources (Tiled) keep just the target size, since bytes over the network
            # are what a thumbnail costs there.
            oversample = 1 if getattr(source, "remote", False) else 2
            stride = max(stride, min(height, width) // (oversample * size))
        pixels = source.read(uri, frame, stride=stride)
        mask = mask_of(pixels, stride) if mask_of is not None else None
        png = render_png(pixels, transform, size, owned=True, mask=mask)
        if is_cacheable(transform, size):
            self.put(item_id, transform, size, png)
        return png


def _scandir(path: Path) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(path) as entries:
            return list(entries)
    except OSError:
        return []


def _unlink(path: str) -> bool:
    try:
        os.unlink(path)
        return True
    except OSError:
        return False
