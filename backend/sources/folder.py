"""Folder source: a directory under a data root, walked recursively for images and arrays."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from backend.errors import Forbidden, NotFound, TooLarge, Unreadable
from backend.images import decode, hdf5
from backend.sources.base import SourceEntry
from backend.sources.paths import is_within

# By the suffix that says the format (``decode.format_of``): ``scan.edf.gz`` is an EDF file.
IMAGE_SUFFIXES = decode.FORMAT_SUFFIXES


def is_image_name(name: str) -> bool:
    """Whether a folder source lists a file of this name (hidden files are not)."""
    return not name.startswith(".") and decode.format_of(name) in IMAGE_SUFFIXES


class FolderSource:
    """Reads files below ``root``; item uris are POSIX paths relative to it (``a/b.tif``)."""

    kind = "folder"

    def __init__(
        self,
        root: Path,
        roots: list[Path],
        max_pixels: int,
        limits: decode.FrameLimits = decode.DEFAULT_LIMITS,
    ) -> None:
        self.root = root
        self.roots = roots
        self.max_pixels = max_pixels
        self.limits = limits

    def files(self) -> list[str]:
        """Relative paths of candidate files, sorted; symlinked folders are not followed."""
        if not self.root.is_dir():
            raise NotFound(f"folder '{self.root}' no longer exists")
        found: list[str] = []
        for dirpath, dirnames, filenames in os.walk(self.root, followlinks=False):
            dirnames.sort()
            base = Path(dirpath)
            through_master = hdf5.eiger_data_files(filenames)
            for name in sorted(filenames):
                if name in through_master:
                    continue
                if is_image_name(name):
                    found.append((base / name).relative_to(self.root).as_posix())
        return found

    def scan(self) -> Iterator[SourceEntry]:
        for rel in self.files():
            yield from self.probe(rel)

    def probe(self, rel: str) -> list[SourceEntry]:
        """The items one file holds, or one entry that says why it cannot be read (an HDF5 file
        that points outside the data roots is one such entry)."""
        shown = os.fsencode(rel).decode("utf-8", "backslashreplace")
        if shown != rel:  # bytes that are not UTF-8: such a name cannot be stored, shown or sent
            return [SourceEntry(uri=shown, error="file name is not UTF-8 text: rename the file to read it")]
        try:
            path = self.path_of(rel)
            return [
                SourceEntry(uri=rel, frame=f, error=info.error, meta=info.meta or None)
                if info.error
                else SourceEntry(
                    uri=rel,
                    frame=f,
                    height=info.shape[0],
                    width=info.shape[1],
                    channels=info.shape[2],
                    dtype=info.shape[3],
                    meta=info.meta or None,
                )
                for f, info in enumerate(decode.probe_frames(path, roots=self.roots, limits=self.limits))
            ]
        except (Unreadable, Forbidden, TooLarge, NotFound) as exc:
            return [SourceEntry(uri=rel, error=exc.message)]

    def path_of(self, rel: str) -> Path:
        path = (self.root / rel).resolve()
        if not any(is_within(path, root) for root in self.roots):
            raise Forbidden(f"'{rel}' is a link that leaves the data roots")
        if not path.is_file():
            raise NotFound(f"file '{rel}' is missing from '{self.root}'")
        return path

    def read(self, uri: str, frame: int = 0, *, stride: int = 1, native: bool = False) -> np.ndarray:
        return decode.read_file(
            self.path_of(uri),
            frame,
            max_pixels=self.max_pixels,
            stride=stride,
            roots=self.roots,
            limits=self.limits,
            native=native,
        )

    def version(self, uri: str) -> str:
        stat = self.path_of(uri).stat()
        return f"{stat.st_size}:{stat.st_mtime_ns}"

    def location(self, uri: str, frame: int = 0) -> str:
        path = self.root / uri
        return f"{path}#{frame}" if frame else str(path)
