"""Opens the adapter for a stored source row. A new kind of source adds a branch here."""

from __future__ import annotations

from pathlib import Path

from backend.errors import Invalid
from backend.settings import Settings
from backend.sources.base import ImageSource
from backend.sources.folder import FolderSource
from backend.storage.tables import Source


def open_source(source: Source, settings: Settings) -> ImageSource:
    if source.kind == "folder":
        return FolderSource(Path(source.uri), settings.roots, settings.max_image_pixels)
    raise Invalid(f"unknown source kind '{source.kind}'")


def prepare_source(spec: str, settings: Settings, api_key: str | None = None) -> Source:
    """A new, unsaved source row for what a user typed: a folder (confined to the roots) or a URI."""
    from backend.sources.paths import resolve_in_roots

    spec = (spec or "").strip()
    if spec.startswith(("tiled+", "http://", "https://")):
        raise Invalid(f"Tiled sources are not supported yet: {spec}")
    folder = resolve_in_roots(spec, settings.roots)
    return Source(kind="folder", uri=str(folder), dataset_id=0)
