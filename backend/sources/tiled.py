"""Tiled source: every array node under a Tiled container, read over HTTP without copying the data set.

Speaks Tiled's REST API (``/api/v1/search``, ``/metadata``, ``/array/full``) through one pooled
``httpx.Client`` per source rather than ``tiled.client``: a read is one request for exactly the
(strided) slice we want, the bytes that cross the network can be counted, and errors map to our
own typed errors. The API key travels only in the ``Authorization`` header; it is never part of a
URL, a message, a ``repr`` or anything a client of Labelwise receives.

URIs: ``tiled+http://host:port/path/to/node`` (or ``tiled+https://``, or plain ``http(s)://``).
A URL copied from Tiled itself (``.../api/v1/metadata/path``) is accepted too, and keeps any
prefix the server is mounted under. Item uris are node paths relative to the source node; a 2-D
array is one item, a 3-D stack one item per frame, an (H, W, 3|4) array one colour image.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import parse_qs, quote, unquote, urlsplit

import httpx
import numpy as np

from backend.errors import Forbidden, Invalid, LabelwiseError, NotFound, SourceUnavailable, Unreadable
from backend.images import decode
from backend.sources.base import SourceEntry

API = "/api/v1"
PAGE_LIMIT = 100  # Tiled's default; servers refuse more than their own maximum (300 by default)
MAX_DEPTH = 32  # containers nested deeper than this are a loop or a mistake
TIMEOUT = httpx.Timeout(60.0, connect=5.0)
STRUCTURE_CACHE_SIZE = 200_000
_API_ROUTES = ("metadata/", "search/", "array/full/", "array/block/", "node/full/", "container/full/")


def is_tiled_uri(spec: str) -> bool:
    """Whether what a user typed names a Tiled node rather than a folder."""
    return spec.strip().lower().startswith(("tiled+http://", "tiled+https://", "http://", "https://"))


@dataclass(frozen=True, slots=True)
class TiledLocation:
    """A parsed Tiled URI: the server's API root and the node path (segments, unquoted)."""

    scheme: str
    netloc: str
    prefix: str  # where the server is mounted, '' unless the URI showed '/api/v1/'
    node: tuple[str, ...]
    explicit_api: bool

    @property
    def api_root(self) -> str:
        return f"{self.scheme}://{self.netloc}{self.prefix}{API}"

    @property
    def uri(self) -> str:
        """The canonical, secret-free form stored in ``Source.uri``."""
        path = "/".join(quote(seg, safe="") for seg in self.node)
        if self.explicit_api:
            return f"tiled+{self.scheme}://{self.netloc}{self.prefix}{API}/metadata/{path}"
        return (
            f"tiled+{self.scheme}://{self.netloc}/{path}" if path else f"tiled+{self.scheme}://{self.netloc}"
        )

    def child(self, rel: str) -> TiledLocation:
        extra = tuple(seg for seg in rel.split("/") if seg)
        return TiledLocation(self.scheme, self.netloc, self.prefix, self.node + extra, self.explicit_api)


def parse_tiled_uri(spec: str) -> tuple[TiledLocation, str | None]:
    """Parse a Tiled URI; an ``api_key`` query parameter is taken out and returned apart."""
    raw = (spec or "").strip()
    if raw.lower().startswith("tiled+"):
        raw = raw[len("tiled+") :]
    try:
        parts = urlsplit(raw)
    except ValueError:
        raise Invalid("not a valid Tiled URI (expected tiled+http://host:port/path)") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Invalid("not a valid Tiled URI (expected tiled+http://host:port/path)")
    if parts.username or parts.password:
        raise Invalid("put credentials in the API key field, not in the Tiled URI")
    try:
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        raise Invalid(f"the Tiled URI has an invalid port: {parts.netloc}") from None
    keys = parse_qs(parts.query).get("api_key")
    path = parts.path
    prefix, explicit = "", False
    if f"{API}/" in path + "/":
        prefix, _, rest = (path + ("/" if path.endswith(API) else "")).partition(f"{API}/")
        prefix = prefix.rstrip("/")
        explicit = True
        for route in _API_ROUTES:
            if rest.startswith(route):
                rest = rest[len(route) :]
                break
        path = rest
    node = tuple(unquote(seg) for seg in path.split("/") if seg)
    if any(seg in (".", "..") for seg in node):
        raise Invalid("'.' and '..' are not allowed in Tiled node paths")
    location = TiledLocation(parts.scheme, parts.netloc.lower(), prefix, node, explicit)
    return location, (keys[0] if keys else None)


@dataclass(frozen=True, slots=True)
class ArrayInfo:
    """What a read needs to know of an array node, from its structure."""

    shape: tuple[int, ...]
    dtype: np.dtype

    @property
    def color(self) -> bool:
        return len(self.shape) == 3 and self.shape[-1] in (3, 4) and self.shape[0] > 4

    @property
    def frames(self) -> int:
        if len(self.shape) == 2 or self.color:
            return 1
        return self.shape[0] if len(self.shape) == 3 else 0

    @property
    def frame_shape(self) -> tuple[int, int, int]:
        """(height, width, channels) of one frame."""
        if len(self.shape) == 2:
            return self.shape[0], self.shape[1], 1
        if self.color:
            return self.shape[0], self.shape[1], self.shape[2]
        return self.shape[1], self.shape[2], 1


@dataclass(frozen=True, slots=True)
class TiledNode:
    """One child of a container, as the Tiled browser lists it."""

    name: str
    path: str  # relative to the browsed node
    uri: str  # canonical URI of this node, usable as a source
    family: str  # "container", "array", or another Tiled structure family
    shape: tuple[int, ...] | None = None
    dtype: str | None = None
    count: int | None = None  # children of a container, when the server says
    items: int = 0  # images this node holds itself (arrays only)

    @property
    def selectable(self) -> bool:
        return self.family == "container" or self.items > 0


def _dtype(structure: dict) -> np.dtype | None:
    try:
        data_type = structure["data_type"]
        order = ">" if data_type.get("endianness") == "big" else "<"
        return np.dtype(f"{order}{data_type['kind']}{int(data_type['itemsize'])}")
    except (KeyError, TypeError, ValueError):
        return None


def _array_info(structure: dict) -> ArrayInfo | None:
    """The array's shape and dtype, or None when it is not a numeric 2-D/3-D array."""
    dtype = _dtype(structure)
    try:
        shape = tuple(int(n) for n in structure["shape"])
    except (KeyError, TypeError, ValueError):
        return None
    if dtype is None or dtype.kind not in "biuf" or len(shape) not in (2, 3) or 0 in shape:
        return None
    return ArrayInfo(shape, dtype)


class TiledSource:
    """Reads array nodes below one Tiled node; thread-safe, one connection pool per instance."""

    kind = "tiled"
    remote = True  # thumbnails read strided slices at the target size (bytes over the network cost)

    def __init__(self, uri: str, api_key: str | None, max_pixels: int, *, timeout: httpx.Timeout = TIMEOUT):
        self.where, key_in_uri = parse_tiled_uri(uri)
        self.name = self.where.uri
        self.max_pixels = max_pixels
        self._key = api_key or key_in_uri
        headers = {"Accept": "application/json"}
        if self._key:
            headers["Authorization"] = f"Apikey {self._key}"
        self._http = httpx.Client(headers=headers, timeout=timeout, follow_redirects=False)
        self._structures: dict[str, ArrayInfo] = {}
        self._lock = threading.Lock()
        self.bytes_received = 0  # body bytes as they crossed the network, all requests
        self.requests = 0

    def __repr__(self) -> str:
        return f"TiledSource({self.name!r})"

    def close(self) -> None:
        self._http.close()

    # --- HTTP -------------------------------------------------------------------------------

    def _scrub(self, text: str) -> str:
        return text.replace(self._key, "[api key]") if self._key else text

    def _url(self, route: str, rel: str = "") -> str:
        node = self.where.child(rel).node
        return f"{self.where.api_root}/{route}/" + "/".join(quote(seg, safe="") for seg in node)

    def _get(self, route: str, rel: str = "", *, params: dict | list | None = None, raw: bool = False):
        """One GET against the API; every failure becomes a typed error that names the source."""
        headers = {"Accept": "application/octet-stream"} if raw else None
        node = "/".join(self.where.child(rel).node) or "/"
        try:
            response = self._http.get(self._url(route, rel), params=params, headers=headers)
        except httpx.TimeoutException:
            raise SourceUnavailable(
                f"Tiled source '{self.name}' did not answer in time", source=self.name
            ) from None
        except httpx.HTTPError as exc:
            reason = self._scrub(str(exc)) or type(exc).__name__
            raise SourceUnavailable(
                f"Tiled source '{self.name}' is unreachable: {reason}", source=self.name
            ) from None
        with self._lock:
            self.bytes_received += response.num_bytes_downloaded
            self.requests += 1
        status = response.status_code
        if status == 401:
            why = "the API key is missing or wrong" if self._key else "it needs an API key; none was given"
            raise Forbidden(f"Tiled source '{self.name}' refused access (HTTP 401): {why}", source=self.name)
        if status == 403:
            raise Forbidden(
                f"Tiled source '{self.name}' refused access to '{node}' (HTTP 403): "
                "the API key may not read it",
                source=self.name,
            )
        if status == 404:
            raise NotFound(f"Tiled source '{self.name}' has no node '{node}'", source=self.name)
        if status >= 500:
            raise SourceUnavailable(f"Tiled source '{self.name}' failed (HTTP {status})", source=self.name)
        if status >= 300:
            detail = self._scrub(response.text[:200])
            raise Invalid(f"Tiled source '{self.name}' answered HTTP {status}: {detail}", source=self.name)
        return response

    def _json(self, route: str, rel: str = "", params: dict | list | None = None) -> dict:
        response = self._get(route, rel, params=params)
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict) or "data" not in body:
            raise Invalid(f"'{self.name}' does not look like a Tiled server (no Tiled JSON at {API})")
        return body

    # --- structure ----------------------------------------------------------------------------

    def _remember(self, rel: str, info: ArrayInfo) -> None:
        with self._lock:
            if len(self._structures) >= STRUCTURE_CACHE_SIZE:
                self._structures.clear()
            self._structures[rel] = info

    def node(self, rel: str = "") -> dict:
        """The node's attributes (structure family, structure)."""
        return self._json("metadata", rel)["data"].get("attributes", {})

    def children(self, rel: str = "") -> Iterator[tuple[str, dict]]:
        """(key, attributes) of a container's children, page by page, in the server's order."""
        offset = 0
        while True:
            params = [
                ("page[offset]", str(offset)),
                ("page[limit]", str(PAGE_LIMIT)),
                ("fields", "structure_family"),
                ("fields", "structure"),
            ]
            body = self._json("search", rel, params)
            data = body.get("data") or []
            for entry in data:
                yield str(entry["id"]), entry.get("attributes", {})
            offset += len(data)
            count = (body.get("meta") or {}).get("count")
            if not data or len(data) < PAGE_LIMIT or (count is not None and offset >= count):
                return

    def _array(self, rel: str) -> ArrayInfo:
        info = self._structures.get(rel)
        if info is not None:
            return info
        attrs = self.node(rel)
        info = _array_info(attrs.get("structure") or {}) if attrs.get("structure_family") == "array" else None
        if info is None:
            raise Unreadable(f"Tiled node '{rel}' of '{self.name}' is not a 2-D image or a 3-D stack")
        self._remember(rel, info)
        return info

    def _entries(self, rel: str, info: ArrayInfo) -> list[SourceEntry]:
        height, width, channels = info.frame_shape
        return [SourceEntry(rel, f, height, width, channels, info.dtype.name) for f in range(info.frames)]

    def scan(self) -> Iterator[SourceEntry]:
        attrs = self.node()
        family = attrs.get("structure_family")
        if family == "array":
            info = _array_info(attrs.get("structure") or {})
            if info is None:
                raise Invalid(f"Tiled node '{self.name}' is not a 2-D image or a 3-D stack")
            self._remember("", info)
            yield from self._entries("", info)
            return
        if family != "container":
            raise Invalid(f"Tiled node '{self.name}' is a {family}, not a container of arrays")
        yield from self._walk("", 0)

    def _walk(self, rel: str, depth: int) -> Iterator[SourceEntry]:
        if depth > MAX_DEPTH:
            return
        for key, attrs in list(self.children(rel)):
            path = f"{rel}/{key}" if rel else key
            family = attrs.get("structure_family")
            if family == "array":
                info = _array_info(attrs.get("structure") or {})
                if info is not None:  # 1-D or non-numeric arrays are metadata, not images
                    self._remember(path, info)
                    yield from self._entries(path, info)
            elif family == "container":
                yield from self._walk(path, depth + 1)

    def browse(self, rel: str = "") -> list[TiledNode]:
        """The children of a node for the Tiled browser (arrays with their item counts)."""
        nodes: list[TiledNode] = []
        for key, attrs in self.children(rel):
            path = f"{rel}/{key}" if rel else key
            family = str(attrs.get("structure_family"))
            structure = attrs.get("structure") or {}
            node = TiledNode(key, path, self.where.child(path).uri, family)
            if family == "array":
                info = _array_info(structure)
                dtype = _dtype(structure)
                node = TiledNode(
                    key,
                    path,
                    node.uri,
                    family,
                    shape=tuple(structure.get("shape") or ()),
                    dtype=dtype.name if dtype is not None else None,
                    items=info.frames if info else 0,
                )
            elif family == "container":
                count = structure.get("count")
                node = TiledNode(key, path, node.uri, family, count=int(count) if count is not None else None)
            nodes.append(node)
        return nodes

    # --- pixels -------------------------------------------------------------------------------

    def read(self, uri: str, frame: int = 0, *, stride: int = 1) -> np.ndarray:
        try:
            return self._read(uri, frame, max(1, int(stride)))
        except _Stale:
            with self._lock:
                self._structures.pop(uri, None)
            try:
                return self._read(uri, frame, max(1, int(stride)))
            except _Stale as exc:
                raise Unreadable(str(exc)) from None

    def _read(self, uri: str, frame: int, step: int) -> np.ndarray:
        info = self._array(uri)
        if not 0 <= frame < info.frames:
            raise NotFound(f"Tiled node '{uri}' of '{self.name}' has no frame {frame}")
        height, width, channels = info.frame_shape
        decode.check_pixels(height, width, self.max_pixels)
        plane = f"::{step},::{step}"
        if len(info.shape) == 2:
            selection = plane
        elif info.color:
            selection = f"{plane},:"
        else:
            selection = f"{frame},{plane}"
        response = self._get("array/full", uri, params={"slice": selection}, raw=True)
        shape: tuple[int, ...] = (math.ceil(height / step), math.ceil(width / step))
        if info.color:
            shape = (*shape, channels)
        body = response.content
        if len(body) != math.prod(shape) * info.dtype.itemsize:
            raise _Stale(
                f"Tiled node '{uri}' of '{self.name}' sent {len(body)} bytes for a {shape} "
                f"{info.dtype.name} slice; has it changed on the server?"
            )
        return decode.to_float(np.frombuffer(body, dtype=info.dtype).reshape(shape))

    def version(self, uri: str) -> str:
        """Tiled nodes are taken as unchanging, as the local copies of remote items are."""
        return ""

    def location(self, uri: str, frame: int = 0) -> str:
        place = self.where.child(uri).uri
        return f"{place}#{frame}" if frame else place


class _Stale(LabelwiseError):
    """The array's cached structure no longer matches what the server sends."""


@dataclass(frozen=True, slots=True)
class TiledListing:
    uri: str  # canonical URI of the browsed container
    parent: str | None  # canonical URI of its parent, None at the server's root
    nodes: list[TiledNode]


def browse(uri: str, api_key: str | None, max_pixels: int) -> TiledListing:
    """The children of a Tiled container, for the datasets page's Tiled browser."""
    source = TiledSource(uri, api_key, max_pixels)
    try:
        family = source.node().get("structure_family")
        if family != "container":
            raise Invalid(f"Tiled node '{source.name}' is a {family}, not a container")
        where = source.where
        parent = None
        if where.node:
            up = TiledLocation(where.scheme, where.netloc, where.prefix, where.node[:-1], where.explicit_api)
            parent = up.uri
        return TiledListing(source.name, parent, source.browse())
    finally:
        source.close()
