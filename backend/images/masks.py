"""Detector masks: a file as pyFAI and beamline tools write it, and rules derived from each frame.

A mask file holds one 2-D array, nonzero where a pixel is masked (pyFAI's convention, and that of
the Pilatus/Eiger mask files of most beamlines): ``.npy``, TIFF (first page), HDF5 (the dataset
named ``mask`` where there is one, else the only 2-D array), or EDF and CBF, also gzip- or
bzip2-compressed (their first frame, read as an item's frame is: ``decode.read_file`` through
``fabio``'s named readers, never its content-guessing ``open``). Suffixes count in any case
(``decode.format_of``).
Every format is held to the data's pixel limit before its pixels are decoded: the shape a TIFF
page's tags, an HDF5 dataset or a .npy header declares (and an HDF5 dataset's chunks), as an
item's frame is (``decode.check_pixels``, ``decode.check_chunks``); a small compressed file that
declares a huge frame is refused, not decompressed.
Derived rules take out what a detector writes where it did not count: zero and negative pixels
(gaps, dead pixels: Pilatus writes -1 and -2), saturated pixels (the largest value of the file's
integer type), and module gaps seen as whole rows or columns of one constant value.
"""

from __future__ import annotations

import sys
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from backend.errors import Invalid, TooLarge, Unreadable
from backend.images import decode
from backend.storage import npy

MASK_RULES = ("zero", "negative", "saturated", "gaps")
# By ``decode.format_of``: ``mask.edf.gz`` and ``MASK.CBF.BZ2`` are EDF and CBF masks.
MASK_SUFFIXES = (".npy", ".tif", ".tiff", ".h5", ".hdf5", ".edf", ".cbf")
# A mask is one frame of a detector's size; only a frame's own limits on frame counts apply.
_MASK_LIMITS = decode.FrameLimits(min_side=1)
_CACHED = 16
# (path, mtime, size, pixel limit): a mask read under one limit is not handed out under a lower one
_cache: OrderedDict[tuple[str, int, int, int], np.ndarray] = OrderedDict()
_cache_lock = threading.Lock()


def check_rules(rules: Iterable[str]) -> tuple[str, ...]:
    """The rules in their canonical order; an unknown name is refused with the known ones."""
    given = {r.strip().lower() for r in rules if r and r.strip()}
    unknown = sorted(given - set(MASK_RULES))
    if unknown:
        raise Invalid(f"unknown mask rule(s) {', '.join(unknown)}: use {', '.join(MASK_RULES)}")
    return tuple(r for r in MASK_RULES if r in given)


# Names a mask dataset goes by: pyFAI's and most tools' "mask"; an Eiger master's
# entry/instrument/detector/detectorSpecific/pixel_mask (nonzero: gap, dead, noisy...).
MASK_NAMES = ("mask", "pixel_mask")


def _check_declared(path: Path, shape: tuple[int, ...], max_pixels: int) -> None:
    """A mask's shape as its file declares it, checked before its pixels are decoded: one 2-D
    frame within the data's pixel limit."""
    if len(shape) != 2:
        raise Unreadable(f"mask {path.name} is an array of shape {shape}, not a 2-D image")
    decode.check_pixels(shape[0], shape[1], max_pixels)


def _hdf5_dataset(handle: Any, name: str, path: Path, max_pixels: int) -> np.ndarray:
    """One dataset, read after its shape and chunks are checked (a gzip chunk decompresses whole)."""
    node = handle[name]
    _check_declared(path, tuple(node.shape), max_pixels)
    decode.check_chunks(node, name, path, max_pixels)
    return np.asarray(node[()])


def _hdf5_mask(path: Path, roots: Sequence[Path], max_pixels: int) -> np.ndarray:
    from backend.images import hdf5

    # every 2-D array, not only the frames: an Eiger master's frames are its linked data sets
    with hdf5.open_checked(path, roots, preferred=False) as (handle, arrays):
        planes = [(a.name, a.shape) for a in arrays if len(a.shape) == 2 and a.error is None]
        named = [name for name, _ in planes if name.rsplit("/", 1)[-1].lower() in MASK_NAMES]
        if named:
            return _hdf5_dataset(handle, named[0], path, max_pixels)
        if len(planes) > 1:  # as before: the file's frames (a NeXus default signal) when that is one
            frames = hdf5.checked_arrays(handle, path, roots)
            planes = [(a.name, a.shape) for a in frames if len(a.shape) == 2 and a.error is None]
        if len(planes) != 1:
            raise Unreadable(
                f"{path.name} holds {len(planes)} 2-D arrays and none is named 'mask' or 'pixel_mask': "
                "rename the mask's dataset to 'mask'"
            )
        return _hdf5_dataset(handle, planes[0][0], path, max_pixels)


def _detector_mask(path: Path, roots: Sequence[Path], max_pixels: int) -> np.ndarray:
    """The first frame of an EDF or CBF mask (compressed or not), read as an item's frame is: its
    header checked first (declared data, a compressed stream cut short), the pixel limit applied
    before decoding, a truncated frame refused rather than filled with zeros. fabio's
    content-guessing ``open`` would read an HDF5 file named ``.edf`` through its own HDF5 readers,
    around the link checks (decision 0004)."""
    try:
        return decode.read_file(path, 0, max_pixels=max_pixels, roots=roots, limits=_MASK_LIMITS, native=True)
    except ImportError:
        raise Unreadable("EDF and CBF masks need the fabio package, which is not installed") from None


def _read_mask(path: Path, roots: Sequence[Path], max_pixels: int) -> np.ndarray:
    suffix = decode.format_of(path.name)
    if suffix == ".npy":
        mapped = npy.load(path, mmap_mode="r")  # the header only; Unreadable for a .npz archive
        _check_declared(path, mapped.shape, max_pixels)
        array = np.asarray(mapped)
    elif suffix in (".tif", ".tiff"):
        import tifffile

        with tifffile.TiffFile(path) as tif:
            page = tif.pages[0]  # its shape comes from its tags; asarray decodes
            _check_declared(path, tuple(page.shape), max_pixels)
            array = page.asarray()
    elif suffix in (".h5", ".hdf5"):
        array = _hdf5_mask(path, roots, max_pixels)
    elif suffix in decode.FABIO_SUFFIXES:
        array = _detector_mask(path, roots, max_pixels)
    else:
        raise Unreadable(f"a mask file is one of {', '.join(MASK_SUFFIXES)}, not '{path.name}'")
    if array.ndim != 2:
        raise Unreadable(f"mask {path.name} is an array of shape {array.shape}, not a 2-D image")
    if array.dtype.kind not in "biuf":
        raise Unreadable(f"mask {path.name} has non-numeric values ({array.dtype})")
    return array != 0


def load_mask_file(path: Path, roots: Sequence[Path], *, max_pixels: int | None = None) -> np.ndarray:
    """The mask (True: masked) in a file, kept in memory while the file is unchanged. A mask
    above ``max_pixels`` (the data's own limit; None: none) is refused before it is decoded, in
    every format; TOO_LARGE names the mask."""
    limit = sys.maxsize if max_pixels is None else max_pixels
    try:
        stat = path.stat()
    except OSError as exc:
        raise Unreadable(f"mask file '{path.name}' cannot be read ({exc.strerror or exc})") from exc
    key = (str(path), stat.st_mtime_ns, stat.st_size, limit)
    with _cache_lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    try:
        mask = _read_mask(path, roots, limit)
    except TooLarge as exc:  # its message names no file
        raise TooLarge(f"mask {path.name}: {exc.message}", **exc.details) from None
    except Unreadable:
        raise
    except (OSError, ValueError, KeyError, EOFError, IndexError) as exc:
        raise Unreadable(f"cannot read mask {path.name}: {exc}") from exc
    mask.setflags(write=False)
    with _cache_lock:
        _cache[key] = mask
        while len(_cache) > _CACHED:
            _cache.popitem(last=False)
    return mask


def saturation_level(dtype: str | None) -> float | None:
    """The value a saturated pixel of an integer type holds (its largest), None for floats."""
    try:
        kind = np.dtype(dtype or "")
    except TypeError:
        return None
    return float(np.iinfo(kind).max) if kind.kind in "iu" and kind.itemsize > 1 else None


def constant_lines(image: np.ndarray) -> np.ndarray:
    """Whole rows and columns of one value (module gaps) of a grey frame, as a mask."""
    mask = np.zeros(image.shape, bool)
    mask[np.all(image == image[:, :1], axis=1), :] = True
    mask[:, np.all(image == image[:1, :], axis=0)] = True
    return mask


def derived_mask(image: np.ndarray, rules: Sequence[str], dtype: str | None = None) -> np.ndarray | None:
    """What ``rules`` take out of one frame (height x width), None when they take out nothing."""
    if not rules:
        return None
    plane = image if image.ndim == 2 else image.mean(axis=-1)
    mask = ~np.isfinite(plane)
    if "zero" in rules:
        mask |= plane == 0
    if "negative" in rules:
        mask |= plane < 0
    level = saturation_level(dtype)
    if "saturated" in rules and level is not None:
        mask |= plane >= level
    if "gaps" in rules:
        mask |= constant_lines(plane)
    return mask if mask.any() else None


def frame_mask(
    image: np.ndarray,
    file_mask: np.ndarray | None,
    rules: Sequence[str],
    *,
    stride: int = 1,
    dtype: str | None = None,
) -> np.ndarray | None:
    """The mask of one frame as read (every ``stride``-th pixel): the file's, sampled alike, and the
    rules'. A file mask of another shape than the frame is left out (the source reports it)."""
    mask = None
    if file_mask is not None:
        sampled = file_mask[::stride, ::stride] if stride > 1 else file_mask
        if sampled.shape == image.shape[:2]:
            mask = sampled.copy()
    derived = derived_mask(image, rules, dtype)
    if derived is not None:
        mask = derived if mask is None else mask | derived
    return mask
