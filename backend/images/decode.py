"""Decode image files (PNG, JPEG, TIFF pages, .npy and HDF5 arrays) to float32 arrays.

Shapes are read from headers first so that oversized images are refused before any decoding.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from backend.errors import NotFound, TooLarge, Unreadable

# (height, width, channels, dtype) of each frame a file holds
FrameShape = tuple[int, int, int, str]

PIL_SUFFIXES = {".png", ".jpg", ".jpeg"}
TIFF_SUFFIXES = {".tif", ".tiff"}
HDF5_SUFFIXES = {".h5", ".hdf5"}
# Our own pixel limit is checked from the header; keep PIL's bomb check off our path.
Image.MAX_IMAGE_PIXELS = None


def _frames_of_array_shape(shape: tuple[int, ...], dtype: str) -> list[FrameShape]:
    """A 2-D array is one frame, a 3-D array a stack of frames along its first axis."""
    if len(shape) == 2:
        return [(shape[0], shape[1], 1, dtype)]
    if len(shape) == 3:
        return [(shape[1], shape[2], 1, dtype)] * shape[0]
    raise Unreadable(f"array of shape {shape} is not a 2-D image or a 3-D stack")


def _check_numeric(dtype: np.dtype) -> None:
    if dtype.kind not in "biuf":
        raise Unreadable(f"array of dtype {dtype} is not numeric")


def _tiff_frames(path: Path) -> list[FrameShape]:
    import tifffile

    with tifffile.TiffFile(path) as tif:
        if not tif.pages:
            raise Unreadable("TIFF file has no pages")
        if len(tif.pages) == 1:
            page = tif.pages[0]
            shape = page.shape
            if len(shape) == 3 and shape[-1] in (3, 4):
                return [(shape[0], shape[1], shape[2], str(page.dtype))]
            return _frames_of_array_shape(shape, str(page.dtype))
        frames: list[FrameShape] = []
        for page in tif.pages:
            shape = page.shape
            channels = shape[2] if len(shape) == 3 else 1
            frames.append((shape[0], shape[1], channels, str(page.dtype)))
        return frames


def _hdf5_arrays(path: Path) -> list[tuple[str, tuple[int, ...], str]]:
    import h5py

    found: list[tuple[str, tuple[int, ...], str]] = []
    with h5py.File(path, "r") as handle:

        def visit(name: str, node: object) -> None:
            if isinstance(node, h5py.Dataset) and node.ndim in (2, 3) and node.dtype.kind in "biuf":
                found.append((name, tuple(node.shape), str(node.dtype)))

        handle.visititems(visit)
    if not found:
        raise Unreadable("HDF5 file holds no 2-D or 3-D numeric array")
    return sorted(found)


def probe_file(path: Path) -> list[FrameShape]:
    """The frames of a file, read from its header; raises ``Unreadable`` with the reason."""
    suffix = path.suffix.lower()
    try:
        if suffix in PIL_SUFFIXES:
            with Image.open(path) as image:
                width, height = image.size
                channels = len(image.getbands())
                mode = image.mode
                if suffix == ".png":
                    image.verify()  # checks chunk CRCs without decoding pixels
            return [(height, width, channels, mode)]
        if suffix in TIFF_SUFFIXES:
            return _tiff_frames(path)
        if suffix == ".npy":
            array = np.load(path, mmap_mode="r", allow_pickle=False)
            _check_numeric(array.dtype)
            return _frames_of_array_shape(array.shape, str(array.dtype))
        if suffix in HDF5_SUFFIXES:
            frames: list[FrameShape] = []
            for _name, shape, dtype in _hdf5_arrays(path):
                frames.extend(_frames_of_array_shape(shape, dtype))
            return frames
    except (Unreadable, NotFound):
        raise
    except FileNotFoundError as exc:
        raise NotFound(f"file '{path.name}' is missing") from exc
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, KeyError, EOFError) as exc:
        raise Unreadable(f"cannot read {path.name}: {exc}") from exc
    raise Unreadable(f"unsupported file type '{suffix}'")


def check_pixels(height: int, width: int, max_pixels: int) -> None:
    if height * width > max_pixels:
        raise TooLarge(
            f"image of {width}x{height} pixels exceeds the limit of {max_pixels} pixels",
            width=width,
            height=height,
        )


def to_float(array: np.ndarray) -> np.ndarray:
    """float32 with a trailing channel axis only for colour images."""
    out = np.asarray(array, dtype=np.float32)
    if out.ndim == 3 and out.shape[-1] == 1:
        out = out[..., 0]
    if out.ndim == 3 and out.shape[-1] == 4:  # drop alpha
        out = out[..., :3]
    return out


def read_file(path: Path, frame: int = 0, *, max_pixels: int, stride: int = 1) -> np.ndarray:
    """Decode one frame of a file as float32, refusing images above ``max_pixels``."""
    frames = probe_file(path)
    if not 0 <= frame < len(frames):
        raise NotFound(f"{path.name} has no frame {frame}")
    height, width, _, _ = frames[frame]
    check_pixels(height, width, max_pixels)
    suffix = path.suffix.lower()
    step = max(1, int(stride))
    try:
        if suffix in PIL_SUFFIXES:
            with warnings.catch_warnings(), Image.open(path) as image:
                warnings.simplefilter("ignore")
                image.load()
                array = np.asarray(image)
        elif suffix in TIFF_SUFFIXES:
            import tifffile

            with tifffile.TiffFile(path) as tif:
                if len(tif.pages) == 1:
                    array = tif.pages[0].asarray()
                    if array.ndim == 3 and array.shape[-1] not in (3, 4):
                        array = array[frame]
                else:
                    array = tif.pages[frame].asarray()
        elif suffix == ".npy":
            data = np.load(path, mmap_mode="r", allow_pickle=False)
            array = data if data.ndim == 2 else data[frame]
            return to_float(np.ascontiguousarray(array[::step, ::step]))
        else:  # HDF5: frames count across the file's arrays in name order
            import h5py

            offset = frame
            with h5py.File(path, "r") as handle:
                for name, shape, _ in _hdf5_arrays(path):
                    count = 1 if len(shape) == 2 else shape[0]
                    if offset < count:
                        node = handle[name]
                        data = node[::step, ::step] if len(shape) == 2 else node[offset, ::step, ::step]
                        return to_float(data)
                    offset -= count
            raise NotFound(f"{path.name} has no frame {frame}")
    except (NotFound, TooLarge):
        raise
    except (OSError, ValueError, SyntaxError, KeyError, EOFError, IndexError) as exc:
        raise Unreadable(f"cannot decode {path.name}: {exc}") from exc
    if step > 1:
        array = array[::step, ::step]
    return to_float(array)
