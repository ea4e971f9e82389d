"""Tiled source: every array node under a Tiled container, read over HTTP without copying the data set.

Speaks Tiled's REST API (``/api/v1/search``, ``/metadata``, ``/array/full``) through one pooled
``httpx.Client`` per source rather than ``tiled.client``: a read is one request for exactly the
(strided) slice we want, the bytes that cross the network can be counted, and errors map to our
own typed errors. The API key travels only in the ``Authorization`` header; it is never part of a
URL, a message, a ``repr`` or anything a client of Labelwise receives.

Which servers: only hosts listed in ``LABELWISE_TILED_HOSTS`` (``check_tiled_host``), so no one
can make the server knock on internal addresses; an answer the server did not expect is reported by
its status code only, never with the body (which could be an internal service's page). Listing
is bounded (``ListingLimits``): a server that pages forever, or drips bytes, cannot keep a thread
busy after the client has gone.

URIs and the host check: ``tiled_location.py``. Item uris are node paths relative to the source node; a 2-D
array is one item, a stack one item per frame (every axis before the last two counts frames: Tiled
serves numbered multi-page TIFFs as (files, pages, H, W)), an (H, W, 3|4) array one colour image.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import quote

import httpx
import numpy as np

from backend.errors import Forbidden, Invalid, LabelwiseError, NotFound, SourceUnavailable, Unreadable
from backend.images import decode, hdf5
from backend.settings import Settings
from backend.sources.base import SourceEntry
from backend.sources.tiled_location import (
    API,
    TiledLocation,
    check_tiled_host,
    parse_tiled_uri,
)

PAGE_LIMIT = 100  # Tiled's default; servers refuse more than their own maximum (300 by default)
MAX_DEPTH = 32  # containers nested deeper than this are a loop or a mistake
TIMEOUT = httpx.Timeout(60.0, connect=5.0)
STRUCTURE_CACHE_SIZE = 200_000
MAX_JSON_BYTES = 32 * 1024 * 1024  # one page of metadata is kilobytes; more is not a Tiled server


@dataclass(frozen=True, slots=True)
class ListingLimits:
    """How far one listing may go: children per container, nodes in all, and a wall-clock deadline."""

    max_children: int | None = None  # more are left out (the listing says it is truncated)
    max_nodes: int | None = None  # a walk past this many nodes stops with an error
    seconds: float | None = None  # no request starts, and no body is read, after this long

    def deadline(self) -> float | None:
        return None if self.seconds is None else time.monotonic() + self.seconds


class _ListingStopped(SourceUnavailable):
    """The listing ran out of time."""


@dataclass(frozen=True, slots=True)
class ArrayInfo:
    """What a read needs to know of an array node, from its structure.

    Every axis before the last two counts frames, in C order: Tiled serves numbered TIFFs
    (scan_00001.tif, ...) as one node of (files, H, W), or (files, pages, H, W) where they hold
    several pages; an HDF5 scan grid (5, 10, H, W) is 50 frames. Leading axes of length 1 are
    left out first, so (1, H, W, 3) is still one colour image."""

    shape: tuple[int, ...]
    dtype: np.dtype

    @property
    def core(self) -> tuple[int, ...]:
        """The shape without its leading axes of length 1."""
        shape = self.shape
        while len(shape) > 2 and shape[0] == 1:
            shape = shape[1:]
        return shape

    @property
    def color(self) -> bool:
        core = self.core
        return len(core) == 3 and core[-1] in (3, 4) and core[0] > 4

    @property
    def frames(self) -> int:
        if len(self.core) == 2 or self.color:
            return 1
        return math.prod(self.core[:-2])

    @property
    def frame_shape(self) -> tuple[int, int, int]:
        """(height, width, channels) of one frame."""
        core = self.core
        if self.color:
            return core[0], core[1], core[2]
        return core[-2], core[-1], 1

    def selection(self, frame: int, step: int) -> str:
        """Tiled's ``slice`` parameter for frame ``frame`` read at every ``step``-th pixel."""
        core = self.core
        index = ["0"] * (len(self.shape) - len(core))
        if not self.color and len(core) > 2:
            index += [str(int(i)) for i in np.unravel_index(frame, core[:-2])]
        index += [f"::{step}", f"::{step}"]
        if self.color:
            index.append(":")
        return ",".join(index)


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
    items: int = 0  # images adding this node makes (arrays only): its frames, within the frame limits
    left_out: str | None = None  # why an image array adds no images: a frame limit, said with its value

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
    """The array's shape and dtype, or None when it is not a numeric array of 2 or more axes."""
    dtype = _dtype(structure)
    try:
        shape = tuple(int(n) for n in structure["shape"])
    except (KeyError, TypeError, ValueError):
        return None
    if dtype is None or dtype.kind not in "biuf" or len(shape) < 2 or 0 in shape:
        return None
    return ArrayInfo(shape, dtype)


class TiledSource:
    """Reads array nodes below one Tiled node; thread-safe, one connection pool per instance."""

    kind = "tiled"
    remote = True  # thumbnails read strided slices at the target size (bytes over the network cost)

    def __init__(
        self,
        uri: str,
        api_key: str | None,
        max_pixels: int,
        *,
        timeout: httpx.Timeout = TIMEOUT,
        limits: ListingLimits | None = None,
        frame_limits: decode.FrameLimits = decode.DEFAULT_LIMITS,
    ):
        self.where, key_in_uri = parse_tiled_uri(uri)
        self.name = self.where.uri
        self.max_pixels = max_pixels
        # What makes a frame (LABELWISE_MIN_FRAME_SIDE, LABELWISE_MAX_FRAMES_PER_FILE), as for folders.
        self.frame_limits = frame_limits
        self.limits = limits or ListingLimits()
        self._deadline = self.limits.deadline()
        self.truncated = False  # a listing left children out (ListingLimits.max_children)
        self._nodes_seen = 0
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

    def _remaining(self) -> float | None:
        if self._deadline is None:
            return None
        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            raise _ListingStopped(
                f"Tiled source '{self.name}' took longer than {self.limits.seconds:g} s; stopped asking",
                source=self.name,
            )
        return remaining

    def _fetch(
        self, url: str, params: dict | list | None, headers: dict | None, cap: int
    ) -> tuple[int, bytes]:
        """Status and body of one GET, the body read in chunks under the deadline and a size cap."""
        remaining = self._remaining()
        timeout = (
            TIMEOUT if remaining is None else httpx.Timeout(min(60.0, remaining), connect=min(5.0, remaining))
        )
        with self._http.stream("GET", url, params=params, headers=headers, timeout=timeout) as response:
            chunks: list[bytes] = []
            size = 0
            if response.status_code < 300:  # bodies of refusals are never read, nor shown
                for chunk in response.iter_bytes():
                    size += len(chunk)
                    if size > cap:
                        raise _TooMuch(
                            f"Tiled source '{self.name}' sent more than {cap} bytes for one answer"
                        )
                    chunks.append(chunk)
                    self._remaining()
            with self._lock:
                self.bytes_received += response.num_bytes_downloaded
                self.requests += 1
            return response.status_code, b"".join(chunks)

    def _get(
        self, route: str, rel: str = "", *, params: dict | list | None = None, raw: bool = False, cap: int = 0
    ) -> bytes:
        """One GET against the API; every failure becomes a typed error that names the source."""
        headers = {"Accept": "application/octet-stream"} if raw else None
        node = "/".join(self.where.child(rel).node) or "/"
        try:
            status, body = self._fetch(self._url(route, rel), params, headers, cap or MAX_JSON_BYTES)
        except httpx.TimeoutException:
            self._remaining()  # past the listing's deadline: say that, not "did not answer"
            raise SourceUnavailable(
                f"Tiled source '{self.name}' did not answer in time", source=self.name
            ) from None
        except httpx.HTTPError as exc:
            # Scrubbed whole, before any cut: a cut key would no longer match and its prefix leak.
            reason = self._scrub(str(exc))[:200] or type(exc).__name__
            raise SourceUnavailable(
                f"Tiled source '{self.name}' is unreachable: {reason}", source=self.name
            ) from None
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
        if status >= 300:  # a redirect or a refusal: its status only, never the body
            raise Invalid(
                f"Tiled source '{self.name}' answered HTTP {status}, which a Tiled server does not send here",
                source=self.name,
            )
        return body

    def _json(self, route: str, rel: str = "", params: dict | list | None = None) -> dict:
        payload = self._get(route, rel, params=params)
        try:
            body = json.loads(payload)
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
        limit = self.limits.max_children
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
                if limit is not None and offset >= limit:
                    self.truncated = True
                    return
                self._count_node()
                yield str(entry["id"]), entry.get("attributes", {})
                offset += 1
            count = (body.get("meta") or {}).get("count")
            if not data or len(data) < PAGE_LIMIT or (count is not None and offset >= count):
                return

    def _count_node(self) -> None:
        self._nodes_seen += 1
        if self.limits.max_nodes is not None and self._nodes_seen > self.limits.max_nodes:
            raise Invalid(
                f"Tiled source '{self.name}' has more than {self.limits.max_nodes} nodes; "
                "pick a smaller container (or raise LABELWISE_TILED_SCAN_MAX_NODES)",
                source=self.name,
            )

    def _array(self, rel: str) -> ArrayInfo:
        info = self._structures.get(rel)
        if info is not None:
            return info
        attrs = self.node(rel)
        info = _array_info(attrs.get("structure") or {}) if attrs.get("structure_family") == "array" else None
        if info is None:
            raise Unreadable(f"Tiled node '{rel}' of '{self.name}' is not a 2-D image or a stack of them")
        self._remember(rel, info)
        return info

    def _check_frames(self, info: ArrayInfo) -> None:
        """Raise ``Unreadable`` as a folder source's probe does for a file: frames too small a
        side, or more frames than ``LABELWISE_MAX_FRAMES_PER_FILE`` in one node."""
        height, width, _ = info.frame_shape
        self.frame_limits.check_frame(height, width)
        self.frame_limits.check_count(info.frames)

    def _too_small(self, attrs: dict) -> bool:
        info = _array_info(attrs.get("structure") or {})
        return info is not None and min(info.frame_shape[:2]) < self.frame_limits.min_side

    def _entries(self, rel: str, info: ArrayInfo) -> list[SourceEntry]:
        """One entry per frame, or, like a folder's file outside the frame limits, one unreadable
        entry saying why it is left out."""
        try:
            self._check_frames(info)
        except Unreadable as exc:
            return [SourceEntry(rel, error=exc.message)]
        height, width, channels = info.frame_shape
        return [SourceEntry(rel, f, height, width, channels, info.dtype.name) for f in range(info.frames)]

    def scan(self) -> Iterator[SourceEntry]:
        self._nodes_seen = 0
        attrs = self.node()
        family = attrs.get("structure_family")
        if family == "array":
            info = _array_info(attrs.get("structure") or {})
            if info is None:
                raise Invalid(f"Tiled node '{self.name}' is not a 2-D image or a stack of them")
            self._remember("", info)
            yield from self._entries("", info)
            return
        if family != "container":
            raise Invalid(f"Tiled node '{self.name}' is a {family}, not a container of arrays")
        # An Eiger master's pixel mask and flat field describe the detector: no frames, as a
        # folder source reads the same file, unless the container holds nothing else.
        described: list[tuple[str, ArrayInfo]] = []
        found = False
        for entry in self._walk("", 0, described):
            found = True
            yield entry
        if not found:
            for path, info in described:
                self._remember(path, info)
                yield from self._entries(path, info)

    def _nexus_signal(self, rel: str, arrays: set[str]) -> str | None:
        """The ``signal`` of a NeXus NXdata group (Tiled serves an HDF5 group's attributes as its
        metadata) where it names one of ``arrays``: the frames, beside axes, errors or masks."""
        metadata = self.node(rel).get("metadata") or {}
        nx_class, signal = metadata.get("NX_class"), metadata.get("signal")
        if nx_class == "NXdata" and isinstance(signal, str) and signal in arrays:
            return signal
        return None

    def _walk(self, rel: str, depth: int, described: list[tuple[str, ArrayInfo]]) -> Iterator[SourceEntry]:
        """Entries of the arrays below ``rel``; those that describe the detector
        (``hdf5.is_detector_array``, by their path on the server) go to ``described`` instead."""
        if depth > MAX_DEPTH:
            return
        children = list(self.children(rel))
        images = {
            key
            for key, attrs in children
            if attrs.get("structure_family") == "array" and _array_info(attrs.get("structure") or {})
        }
        # A group of several images may be a NeXus NXdata: then only its signal is frames, as a
        # folder source reads the file (one more request, for such groups only).
        signal = self._nexus_signal(rel, images) if len(images) > 1 else None
        # Beside arrays of at least LABELWISE_MIN_FRAME_SIDE a side, smaller ones (a NeXus (1, 3)
        # orientation, a 3x3 calibration) are metadata, skipped as a folder source skips them in an
        # HDF5 file; alone, each is one unreadable entry that says why, as a small .npy file is.
        small = {key for key, attrs in children if key in images and self._too_small(attrs)}
        # An Eiger series' data files beside their master are read through it, as in a folder.
        containers = [key for key, attrs in children if attrs.get("structure_family") == "container"]
        through_master = hdf5.eiger_data_files(containers, suffixed=False)
        for key, attrs in children:
            path = f"{rel}/{key}" if rel else key
            family = attrs.get("structure_family")
            if key in through_master:
                continue
            if family == "array":
                info = _array_info(attrs.get("structure") or {})
                if key in small and len(small) < len(images):
                    continue
                # 1-D or non-numeric arrays are metadata, not images
                if info is not None and (signal is None or key == signal):
                    if hdf5.is_detector_array("/".join(self.where.child(path).node)):
                        described.append((path, info))
                        continue
                    self._remember(path, info)
                    yield from self._entries(path, info)
            elif family == "container":
                yield from self._walk(path, depth + 1, described)

    def _left_out(self, info: ArrayInfo, beside_images: bool) -> str | None:
        """Why an image array adds no images, as a scan would leave it out (``_walk``,
        ``_entries``): the frame limits, named with their values; None when its frames are added."""
        height, width, _ = info.frame_shape
        limits = self.frame_limits
        if min(height, width) < limits.min_side:
            small = (
                f"frames of {width}x{height} pixels, smaller than the limit of {limits.min_side} a side "
                "(LABELWISE_MIN_FRAME_SIDE)"
            )
            if beside_images:
                return f"{small}: metadata beside the images, skipped"
            return f"{small}: added as one unreadable item"
        if info.frames > limits.max_frames:
            return (
                f"{info.frames} frames, more than the limit of {limits.max_frames} per node "
                "(LABELWISE_MAX_FRAMES_PER_FILE): added as one unreadable item"
            )
        return None

    def browse(self, rel: str = "") -> list[TiledNode]:
        """The children of a node for the Tiled browser: arrays with the images adding them makes
        (within the frame limits, as a scan applies them) or why they add none."""
        children = list(self.children(rel))
        infos = {
            key: _array_info(attrs.get("structure") or {})
            for key, attrs in children
            if attrs.get("structure_family") == "array"
        }
        images = [info for info in infos.values() if info is not None]
        big = [info for info in images if min(info.frame_shape[:2]) >= self.frame_limits.min_side]
        nodes: list[TiledNode] = []
        for key, attrs in children:
            path = f"{rel}/{key}" if rel else key
            family = str(attrs.get("structure_family"))
            structure = attrs.get("structure") or {}
            node = TiledNode(key, path, self.where.child(path).uri, family)
            if family == "array":
                info = infos[key]
                dtype = _dtype(structure)
                left_out = self._left_out(info, beside_images=bool(big)) if info else None
                node = TiledNode(
                    key,
                    path,
                    node.uri,
                    family,
                    shape=tuple(structure.get("shape") or ()),
                    dtype=dtype.name if dtype is not None else None,
                    items=info.frames if info and left_out is None else 0,
                    left_out=left_out,
                )
            elif family == "container":
                count = structure.get("count")
                node = TiledNode(key, path, node.uri, family, count=int(count) if count is not None else None)
            nodes.append(node)
        return nodes

    # --- pixels -------------------------------------------------------------------------------

    def read(self, uri: str, frame: int = 0, *, stride: int = 1, native: bool = False) -> np.ndarray:
        try:
            return self._read(uri, frame, max(1, int(stride)), native)
        except _Stale:
            with self._lock:
                self._structures.pop(uri, None)
            try:
                return self._read(uri, frame, max(1, int(stride)), native)
            except _Stale as exc:
                raise Unreadable(str(exc)) from None

    def _read(self, uri: str, frame: int, step: int, native: bool = False) -> np.ndarray:
        info = self._array(uri)
        self._check_frames(info)
        if not 0 <= frame < info.frames:
            raise NotFound(f"Tiled node '{uri}' of '{self.name}' has no frame {frame}")
        height, width, channels = info.frame_shape
        decode.check_pixels(height, width, self.max_pixels)
        selection = info.selection(frame, step)
        shape: tuple[int, ...] = (math.ceil(height / step), math.ceil(width / step))
        if info.color:
            shape = (*shape, channels)
        expected = math.prod(shape) * info.dtype.itemsize
        try:
            body = self._get("array/full", uri, params={"slice": selection}, raw=True, cap=expected)
        except _TooMuch:
            body = b""  # more than the structure promised: it changed on the server
        if len(body) != expected:
            raise _Stale(
                f"Tiled node '{uri}' of '{self.name}' sent {len(body)} bytes for a {shape} "
                f"{info.dtype.name} slice; has it changed on the server?"
            )
        return decode.finish(np.frombuffer(body, dtype=info.dtype).reshape(shape), native)

    def version(self, uri: str) -> str:
        """Tiled nodes are taken as unchanging, as the local copies of remote items are."""
        return ""

    def location(self, uri: str, frame: int = 0) -> str:
        place = self.where.child(uri).uri
        return f"{place}#{frame}" if frame else place


class _Stale(LabelwiseError):
    """The array's cached structure no longer matches what the server sends."""


class _TooMuch(Invalid):
    """An answer longer than its cap (metadata: ``MAX_JSON_BYTES``; pixels: what the shape needs)."""


@dataclass(frozen=True, slots=True)
class TiledListing:
    uri: str  # canonical URI of the browsed container
    parent: str | None  # canonical URI of its parent, None at the server's root
    nodes: list[TiledNode]
    truncated: bool = False  # the container has more children than the listing shows


def browse(
    uri: str,
    api_key: str | None,
    max_pixels: int,
    *,
    limits: ListingLimits | None = None,
    frame_limits: decode.FrameLimits = decode.DEFAULT_LIMITS,
) -> TiledListing:
    """The children of a Tiled container, for the datasets page's Tiled browser; item counts are
    what adding a node makes under ``frame_limits`` (the deployment's, as its sources apply)."""
    source = TiledSource(uri, api_key, max_pixels, limits=limits, frame_limits=frame_limits)
    try:
        family = source.node().get("structure_family")
        if family != "container":
            raise Invalid(f"Tiled node '{source.name}' is a {family}, not a container")
        where = source.where
        parent = None
        if where.node:
            up = TiledLocation(where.scheme, where.netloc, where.prefix, where.node[:-1], where.explicit_api)
            parent = up.uri
        nodes = source.browse()
        return TiledListing(source.name, parent, nodes, truncated=source.truncated)
    finally:
        source.close()


def browse_for_admin(uri: str, api_key: str | None, settings: Settings) -> TiledListing:
    """What the doors call: only allowed hosts, and a listing bounded in children and in time."""
    check_tiled_host(parse_tiled_uri(uri)[0], settings.tiled_hosts)
    limits = ListingLimits(
        max_children=settings.tiled_browse_max_items, seconds=settings.tiled_browse_seconds
    )
    return browse(uri, api_key, settings.max_image_pixels, limits=limits, frame_limits=settings.frame_limits)
