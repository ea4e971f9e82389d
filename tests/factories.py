"""Test data: folders of generated images written to temporary directories."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tifffile
from PIL import Image


def write_png(path: Path, seed: int = 0, size: tuple[int, int] = (32, 32), mode: str = "L") -> Path:
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    shape = (size[1], size[0]) if mode == "L" else (size[1], size[0], 3)
    Image.fromarray(rng.integers(0, 255, shape, dtype=np.uint8), mode=mode).save(path)
    return path


def write_tiff(path: Path, frames: int = 1, seed: int = 0, size: int = 32, dtype: str = "uint16") -> Path:
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = rng.integers(0, 60000, (frames, size, size)).astype(dtype)
    with tifffile.TiffWriter(path) as tif:
        for frame in data:
            tif.write(frame)
    return path


def write_npy(path: Path, shape: tuple[int, ...] = (32, 32), seed: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, np.random.default_rng(seed).random(shape).astype(np.float32))
    return path


def image_folder(root: Path, count: int = 6, corrupt: int = 0) -> Path:
    """``count`` PNGs (a.png, b/...) plus ``corrupt`` files that look like images but are not."""
    root.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        sub = root / ("sub" if i % 2 else "")
        write_png(sub / f"img_{i:03d}.png", seed=i)
    for i in range(corrupt):
        (root / f"broken_{i}.png").write_bytes(b"\x89PNG\r\n\x1a\n this is not a png")
    return root
