"""Decode image files (PNG, JPEG, TIFF pages, .npy, HDF5/NeXus arrays, EDF and CBF detector
frames, also gzip- or bzip2-compressed) to float32 arrays.

Shapes are read from headers first so that oversized images are refused before any decoding.
The probe also keeps what the header says about the acquisition (``detector.METADATA_KEYS``).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError

from backend.errors import Forbidden, NotFound, TooLarge, Unreadable
from backend.images import detector, hdf5
from backend.storage import npy

# (height, width, channels, dtype) of each frame a file holds
FrameShape = tuple[int, int, int, str]

PIL_SUFFIXES = {".png", ".jpg", ".jpeg"}
TIFF_SUFFIXES = {".tif", ".tiff"}
HDF5_SUFFIXES = {".h5", ".hdf5", ".nxs"}
FABIO_SUFFIXES = detector.FABIO_SUFFIXES
# Every format a folder source lists, by the suffix ``format_of`` gives.
FORMAT_SUFFIXES = frozenset(PIL_SUFFIXES | TIFF_SUFFIXES | HDF5_SUFFIXES | FABIO_SUFFIXES | {".npy"})
# Our own pixel limit is checked from the header; keep PIL's bomb check off our path.
Image.MAX_IMAGE_PIXELS = None


def format_of(name: str) -> str:
    """The suffix that says how a file is read, in lower case whatever the name's case: its last
    one, or for a compressed EDF or CBF file the one before (``scan.edf.gz`` and ``SCAN.EDF.GZ``
    are ``.edf``; fabio decompresses them). Every decision by suffix goes through it."""
    return detector.fabio_format(name) or detector.suffix_of(name)


def stem_of(name: str) -> str:
    """The name without its format suffix, nor the compression after it (``scan.edf.gz``: ``scan``)."""
    stem = Path(name).stem
    return Path(stem).stem if format_of(name) != detector.suffix_of(name) else stem


@dataclass(frozen=True, slots=True)
class FrameLimits:
    """What makes a frame: both sides at least ``min_side`` pixels, at most ``max_frames`` per file.

    Without them an 800 kB array of shape (200000, 1, 1) becomes 200,000 items.
    """

    min_side: int = 8
    max_frames: int = 10_000

    def check_count(self, count: int) -> None:
        if count > self.max_frames:
            raise Unreadable(f"file holds {count} frames, more than the limit of {self.max_frames} per file")

    def check_frame(self, height: int, width: int) -> None:
        if min(height, width) < self.min_side:
            raise Unreadable(
                f"frames of {width}x{height} pixels are smaller than {self.min_side} pixels a side"
            )


DEFAULT_LIMITS = FrameLimits()


@dataclass(frozen=True, slots=True)
class FrameInfo:
    """One frame a probe found: its shape, what the header says about it, or why it cannot be read
    while the file's other frames can (an Eiger data file missing, a filter not installed)."""

    shape: FrameShape
    meta: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


def _frames_of_array_shape(shape: tuple[int, ...], dtype: str, limits: FrameLimits) -> list[FrameShape]:
    """A 2-D array is one frame, a 3-D array a stack of frames along its first axis."""
    if len(shape) == 2:
        limits.check_frame(shape[0], shape[1])
        return [(shape[0], shape[1], 1, dtype)]
    if len(shape) == 3:
        limits.check_frame(shape[1], shape[2])
        limits.check_count(shape[0])
        return [(shape[1], shape[2], 1, dtype)] * shape[0]
    raise Unreadable(f"array of shape {shape} is not a 2-D image or a 3-D stack")


def _load_npy(path: Path) -> np.ndarray:
    """The array, memory-mapped (its header parsed under ``npy.HEADER_LOCK``: a job's image threads
    read many at once)."""
    return npy.load(path, mmap_mode="r")


def _check_numeric(dtype: np.dtype) -> None:
    if dtype.kind not in "biuf":
        raise Unreadable(f"array of dtype {dtype} is not numeric")


def _tiff_time(page: Any) -> dict[str, Any]:
    """The DateTime tag (306), the one acquisition field TIFF writers commonly fill."""
    tag = page.tags.get(306)
    return detector.normalise({"time": tag.value}) if tag is not None and isinstance(tag.value, str) else {}


def _tiff_frames(path: Path, limits: FrameLimits) -> list[FrameInfo]:
    """Pages of the file itself: tifffile's pages never read another file (OME series would)."""
    import tifffile

    with tifffile.TiffFile(path) as tif:
        if not tif.pages:
            raise Unreadable("TIFF file has no pages")
        if len(tif.pages) == 1:
            page = tif.pages[0]
            shape = page.shape
            meta = _tiff_time(page)
            if len(shape) == 3 and shape[-1] in (3, 4):
                limits.check_frame(shape[0], shape[1])
                return [FrameInfo((shape[0], shape[1], shape[2], str(page.dtype)), meta)]
            return [FrameInfo(f, meta) for f in _frames_of_array_shape(shape, str(page.dtype), limits)]
        limits.check_count(len(tif.pages))
        frames: list[FrameInfo] = []
        for page in tif.pages:
            shape = page.shape
            channels = shape[2] if len(shape) == 3 else 1
            limits.check_frame(shape[0], shape[1])
            frames.append(FrameInfo((shape[0], shape[1], channels, str(page.dtype)), _tiff_time(page)))
        return frames


def _hdf5_images(arrays: list[hdf5.ArrayInfo], limits: FrameLimits) -> list[hdf5.ArrayInfo]:
    """The arrays whose frames are images: small ones (a NeXus file's (1, 3) orientation, a 3x3
    calibration) are metadata beside them, skipped rather than refusing the file. A linked array
    whose file is missing (no shape known) stays, as one frame that says so."""
    images = [a for a in arrays if not a.shape or min(a.shape[-2:]) >= limits.min_side]
    if not images:
        raise Unreadable(f"HDF5 file holds no 2-D or 3-D array of at least {limits.min_side} pixels a side")
    return images


def _frame_count(array: hdf5.ArrayInfo) -> int:
    return 1 if len(array.shape) != 3 else array.shape[0]


def _hdf5_frames(arrays: list[hdf5.ArrayInfo], limits: FrameLimits, meta: dict[str, Any]) -> list[FrameInfo]:
    """Frames count across the file's image arrays in name order, the limit over all of them."""
    images = _hdf5_images(arrays, limits)
    limits.check_count(sum(_frame_count(a) for a in images))
    frames: list[FrameInfo] = []
    for array in images:
        if not array.shape:
            frames.append(FrameInfo((0, 0, 1, ""), meta, array.error))
            continue
        frames.extend(
            FrameInfo(f, meta, array.error) for f in _frames_of_array_shape(array.shape, array.dtype, limits)
        )
    return frames


def _fabio_frames(path: Path, limits: FrameLimits, whole: bool) -> list[FrameInfo]:
    frames = detector.probe(path, whole=whole)
    limits.check_count(len(frames))
    for (height, width, _), _meta, _error in frames:
        limits.check_frame(height, width)
    return [FrameInfo((h, w, 1, dt), meta, error) for (h, w, dt), meta, error in frames]


def _own_folder(path: Path, roots: Sequence[Path] | None) -> Sequence[Path]:
    """Without data roots given, a file may point at nothing outside its own folder."""
    return roots if roots is not None else [path.parent.resolve()]


def probe_file(
    path: Path, *, roots: Sequence[Path] | None = None, limits: FrameLimits = DEFAULT_LIMITS
) -> list[FrameShape]:
    """The frames of a file, read from its header; raises ``Unreadable`` with the reason, or
    ``Forbidden`` for an HDF5 file that points outside ``roots``. A frame that cannot be read
    while the others can has the shape (0, 0, 1, "") here; ``probe_frames`` says why."""
    return [info.shape for info in probe_frames(path, roots=roots, limits=limits)]


def probe_frames(
    path: Path, *, roots: Sequence[Path] | None = None, limits: FrameLimits = DEFAULT_LIMITS
) -> list[FrameInfo]:
    """The frames of a file with their header metadata and per-frame errors (see ``probe_file``)."""
    return _probe_frames(path, roots, limits, whole=True)


def _probe_frames(
    path: Path, roots: Sequence[Path] | None, limits: FrameLimits, *, whole: bool
) -> list[FrameInfo]:
    """``probe_frames``; without ``whole`` a compressed file is not decompressed to its end first
    (a read does that itself, and says so when the file is cut short)."""
    suffix = format_of(path.name)
    try:
        if path.stat().st_size == 0:  # a detector file not written yet, a failed copy
            raise Unreadable(f"{path.name} is empty (0 bytes)")
        if suffix in PIL_SUFFIXES:
            with Image.open(path) as image:
                width, height = image.size
                channels = len(image.getbands())
                mode = image.mode
                if suffix == ".png":
                    image.verify()  # checks chunk CRCs without decoding pixels
            limits.check_frame(height, width)
            return [FrameInfo((height, width, channels, mode))]
        if suffix in TIFF_SUFFIXES:
            return _tiff_frames(path, limits)
        if suffix == ".npy":
            array = _load_npy(path)
            _check_numeric(array.dtype)
            return [FrameInfo(f) for f in _frames_of_array_shape(array.shape, str(array.dtype), limits)]
        if suffix in FABIO_SUFFIXES:
            return _fabio_frames(path, limits, whole)
        if suffix in HDF5_SUFFIXES:
            with hdf5.open_checked(path, _own_folder(path, roots)) as (handle, arrays):
                return _hdf5_frames(arrays, limits, detector.normalise(hdf5.header_metadata(handle)))
    except (Unreadable, NotFound, Forbidden):
        raise
    except FileNotFoundError as exc:
        raise NotFound(f"file '{path.name}' is missing") from exc
    except UnidentifiedImageError as exc:  # its message names the file by its full server path
        raise Unreadable(f"cannot read {path.name}: not a {suffix[1:].upper()} image") from exc
    except (OSError, ValueError, SyntaxError, KeyError, EOFError) as exc:
        raise Unreadable(f"cannot read {path.name}: {exc}") from exc
    raise Unreadable(f"unsupported file type '{suffix}'")


def check_pixels(height: int, width: int, max_pixels: int) -> None:
    if height * width > max_pixels:
        raise TooLarge(
            f"image of {width}x{height} pixels exceeds the limit of {max_pixels} pixels",
            width=width,
            height=height,
        )


def check_chunks(node: Any, name: str, path: Path, max_pixels: int) -> None:
    """Refuse an HDF5 dataset whose chunks hold more than ``max_pixels`` values: a chunk
    decompresses whole, so a stack in one chunk (or a chunk larger than a resizable dataset's
    shape) is a bomb even when the part read is small."""
    chunk = int(np.prod(node.chunks)) if node.chunks else 0
    if chunk > max_pixels:
        raise TooLarge(
            f"dataset '{name}' of {path.name} is stored in chunks of {chunk} values; reading "
            f"a frame would decode one, above the limit of {max_pixels} pixels",
            width=node.shape[-1],
            height=node.shape[-2],
        )


def channels_kept(array: np.ndarray) -> np.ndarray:
    """The array with a trailing channel axis only for colour images, alpha dropped (a view)."""
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.ndim == 3 and array.shape[-1] == 4:  # drop alpha
        array = array[..., :3]
    return array


def to_float(array: np.ndarray) -> np.ndarray:
    """float32 with a trailing channel axis only for colour images.

    Alpha and singleton channels are dropped before the conversion: a 64-megapixel RGBA image
    costs three float32 channels (768 MB), not four.
    """
    return np.asarray(channels_kept(array), dtype=np.float32)


def finish(array: np.ndarray, native: bool) -> np.ndarray:
    """float32 (``to_float``), or with ``native`` the values as the file stores them: float32 holds
    integers exactly only up to 2**24, so a 32-bit detector's count (an Eiger's saturated
    4294967295) would read 4294967296."""
    return np.asarray(channels_kept(array)) if native else to_float(array)


# Modes whose every step-th pixel PIL picks itself (nearest-neighbour affine sampling at s*x, the
# same pixels as array[::s, ::s]), so a thumbnail of a 64-megapixel PNG does not first copy it all.
_PIL_STRIDED_MODES = {"L", "RGB", "RGBA"}


def _pil_pixels(path: Path, step: int, native: bool = False) -> np.ndarray:
    """Pixels of a PNG/JPEG, strided and without alpha, copied once from the decoder."""
    with warnings.catch_warnings(), Image.open(path) as image:
        warnings.simplefilter("ignore")
        image.load()
        if step > 1 and image.mode in _PIL_STRIDED_MODES:
            width, height = image.size
            offset = 0.5 - step / 2  # PIL samples at pixel centres: s*(x+0.5) + offset = s*x + 0.5
            picked = image.transform(
                (-(-width // step), -(-height // step)),
                Image.Transform.AFFINE,
                (step, 0, offset, 0, step, offset),
                Image.Resampling.NEAREST,
            )
            return finish(np.asarray(picked), native)
        array = np.asarray(image)
    if step > 1:
        array = array[::step, ::step]
    return finish(array, native)


def _tiff_pixels(path: Path, frame: int, step: int, max_pixels: int, native: bool = False) -> np.ndarray:
    import tifffile

    with tifffile.TiffFile(path) as tif:
        page = tif.pages[0] if len(tif.pages) == 1 else tif.pages[frame]
        shape = page.shape
        stacked = len(tif.pages) == 1 and len(shape) == 3 and shape[-1] not in (3, 4)
        if stacked and shape[0] * shape[1] * shape[2] > max_pixels:
            if not page.is_memmappable:  # a compressed stack decodes whole: N frames at once
                raise TooLarge(
                    f"{path.name} is one compressed page of {shape[0]} frames; decoding one frame would "
                    f"decode {shape[0] * shape[1] * shape[2]} pixels, above the limit of {max_pixels}",
                    width=shape[2],
                    height=shape[1],
                )
            array = tifffile.memmap(path, page=0, mode="r")[frame]
        else:
            array = page.asarray()
            if stacked:
                array = array[frame]
    if step > 1:
        array = array[::step, ::step]
    return finish(array, native)


def _hdf5_read(
    path: Path,
    frame: int,
    step: int,
    roots: Sequence[Path],
    max_pixels: int,
    limits: FrameLimits,
    native: bool = False,
) -> np.ndarray:
    """One open: the file's links and datasets are checked, its frames counted (across the image
    arrays in name order) and the frame read, all on the same handle. An Eiger master opens each
    linked data file once per read, not twice."""
    try:
        with hdf5.open_checked(path, roots) as (handle, arrays):
            frames = _hdf5_frames(arrays, limits, {})
            if not 0 <= frame < len(frames):
                raise NotFound(f"{path.name} has no frame {frame}")
            if frames[frame].error:
                raise Unreadable(frames[frame].error or "")
            height, width, _, _ = frames[frame].shape
            check_pixels(height, width, max_pixels)
            offset = frame
            for name, shape, _, _ in _hdf5_images(arrays, limits):
                count = _frame_count(hdf5.ArrayInfo(name, shape, ""))
                if offset < count:
                    node = handle[name]
                    check_chunks(node, name, path, max_pixels)
                    data = node[::step, ::step] if len(shape) == 2 else node[offset, ::step, ::step]
                    return finish(data, native)
                offset -= count
    except (Unreadable, NotFound, Forbidden, TooLarge):
        raise
    except FileNotFoundError as exc:
        raise NotFound(f"file '{path.name}' is missing") from exc
    except (OSError, ValueError, SyntaxError, KeyError, EOFError, IndexError) as exc:
        raise Unreadable(f"cannot decode {path.name}: {exc}") from exc
    raise NotFound(f"{path.name} has no frame {frame}")


def read_file(
    path: Path,
    frame: int = 0,
    *,
    max_pixels: int,
    stride: int = 1,
    roots: Sequence[Path] | None = None,
    limits: FrameLimits = DEFAULT_LIMITS,
    native: bool = False,
) -> np.ndarray:
    """Decode one frame of a file as float32 (with ``native``, in the file's own type), refusing
    images above ``max_pixels`` and files that point outside ``roots`` (checked again here: a file
    may have changed since it was scanned)."""
    suffix = format_of(path.name)
    step = max(1, int(stride))
    if suffix in HDF5_SUFFIXES:
        return _hdf5_read(path, frame, step, _own_folder(path, roots), max_pixels, limits, native)
    frames = _probe_frames(path, roots, limits, whole=False)
    if not 0 <= frame < len(frames):
        raise NotFound(f"{path.name} has no frame {frame}")
    if frames[frame].error:
        raise Unreadable(frames[frame].error or "")
    height, width, _, _ = frames[frame].shape
    check_pixels(height, width, max_pixels)
    try:
        if suffix in PIL_SUFFIXES:
            return _pil_pixels(path, step, native)
        if suffix in TIFF_SUFFIXES:
            return _tiff_pixels(path, frame, step, max_pixels, native)
        if suffix in FABIO_SUFFIXES:
            data = detector.read(path, frame)
            return finish(data[::step, ::step] if step > 1 else data, native)
        if suffix == ".npy":
            data = _load_npy(path)
            array = data if data.ndim == 2 else data[frame]
            return finish(np.ascontiguousarray(array[::step, ::step]), native)
    except (NotFound, TooLarge, Forbidden):
        raise
    except (OSError, ValueError, SyntaxError, KeyError, EOFError, IndexError) as exc:
        raise Unreadable(f"cannot decode {path.name}: {exc}") from exc
    raise Unreadable(f"unsupported file type '{suffix}'")
