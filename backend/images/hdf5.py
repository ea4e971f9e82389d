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
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path, PurePath
from typing import Any

from backend.errors import Forbidden, Unreadable

# (name, shape, dtype) of each 2-D or 3-D numeric dataset reachable through hard links
ArrayInfo = tuple[str, tuple[int, ...], str]

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


def checked_arrays(handle: Any, path: Path, roots: Sequence[Path]) -> list[ArrayInfo]:
    """The file's image arrays, after checking every link and dataset in it against the policy."""
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
        if node.ndim in (2, 3) and node.dtype.kind in "biuf":
            found.append((name, tuple(node.shape), str(node.dtype)))
    if not found:
        raise Unreadable("HDF5 file holds no 2-D or 3-D numeric array")
    return sorted(found)


@contextmanager
def open_checked(path: Path, roots: Sequence[Path]) -> Iterator[tuple[Any, list[ArrayInfo]]]:
    """The open file and its checked arrays: read from this handle only, never a second open."""
    import h5py

    with h5py.File(path, "r") as handle:
        yield handle, checked_arrays(handle, path, roots)
