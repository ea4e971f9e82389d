"""PNG thumbnails and views, cached on disk by (item, transform, size)."""

from __future__ import annotations

import io
import os
import tempfile
from datetime import datetime
from pathlib import Path

import numpy as np
from PIL import Image

from backend.images.transforms import (
    DisplayTransform,
    apply_transform,
    block_reduce,
    fit_size,
    resize,
    to_uint8,
)
from backend.sources.base import ImageSource

MIN_SIZE, MAX_SIZE = 16, 4096


def epoch_ms(created_at: datetime) -> int:
    """A dataset's creation time in milliseconds. A cached file older than it belongs to an
    earlier item that had the same id (SQLite reuses the ids of deleted rows)."""
    return int(created_at.timestamp() * 1000)


def render_png(image: np.ndarray, transform: DisplayTransform, size: int | None) -> bytes:
    """Transform an item's pixels and encode them as an 8-bit PNG, fitted into ``size``."""
    if size is not None:
        factor = min(image.shape[0], image.shape[1]) // size
        image = block_reduce(image, factor)
    shown = apply_transform(image, transform)
    if size is not None:
        shown = resize(shown, *fit_size(shown.shape[0], shown.shape[1], size))
    buffer = io.BytesIO()
    Image.fromarray(to_uint8(shown)).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


class ThumbnailCache:
    """A directory of rendered PNGs; writes are atomic so readers never see half a file."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, item_id: int, transform: DisplayTransform, size: int | None) -> Path:
        bucket = f"{item_id // 1000:06d}"
        return self.root / "thumbs" / bucket / f"{item_id}_{transform.key}_{size or 'full'}.png"

    def get(self, item_id: int, transform: DisplayTransform, size: int | None) -> bytes | None:
        try:
            return self.path(item_id, transform, size).read_bytes()
        except FileNotFoundError:
            return None

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
        except FileNotFoundError:
            pass

    def put(self, item_id: int, transform: DisplayTransform, size: int | None, png: bytes) -> None:
        target = self.path(item_id, transform, size)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(png)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def render(
        self,
        source: ImageSource,
        item_id: int,
        uri: str,
        frame: int,
        transform: DisplayTransform,
        size: int | None,
        shape: tuple[int | None, int | None] = (None, None),
    ) -> bytes:
        """The cached PNG, or render it now (reading a strided slice where the source allows)."""
        cached = self.get(item_id, transform, size)
        if cached is not None:
            return cached
        height, width = shape
        stride = 1
        if size is not None and height and width:
            # Read every stride-th pixel: local files keep twice the target size to average noise
            # away; remote sources (Tiled) keep just the target size, since bytes over the network
            # are what a thumbnail costs there.
            oversample = 1 if getattr(source, "remote", False) else 2
            stride = max(1, min(height, width) // (oversample * size))
        image = source.read(uri, frame, stride=stride)
        png = render_png(image, transform, size)
        self.put(item_id, transform, size, png)
        return png
