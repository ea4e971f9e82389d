"""The folder browser behind "create a dataset": the data roots and the folders below them."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from backend.settings import Settings
from backend.sources.folder import is_image_name
from backend.sources.paths import is_within, resolve_in_roots

MAX_ENTRIES = 500
MAX_VISITED = 10_000  # directory entries one folder's count reads at most (a count then says "N+")


@dataclass
class FolderEntry:
    path: str
    name: str
    images: int  # image files inside and below it, as adding it would find them (up to MAX_VISITED read)
    more: bool  # the count stopped at MAX_VISITED entries read


@dataclass
class FolderListing:
    path: str | None  # None: the list of data roots
    parent: str | None
    folders: list[FolderEntry]
    images_here: int
    truncated: bool
    not_utf8: int = 0  # sub-folders left out: a name that is not UTF-8 can be neither shown nor sent back


def _count_images(path: Path) -> tuple[int, bool]:
    """Image files in ``path`` and its sub-folders (the folder source walks them too: a root whose
    images sit in ``images/`` read "0 images"), reading at most ``MAX_VISITED`` entries."""
    count, visited, pending = 0, 0, [path]
    while pending:
        try:
            with os.scandir(pending.pop()) as entries:
                for entry in entries:
                    visited += 1
                    if visited > MAX_VISITED:
                        return count, True
                    if entry.is_dir(follow_symlinks=False):
                        pending.append(Path(entry.path))
                    elif is_image_name(entry.name) and entry.is_file():
                        count += 1
        except OSError:
            continue
    return count, False


def _entry(path: Path, name: str | None = None) -> FolderEntry:
    images, more = _count_images(path)
    return FolderEntry(str(path), name or path.name, images, more)


def list_folders(settings: Settings, raw: str | None) -> FolderListing:
    """Sub-folders of ``raw`` (confined to the data roots like every folder source), or the roots."""
    roots = settings.roots
    if not raw:
        shown = [_entry(r, str(r)) for r in roots if r.is_dir()]
        return FolderListing(None, None, shown, 0, False)
    folder = resolve_in_roots(raw, roots)
    subfolders: list[Path] = []
    truncated = False
    not_utf8 = 0
    with os.scandir(folder) as entries:
        for entry in sorted(entries, key=lambda e: e.name.lower()):
            if entry.name.startswith(".") or not entry.is_dir(follow_symlinks=False):
                continue
            if os.fsencode(entry.name).decode("utf-8", "replace") != entry.name:
                not_utf8 += 1
                continue
            if len(subfolders) >= MAX_ENTRIES:
                truncated = True
                break
            subfolders.append(Path(entry.path))
    parent = None if folder in roots else str(folder.parent)
    if parent is not None and not any(is_within(Path(parent), r) for r in roots):
        parent = None
    images, _ = _count_images(folder)
    return FolderListing(str(folder), parent, [_entry(p) for p in subfolders], images, truncated, not_utf8)
