"""Opens the adapter for a stored source row. A new kind of source adds a branch here."""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from pathlib import Path

from backend.errors import Invalid
from backend.images.decode import FrameLimits
from backend.settings import Settings
from backend.sources.base import ImageSource
from backend.sources.folder import FolderSource
from backend.storage.secrets_at_rest import decrypt_secret, encrypt_secret
from backend.storage.tables import Source

# Tiled adapters hold a connection pool and the structures of the arrays they read; pages open a
# source per request, so keep the last few open. Keyed by the key's digest, never the key itself.
_TILED_OPEN = 32
_tiled: OrderedDict[tuple[str, str, int, FrameLimits], ImageSource] = OrderedDict()
_tiled_lock = threading.Lock()


def _open_tiled(source: Source, settings: Settings) -> ImageSource:
    from backend.sources.tiled import ListingLimits, TiledSource

    digest = hashlib.sha256((source.api_key or "").encode()).hexdigest()
    key = (source.uri, digest, settings.max_image_pixels, settings.frame_limits)
    with _tiled_lock:
        adapter = _tiled.get(key)
        if adapter is not None:
            _tiled.move_to_end(key)
            return adapter
        api_key = decrypt_secret(settings, source.api_key)  # the row holds ciphertext only
        limits = ListingLimits(max_nodes=settings.tiled_scan_max_nodes)
        adapter = TiledSource(
            source.uri, api_key, settings.max_image_pixels, limits=limits, frame_limits=settings.frame_limits
        )
        _tiled[key] = adapter
        while len(_tiled) > _TILED_OPEN:
            _, old = _tiled.popitem(last=False)
            old.close()  # type: ignore[attr-defined]
    return adapter


def open_source(source: Source, settings: Settings) -> ImageSource:
    if source.kind == "folder":
        return FolderSource(
            Path(source.uri), settings.roots, settings.max_image_pixels, settings.frame_limits
        )
    if source.kind == "tiled":
        return _open_tiled(source, settings)
    raise Invalid(f"unknown source kind '{source.kind}'")


def is_remote(spec: str) -> bool:
    """Whether a source spec names a Tiled node (which may need an API key) rather than a folder."""
    from backend.sources.tiled_location import is_tiled_uri

    return is_tiled_uri(spec or "")


def api_keys_for(sources: list[str], api_key: str | None) -> dict[str, str]:
    """One API key given for a form or command applies to each of its Tiled sources."""
    if not api_key:
        return {}
    return {spec: api_key for spec in sources if is_remote(spec)}


def prepare_source(spec: str, settings: Settings, api_key: str | None = None) -> Source:
    """A new, unsaved source row for what a user typed: a folder (confined to the roots) or a URI.

    A Tiled URI is stored in its canonical form, and only if its host is in ``LABELWISE_TILED_HOSTS``;
    a key given in its query (``?api_key=``) is moved to the row's server-side ``api_key`` (encrypted,
    ``backend.storage.secrets_at_rest``) and never kept in the URI.
    """
    from backend.sources.paths import resolve_in_roots

    spec = (spec or "").strip()
    if is_remote(spec):
        from backend.sources.tiled_location import check_tiled_host, parse_tiled_uri

        where, key_in_uri = parse_tiled_uri(spec)
        check_tiled_host(where, settings.tiled_hosts)
        stored = encrypt_secret(settings, api_key or key_in_uri or None)
        return Source(kind="tiled", uri=where.uri, api_key=stored, dataset_id=0)
    folder = resolve_in_roots(spec, settings.roots)
    return Source(kind="folder", uri=str(folder), dataset_id=0)
