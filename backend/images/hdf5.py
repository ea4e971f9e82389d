"""HDF5 arrays as frames, confined to the data roots by what a file points at, not only by its path.

An HDF5 file can send the library to other files: external raw storage (any bytes, any file:
``/etc/passwd`` served as pixels), external links and virtual datasets (other HDF5 files). The
policy (docs/decisions/0004): external raw storage is refused; every place the library could open
for an external link or a virtual dataset's source must lie inside the data roots. The check runs
each time a file is opened, at scan and at read, in the same open handle that is then read, since
a file may change after it was scanned.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path, PurePath
from typing import Any, NamedTuple

import numpy as np

from backend.errors import Forbidden, Unreadable

# Where the library looks for another file besides the name itself (H5Pset_elink_prefix and
# H5Pset_virtual_prefix document the search: these variables, the parent file's folder, the
# working directory).
_PREFIX_VARIABLES = {"link": "HDF5_EXT_PREFIX", "virtual": "HDF5_VDS_PREFIX"}


def _is_within(path: Path, roots: Sequence[Path]) -> bool:
    return any(path == root or root in path.parents for root in roots)


def _places_searched(name: str, parent: Path, kind: str) -> list[Path]:
    """Every path the HDF5 library may open for ``name`` written in a file in folder ``parent``:
    the name itself, then (for an absolute name, its last part) under the prefix variables, the
    parent file's folder and the working directory."""
    given = PurePath(name)
    prefixes = [
        p.replace("${ORIGIN}", str(parent)) for p in os.environ.get(_PREFIX_VARIABLES[kind], "").split(":")
    ]
    bases = [parent, Path.cwd(), *(Path(p) for p in prefixes if p)]
    if given.is_absolute():
        return [Path(name), *(base / given.name for base in bases)]
    return [base / given for base in bases]


def check_target(name: str, parent: Path, roots: Sequence[Path], what: str, kind: str) -> None:
    """Refuse a reference to another file unless every place the library may open is in the roots.

    An absolute name outside the roots is refused even when missing; a relative name is refused
    when any existing candidate (symlinks followed) lies outside. The target is never named in the
    message: it may be what someone wanted to find out about.
    """
    if "%" in name:
        raise Forbidden(f"{what} names its files by pattern, which is not supported")
    if PurePath(name).is_absolute() and not _is_within(Path(os.path.abspath(name)), roots):
        raise Forbidden(f"{what} points at a file outside the data roots")
    for place in _places_searched(name, parent, kind):
        try:
            if place.exists() and not _is_within(place.resolve(), roots):
                raise Forbidden(f"{what} points at a file outside the data roots")
        except OSError:
            continue  # a name the file system refuses cannot be opened either


def _check_dataset(node: Any, name: str, parent: Path, roots: Sequence[Path]) -> None:
    if node.external:
        raise Forbidden(f"dataset '{name}' keeps its pixels in external raw files, which are not read")
    if node.is_virtual:
        for source in node.virtual_sources():
            if source.file_name != ".":
                check_target(source.file_name, parent, roots, f"virtual dataset '{name}'", "virtual")


def missing_filter(node: Any, name: str) -> str | None:
    """Why the dataset's chunks cannot be decoded here (a compression filter no plugin provides),
    or None. hdf5plugin registers Eiger's bitshuffle/LZ4, Blosc and the other common ones."""
    import h5py

    plist = node.id.get_create_plist()
    for index in range(plist.get_nfilters()):
        code, _flags, _values, label = plist.get_filter(index)
        if not h5py.h5z.filter_avail(code):
            text = label.decode(errors="replace") if isinstance(label, bytes) else str(label)
            named = f" ({text})" if text else ""
            return f"dataset '{name}' is compressed with HDF5 filter {code}{named}, which is not installed"
    return None


class ArrayInfo(NamedTuple):
    """A 2-D or 3-D numeric dataset that may hold frames; ``error`` says why its frames cannot be
    read (a missing Eiger data file, a filter not installed): they stay items that say so."""

    name: str
    shape: tuple[int, ...]
    dtype: str
    error: str | None = None


def _is_image(node: Any) -> bool:
    return node.ndim in (2, 3) and node.dtype.kind in "biuf"


def _linked_dataset(handle: Any, name: str, roots: Sequence[Path]) -> ArrayInfo | None:
    """The dataset an external link points at (checked before, by name), opened through the
    link and checked in its own file; a missing file is an array that says so."""
    import h5py

    try:
        node = handle[name]
    except (KeyError, OSError):
        link = handle.get(name, getlink=True)
        missing = PurePath(link.filename).name  # the file's name only, never where it was looked for
        why = f"external link '{name}': data file '{missing}' is missing or unreadable"
        return ArrayInfo(name, (), "", why)
    if not isinstance(node, h5py.Dataset) or not _is_image(node):
        return None
    target = Path(node.file.filename).resolve()
    if not _is_within(target, roots):
        raise Forbidden(f"external link '{name}' points at a file outside the data roots")
    _check_dataset(node, name, target.parent, roots)
    return ArrayInfo(name, tuple(node.shape), str(node.dtype), missing_filter(node, name))


def _nexus_signal(handle: Any) -> str | None:
    """The default plottable dataset of a NeXus file: root ``default`` -> NXentry, its
    ``default`` -> NXdata, its ``signal`` attribute -> the dataset; None where a step is absent."""
    import h5py

    def attribute(node: Any, key: str) -> str | None:
        value = node.attrs.get(key)
        if isinstance(value, bytes):
            value = value.decode(errors="replace")
        elif isinstance(value, np.ndarray) and value.size == 1:
            value = value.item()
            value = value.decode(errors="replace") if isinstance(value, bytes) else value
        return value if isinstance(value, str) and value and "%" not in value else None

    node = handle
    name = "/"
    for key in ("default", "default", "signal"):
        step = attribute(node, key)
        if step is None:
            return None
        name = step if step.startswith("/") else f"{node.name.rstrip('/')}/{step}"
        for _hop in range(8):  # a signal is often a soft link to the detector's data
            link = handle.get(name, getlink=True)
            if not isinstance(link, h5py.SoftLink):
                break
            name = link.path
        if link is None or (isinstance(link, h5py.ExternalLink) and key != "signal"):
            return None
        node = handle.get(name)
        if node is None:
            return None
    return name.strip("/") if isinstance(node, h5py.Dataset) else None


EIGER_DATA = "entry/data"
# An Eiger series: NAME_master.h5 links to NAME_data_000001.h5, ... whose frames are its items.
EIGER_DATA_FILE = re.compile(r"^(?P<series>.+)_data_\d{6}(?P<suffix>\.(?:h5|hdf5))?$", re.IGNORECASE)


def eiger_data_files(names: Iterable[str], *, suffixed: bool = True) -> set[str]:
    """Data files of an Eiger series whose master lies beside them (``names`` are those of one
    folder): they are read through the master (one item per frame, once), not as files of their
    own. A Tiled tree names the same files without their suffix (``suffixed=False``)."""
    present = set(names)
    masters = (".h5", ".hdf5") if suffixed else ("", ".h5", ".hdf5")
    skipped = set()
    for name in present:
        match = EIGER_DATA_FILE.match(name)
        if match is None or (suffixed and not match["suffix"]):
            continue
        if any(f"{match['series']}_master{ext}" in present for ext in masters):
            skipped.add(name)
    return skipped


# Where an Eiger master describes its detector (entry/instrument/detector/detectorSpecific/:
# pixel_mask, flatfield, ...), and NXdetector's name for the mask of bad pixels.
DETECTOR_GROUP = "detectorspecific"
PIXEL_MASK = "pixel_mask"


def is_detector_array(name: str) -> bool:
    """Whether the array at ``name`` (a path of groups, in a file or a Tiled tree) describes the
    detector rather than what it measured: the detector's pixel mask, or an array of an Eiger
    master's detectorSpecific group. Beside frames it is no frame (it is used as a mask file's
    mask: ``masks.MASK_NAMES``)."""
    parts = [part.lower() for part in name.strip("/").split("/")]
    return parts[-1] == PIXEL_MASK or DETECTOR_GROUP in parts[:-1]


def _preferred(arrays: list[ArrayInfo], handle: Any, external: list[str]) -> list[ArrayInfo]:
    """Which arrays are the frames: a NeXus file's default signal; an Eiger master's linked data
    sets under /entry/data (not its pixel mask or flat field); else every image array but those
    that describe the detector (``is_detector_array``), unless they are all there is."""
    signal = _nexus_signal(handle)
    if signal is not None:
        chosen = [a for a in arrays if a.name == signal]
        if chosen:
            return chosen
    if any(name.startswith(EIGER_DATA + "/") for name in external):
        chosen = [a for a in arrays if a.name.startswith(EIGER_DATA + "/")]
        if chosen:
            return chosen
    return [a for a in arrays if not is_detector_array(a.name)] or arrays


def checked_arrays(
    handle: Any, path: Path, roots: Sequence[Path], *, preferred: bool = True
) -> list[ArrayInfo]:
    """The file's image arrays, after checking every link and dataset in it against the policy.

    External links to datasets (an Eiger master's data files) are followed once checked: their
    frames are the file's frames, and a data file that is missing is an array that says so.
    With ``preferred`` only the frames (``_preferred``); else every image array (a mask file may
    be an Eiger master, whose pixel mask is not among its frames).
    """
    import h5py

    parent = path.parent
    found: list[ArrayInfo] = []
    external: list[str] = []
    datasets: list[tuple[str, Any]] = []

    # Callbacks only collect: an exception raised inside h5py's visit escapes as a SystemError.
    def visit_link(name: str, link: Any) -> None:
        if isinstance(link, h5py.ExternalLink):
            external.append(name)

    def visit(name: str, node: object) -> None:
        if isinstance(node, h5py.Dataset):
            datasets.append((name, node))

    handle.visititems_links(visit_link)
    handle.visititems(visit)  # hard links only: external and soft links are never followed
    for name in external:
        link = handle.get(name, getlink=True)
        check_target(link.filename, parent, roots, f"external link '{name}'", "link")
    for name, node in datasets:
        _check_dataset(node, name, parent, roots)
        if _is_image(node):
            found.append(ArrayInfo(name, tuple(node.shape), str(node.dtype), missing_filter(node, name)))
    for name in external:
        linked = _linked_dataset(handle, name, roots)
        if linked is not None:
            found.append(linked)
    if not found:
        raise Unreadable("HDF5 file holds no 2-D or 3-D numeric array")
    return sorted(_preferred(found, handle, external) if preferred else found)


# Where beamline files keep what was measured (NeXus base classes; Eiger masters follow them).
# Each key maps to the places tried in order, relative to the entry group.
METADATA_FIELDS: dict[str, tuple[str, ...]] = {
    "exposure": ("instrument/detector/count_time", "instrument/detector/frame_time"),
    "sample": ("sample/name", "sample/sample_name"),
    "run": ("entry_identifier", "scan_number", "run_number", "collection_identifier"),
    "time": ("start_time", "instrument/detector/detectorSpecific/data_collection_date"),
    "temperature": ("sample/temperature", "instrument/detector/temperature"),
}


def _scalar(node: Any) -> Any:
    import h5py

    if not isinstance(node, h5py.Dataset) or node.size != 1 or node.dtype.kind not in "biufSOU":
        return None
    value = node[()]
    if isinstance(value, np.ndarray):
        value = value.reshape(-1)[0]
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    return value.item() if isinstance(value, np.generic) else value


def header_metadata(handle: Any) -> dict[str, Any]:
    """Exposure, sample, run, time and temperature of a NeXus or Eiger file, where present.

    Only scalars written in this file are read (links are not followed for metadata)."""
    import h5py

    entry_name = handle.attrs.get("default", "entry")
    if isinstance(entry_name, bytes):
        entry_name = entry_name.decode(errors="replace")
    if not isinstance(entry_name, str) or "%" in entry_name:
        return {}
    found: dict[str, Any] = {}
    for key, places in METADATA_FIELDS.items():
        for place in places:
            name = f"{entry_name.strip('/')}/{place}"
            try:
                link = handle.get(name, getlink=True)
                if not isinstance(link, h5py.HardLink):
                    continue
                value = _scalar(handle[name])
            except (KeyError, OSError, ValueError, TypeError):
                continue
            if value is not None:
                found[key] = value
                break
    return found


@contextmanager
def open_checked(
    path: Path, roots: Sequence[Path], *, preferred: bool = True
) -> Iterator[tuple[Any, list[ArrayInfo]]]:
    """The open file and its checked arrays: read from this handle only, never a second open.

    hdf5plugin is imported first so that its compression filters (bitshuffle/LZ4, Blosc, ...)
    are registered with the HDF5 library before any chunk is read."""
    import h5py
    import hdf5plugin  # noqa: F401  (registers the filters)

    with h5py.File(path, "r") as handle:
        yield handle, checked_arrays(handle, path, roots, preferred=preferred)
