"""The interface every source adapter (folder, Tiled) implements."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np


@dataclass(frozen=True, slots=True)
class SourceEntry:
    """One item found by a scan. ``error`` is set when the item exists but cannot be read;
    ``meta`` holds what the file's header says about the acquisition (run, sample, exposure...)."""

    uri: str
    frame: int = 0
    height: int | None = None
    width: int | None = None
    channels: int | None = None
    dtype: str | None = None
    error: str | None = None
    meta: dict[str, Any] | None = None


class ImageSource(Protocol):
    kind: str

    def scan(self) -> Iterator[SourceEntry]:
        """Every item under the source, in a stable order; never raises for one bad file."""
        ...

    def read(self, uri: str, frame: int = 0, *, stride: int = 1, native: bool = False) -> np.ndarray:
        """The item's pixels as float32, (H, W) or (H, W, C). ``stride`` > 1 may downsample;
        ``native`` keeps the values in the type the source stores them in (exact raw values)."""
        ...

    def location(self, uri: str, frame: int = 0) -> str:
        """A human-readable place of the item (path or URL), free of secrets."""
        ...

    def version(self, uri: str) -> str:
        """What changes when the item's pixels change (a file's size and modification time), for
        caches of what was computed from them; "" where the source's items do not change."""
        ...
