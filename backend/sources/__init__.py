"""Image sources: adapters of one ``ImageSource`` interface. Nothing above them knows which is which."""

from backend.sources.base import ImageSource, SourceEntry
from backend.sources.registry import open_source

__all__ = ["ImageSource", "SourceEntry", "open_source"]
